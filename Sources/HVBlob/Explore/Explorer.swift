// SPDX-License-Identifier: Apache-2.0

/// Explores the interleavings of the rescind scenario: N processes hold /dev/azure_blob open
/// and each issues one ioctl, while the host may rescind the channel at any point (the
/// device's remove then runs) and delivers its completions. Every step of every activity is a
/// scheduling point; nothing depends on real thread timing. A schedule that breaks a rule is
/// returned as a `Schedule`, which replays it exactly.
public struct Explorer {
    public typealias Factory = DriverRig.Factory

    public let clients: Int
    public let factory: Factory?
    public let behavior: DriverBehavior
    public let version: KernelVersion
    /// Which findings make a schedule fail: a rule name, or a prefix ending in `*`
    /// (`liveness.*`). Empty: every rule.
    public var rules: [String] = []
    /// Findings that never make a schedule fail (same syntax).
    public var ignore: [String] = []

    public init(clients: Int, factory: Factory?, behavior: DriverBehavior = .fixed, version: KernelVersion = .default) {
        self.clients = clients
        self.factory = factory
        self.behavior = behavior
        self.version = version
    }

    static func matches(_ rule: Rule, _ patterns: [String]) -> Bool {
        patterns.contains { p in p.hasSuffix("*") ? rule.rawValue.hasPrefix(String(p.dropLast())) : rule.rawValue == p }
    }

    func counts(_ v: Violation) -> Bool {
        (rules.isEmpty || Explorer.matches(v.rule, rules)) && !Explorer.matches(v.rule, ignore)
    }

    /// One explored schedule.
    public struct Outcome: Sendable {
        public let schedule: Schedule
        /// Runnable activities at each step (names), for replay diagnostics and DFS.
        public let runnable: [[String]]
        public let ran: [String]
        public let trace: [String]
        public let findings: [Violation]
        public var failed: Bool { !findings.isEmpty }
        /// The rule that decides "the same failure" when minimising.
        public var signature: Set<Rule> { Set(findings.map(\.rule)) }
    }

    public struct ReplayError: Error, CustomStringConvertible, Sendable {
        public let description: String
    }

    enum Status { case runnable, waiting, done }

    /// One activity's state in a run.
    final class Activity {
        let name: String
        var call: DriverCall?
        var last: StepResult = .running
        var done = false
        var started = false
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
    }

    /// Runs one schedule: `choose` picks among the runnable activities at each step (indices
    /// into the list it is given); `prefix` choices are taken first.
    func run(prefix: [Int], choose: (Int, [String], String?) -> Int) throws -> Outcome {
        let machine = Machine(behavior: behavior, version: version, faults: FaultPlan(), seed: 1)
        if let factory { machine.driver = try factory(machine) }
        let driver = machine.driver
        try driver.probe()
        var trace: [String] = []
        var files: [OpenFile] = []
        var args: [UInt64] = []
        for i in 0..<clients {
            let space = AddressSpace(pid: 100 + i, memory: machine.memory)
            let file = try driver.open(space)
            files.append(file)
            let text = BlobStore.request("LIST", "c\(i)")
            let q = space.map(length: text.count, kind: .populated, contents: text)
            let r = space.map(length: 64, kind: .untouched)
            let req = AzBlobRequestSync(guid: GUID(UInt32(i), 0, 0, [0, 0, 0, 0, 0, 0, 0, 1]), requestLen: UInt32(text.count),
                                        responseLen: 64, requestBuffer: q, responseBuffer: r)
            args.append(space.map(length: driver.abi.layout.size, kind: .populated, contents: driver.abi.layout.encode(req)))
        }
        let clientActs = (0..<clients).map { Activity("client\($0)") }
        let host = Activity("host")
        let rescind = Activity("rescind")
        let remove = Activity("remove")
        var removeStarted = false
        var choices: [Int] = []
        var runnableLog: [[String]] = []
        var ranLog: [String] = []
        var previous: String?

        func activities() -> [Activity] {
            var list = clientActs.filter(\.runnable)
            if !machine.queue.isEmpty { list.append(host) }
            if !rescind.done { list.append(rescind) }
            if removeStarted && remove.runnable { list.append(remove) }
            return list
        }

        func step(_ a: Activity, _ i: Int?) {
            if let i, !a.started {
                a.started = true
                a.call = driver.ioctl(files[i], command: driver.abi.command, argument: args[i])
            }
            guard let call = a.call else { return }
            if case .blocked(let until?) = a.last, !call.isReady { machine.now = max(machine.now, until) }
            a.last = call.step()
            switch a.last {
            case .returned(let e):
                a.done = true
                if let i {
                    trace.append("\(a.name): ioctl returned \(e)")
                    driver.release(files[i])
                } else {
                    trace.append("\(a.name): finished")
                }
            case .blocked:
                trace.append("\(a.name): blocked (\(call.waitDescription))")
            case .running:
                if let id = call.sentRequestId, !(trace.last?.contains("sent request id \(id)") ?? false),
                   !trace.contains("\(a.name): sent request id \(id)") {
                    trace.append("\(a.name): sent request id \(id)")
                } else {
                    trace.append("\(a.name): \(call.lastPoint ?? "step")")
                }
            }
        }

        var steps = 0
        while steps < 10_000 {
            let list = activities()
            if list.isEmpty { break }
            let names = list.map(\.name)
            let pick: Int
            if steps < prefix.count {
                pick = prefix[steps]
                if pick >= list.count {
                    throw ReplayError(description: "step \(steps) expected activity \(pick) runnable; runnable were \(names.enumerated().map { "\($0.offset)=\($0.element)" })")
                }
            } else {
                pick = choose(steps, names, previous)
            }
            choices.append(pick)
            runnableLog.append(names)
            let a = list[pick]
            ranLog.append(a.name)
            previous = a.name
            if a === host {
                if let (t, action) = machine.queue.pop() {
                    machine.now = max(machine.now, t)
                    action()
                    trace.append("host: event at t=\(t)")
                }
            } else if a === rescind {
                rescind.done = true
                machine.channel.rescind()
                remove.call = driver.remove()
                remove.started = true
                removeStarted = true
                trace.append("rescind: host rescinds the channel; remove is queued")
            } else if let i = clientActs.firstIndex(where: { $0 === a }) {
                step(a, i)
            } else {
                step(a, nil)
            }
            steps += 1
        }
        // End of the schedule: whoever still waits can never be woken.
        let log = machine.log
        for a in clientActs where !a.done {
            log.report("liveness.ioctl-hang", "\(a.name) waits forever: \(a.call?.waitDescription ?? "never ran")")
        }
        if removeStarted && !remove.done {
            log.report("liveness.remove-hang", "remove waits forever: \(remove.call?.waitDescription ?? "")")
        }
        let allDone = clientActs.allSatisfy(\.done) && remove.done
        if allDone {
            machine.memory.reportLeakedPins()
            driver.finish(removed: true)
        }
        return Outcome(schedule: Schedule(clients: clients, choices: choices), runnable: runnableLog, ran: ranLog,
                       trace: trace, findings: log.violations.filter(counts))
    }

    /// Replays a printed schedule exactly.
    public func replay(_ s: Schedule) throws -> Outcome {
        guard s.clients == clients else {
            throw ReplayError(description: "the schedule is for \(s.clients) client(s), this explorer has \(clients)")
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
        let n = clients + 3
        var s = try sample(budget: budget, progress: progress) {
            var priority: [String: Int] = [:]
            var order = Array(0..<n).shuffled(using: &rng)
            let names = (0..<clients).map { "client\($0)" } + ["host", "rescind", "remove"]
            for name in names { priority[name] = depth + order.removeLast() }
            let changes = Set((0..<max(0, depth - 1)).map { _ in rng.int(in: 0...(k - 1)) })
            var changeIndex = depth - 1
            func highest(_ list: [String]) -> Int {
                var best = 0
                for (i, nm) in list.enumerated() where priority[nm, default: 0] > priority[list[best], default: 0] { best = i }
                return best
            }
            return try run(prefix: []) { step, list, _ in
                if changes.contains(step) {
                    priority[list[highest(list)]] = changeIndex
                    changeIndex -= 1
                }
                return highest(list)
            }
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

    static func nextPrefix(_ o: Outcome, bound: Int) -> [Int]? {
        let c = o.schedule.choices
        var i = c.count - 1
        while i >= 0 {
            let options = o.runnable[i].count
            var alt = c[i] + 1
            while alt < options {
                var ran = Array(o.ran[0..<i])
                ran.append(o.runnable[i][alt])
                if preemptions(ran, Array(o.runnable[0...i]), upTo: i + 1) <= bound {
                    return Array(c[0..<i]) + [alt]
                }
                alt += 1
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
        var best = o
        let want = o.signature
        var tries = 0
        func size(_ c: [Int]) -> (Int, Int, Int) { (c.filter { $0 != 0 }.count, c.reduce(0, +), c.count) }
        func better(_ choices: [Int]) -> Outcome? {
            tries += 1
            guard let r = try? run(prefix: choices, choose: { _, _, _ in 0 }), r.failed,
                  !r.signature.isDisjoint(with: want), size(r.schedule.choices) < size(best.schedule.choices) else { return nil }
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
