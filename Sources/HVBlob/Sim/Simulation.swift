// SPDX-License-Identifier: Apache-2.0

/// A whole run: N user processes, each issuing M requests through /dev/azure_blob against the
/// simulated host, under one seed and one fault plan; then the device is removed (by the
/// fault plan's rescind, or at the end as a module unload) and the leftovers are checked.
/// Which backend answers the clients' requests: the Blob store (simulate's line protocol:
/// PUT/GET/LIST) or the Blob service (the fast-path client's JSON: write/open/read/getProperties).
public enum SimulationBackend: String, Sendable, CaseIterable {
    case store, blob
}

public struct SimulationConfig: Sendable, CustomStringConvertible {
    public var seed: UInt64 = 0x5EED
    public var clients = 8
    public var requestsPerClient = 64
    /// Data buffer sizes, drawn per request.
    public var sizes: [Int] = [4096, 65536, 1 << 20]
    public var faults = FaultPlan()
    public var behavior = DriverBehavior.fixed
    public var version = KernelVersion.default
    /// Keep every trace line (the digest is always computed).
    public var keepTrace = false
    /// The C driver run through the bridge instead of the model (for the reproduce line).
    public var cDriver: String? = nil
    /// The host rejects every packet that breaks a rule instead of executing what it can
    /// make sense of (see `SimulatedVSP.strict`).
    public var strictHost = false
    /// Upper bound on events, so a broken configuration cannot spin forever.
    public var maxEvents: UInt64 = 50_000_000
    /// The host's backend; with `.blob` the clients speak the Blob service's JSON.
    public var backend = SimulationBackend.store
    /// `.blob`: the blobs the service starts with (nil: none; each client first reads one of
    /// them back, every byte checked); `blobsFrom` names where they came from (--blobs).
    public var blobs: [String: [UInt8]]? = nil
    public var blobsFrom: String? = nil

    public init() {}

    public var description: String {
        "seed=\(seed) faults=\(faults) driver=\(cDriver.map { "c:\($0)" } ?? "\(behavior)") kernel=\(version) clients=\(clients) requests=\(requestsPerClient) sizes=\(sizes.map(String.init).joined(separator: ","))\(strictHost ? " host=strict" : "")\(backend == .store ? "" : " backend=\(backend)")"
    }
}

public struct SimulationReport: Sendable {
    public var config: SimulationConfig
    public var requestsIssued = 0
    public var requestsReturned = 0
    public var results: [Errno: Int] = [:]
    /// Requests that returned 0 with a nonzero VSP status.
    public var hostErrorStatus = 0
    public var retriesAfterEAGAIN = 0
    public var dataBytesUp = 0
    public var dataBytesDown = 0
    public var blobsVerified = 0
    public var violations: [Violation] = []
    public var counts: [Rule: Int] = [:]
    public var host = SimulatedVSP.Stats()
    public var virtualTime: UInt64 = 0
    public var events: UInt64 = 0
    public var traceDigest: UInt64 = 0
    public var trace: [String] = []
    /// `--backend blob`: the Blob service's answers by HTTP status.
    public var blobStatuses: [Int: Int] = [:]
    public var removeFinished = false
    /// Why the orderly remove (module unload) never started, when it did not.
    public var removeNotStartedBecause: String? = nil

    public var rules: Set<Rule> { Set(counts.keys) }
    public var clean: Bool { counts.isEmpty }
    /// 0 clean, 1 findings or an inconclusive run.
    public var exitCode: Int32 { clean && inconclusive.isEmpty ? 0 : 1 }

    /// Why this run proves nothing about what it was asked to exercise: no request reached the
    /// host, a fault of the plan was never injected, the rescind never came. Empty when the
    /// run did what its configuration promised.
    public var inconclusive: [String] {
        var why: [String] = []
        if requestsIssued > 0 && host.received == 0 {
            let errnos = results.sorted { $0.key < $1.key }.map { "\($0.key) x\($0.value)" }.joined(separator: ", ")
            why.append("no request reached the host (the ioctls returned: \(errnos.isEmpty ? "nothing" : errnos))")
        }
        for (name, kp) in FaultPlan.probabilities where config.faults[keyPath: kp] > 0 && host.injected[name, default: 0] == 0 {
            why.append("the fault \(name) was never injected (\(host.received) request(s) reached the host)")
        }
        if let at = config.faults.rescindAt, host.inFlightAtRescind == nil {
            why.append("the rescind planned at t=\(at) never happened (the run ended at t=\(virtualTime))")
        }
        return why
    }

    public func count(_ c: FindingClass) -> Int {
        counts.filter { $0.key.findingClass == c }.values.reduce(0, +)
    }

    public func render() -> String {
        var s = "\(config)\n"
        s += "requests: \(requestsIssued) issued, \(requestsReturned) returned, \(retriesAfterEAGAIN) retried after EAGAIN\n"
        s += "results: " + results.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
            + (hostErrorStatus > 0 ? " (\(hostErrorStatus) of the 0s carried a host error status)" : "") + "\n"
        s += "data: \(dataBytesUp) bytes up, \(dataBytesDown) bytes down; \(blobsVerified) reads verified against the store model\n"
        if config.backend == .blob {
            s += "blob service: " + (blobStatuses.isEmpty ? "no answer" : blobStatuses.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")) + "\n"
        }
        s += "host: \(host.received) packets received, \(host.rejected) rejected, \(host.executed) executed, "
        s += "\(host.completionsSent) completions, \(host.extraPackets) extra packets, \(host.dropped) dropped, "
        s += "\(host.neverCompleted) never completed, \(host.abandonedAtClose) abandoned at close, \(host.stalls) stalls\n"
        if let why = removeNotStartedBecause {
            s += "lifecycle: remove not started: \(why)\n"
        } else {
            s += "lifecycle: remove \(removeFinished ? "finished" : "did NOT finish")\n"
        }
        s += "time: \(virtualTime) ticks, \(events) events, trace digest \(String(format16(traceDigest)))\n"
        if clean && !inconclusive.isEmpty {
            s += "verdict: inconclusive (0 findings, but the run did not exercise what it was asked to):\n"
            for why in inconclusive { s += "  \(why)\n" }
            s += "reproduce: \(reproduce)\n"
        } else if clean {
            s += "verdict: clean (0 findings)\n"
        } else {
            s += "verdict: \(counts.values.reduce(0, +)) finding(s): "
            s += FindingClass.allCases.compactMap { c in
                let n = count(c)
                return n > 0 ? "\(c.rawValue) \(n)" : nil
            }.joined(separator: ", ") + "\n"
            for (rule, n) in counts.sorted(by: { $0.key < $1.key }) {
                s += "  \(rule) [\(rule.findingClass.rawValue)] x\(n)\n"
                for v in violations where v.rule == rule {
                    s += "    t=\(v.time) \(v.detail)\n"
                }
            }
            if !inconclusive.isEmpty {
                s += "not exercised:\n"
                for why in inconclusive { s += "  \(why)\n" }
            }
            s += "reproduce: \(reproduce)\n"
        }
        return s
    }

    var reproduce: String {
        "hvblob simulate --seed \(config.seed) --clients \(config.clients) --requests \(config.requestsPerClient) "
            + "--sizes \(config.sizes.map(String.init).joined(separator: ",")) --faults '\(config.faults)' \(config.cDriver.map { "--c-driver \($0)" } ?? "--driver \(config.behavior)") --kernel-version \(config.version)\(config.strictHost ? " --strict-host" : "")"
            + (config.backend == .store ? "" : " --backend \(config.backend)\(config.blobsFrom.map { " --blobs \($0)" } ?? "")")
    }
}

func format16(_ v: UInt64) -> String {
    let h = String(v, radix: 16)
    return String(repeating: "0", count: max(0, 16 - h.count)) + h
}

public final class Simulation {
    public let config: SimulationConfig
    public let machine: Machine
    /// `.blob`: the service the machine's host runs (its state: blobs, answers).
    public let service: BlobService?
    var rng: SeededRandom
    var clients: [SimClient] = []
    var report: SimulationReport
    var remove: DriverCall?
    var removeDone = false
    var removeScheduled = false
    var digest: UInt64 = 0xcbf2_9ce4_8422_2325
    public var progress: ((Int, Int) -> Void)? = nil
    private var lastProgress = 0

    /// `driver` replaces the Swift model with another implementation (a bridged C driver)
    /// built on the machine.
    public init(_ config: SimulationConfig, driver: ((Machine) -> GuestDriver)? = nil) {
        self.config = config
        switch config.backend {
        case .store:
            service = nil
            machine = Machine(behavior: config.behavior, version: config.version, faults: config.faults, seed: config.seed)
        case .blob:
            let svc = BlobService(blobs: config.blobs ?? [:], seed: config.seed)
            service = svc
            machine = Machine(behavior: config.behavior, version: config.version, faults: config.faults, seed: config.seed, backend: svc)
        }
        machine.host.strict = config.strictHost
        if let driver { machine.driver = driver(machine) }
        rng = SeededRandom(seed: config.seed).split("clients")
        report = SimulationReport(config: config)
    }

    /// A run on `machine`, reset to `checkpoint` (taken on a fresh machine of the same driver
    /// behavior and kernel version, before probe) with the config's seed and fault plan: the same
    /// run, byte for byte, as `init(config)` builds (`ResetTests`), without building a machine.
    public init(_ config: SimulationConfig, reusing machine: Machine, at checkpoint: MachineCheckpoint) {
        precondition(machine.version == config.version && machine.vsc.behavior == config.behavior && config.backend == .store,
                     "internal: a reused machine must match the config's driver behavior and kernel version (and has the store backend)")
        service = nil
        machine.reset(to: checkpoint, seed: config.seed, faults: config.faults)
        self.config = config
        self.machine = machine
        machine.host.strict = config.strictHost
        rng = SeededRandom(seed: config.seed).split("clients")
        report = SimulationReport(config: config)
    }

    func trace(_ line: @autoclosure () -> String) {
        let l = "t=\(machine.now) " + line()
        digest = FNV1a.hash(l.utf8, into: digest)
        digest = FNV1a.hash(CollectionOfOne(10), into: digest)
        if config.keepTrace { report.trace.append(l) }
    }

    public func run() -> SimulationReport {
        let m = machine
        do { try m.driver.probe() } catch {
            m.log.report("guest.probe-failed", "probe returned \(error)")
        }
        trace("probe driver=\(m.driver.name) kernel=\(config.version)")
        m.afterCallback = { [unowned self] in self.wakeBlocked() }
        for i in 0..<config.clients {
            let c = SimClient(index: i, sim: self, rng: rng.split("client\(i)"))
            clients.append(c)
            m.queue.schedule(at: UInt64(rng.int(in: 0...3))) { [unowned c] in c.start() }
        }
        if let t = config.faults.rescindAt {
            m.queue.schedule(at: t) { [unowned self] in
                self.trace("host rescinds the channel")
                self.machine.host.noteRescind()
                self.machine.channel.rescind()
                self.startRemove()
            }
        }
        let finished = m.run(maxEvents: config.maxEvents)
        if !finished { m.log.report("liveness.event-budget", "stopped after \(config.maxEvents) events at t=\(m.now)") }
        finish()
        return report
    }

    func startRemove() {
        if removeScheduled { return }
        removeScheduled = true
        machine.recorder?.remove()
        let work = machine.driver.remove()
        remove = work
        trace("remove starts")
        stepRemove()
    }

    func stepRemove() {
        guard let work = remove, !removeDone else { return }
        switch work.runUntilBlocked() {
        case .returned:
            trace("remove finished")
            removeDone = true
            report.removeFinished = true
            // Closing the channel may have failed requests: wake their callers.
            wakeBlocked()
        case .blocked(let until):
            if let until { machine.queue.schedule(at: until) { [unowned self] in self.stepRemove() } }
        case .running:
            break
        }
    }

    /// A completion arrived or the channel closed: callers whose request is done run again.
    func wakeBlocked() {
        for c in clients where c.isBlocked && c.call?.isReady == true {
            c.scheduleStep(after: 0)
        }
        if let r = remove, !removeDone, r.isReady {
            machine.queue.schedule(at: machine.now) { [unowned self] in self.stepRemove() }
        }
    }

    func clientFinished() {
        // Dequeueing may have drained the pending list remove waits for.
        if remove != nil && !removeDone { machine.queue.schedule(at: machine.now) { [unowned self] in self.stepRemove() } }
        if clients.allSatisfy(\.done) && !removeScheduled {
            // Every process closed its file: unload the driver (orderly remove).
            machine.queue.schedule(at: machine.now + 1) { [unowned self] in self.startRemove() }
        }
    }

    func requestReturned(_ total: Int) {
        guard let p = progress else { return }
        let all = config.clients * config.requestsPerClient
        if total - lastProgress >= max(1, all / 10) || total == all {
            lastProgress = total
            p(total, all)
        }
    }

    func finish() {
        let m = machine
        var hung = 0
        for c in clients where !c.done {
            hung += 1
            if let call = c.call {
                m.log.report("liveness.ioctl-hang",
                             "pid \(c.space.pid) blocked in the ioctl: \(call.waitDescription); nothing left can wake it")
            } else {
                m.log.report("liveness.ioctl-hang", "pid \(c.space.pid) never finished")
            }
        }
        if let r = remove, !removeDone {
            m.log.report("liveness.remove-hang", r.waitDescription)
        } else if remove == nil && hung == 0 {
            m.log.report("liveness.remove-hang", "remove never ran")
        }
        report.removeNotStartedBecause = remove == nil && hung > 0
            ? "\(hung) process(es) still blocked in the ioctl hold the device open" : nil
        if hung == 0 && report.removeFinished {
            m.memory.reportLeakedPins()
        }
        m.driver.finish(removed: hung == 0 && report.removeFinished)
        report.violations = m.log.violations
        report.counts = m.log.counts
        report.host = m.host.stats
        report.virtualTime = m.now
        report.events = m.queue.executed
        for v in m.log.violations { trace("finding \(v.rule) \(v.detail)") }
        report.traceDigest = digest
        if let svc = service { report.blobStatuses = svc.state.statuses }
    }
}
