// SPDX-License-Identifier: Apache-2.0
import Foundation
import HVBlob
import Testing

/// Two devices of the class at once (`lifecycle.two-devices`): the model passes (the in-tree
/// driver passes it in bridge.conformance and in the README's verify sample); copies of the in-tree driver that name every device alike fail on the clash the
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

    /// One copy with two defects the two checks tell apart: every device's debugfs directory
    /// has the same name (lifecycle.two-devices), and the ioctl logs through the hv_device, which
    /// after rescind and remove the VMBus core has freed (lifecycle.ioctl-after-rescind).
    @Test("two-devices.debugfs-name-and-freed-device: one debugfs directory name for every device is guest.debugfs-name-clash; an ioctl touching the hv_device after rescind and remove is a use-after-free naming where it was freed")
    func debugfsNameAndFreedDevice() throws {
        let d = try MissingChecksTests.brokenCopy("debugfs-name", [
            ("debugfs_create_dir(dev_name(&hdev->device),", "debugfs_create_dir(\"device\","),
            ("\tswitch (cmd) {\n\tcase IOCTL_AZ_BLOB_DRIVER_USER_REQUEST:", "\tdev_dbg(&dev->hdev->device, \"ioctl %u\\n\", cmd);\n\tswitch (cmd) {\n\tcase IOCTL_AZ_BLOB_DRIVER_USER_REQUEST:"),
        ])
        let out = try MissingChecksTests.verify(d, only: [Self.id, "lifecycle.ioctl-after-rescind"])
        #expect(out.status == 1, "\(out.output.suffix(1500))")
        let l = MissingChecksTests.line(out.output, Self.id)
        #expect(l.hasPrefix("FAIL") && l.contains("the second got none of its own") && l.contains("guest.debugfs-name-clash"), "\(l)")
        #expect(!l.contains("guest.use-after-free"), "the second device's own hv_device is live: \(l)")
        let r = MissingChecksTests.line(out.output, "lifecycle.ioctl-after-rescind")
        #expect(r.hasPrefix("FAIL"), "\(r)")
        #expect(out.output.contains("guest.use-after-free — shown by lifecycle.ioctl-after-rescind: dev_printk in az_blob_fop_ioctl"), "\(out.output.suffix(1500))")
        #expect(out.output.contains("freed by vmbus_device_release (after rescind and remove) in az_blob_remove"), "\(out.output.suffix(1500))")
    }
}
