// SPDX-License-Identifier: Apache-2.0
import HVBlob
import Testing

/// A machine reset to a checkpoint must run exactly as a fresh one: the same trace, line for
/// line, for many seeds and fault plans, on one machine reused from seed to seed, so a reset can
/// never carry state from one input into the next.
@Suite("Reset")
struct ResetTests {
    /// A fault plan drawn from `rng`: each probability mode on with chance 1/3 at a rate high
    /// enough to fire in a short run, a rescind in half the runs.
    static func plan(_ rng: inout SeededRandom) throws -> FaultPlan {
        let lo = rng.int(in: 0...3)
        var spec = ["delay=\(lo)-\(lo + rng.int(in: 0...12))"]
        for mode in FaultPlan.modeNames where !["delay", "stall-ticks", "rescind"].contains(mode) && rng.chance(1.0 / 3) {
            spec.append("\(mode)=\([0.05, 0.2, 0.5][rng.int(in: 0...2)])")
        }
        if rng.chance(0.5) { spec.append("rescind=\(rng.int(in: 1...80))") }
        return try FaultPlan(spec: spec.joined(separator: ","))
    }

    @Test("reset.equals-fresh: 200 seeds (faults, rescind, the fixed and the v5 model) on one reused machine each trace exactly as on a fresh machine")
    func resetEqualsFresh() throws {
        var reused: [String: (Machine, MachineCheckpoint)] = [:]
        var injected = 0, rescinds = 0, findings = 0, traced = 0
        for n in 0..<200 {
            var rng = SeededRandom(seed: UInt64(n)).split("reset-test")
            var c = SimulationConfig()
            c.seed = UInt64(n) &* 7919 &+ 11
            c.clients = 1 + n % 3
            c.requestsPerClient = 3
            c.sizes = [1, 4096, 8193, 65536]
            c.keepTrace = true
            if n % 4 == 3 { c.behavior = .v5; c.version = KernelVersion(5, 13) }
            c.faults = try ResetTests.plan(&rng)
            let fresh = Simulation(c).run()
            let key = "\(c.behavior) \(c.version)"
            if reused[key] == nil {
                let m = Machine(behavior: c.behavior, version: c.version, faults: FaultPlan(), seed: 0)
                reused[key] = (m, try m.checkpoint())
            }
            let (m, start) = reused[key]!
            let again = Simulation(c, reusing: m, at: start).run()
            let first = zip(fresh.trace, again.trace).first { $0 != $1 }
            #expect(again.traceDigest == fresh.traceDigest && again.trace == fresh.trace && again.render() == fresh.render(),
                    "seed \(c.seed) faults '\(c.faults)' \(key): fresh \(fresh.trace.count) trace lines, reset \(again.trace.count); first difference: \(first.map { "\($0.0) | \($0.1)" } ?? "(length)")")
            if !fresh.host.injected.isEmpty { injected += 1 }
            if fresh.host.inFlightAtRescind != nil { rescinds += 1 }
            if !fresh.clean { findings += 1 }
            traced += fresh.trace.count
        }
        // The runs did what the test is about: faults fired, rescinds came, findings were made
        // (and left in the log the next reset must clear).
        #expect(injected >= 50 && rescinds >= 50 && findings >= 20 && traced > 200 * 10,
                "injected in \(injected) runs, rescind in \(rescinds), findings in \(findings), \(traced) trace lines")
    }

    @Test("reset.fuzz: the validation and hostile-host targets observe the same on a reused rig as on a fresh one")
    func fuzzTargetsOnReusedRigs() {
        let resetsBefore = RigPool.shared.resets
        var rng = SeededRandom(seed: 0x5E7).split("reset-fuzz")
        var failures = 0
        for i in 0..<150 {
            let bytes = (0..<rng.int(in: 0...96)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            let s = FuzzTargets.decodeValidation(bytes)
            let fresh = FuzzTargets.observe(s, factory: nil, reuse: false)
            let reused = FuzzTargets.observe(s, factory: nil, reuse: true)
            #expect(fresh != nil && fresh == reused, "validation input \(i) \(bytes): fresh \(String(describing: fresh)), reused \(String(describing: reused))")
            var a: [String] = [], b: [String] = []
            let versions = [KernelVersion(5, 13), KernelVersion(5, 17), KernelVersion(6, 1)]
            let ra = FuzzTargets.hostileHost(bytes, factory: nil, versions: versions, reuse: false) { a.append($0) }
            let rb = FuzzTargets.hostileHost(bytes, factory: nil, versions: versions, reuse: true) { b.append($0) }
            #expect(ra == rb && a == b, "hostile-host input \(i) \(bytes): fresh \(ra ?? "ok"), reused \(rb ?? "ok")")
            if ra != nil { failures += 1 }
        }
        // Rigs were reused, not rebuilt (other suites may use the pool at the same time: at least ours).
        #expect(RigPool.shared.resets - resetsBefore >= 250, "\(RigPool.shared.resets - resetsBefore) resets")
        #expect(failures == 0)
    }

    @Test("reset.cost: a reset restores what the run touched — a 4 KiB request costs a few frames and ring chunks, a 1 MiB one 256 frames more")
    func resetCostFollowsTheRun() throws {
        let rig = try DriverRig(factory: nil, version: .default)
        let start = try rig.checkpoint()
        func run(_ len: Int) -> (frames: Int, ringBytes: Int) {
            rig.reset(to: start)
            let (arg, _) = rig.argument(dataLen: len, dataValid: 0)
            let e = rig.ioctl(arg)
            #expect(e == .success, "a \(len)-byte request returned \(String(describing: e))")
            return rig.machine.resetCost
        }
        let small = run(4096), large = run(1 << 20)
        let ring = AzBlob.ringSize
        #expect(small.frames > 0 && small.frames < 16, "\(small)")
        #expect(large.frames >= small.frames + 255, "\(large) vs \(small)")
        #expect(small.ringBytes > 0 && small.ringBytes < ring / 2, "\(small.ringBytes) of 2 x \(ring) ring bytes")
        // After the reset the machine is back where it was: nothing to restore, memory as at the checkpoint.
        rig.reset(to: start)
        #expect(rig.machine.resetCost == (0, 0) || rig.machine.resetCost.frames == 0)
        #expect(rig.machine.memory.pinnedFrames == 0 && rig.log.total == 0)
    }

    @Test("reset.replay: a capture replayed on a pooled machine (reset between replays) gives the same report as on a fresh machine")
    func replayOnReusedMachines() throws {
        var c = SimulationConfig()
        c.clients = 3
        c.requestsPerClient = 4
        c.sizes = [4096, 65536]
        c.seed = 99
        c.faults = try FaultPlan(spec: "delay=1-6,rescind=40")
        let sim = Simulation(c)
        let rec = sim.machine.startRecording()
        _ = sim.run()
        let capture = rec.capture
        // A witness makes every machine fresh (it must see them being built).
        let fresh = MachineWitness.$current.withValue(MachineWitness()) { Replayer(capture: capture).run() }
        let before = RigPool.shared.resets
        let pooled = (0..<3).map { _ in Replayer(capture: capture).run() }
        #expect(fresh.clean && fresh.guestPacketsMatched > 0, "\(fresh.render(driver: "the model"))")
        for p in pooled { #expect(p.render(driver: "the model") == fresh.render(driver: "the model")) }
        #expect(RigPool.shared.resets - before >= 2, "the replays reused no machine")
    }
}
