// SPDX-License-Identifier: Apache-2.0

/// One simulated guest + host: memory, the channel, the VSC model and the VSP, wired through one
/// event queue in virtual time and one violation log. Tests use it directly; `Simulation` runs
/// clients on it.
public final class Machine {
    public let log: ViolationLog
    public let memory: GuestMemory
    public let channel: Channel
    /// The Swift model of the driver (always built; the driver under test unless replaced).
    public let vsc: BlobVSC
    /// The driver under test: the model, or a bridged C driver.
    public var driver: GuestDriver {
        didSet { recorder?.abi = driver.abi }
    }
    public private(set) var host: SimulatedVSP!
    public var queue = EventQueue()
    public var now: UInt64 {
        get { log.now }
        set { log.now = newValue }
    }
    public let version: KernelVersion
    /// Called after every guest callback run (the simulator wakes blocked callers).
    public var afterCallback: () -> Void = {}
    private var callbackScheduled = false
    fileprivate var callbackScheduledNow: Bool {
        get { callbackScheduled }
        set { callbackScheduled = newValue }
    }
    fileprivate var checkpointGeneration: UInt64 = 0
    /// Records ring packets, host writes, lifecycle steps and (through the harness) ioctls.
    public var recorder: CaptureRecorder? {
        didSet {
            channel.recorder = recorder
            memory.recorder = recorder
            recorder?.memory = memory
            recorder?.abi = driver.abi
        }
    }

    /// Starts recording this machine (a fresh recorder on its clock).
    @discardableResult
    public func startRecording() -> CaptureRecorder {
        let r = CaptureRecorder { [unowned self] in self.now }
        recorder = r
        return r
    }

    /// One device the host offers the guest: its own channel (ring, request ids) and its own
    /// VSP endpoint. Device 0 is `channel` and `host`; `offerDevice` adds the others.
    public struct Device {
        public let index: Int
        public let channel: Channel
        public let host: SimulatedVSP
    }
    private var extraDevices: [Device] = []
    private var extraCallbackScheduled: Set<Int> = []
    private let faults: FaultPlan
    private let seed: UInt64
    /// Every device offered, the first one first.
    public var devices: [Device] { [Device(index: 0, channel: channel, host: host)] + extraDevices }

    /// The host offers another device (a second VMBus channel of the same class): its own
    /// channel and VSP on this machine's memory, log and clock, with the same fault plan.
    public func offerDevice() -> Device {
        let index = extraDevices.count + 1
        let ch = Channel(version: version, log: log)
        let vsp = SimulatedVSP(channel: ch, memory: memory, log: log, faults: faults,
                               rng: SeededRandom(seed: seed).split("host\(index)")) { [unowned self] t, f in
            self.queue.schedule(at: max(t, self.now), f)
        }
        ch.signalHost = { [unowned vsp] in vsp.signalled() }
        ch.signalGuest = { [unowned self, unowned ch] in
            guard !self.extraCallbackScheduled.contains(index) else { return }
            self.extraCallbackScheduled.insert(index)
            self.queue.schedule(at: self.now) { [unowned self, unowned ch] in
                self.extraCallbackScheduled.remove(index)
                if ch.callback != nil {
                    ch.callback?()
                    self.afterCallback()
                }
            }
        }
        let d = Device(index: index, channel: ch, host: vsp)
        extraDevices.append(d)
        MachineWitness.current?.saw(device: d, of: self)
        return d
    }

    public init(behavior: DriverBehavior, version: KernelVersion, faults: FaultPlan, seed: UInt64,
                backend: BlobBackend = BlobStore()) {
        self.faults = faults
        self.seed = seed
        log = ViolationLog()
        let external = ExternalHostSession.current
        memory = GuestMemory(log: log, backing: external?.memoryForNextMachine())
        channel = Channel(version: version, log: log)
        vsc = BlobVSC(channel: channel, memory: memory, log: log, behavior: behavior)
        driver = vsc
        self.version = version
        host = SimulatedVSP(channel: channel, memory: memory, log: log, faults: faults,
                            rng: SeededRandom(seed: seed).split("host"), backend: backend) { [unowned self] t, f in
            // The host says what the event does (`SimulatedVSP.eventTag`), for the explorer.
            let tag = self.host?.eventTag ?? 0
            self.host?.eventTag = 0
            self.queue.schedule(at: max(t, self.now), tag: tag, f)
        }
        channel.signalHost = { [unowned self] in self.host.signalled() }
        channel.signalGuest = { [unowned self] in self.scheduleCallback() }
        vsc.onCompletionDelivered = { [unowned self] offset, ctx in self.checkDelivery(offset, ctx) }
        CaptureSession.current?.attach(self)
        MachineWitness.current?.saw(self)
        external?.attach(self, seed: seed)
    }

    /// Set by an out-of-process host's link: called when no event is left, it waits for the
    /// host to send something (a completion's interrupt) and returns true when it scheduled
    /// work. nil in process.
    public var waitForHost: (() -> Bool)?

    /// The guest's interrupt: run the channel callback (if one is installed) at the current time.
    public func scheduleCallback() {
        if callbackScheduled { return }
        callbackScheduled = true
        queue.schedule(at: now, tag: Machine.callbackTag, callbackEvent)
    }

    /// The interrupt's event, made once (a closure made per interrupt is a heap allocation).
    private lazy var callbackEvent: () -> Void = { [unowned self] in
        self.callbackScheduled = false
        if self.channel.callback != nil {
            self.channel.callback?()
            self.afterCallback()
        }
    }

    /// The model can say which packet completed which request: one that was not a completion
    /// at all is a guest defect. (Completions meant for another request are caught for every
    /// driver where user space sees them: `noteReturned`.)
    func checkDelivery(_ offset: UInt32, _ ctx: RequestContext) {
        guard let intent = host.intents[offset], !intent.isCompletion else { return }
        log.report("guest.completion-from-non-completion-packet",
                   "request id \(intent.requestId) (pid \(ctx.pid)) completed by a non-completion packet (in-band data)")
    }

    /// The ioctl for a request that was sent returned to user space; the host compares this
    /// with when it finished the request (see `SimulatedVSP.noteReturned`).
    public func noteReturned(transaction: GUID, result: Errno) {
        host.noteReturned(transaction, result: result)
    }

    /// Steps `call` to its end, letting the machine's events run while it waits (and time pass
    /// to a deadline it waits for); nil when nothing left could wake it.
    public func drive(_ call: DriverCall) -> Errno? {
        var spins = 0
        while true {
            switch call.step() {
            case .returned(let e): return e
            case .running:
                spins += 1
                if spins > 1_000_000 { return nil }
            case .blocked(let until):
                if let t = queue.nextTime, until.map({ t <= $0 }) ?? true {
                    run(until: t)
                } else if let until {
                    now = max(now, until)
                } else {
                    return nil
                }
            }
        }
    }

    /// Runs events until the queue is empty, time passes `until`, or `maxEvents` have run.
    /// Returns false when a limit stopped it.
    @discardableResult
    public func run(until: UInt64 = .max, maxEvents: UInt64 = .max) -> Bool {
        var n: UInt64 = 0
        while true {
            if queue.isEmpty, let wait = waitForHost, wait() { continue }
            guard let t = queue.nextTime, t <= until else { break }
            if n >= maxEvents { return false }
            guard let (time, action) = queue.pop() else { break }
            now = time
            action()
            n += 1
        }
        return queue.isEmpty || (queue.nextTime ?? 0) > until
    }
}

// MARK: checkpoint and reset

/// A machine's state at a quiescent point (`Machine.checkpoint()`): what `Machine.reset(to:)`
/// brings it back to. Opaque; valid for the machine that made it, and only while it is that
/// machine's newest checkpoint (taking a new one retires the old).
public final class MachineCheckpoint {
    fileprivate let machine: ObjectIdentifier
    fileprivate let generation: UInt64
    fileprivate let log: ViolationLog.Checkpoint
    fileprivate let memory: GuestMemory.Checkpoint
    fileprivate let channel: Channel.Checkpoint
    fileprivate let vsc: BlobVSC.Checkpoint
    fileprivate let host: SimulatedVSP.Checkpoint
    fileprivate let queue: EventQueue.Checkpoint
    fileprivate let afterCallback: () -> Void
    fileprivate let recorder: CaptureRecorder?
    fileprivate let waitForHost: (() -> Bool)?
    fileprivate let callbackScheduled: Bool
    /// The driver under test and, when it is not the model, its own kept state.
    fileprivate let driver: GuestDriver
    fileprivate let driverState: AnyObject?

    fileprivate init(_ m: Machine, generation: UInt64, callbackScheduled: Bool, driverState: AnyObject?) {
        machine = ObjectIdentifier(m)
        self.generation = generation
        log = m.log.checkpoint()
        memory = m.memory.checkpoint()
        channel = m.channel.checkpoint()
        vsc = m.vsc.checkpoint()
        host = m.host.checkpoint()
        queue = m.queue.checkpoint()
        afterCallback = m.afterCallback
        recorder = m.recorder
        waitForHost = m.waitForHost
        self.callbackScheduled = callbackScheduled
        driver = m.driver
        self.driverState = driverState
    }
}

/// A driver under test other than the model whose own state a machine checkpoint can keep (the
/// bridge's persistent mode for C drivers): `Machine.checkpoint()` asks it for its state,
/// `Machine.reset(to:)` gives that back, so one machine with one loaded driver serves input
/// after input.
public protocol CheckpointableDriver: GuestDriver {
    /// Why the driver cannot be checkpointed now, nil when it can.
    var driverNotQuiescent: String? { get }
    /// Keeps the driver's state: an opaque value only `resetDriver(to:)` reads. Taking a new one
    /// may retire the previous one (as machine checkpoints do).
    func checkpointDriver() throws(CheckpointError) -> AnyObject
    /// Back to `state`, exactly.
    func resetDriver(to state: AnyObject)
}

/// Why a machine cannot be checkpointed now.
public struct CheckpointError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(description: String) { self.description = description }
}

extension Machine {
    /// Takes a checkpoint of this machine: `reset(to:)` brings it back to exactly this state,
    /// in time proportional to what ran since (the guest pages and ring chunks written, the
    /// frames allocated), so one machine serves input after input — a fuzz input, a replay, an
    /// explored schedule — where each used to build a fresh one.
    ///
    /// Only at a quiescent point: no event queued, no request context of the model, nothing in
    /// flight at the host, the driver the Swift model or a `CheckpointableDriver` that is
    /// quiescent itself (a bridged C driver: no thread live, no file open) and memory private to the process (no out-of-process host). The usual points
    /// are right after `init` or after `driver.probe()` (and opening files: what they map lives
    /// in guest memory; the `AddressSpace` objects keep their own state, see
    /// `AddressSpace.checkpoint()`).
    ///
    ///     let m = Machine(behavior: .fixed, version: .default, faults: plan, seed: 1)
    ///     try m.driver.probe()
    ///     let start = try m.checkpoint()
    ///     for input in inputs {
    ///         m.reset(to: start, seed: input.seed)   // the state right after probe, reseeded
    ///         ...run the input...
    ///     }
    ///
    /// Taking a checkpoint retires the previous one (changes are tracked from the newest).
    public func checkpoint() throws(CheckpointError) -> MachineCheckpoint {
        if let why = notQuiescent { throw CheckpointError(description: "cannot checkpoint the machine now: \(why)") }
        let driverState = try (driver as? CheckpointableDriver)?.checkpointDriver()
        checkpointGeneration &+= 1
        return MachineCheckpoint(self, generation: checkpointGeneration, callbackScheduled: callbackScheduledNow,
                                 driverState: driverState)
    }

    /// What a `reset(to:)` now would restore: guest frames changed or made since the
    /// checkpoint, and ring bytes (header pages and data chunks) written since.
    public var resetCost: (frames: Int, ringBytes: Int) {
        (memory.framesTouchedSinceCheckpoint, (channel.outbound?.bytesToRestore ?? 0) + (channel.inbound?.bytesToRestore ?? 0))
    }

    /// Why `checkpoint()` would refuse now, nil when it would not.
    public var notQuiescent: String? {
        if driver !== vsc {
            guard let d = driver as? CheckpointableDriver else { return "the driver under test is not the Swift model (\(driver.name))" }
            if let why = d.driverNotQuiescent { return why }
        }
        if memory.backing != nil { return "guest memory is shared with an out-of-process host" }
        if !queue.isEmpty { return "\(queue.count) event(s) queued" }
        return vsc.notQuiescent ?? host.notQuiescent
    }

    /// Brings the machine back to `checkpoint` (its newest). `seed` replaces the seed the host's
    /// random choices are drawn from (as `init(seed:)` would), `faults` the fault plan: a reset
    /// machine then runs exactly as a fresh machine built with that seed and plan and brought
    /// to the checkpoint's point the same way (`ResetTests` checks this trace for trace).
    public func reset(to checkpoint: MachineCheckpoint, seed: UInt64? = nil, faults: FaultPlan? = nil) {
        precondition(checkpoint.machine == ObjectIdentifier(self) && checkpoint.generation == checkpointGeneration,
                     "internal: reset to a checkpoint of another machine, or one a newer checkpoint retired")
        log.restore(checkpoint.log)
        memory.restore(checkpoint.memory)
        channel.restore(checkpoint.channel)
        vsc.restore(checkpoint.vsc)
        host.restore(checkpoint.host)
        queue.restore(checkpoint.queue)
        if driver !== checkpoint.driver { driver = checkpoint.driver }
        if let state = checkpoint.driverState, let d = checkpoint.driver as? CheckpointableDriver { d.resetDriver(to: state) }
        afterCallback = checkpoint.afterCallback
        recorder = checkpoint.recorder
        waitForHost = checkpoint.waitForHost
        callbackScheduledNow = checkpoint.callbackScheduled
        if let seed { host.rng = SeededRandom(seed: seed).split("host") }
        if let faults { host.faults = faults }
    }
}

/// While it is current (`MachineWitness.$current`), keeps the violation log and the host of
/// every machine created: how a conformance check knows what happened in all the machines it
/// ran — every finding, how many requests reached a host, which faults were injected. It
/// holds no machine (a bridged driver must be released when its machine goes).
public final class MachineWitness: @unchecked Sendable {
    @TaskLocal public static var current: MachineWitness?
    public private(set) var logs: [ViolationLog] = []
    public private(set) var hosts: [SimulatedVSP] = []
    public init() {}

    /// Per machine, the requests each of its devices' hosts executed (device 0 first).
    private var deviceHosts: [[SimulatedVSP]] = []

    func saw(_ m: Machine) {
        logs.append(m.log)
        hosts.append(m.host)
        deviceHosts.append([m.host])
    }

    func saw(device: Machine.Device, of m: Machine) {
        hosts.append(device.host)
        if let row = deviceHosts.firstIndex(where: { $0.first === m.host }) { deviceHosts[row].append(device.host) }
    }

    /// The most devices of one machine whose hosts each executed at least `n` requests.
    public func devicesServed(atLeast n: Int) -> Int {
        deviceHosts.map { $0.filter { $0.stats.executed >= n }.count }.max() ?? 0
    }

    /// Every finding of every machine, by rule.
    public var counts: [Rule: Int] {
        logs.reduce(into: [:]) { acc, log in for (r, n) in log.counts { acc[r, default: 0] += n } }
    }

    /// The first recorded finding of each rule.
    public var firstViolations: [Rule: Violation] {
        var out: [Rule: Violation] = [:]
        for log in logs { for v in log.violations where out[v.rule] == nil { out[v.rule] = v } }
        return out
    }

    /// Packets the hosts received, executed and completed, summed over every machine.
    public var received: Int { hosts.reduce(0) { $0 + $1.stats.received } }
    public var executed: Int { hosts.reduce(0) { $0 + $1.stats.executed } }
    public var completions: Int { hosts.reduce(0) { $0 + $1.stats.completionsSent } }
    public func injected(_ mode: String) -> Int { hosts.reduce(0) { $0 + $1.stats.injected[mode, default: 0] } }
    /// The largest number of requests in flight at a rescind, nil when no host rescinded.
    public var inFlightAtRescind: Int? { hosts.compactMap(\.stats.inFlightAtRescind).max() }
}

extension Machine {
    /// The tag of the guest's interrupt (the channel callback) in the event queue.
    static let callbackTag: UInt64 = 1

    /// Everything of this machine a run's future depends on (the explorer's state digest):
    /// the clock, the queued events, guest memory, the channel (state, request-id table, both
    /// rings), the model's driver state and the host's. False when part of it has no digest
    /// (a bridged C driver, an event of unknown effect, a second device, shared memory).
    func stateDigest(into h: inout Hasher64) -> Bool {
        guard driver === vsc, extraDevices.isEmpty, recorder == nil, waitForHost == nil else { return false }
        h.add(now)
        h.add(callbackScheduled)
        return queue.digest(into: &h) && memory.stateDigest(into: &h) && channel.stateDigest(into: &h)
            && vsc.stateDigest(into: &h) && host.stateDigest(into: &h)
    }
}
