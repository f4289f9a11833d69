// SPDX-License-Identifier: Apache-2.0

/// Depth-first search over the schedule tree that tries every runnable activity at every
/// choice point (within a preemption bound, if one is given), with two optional prunings:
///
/// - **sleep sets** (Godefroid): once activity `t` has been explored from a choice point,
///   its later siblings carry `t` in their sleep set for as long as they only run steps
///   independent of `t` (`Footprint.independent`); a sleeping activity is not tried again, and
///   a schedule whose runnable activities all sleep is cut: every schedule it could still
///   reach is the reorder of one already explored, with the same findings and end state.
/// - **seen states**: at every choice point, a digest of the machine's whole state
///   (`Run.stateDigest`: the model's guest and host state, both rings, the request-id table,
///   the queued events, each activity, the finding keys so far), or where there is none (C
///   code) the digest of the trace so far (`TraceKey`); a schedule that reaches a digest
///   already explored, with a sleep set that contains the one it was explored with, is cut:
///   the same state with the same remaining choices. The trace digest only meets reorders,
///   which sleep sets already skip (it never cut anything); the machine state also meets
///   prefixes that are no reorder of each other (a dependent pair whose two orders end
///   alike, the conservative footprints' false dependences).
///
/// A sleep set with a preemption bound is not sound (a schedule cut as a reorder of another
/// may need more preemptions than the bound allows), so pruning runs without a bound.
///
/// With `Explorer.dpor` the walk is dynamic partial-order reduction (Flanagan and Godefroid,
/// POPL 2005) with sleep sets: a choice point branches only on the activities a race of the
/// schedules run so far asks for, not on every non-sleeping one. After each step the walk
/// looks back for the latest step of another activity that is dependent on it (footprints)
/// and does not happen before the activity's own earlier steps (vector clocks over the
/// dependence and program order): that pair is a race, and the choice point before the
/// earlier step gets the later step's activity to try (every runnable one if it was not
/// runnable there). A step after which another activity that was runnable is no longer (it
/// disabled it) gets that activity tried before it. Seen states are not cut then: a state
/// met again has had its branches chosen for the races of its first prefix only. Source-set
/// DPOR (Abdulla et al., as in Nidhugg/GenMC) would branch on still fewer; it is not here.
///
/// Stateless: each schedule re-runs the machine from the start to its choice point
/// (`Explorer.machine(at:)`), the place where a machine checkpoint will plug in.
extension Explorer {
    /// What the walk counts.
    public struct WalkStats: Sendable, Equatable {
        /// Schedules run to their end.
        public var schedules = 0
        /// Schedules cut: all runnable activities asleep, or a state already explored.
        public var cutBySleep = 0
        public var cutBySeen = 0
        /// Distinct trace digests at choice points and at the ends.
        public var states = 0
        /// Distinct machine states (`Run.stateDigest`) at choice points and at the ends; 0
        /// where the machine has no digest (C code).
        public var machineStates = 0
        /// Distinct end states (`Outcome.finalState`).
        public var finalStates = Set<UInt64>()
        /// Steps run, prefixes re-run included.
        public var steps = 0
        /// Every schedule of the (part of the) tree was run or cut.
        public var exhausted = false
        public var runs: Int { schedules + cutBySleep + cutBySeen }
    }

    /// One choice point on the stack.
    struct WalkNode {
        var names: [String]
        var sleep: [(String, Footprint)]
        var done: [(String, Footprint)] = []
        var current: Int
        var footprint = Footprint(read: 0, write: 0)
        /// Preemptions up to and including this node's choice.
        var preemptions: Int
        /// The activity that ran before this choice point.
        var before: String?
        /// DPOR: the candidates a race asked for (indices into `names`), the activity of the
        /// step taken here and the vector clock after it (per activity: 1 + the depth of its
        /// latest step that happens before, 0 for none).
        var backtrack: Set<Int> = []
        var actor = 0
        var clock: [Int] = []
    }

    /// A subtree to walk: the choices that lead to it and the sleep set at its root.
    public struct Subtree: Sendable {
        public var prefix: [Int]
        var sleep: [(String, Footprint)]
        var preemptions: Int
    }

    final class Walker {
        let explorer: Explorer
        let bound: Int?
        let prune: Bool
        var seen: [UInt64: Set<String>] = [:]
        var states = Set<UInt64>()
        /// Distinct machine-state digests (`Run.stateDigest`), where the machine has one.
        var machineStates = Set<UInt64>()
        var stats = WalkStats()

        /// DPOR (`Explorer.dpor`): branch only where a race asks for it.
        let dpor: Bool
        /// Activity names to clock indices.
        var actors: [String: Int] = [:]

        init(_ e: Explorer, bound: Int?, prune: Bool) {
            explorer = e
            self.bound = prune ? nil : bound
            self.prune = prune
            dpor = prune && e.dpor
            for (i, n) in e.activityNames.enumerated() { actors[n] = i }
        }

        func actor(_ name: String) -> Int {
            if let i = actors[name] { return i }
            let i = actors.count
            actors[name] = i
            return i
        }

        func dependent(_ a: Footprint, _ b: Footprint) -> Bool {
            !explorer.everyStepIndependent && !a.independent(of: b)
        }

        /// DPOR, after the step at `i` of `stack` ran: its race with the latest earlier step
        /// it is dependent on and not ordered after, and its vector clock.
        func noteStep(_ stack: inout [WalkNode], _ i: Int) {
            let name = stack[i].names[stack[i].current]
            let p = actor(name)
            stack[i].actor = p
            let f = stack[i].footprint
            var clock = (0..<i).last { stack[$0].actor == p }.map { stack[$0].clock } ?? []
            func knows(_ c: [Int], _ a: Int) -> Int { a < c.count ? c[a] : 0 }
            var j = i - 1
            while j >= 0 {
                let e = stack[j]
                if e.actor != p && dependent(e.footprint, f) && knows(clock, e.actor) < j + 1 {
                    if let q = e.names.firstIndex(of: name) {
                        stack[j].backtrack.insert(q)
                    } else {
                        stack[j].backtrack.formUnion(e.names.indices)
                    }
                    break
                }
                j -= 1
            }
            for j in 0..<i where dependent(stack[j].footprint, f) {
                let c = stack[j].clock
                if clock.count < c.count { clock += Array(repeating: 0, count: c.count - clock.count) }
                for a in c.indices where c[a] > clock[a] { clock[a] = c[a] }
            }
            if clock.count <= p { clock += Array(repeating: 0, count: p + 1 - clock.count) }
            clock[p] = i + 1
            stack[i].clock = clock
        }

        /// DPOR: activities runnable before the last step and no longer after it (`now`, nil
        /// at the schedule's end) were disabled by it: try them before it.
        func noteDisabled(_ stack: inout [WalkNode], now: [String]?) {
            guard let last = stack.indices.last else { return }
            let n = stack[last]
            for (k, q) in n.names.enumerated() where k != n.current && !(now ?? []).contains(q) {
                stack[last].backtrack.insert(k)
            }
        }

        func preempts(_ name: String, before: String?, names: [String]) -> Bool {
            guard let b = before else { return false }
            return name != b && names.contains(b)
        }

        /// The activities to try at a choice point, default first: the one that ran before
        /// if it can go on, then the others in list order; none asleep, none over the bound.
        func candidates(_ names: [String], sleep: [(String, Footprint)], before: String?, preemptions: Int) -> [Int] {
            var order = Array(names.indices)
            if let b = before, let i = names.firstIndex(of: b) { order.remove(at: i); order.insert(i, at: 0) }
            return order.filter { i in
                !sleep.contains { $0.0 == names[i] }
                    && (bound.map { preemptions + (preempts(names[i], before: before, names: names) ? 1 : 0) <= $0 } ?? true)
            }
        }

        func childSleep(_ n: WalkNode) -> [(String, Footprint)] {
            guard prune else { return [] }
            if explorer.everyStepIndependent { return n.sleep + n.done }
            return (n.sleep + n.done).filter { $0.1.independent(of: n.footprint) }
        }

        /// Walks `tree`, calling `visit` for each schedule run to its end, until `budget`
        /// schedules have ended (run or cut). Returns whether the subtree was exhausted.
        func walk(_ tree: Subtree, budget: inout Int, visit: (Outcome) throws -> Void) throws -> Bool {
            var stack: [WalkNode] = []
            while budget > 0 {
                // Re-run the machine to the deepest choice point, taking its current choice.
                let r = try Run(explorer, tracing: false)
                var ok = true
                for pick in tree.prefix {
                    guard r.enabledNames() != nil else { ok = false; break }
                    _ = r.take(pick)
                }
                if !ok { throw ReplayError(description: "the subtree's prefix does not fit the run") }
                for d in stack.indices {
                    guard r.enabledNames() != nil else { throw ReplayError(description: "the machine did not replay its own schedule") }
                    let f = r.take(stack[d].current)
                    if d == stack.count - 1 {
                        stack[d].footprint = f
                        if dpor { noteStep(&stack, d) }
                    }
                }
                // Extend with the default choice until the schedule ends or is cut.
                while true {
                    let sleep = stack.last.map(childSleep) ?? tree.sleep
                    let before = r.previous
                    let preemptions = stack.last?.preemptions ?? tree.preemptions
                    let enabled = r.enabledNames()
                    if dpor { noteDisabled(&stack, now: enabled) }
                    guard let names = enabled else {
                        states.insert(r.key.value)
                        if let d = r.stateDigest() { machineStates.insert(d) }
                        let o = r.finish()
                        stats.schedules += 1
                        stats.finalStates.insert(o.finalState)
                        try visit(o)
                        break
                    }
                    let key = r.key.value
                    states.insert(key)
                    let sleepNames = Set(sleep.map(\.0))
                    // The machine's state where it has a digest (the model): prefixes that are
                    // no reorder of each other but reach the same state meet there. Else the
                    // trace's digest.
                    var seenKey = key
                    if let d = r.stateDigest() {
                        machineStates.insert(d)
                        if explorer.stateHashing { seenKey = d ^ 0x5bd1_e995_0000_0001 }
                    }
                    if prune && !dpor {
                        if let was = seen[seenKey], was.isSubset(of: sleepNames) { stats.cutBySeen += 1; break }
                        seen[seenKey] = seen[seenKey].map { $0.intersection(sleepNames) } ?? sleepNames
                    }
                    let options = candidates(names, sleep: sleep, before: before, preemptions: preemptions)
                    guard let pick = options.first else { stats.cutBySleep += 1; break }
                    var node = WalkNode(names: names, sleep: sleep, current: pick,
                                        preemptions: preemptions + (preempts(names[pick], before: before, names: names) ? 1 : 0), before: before)
                    node.footprint = r.take(pick)
                    node.backtrack = [pick]
                    stack.append(node)
                    if dpor { noteStep(&stack, stack.count - 1) }
                }
                stats.steps += r.steps
                budget -= 1
                // Backtrack to the deepest choice point with an untried candidate.
                while var top = stack.popLast() {
                    top.done.append((top.names[top.current], top.footprint))
                    let base = stack.last?.preemptions ?? tree.preemptions
                    let sleepAndDone = top.sleep + top.done
                    let untried = candidates(top.names, sleep: sleepAndDone, before: top.before, preemptions: base)
                    if let next = dpor ? untried.first(where: top.backtrack.contains) : untried.first {
                        top.current = next
                        top.preemptions = base + (preempts(top.names[next], before: top.before, names: top.names) ? 1 : 0)
                        stack.append(top)
                        break
                    }
                }
                if stack.isEmpty { return true }
            }
            return false
        }

        /// The walk's figures, with the states it saw.
        func finish(exhausted: Bool) -> WalkStats {
            var s = stats
            s.states = states.count
            s.machineStates = machineStates.count
            s.exhausted = exhausted
            return s
        }
    }
}
