// SPDX-License-Identifier: Apache-2.0

/// A VMBus channel as Linux's guest side sees it: two rings, the request-id table, the driver's
/// callback, and the open / close / rescind states. The simulated host drives the other side
/// through `hostReceive` / `hostSend` / `rescind`.
public final class Channel {
    public enum State: String, Sendable { case offered, open, closed }

    public let version: KernelVersion
    let log: ViolationLog
    public private(set) var state: State = .offered
    /// channel->rescind: set by the host's rescind; sends fail with ENODEV from then on.
    public private(set) var rescinded = false
    /// channel->rqstor_size: the driver sets it before vmbus_open() to get a request-id table.
    public var requestorSize = 0
    /// Linux ≥ 5.14: the driver installs next_request_id_callback / request_addr_callback.
    /// Without them the send puts the driver's raw 64-bit value on the wire.
    public var usesRequestIdCallbacks = false
    public private(set) var requestor: RequestIdTable?
    /// guest -> host (channel->outbound).
    public private(set) var outbound: RingBuffer?
    /// host -> guest (channel->inbound).
    public private(set) var inbound: RingBuffer?
    /// The driver's onchannel_callback. Reset to nil by rescind (vmbus_reset_channel_cb) and close.
    public var callback: (() -> Void)?
    /// The guest signalled the host (vmbus_setevent): the simulator schedules the VSP.
    public var signalHost: () -> Void = {}
    /// The host interrupted the guest: the simulator schedules the channel callback.
    public var signalGuest: () -> Void = {}
    /// Counters, as /sys/bus/vmbus/devices/*/channels/* shows them.
    public private(set) var outFullTotal = 0
    public private(set) var interruptsToHost = 0
    public private(set) var interruptsToGuest = 0
    public private(set) var packetsSent = 0
    /// Every ring packet and lifecycle step goes here when set (capture).
    public var recorder: CaptureRecorder?
    /// Makes each ring at open (nil: private memory). An out-of-process host's link puts the
    /// rings into shared guest memory here.
    public var ringFactory: ((Int) -> RingBuffer)?
    /// Lifecycle steps an out-of-process host must hear of, each after the guest's own state
    /// changed (open: both rings exist; close; rescind).
    public var onLifecycle: ((LifecycleStep) -> Void)?
    public enum LifecycleStep: Sendable { case open, close, rescind }

    private var receiveBuffer: [UInt8] = []

    public init(version: KernelVersion, log: ViolationLog) {
        self.version = version
        self.log = log
    }

    /// vmbus_open(): allocates both rings (`ringSize` each, header page included) and, if the
    /// driver asked for one, the request-id table.
    public func open(ringSize: Int, callback: @escaping () -> Void) throws(Errno) {
        guard state != .open else { throw .EINVAL }
        if rescinded { throw .ENODEV }
        outbound = ringFactory?(ringSize) ?? RingBuffer(size: ringSize)
        inbound = ringFactory?(ringSize) ?? RingBuffer(size: ringSize)
        inbound?.onReadIndexPublished = { [unowned self] before, after in
            self.recorder?.ringRead(before: before, after: after)
        }
        if requestorSize > 0 {
            requestor = RequestIdTable(size: requestorSize, zeroIdIsError: version.zeroIdLookupIsError)
        }
        self.callback = callback
        state = .open
        onLifecycle?(.open)
        if let recorder {
            var w = WireWriter(capacity: 4)
            w.u32(UInt32(ringSize))
            recorder.lifecycle(.open, body: w.bytes)
        }
    }

    /// vmbus_close(): resets the callback and tears the rings down. The host stops using the
    /// channel (and every page it was handed through it) once this returns.
    public func close() {
        if state != .open {
            log.report("guest.close-twice", "vmbus_close() on a channel that is \(state.rawValue)")
            return
        }
        callback = nil
        state = .closed
        recorder?.lifecycle(.close)
        onLifecycle?(.close)
    }

    /// The host rescinds the offer: the callback is reset first (no more completions reach the
    /// driver), then channel->rescind is set; the device's remove runs after this.
    public func rescind() {
        callback = nil
        rescinded = true
        recorder?.lifecycle(.rescind)
        onLifecycle?(.rescind)
    }

    /// vmbus_sendpacket_mpb_desc() -> hv_ringbuffer_write(). `cookie` is the driver's
    /// `requestid` argument. Returns the id that went on the wire.
    public func send(_ packet: [UInt8], cookie: UInt64) throws(Errno) -> UInt64 {
        if state != .open {
            log.report("guest.send-on-closed-channel",
                       "send of \(packet.count) bytes on a channel that is \(state.rawValue)\(rescinded ? " and rescinded" : "")")
            throw .ENODEV
        }
        if rescinded { throw .ENODEV }
        guard let ring = outbound else { throw .ENODEV }
        let flags = packet.count >= 8 ? UInt16(packet[6]) | UInt16(packet[7]) << 8 : 0
        let allocate = flags == PacketFlags.completionRequested && requestor != nil
            && (version.sendAllocatesRequestId || usesRequestIdCallbacks)
        let before = ring.writeIndex
        let outcome = ring.write(packet) { () -> UInt64? in
            guard allocate else { return cookie }
            return requestor?.allocate(cookie)
        }
        switch outcome {
        case .full:
            outFullTotal += 1
            throw .EAGAIN
        case .noRequestId:
            throw .EAGAIN
        case .written(let id, let signal):
            packetsSent += 1
            if let recorder {
                var bytes = packet
                if bytes.count >= 16 { withUnsafeBytes(of: id.littleEndian) { bytes.replaceSubrange(8..<16, with: $0) } }
                recorder.ringPacket(.guestToHost, before: before, after: ring.writeIndex, bytes: bytes)
            }
            if signal {
                interruptsToHost += 1
                signalHost()
            }
            return id
        }
    }

    /// Looks a completion's id up in the request-id table (which frees it).
    public func lookupRequestId(_ id: UInt64) -> RequestIdTable.Lookup {
        guard requestor != nil else { return .found(id) }
        return requestor!.lookup(id)
    }

    // MARK: the host's side

    /// The host takes the next packet from the guest->host ring (nil when empty). A packet
    /// whose len8 is impossible is reported and the ring is treated as corrupt (nil).
    public func hostReceive() -> [UInt8]? {
        guard let ring = outbound, state == .open else { return nil }
        var reader = RingReader(ring: ring)
        let avail = reader.available(ring)
        if avail < PacketDescriptor.wireSize { return nil }
        let start = Int(reader.privReadIndex)
        let len = Int(ring.loadU16(at: start + 4)) * 8
        if len < PacketDescriptor.wireSize || len + RingBuffer.trailerSize > avail {
            log.report("host.ring.len8", "guest->host packet at ring offset \(start) claims \(len) bytes, \(avail) available")
            return nil
        }
        // One buffer reused packet after packet: unique again once the caller let go of the last
        // packet (one who keeps it gets its own copy on the next receive).
        receiveBuffer.removeAll(keepingCapacity: true)
        receiveBuffer.append(contentsOf: repeatElement(0, count: len))
        receiveBuffer.withUnsafeMutableBytes { ring.copyOut(at: start, into: $0.baseAddress!, count: len) }
        let bytes = receiveBuffer
        let trailer = ring.loadU64(at: (start + len) % ring.dataSize)
        if trailer != UInt64(start) << 32 {
            log.report("host.ring.trailer", "trailer after packet at \(start) is \(hex64(trailer)), expected \(hex64(UInt64(start) << 32))")
        }
        _ = reader.advance(ring, len8: UInt16(len / 8))
        // hv_pkt_iter_close(): the guest set pending_send_sz and now has room: interrupt it.
        // (No in-tree guest sets it; verify-host's pending-send-sz scenario does.)
        if reader.close(ring) {
            interruptsToGuest += 1
            signalGuest()
        }
        return bytes
    }

    /// The host writes a packet into the host->guest ring. Returns false when it does not fit;
    /// the host then sets pending_send_sz and waits for the guest's signal.
    public func hostSend(_ packet: [UInt8]) -> Bool {
        guard let ring = inbound, state == .open else { return false }
        let before = ring.writeIndex
        let outcome = ring.write(packet) { () -> UInt64? in
            packet.count >= 16 ? packet.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(fromByteOffset: 8, as: UInt64.self)) } : 0
        }
        switch outcome {
        case .written(_, let signal):
            recorder?.ringPacket(.hostToGuest, before: before, after: ring.writeIndex, bytes: packet)
            if signal {
                interruptsToGuest += 1
                signalGuest()
            }
            return true
        case .full, .noRequestId:
            ring.pendingSendSize = UInt32(packet.count + RingBuffer.trailerSize)
            return false
        }
    }

    /// The guest's reader signals that room opened up on the host->guest ring.
    public func signalRoomToHost() {
        interruptsToHost += 1
        signalHost()
    }

    // MARK: checkpoint and reset

    /// Everything of the channel at a checkpoint: its state, the request-id table (a value),
    /// its rings (the same objects, their bytes restored chunk by chunk) and its callbacks.
    struct Checkpoint {
        let state: State
        let rescinded: Bool
        let requestorSize: Int
        let usesRequestIdCallbacks: Bool
        let requestor: RequestIdTable?
        let outbound: RingBuffer?, inbound: RingBuffer?
        let outboundImage: RingBuffer.Checkpoint?, inboundImage: RingBuffer.Checkpoint?
        let callback: (() -> Void)?
        let signalHost: () -> Void, signalGuest: () -> Void
        let counters: (Int, Int, Int, Int)
        let recorder: CaptureRecorder?
        let ringFactory: ((Int) -> RingBuffer)?
        let onLifecycle: ((LifecycleStep) -> Void)?
    }

    func checkpoint() -> Checkpoint {
        Checkpoint(state: state, rescinded: rescinded, requestorSize: requestorSize, usesRequestIdCallbacks: usesRequestIdCallbacks,
                   requestor: requestor, outbound: outbound, inbound: inbound,
                   outboundImage: outbound?.checkpoint(), inboundImage: inbound?.checkpoint(),
                   callback: callback, signalHost: signalHost, signalGuest: signalGuest,
                   counters: (outFullTotal, interruptsToHost, interruptsToGuest, packetsSent),
                   recorder: recorder, ringFactory: ringFactory, onLifecycle: onLifecycle)
    }

    func restore(_ c: Checkpoint) {
        state = c.state
        rescinded = c.rescinded
        requestorSize = c.requestorSize
        usesRequestIdCallbacks = c.usesRequestIdCallbacks
        requestor = c.requestor
        outbound = c.outbound
        inbound = c.inbound
        if let r = c.outbound, let i = c.outboundImage { r.restore(i) }
        if let r = c.inbound, let i = c.inboundImage { r.restore(i) }
        callback = c.callback
        signalHost = c.signalHost
        signalGuest = c.signalGuest
        (outFullTotal, interruptsToHost, interruptsToGuest, packetsSent) = c.counters
        recorder = c.recorder
        ringFactory = c.ringFactory
        onLifecycle = c.onLifecycle
    }
}

extension Channel {
    /// The channel's state, counters, request-id table and both rings, for the explorer's
    /// state digest.
    func stateDigest(into h: inout Hasher64) -> Bool {
        h.add(state.rawValue); h.add(rescinded); h.add(requestorSize); h.add(usesRequestIdCallbacks)
        h.add(outFullTotal); h.add(interruptsToHost); h.add(interruptsToGuest); h.add(packetsSent)
        h.add(callback != nil)
        h.add(requestor != nil)
        requestor?.stateDigest(into: &h)
        for ring in [outbound, inbound] {
            h.add(ring != nil)
            if let ring, !ring.stateDigest(into: &h) { return false }
        }
        return true
    }
}
