// SPDX-License-Identifier: Apache-2.0
import Foundation
import HVBlob
import HVBlobBridge
import Testing

extension BridgeTests {
    /// Persistent mode for C drivers: one loaded, probed driver reset to its checkpoint (the
    /// library's .data/.bss, the shim's state and heap, the machine) must behave byte for byte like
    /// a driver loaded, initialised and probed afresh, input after input, so a reset can never carry
    /// pins, pending requests, findings, debugfs entries or allocations from one input into the next.
    /// Nested in the bridge's serialized suite: one bridged driver is live per process at a time.
    @Suite("Persistent mode: a reset C driver equals a fresh one", .serialized)
    struct PersistTests {
        /// Heap addresses in findings (`%p`) are where malloc put a block: the same from run to
        /// run with glibc's allocator, not with ASan's, which does not hand a freed block out
        /// again at once. Compared without them; everything else byte for byte.
        static func unaddressed(_ text: String) -> String {
            text.replacingOccurrences(of: "0x[0-9a-f]{9,16}", with: "0x(address)", options: .regularExpression)
        }

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
            return unaddressed(out.joined(separator: "\n"))
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

        /// Random schedules of the race explorer (2 clients, rescind in flight) with the driver
        /// loaded for each schedule against the driver kept loaded and reset after module init:
        /// the same schedules, traces and findings.
        static func explore(_ built: DriverBuild.Built, seeds: Range<UInt64>) throws -> (failing: Int, resets: Int) {
            func summaries(reuse: Bool) throws -> [String] {
                try seeds.map { seed in
                    let e = Explorer(clients: 2, factory: BridgedDriver.explorerFactory(built, reuse: reuse), version: built.version)
                    let s = try e.random(seed: seed, budget: 15)
                    let f = s.failing.map { o in
                        "\(o.schedule)\n\(o.ran)\n\(o.trace.joined(separator: "\n"))\n\(o.findings.map { "\($0.rule): \($0.detail)" })\nfinal \(o.finalState)"
                    } ?? "none"
                    return unaddressed("seed \(seed): \(s.schedules) schedule(s), \(s.distinctStates) distinct\nfailing: \(f)")
                }
            }
            BridgePool.shared.drain()
            let fresh = try summaries(reuse: false)
            let before = BridgePool.shared.resets
            let kept = try summaries(reuse: true)
            let resets = BridgePool.shared.resets - before
            BridgePool.shared.drain()
            for (a, b) in zip(fresh, kept) where a != b {
                Issue.record("\(built.source): explored with the driver kept and reset differs from fresh:\n--- fresh\n\(a.prefix(3000))\n--- kept\n\(b.prefix(3000))")
                break
            }
            return (fresh.filter { !$0.contains("failing: none") }.count, resets)
        }

        @Test("persist.explore: random schedules of the explorer on the in-tree driver and v5, driver kept and reset after init vs loaded per schedule")
        func exploreKept() throws {
            let inTree = try DriverBuild.build(driver: DriverBuild.inTreeDriver)
            let a = try PersistTests.explore(inTree, seeds: 0..<4)
            #expect(a.failing == 0 && a.resets >= 4 * 15 - 4, "in-tree: \(a.failing) seed(s) failing, \(a.resets) resets")
            guard let mail = RevisionTests.mail("v5.eml") else { return }
            let work = FileManager.default.temporaryDirectory.appendingPathComponent("hvblob-persist-x-\(getpid())")
            defer { try? FileManager.default.removeItem(at: work) }
            let v5 = try DriverBuild.build(DriverSource.fromPatch(URL(fileURLWithPath: mail), cache: work), sanitize: false)
            let b = try PersistTests.explore(v5, seeds: 0..<4)
            // v5's race on rescind is found, the same way, both ways.
            #expect(b.failing > 0 && b.resets > 0, "v5: \(b.failing) seed(s) failing, \(b.resets) resets")
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
            // Without UBSan even under `swift test --sanitize=address`: v5's NULL dereference
            // must be the kernel's oops (guest.crash), not UBSan's abort of the test process.
            let built = try DriverBuild.build(source, sanitize: false)
            let r = PersistTests.check(built, inputs: 40, seed: 0x55)
            #expect(r.resets >= 40, "\(r.resets) resets; \(BridgePool.shared.refused ?? "")")
            // v5's findings came up (and had to be cleared by each reset).
            #expect(r.findings > 0, "no input of v5 made a finding")
        }
    }
}
