// SPDX-License-Identifier: Apache-2.0
import CKernelShim
import Foundation
import HVBlob
import HVBlobBridge

/// Persistent mode for C drivers (issue 12, item 1 for the bridge): a C machine reset to its
/// checkpoint after probe against one built afresh (dlopen, module init, probe), idle and with
/// one input, and the C fuzz targets with a driver kept loaded against a fresh driver per input.
/// Every figure against its baseline measured in the same run.
enum BenchPersist {
    static func seconds(_ body: () -> Void) -> Double {
        let clock = ContinuousClock(), start = clock.now
        body()
        let d = (clock.now - start).components
        return Double(d.seconds) + Double(d.attoseconds) / 1e18
    }

    struct Failed: Error, CustomStringConvertible {
        let description: String
    }

    /// One 4 KiB round trip on `rig` (the host fills the data).
    nonisolated(unsafe) static let fill = HVBlob.Bench.FillBackend(size: 4096)

    static func input(_ rig: DriverRig) -> Bool {
        rig.machine.host.backend = fill
        let request = Array("GET b 0 4096\n".utf8)
        let req = rig.space.map(length: request.count, kind: .populated, contents: request)
        let resp = rig.space.map(length: 64, kind: .populated)
        let data = rig.space.map(length: 4096, kind: .populated)
        let r = AzBlobRequestSync(guid: .zero, requestLen: UInt32(request.count), responseLen: 64, dataLen: 4096,
                                  requestBuffer: req, responseBuffer: resp, dataBuffer: data)
        let ok = rig.ioctl(rig.argument(r)) == .success
        rig.driver.release(rig.file)
        return ok
    }

    static func figures(_ built: DriverBuild.Built, count: Int, fuzzExecs: Int, inputs: (String) -> [[UInt8]]) throws -> [HVBlob.Bench.Figure] {
        BridgePool.shared.drain()
        // Reset, idle: the machine and the driver back to right after probe.
        let resets = max(count, 50)
        func idle() throws -> (Double, hvb_checkpoint_stats) {
            let machine = Machine(behavior: .fixed, version: built.version, faults: .none, seed: 1)
            let driver = try BridgedDriver(built, machine: machine)
            machine.driver = driver
            try driver.probe()
            let start = try machine.checkpoint()
            let t = seconds { for _ in 0..<resets { machine.reset(to: start) } }
            return (t, BridgedDriver.checkpointStats)
        }
        let (tReset, stats) = try idle()
        // One input per reset, through the pool (reset, open, round trip, close).
        var bad = 0
        for _ in 0..<min(resets, 50) { if BridgePool.shared.withRig(built, version: built.version, { input($0) }) != true { bad += 1 } }
        let tResetInput = seconds {
            for _ in 0..<resets where BridgePool.shared.withRig(built, version: built.version, { input($0) }) != true { bad += 1 }
        }
        let afterInput = BridgedDriver.checkpointStats
        BridgePool.shared.drain()
        // Fresh: a machine, dlopen, module init, probe (then the driver unloads again).
        let builds = max(count / 10, 20)
        var built0 = 0
        let tFresh = seconds {
            for _ in 0..<builds {
                let m = Machine(behavior: .fixed, version: built.version, faults: .none, seed: 1)
                guard let d = try? BridgedDriver(built, machine: m) else { continue }
                m.driver = d
                if (try? d.probe()) != nil { built0 += 1 }
            }
        }
        let factory: DriverRig.Factory = { m in try BridgedDriver(built, machine: m) }
        let tFreshInput = seconds {
            for _ in 0..<builds {
                if let rig = try? DriverRig(factory: factory, version: built.version), input(rig) { built0 += 1 } else { bad += 1 }
            }
        }
        if bad > 0 || built0 != 2 * builds { throw Failed(description: "C reset loop: \(bad) inputs failed, \(built0) of \(2 * builds) fresh drivers probed") }
        let what = "restores \(HVBlob.Bench.number(Double(stats.restored_last))) bytes idle, \(HVBlob.Bench.number(Double(afterInput.restored_last))) after one input: "
            + "library .data/.bss \(stats.segment_bytes) (a full copy), shim state \(stats.state_bytes) (a full copy), "
            + "\(stats.blocks) heap block(s) \(stats.block_bytes) bytes (a full copy), quarantine slots the run wrote"
        var out = [
            HVBlob.Bench.Figure(name: "C machine resets/s (probed, nothing run since; \(what))", value: Double(resets) / tReset, unit: "/s",
                                baselineName: "fresh C machine (dlopen, module init, probe)", baseline: Double(builds) / tFresh,
                                goal: "(reported)", key: "reset.c.idle"),
            HVBlob.Bench.Figure(name: "inputs/s on a reset C machine (reset + open + one 4 KiB round trip + close; \(afterInput.freed_last) block(s) freed by the reset)",
                                value: Double(resets) / tResetInput, unit: "/s",
                                baselineName: "fresh C machine + open + the same round trip", baseline: Double(builds) / tFreshInput,
                                goal: "(reported)", key: "reset.c.input"),
        ]
        // The explorer on the C driver: kept loaded and reset after module init, against a
        // driver loaded for every schedule (the same search, bound 2).
        let budget = max(fuzzExecs / 10, 50)
        BridgePool.shared.drain()
        let kept = try Explorer(clients: 2, factory: BridgedDriver.explorerFactory(built), version: built.version).dfs(bound: 2, budget: budget)
        BridgePool.shared.drain()
        let loaded = try Explorer(clients: 2, factory: BridgedDriver.explorerFactory(built, reuse: false), version: built.version).dfs(bound: 2, budget: budget)
        if kept.schedules != loaded.schedules || kept.distinctStates != loaded.distinctStates || (kept.failing == nil) != (loaded.failing == nil) {
            throw Failed(description: "explore: kept \(kept.schedules) schedules / \(kept.distinctStates) states, loaded per schedule \(loaded.schedules) / \(loaded.distinctStates)")
        }
        out.append(HVBlob.Bench.Figure(name: "explore schedules/s, C driver kept loaded, reset after module init (\(kept.schedules) schedules, bound 2, same states)",
                                       value: Double(kept.schedules) / kept.seconds, unit: "/s",
                                       baselineName: "the same search, the driver loaded per schedule", baseline: Double(loaded.schedules) / loaded.seconds,
                                       goal: ">= 20,000 /s", key: "explore.c.persist"))
        // The C fuzz targets: persistent mode against a fresh driver per input, same inputs.
        for name in ["validation-c", "hostile-host-c", "differential"] {
            let ins = inputs(name)
            guard !ins.isEmpty else { continue }
            let n = max(fuzzExecs, 50)
            var failedKept = 0, failedFresh = 0
            BridgePool.shared.drain()
            _ = BridgeFuzzTargets.run(name, ins[0], reuse: false)  // the driver built and cached once, outside the timing
            let b0 = BridgePool.shared.built, r0 = BridgePool.shared.resets
            let tKept = seconds { for i in 0..<n where BridgeFuzzTargets.run(name, ins[i % ins.count]) != nil { failedKept += 1 } }
            let keptNote = "\(BridgePool.shared.built - b0) load(s), \(BridgePool.shared.resets - r0) reset(s)"
            BridgePool.shared.drain()
            let m = max(n / 10, 20)
            let tFreshRun = seconds { for i in 0..<m where BridgeFuzzTargets.run(name, ins[i % ins.count], reuse: false) != nil { failedFresh += 1 } }
            out.append(HVBlob.Bench.Figure(name: "fuzz target \(name), execs/s, driver kept loaded and reset (\(n) inputs, \(failedKept) failing; \(keptNote))",
                                           value: Double(n) / tKept, unit: "/s",
                                           baselineName: "the same target, a fresh driver per input (\(m) inputs, \(failedFresh) failing)",
                                           baseline: Double(m) / tFreshRun, goal: ">= 20,000 /s", key: "fuzz.\(name).persist"))
        }
        return out
    }
}
