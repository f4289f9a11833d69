// SPDX-License-Identifier: Apache-2.0

/// A search that does not stop at its first failing schedule. A driver with a deterministic
/// defect (v5's pin intents: every schedule shows it) must still be searched for the findings
/// only some schedules show (the review's rescind race), so every finding is classified:
///
/// - **deterministic**: it shows in the unperturbed schedule of a configuration (each activity
///   runs as long as it can, else the first runnable one: no preemption, no rescind or remove
///   while anything is in flight). Reported once, with how many schedules showed it; it does
///   not stop the search.
/// - **schedule-dependent**: it does not show there, only in some other schedule. Reported once
///   per key (rule and call sites, `Explorer.key`) with the first schedule that showed it,
///   minimised, and whether the printed string replays to it.
///
/// The search is a list of phases, each a strategy over a number of clients with a budget in
/// schedules: no clock decides anything, so the same phases and seed give the same search.
extension Explorer {
    /// How a phase draws its schedules.
    public enum Strategy: Sendable, Equatable, CustomStringConvertible {
        /// Every schedule with at most `bound` preemptions, depth first (exhaustive if it ends).
        case dfs(bound: Int)
        /// Probabilistic concurrency testing: random priorities, depth-1 change points.
        case pct(depth: Int, seed: UInt64)
        /// A seeded random choice at every step.
        case random(seed: UInt64)
        /// Every schedule, no preemption bound, every runnable activity tried at every choice
        /// point (`Walker`); with `prune`, sleep sets and seen states cut reorders of
        /// independent steps. Split into disjoint shards by `Explorer.shard`.
        case exhaustive(prune: Bool)

        public var description: String {
            switch self {
            case .dfs(let b): return "DFS at preemption bound \(b)"
            case .pct(let d, let s): return "PCT depth \(d), seed \(s)"
            case .random(let s): return "random, seed \(s)"
            case .exhaustive(let p): return "DFS with no preemption bound" + (p ? ", pruned (sleep sets, seen states)" : ", unpruned")
            }
        }
    }

    public struct Phase: Sendable, Equatable {
        public var strategy: Strategy
        public var clients: Int
        /// Most schedules, the unperturbed one included.
        public var budget: Int
        public init(_ strategy: Strategy, clients: Int, budget: Int) {
            self.strategy = strategy
            self.clients = clients
            self.budget = budget
        }
    }

    public struct PhaseResult: Sendable {
        public let phase: Phase
        public var schedules = 0
        /// DFS only: every schedule within the bound was run.
        public var exhausted = false
        public var seconds = 0.0
    }

    /// One finding key across a search.
    public struct Finding: Sendable {
        /// Rule and call sites (`Explorer.key`).
        public let key: String
        public let rule: Rule
        /// Its detail the first time it showed.
        public let detail: String
        public internal(set) var deterministic = false
        /// How many schedules showed it.
        public internal(set) var schedules = 0
        /// The first schedule that showed it, and the phase that ran it.
        public let found: Schedule
        public let phase: Int
        /// Schedule-dependent only: the first schedule minimised (traced), and whether
        /// replaying its printed string shows the same key again.
        public internal(set) var minimised: Outcome?
        public internal(set) var replays: Bool?
    }

    public struct Exploration: Sendable {
        public let scenario: Scenario
        public internal(set) var phases: [PhaseResult] = []
        public internal(set) var schedules = 0
        /// Every key, in the order first seen.
        public internal(set) var findings: [Finding] = []
        public internal(set) var seconds = 0.0
        /// Schedules in which the rescind (or remove, for remove-drain) came, those in which
        /// requests were in flight then, and the most in flight.
        public internal(set) var triggered = 0
        public internal(set) var withInFlight = 0
        public internal(set) var mostInFlight = 0
        /// Schedules in which an ioctl returned on its completion while remove ran.
        public internal(set) var withCompletionDuringRemove = 0
        /// Schedules in which the host touched a held request's pages after the rescind.
        public internal(set) var withHostAccessAfterRescind = 0
        /// Two devices: schedules in which requests on the second device were in flight at the
        /// rescind of the first, and those in which one returned while the first's remove ran.
        public internal(set) var withOtherDeviceInFlight = 0
        public internal(set) var withOtherDeviceCompletionDuringRemove = 0
        /// Packets the hosts received, over every schedule.
        public internal(set) var hostReceived = 0
        /// The Blob service backend: reads checked byte for byte, over every schedule.
        public internal(set) var blobReadsChecked = 0
        /// The exhaustive walk's figures (`Strategy.exhaustive`), summed over its phases.
        public internal(set) var walk: WalkStats?

        public var deterministic: [Finding] { findings.filter(\.deterministic) }
        public var scheduleDependent: [Finding] { findings.filter { !$0.deterministic } }
        /// There was a DFS phase, and every DFS phase ran out of schedules within its bound.
        public var exhaustive: Bool {
            let dfs = phases.filter {
                switch $0.phase.strategy {
                case .dfs, .exhaustive: return true
                default: return false
                }
            }
            return !dfs.isEmpty && dfs.allSatisfy(\.exhausted)
        }

        mutating func count(_ o: Outcome) {
            schedules += 1
            hostReceived += o.facts.hostReceived
            blobReadsChecked += o.facts.blobReadsChecked
            if let n = o.facts.inFlightAtTrigger {
                triggered += 1
                if n > 0 { withInFlight += 1 }
                mostInFlight = max(mostInFlight, n)
            }
            if o.facts.completedDuringRemove > 0 { withCompletionDuringRemove += 1 }
            if o.facts.hostAccessesAfterRescind > 0 { withHostAccessAfterRescind += 1 }
            if (o.facts.otherDeviceInFlightAtTrigger ?? 0) > 0 { withOtherDeviceInFlight += 1 }
            if o.facts.otherDeviceCompletedDuringRemove > 0 { withOtherDeviceCompletionDuringRemove += 1 }
        }
    }

    /// A finding's identity across schedules: its rule and the driver call sites (`@0x…`
    /// offsets into the driver's library) its detail names. Request ids, PFNs, times and
    /// client numbers differ between schedules; the rule and where the harm happened do not.
    public static func key(_ v: Violation) -> String {
        var sites: [String] = []
        let chars = Array(v.detail.utf8)
        var i = 0
        while i + 3 <= chars.count {
            if chars[i] == UInt8(ascii: "@"), chars[i + 1] == UInt8(ascii: "0"), chars[i + 2] == UInt8(ascii: "x") {
                var j = i + 3
                while j < chars.count, (chars[j] >= 48 && chars[j] <= 57) || (chars[j] >= 97 && chars[j] <= 102) { j += 1 }
                let site = String(decoding: chars[i..<j], as: UTF8.self)
                if j > i + 3, !sites.contains(site) { sites.append(site) }
                i = j
            } else {
                i += 1
            }
        }
        return sites.isEmpty ? v.rule.rawValue : v.rule.rawValue + " " + sites.joined(separator: ",")
    }

    /// Runs `phases` in order and classifies every finding (see the type's comment). With
    /// `total`, the phases together run at most that many schedules: a phase gets what the
    /// earlier ones left, up to its own budget (a DFS that ends early leaves the rest to PCT).
    public func search(_ phases: [Phase], total: Int? = nil, minimiseAttempts: Int = 500,
                       progress: ((Int) -> Void)? = nil) throws -> Exploration {
        var x = Exploration(scenario: scenario)
        let clock = ContinuousClock(), start = clock.now
        var baselineKeys = Set<String>()
        var index: [String: Int] = [:]
        var explorers: [Explorer] = []

        func note(_ o: Outcome, phase: Int) {
            x.count(o)
            for v in o.findings {
                let k = Explorer.key(v)
                if index[k] != nil { continue }
                index[k] = x.findings.count
                x.findings.append(Finding(key: k, rule: v.rule, detail: v.detail, found: o.schedule, phase: phase))
            }
            for k in o.keys { if let i = index[k] { x.findings[i].schedules += 1 } }
            if x.schedules % 1_000 == 0 { progress?(x.schedules) }
        }

        for (p, phase) in phases.enumerated() {
            var e = self
            e.clients = phase.clients
            explorers.append(e)
            var phase = phase
            if let total { phase.budget = min(phase.budget, total - x.schedules) }
            var r = PhaseResult(phase: phase)
            let t0 = clock.now
            defer { r.seconds = Bench.seconds(clock.now - t0); x.phases.append(r) }
            guard phase.budget > 0 else { continue }
            // The unperturbed schedule: what every schedule of this configuration shows.
            let keepGoing: (Int, [String], String?) -> Int = { _, names, previous in
                if let p = previous, let i = names.firstIndex(of: p) { return i }
                return 0
            }
            let base = try e.run(prefix: [], tracing: false, choose: keepGoing)
            baselineKeys.formUnion(base.keys)
            if case .exhaustive(let prune) = phase.strategy {
                // The walk runs the unperturbed schedule itself (its leftmost) when it is in
                // this shard; here it only classifies.
                let walker = Walker(e, bound: nil, prune: prune)
                var left = phase.budget
                var done = true
                let (trees, above) = try e.subtrees(prune: prune)
                walker.states.formUnion(above)
                for tree in trees {
                    if left == 0 { done = false; break }
                    let all = try walker.walk(tree, budget: &left) { o in note(o, phase: p); r.schedules += 1 }
                    done = done && all
                }
                r.exhausted = done
                var w = walker.finish(exhausted: r.exhausted)
                if let old = x.walk {
                    w.schedules += old.schedules; w.cutBySleep += old.cutBySleep; w.cutBySeen += old.cutBySeen
                    w.states += old.states; w.steps += old.steps; w.finalStates.formUnion(old.finalStates)
                    w.machineStates += old.machineStates
                    w.exhausted = w.exhausted && old.exhausted
                }
                x.walk = w
                continue
            }
            note(base, phase: p)
            r.schedules = 1
            switch phase.strategy {
            case .dfs(let bound):
                var last = base
                while true {
                    guard let next = Explorer.nextPrefix(last, bound: bound) else { r.exhausted = true; break }
                    guard r.schedules < phase.budget else { break }
                    last = try e.run(prefix: next, tracing: false, choose: keepGoing)
                    note(last, phase: p)
                    r.schedules += 1
                }
            case .pct(let depth, let seed):
                var rng = SeededRandom(seed: seed).split("pct").split("\(scenario)").split("\(phase.clients)")
                let names = e.activityNames
                let k = max(base.ran.count, 1)
                while r.schedules < phase.budget {
                    var chooser = PCTChooser(names: names, depth: depth, steps: k, rng: &rng)
                    let o = try e.run(prefix: [], tracing: false) { step, list, _ in chooser.choose(step: step, list) }
                    note(o, phase: p)
                    r.schedules += 1
                }
            case .exhaustive:
                break
            case .random(let seed):
                var rng = SeededRandom(seed: seed).split("explore").split("\(scenario)").split("\(phase.clients)")
                while r.schedules < phase.budget {
                    let o = try e.run(prefix: [], tracing: false) { _, names, _ in rng.int(in: 0...(names.count - 1)) }
                    note(o, phase: p)
                    r.schedules += 1
                }
            }
        }
        // Classify, then minimise and replay each schedule-dependent finding.
        for i in x.findings.indices {
            x.findings[i].deterministic = baselineKeys.contains(x.findings[i].key)
            guard !x.findings[i].deterministic else { continue }
            let f = x.findings[i]
            let e = explorers[f.phase]
            let first = try e.run(prefix: f.found.choices, choose: { _, _, _ in 0 })
            let small = try e.minimise(first, attempts: minimiseAttempts) { $0.keys.contains(f.key) }
            x.findings[i].minimised = small
            if let parsed = try? Schedule(parsing: small.schedule.description), let again = try? e.replay(parsed) {
                x.findings[i].replays = again.keys.contains(f.key)
            } else {
                x.findings[i].replays = false
            }
        }
        x.seconds = Bench.seconds(clock.now - start)
        return x
    }

    /// The activities of this scenario, in their fixed order.
    var activityNames: [String] {
        (0..<scenario.activities(clients: clients)).map { "client\($0)" } + ["host"] + (scenario == .hostAccess ? ["host-access"] : [])
            + (scenario == .removeDrain ? [] : ["rescind"]) + ["remove"]
    }
}
