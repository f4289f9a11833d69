// SPDX-License-Identifier: Apache-2.0

/// The simulated host service (VSP). Consumes the guest->host ring, checks every packet against
/// the protocol (each failure reported by rule), reads the request through the PFN list, runs
/// the backend at the completion time, writes the response and data pages, and posts the
/// completion on the host->guest ring — misbehaving as the fault plan says.
public final class SimulatedVSP {
    /// What the host meant by a packet it put in the host->guest ring, keyed by ring offset, so
    /// the harness can tell a completion delivered to the wrong request.
    public struct Intent: Sendable {
        public let requestId: UInt64
        /// The transaction GUID of the request this completes; nil for forged/unknown ids.
        public let transaction: GUID?
        /// false for the in-band packet of the wrong-type fault.
        public let isCompletion: Bool
    }

    public struct Stats: Sendable, Equatable {
        public var received = 0
        public var rejected = 0
        public var executed = 0
        public var completionsSent = 0
        public var extraPackets = 0
        public var dropped = 0
        public var neverCompleted = 0
        public var abandonedAtClose = 0
        public var ringFullWaits = 0
        public var stalls = 0
        public var bytesRead = 0
        public var bytesWritten = 0
        /// Faults the plan injected, by mode name ("zero-id", "error-status", ...): what a
        /// check of that mode needs to have happened for its verdict to mean anything.
        public var injected: [String: Int] = [:]
        /// Broken rules the host saw past and executed the request anyway (see `strict`).
        public var executedDespite = 0
        /// Requests in flight (received, not completed) when the host rescinded the channel.
        public var inFlightAtRescind: Int? = nil
    }

    /// Draws a fault of `mode` with probability `p` (one draw, as before: the counter does not
    /// change the run) and counts it.
    private func inject(_ mode: String, _ p: Double) -> Bool {
        guard rng.chance(p) else { return false }
        stats.injected[mode, default: 0] += 1
        return true
    }

    /// The host is about to rescind: remember how many requests it holds.
    public func noteRescind() { stats.inFlightAtRescind = inFlight.count }

    let channel: Channel
    let memory: GuestMemory
    let log: ViolationLog
    public internal(set) var faults: FaultPlan
    var rng: SeededRandom
    public var backend: BlobBackend
    /// A strict host rejects every packet that breaks a rule; the default host reports a broken
    /// rule it can see past (version, operation, flags, length8, range.len or buffers beyond it
    /// but inside the PFN list, data_valid, region order) and executes the request anyway, so
    /// what the guest does next is still exercised.
    public var strict = false
    /// Schedules host work at a virtual time (provided by the simulator).
    let schedule: (UInt64, @escaping () -> Void) -> Void
    public private(set) var stats = Stats()
    public private(set) var intents: [UInt32: Intent] = [:]
    /// Requests received and not yet completed: request id -> transaction GUID.
    public private(set) var inFlight: [UInt64: GUID] = [:]
    /// Every packet the guest sent, as received (tests and the differential check read it).
    public var onReceive: (([UInt8]) -> Void)?

    /// Transactions the host finished whose ioctl has not returned yet, and ioctls that
    /// returned before the host finished their transaction (with what they returned).
    private var finishedByHost: Set<GUID> = []
    private var returnedEarly: [GUID: Errno] = [:]

    /// User space saw the ioctl for `transaction` (which was sent) return `result`.
    public func noteReturned(_ transaction: GUID, result: Errno) {
        if finishedByHost.remove(transaction) == nil { returnedEarly[transaction] = result }
    }

    /// The host is done with `transaction`. Returns what its ioctl returned, when it returned
    /// before this (the guest released the pages while the host still had them).
    func finished(_ transaction: GUID) -> Errno? {
        if let e = returnedEarly.removeValue(forKey: transaction) { return e }
        finishedByHost.insert(transaction)
        return nil
    }

    private func track(_ id: UInt64, _ g: GUID?) {
        inFlight[id] = g
    }
    /// Transactions whose ioctl returned on a completion the host meant for another request.
    public var misdeliveredTransactions: Set<GUID> = []
    private var stalledUntil: UInt64 = 0
    private var blockedSends: [(bytes: [UInt8], intent: Intent)] = []
    private var pollScheduled = false
    /// The buffer completions are written into, reused from one to the next.
    private var completionStorage: [UInt8] = []
    /// What the next event this host schedules does, for the event queue's digest (the
    /// machine's scheduler takes it and sets it back to 0, unknown).
    var eventTag: UInt64 = 0
    /// Whether completion events get their tag (the explorer's state digest needs them).
    public var tagsEvents = false

    /// The padding of a short completion, and (in the kernel shim, HVB_PACKET_POISON) the bytes
    /// after every packet the callback reads: a response field user space sees made of these
    /// bytes was read past what the completion carried.
    public static let poison: UInt8 = 0xA5
    public static let poisonWord: UInt32 = 0xA5A5_A5A5
    /// The status in the response of the in-band data packet the `wrong-type` fault sends with a
    /// request's id: user space seeing it means the driver completed from a non-completion packet.
    public static let inBandStatus = VSPStatus(rawValue: 0x5A5A_0B0B)

    public init(channel: Channel, memory: GuestMemory, log: ViolationLog, faults: FaultPlan, rng: SeededRandom,
                backend: BlobBackend = BlobStore(), schedule: @escaping (UInt64, @escaping () -> Void) -> Void) {
        self.channel = channel
        self.memory = memory
        self.log = log
        self.faults = faults
        self.rng = rng
        self.backend = backend
        self.schedule = schedule
    }

    var now: UInt64 { log.now }

    /// The guest signalled: drain the guest->host ring (and retry completions that found the
    /// host->guest ring full).
    public func signalled() {
        if pollScheduled { return }
        pollScheduled = true
        eventTag = SimulatedVSP.pollTag
        schedule(now, pollEvent)
    }

    /// Requests waiting for their completion event, a slot each; each slot's event is made once
    /// (not a closure per request) and finds its request here.
    private var completionSlots: [(pkt: GPADirectPacket, id: UInt64, refuse: Bool)?] = []
    private var completionEvents: [CompletionEvent] = []
    /// A closure in a struct: an array of bare closures hands each one out through a
    /// reabstraction thunk, a heap object per use.
    private struct CompletionEvent { let run: () -> Void }
    /// The request buffer's bytes as the backend reads them, reused from one request to the next.
    private var requestStorage: [UInt8] = []
    private var freeCompletionSlots: [Int] = []

    private func scheduleCompletion(_ pkt: GPADirectPacket, id: UInt64, refuse: Bool, at t: UInt64) {
        // The tag hashes the packet and the host's sets: only a machine whose state is digested
        // (the explorer's) pays for it; without it the queue has no digest, which is sound.
        eventTag = tagsEvents ? SimulatedVSP.completeTag(pkt, id: id, refuse: refuse) : 0
        let slot: Int
        if let s = freeCompletionSlots.popLast() {
            slot = s
            completionSlots[s] = (pkt, id, refuse)
        } else {
            slot = completionSlots.count
            completionSlots.append((pkt, id, refuse))
            completionEvents.append(CompletionEvent(run: { [unowned self] in self.completeSlot(slot) }))
        }
        schedule(t, completionEvents[slot].run)
    }

    private func completeSlot(_ s: Int) {
        guard let c = completionSlots[s] else { return }
        completionSlots[s] = nil
        freeCompletionSlots.append(s)
        complete(c.pkt, id: c.id, refuse: c.refuse)
    }

    /// The poll's event, made once (not a closure per signal).
    private lazy var pollEvent: () -> Void = { [unowned self] in
        self.pollScheduled = false
        self.poll()
    }

    func poll() {
        retryBlockedSends()
        if now < stalledUntil {
            signalledLater(at: stalledUntil)
            return
        }
        if faults.ringFull > 0 && inject("ring-full", faults.ringFull) {
            stats.stalls += 1
            stalledUntil = now + faults.stallTicks
            signalledLater(at: stalledUntil)
            return
        }
        while let bytes = channel.hostReceive() {
            receive(bytes)
        }
    }

    private func signalledLater(at t: UInt64) {
        pollScheduled = true
        eventTag = SimulatedVSP.pollTag
        schedule(t, pollEvent)
    }

    // MARK: checking a packet

    /// Checks one guest packet; returns the decoded packet when every rule holds.
    func check(_ bytes: [UInt8]) -> (GPADirectPacket?, UInt64) {
        let transId = bytes.count >= 16 ? bytes.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(fromByteOffset: 8, as: UInt64.self)) } : 0
        let pkt: GPADirectPacket
        do { pkt = try GPADirectPacket.decode(bytes) } catch {
            log.report("host.packet.malformed", "request id \(transId): \(error)")
            return (nil, transId)
        }
        var ok = true
        // A broken rule the host can see past (the request is still well defined) is reported
        // and, unless the host is strict, the request is executed anyway: a defect in one field
        // must not hide the next one behind a rejected request.
        func rule(_ r: String, _ holds: Bool, _ detail: @autoclosure () -> String, fatal: Bool = true) {
            if !holds {
                if fatal || strict { ok = false } else { stats.executedDespite += 1 }
                log.report(Rule("host." + r), "request id \(transId): \(detail())")
            }
        }
        rule("packet.type", pkt.type == .dataUsingGPADirect, "type \(pkt.type), expected VM_PKT_DATA_USING_GPA_DIRECT")
        rule("packet.flags", pkt.flags == PacketFlags.completionRequested, "flags 0x\(String(pkt.flags, radix: 16)), expected 0x1", fatal: false)
        rule("packet.request-id-zero", transId != 0, "request id 0 with completion requested: the host cannot answer")
        rule("mpb.rangecount", pkt.rangeCount == 1, "rangecount \(pkt.rangeCount), expected 1")
        rule("mpb.range-offset", pkt.rangeOffset == 0, "range.offset \(pkt.rangeOffset), expected 0")
        rule("mpb.range-len", Int(pkt.rangeLen) == pkt.pfns.count * AzBlob.pageSize,
             "range.len \(pkt.rangeLen) for \(pkt.pfns.count) PFNs", fatal: false)
        rule("mpb.page-limit", pkt.pfns.count <= AzBlob.maxPages, "\(pkt.pfns.count) pages, limit \(AzBlob.maxPages)")
        rule("mpb.length8", Int(pkt.length8) * 8 == (pkt.descriptorSize + VSPRequest.wireSize + 7) & ~7,
             "length8 \(pkt.length8) for a \(pkt.descriptorSize)-byte descriptor and a \(VSPRequest.wireSize)-byte payload", fatal: false)
        for (i, p) in pkt.pfns.enumerated() where !memory.isValid(p) {
            rule("mpb.pfn-unknown", false, "pfn_array[\(i)] = \(hex64(p)) is not guest memory")
            break
        }
        let r = pkt.request
        rule("request.version", r.version == AzBlob.protocolVersion, "version \(r.version), expected \(AzBlob.protocolVersion)", fatal: false)
        rule("request.operation", r.operation == .userRequest, "operation \(r.operation)", fatal: false)
        rule("request.zero-length", r.requestBufferLength > 0 && r.responseBufferLength > 0,
             "request_buffer_length \(r.requestBufferLength), response_buffer_length \(r.responseBufferLength)")
        rule("request.data-valid", r.dataBufferValid <= r.dataBufferLength || r.dataBufferLength == 0,
             "data_buffer_valid \(r.dataBufferValid) > data_buffer_length \(r.dataBufferLength)", fatal: false)
        let range = UInt64(pkt.rangeLen)
        let span = UInt64(pkt.pfns.count * AzBlob.pageSize)
        func inside(_ off: UInt32, _ len: UInt32, _ limit: UInt64 = range) -> Bool { UInt64(off) + UInt64(len) <= limit }
        // Beyond range.len but inside the PFN list the host can still find the buffer.
        let addressable = inside(r.dataBufferOffset, r.dataBufferLength, span) && inside(r.requestBufferOffset, r.requestBufferLength, span)
            && inside(r.responseBufferOffset, r.responseBufferLength, span)
        rule("request.buffer-bounds", inside(r.dataBufferOffset, r.dataBufferLength) && inside(r.requestBufferOffset, r.requestBufferLength)
             && inside(r.responseBufferOffset, r.responseBufferLength),
             "a buffer ends beyond range.len \(range): data \(r.dataBufferOffset)+\(r.dataBufferLength), request \(r.requestBufferOffset)+\(r.requestBufferLength), response \(r.responseBufferOffset)+\(r.responseBufferLength)", fatal: !addressable)
        // Data pages, then request pages, then response pages; no page shared between two.
        let page = UInt64(AzBlob.pageSize)
        func endPage(_ off: UInt32, _ len: UInt32) -> UInt64 { (UInt64(off) + UInt64(len) + page - 1) / page }
        let dataEnd = r.dataBufferLength == 0 ? 0 : endPage(r.dataBufferOffset, r.dataBufferLength)
        rule("request.region-order", UInt64(r.requestBufferOffset) / page >= dataEnd
             && UInt64(r.responseBufferOffset) / page >= endPage(r.requestBufferOffset, r.requestBufferLength)
             && (r.dataBufferLength == 0 || r.dataBufferOffset < UInt32(AzBlob.pageSize)),
             "regions out of order or overlapping: data \(r.dataBufferOffset)+\(r.dataBufferLength), request \(r.requestBufferOffset)+\(r.requestBufferLength), response \(r.responseBufferOffset)+\(r.responseBufferLength)", fatal: false)
        return (ok ? pkt : nil, transId)
    }

    // MARK: receiving and executing

    func receive(_ bytes: [UInt8]) {
        stats.received += 1
        onReceive?(bytes)
        let (checked, id) = check(bytes)
        guard let pkt = checked else {
            stats.rejected += 1
            if bytes.count >= GPADirectPacket.headerSize, let p = try? GPADirectPacket.decode(bytes) {
                _ = finished(p.request.transactionId)
            }
            // Only a packet that asked for a completion gets one: any other trans_id is the
            // guest's own value, and answering it could complete some other request.
            let flags = bytes.count >= 8 ? UInt16(bytes[6]) | UInt16(bytes[7]) << 8 : 0
            if id != 0 && flags & PacketFlags.completionRequested != 0 {
                send(CompletionPacket(requestId: id, response: VSPResponse(error: .invalidParameter)).encoded(),
                     Intent(requestId: id, transaction: nil, isCompletion: true))
            }
            return
        }
        track(id, pkt.request.transactionId)
        if inject("never-complete", faults.neverComplete) {
            stats.neverCompleted += 1
            held.append((pkt, id))
            return
        }
        var due = now + UInt64(rng.int(in: Int(faults.delay.lowerBound)...Int(faults.delay.upperBound)))
        if inject("reorder", faults.reorder) { due += UInt64(rng.int(in: 20...100)) }
        let refuse = inject("error-status", faults.errorStatus)
        scheduleCompletion(pkt, id: id, refuse: refuse, at: due)
    }

    func complete(_ pkt: GPADirectPacket, id: UInt64, refuse: Bool) {
        // Once the guest has closed the channel the host lets go of everything it was handed.
        guard channel.state == .open else {
            stats.abandonedAtClose += 1
            track(id, nil)
            _ = finished(pkt.request.transactionId)
            return
        }
        let r = pkt.request
        var response = VSPResponse(error: .unsuccessful, responseLen: 0)
        if let early = finished(r.transactionId) {
            if faults.sendsForeignCompletions {
                // The guest acted on a completion the host sent with an id it did not own.
                misdeliveredTransactions.insert(r.transactionId)
                log.report("integrity.completion-misdelivered",
                           "the ioctl for transaction \(r.transactionId) (request id \(id)) returned \(early) before the host completed it: it took a completion the host sent with an id it did not own")
            } else {
                log.report("guest.completed-before-host",
                           "the ioctl for transaction \(r.transactionId) (request id \(id)) returned \(early) before the host completed it, and the host sent no completion for it")
            }
        }
        if misdeliveredTransactions.contains(r.transactionId) {
            memory.hostAccessAttribution = "integrity.host-access-after-misdelivery"
        }
        defer { memory.hostAccessAttribution = nil }
        if !refuse {
            let len = Int(r.requestBufferLength)
            GuestBuffer(pfns: pkt.pfns, offset: Int(r.requestBufferOffset), count: len, valid: len, memory: memory).readValid(into: &requestStorage)
            let data = GuestBuffer(pfns: pkt.pfns, offset: Int(r.dataBufferOffset), count: Int(r.dataBufferLength),
                                   valid: Int(min(r.dataBufferValid, r.dataBufferLength)), memory: memory)
            let result = backend.execute(request: requestStorage, data: data,
                                         context: BackendRequest(transaction: r.transactionId, timeoutMs: r.timeoutMs, now: now))
            let responseBuffer = GuestBuffer(pfns: pkt.pfns, offset: Int(r.responseBufferOffset), count: Int(r.responseBufferLength),
                                             valid: 0, memory: memory)
            let n = responseBuffer.write(result.response[...])
            stats.bytesRead += len + min(data.valid, data.count)
            stats.bytesWritten += result.dataWritten + n
            response = VSPResponse(error: result.status, responseLen: UInt32(n))
            stats.executed += 1
        }
        track(id, nil)
        if inject("oversized-response-len", faults.oversizedResponseLen) {
            response.responseLen = r.responseBufferLength &+ UInt32(rng.int(in: 1...4096))
        }
        let intent = Intent(requestId: id, transaction: r.transactionId, isCompletion: true)
        if inject("wrong-type", faults.wrongType) {
            var d = PacketDescriptor(type: .dataInBand, offset8: 2, len8: 4, flags: 0, transId: id)
            d.len8 = 4
            sendExtra(CompletionPacket(descriptor: d, payload: VSPResponse(error: SimulatedVSP.inBandStatus, responseLen: 7).encoded() + [0, 0, 0, 0]).encoded(),
                      Intent(requestId: id, transaction: nil, isCompletion: false))
        }
        var bytes: [UInt8] = []
        swap(&bytes, &completionStorage)
        CompletionPacket.encode(requestId: id, response: response, into: &bytes)
        defer { swap(&bytes, &completionStorage) }
        if inject("short-completion", faults.shortCompletion) {
            // len8 = 3: 16-byte header + 8 bytes of which the response struct fills only 4.
            var d = PacketDescriptor(type: .completion, offset8: 2, len8: 3, flags: 0, transId: id)
            d.len8 = 3
            bytes = CompletionPacket(descriptor: d, payload: Array(response.encoded()[0..<4]) + [UInt8](repeating: SimulatedVSP.poison, count: 4)).encoded()
        }
        if inject("drop", faults.drop) {
            stats.dropped += 1
        } else {
            if inject("double-fetch", faults.doubleFetch), let ring = channel.inbound {
                let at = ring.writeIndex
                ring.armMutation(atPacket: at) { ring in ring.overwrite(at: Int(at) + 4, [0xff, 0xff]) }
            }
            send(bytes, intent)
        }
        if inject("duplicate", faults.duplicate) {
            let copy = bytes
            schedule(now + UInt64(rng.int(in: 1...10))) { [unowned self] in
                guard self.channel.state == .open else { return }
                self.sendExtra(copy, intent)
            }
        }
        extraCompletions(except: id)
    }

    private func extraCompletions(except id: UInt64) {
        if inject("unknown-id", faults.unknownId) {
            let bogus = UInt64(AzBlob.queueDepth) + UInt64(rng.int(in: 1...1_000_000))
            sendExtra(CompletionPacket(requestId: bogus, response: VSPResponse()).encoded(),
                      Intent(requestId: bogus, transaction: nil, isCompletion: true))
        }
        if inject("zero-id", faults.zeroId) {
            sendExtra(CompletionPacket(requestId: 0, response: VSPResponse()).encoded(),
                      Intent(requestId: 0, transaction: nil, isCompletion: true))
        }
        if rng.chance(faults.forgedId) {
            let others = inFlight.keys.filter { $0 != id }.sorted()
            if !others.isEmpty {
                stats.injected["forged-id", default: 0] += 1
                let victim = others[rng.int(in: 0...(others.count - 1))]
                sendExtra(CompletionPacket(requestId: victim, response: VSPResponse(responseLen: 0)).encoded(),
                          Intent(requestId: victim, transaction: nil, isCompletion: true))
            }
        }
    }

    private func sendExtra(_ bytes: [UInt8], _ intent: Intent) {
        stats.extraPackets += 1
        send(bytes, intent)
    }

    private func send(_ bytes: [UInt8], _ intent: Intent) {
        if !blockedSends.isEmpty {
            blockedSends.append((bytes, intent))
            return
        }
        if !trySend(bytes, intent) {
            stats.ringFullWaits += 1
            blockedSends.append((bytes, intent))
        }
    }

    private func trySend(_ bytes: [UInt8], _ intent: Intent) -> Bool {
        guard let ring = channel.inbound else { return false }
        let at = ring.writeIndex
        guard channel.hostSend(bytes) else { return false }
        intents[at] = intent
        if intent.isCompletion && intent.transaction != nil { stats.completionsSent += 1 }
        return true
    }

    private func retryBlockedSends() {
        while let first = blockedSends.first {
            guard channel.state == .open else { blockedSends.removeAll(); return }
            if !trySend(first.bytes, first.intent) { return }
            blockedSends.removeFirst()
        }
        channel.inbound?.pendingSendSize = 0
    }

    /// Requests the never-complete fault kept: the host holds them (and may touch their pages)
    /// until it completes them (`completeHeld`) or the channel closes.
    private var held: [(packet: GPADirectPacket, id: UInt64)] = []
    public var heldCount: Int { held.count }

    /// The host answers, late, every request it held: each is executed and completed now.
    /// Returns how many.
    @discardableResult
    public func completeHeld() -> Int {
        let h = held
        held = []
        for (pkt, id) in h {
            scheduleCompletion(pkt, id: id, refuse: false, at: now)
        }
        return h.count
    }

    /// Completions waiting for room in the host->guest ring.
    public var blockedSendCount: Int { blockedSends.count }

    // MARK: checkpoint and reset

    /// The host's state at a checkpoint (taken with nothing in flight): all values.
    struct Checkpoint {
        let faults: FaultPlan
        let rng: SeededRandom
        let backend: BlobBackend
        let strict: Bool
        let stats: Stats
        let intents: [UInt32: Intent]
        let onReceive: (([UInt8]) -> Void)?
        let finishedByHost: Set<GUID>
        let returnedEarly: [GUID: Errno]
        let misdelivered: Set<GUID>
        let stalledUntil: UInt64
        let pollScheduled: Bool
    }

    /// Why the host cannot be checkpointed now, nil when it can.
    var notQuiescent: String? {
        if !inFlight.isEmpty { return "\(inFlight.count) request(s) in flight at the host" }
        if !blockedSends.isEmpty { return "\(blockedSends.count) completion(s) wait for room in the ring" }
        return nil
    }

    func checkpoint() -> Checkpoint {
        Checkpoint(faults: faults, rng: rng, backend: backend, strict: strict, stats: stats, intents: intents, onReceive: onReceive,
                   finishedByHost: finishedByHost, returnedEarly: returnedEarly, misdelivered: misdeliveredTransactions,
                   stalledUntil: stalledUntil, pollScheduled: pollScheduled)
    }

    func restore(_ c: Checkpoint) {
        faults = c.faults; rng = c.rng; backend = c.backend; strict = c.strict; stats = c.stats
        intents = c.intents; onReceive = c.onReceive
        finishedByHost = c.finishedByHost; returnedEarly = c.returnedEarly; misdeliveredTransactions = c.misdelivered
        stalledUntil = c.stalledUntil; pollScheduled = c.pollScheduled
        inFlight.removeAll(keepingCapacity: true)
        blockedSends.removeAll(keepingCapacity: true)
        // The machine's queue dropped every event: no slot waits for one any more.
        freeCompletionSlots.removeAll(keepingCapacity: true)
        for s in completionSlots.indices.reversed() {
            completionSlots[s] = nil
            freeCompletionSlots.append(s)
        }
    }
}

extension SimulatedVSP {
    static let pollTag: UInt64 = 2

    /// The tag of a completion event: the packet it answers, its request id, refused or not.
    static func completeTag(_ pkt: GPADirectPacket, id: UInt64, refuse: Bool) -> UInt64 {
        var h = Hasher64()
        h.add(3)
        h.add(id)
        h.add(refuse)
        // The packet's fields (not its encoding: no bytes built per request for a tag).
        h.add(UInt64(pkt.type.rawValue)); h.add(UInt32(pkt.dataOffset8)); h.add(UInt32(pkt.length8)); h.add(UInt32(pkt.flags))
        h.add(pkt.transactionId); h.add(pkt.reserved); h.add(pkt.rangeCount); h.add(pkt.rangeLen); h.add(pkt.rangeOffset)
        h.add(pkt.pfns.count)
        for p in pkt.pfns { h.add(p) }
        let r = pkt.request
        h.add(r.version); h.add(r.timeoutMs); h.add(r.dataBufferOffset); h.add(r.dataBufferLength); h.add(r.dataBufferValid)
        h.add(r.operation.rawValue); h.add(r.requestBufferOffset); h.add(r.requestBufferLength)
        h.add(r.responseBufferOffset); h.add(r.responseBufferLength); h.add(r.transactionId.low); h.add(r.transactionId.high)
        h.add(pkt.trailingPadding.count)
        for b in pkt.trailingPadding { h.add(UInt64(b)) }
        return h.value | 1 << 63
    }

    /// The host's state for the explorer's digest: its random stream, counters, what it
    /// holds and knows of each request, its backend's blobs. False for a backend other than
    /// the Blob store.
    func stateDigest(into h: inout Hasher64) -> Bool {
        guard let store = backend as? BlobStore else { return false }
        rng.digest(into: &h)
        let s = stats
        for x in [s.received, s.rejected, s.executed, s.completionsSent, s.extraPackets, s.dropped, s.neverCompleted,
                  s.abandonedAtClose, s.ringFullWaits, s.stalls, s.bytesRead, s.bytesWritten, s.executedDespite] { h.add(x) }
        h.add(s.inFlightAtRescind.map { UInt64($0) })
        for k in s.injected.keys.sorted() { h.add(k); h.add(s.injected[k]!) }
        h.add(intents.count)
        for k in intents.keys.sorted() {
            let i = intents[k]!
            h.add(k); h.add(i.requestId); h.add(i.isCompletion); h.add(bytes: i.transaction?.bytes ?? [])
        }
        h.add(inFlight.count)
        for k in inFlight.keys.sorted() { h.add(k); h.add(bytes: inFlight[k]!.bytes) }
        h.add(finishedByHost.count)
        for g in finishedByHost.map(\.bytes).sorted(by: { $0.lexicographicallyPrecedes($1) }) { h.add(bytes: g) }
        h.add(returnedEarly.count)
        for (g, e) in returnedEarly.map({ ($0.key.bytes, $0.value) }).sorted(by: { $0.0.lexicographicallyPrecedes($1.0) }) {
            h.add(bytes: g); h.add(Int(e.rawValue))
        }
        h.add(misdeliveredTransactions.count)
        for g in misdeliveredTransactions.map(\.bytes).sorted(by: { $0.lexicographicallyPrecedes($1) }) { h.add(bytes: g) }
        h.add(stalledUntil)
        h.add(pollScheduled)
        h.add(blockedSends.count)
        for b in blockedSends { h.add(bytes: b.bytes); h.add(b.intent.requestId); h.add(b.intent.isCompletion) }
        h.add(held.count)
        for x in held { h.add(x.id); h.add(bytes: x.packet.encoded()) }
        h.add(strict)
        h.add(store.blobs.count)
        for k in store.blobs.keys.sorted() { h.add(k); h.add(bytes: store.blobs[k]!) }
        return true
    }
}
