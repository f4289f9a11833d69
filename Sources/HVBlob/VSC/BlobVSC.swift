// SPDX-License-Identifier: Apache-2.0

/// The Azure Blob VSC as an executable specification: probe, open/release with a device
/// reference count, the ioctl with every validation rule of PROTOCOL.md §1 in order, pinning,
/// the MPB packet, the pending list, the channel callback, and remove with drain. `behavior`
/// selects the corrected driver or the posted v5 (defects included).
///
/// Blocking calls are state machines (`IoctlCall`, `RemoveWork`): each `step()` runs up to the
/// next point where another activity could interleave, so the simulator and the race explorer
/// can schedule them.
public final class BlobVSC: GuestDriver {
    public var abi: DriverABI { .reference }
    public let behavior: DriverBehavior
    public let channel: Channel
    let memory: GuestMemory
    let log: ViolationLog

    /// kref: 1 from probe, +1 per open file.
    public private(set) var refcount = 0
    public private(set) var freed = false
    public private(set) var miscRegistered = false
    /// The misc device's name (/dev/<name>): the first device's is azure_blob, another offered
    /// while it lives gets the lowest free number after it, as the in-tree driver names them.
    public internal(set) var miscName = "azure_blob"
    /// The other devices offered to this (loaded) model, each its own instance on its own channel.
    var peers: [Int: BlobVSC] = [:]
    /// dev->removing (only when behavior.removingFlag).
    public private(set) var removing = false
    /// dev->pending_requests, in queue order.
    public private(set) var pending: [RequestContext] = []
    private var contexts: [UInt64: RequestContext] = [:]
    private var nextCookie: UInt64 = 0xffff_8880_0000_0000
    /// Fail the Nth allocation from now (1 = the next one) with ENOMEM; nil = never.
    public var failAllocation: Int? = nil
    /// Set when the completion path dereferenced NULL: the guest has crashed.
    public private(set) var crashed = false
    /// Called for each completion delivered to a context: (ring offset of the packet, context).
    public var onCompletionDelivered: ((UInt32, RequestContext) -> Void)?
    /// Statistics.
    public private(set) var completionsIgnored = 0
    public private(set) var ioctlsStarted = 0
    /// Where the ioctl copies its argument from user space (one per device, reused).
    var argumentBuffer = [UInt8](repeating: 0, count: AzBlobRequestSync.wireSize)
    /// The channel's packet buffer the inbound iterator copies each packet into (Linux >= 5.14
    /// allocates it once, at vmbus_open).
    var packetBuffer = [UInt8](repeating: 0, count: RingReader.packetBufferSize)
    /// Buffers the ioctls build their MPB packets in, each given back once its packet is in the
    /// ring (the copy there is the one the host reads): one per request between pin and send.
    private var packetBuffers: [[UInt8]] = []

    func takePacketBuffer() -> [UInt8] { packetBuffers.popLast() ?? [] }
    func givePacketBuffer(_ b: inout [UInt8]?) {
        guard let bytes = b else { return }
        b = nil
        if packetBuffers.count < AzBlob.queueDepth { packetBuffers.append(bytes) }
    }

    public init(channel: Channel, memory: GuestMemory, log: ViolationLog, behavior: DriverBehavior) {
        self.channel = channel
        self.memory = memory
        self.log = log
        self.behavior = behavior
    }

    // MARK: probe / open / release

    /// az_blob_probe(): set rqstor_size, open the channel, register the misc device.
    public func probe() throws(Errno) {
        refcount = 1
        channel.requestorSize = AzBlob.queueDepth
        channel.usesRequestIdCallbacks = behavior.installsRequestIdCallbacks
        try channel.open(ringSize: AzBlob.ringSize) { [unowned self] in self.channelCallback() }
        miscRegistered = true
    }

    private func touch(_ what: String) -> Bool {
        if freed {
            log.report("guest.use-after-free", "\(what) after the device's last reference was dropped")
            return false
        }
        return true
    }

    private func put(_ who: String) {
        refcount -= 1
        if refcount < 0 { log.report("guest.refcount-negative", "\(who): device refcount \(refcount)") }
        if refcount == 0 { freed = true }
    }

    /// open("/dev/azure_blob"): ENODEV once the misc device is deregistered.
    public func open(_ process: AddressSpace) throws(Errno) -> OpenFile {
        guard miscRegistered, !freed else { throw .ENODEV }
        refcount += 1
        return OpenFile(process: process)
    }

    /// The last close of a file.
    public func release(_ file: OpenFile) {
        if file.released {
            log.report("guest.release-twice", "file of pid \(file.process.pid) released twice")
            return
        }
        file.released = true
        _ = touch("release")
        put("release")
    }

    // MARK: ioctl

    public var name: String { "model \(behavior.name)" }

    public func ioctl(_ file: OpenFile, command: IoctlCommand, argument: UInt64) -> DriverCall {
        startIoctl(file, command: command, argument: argument)
    }

    /// The model's own call type, for tests that look inside it.
    public func startIoctl(_ file: OpenFile, command: IoctlCommand, argument: UInt64) -> IoctlCall {
        ioctlsStarted += 1
        for i in spareCalls.indices where isKnownUniquelyReferenced(&spareCalls[i]) {
            spareCalls.swapAt(i, spareCalls.count - 1)
            let call = spareCalls.removeLast()
            call.reuse(self, file: file, command: command, argument: argument)
            return call
        }
        return IoctlCall(vsc: self, file: file, command: command, argument: argument)
    }

    /// A call returned (and let go of this device; it returns once): kept to be reused once no
    /// one else holds it.
    func returned(_ call: IoctlCall) {
        if spareCalls.count < BlobVSC.spares { spareCalls.append(call) }
    }

    /// Returned calls and contexts made before, reused once only these lists hold them (as a
    /// driver's allocations come back from its slab): a round trip allocates neither. A call
    /// in flight is in no list (it holds the device; the device must not hold it back).
    private var spareCalls: [IoctlCall] = []
    private var spareContexts: [RequestContext] = []
    private static let spares = 4

    func allocate(_ what: String) -> Bool {
        guard var n = failAllocation else { return true }
        n -= 1
        if n <= 0 {
            failAllocation = nil
            return false
        }
        failAllocation = n
        return true
    }

    func newContext(_ request: AzBlobRequestSync, pid: Int) -> RequestContext {
        nextCookie += 0x100
        for i in spareContexts.indices where isKnownUniquelyReferenced(&spareContexts[i]) {
            spareContexts[i].reuse(cookie: nextCookie, request: request, pid: pid)
            contexts[nextCookie] = spareContexts[i]
            return spareContexts[i]
        }
        let ctx = RequestContext(cookie: nextCookie, request: request, pid: pid)
        if spareContexts.count < BlobVSC.spares { spareContexts.append(ctx) }
        contexts[ctx.cookie] = ctx
        return ctx
    }

    func enqueue(_ ctx: RequestContext) {
        _ = touch("list_add_tail(pending_requests)")
        pending.append(ctx)
    }

    /// list_del + wake_up(waiting_to_drain) when the list became empty.
    func dequeue(_ ctx: RequestContext) {
        _ = touch("list_del(pending_requests)")
        pending.removeAll { $0 === ctx }
        contexts[ctx.cookie] = nil
    }

    /// The caller of ctx was killed while it waited: the channel alone holds it now.
    func abandon(_ ctx: RequestContext, owner: AddressSpace) {
        ctx.abandoned = true
        ctx.owner = owner
    }

    /// The host is done with an abandoned context (completed, or the channel closed): its last
    /// reference goes, and with it the pins.
    func reap(_ ctx: RequestContext) {
        dequeue(ctx)
        for p in ctx.pins { ctx.owner?.release(p, who: "request context of killed pid \(ctx.pid)") }
        ctx.pins = PinSet()
    }

    func releasePins(_ ctx: RequestContext, file: OpenFile) {
        for p in ctx.pins { file.process.release(p, who: "ioctl of pid \(ctx.pid)") }
        ctx.pins = PinSet()
    }

    // MARK: the channel callback (completions)

    /// az_blob_on_channel_callback(): drains the host->guest ring.
    public func channelCallback() {
        guard let ring = channel.inbound, !crashed else { return }
        var reader = RingReader(ring: ring)
        // No ring holds more than dataSize/24 packets (16-byte header + 8-byte trailer): past
        // that the iterator is going round stale data. Linux ≥ 5.14 gets there when a host
        // claims a len8 beyond what is available: it clamps to what is there, then advances
        // the trailer's 8 bytes past the write index, and sees a nearly full ring.
        var packets = 0
        let most = ring.dataSize / 24 + 1
        while true {
            packets += 1
            if packets > most {
                log.report("liveness.callback-livelock",
                           "the channel callback read \(most) packets in one run: the iterator passed the write index (a host len8 beyond what was available) and goes round stale data")
                break
            }
            if channel.version.copiesInboundPackets {
                guard let n = reader.copyFirst(ring, into: &packetBuffer) else { break }
                let start = reader.privReadIndex
                let pkt = CopiedPacket(bytes: packetBuffer, count: n)
                handle(type: pkt.type, offset8: pkt.offset8, len8: pkt.len8, transId: pkt.transId,
                       payload: { pkt.u32(at: $0) }, ringOffset: start)
                _ = reader.advance(ring, len8: pkt.len8)
            } else {
                guard let shared = reader.sharedFirst(ring) else { break }
                // Each header field is read once into a local, in the order the driver uses
                // them; v5 never reads len8 itself (only the iterator does).
                let type = behavior.validatesCompletions ? shared.type : .completion
                let transId = shared.transId
                let len8 = behavior.validatesCompletions ? shared.len8 : shared.peekLen8
                let offset8 = shared.offset8
                handle(type: type, offset8: offset8, len8: len8, transId: transId,
                       payload: { shared.payloadU32(at: $0, name: "payload+\($0)") }, ringOffset: shared.start)
                // __hv_pkt_iter_next() reads len8 from shared memory again (Linux ≤ 5.13).
                let advanceLen8 = shared.len8
                for d in shared.doubleFetches {
                    log.report("guest.double-fetch",
                               "\(d.field) of the packet at inbound ring offset \(shared.start) read as \(d.first), then \(d.second) (Linux ≤ 5.13 iterator reads the shared ring in place)")
                }
                if !reader.advance(ring, len8: advanceLen8) {
                    log.report("guest.ring-read-out-of-bounds",
                               "len8 \(advanceLen8) at inbound ring offset \(shared.start) moves the read index past the ring (not clamped on Linux ≤ 5.13)")
                    break
                }
            }
            if crashed { break }
        }
        if reader.close(ring) { channel.signalRoomToHost() }
    }

    private func handle(type: PacketType, offset8: UInt16, len8: UInt16, transId: UInt64,
                        payload: (Int) -> UInt32, ringOffset: UInt32) {
        let dataLength = Int(len8) * 8 - Int(offset8) * 8
        let dataStart = Int(offset8) * 8
        if behavior.validatesCompletions {
            if type != .completion || transId == 0 {
                completionsIgnored += 1
                return
            }
        }
        let ctx: RequestContext
        switch channel.lookupRequestId(transId) {
        case .error:
            completionsIgnored += 1
            return
        case .zero:
            // < 5.18 returns 0 for id 0; v5 casts it to a context pointer and dereferences it.
            log.report("guest.null-deref", "completion with request id 0: the lookup returned 0 and the callback dereferenced it")
            crashed = true
            return
        case .found(let cookie):
            guard let c = contexts[cookie] else {
                // v5 on ≥ 5.14 without callbacks: the raw cookie is not a table entry.
                completionsIgnored += 1
                return
            }
            ctx = c
        }
        if ctx.completed {
            completionsIgnored += 1
            return
        }
        if dataLength < VSPResponse.wireSize {
            if behavior.validatesCompletions {
                ctx.failure = .EIO
                ctx.completed = true
                onCompletionDelivered?(ringOffset, ctx)
                if ctx.abandoned { reap(ctx) }
                return
            }
            log.report("guest.read-past-packet",
                       "completion for request id \(transId) carries \(max(dataLength, 0)) payload bytes; the callback reads \(VSPResponse.wireSize)")
        }
        ctx.status = payload(dataStart + 4)
        ctx.responseLen = payload(dataStart + 8)
        ctx.completed = true
        onCompletionDelivered?(ringOffset, ctx)
        if ctx.abandoned { reap(ctx) }
    }

    // MARK: remove

    /// The device's remove, run by the rescind work after the host rescinded the channel (or by
    /// a driver unbind).
    public func remove() -> DriverCall { startRemove() }
    public func startRemove() -> RemoveWork { RemoveWork(vsc: self) }

    public func failAllocation(after n: Int) { failAllocation = n }

    public func finish(removed: Bool) {
        if removed && !freed {
            log.report("guest.refcount-leak", "device refcount \(refcount) after every file closed and remove finished")
        }
    }

    func closeChannelAndFailPending() {
        channel.close()
        // The host no longer touches the pages once the channel is closed: fail what is left.
        for ctx in pending where !ctx.completed {
            ctx.failure = .ENODEV
            ctx.completed = true
        }
        for ctx in pending where ctx.abandoned { reap(ctx) }
    }

    func setRemoving() { removing = true }
    func deregisterMisc() { miscRegistered = false }
    func dropProbeReference() { put("remove") }

    // MARK: checkpoint and reset

    /// The model's own state at a checkpoint. Taken only with no request in flight (no
    /// context exists), so every field is a value.
    struct Checkpoint {
        let refcount: Int, freed: Bool, miscRegistered: Bool, removing: Bool
        let nextCookie: UInt64
        let failAllocation: Int?
        let crashed: Bool
        let onCompletionDelivered: ((UInt32, RequestContext) -> Void)?
        let completionsIgnored: Int, ioctlsStarted: Int
    }

    /// Why the model cannot be checkpointed now (a request context exists), nil when it can.
    var notQuiescent: String? {
        pending.isEmpty && contexts.isEmpty ? nil : "\(max(pending.count, contexts.count)) request context(s) of the model exist"
    }

    func checkpoint() -> Checkpoint {
        Checkpoint(refcount: refcount, freed: freed, miscRegistered: miscRegistered, removing: removing, nextCookie: nextCookie,
                   failAllocation: failAllocation, crashed: crashed, onCompletionDelivered: onCompletionDelivered,
                   completionsIgnored: completionsIgnored, ioctlsStarted: ioctlsStarted)
    }

    func restore(_ c: Checkpoint) {
        refcount = c.refcount; freed = c.freed; miscRegistered = c.miscRegistered; removing = c.removing
        nextCookie = c.nextCookie
        failAllocation = c.failAllocation
        crashed = c.crashed
        onCompletionDelivered = c.onCompletionDelivered
        completionsIgnored = c.completionsIgnored; ioctlsStarted = c.ioctlsStarted
        pending.removeAll(keepingCapacity: true)
        contexts.removeAll(keepingCapacity: true)
    }

    // MARK: debugfs

    /// The `pending_requests` debugfs file, in the v5 format.
    public var debugfsPendingRequests: String {
        var s = "List of pending requests\nUUID request_len response_len data_len data_valid request_buffer response_buffer data_buffer\n"
        for c in pending {
            let r = c.request
            s += "\(r.guid) \(r.requestLen) \(r.responseLen) \(r.dataLen) \(r.dataValid) "
            s += "\(String(r.requestBuffer, radix: 16)) \(String(r.responseBuffer, radix: 16)) \(String(r.dataBuffer, radix: 16))\n"
        }
        return s
    }
}

/// A packet copied out of the ring (Linux ≥ 5.14); reads past the copy return zeros, as reading
/// past the end of the per-channel packet buffer returns whatever was left there.
struct CopiedPacket {
    let bytes: [UInt8]
    /// The packet's length: `bytes` may be the longer buffer it was copied into.
    var count: Int
    init(bytes: [UInt8], count: Int? = nil) {
        self.bytes = bytes
        self.count = min(count ?? bytes.count, bytes.count)
    }
    var type: PacketType { PacketType(rawValue: u16(at: 0)) }
    var offset8: UInt16 { u16(at: 2) }
    var len8: UInt16 { u16(at: 4) }
    var transId: UInt64 { UInt64(u32(at: 8)) | UInt64(u32(at: 12)) << 32 }
    func u16(at o: Int) -> UInt16 {
        o + 2 <= count ? UInt16(bytes[o]) | UInt16(bytes[o + 1]) << 8 : 0
    }
    func u32(at o: Int) -> UInt32 {
        guard o >= 0, o + 4 <= count else { return 0 }
        return bytes.withUnsafeBytes { UInt32(littleEndian: $0.loadUnaligned(fromByteOffset: o, as: UInt32.self)) }
    }
}

extension BlobVSC {
    /// The model driver's state: reference count, flags, the pending list and the context
    /// table (each context whole), the next cookie, for the explorer's state digest. False
    /// with a second device or an allocation failure armed.
    func stateDigest(into h: inout Hasher64) -> Bool {
        guard peers.isEmpty, failAllocation == nil else { return false }
        h.add(refcount); h.add(freed); h.add(miscRegistered); h.add(miscName); h.add(removing); h.add(crashed)
        h.add(nextCookie); h.add(completionsIgnored); h.add(ioctlsStarted)
        h.add(bytes: argumentBuffer)
        h.add(pending.count)
        for c in pending { h.add(c.cookie) }
        h.add(contexts.count)
        for k in contexts.keys.sorted() { h.add(k); contexts[k]!.stateDigest(into: &h) }
        return true
    }
}
