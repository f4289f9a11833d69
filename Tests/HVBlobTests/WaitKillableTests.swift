// SPDX-License-Identifier: Apache-2.0
import Foundation
import HVBlob
import HVBlobBridge
import Testing

/// Waits that no signal can end (issue 11): `ioctl.wait.killable` kills an ioctl that waits
/// for a host that never answers. The corrected model passes; v5's behaviour (an
/// uninterruptible wait) fails with the rule named.
@Suite("ioctl.wait.killable on the model")
struct WaitKillableModelTests {
    static let id: Set<String> = ["ioctl.wait.killable"]

    @Test("wait.model: the corrected model's killed ioctl returns ERESTARTSYS, its pages pinned until the late completion and until remove's close")
    func fixedModel() throws {
        let r = try #require(Conformance.run(factory: nil, version: .default, seed: 3, only: Self.id).first)
        #expect(r.verdict == .pass, "\(r.detail)")
        #expect(r.findings.isEmpty, "\(r.findings)")
        let notes = r.evidence.joined(separator: "\n")
        #expect(notes.contains("SIGKILL delivered to the ioctl asleep killable") && notes.contains("returned ERESTARTSYS"), "\(notes)")
        // Held while the host holds the request, released once it lets go, in both endings.
        #expect(notes.contains("the host's late completion: 6 of 6 page(s) still pinned after the kill, 0 after"), "\(notes)")
        #expect(notes.contains("remove closing the channel: 6 of 6 page(s) still pinned after the kill, 0 after"), "\(notes)")
    }

    @Test("wait.v5-model: an uninterruptible wait fails the check as liveness.unkillable-wait")
    func v5Model() throws {
        let v5: DriverRig.Factory = { m in BlobVSC(channel: m.channel, memory: m.memory, log: m.log, behavior: .v5) }
        let r = try #require(Conformance.run(factory: v5, version: KernelVersion(5, 13), seed: 3, only: Self.id).first)
        #expect(r.verdict == .fail, "\(r.verdict) \(r.detail)")
        #expect(r.failedOn == ["liveness.unkillable-wait"], "\(r.failedOn)")
        #expect(r.detail.contains("slept uninterruptible") && r.detail.contains("the process can never exit"), "\(r.detail)")
    }

    @Test("wait.host-holds: the never-complete host holds a request until completeHeld answers it late")
    func hostHolds() throws {
        let rig = try DriverRig(factory: nil, version: .default, faults: try FaultPlan(spec: "never-complete=1"), seed: 1)
        let (arg, _) = rig.argument()
        let call = rig.start(arg)
        call.advance()
        rig.machine.run()
        #expect(call.result == nil && rig.machine.host.heldCount == 1)
        #expect(rig.machine.host.completeHeld() == 1 && rig.machine.host.heldCount == 0)
        #expect(rig.finish(call) == .success)
    }
}

/// The same check on real C code, as a user runs it (a process of its own): a copy of the
/// in-tree driver that drops the channel's reference when its caller is killed. (The in-tree
/// driver passes it in the README's `verify` run; the posted revisions, which wait
/// uninterruptibly, fail it in RevisionTests.)
@Suite("ioctl.wait.killable on C code")
struct WaitKillableCTests {
    @Test("wait.c: a copy that lets go of the request when killed releases its pages while the host holds it, and the host's late completion touches the freed context")
    func killFrees() throws {
        let wait = "\tret = wait_for_completion_killable(&ctx->wait_vsp);\n"
        let c = try MissingChecksTests.brokenCopy("kill-frees", [(wait, wait + "\tif (ret)\n\t\tkref_put(&ctx->kref, az_blob_ctx_release);\n")])
        let out = try MissingChecksTests.verify(c, only: ["ioctl.wait.killable"])
        let l = MissingChecksTests.line(out.output, "ioctl.wait.killable")
        #expect(out.status == 1 && l.hasPrefix("FAIL         SHOULD"), "\(out.output.suffix(1500))")
        #expect(l.contains("the killed ioctl returned ERESTARTSYS while the host still holds the request") && l.contains("6 of its 6 page(s) are no longer pinned"), "\(l)")
        // The late completion's complete() on the freed context, with where it was allocated.
        #expect(out.output.contains("guest.use-after-free — shown by ioctl.wait.killable: complete"), "\(out.output.suffix(1500))")
        #expect(out.output.contains("allocated by kzalloc in az_blob_fop_ioctl (hv_azure_blob.c:"), "\(out.output.suffix(1500))")
    }
}
