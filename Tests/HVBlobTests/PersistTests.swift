// SPDX-License-Identifier: Apache-2.0
import Foundation
import HVBlob
import HVBlobBridge
import Testing

/// Persistent mode for C drivers: one loaded, probed driver reset to its checkpoint (the
/// library's .data/.bss, the shim's state and heap, the machine) must behave byte for byte like
/// a driver loaded, initialised and probed afresh, input after input, so a reset can never carry
/// pins, pending requests, findings, debugfs entries or allocations from one input into the next.
/// Serialized with the other bridge suites' rule: one bridged driver per process.
@Suite("Persistent mode: a reset C driver equals a fresh one", .serialized)
struct PersistTests {
    /// What a run leaves visible: before it (the state a new input starts from) and after it.
    static func state(_ rig: DriverRig) -> String {
        guard let d = rig.driver as? BridgedDriver else { return "not a bridged driver" }
        let live = d.liveAllocations
        return [
            "now \(rig.machine.now) findings \(rig.log.total)",
            rig.log.violations.map { "\($0.rule): \($0.detail)" }.joined(separator: "\n"),
            "pinned \(rig.machine.memory.pinnedFrames) allocations \(live.count)/\(live.bytes) mark \(d.allocationMark)",
            "debugfs \(d.debugfsEntries) dentry refs \(d.dentryReferences) misc \(d.miscNames)",
            "pending_requests: \(d.debugfsFileExists("pending_requests") ? d.debugfsRead(file: "pending_requests") ?? "?" : "none")",
            "packets \(rig.packets.map { Hex.encode($0) })",
            "log \(d.logLines)",
        ].joined(separator: "\n")
    }

    /// One input through both targets, on rigs `provide` gives; everything seen, as text.
    static func run(_ bytes: [UInt8], version: KernelVersion,
                    provide: (KernelVersion, FaultPlan, (DriverRig) -> String?) -> String??) -> String {
        var out: [String] = []
        let s = FuzzTargets.decodeValidation(bytes)
        let v = provide(version, .none) { rig in
            let before = state(rig)
            let o = FuzzTargets.observe(s, on: rig)
            return "before:\n\(before)\nobservation: \(String(describing: o))\nafter:\n\(state(rig))"
        }
        out.append("validation: \(v.map { $0 ?? "nil" } ?? "no rig")")
        var lines: [String] = []
        let h = FuzzTargets.hostileHost(bytes, versions: [version], describe: { lines.append($0) }) { ver, faults, body in
            withoutActuallyEscaping(body) { body in
                provide(ver, faults) { rig in
                    let before = state(rig)
                    let r = body(rig)
                    return "before:\n\(before)\nresult: \(r ?? "ok")\nafter:\n\(state(rig))"
                }
            }
        }
        out.append("hostile-host: \(h ?? "nil")\n" + lines.joined(separator: "\n"))
        return out.joined(separator: "\n")
    }

    static func check(_ built: DriverBuild.Built, inputs: Int, seed: UInt64) -> (findings: Int, resets: Int) {
        var rng = SeededRandom(seed: seed).split("persist-test")
        let corpus = (0..<inputs).map { _ in (0..<rng.int(in: 0...96)).map { _ in UInt8(truncatingIfNeeded: rng.next()) } }
        BridgePool.shared.drain()
        // Fresh: a driver loaded, initialised and probed for every rig.
        let fresh = corpus.map { bytes in
            run(bytes, version: built.version) { v, f, body in
                guard let rig = try? DriverRig(factory: { m in try BridgedDriver(built, machine: m) }, version: v, faults: f) else { return nil }
                return body(rig)
            }
        }
        // Reset: one kept driver, reset to its checkpoint before every rig.
        let resetsBefore = BridgePool.shared.resets
        let reset = corpus.map { bytes in
            run(bytes, version: built.version) { v, f, body in BridgePool.shared.withRig(built, version: v, faults: f, body) }
        }
        let resets = BridgePool.shared.resets - resetsBefore
        BridgePool.shared.drain()
        for (i, (a, b)) in zip(fresh, reset).enumerated() where a != b {
            let la = a.split(separator: "\n", omittingEmptySubsequences: false), lb = b.split(separator: "\n", omittingEmptySubsequences: false)
            let k = (0..<min(la.count, lb.count)).first { la[$0] != lb[$0] } ?? min(la.count, lb.count)
            func around(_ l: [Substring]) -> String { l.dropFirst(k).prefix(3).joined(separator: "\n    ") }
            Issue.record("\(built.source) input \(i) \(corpus[i]): first difference at line \(k):\n  fresh: \(around(la))\n  reset: \(around(lb))")
            break
        }
        // Inputs whose run made a finding (a line "rule: detail" of the violation log).
        let findings = fresh.filter { text in
            text.split(separator: "\n").contains { l in ["guest.", "pin.", "liveness.", "ioctl."].contains { l.hasPrefix($0) } }
        }.count
        return (findings, resets)
    }

    @Test("persist.equals-fresh: 40 inputs of validation-c and hostile-host-c on the in-tree driver, reset vs fresh, byte for byte")
    func inTree() throws {
        let built = try DriverBuild.build(driver: DriverBuild.inTreeDriver)
        let r = PersistTests.check(built, inputs: 40, seed: 0x9E75)
        // The kept driver was reset, not rebuilt, for (nearly) every rig: 2 per input.
        #expect(r.resets >= 2 * 40 - 2, "\(r.resets) resets; \(BridgePool.shared.refused ?? "")")
    }

    @Test("persist.equals-fresh.v5: 40 inputs on the posted v5 (findings, leaks, a crash now and then), reset vs fresh, byte for byte")
    func v5() throws {
        guard let mail = RevisionTests.mail("v5.eml") else { return }
        let work = FileManager.default.temporaryDirectory.appendingPathComponent("hvblob-persist-\(getpid())")
        defer { try? FileManager.default.removeItem(at: work) }
        let source = try DriverSource.fromPatch(URL(fileURLWithPath: mail), cache: work)
        let built = try DriverBuild.build(source)
        let r = PersistTests.check(built, inputs: 40, seed: 0x55)
        #expect(r.resets >= 40, "\(r.resets) resets; \(BridgePool.shared.refused ?? "")")
        // v5's findings came up (and had to be cleared by each reset).
        #expect(r.findings > 0, "no input of v5 made a finding")
    }
}
