// SPDX-License-Identifier: Apache-2.0

/// What a driver can say about the resources it holds: the kernel shim's accounting for C
/// code (allocations with their call sites, debugfs entries, dentry references), the model's
/// own state for the Swift model. How a check tells whether its scenario left anything behind.
public protocol DriverResources: AnyObject {
    /// A mark: allocations made after it belong to what runs next.
    var allocationMark: UInt64 { get }
    /// Allocations made after `mark` and still live: how many, their bytes, and the first few
    /// with the call site that made them.
    func allocations(since mark: UInt64) -> (count: Int, bytes: Int, sites: String)
    /// Live debugfs entries (directories and files).
    var debugfsEntries: Int { get }
    /// Whether a debugfs file of this name exists (any directory).
    func debugfsFileExists(_ name: String) -> Bool
    /// The text of the debugfs file, nil when it does not exist (ENOENT).
    func debugfsRead(file name: String) -> String?
    /// debugfs_lookup references never put.
    var dentryReferences: Int { get }
}

/// A driver that can deliver a signal to the thread running one of its calls (the shim's
/// `hvb_coro_signal`; the model's `IoctlCall`).
public protocol DriverSignals: AnyObject {
    /// Delivers SIGKILL (`fatal`) or another signal to the thread of `call`; true when that
    /// woke it from its sleep.
    func deliverSignal(to call: DriverCall, fatal: Bool) -> Bool
    /// How the thread of `call` sleeps now: "uninterruptible", "killable", "interruptible",
    /// or nil when it is not asleep.
    func sleepKind(of call: DriverCall) -> String?
}

/// A driver that keeps its own capture of what it sent and received (the in-tree driver's
/// `capture_kib` parameter and debugfs `capture` file).
public protocol DriverCapture: AnyObject {
    /// Turns capture on before probe; false when the driver has no such parameter.
    func enableCapture(kib: UInt32) -> Bool
    /// The capture file's bytes (pcapng), nil when there is none.
    func captureBytes() -> [UInt8]?
}

/// One machine with a driver probed and one process holding /dev/azure_blob open: what a
/// conformance check drives. Works for any `GuestDriver`.
public final class DriverRig {
    public typealias Factory = (Machine) throws -> GuestDriver

    public let machine: Machine
    public let space: AddressSpace
    public let file: OpenFile
    /// Every packet the host received, in order.
    public private(set) var packets: [[UInt8]] = []
    public var driver: GuestDriver { machine.driver }
    public var log: ViolationLog { machine.log }
    /// The driver's accounting, when it keeps one.
    public var resources: DriverResources? { machine.driver as? DriverResources }
    /// Allocations made before this mark are the device's own (probe, open).
    public private(set) var baseline: UInt64 = 0
    /// Calls started through `start` that have not returned.
    public private(set) var inFlight: [TrackedCall] = []
    /// remove() ran through `remove()`; the file was closed through `close()`.
    public private(set) var removed = false
    public private(set) var closed = false
    /// Inside a conformance check: when the rig goes, the file is closed, the device removed and
    /// the module unloaded, and whatever the check's scenario left behind is a finding of it.
    let settles: Bool

    public init(factory: Factory?, version: KernelVersion, faults: FaultPlan = .none, seed: UInt64 = 1,
                beforeProbe: ((GuestDriver) -> Void)? = nil) throws {
        machine = Machine(behavior: .fixed, version: version, faults: faults, seed: seed)
        if let factory { machine.driver = try factory(machine) }
        beforeProbe?(machine.driver)
        try machine.driver.probe()
        space = AddressSpace(pid: 7, memory: machine.memory)
        file = try machine.driver.open(space)
        settles = Conformance.Scope.current != nil
        machine.host.onReceive = { [unowned self] in self.packets.append($0) }
        baseline = resources?.allocationMark ?? 0
    }

    /// A rig on `machine`, whose driver is probed already (a machine reset to a checkpoint
    /// taken right after probe): opens the file as `init(factory:)` does after its probe.
    public init(probed machine: Machine) throws {
        self.machine = machine
        space = AddressSpace(pid: 7, memory: machine.memory)
        file = try machine.driver.open(space)
        settles = Conformance.Scope.current != nil
        machine.host.onReceive = { [unowned self] in self.packets.append($0) }
        baseline = resources?.allocationMark ?? 0
    }

    deinit {
        if settles { settle() }
    }

    // MARK: checkpoint and reset

    /// The rig at a quiescent point: its machine, the process's page tables, the open file.
    public final class Checkpoint {
        fileprivate let machine: MachineCheckpoint
        fileprivate let space: AddressSpace.Checkpoint
        fileprivate let fileReleased: Bool
        fileprivate let packets: [[UInt8]]
        fileprivate let removed: Bool, closed: Bool
        fileprivate let baseline: UInt64
        fileprivate init(_ r: DriverRig, _ m: MachineCheckpoint) {
            machine = m
            space = r.space.checkpoint()
            fileReleased = r.file.released
            packets = r.packets
            removed = r.removed
            closed = r.closed
            baseline = r.baseline
        }
    }

    /// A checkpoint of the rig (see `Machine.checkpoint()`): no call in flight, the driver the
    /// Swift model. Take it right after `init` (probed, file open) to run input after input on
    /// one rig: `reset(to:)` before each.
    public func checkpoint() throws(CheckpointError) -> Checkpoint {
        if !inFlight.isEmpty { throw CheckpointError(description: "cannot checkpoint the rig: \(inFlight.count) call(s) in flight") }
        return Checkpoint(self, try machine.checkpoint())
    }

    /// Back to `c`, optionally with another seed for the host's random choices and another fault plan.
    public func reset(to c: Checkpoint, seed: UInt64? = nil, faults: FaultPlan? = nil) {
        machine.reset(to: c.machine, seed: seed, faults: faults)
        space.reset(to: c.space)
        file.released = c.fileReleased
        if c.packets.isEmpty { packets.removeAll(keepingCapacity: true) } else { packets = c.packets }
        inFlight.removeAll()
        removed = c.removed
        closed = c.closed
        baseline = c.baseline
    }

    /// Lays out request/response/data buffers and the argument; returns the argument address.
    public func argument(requestLen: Int = 32, requestOffset: Int = 0, requestKind: MappingKind = .populated,
                         responseLen: Int = 64, responseOffset: Int = 0, responseKind: MappingKind = .untouched,
                         dataLen: Int = 0, dataValid: Int = 0, dataOffset: Int = 0, dataKind: MappingKind = .untouched,
                         guid: GUID = GUID(0x1122_3344, 0x5566, 0x7788, [1, 2, 3, 4, 5, 6, 7, 8])) -> (UInt64, AzBlobRequestSync) {
        let text = BlobStore.request("LIST", "x")
        let rl = max(requestLen, 1)
        var padded = text + [UInt8](repeating: 0x20, count: max(0, rl - text.count))
        padded = Array(padded.prefix(rl))
        let req = space.map(length: rl, pageOffset: requestOffset, kind: requestKind, contents: padded)
        let resp = space.map(length: max(responseLen, 1), pageOffset: responseOffset, kind: responseKind)
        let data = dataLen > 0 ? space.map(length: dataLen, pageOffset: dataOffset, kind: dataKind) : 0
        let r = AzBlobRequestSync(guid: guid, timeout: 500, requestLen: UInt32(requestLen), responseLen: UInt32(responseLen),
                                  dataLen: UInt32(dataLen), dataValid: UInt32(dataValid), requestBuffer: req,
                                  responseBuffer: resp, dataBuffer: data)
        return (argument(r), r)
    }

    public func argument(_ r: AzBlobRequestSync) -> UInt64 {
        space.map(length: driver.abi.layout.size, kind: .populated, contents: driver.abi.layout.encode(r))
    }

    /// Runs one ioctl against the simulated host; nil when it can never return. When no other
    /// call of this rig is in flight, what the ioctl pinned and allocated must be released when
    /// it returns, on every path: a leak is a finding naming the errno it returned.
    public func ioctl(_ arg: UInt64, command: IoctlCommand? = nil) -> Errno? {
        let command = command ?? driver.abi.command
        let alone = inFlight.isEmpty
        let mark = resources?.allocationMark
        let pinned = machine.memory.pinnedFrames
        machine.recorder?.ioctlCall(space, command: command, argument: arg)
        let e = finish(driver.ioctl(file, command: command, argument: arg))
        if let e { machine.recorder?.ioctlReturn(space, argument: arg, result: e) }
        if let e, alone { balance(after: "an ioctl that returned \(e)", mark: mark, pinned: pinned) }
        return e
    }

    /// Reports what was pinned or allocated since (`mark`, `pinned`) and is still held.
    func balance(after what: String, mark: UInt64?, pinned: Int) {
        let left = machine.memory.pinnedFrames - pinned
        if left > 0 {
            log.report("pin.leak", "\(left) page(s) still pinned after \(what)")
            Conformance.Scope.current?.balance.append("\(left) page(s) still pinned after \(what)")
        }
        if let mark, let r = resources?.allocations(since: mark), r.count > 0 {
            let text = "\(r.count) allocation(s), \(r.bytes) bytes, still live after \(what): \(r.sites)"
            log.report("guest.memory-leak", text)
            Conformance.Scope.current?.balance.append(text)
        }
    }

    /// Starts a call the caller steps (with `runUntilIdle`, `finish` or `step`).
    public func start(_ arg: UInt64, command: IoctlCommand? = nil) -> TrackedCall {
        let c = TrackedCall(driver.ioctl(file, command: command ?? driver.abi.command, argument: arg))
        inFlight.append(c)
        return c
    }

    /// Steps `call` (letting the machine run while it waits) until it returns; nil when
    /// nothing left could wake it.
    public func finish(_ call: DriverCall) -> Errno? { machine.drive(call) }

    /// Steps a started call to its end (the machine running while it waits).
    public func finish(_ call: TrackedCall) -> Errno? {
        let e = finish(call.call)
        if e != nil { inFlight.removeAll { $0 === call } }
        return e
    }

    /// Starts the device's remove (no rescind: a driver unbind or module unload).
    public func startRemove() -> TrackedCall {
        removed = true
        machine.recorder?.remove()
        return TrackedCall(driver.remove())
    }

    /// Closes the file (its last close).
    public func close() {
        guard !closed else { return }
        closed = true
        machine.recorder?.release(pid: space.pid)
        driver.release(file)
    }

    /// One activity of a scenario, stepped by `runUntilIdle`: when each call returned, in
    /// virtual time.
    public final class Activity {
        public let name: String
        public let call: TrackedCall
        public internal(set) var returnedAt: UInt64?
        /// When the call last became ready to run (its condition true, woken), nil if never.
        public internal(set) var readySince: UInt64?
        init(_ name: String, _ call: TrackedCall) { self.name = name; self.call = call }
    }

    /// Runs the activities and the machine's events until every activity has returned or none
    /// can make progress: a due activity steps first, then the next event, then time passes to
    /// the earliest deadline a blocked activity waits for. Returns false when something was
    /// still waiting with nothing left to wake it.
    @discardableResult
    public func runUntilIdle(_ acts: [Activity], limit: Int = 1_000_000) -> Bool {
        var rounds = 0
        while acts.contains(where: { $0.returnedAt == nil }), rounds < limit {
            rounds += 1
            for a in acts where a.returnedAt == nil && a.call.call.isReady && a.readySince == nil {
                a.readySince = machine.now
            }
            if let a = acts.first(where: { $0.call.isDue(at: machine.now) }) {
                a.call.advance()
                a.readySince = nil
                if a.call.result != nil {
                    a.returnedAt = machine.now
                    inFlight.removeAll { $0 === a.call }
                }
                continue
            }
            if let t = machine.queue.nextTime {
                let deadline = acts.compactMap { $0.returnedAt == nil ? $0.call.deadline : nil }.min()
                if deadline.map({ t <= $0 }) ?? true {
                    machine.run(until: t, maxEvents: 1)
                    continue
                }
            }
            guard let d = acts.compactMap({ $0.returnedAt == nil ? $0.call.deadline : nil }).min() else { return false }
            machine.now = max(machine.now, d)
        }
        return !acts.contains { $0.returnedAt == nil }
    }

    /// The end of a check's rig: what its scenario left behind (pins, allocations since the
    /// device was probed and opened), then the last close, remove and module exit, whose own
    /// accounting (allocations, dentry references, debugfs entries) follows. Skipped while a
    /// call is in flight (the check ended early) or after a crash.
    func settle() {
        guard inFlight.isEmpty else { return }
        if let b = driver as? BridgedCrashState, b.hasCrashed { return }
        balance(after: "the check's requests returned", mark: resources.map { _ in baseline }, pinned: 0)
        close()
        if !removed {
            removed = true
            machine.recorder?.remove()
            _ = finish(driver.remove())
        }
        let refs = resources?.dentryReferences ?? 0
        driver.finish(removed: true)
        if let r = resources {
            let left = r.debugfsEntries
            if left > 0 {
                log.report("guest.debugfs-leak", "\(left) debugfs entr\(left == 1 ? "y" : "ies") still present after remove and module exit")
                Conformance.Scope.current?.teardown.append("\(left) debugfs entr\(left == 1 ? "y" : "ies") still present after module exit")
            }
            if refs > 0 { Conformance.Scope.current?.teardown.append("\(refs) debugfs dentry reference(s) never put") }
            let live = r.allocations(since: 0)
            if live.count > 0 { Conformance.Scope.current?.teardown.append("\(live.count) allocation(s) live after module exit: \(live.sites)") }
        }
    }

    /// The response written back into the argument (status, response_len).
    public func response(_ arg: UInt64) -> (status: UInt32, length: UInt32)? {
        space.readResponse(at: arg, layout: driver.abi.layout)
    }
}

/// A driver that can say its code crashed (the bridge): nothing it left can be accounted.
public protocol BridgedCrashState: AnyObject {
    var hasCrashed: Bool { get }
}

extension BlobVSC: DriverResources, DriverSignals {
    /// The model allocates one request context per request in flight; nothing else.
    /// Context cookies only grow: the newest pending one marks what exists now.
    public var allocationMark: UInt64 { pending.map(\.cookie).max() ?? 0 }
    public func allocations(since mark: UInt64) -> (count: Int, bytes: Int, sites: String) {
        let new = pending.filter { $0.cookie > mark }
        return (new.count, 0, new.isEmpty ? "" : "request context(s) of request id(s) \(new.map(\.requestId))")
    }
    /// The device's directory and its pending_requests file, from probe to remove.
    public var debugfsEntries: Int { miscRegistered ? 2 : 0 }
    public func debugfsFileExists(_ name: String) -> Bool { miscRegistered && name == "pending_requests" }
    public func debugfsRead(file name: String) -> String? { debugfsFileExists(name) ? debugfsPendingRequests : nil }
    public var dentryReferences: Int { 0 }

    /// The model waits as its behaviour says: killably in wait_for_completion_killable (the
    /// corrected driver) or uninterruptibly in wait_for_completion (v5).
    public func deliverSignal(to call: DriverCall, fatal: Bool) -> Bool {
        (call as? IoctlCall)?.signal(fatal: fatal) ?? false
    }
    public func sleepKind(of call: DriverCall) -> String? {
        guard let c = call as? IoctlCall, c.phase == .wait, !(c.context?.completed ?? false) else { return nil }
        return behavior.killableWait ? "killable" : "uninterruptible"
    }
}
