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
/// Source-set DPOR (Abdulla et al., as in Nidhugg/GenMC) would branch only on the
/// activities a race needs instead of every non-sleeping one; it is not here.
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

        init(_ e: Explorer, bound: Int?, prune: Bool) {
            explorer = e
            self.bound = prune ? nil : bound
            self.prune = prune
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
                    if d == stack.count - 1 { stack[d].footprint = f }
                }
                // Extend with the default choice until the schedule ends or is cut.
                while true {
                    let sleep = stack.last.map(childSleep) ?? tree.sleep
                    let before = r.previous
                    let preemptions = stack.last?.preemptions ?? tree.preemptions
                    guard let names = r.enabledNames() else {
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
                    if prune {
                        if let was = seen[seenKey], was.isSubset(of: sleepNames) { stats.cutBySeen += 1; break }
                        seen[seenKey] = seen[seenKey].map { $0.intersection(sleepNames) } ?? sleepNames
                    }
                    let options = candidates(names, sleep: sleep, before: before, preemptions: preemptions)
                    guard let pick = options.first else { stats.cutBySleep += 1; break }
                    var node = WalkNode(names: names, sleep: sleep, current: pick,
                                        preemptions: preemptions + (preempts(names[pick], before: before, names: names) ? 1 : 0), before: before)
                    node.footprint = r.take(pick)
                    stack.append(node)
                }
                stats.steps += r.steps
                budget -= 1
                // Backtrack to the deepest choice point with an untried candidate.
                while var top = stack.popLast() {
                    top.done.append((top.names[top.current], top.footprint))
                    let base = stack.last?.preemptions ?? tree.preemptions
                    let sleepAndDone = top.sleep + top.done
                    if let next = candidates(top.names, sleep: sleepAndDone, before: top.before, preemptions: base).first {
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
