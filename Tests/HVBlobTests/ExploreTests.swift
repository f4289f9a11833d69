// SPDX-License-Identifier: Apache-2.0
@testable import HVBlob
import PropertyBased
import Testing

@Suite("Race explorer", .serialized)
struct ExploreTests {
    @Test("schedule.roundtrip: v1.<clients>.<choices> encodes, decodes and equals")
    func roundTrip() async {
        await propertyCheck(count: 200, input: Gen.int(in: 1...8), Gen.int(in: 0...35).array(of: 0...60)) { n, c in
            let s = Schedule(clients: n, choices: c)
            #expect((try? Schedule(parsing: s.description)) == s)
        }
    }

    @Test("schedule.parse: malformed schedules name the character offset")
    func parseErrors() {
        #expect(throws: Schedule.ParseError.version("v2")) { try Schedule(parsing: "v2.2.00") }
        #expect(throws: Schedule.ParseError.malformed(offset: 6, why: "'!' is not a base-36 digit")) { try Schedule(parsing: "v1.2.0!") }
        #expect(throws: Schedule.ParseError.malformed(offset: 3, why: "'9' is not a client count in 1...8")) { try Schedule(parsing: "v1.9.0") }
        #expect(throws: Schedule.ParseError.malformed(offset: 4, why: "expected v1.<clients>.<choices>")) { try Schedule(parsing: "v1.2") }
    }

    @Test("explore.v5-race: DFS finds the review's race on the v5 model; the printed schedule replays it; minimised it still fails")
    func v5Race() throws {
        var e = Explorer(clients: 2, factory: nil, behavior: .v5, version: KernelVersion(5, 13))
        e.rules = ["guest.send-on-closed-channel"]
        let s = try e.dfs(bound: 2, budget: 100_000)
        let failing = try #require(s.failing)
        #expect(s.schedules < 5_000)
        #expect(failing.signature == ["guest.send-on-closed-channel"])
        let replayed = try e.replay(try Schedule(parsing: failing.schedule.description))
        #expect(replayed.trace == failing.trace && replayed.signature == failing.signature)
        let small = try e.minimise(failing)
        #expect(small.failed)
        let diagram = Explorer.mermaid(small)
        #expect(diagram.hasPrefix("sequenceDiagram") && diagram.contains("participant remove") && diagram.contains("FINDING guest.send-on-closed-channel"))
        // A schedule for another scenario, or one that does not fit, is refused with the reason.
        #expect(throws: Explorer.ReplayError.self) { try e.replay(Schedule(clients: 2, choices: [9])) }
    }

    @Test("explore.v5-hang: random search finds v5's remove that waits forever")
    func v5Hang() throws {
        var e = Explorer(clients: 2, factory: nil, behavior: .v5, version: KernelVersion(5, 13))
        e.rules = ["liveness.*"]
        let s = try e.random(seed: 5, budget: 10_000)
        #expect(s.failing?.signature.contains("liveness.remove-hang") == true)
    }

    @Test("explore.fixed-exhaustive: the corrected model, 2 clients + rescind + completions, exhaustive at preemption bound 1")
    func fixedExhaustive() throws {
        // Bound 1 (2,812 schedules): bound 2 is 27,710 since the DFS tries every alternative,
        // minutes in a debug build; `hvblob explore` runs it (README).
        let s = try Explorer(clients: 2, factory: nil).dfs(bound: 1, budget: 1_000_000)
        #expect(s.failing == nil, "\(s.failing.map { "\($0.schedule) \($0.findings)" } ?? "")")
        #expect(s.exhausted && s.schedules > 2_000)
    }

    /// Every schedule of the bounded DFS (`Explorer.nextPrefix` from the unperturbed one).
    static func bounded(_ e: Explorer, bound: Int) throws -> [Explorer.Outcome] {
        let keepGoing: (Int, [String], String?) -> Int = { _, names, previous in
            if let p = previous, let i = names.firstIndex(of: p) { return i }
            return 0
        }
        var out = [try e.run(prefix: [], tracing: false, choose: keepGoing)]
        while let next = Explorer.nextPrefix(out[out.count - 1], bound: bound), out.count < 100_000 {
            out.append(try e.run(prefix: next, tracing: false, choose: keepGoing))
        }
        return out
    }

    @Test("explore.dfs-tries-earlier-alternatives: the bounded DFS runs every schedule within the bound, also those that preempt to an activity listed before the default")
    func dfsTriesEarlierAlternatives() throws {
        // v5's model, 1 client, bound 1: the oracle is the unpruned walk at the same bound
        // (`Walker`, its own candidate order and preemption count).
        let e = Explorer(clients: 1, factory: nil, behavior: .v5, version: KernelVersion(5, 13))
        let dfs = try Self.bounded(e, bound: 1)
        let walker = Explorer.Walker(e, bound: 1, prune: false)
        var all: [Explorer.Outcome] = []
        var left = 100_000
        #expect(try walker.walk(Explorer.Subtree(prefix: [], sleep: [], preemptions: 0), budget: &left) { all.append($0) })
        #expect(Set(dfs.map(\.ran)) == Set(all.map(\.ran)) && dfs.count == all.count, "DFS \(dfs.count), walk \(all.count)")
        // Some of them switch to an activity listed before the one that could have gone on.
        let early = dfs.filter { o in
            o.ran.indices.dropFirst().contains { i in
                let before = o.runnable[i].firstIndex(of: o.ran[i - 1]), now = o.runnable[i].firstIndex(of: o.ran[i])
                return before != nil && now! < before!
            }
        }
        #expect(!early.isEmpty)
    }

    @Test("explore.dfs-earlier-alternative-finding: a tiny scenario whose only finding needs a switch to an activity listed before the default is found at bound 1")
    func dfsEarlierAlternativeFinding() throws {
        // Two activities, x and y (listed in that order), two steps each. The finding: x runs
        // while y could go on right after y's first step. Reaching it: y first (an alternative
        // after the default x), then x, listed before the default y.
        func run(_ prefix: [Int]) -> Explorer.Outcome {
            var left = ["x": 2, "y": 2]
            var choices: [Int] = [], runnable: [[String]] = [], ran: [String] = []
            while true {
                let names = ["x", "y"].filter { left[$0]! > 0 }
                if names.isEmpty { break }
                let pick = choices.count < prefix.count ? prefix[choices.count] : (ran.last.flatMap { names.firstIndex(of: $0) } ?? 0)
                choices.append(pick)
                runnable.append(names)
                ran.append(names[pick])
                left[names[pick]]! -= 1
            }
            return Explorer.Outcome(schedule: Schedule(clients: 1, choices: choices), runnable: runnable, ran: ran, trace: [], findings: [])
        }
        func found(_ o: Explorer.Outcome) -> Bool {
            o.ran.indices.dropFirst().contains { o.ran[$0 - 1] == "y" && o.ran[$0] == "x" && o.runnable[$0].contains("y") && $0 == 1 }
        }
        var all = [run([])]
        while let next = Explorer.nextPrefix(all[all.count - 1], bound: 1), all.count < 100 { all.append(run(next)) }
        #expect(all.contains(where: found), "\(all.map(\.ran))")
        // Every schedule once: x x y y, x y y x, x y x y is over the bound (2), y y x x, y x x y.
        #expect(Set(all.map(\.ran)) == [["x", "x", "y", "y"], ["x", "y", "y", "x"], ["y", "y", "x", "x"], ["y", "x", "x", "y"]], "\(all.map(\.ran))")
        #expect(all.count == 4)
    }
}
