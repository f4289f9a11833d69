// SPDX-License-Identifier: Apache-2.0
import Foundation
import HVBlob
import Testing

/// Two devices of the class at once (`lifecycle.two-devices`): the model and the in-tree driver
/// pass; copies of the in-tree driver that name every device alike fail on the clash the
/// kernel shim reports, and one that touches its hv_device after rescind and remove is a
/// use-after-free of the device the VMBus core freed.
@Suite("two devices", .serialized)
struct TwoDevicesTests {
    static let id = "lifecycle.two-devices"

    @Test("two-devices.model: the model gives the second device /dev/azure_blob1 and serves both, before and after the first is removed")
    func model() throws {
        let r = try #require(Conformance.run(factory: nil, version: .default, seed: 5, only: [Self.id]).first)
        #expect(r.verdict == .pass, "\(r.detail)")
        let evidence = r.evidence.joined(separator: "\n")
        #expect(evidence.contains("/dev/azure_blob (first), /dev/azure_blob1 (second)"), "\(evidence)")
        #expect(evidence.contains("2 device(s) of one machine had requests executed"), "\(evidence)")
        #expect(evidence.contains("the second's request returned 0, 1 more executed"), "\(evidence)")
    }

    @Test("two-devices.in-tree: kernel/hv_azure_blob.c passes, its two devices counted at their own hosts")
    func inTree() throws {
        let out = try MissingChecksTests.verify(repoRoot.appendingPathComponent("kernel/hv_azure_blob.c").path, only: [Self.id])
        #expect(out.status == 0, "\(out.output.suffix(1500))")
        #expect(MissingChecksTests.line(out.output, Self.id).hasPrefix("PASS"), "\(out.output.suffix(1500))")
    }

    @Test("two-devices.misc-name: one misc name for every device is guest.misc-name-clash (EEXIST at the second probe)")
    func miscName() throws {
        let d = try MissingChecksTests.brokenCopy("misc-name", [
            ("\tif (dev->id)\n\t\tsnprintf(dev->name, sizeof(dev->name), \"azure_blob%d\", dev->id);\n\telse\n\t\tstrscpy",
             "\tstrscpy"),
        ])
        let out = try MissingChecksTests.verify(d, only: [Self.id])
        let l = MissingChecksTests.line(out.output, Self.id)
        #expect(out.status == 1 && l.hasPrefix("FAIL"), "\(out.output.suffix(1500))")
        #expect(l.contains("probe returned EEXIST") && l.contains("guest.misc-name-clash"), "\(l)")
        #expect(out.output.contains(". guest.misc-name-clash — shown by lifecycle.two-devices"), "\(out.output.suffix(1500))")
    }

    @Test("two-devices.debugfs-name: one debugfs directory name for every device is guest.debugfs-name-clash")
    func debugfsName() throws {
        let d = try MissingChecksTests.brokenCopy("debugfs-name", [
            ("debugfs_create_dir(dev_name(&hdev->device),", "debugfs_create_dir(\"device\","),
        ])
        let out = try MissingChecksTests.verify(d, only: [Self.id])
        let l = MissingChecksTests.line(out.output, Self.id)
        #expect(out.status == 1 && l.hasPrefix("FAIL"), "\(out.output.suffix(1500))")
        #expect(l.contains("the second got none of its own") && l.contains("guest.debugfs-name-clash"), "\(l)")
    }

    @Test("two-devices.freed-device: an ioctl after rescind and remove that touches the hv_device is a use-after-free naming where it was freed")
    func freedDevice() throws {
        let d = try MissingChecksTests.brokenCopy("freed-device", [
            ("\tswitch (cmd) {\n\tcase IOCTL_AZ_BLOB_DRIVER_USER_REQUEST:", "\tdev_dbg(&dev->hdev->device, \"ioctl %u\\n\", cmd);\n\tswitch (cmd) {\n\tcase IOCTL_AZ_BLOB_DRIVER_USER_REQUEST:"),
        ])
        let out = try MissingChecksTests.verify(d, only: ["lifecycle.ioctl-after-rescind"])
        let l = MissingChecksTests.line(out.output, "lifecycle.ioctl-after-rescind")
        #expect(out.status == 1 && l.hasPrefix("FAIL"), "\(out.output.suffix(1500))")
        #expect(out.output.contains("guest.use-after-free — shown by lifecycle.ioctl-after-rescind: dev_printk in az_blob_fop_ioctl"), "\(out.output.suffix(1500))")
        #expect(out.output.contains("freed by vmbus_device_release (after rescind and remove) in az_blob_remove"), "\(out.output.suffix(1500))")
    }
}
