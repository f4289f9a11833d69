// SPDX-License-Identifier: Apache-2.0
import Synchronization

/// Rigs of the Swift model kept for reuse: a fuzz target (or anything that runs one short
/// scenario per input) takes a rig probed with one file open, reset to the checkpoint taken
/// right after that, instead of building a machine, probing and opening for every input.
/// Rigs are taken and given back under a lock, so concurrent callers (parallel tests) each
/// get their own.
///
/// Where a run must be seen by someone watching machines being built (a conformance check's
/// witness and scope, a capture session, an out-of-process host), `withRig` builds a fresh rig
/// as before: a reused machine would not be seen.
public final class RigPool: @unchecked Sendable {
    public static let shared = RigPool()

    private struct Key: Hashable, Sendable {
        let version: KernelVersion
        let faults: String
    }
    private final class Entry: @unchecked Sendable {
        let rig: DriverRig
        let start: DriverRig.Checkpoint
        init(_ rig: DriverRig, _ start: DriverRig.Checkpoint) { self.rig = rig; self.start = start }
    }
    private let free = Mutex<[Key: [Entry]]>([:])
    /// Rigs built and resets done (the bench and tests read them).
    private let counters = Mutex<(built: Int, reset: Int)>((0, 0))
    public var built: Int { counters.withLock { $0.built } }
    public var resets: Int { counters.withLock { $0.reset } }

    public init() {}

    /// Whether a fresh rig is needed because something watches machines being made.
    public static var watched: Bool {
        MachineWitness.current != nil || CaptureSession.current != nil || ExternalHostSession.current != nil
            || Conformance.Scope.current != nil
    }

    private final class MachineEntry: @unchecked Sendable {
        let machine: Machine
        let start: MachineCheckpoint
        init(_ m: Machine, _ c: MachineCheckpoint) { machine = m; start = c }
    }
    private struct MachineKey: Hashable, Sendable {
        let version: KernelVersion
        let behavior: DriverBehavior
    }
    private let freeMachines = Mutex<[MachineKey: [MachineEntry]]>([:])

    /// Runs `body` on a machine of the model as `Machine(behavior:version:faults:seed:)` makes
    /// it (not probed; no faults, seed 1): a reused one reset to that point, or a new one.
    public func withMachine<T>(behavior: DriverBehavior = .fixed, version: KernelVersion, _ body: (Machine) -> T) -> T {
        if RigPool.watched { return body(Machine(behavior: behavior, version: version, faults: .none, seed: 1)) }
        let key = MachineKey(version: version, behavior: behavior)
        let entry: MachineEntry
        if let e = freeMachines.withLock({ $0[key]?.popLast() }) {
            e.machine.reset(to: e.start)
            counters.withLock { $0.reset += 1 }
            entry = e
        } else {
            let m = Machine(behavior: behavior, version: version, faults: .none, seed: 1)
            guard let start = try? m.checkpoint() else { return body(m) }
            counters.withLock { $0.built += 1 }
            entry = MachineEntry(m, start)
        }
        let result = body(entry.machine)
        freeMachines.withLock { pool in
            if pool[key, default: []].count < 8 { pool[key, default: []].append(entry) }
        }
        return result
    }

    /// Runs `body` on a rig of the model for `version` and `faults` (seed 1), probed with one
    /// file open: a reused one reset to that point, or a new one. nil when the rig could not be
    /// set up (probe or open failed).
    public func withRig<T>(version: KernelVersion, faults: FaultPlan = .none, _ body: (DriverRig) -> T) -> T? {
        if RigPool.watched {
            guard let rig = try? DriverRig(factory: nil, version: version, faults: faults) else { return nil }
            return body(rig)
        }
        let key = Key(version: version, faults: faults.description)
        let entry: Entry
        if let e = free.withLock({ $0[key]?.popLast() }) {
            e.rig.reset(to: e.start)
            counters.withLock { $0.reset += 1 }
            entry = e
        } else {
            guard let rig = try? DriverRig(factory: nil, version: version, faults: faults),
                  let start = try? rig.checkpoint() else { return nil }
            counters.withLock { $0.built += 1 }
            entry = Entry(rig, start)
        }
        let result = body(entry.rig)
        // A body that left a call in flight is fine: the reset drops it with everything else.
        free.withLock { pool in
            if pool[key, default: []].count < 8 { pool[key, default: []].append(entry) }
        }
        return result
    }
}
