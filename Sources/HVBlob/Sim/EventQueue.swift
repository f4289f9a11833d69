// SPDX-License-Identifier: Apache-2.0

/// Discrete-event queue in virtual time: events run in (time, insertion order), so one seed
/// gives one order. No wall clock, no threads.
public struct EventQueue {
    struct Entry {
        let time: UInt64
        let seq: UInt64
        /// What the event does, for the explorer's state digest (0: unknown).
        let tag: UInt64
        let action: () -> Void
        @inline(__always) func before(_ o: Entry) -> Bool { time != o.time ? time < o.time : seq < o.seq }
    }

    private var heap: [Entry] = []
    private var seq: UInt64 = 0
    public private(set) var executed: UInt64 = 0

    public init() {}

    /// The queue's counters at a checkpoint (taken with no event queued).
    struct Checkpoint { let seq: UInt64, executed: UInt64 }
    func checkpoint() -> Checkpoint { Checkpoint(seq: seq, executed: executed) }
    /// Drops every queued event (keeping the storage) and puts the counters back.
    mutating func restore(_ c: Checkpoint) {
        heap.removeAll(keepingCapacity: true)
        seq = c.seq
        executed = c.executed
    }

    public var isEmpty: Bool { heap.isEmpty }
    public var count: Int { heap.count }
    public var nextTime: UInt64? { heap.first?.time }

    public mutating func schedule(at time: UInt64, _ action: @escaping () -> Void) {
        schedule(at: time, tag: 0, action)
    }

    /// The same, with `tag` saying what the action does (the same tag: the same effect on the
    /// same state), so that `digest` can stand for the queued actions.
    mutating func schedule(at time: UInt64, tag: UInt64, _ action: @escaping () -> Void) {
        heap.append(Entry(time: time, seq: seq, tag: tag, action: action))
        seq += 1
        var i = heap.count - 1
        while i > 0 {
            let parent = (i - 1) / 2
            if !heap[i].before(heap[parent]) { break }
            heap.swapAt(i, parent)
            i = parent
        }
    }

    /// Removes the earliest event and returns its time and action.
    public mutating func pop() -> (UInt64, () -> Void)? {
        guard !heap.isEmpty else { return nil }
        let top = heap[0]
        let last = heap.removeLast()
        if !heap.isEmpty {
            heap[0] = last
            var i = 0
            while true {
                let l = 2 * i + 1, r = l + 1
                var m = i
                if l < heap.count && heap[l].before(heap[m]) { m = l }
                if r < heap.count && heap[r].before(heap[m]) { m = r }
                if m == i { break }
                heap.swapAt(i, m)
                i = m
            }
        }
        executed += 1
        return (top.time, top.action)
    }
}

extension EventQueue {
    /// The queued events in the order they will run, each as its time and tag; false when one
    /// has no tag (its effect is unknown: no digest stands for this state).
    func digest(into h: inout Hasher64) -> Bool {
        var order = heap
        order.sort { $0.before($1) }
        h.add(order.count)
        for e in order {
            if e.tag == 0 { return false }
            h.add(e.time)
            h.add(e.tag)
        }
        return true
    }
}
