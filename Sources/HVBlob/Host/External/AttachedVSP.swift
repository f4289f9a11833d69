// SPDX-License-Identifier: Apache-2.0

/// hvblob's own `SimulatedVSP` as an out-of-process host (`hvblob host --attach PATH`): it
/// connects to a guest's control socket, maps the guest's memory file and rings, and runs in the
/// guest's virtual time — every time it would schedule work it sends TIMER and does the work when
/// the guest sends RUN — so a run against it is the same run as against the in-process host.
/// Its own checks of the guest's packets (`host.*` rules) go to the guest as FINDINGs.
public final class AttachedVSP {
    let socket: ControlSocket
    public let faults: FaultPlan
    private var shared: SharedGuestMemory?
    private var log = ViolationLog()
    private var memory: GuestMemory?
    private var channel: Channel?
    private var vsp: SimulatedVSP?
    private var timers: [UInt64: () -> Void] = [:]
    private var nextToken: UInt64 = 0
    private var seed: UInt64 = 0
    private var sendFailed = false
    /// Sessions served (ATTACH ... DETACH), requests received: what the command prints at the end.
    public private(set) var sessions = 0
    public private(set) var stats = SimulatedVSP.Stats()

    public init(connectingTo path: String, faults: FaultPlan) throws(ControlSocket.Failure) {
        socket = try ControlSocket.connect(path: path)
        self.faults = faults
    }

    private func send(_ m: HostMessage) {
        do { try socket.send(m) } catch { sendFailed = true }
    }

    /// Serves until the guest closes the socket. Returns why it stopped when that was an error.
    public func serve() -> String? {
        send(HostMessage.offer(HostMessage.Offer(classId: AzBlob.deviceClassGUID, instanceId: GUID.zero,
                                                 flags: HostMessage.Offer.flagVirtualTime, name: "hvblob SimulatedVSP")))
        while !sendFailed {
            let got: ControlSocket.Received
            do { got = try socket.receive(timeoutMs: -1) } catch { return "\(error)" }
            switch got {
            case .closed: finishSession(); return nil
            case .timeout: continue
            case .malformed(let e): return "malformed message from the guest: \(e)"
            case .message(let m):
                log.now = m.time
                let status = handle(m)
                send(HostMessage.done(seq: m.seq, status: status))
            }
        }
        return "the guest closed the control socket"
    }

    private func handle(_ m: HostMessage) -> Int32 {
        switch m.kind {
        case .attach:
            guard let a = try? m.attachBody(), a.pageSize == UInt32(AzBlob.pageSize) else { return -22 }
            finishSession()
            do {
                let s = try SharedGuestMemory(mapping: a.path, pageCount: Int(a.pageCount), frameCount: Int(a.frameCount))
                shared = s
                log = ViolationLog()
                log.now = m.time
                log.onReport = { [unowned self] rule, detail in self.send(HostMessage.finding(rule: rule.rawValue, detail: detail)) }
                let mem = GuestMemory(log: log, viewing: s)
                memory = mem
                let ch = Channel(version: .default, log: log)
                channel = ch
                seed = a.seed
                sessions += 1
                vsp = SimulatedVSP(channel: ch, memory: mem, log: log, faults: faults, rng: SeededRandom(seed: seed).split("host")) { [unowned self] t, f in
                    self.nextToken += 1
                    self.timers[self.nextToken] = f
                    self.send(HostMessage.timer(token: self.nextToken, at: t))
                }
                // As a host under test it rejects every packet that breaks a rule (verify-host).
                vsp?.strict = true
                ch.signalGuest = { [unowned self] in self.send(HostMessage(.interrupt)) }
                return 0
            } catch {
                return -2
            }
        case .open:
            guard let o = try? m.openBody(), let s = shared, let ch = channel, o.ringSize > UInt32(RingBuffer.headerSize),
                  o.ringSize % UInt32(AzBlob.pageSize) == 0 else { return -22 }
            let pages = UInt64(o.ringSize) / UInt64(AzBlob.pageSize)
            guard let out = s.page(o.outboundPFN), let inb = s.page(o.inboundPFN),
                  s.page(o.outboundPFN + pages - 1) != nil, s.page(o.inboundPFN + pages - 1) != nil else { return -22 }
            var rings = [RingBuffer(mapping: out, size: Int(o.ringSize), initialize: false),
                         RingBuffer(mapping: inb, size: Int(o.ringSize), initialize: false)]
            ch.ringFactory = { _ in rings.removeFirst() }
            do { try ch.open(ringSize: Int(o.ringSize)) {} } catch { return -Int32(error.rawValue) }
            return 0
        case .signal:
            vsp?.signalled()
            return 0
        case .run:
            guard let token = try? m.runToken() else { return -22 }
            timers.removeValue(forKey: token)?()
            return 0
        case .rescind:
            // The control plane takes the device away: stop touching the guest's pages now.
            vsp?.noteRescind()
            if channel?.state == .open { channel?.close() }
            return 0
        case .close:
            if channel?.state == .open { channel?.close() }
            return 0
        case .detach:
            finishSession()
            return 0
        default:
            return -95  // EOPNOTSUPP: not a message a guest sends
        }
    }

    private func finishSession() {
        if let v = vsp {
            let s = v.stats
            stats.received += s.received
            stats.rejected += s.rejected
            stats.executed += s.executed
            stats.completionsSent += s.completionsSent
        }
        if channel?.state == .open { channel?.close() }
        vsp = nil
        channel = nil
        memory = nil
        shared = nil
        timers = [:]
    }
}
