// SPDX-License-Identifier: Apache-2.0

/// One machine's side of an out-of-process host: its rings live in the shared memory file,
/// its signals and lifecycle steps go over the control socket, and while the host acts on a
/// message the guest waits for its DONE — so a host that runs in the guest's virtual time
/// (TIMER/RUN) gives the same run as the in-process host, event for event.
public final class ExternalHostLink {
    unowned let session: ExternalHostSession
    /// Weak: the session detaches the link after its machine may be gone.
    weak var machine: Machine?
    public let memory: SharedGuestMemory
    private var seq: UInt64 = 0
    private var ringPFNs: [UInt64] = []
    private var attached = false
    private var reportedFailure = false
    /// Interrupts the host sent during the message being answered.
    public private(set) var interruptsInRequest = 0
    public private(set) var interruptsTotal = 0
    public private(set) var timersTotal = 0

    init(session: ExternalHostSession, machine: Machine, memory: SharedGuestMemory) {
        self.session = session
        self.machine = machine
        self.memory = memory
    }

    func attach(seed: UInt64) {
        guard let machine else { return }
        let ch = machine.channel
        ch.ringFactory = { [unowned self] size in
            if self.ringPFNs.count >= 2 { self.memory.resetRings(); self.ringPFNs = [] }
            guard let (pfn, ring) = self.memory.allocateRing(size: size) else {
                preconditionFailure("internal: the memory file has room for two rings of the channel's size")
            }
            self.ringPFNs.append(pfn)
            return ring
        }
        ch.onLifecycle = { [unowned self] step in
            switch step {
            case .open:
                guard self.ringPFNs.count == 2, let out = ch.outbound else { return }
                let o = HostMessage.Open(ringSize: UInt32(out.size), outboundPFN: self.ringPFNs[0], inboundPFN: self.ringPFNs[1])
                self.session.monitor.guestLog = machine.log
                self.session.monitor.recorder = machine.recorder
                self.session.monitor.opened(outbound: out, inbound: ch.inbound!, memory: machine.memory, shared: self.memory)
                self.request { HostMessage.open(o, seq: $0, time: $1) }
            case .close: self.request { HostMessage(.close, seq: $0, time: $1) }
            case .rescind: self.request { HostMessage(.rescind, seq: $0, time: $1) }
            }
        }
        ch.signalHost = { [unowned self] in self.request { HostMessage(.signal, seq: $0, time: $1) } }
        machine.waitForHost = { [unowned self] in self.waitUnsolicited() }
        let a = HostMessage.Attach(pageCount: UInt64(memory.pageCount), frameCount: UInt64(memory.frameCount), seed: seed, path: memory.path)
        attached = true
        request { HostMessage.attach(a, seq: $0, time: $1) }
    }

    func detach() {
        guard attached else { return }
        attached = false
        request { HostMessage(.detach, seq: $0, time: $1) }
    }

    private func reportFailure() {
        guard let f = session.failure, !reportedFailure else { return }
        reportedFailure = true
        machine?.log.report("liveness.external-host", f)
    }

    /// Sends one message and handles what the host sends until its DONE. Returns the DONE's
    /// status, nil when the host failed (reported once as `liveness.external-host`).
    @discardableResult
    public func request(_ make: (UInt64, UInt64) -> HostMessage) -> Int32? {
        if session.failure != nil { reportFailure(); return nil }
        seq += 1
        let now = machine?.now ?? 0
        let m = make(seq, now)
        session.sent[m.kind, default: 0] += 1
        session.monitor.beforeHost(m.kind, now: now)
        interruptsInRequest = 0
        do {
            try session.socket.send(m)
            while true {
                switch try session.socket.receive(timeoutMs: session.timeoutMs) {
                case .message(let r):
                    if r.kind == .done && r.seq == m.seq {
                        session.monitor.afterHost(m.kind, now: now, interrupts: interruptsInRequest, status: r.doneStatus)
                        return r.doneStatus
                    }
                    handle(r, during: m)
                case .timeout:
                    session.fail("the host sent no DONE for \(m.kind) (seq \(m.seq)) within \(session.timeoutMs) ms: it hangs")
                case .closed:
                    session.fail("the host closed the control socket while acting on \(m.kind) (seq \(m.seq)): it died or quit")
                case .malformed(let e):
                    session.fail("the host sent a malformed control message while acting on \(m.kind): \(e)")
                }
                if session.failure != nil { break }
            }
        } catch {
            session.fail("\(error)")
        }
        session.monitor.hostFailed(during: m.kind, why: session.failure ?? "")
        reportFailure()
        return nil
    }

    private func handle(_ r: HostMessage, during m: HostMessage?) {
        switch r.kind {
        case .interrupt:
            interruptsInRequest += 1
            interruptsTotal += 1
            if m == nil { session.monitor.unsolicited(now: machine?.now ?? 0) }
            machine?.scheduleCallback()
        case .timer:
            guard let (token, at) = try? r.timerBody() else { session.fail("a TIMER with a short body"); return }
            timersTotal += 1
            guard let machine else { return }
            machine.queue.schedule(at: max(at, machine.now)) { [weak self] in
                self?.request { HostMessage.run(token: token, seq: $0, time: $1) }
            }
        case .finding:
            guard let (rule, detail) = try? r.findingBody() else { session.fail("a FINDING with a short body"); return }
            machine?.log.report(Rule(rule), detail)
        case .done:
            session.fail("the host sent DONE for seq \(r.seq) while the guest waits for seq \(m?.seq ?? 0)")
        default:
            session.fail("the host sent \(r.kind), which a host never sends")
        }
    }

    /// Nothing left to run: wait for the host while requests are in flight (an asynchronous
    /// host completes later). true when something was scheduled.
    func waitUnsolicited() -> Bool {
        // A host in virtual time never sends anything unasked.
        guard let machine, session.failure == nil, attached, machine.channel.state == .open,
              session.offer.flags & HostMessage.Offer.flagVirtualTime == 0 else { return false }
        session.monitor.scanOutbound()
        guard session.monitor.inFlightCount > 0 else { return false }
        let before = machine.queue.isEmpty
        do {
            switch try session.socket.receive(timeoutMs: session.idleTimeoutMs ?? session.timeoutMs) {
            case .message(let r): handle(r, during: nil)
            case .timeout: return false
            case .closed: session.fail("the host closed the control socket with requests in flight"); reportFailure(); return false
            case .malformed(let e): session.fail("malformed control message: \(e)"); reportFailure(); return false
            }
        } catch {
            session.fail("\(error)")
            return false
        }
        return before && !machine.queue.isEmpty
    }
}
