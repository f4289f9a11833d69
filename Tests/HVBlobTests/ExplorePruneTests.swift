// SPDX-License-Identifier: Apache-2.0
@testable import HVBlob
import Testing

/// The pruned exhaustive search (sleep sets over step footprints, seen states) against the
/// unpruned one, and shards against the whole search (issue 12).
@Suite("Race explorer: pruning and shards", .serialized)
struct ExplorePruneTests {
    static func search(_ e: Explorer, prune: Bool, budget: Int = 100_000) throws -> Explorer.Exploration {
        try e.search([Explorer.Phase(.exhaustive(prune: prune), clients: e.clients, budget: budget)], minimiseAttempts: 0)
    }

    @Test("explore.prune-sound: on v5's model, 1 client, every scenario: the pruned search finds the same findings, machine states and end states in fewer schedules; cutting at machine states already explored saves schedules over sleep sets alone and loses none of them")
    func pruneSound() throws {
        // Two devices are left out: every step there counts as touching everything and there is
        // no machine digest, so the pruned walk is the unpruned one (nothing to lose, nothing cut).
        for sc in Explorer.Scenario.allCases where sc != .twoDevices {
            let e = Explorer(clients: 1, factory: nil, behavior: .v5, version: KernelVersion(5, 13), scenario: sc)
            let full = try Self.search(e, prune: false)
            let pruned = try Self.search(e, prune: true)
            let fw = try #require(full.walk), pw = try #require(pruned.walk)
            #expect(full.exhaustive && pruned.exhaustive, "\(sc)")
            // The scenario has findings to lose: v5's race and hangs are schedule-dependent.
            #expect(full.scheduleDependent.count >= 1, "\(sc): \(full.findings.map(\.key))")
            #expect(Set(full.findings.map(\.key)) == Set(pruned.findings.map(\.key)), "\(sc)")
            #expect(Set(full.scheduleDependent.map(\.key)) == Set(pruned.scheduleDependent.map(\.key)), "\(sc)")
            #expect(fw.finalStates == pw.finalStates && fw.finalStates.count > 1, "\(sc): \(fw.finalStates.count) vs \(pw.finalStates.count)")
            // Every machine state the unpruned walk reaches, the pruned one reaches too.
            #expect(fw.machineStates == pw.machineStates && fw.machineStates > 1, "\(sc): \(fw.machineStates) vs \(pw.machineStates)")
            #expect(pw.states <= fw.states, "\(sc)")
            #expect(pruned.schedules * 5 < full.schedules, "\(sc): \(pruned.schedules) of \(full.schedules)")
            // Sleep sets alone (no cut at machine states): the same, in more schedules.
            var plain = e
            plain.stateHashing = false
            let sleepOnly = try Self.search(plain, prune: true)
            let sw = try #require(sleepOnly.walk)
            #expect(pw.cutBySeen > 0 && pruned.schedules < sleepOnly.schedules, "\(sc): \(pruned.schedules) vs \(sleepOnly.schedules)")
            #expect(sw.machineStates == pw.machineStates && sw.finalStates == pw.finalStates, "\(sc)")
            #expect(Set(sleepOnly.findings.map(\.key)) == Set(pruned.findings.map(\.key)), "\(sc)")
            // Every pruned schedule replays to the same end (determinism of the walk).
            if let f = pruned.scheduleDependent.first {
                #expect(try e.replay(f.found).keys.contains(f.key))
            }
        }
    }

    @Test("explore.dpor-sound: on v5's model, 1 client, every scenario: DPOR with sleep sets finds the unpruned search's findings and end states in fewer steps; a wrong dependence (every step independent) loses end states")
    func dporSound() throws {
        for sc in Explorer.Scenario.allCases where sc != .twoDevices {
            var e = Explorer(clients: 1, factory: nil, behavior: .v5, version: KernelVersion(5, 13), scenario: sc)
            let full = try Self.search(e, prune: false)
            e.dpor = true
            let reduced = try Self.search(e, prune: true)
            let fw = try #require(full.walk), rw = try #require(reduced.walk)
            #expect(full.exhaustive && reduced.exhaustive, "\(sc)")
            #expect(full.scheduleDependent.count >= 1, "\(sc): \(full.findings.map(\.key))")
            #expect(Set(full.findings.map(\.key)) == Set(reduced.findings.map(\.key)), "\(sc)")
            #expect(Set(full.scheduleDependent.map(\.key)) == Set(reduced.scheduleDependent.map(\.key)), "\(sc)")
            #expect(fw.finalStates == rw.finalStates && fw.finalStates.count > 1, "\(sc): \(fw.finalStates.count) vs \(rw.finalStates.count)")
            // DPOR never cuts at a seen state; it branches less.
            #expect(rw.cutBySeen == 0 && reduced.schedules * 5 < full.schedules, "\(sc): \(reduced.schedules) of \(full.schedules)")
            if let f = reduced.scheduleDependent.first {
                #expect(try e.replay(f.found).keys.contains(f.key))
            }
        }
        var wrong = Explorer(clients: 1, factory: nil, behavior: .v5, version: KernelVersion(5, 13), scenario: .rescindInFlight)
        let full = try Self.search(wrong, prune: false)
        wrong.dpor = true
        wrong.everyStepIndependent = true
        let lost = try Self.search(wrong, prune: true)
        let lw = try #require(lost.walk), uw = try #require(full.walk)
        #expect(lost.schedules == 1 && lw.finalStates != uw.finalStates)
    }

    @Test("explore.prune-can-fail: a wrong dependence (every step independent) loses end states the check then sees")
    func pruneCanFail() throws {
        var e = Explorer(clients: 1, factory: nil, behavior: .v5, version: KernelVersion(5, 13), scenario: .rescindInFlight)
        let full = try Self.search(e, prune: false)
        e.everyStepIndependent = true
        let wrong = try Self.search(e, prune: true)
        #expect(try #require(wrong.walk).finalStates != (try #require(full.walk)).finalStates)
    }

    @Test("explore.prune-v5-race: the pruned search with 2 clients and no bound finds the review's race on the v5 model; the corrected model stays clean (1 client, every schedule)")
    func prunedRaceAndClean() throws {
        var v5 = Explorer(clients: 2, factory: nil, behavior: .v5, version: KernelVersion(5, 13))
        v5.rules = ["guest.send-on-closed-channel"]
        let x = try Self.search(v5, prune: true, budget: 3_000)
        #expect(x.scheduleDependent.contains { $0.rule == "guest.send-on-closed-channel" && $0.replays == true })
        // DPOR finds it too.
        v5.dpor = true
        let d = try Self.search(v5, prune: true, budget: 3_000)
        #expect(d.scheduleDependent.contains { $0.rule == "guest.send-on-closed-channel" && $0.replays == true })
        let fixed = try Self.search(Explorer(clients: 1, factory: nil), prune: true)
        #expect(fixed.exhaustive && fixed.findings.isEmpty, "\(fixed.findings.map(\.key))")
        #expect(fixed.withInFlight > 0, "the scenario never had a request in flight")
    }

    @Test("explore.shard-union: 3 shards together run exactly the whole search's schedules and find its findings and end states")
    func shardUnion() throws {
        for prune in [false, true] {
            var e = Explorer(clients: 1, factory: nil, behavior: .v5, version: KernelVersion(5, 13), scenario: .rescindInFlight)
            let whole = try Self.search(e, prune: prune)
            var parts: [(name: String, result: ShardResult)] = []
            var schedules = 0
            for i in 1...3 {
                e.shard = ShardSpec(index: i, count: 3)
                let x = try Self.search(e, prune: prune)
                #expect(x.exhaustive)
                schedules += x.schedules
                let r = ShardResult(driver: "model v5", driverHash: "h", options: "o", seed: 1, shard: e.shard,
                                    parts: [ShardResult.part(x, clients: 1)])
                // Through the file format and back.
                let read = try ShardResult(json: Array(r.json.utf8), name: "shard\(i).json")
                #expect(read == r)
                parts.append(("shard\(i).json", read))
            }
            let merged = try ShardResult.merge(parts).parts[0]
            let wholeWalk = try #require(whole.walk)
            #expect(merged.schedules == schedules)
            if !prune || wholeWalk.cutBySeen == 0 {
                // Without seen-state cuts the shards' schedules are the whole search's, each once.
                #expect(merged.schedules == whole.schedules, "prune \(prune): \(merged.schedules) vs \(whole.schedules)")
                #expect(merged.cutBySleep == wholeWalk.cutBySleep)
            } else {
                // A shard cannot skip a state only another one explored.
                #expect(merged.schedules >= whole.schedules)
            }
            #expect(Set(merged.findings.map(\.key)) == Set(whole.findings.map(\.key)) && !merged.findings.isEmpty)
            #expect(Set(merged.finalStates) == wholeWalk.finalStates)
            #expect(merged.exhaustive)
        }
    }

    @Test("explore.merge-refuses: results of different drivers, seeds or options, a shard twice, a missing shard")
    func mergeRefuses() throws {
        func r(_ i: Int, driver: String = "h", seed: UInt64 = 1, options: String = "o") -> ShardResult {
            ShardResult(driver: "d", driverHash: driver, options: options, seed: seed, shard: ShardSpec(index: i, count: 2), parts: [])
        }
        func refused(_ list: [(String, ShardResult)], _ needle: String) {
            do {
                _ = try ShardResult.merge(list.map { (name: $0.0, result: $0.1) })
                Issue.record("merged: \(needle)")
            } catch {
                #expect(error.description.contains(needle), "\(error.description)")
            }
        }
        refused([("a", r(1)), ("b", r(2, driver: "other"))], "b and a are from different searches: driver")
        refused([("a", r(1)), ("b", r(2, seed: 2))], "seed '2' vs '1'")
        refused([("a", r(1)), ("b", r(2, options: "p"))], "options 'p' vs 'o'")
        refused([("a", r(1)), ("b", r(1))], "shard 1/2 is in both a and b")
        refused([("a", r(1))], "shard(s) 2/2 missing")
        #expect(throws: ShardResult.ReadError.self) { try ShardResult(json: Array("{\"format\": \"x\"}".utf8), name: "f.json") }
        #expect(throws: ShardSpec.ParseError.self) { try ShardSpec(parsing: "0/4") }
        #expect(throws: ShardSpec.ParseError.self) { try ShardSpec(parsing: "5/4") }
        #expect(try ShardSpec(parsing: "2/4") == ShardSpec(index: 2, count: 4))
    }
}
