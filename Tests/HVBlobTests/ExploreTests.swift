// SPDX-License-Identifier: Apache-2.0
import HVBlob
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

    @Test("explore.fixed-exhaustive: the corrected model, 2 clients + rescind + completions, exhaustive at preemption bound 2")
    func fixedExhaustive() throws {
        let s = try Explorer(clients: 2, factory: nil).dfs(bound: 2, budget: 1_000_000)
        #expect(s.failing == nil, "\(s.failing.map { "\($0.schedule) \($0.findings)" } ?? "")")
        #expect(s.exhausted && s.schedules > 5_000)
    }
}
