// SPDX-License-Identifier: Apache-2.0

/// Explores the interleavings of a concurrency scenario (`Scenario`): N processes hold
/// /dev/azure_blob open and each issues one ioctl, the host delivers its completions, and —
/// depending on the scenario — the host may rescind the channel (the device's remove then
/// runs), remove may run without a rescind, and the host may touch a request's pages, each at
/// any point. Every step of every activity is a scheduling point; nothing depends on real
/// thread timing. Each explored schedule is an `Outcome` whose `Schedule` replays it exactly.
public struct Explorer {
    public typealias Factory = DriverRig.Factory

    public var clients: Int
    public let factory: Factory?
    public let behavior: DriverBehavior
    public let version: KernelVersion
    public var scenario: Scenario = .rescindInFlight
    /// Which findings make a schedule fail: a rule name, or a prefix ending in `*`
    /// (`liveness.*`). Empty: every rule.
    public var rules: [String] = []
    /// Findings that never make a schedule fail (same syntax).
    public var ignore: [String] = []
    /// Which part of an exhaustive search this explorer runs (`ShardSpec`); nil: all of it.
    public var shard: ShardSpec?
    /// Tests only: a wrong dependence relation (every two steps independent), to show that
    /// the pruned-equals-unpruned check can fail.
    var everyStepIndependent = false
    /// The pruned search cuts at machine states already explored (`Run.stateDigest`, the
    /// model only), not only at trace digests. Off: to measure what it saves.
    public var stateHashing = true
    /// The pruned search branches only where the schedule so far has a race: dynamic
    /// partial-order reduction (Flanagan and Godefroid, with sleep sets) instead of cutting at
    /// states already explored (the two do not combine soundly). Not with shards: a race found
    /// in one subtree adds a branch above it, in another shard's part.
    public var dpor = false
    /// The host's backend: nil, the store (each client lists a container); else the Blob
    /// service (`BlobService`) with these blobs, and each client reads a 4 KiB range of one
    /// blob in a fast-path session opened before the schedule starts, every byte checked.
    public var blobs: [String: [UInt8]]?

    public init(clients: Int, factory: Factory?, behavior: DriverBehavior = .fixed, version: KernelVersion = .default,
                scenario: Scenario = .rescindInFlight) {
        self.clients = clients
        self.factory = factory
        self.behavior = behavior
        self.version = version
        self.scenario = scenario
    }

    static func matches(_ rule: Rule, _ patterns: [String]) -> Bool {
        patterns.contains { p in p.hasSuffix("*") ? rule.rawValue.hasPrefix(String(p.dropLast())) : rule.rawValue == p }
    }

    func counts(_ v: Violation) -> Bool {
        (rules.isEmpty || Explorer.matches(v.rule, rules)) && !Explorer.matches(v.rule, ignore)
    }

    /// What happened in one schedule that says whether its scenario really ran.
    public struct Facts: Sendable, Equatable {
        /// Requests sent and not yet returned when the host rescinded the channel (rescind
        /// scenarios) or remove began (remove-drain); nil when that never happened.
        public var inFlightAtTrigger: Int?
        /// ioctls that returned 0 on the host's completion while remove was running.
        public var completedDuringRemove = 0
        /// Host accesses to the pages of a request it held, and those after the rescind (before
        /// vmbus_close returned).
        public var hostAccesses = 0
        public var hostAccessesAfterRescind = 0
        /// Packets the host received.
        public var hostReceived = 0
        /// Two devices: requests on the second device in flight at the rescind of the first,
        /// and those that returned 0 while the first's remove ran.
        public var otherDeviceInFlightAtTrigger: Int?
        public var otherDeviceCompletedDuringRemove = 0
        /// The Blob service backend: reads that returned 0 with the blob's bytes, checked.
        public var blobReadsChecked = 0
    }

    /// One explored schedule.
    public struct Outcome: Sendable {
        public let schedule: Schedule
        /// Runnable activities at each step (names), for replay diagnostics and DFS.
        public let runnable: [[String]]
        public let ran: [String]
        public let trace: [String]
        public let findings: [Violation]
        public var facts = Facts()
        /// A digest of the state the schedule ended in (`Run.finalDigest`).
        public var finalState: UInt64 = 0
        public var failed: Bool { !findings.isEmpty }
        /// The rule that decides "the same failure" when minimising.
        public var signature: Set<Rule> { Set(findings.map(\.rule)) }
        /// Its findings' keys (rule and site, see `Explorer.key`), in order, each once.
        public var keys: [String] {
            var out: [String] = []
            for f in findings { let k = Explorer.key(f); if !out.contains(k) { out.append(k) } }
            return out
        }
    }

    public struct ReplayError: Error, CustomStringConvertible, Sendable {
        public let description: String
    }

    /// The scenario cannot be set up for this driver (two devices: the second device's probe
    /// failed, or the driver cannot be offered one): nothing of it ran.
    public struct ScenarioUnavailable: Error, CustomStringConvertible, Sendable {
        public let description: String
    }

    /// One activity's state in a run.
    final class Activity {
        let name: String
        var call: DriverCall?
        var last: StepResult = .running
        var done = false
        var started = false
        /// What the ioctl returned (clients).
        var result: Errno?
        init(_ name: String) { self.name = name }

        /// Runnable: not started, still running, woken, or waiting with a deadline (time may pass).
        var runnable: Bool {
            if done { return false }
            guard started, let call else { return true }
            switch last {
            case .running: return true
            case .blocked(let until): return until != nil || call.isReady
            case .returned: return false
            }
        }

        /// Sent its request and has not returned.
        var inFlight: Bool { !done && call?.sentRequestId != nil }
    }

    /// The request a host holds: what it received, so that it can touch the pages.
    struct Held {
        let packet: GPADirectPacket
        let at: UInt64
    }

    /// Runs one schedule: `choose` picks among the runnable activities at each step (indices
    /// into the list it is given); `prefix` choices are taken first.
    func run(prefix: [Int], tracing: Bool = true, choose: (Int, [String], String?) -> Int) throws -> Outcome {
        let r = try machine(at: prefix, tracing: tracing)
        while let names = r.enabledNames() {
            _ = r.take(choose(r.steps, names, r.previous))
        }
        return r.finish()
    }

    /// A machine that has run `prefix` (choices as in `Schedule`): the one place a search gets
    /// a machine at a choice point. Today it builds a fresh machine and re-runs the prefix;
    /// a machine checkpoint (`Machine.checkpoint()` / `reset(to:)`, being built on another
    /// branch) plugs in here: keep a checkpoint per choice point on the DFS stack and reset
    /// to the deepest one the prefix shares instead of re-running from the start.
    func machine(at prefix: [Int], tracing: Bool = true) throws -> Run {
        let r = try Run(self, tracing: tracing)
        for (i, pick) in prefix.enumerated() {
            // A schedule longer than its run ends with the run (as a replay always has).
            guard let names = r.enabledNames() else { break }
            if pick >= names.count {
                throw ReplayError(description: "step \(i) expected activity \(pick) runnable; runnable were \(names.enumerated().map { "\($0.offset)=\($0.element)" })")
            }
            _ = r.take(pick)
        }
        return r
    }

    /// A wait on a condition someone must signal (not a plain sleep), from its description:
    /// the model's drain, or a C wait_event*/wait_for_completion* primitive.
    static func waitsOnCondition(_ what: String) -> Bool {
        what.contains("remove waits in drain") || what.contains("wait_event") || what.contains("wait_for_completion")
    }

    /// Replays a printed schedule exactly.
    public func replay(_ s: Schedule) throws -> Outcome {
        guard s.clients == clients else {
            throw ReplayError(description: "the schedule is for \(s.clients) client(s), this explorer has \(clients)")
        }
        guard s.scenario == scenario else {
            throw ReplayError(description: "the schedule is for the \(s.scenario) scenario, this explorer runs \(scenario)")
        }
        return try run(prefix: s.choices) { step, names, _ in
            0  // past the end of the schedule: the first runnable (the schedule ran out)
        }
    }

    // MARK: strategies

    public struct Summary: Sendable {
        public var schedules = 0
        public var failing: Outcome?
        public var distinctStates = 0
        public var seconds = 0.0
        public var exhausted = false
        public var note = ""
    }

    /// Runs independently drawn schedules until one fails or the budget is spent.
    func sample(budget: Int, progress: ((Int) -> Void)?, _ next: () throws -> Outcome) rethrows -> Summary {
        var s = Summary()
        let clock = ContinuousClock(), start = clock.now
        var seen = Set<[String]>()
        while s.schedules < budget {
            let o = try next()
            s.schedules += 1
            seen.insert(o.ran)
            if o.failed { s.failing = o; break }
            if s.schedules % 10_000 == 0 { progress?(s.schedules) }
        }
        s.distinctStates = seen.count
        s.seconds = Bench.seconds(clock.now - start)
        return s
    }

    /// Seeded random choice at every step.
    public func random(seed: UInt64, budget: Int, progress: ((Int) -> Void)? = nil) throws -> Summary {
        var rng = SeededRandom(seed: seed).split("explore")
        return try sample(budget: budget, progress: progress) {
            try run(prefix: []) { _, names, _ in rng.int(in: 0...(names.count - 1)) }
        }
    }

    /// PCT (probabilistic concurrency testing) with depth `depth`: random priorities, d-1
    /// random priority change points; finds any bug of depth d with probability at least
    /// 1/(n * k^(d-1)) per schedule (n activities, k steps).
    public func pct(seed: UInt64, depth: Int, budget: Int, progress: ((Int) -> Void)? = nil) throws -> Summary {
        var rng = SeededRandom(seed: seed).split("pct")
        let probe = try run(prefix: []) { _, _, _ in 0 }
        let k = max(probe.ran.count, 1)
        let names = activityNames
        let n = names.count
        var s = try sample(budget: budget, progress: progress) {
            var chooser = PCTChooser(names: names, depth: depth, steps: k, rng: &rng)
            return try run(prefix: []) { step, list, _ in chooser.choose(step: step, list) }
        }
        let bound = 1.0 / (Double(n) * pow(Double(k), Double(depth - 1)))
        s.note = "PCT depth \(depth): n=\(n) activities, k=\(k) steps: each schedule finds a depth-\(depth) bug with probability >= \(bound); \(s.schedules) schedules -> >= \(1 - pow(1 - bound, Double(s.schedules)))"
        return s
    }

    /// Depth-first search over every schedule with at most `bound` preemptions (switching away
    /// from an activity that could have gone on), by re-execution from a prefix. Exhaustive
    /// within the bound when it returns with `exhausted`.
    public func dfs(bound: Int, budget: Int, progress: ((Int) -> Void)? = nil) throws -> Summary {
        var s = Summary()
        let clock = ContinuousClock(), start = clock.now
        var prefix: [Int] = []
        var seen = Set<[String]>()
        while s.schedules < budget {
            // Beyond the prefix: keep running the same activity while it can, else the first.
            let o = try run(prefix: prefix) { _, names, previous in
                if let p = previous, let i = names.firstIndex(of: p) { return i }
                return 0
            }
            s.schedules += 1
            seen.insert(o.ran)
            if o.failed { s.failing = o; break }
            if s.schedules % 10_000 == 0 { progress?(s.schedules) }
            // Backtrack: the deepest step with an untried alternative that keeps within the bound.
            guard let next = Explorer.nextPrefix(o, bound: bound) else { s.exhausted = true; break }
            prefix = next
        }
        s.distinctStates = seen.count
        s.seconds = Bench.seconds(clock.now - start)
        return s
    }

    static func preemptions(_ ran: [String], _ runnable: [[String]], upTo n: Int) -> Int {
        var count = 0
        for i in 1..<max(1, n) where i < ran.count {
            if ran[i] != ran[i - 1] && runnable[i].contains(ran[i - 1]) { count += 1 }
        }
        return count
    }

    /// The order a choice point's alternatives are tried in: the default first (the activity
    /// that ran before, if it can go on, else the first), then the others in list order.
    /// Every index of the runnable list is in it once.
    static func order(options: Int, previous: String?, runnable: [String]) -> [Int] {
        let d = previous.flatMap { runnable.firstIndex(of: $0) } ?? 0
        return [d] + (0..<options).filter { $0 != d }
    }

    /// The schedule to run after `o` in the bounded DFS: at the deepest step with an untried
    /// alternative (in `order`, so alternatives listed before the default are tried too) that
    /// keeps within the bound, that alternative; nil when none is left.
    static func nextPrefix(_ o: Outcome, bound: Int) -> [Int]? {
        let c = o.schedule.choices
        var i = c.count - 1
        while i >= 0 {
            let options = o.runnable[i].count
            let order = Explorer.order(options: options, previous: i > 0 ? o.ran[i - 1] : nil, runnable: o.runnable[i])
            var at = (order.firstIndex(of: c[i]) ?? options) + 1
            while at < options {
                let alt = order[at]
                var ran = Array(o.ran[0..<i])
                ran.append(o.runnable[i][alt])
                if preemptions(ran, Array(o.runnable[0...i]), upTo: i + 1) <= bound {
                    return Array(c[0..<i]) + [alt]
                }
                at += 1
            }
            i -= 1
        }
        return nil
    }

    /// Shortens a failing schedule while it fails with the same rules: cut it at each step
    /// (the rest runs the first runnable activity) and set single choices to 0, keeping a
    /// change only when the schedule gets strictly smaller (fewer non-zero choices, then a
    /// smaller sum, then fewer steps), so it always ends.
    public func minimise(_ o: Outcome, attempts: Int = 2_000) throws -> Outcome {
        let want = o.signature
        return try minimise(o, attempts: attempts) { $0.failed && !$0.signature.isDisjoint(with: want) }
    }

    /// The same, keeping whatever `keeps` says is the failure (a finding's key).
    public func minimise(_ o: Outcome, attempts: Int, keeps: (Outcome) -> Bool) throws -> Outcome {
        var best = o
        var tries = 0
        func size(_ c: [Int]) -> (Int, Int, Int) { (c.filter { $0 != 0 }.count, c.reduce(0, +), c.count) }
        func better(_ choices: [Int]) -> Outcome? {
            tries += 1
            guard let r = try? run(prefix: choices, choose: { _, _, _ in 0 }), keeps(r),
                  size(r.schedule.choices) < size(best.schedule.choices) else { return nil }
            return r
        }
        var changed = true
        while changed && tries < attempts {
            changed = false
            let c = best.schedule.choices
            for n in 0..<c.count where tries < attempts {
                if let r = better(Array(c.prefix(n))) { best = r; changed = true; break }
            }
            if changed { continue }
            for i in c.indices where c[i] != 0 && tries < attempts {
                var d = c
                d[i] = 0
                if let r = better(d) { best = r; changed = true; break }
            }
        }
        return best
    }

    /// The outcome as a Mermaid sequence diagram, one lane per activity.
    public static func mermaid(_ o: Outcome) -> String {
        var lanes: [String] = []
        for r in o.ran where !lanes.contains(r) { lanes.append(r) }
        var s = "sequenceDiagram\n"
        for l in lanes { s += "    participant \(l)\n" }
        for line in o.trace {
            guard let colon = line.firstIndex(of: ":") else { continue }
            let who = String(line[..<colon]), what = line[line.index(after: colon)...].trimmingCharacters(in: " ")
            s += "    Note over \(lanes.contains(who) ? who : lanes.first ?? who): \(String(what.map { $0 == ";" ? "," : $0 }))\n"
        }
        for f in o.findings { s += "    Note over \(lanes.first ?? "host"): FINDING \(f.rule): \(String(f.detail.map { $0 == ";" ? "," : $0 }))\n" }
        return s
    }
}

func pow(_ a: Double, _ b: Double) -> Double {
    var r = 1.0
    var i = 0.0
    while i < b { r *= a; i += 1 }
    return r
}

extension Substring {
    func trimmingCharacters(in chars: String) -> String {
        String(self.drop { chars.contains($0) }.reversed().drop { chars.contains($0) }.reversed())
    }
}

/// One PCT schedule (Burckhardt et al.): random distinct priorities for the activities, and
/// depth - 1 change points among the first `steps` steps where the running activity drops to
/// the lowest priority so far; the highest-priority ready activity always runs.
struct PCTChooser {
    private var priority: [String: Int] = [:]
    private let changes: Set<Int>
    private var changeIndex: Int

    init(names: [String], depth: Int, steps: Int, rng: inout SeededRandom) {
        var order = Array(0..<names.count).shuffled(using: &rng)
        for name in names { priority[name] = depth + order.removeLast() }
        changes = Set((0..<max(0, depth - 1)).map { _ in rng.int(in: 0...(steps - 1)) })
        changeIndex = depth - 1
    }

    private func highest(_ list: [String]) -> Int {
        var best = 0
        for (i, nm) in list.enumerated() where priority[nm, default: 0] > priority[list[best], default: 0] { best = i }
        return best
    }

    /// The index in `list` (the ready activities) of the one to run at `step`.
    mutating func choose(step: Int, _ list: [String]) -> Int {
        if changes.contains(step) {
            priority[list[highest(list)]] = changeIndex
            changeIndex -= 1
        }
        return highest(list)
    }
}
