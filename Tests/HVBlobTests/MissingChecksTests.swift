// SPDX-License-Identifier: Apache-2.0
import Foundation
import HVBlob
import Testing

/// The checks issue 11 found missing from `hvblob verify`. Each passes on the model and on the
/// in-tree driver, and fails on a copy of the in-tree driver with one defect put in by a small
/// edit (written to a temporary folder by the test). The C driver runs through `hvblob verify`
/// as a user runs it (a process of its own: the kernel shim is one per process).
@Suite("missing checks", .serialized)
struct MissingChecksTests {
    static let newChecks = ["ioctl.error-paths.balance", "debugfs.after-remove", "lifecycle.remove-drain", "capture.equality"]

    /// A copy of kernel/ whose driver has `edits` applied (each old text must be there once).
    static func brokenCopy(_ name: String, _ edits: [(String, String)]) throws -> String {
        let fm = FileManager.default
        let dir = fm.temporaryDirectory.appendingPathComponent("hvblob-broken-\(name)-\(getpid())")
        try? fm.removeItem(at: dir)
        try fm.createDirectory(at: dir, withIntermediateDirectories: true)
        let kernel = dir.appendingPathComponent("kernel")
        try fm.copyItem(at: repoRoot.appendingPathComponent("kernel"), to: kernel)
        let c = kernel.appendingPathComponent("hv_azure_blob.c")
        var text = try String(contentsOf: c, encoding: .utf8)
        for (old, new) in edits {
            let n = text.components(separatedBy: old).count - 1
            try #require(n == 1, "\(name): the in-tree driver has \(n) copies of \(old.debugDescription), the edit needs exactly one")
            text = text.replacingOccurrences(of: old, with: new)
        }
        try text.write(to: c, atomically: true, encoding: .utf8)
        return c.path
    }

    static func verify(_ driver: String, only: [String]) throws -> (status: Int32, output: String) {
        try #require(FileManager.default.isExecutableFile(atPath: CLITests.binary), "no hvblob binary at \(CLITests.binary)")
        return try runProcess([CLITests.binary, "verify", "--driver", driver, "--only", only.joined(separator: ",")])
    }

    /// The verdict line of a check in verify's output ("FAIL  MUST  id ...") and the line after it.
    static func line(_ output: String, _ id: String) -> String {
        let lines = output.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        guard let i = lines.firstIndex(where: { $0.split(separator: " ").dropFirst(2).first.map(String.init) == id }) else { return "" }
        return lines[i] + (i + 1 < lines.count ? "\n" + lines[i + 1] : "")
    }

    @Test("missing.model: every new check passes on the model, with the scenario's counts as evidence")
    func model() throws {
        let results = Conformance.run(factory: nil, version: .default, seed: 5, only: Set(Self.newChecks))
        #expect(results.count == Self.newChecks.count)
        for r in results {
            #expect(r.verdict == .pass, "\(r.check.id): \(r.verdict) \(r.detail)")
            #expect(!r.evidence.isEmpty)
        }
    }

    @Test("missing.in-tree: every new check passes on kernel/hv_azure_blob.c")
    func inTree() throws {
        let out = try Self.verify(repoRoot.appendingPathComponent("kernel/hv_azure_blob.c").path, only: Self.newChecks)
        #expect(out.status == 0, "\(out.output.suffix(1500))")
        for id in Self.newChecks { #expect(Self.line(out.output, id).hasPrefix("PASS"), "\(id): \(Self.line(out.output, id))") }
    }

    @Test("missing.balance: a pin leaked on EFAULT after a partial pin, and a descriptor leaked on a failed send, are findings of the check with the allocation site")
    func balance() throws {
        let pin = try Self.brokenCopy("partial-pin", [("\tif (pinned > 0)\n\t\tunpin_user_pages(p->pages, pinned);\n", "")])
        var out = try Self.verify(pin, only: ["ioctl.error-paths.balance"])
        var l = Self.line(out.output, "ioctl.error-paths.balance")
        #expect(out.status == 1 && l.hasPrefix("FAIL"), "\(out.output.suffix(1500))")
        #expect(l.contains("pin.leak") && l.contains("EFAULT"), "\(l)")
        // Every other check that runs the partial-pin path sees it after its scenario too.
        out = try Self.verify(pin, only: ["ioctl.pin.fault"])
        #expect(Self.line(out.output, "ioctl.pin.fault").hasPrefix("FAIL"), "\(out.output.suffix(800))")

        let send = try Self.brokenCopy("failed-send", [("\tkvfree(desc);\n\tif (ret)\n\t\tgoto put;\n", "\tif (ret)\n\t\tgoto put;\n\tkvfree(desc);\n")])
        out = try Self.verify(send, only: ["ioctl.error-paths.balance"])
        l = Self.line(out.output, "ioctl.error-paths.balance")
        #expect(out.status == 1 && l.hasPrefix("FAIL"), "\(out.output.suffix(1500))")
        #expect(l.contains("guest.memory-leak") && l.contains("failed send") && l.contains("EAGAIN"), "\(l)")
        // The allocation site: the driver's own function and line.
        #expect(l.contains("az_blob_build") && l.contains("hv_azure_blob.c:"), "\(l)")
    }

    @Test("missing.debugfs: a device whose debugfs directory is never removed fails debugfs.after-remove (and its read after the last close touches freed memory)")
    func debugfs() throws {
        let d = try Self.brokenCopy("debugfs", [("\tdebugfs_remove_recursive(dev->debugfs);\n\n\tspin_lock_irqsave", "\n\tspin_lock_irqsave")])
        let out = try Self.verify(d, only: ["debugfs.after-remove"])
        let l = Self.line(out.output, "debugfs.after-remove")
        #expect(out.status == 1 && l.hasPrefix("FAIL"), "\(out.output.suffix(1500))")
        #expect(l.contains("pending_requests still readable after remove"), "\(l)")
        #expect(out.output.contains("guest.use-after-free") || out.output.contains("guest.debugfs-leak"), "\(out.output.suffix(1500))")
    }

    @Test("missing.remove-drain: a drain whose waiter is never woken ends only at its timeout: a lost wake-up finding")
    func removeDrain() throws {
        let d = try Self.brokenCopy("drain", [("\tif (list_empty(&dev->pending_requests))\n\t\twake_up(&dev->waiting_to_drain);\n", "")])
        let out = try Self.verify(d, only: ["lifecycle.remove-drain"])
        let l = Self.line(out.output, "lifecycle.remove-drain")
        #expect(out.status == 1 && l.hasPrefix("FAIL"), "\(out.output.suffix(1500))")
        #expect(l.contains("lost wake-up"), "\(l)")
    }

    @Test("missing.capture: a capture that records fewer bytes than were sent differs from what the host received")
    func capture() throws {
        let d = try Self.brokenCopy("capture", [("{ desc, desc_size }, { vsp, sizeof(*vsp) },", "{ desc, desc_size }, { vsp, sizeof(*vsp) - 8 },")])
        let out = try Self.verify(d, only: ["capture.equality"])
        let l = Self.line(out.output, "capture.equality")
        #expect(out.status == 1 && l.hasPrefix("FAIL"), "\(out.output.suffix(1500))")
        #expect(l.contains("packet 1"), "\(l)")
    }

    @Test("missing.rule-order: a check moved after pinning answers its boundary pairs with EFAULT: ioctl.rule-order fails, on its own or under the defect that explains it")
    func ruleOrder() throws {
        // data_valid checked after the pins: ioctl.data-valid still passes (its buffers are
        // mapped), only the boundary pair with an unmapped data buffer shows the order.
        let late = try Self.brokenCopy("data-valid-late", [
            ("\tif (r->data_len && r->data_len < r->data_valid)\n\t\treturn -EINVAL;\n", ""),
            ("\tif (ret)\n\t\tgoto put;\n\n\tif (ctx->b[AZ_BLOB_DATA].nr_pages",
             "\tif (!ret && request.data_len &&\n\t    request.data_len < request.data_valid)\n\t\tret = -EINVAL;\n\tif (ret)\n\t\tgoto put;\n\n\tif (ctx->b[AZ_BLOB_DATA].nr_pages"),
        ])
        var out = try Self.verify(late, only: ["ioctl.data-valid", "ioctl.rule-order"])
        #expect(Self.line(out.output, "ioctl.data-valid").hasPrefix("PASS"), "\(out.output.suffix(1500))")
        var l = Self.line(out.output, "ioctl.rule-order")
        #expect(out.status == 1 && l.hasPrefix("FAIL"), "\(out.output.suffix(1500))")
        #expect(out.output.contains("ioctl.data-valid before ioctl.pin.fault") && out.output.contains("returned EFAULT, expected EINVAL"), "\(out.output.suffix(1500))")
        #expect(out.output.contains("1. ioctl.rule-order — shown by ioctl.rule-order"), "\(out.output.suffix(1500))")

        // No length limit before the pins: ioctl.len.max fails on its own, and the pair it
        // should win is listed under it, not as a second defect.
        let noLimit = try Self.brokenCopy("no-limit", [
            ("\tif (r->data_len > limit || r->request_len > limit ||\n\t    r->response_len > limit)\n\t\treturn -EINVAL;\n", "\t(void)limit;\n"),
        ])
        out = try Self.verify(noLimit, only: ["ioctl.len.max", "ioctl.rule-order"])
        l = Self.line(out.output, "ioctl.rule-order")
        #expect(out.status == 1 && l.hasPrefix("FAIL") && Self.line(out.output, "ioctl.len.max").hasPrefix("FAIL"), "\(out.output.suffix(1500))")
        #expect(out.output.contains("ioctl.len.max before ioctl.pin.fault"), "\(out.output.suffix(1500))")
        #expect(out.output.contains("also fails because of it: ioctl.rule-order") && out.output.contains("1 defect;"), "\(out.output.suffix(1500))")
    }
}
