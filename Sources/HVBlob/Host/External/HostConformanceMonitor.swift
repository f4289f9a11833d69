// SPDX-License-Identifier: Apache-2.0
#if canImport(Glibc)
import Glibc
#endif

/// Watches what an out-of-process host does, from the guest's side: every packet the guest put
/// in the guest->host ring (the requests in flight), every packet the host put in the
/// host->guest ring, the ring headers, and (with `memoryChecks`) every byte of guest memory the
/// host changed while it acted on a control message — the guest does not run meanwhile, so
/// each change is the host's. Findings go to its own log under `vsp.*` rules (verify-host);
/// the run itself is not changed by them.
public final class HostConformanceMonitor {
    /// One request the guest sent, as the host must understand it.
    public struct Sent {
        public let requestId: UInt64
        public let pfns: [UInt64]
        public let request: VSPRequest?
        /// false for a packet hvblob made malformed on purpose (verify-host's hostile guest).
        public var wellFormed: Bool
    }

    public let log = ViolationLog(detailsPerRule: 5)
    public var memoryChecks = false
    public private(set) var inFlight: [UInt64: Sent] = [:]
    /// Request ids whose completion the host already sent (each at most once).
    public private(set) var completed: [UInt64: VSPResponse] = [:]
    /// Evidence: what happened, for checks that must prove they ran.
    public private(set) var requestsSeen = 0
    public private(set) var completionsSeen = 0
    public private(set) var interactions = 0
    /// Requests in flight when the guest sent RESCIND (nil: no rescind yet).
    public private(set) var inFlightAtRescind: Int?
    public private(set) var bytesCompared = 0
    /// Times the host made the empty, unmasked host->guest ring non-empty (the signal rule applied).
    public private(set) var signalOpportunities = 0
    /// Times the host's read freed room past the guest's pending_send_sz (that rule applied).
    public private(set) var pendingOpportunities = 0
    /// Set when the host answered CLOSE or RESCIND: from then on it must touch nothing.
    public private(set) var quietSince: HostMessage.Kind?
    /// Ids that hvblob sent malformed on purpose: the host may answer them with an error or not at all.
    public var hostile: Set<UInt64> = []
    /// Completions with status 0 for a hostile request.
    public private(set) var hostileAccepted: [UInt64] = []
    public private(set) var hostileAnswered: [UInt64: UInt32] = [:]

    private var outbound: RingBuffer?
    private var inbound: RingBuffer?
    private var memory: GuestMemory?
    private var shared: SharedGuestMemory?
    private var lastOutWrite: UInt32 = 0
    private var lastInWrite: UInt32 = 0

    // State captured before the host runs.
    private var before: (outRead: UInt32, inWrite: UInt32, inRead: UInt32, inMask: UInt32, inFree: Int,
                         outFree: Int, outPending: UInt32, outWrite: UInt32, outFeatures: UInt32)?
    private var snapshotPFNs: [UInt64] = []
    private var snapshot: [UInt8] = []
    private var outImage: [UInt8] = []
    private var inFlightAtStart: [UInt64: Sent] = [:]

    public init() {}

    /// The guest's own log: a host write into a page the guest pinned without write intent is
    /// the guest's defect (`pin.host-write-without-write-intent`), as in process. Out of process
    /// it is seen as a change of such a page while the host acted, once per page and message
    /// (in process: once per write call), and not at all when the host wrote the bytes that
    /// were there.
    weak var guestLog: ViolationLog?
    private var readOnlyPins: [(pfn: UInt64, bytes: [UInt8])] = []

    public var inFlightCount: Int { inFlight.count }

    /// The guest machine's recorder, when it records (`hvblob guest --record`): what the host
    /// did becomes capture records as the in-process host's do — its packets as ring-packet
    /// records, and before each completion the bytes it changed in that request's response and
    /// data buffers as host-write records (one per page, from the first to the last byte that
    /// changed: a byte the host rewrote with the value already there is not seen).
    public weak var recorder: CaptureRecorder?
    /// Each request's writable buffers as the guest handed them over, page by page.
    private var writable: [UInt64: [(pfn: UInt64, offset: Int, bytes: [UInt8])]] = [:]

    private func snapshotWritable(_ id: UInt64, _ pkt: GPADirectPacket) {
        guard let shared else { return }
        let r = pkt.request
        var pieces: [(pfn: UInt64, offset: Int, bytes: [UInt8])] = []
        for (off, len) in [(r.dataBufferOffset, r.dataBufferLength), (r.responseBufferOffset, r.responseBufferLength)] where len > 0 {
            var at = Int(off), left = Int(len)
            while left > 0 {
                let page = at / AzBlob.pageSize, inPage = at % AzBlob.pageSize
                guard page < pkt.pfns.count, let p = shared.page(pkt.pfns[page]) else { break }
                let n = min(left, AzBlob.pageSize - inPage)
                pieces.append((pkt.pfns[page], inPage, Array(UnsafeRawBufferPointer(start: p + inPage, count: n))))
                at += n
                left -= n
            }
        }
        writable[id] = pieces
    }

    /// Host-write records for what the host changed in request `id`'s buffers.
    private func recordWrites(_ id: UInt64) {
        guard let recorder, let shared, let pieces = writable.removeValue(forKey: id) else { return }
        for piece in pieces {
            guard let p = shared.page(piece.pfn) else { continue }
            let now = UnsafeRawBufferPointer(start: p + piece.offset, count: piece.bytes.count)
            guard let first = piece.bytes.indices.first(where: { piece.bytes[$0] != now[$0] }),
                  let last = piece.bytes.indices.last(where: { piece.bytes[$0] != now[$0] }) else { continue }
            recorder.hostWrite(piece.pfn, offset: piece.offset + first, from: p + piece.offset + first, count: last - first + 1)
        }
    }

    func opened(outbound: RingBuffer, inbound: RingBuffer, memory: GuestMemory, shared: SharedGuestMemory) {
        self.outbound = outbound
        self.inbound = inbound
        self.memory = memory
        self.shared = shared
        lastOutWrite = outbound.writeIndex
        lastInWrite = inbound.writeIndex
        inFlight = [:]
        completed = [:]
        writable = [:]
        hostile = []
        hostileAnswered = [:]
        hostileAccepted = []
        quietSince = nil
    }

    func report(_ rule: String, _ detail: @autoclosure () -> String) { log.report(Rule(rule), detail()) }

    /// Cyclic distance from a to b in a ring's data area.
    private func dist(_ a: UInt32, _ b: UInt32, _ ring: RingBuffer) -> Int {
        let a = Int(a), b = Int(b)
        return b >= a ? b - a : ring.dataSize - a + b
    }

    // MARK: the guest's packets

    /// Reads the packets the guest wrote since the last look (the requests now in flight).
    public func scanOutbound() {
        guard let ring = outbound else { return }
        let w = ring.writeIndex
        var p = lastOutWrite
        while p != w, dist(p, w, ring) >= PacketDescriptor.wireSize {
            let len = Int(ring.loadU16(at: Int(p) + 4)) * 8
            let flags = ring.loadU16(at: Int(p) + 6)
            let id = ring.loadU64(at: Int(p) + 8)
            // hvblob wrote these: a len8 that does not frame is one of its own hostile packets.
            let framed = len >= PacketDescriptor.wireSize && len + RingBuffer.trailerSize <= dist(p, w, ring)
            let n = framed ? len : dist(p, w, ring) - RingBuffer.trailerSize
            var bytes = [UInt8](repeating: 0, count: max(0, min(n, 1 << 17)))
            bytes.withUnsafeMutableBytes { ring.copyOut(at: Int(p), into: $0.baseAddress!, count: $0.count) }
            let pkt = try? GPADirectPacket.decode(bytes)
            if flags & PacketFlags.completionRequested != 0 {
                requestsSeen += 1
                inFlight[id] = Sent(requestId: id, pfns: pkt.map { Array($0.pfns) } ?? [], request: pkt?.request, wellFormed: pkt != nil && !hostile.contains(id))
                if recorder != nil, let pkt { snapshotWritable(id, pkt) }
            }
            if !framed { break }
            p = UInt32((Int(p) + len + RingBuffer.trailerSize) % ring.dataSize)
        }
        lastOutWrite = w
    }

    // MARK: around each control message

    func beforeHost(_ kind: HostMessage.Kind, now: UInt64) {
        scanOutbound()
        if kind == .rescind { inFlightAtRescind = inFlight.count }
        guard let out = outbound, let inb = inbound else { return }
        before = (out.readIndex, inb.writeIndex, inb.readIndex, inb.interruptMask, inb.bytesToWrite,
                  out.bytesToWrite, out.pendingSendSize, out.writeIndex, out.featureBits)
        inFlightAtStart = inFlight
        if memoryChecks || quietSince != nil { takeSnapshot() }
        readOnlyPins = []
        if let memory, let shared, guestLog != nil, kind == .signal || kind == .run {
            for pfn in memory.framesInUseByPFN where memory.pinCount(pfn) > 0 && memory.writePinCount(pfn) == 0 {
                if let p = shared.page(pfn) { readOnlyPins.append((pfn, Array(UnsafeRawBufferPointer(start: p, count: AzBlob.pageSize)))) }
            }
        }
    }

    private func takeSnapshot() {
        guard let memory, let shared, let out = outbound else { return }
        snapshotPFNs = memory.framesInUseByPFN
        snapshot = [UInt8](repeating: 0, count: snapshotPFNs.count * AzBlob.pageSize)
        snapshot.withUnsafeMutableBytes { dst in
            for (i, pfn) in snapshotPFNs.enumerated() {
                if let p = shared.page(pfn) { (dst.baseAddress! + i * AzBlob.pageSize).copyMemory(from: p, byteCount: AzBlob.pageSize) }
            }
        }
        outImage = out.image
    }

    func afterHost(_ kind: HostMessage.Kind, now: UInt64, interrupts: Int, status: Int32) {
        interactions += 1
        if status != 0 && kind != .open {
            report("vsp.control.done", "the host answered \(kind) with status \(status)")
        }
        guard let out = outbound, let inb = inbound, let b = before else { return }
        // Ring headers: each side writes only its own fields.
        if out.writeIndex != b.outWrite || out.pendingSendSize != b.outPending || out.featureBits != b.outFeatures {
            report("vsp.ring.header", "during \(kind) the host changed a guest-owned field of the guest->host ring header (write_index \(b.outWrite)->\(out.writeIndex), pending_send_sz \(b.outPending)->\(out.pendingSendSize), feature_bits \(b.outFeatures)->\(out.featureBits))")
        }
        if inb.readIndex != b.inRead || inb.interruptMask != b.inMask {
            report("vsp.ring.header", "during \(kind) the host changed a guest-owned field of the host->guest ring header (read_index \(b.inRead)->\(inb.readIndex), interrupt_mask \(b.inMask)->\(inb.interruptMask))")
        }
        // Read index: moves forward, never past what the guest wrote.
        let consumed = dist(b.outRead, out.readIndex, out), written = dist(b.outRead, out.writeIndex, out)
        if out.readIndex >= UInt32(out.dataSize) || consumed > written {
            report("vsp.ring.read-index", "during \(kind) the host set the guest->host read_index to \(out.readIndex): \(consumed) bytes past \(b.outRead), but only \(written) were written")
        }
        // pending_send_sz (Linux's hv_pkt_iter_close rule): room crossed what the guest waits for.
        if b.outFeatures & RingBuffer.featurePendingSendSize != 0, b.outPending != 0,
           b.outFree <= Int(b.outPending), out.bytesToWrite > Int(b.outPending) {
            pendingOpportunities += 1
        }
        if b.outFeatures & RingBuffer.featurePendingSendSize != 0, b.outPending != 0,
           b.outFree <= Int(b.outPending), out.bytesToWrite > Int(b.outPending), interrupts == 0 {
            report("vsp.ring.pending-send-sz", "during \(kind) the host freed the guest->host ring from \(b.outFree) to \(out.bytesToWrite) bytes, past pending_send_sz \(b.outPending), and sent no interrupt")
        }
        if let memory, let shared, let guestLog {
            for (pfn, was) in readOnlyPins {
                guard let p = shared.page(pfn), memcmp(was, p, AzBlob.pageSize) != 0 else { continue }
                let what = pfn == memory.zeroPFN ? " (the shared zero page)" : ""
                guestLog.report("pin.host-write-without-write-intent", "the host wrote PFN \(hex64(pfn))\(what), pinned without write intent (the page changed while the host acted on \(kind))")
            }
        }
        scanInbound(kind: kind, before: b, interrupts: interrupts)
        if memoryChecks || quietSince != nil { compareSnapshot(kind) }
        if status == 0 && (kind == .close || kind == .rescind) {
            quietSince = kind
        }
    }

    func unsolicited(now: UInt64) {
        guard let inb = inbound else { return }
        // An asynchronous host: packets since the last look (no memory attribution possible).
        let b = (outRead: outbound?.readIndex ?? 0, inWrite: lastInWrite, inRead: inb.readIndex, inMask: inb.interruptMask,
                 inFree: inb.bytesToWrite, outFree: 0, outPending: UInt32(0), outWrite: outbound?.writeIndex ?? 0, outFeatures: UInt32(0))
        scanInbound(kind: .interrupt, before: b, interrupts: 1)
    }

    func hostFailed(during kind: HostMessage.Kind, why: String) {
        report("vsp.control.done", "while acting on \(kind): \(why)")
    }

    // MARK: the host's packets

    private func scanInbound(kind: HostMessage.Kind, before b: (outRead: UInt32, inWrite: UInt32, inRead: UInt32, inMask: UInt32, inFree: Int, outFree: Int, outPending: UInt32, outWrite: UInt32, outFeatures: UInt32), interrupts: Int) {
        guard let ring = inbound else { return }
        let w = ring.writeIndex
        if w >= UInt32(ring.dataSize) || w % 8 != 0 {
            report("vsp.ring.framing", "the host set the host->guest write_index to \(w) (data area \(ring.dataSize) bytes, must be a multiple of 8)")
            lastInWrite = w % UInt32(ring.dataSize)
            return
        }
        let written = dist(lastInWrite, w, ring)
        if written == 0 { return }
        if quietSince != nil {
            report(quietSince == .close ? "vsp.lifecycle.close" : "vsp.lifecycle.rescind",
                   "after its DONE for \(quietSince!) the host wrote \(written) bytes into the host->guest ring (during \(kind))")
        }
        if written >= b.inFree && lastInWrite == b.inWrite {
            report("vsp.ring.overrun", "during \(kind) the host wrote \(written) bytes into a host->guest ring with \(b.inFree) free (read_index \(ring.readIndex)): it ran over the guest's read index")
        }
        if lastInWrite == b.inWrite && b.inWrite == b.inRead && b.inMask == 0 { signalOpportunities += 1 }
        if lastInWrite == b.inWrite && b.inWrite == b.inRead && b.inMask == 0 && interrupts == 0 {
            report("vsp.ring.signal", "during \(kind) the host made the empty host->guest ring non-empty (\(written) bytes) with interrupt_mask 0 and sent no interrupt")
        }
        var p = lastInWrite
        while p != w {
            let avail = dist(p, w, ring)
            guard avail >= PacketDescriptor.wireSize + RingBuffer.trailerSize else {
                report("vsp.ring.framing", "\(avail) bytes at host->guest ring offset \(p) do not hold a packet and its trailer")
                break
            }
            let type = ring.loadU16(at: Int(p))
            let off8 = ring.loadU16(at: Int(p) + 2)
            let len8 = ring.loadU16(at: Int(p) + 4)
            let id = ring.loadU64(at: Int(p) + 8)
            let len = Int(len8) * 8
            guard len >= PacketDescriptor.wireSize, len + RingBuffer.trailerSize <= avail else {
                report("vsp.ring.framing", "the packet at host->guest ring offset \(p) claims len8 \(len8) (\(len) bytes); \(avail) bytes were written from there, trailer included")
                break
            }
            let trailer = ring.loadU64(at: (Int(p) + len) % ring.dataSize)
            if trailer != UInt64(p) << 32 {
                report("vsp.ring.trailer", "the trailer after the packet at offset \(p) is \(hex64(trailer)), expected \(hex64(UInt64(p) << 32)) (the packet's offset << 32)")
            }
            let next = UInt32((Int(p) + len + RingBuffer.trailerSize) % ring.dataSize)
            if let recorder {
                if type == PacketType.completion.rawValue && inFlight[id] != nil { recordWrites(id) }
                var bytes = [UInt8](repeating: 0, count: len)
                bytes.withUnsafeMutableBytes { ring.copyOut(at: Int(p), into: $0.baseAddress!, count: len) }
                recorder.ringPacket(.hostToGuest, before: p, after: next, bytes: bytes)
            }
            completion(at: Int(p), type: type, off8: off8, len8: len8, id: id, ring: ring)
            p = next
        }
        lastInWrite = w
    }

    private func completion(at p: Int, type: UInt16, off8: UInt16, len8: UInt16, id: UInt64, ring: RingBuffer) {
        completionsSeen += 1
        guard type == PacketType.completion.rawValue else {
            report("vsp.completion.type", "the host's packet at offset \(p) (request id \(id)) has type \(type), expected 11 (VM_PKT_COMP)")
            return
        }
        let off = Int(off8) * 8, len = Int(len8) * 8
        guard off >= PacketDescriptor.wireSize, off <= len, len - off >= VSPResponse.wireSize else {
            report("vsp.completion.descriptor", "the completion for request id \(id) has offset8 \(off8), len8 \(len8): payload \(len - off) bytes at \(off), need 12 at >= 16")
            return
        }
        let response = VSPResponse(length: ring.loadU32(at: p + off), error: VSPStatus(rawValue: ring.loadU32(at: p + off + 4)),
                                   responseLen: ring.loadU32(at: p + off + 8))
        guard let sent = inFlight.removeValue(forKey: id) else {
            if completed[id] != nil {
                report("vsp.completion.exactly-once", "request id \(id) completed a second time")
            } else {
                report("vsp.completion.request-id", "a completion for request id \(id), which the guest never sent or has no request in flight")
            }
            return
        }
        completed[id] = response
        if hostile.contains(id) {
            hostileAnswered[id] = response.error.rawValue
            if response.error == .success { hostileAccepted.append(id) }
        }
        if let r = sent.request, response.responseLen > r.responseBufferLength {
            report("vsp.completion.response-len", "request id \(id): response_len \(response.responseLen) exceeds the response buffer's \(r.responseBufferLength) bytes")
        }
    }

    // MARK: guest memory

    /// What a host may write, page by page: the response and data buffers of the requests in
    /// flight when it started acting, up to their lengths.
    private func allowedRanges() -> (allowed: [UInt64: [Range<Int>]], request: [UInt64: [Range<Int>]]) {
        var allowed: [UInt64: [Range<Int>]] = [:], request: [UInt64: [Range<Int>]] = [:]
        func add(_ into: inout [UInt64: [Range<Int>]], _ pfns: [UInt64], _ off: UInt32, _ len: UInt32) {
            var at = Int(off), left = Int(len)
            while left > 0 {
                let page = at / AzBlob.pageSize, inPage = at % AzBlob.pageSize
                guard page < pfns.count else { return }
                let n = min(left, AzBlob.pageSize - inPage)
                into[pfns[page], default: []].append(inPage..<(inPage + n))
                at += n; left -= n
            }
        }
        for s in inFlightAtStart.values {
            guard let r = s.request else { continue }
            add(&allowed, s.pfns, r.responseBufferOffset, r.responseBufferLength)
            if r.dataBufferLength > 0 { add(&allowed, s.pfns, r.dataBufferOffset, r.dataBufferLength) }
            add(&request, s.pfns, r.requestBufferOffset, r.requestBufferLength)
        }
        return (allowed, request)
    }

    private func compareSnapshot(_ kind: HostMessage.Kind) {
        guard let shared, let out = outbound, !snapshotPFNs.isEmpty || !outImage.isEmpty else { return }
        var lazyRanges: (allowed: [UInt64: [Range<Int>]], request: [UInt64: [Range<Int>]])?
        let given = Set(inFlightAtStart.values.flatMap(\.pfns))
        snapshot.withUnsafeBytes { old in
            for (i, pfn) in snapshotPFNs.enumerated() {
                guard let now = shared.page(pfn) else { continue }
                let was = old.baseAddress! + i * AzBlob.pageSize
                bytesCompared += AzBlob.pageSize
                if memcmp(was, now, AzBlob.pageSize) == 0 { continue }
                let a = was.assumingMemoryBound(to: UInt8.self), b = now.assumingMemoryBound(to: UInt8.self)
                var changed: [Int] = []
                for j in 0..<AzBlob.pageSize where a[j] != b[j] { changed.append(j) }
                let first = changed.first!, last = changed.last!
                if let q = quietSince {
                    report(q == .close ? "vsp.lifecycle.close" : "vsp.lifecycle.rescind",
                           "after its DONE for \(q) the host wrote \(changed.count) byte(s) of PFN \(hex64(pfn)) (offsets \(first)...\(last)) during \(kind)")
                    continue
                }
                if !given.contains(pfn) {
                    report("vsp.write.page-not-given", "during \(kind) the host wrote \(changed.count) byte(s) of PFN \(hex64(pfn)) (offsets \(first)...\(last)), a page no request in flight gave it")
                    continue
                }
                if lazyRanges == nil { lazyRanges = allowedRanges() }
                let ranges = lazyRanges!
                let inRequest = changed.filter { j in ranges.request[pfn]?.contains { $0.contains(j) } ?? false }
                if !inRequest.isEmpty {
                    report("vsp.write.request-buffer", "during \(kind) the host wrote \(inRequest.count) byte(s) of a request buffer (PFN \(hex64(pfn)), offsets \(inRequest.first!)...\(inRequest.last!))")
                }
                let outside = changed.filter { j in !(ranges.allowed[pfn]?.contains { $0.contains(j) } ?? false) && !(ranges.request[pfn]?.contains { $0.contains(j) } ?? false) }
                if !outside.isEmpty {
                    report("vsp.write.outside-buffers", "during \(kind) the host wrote \(outside.count) byte(s) of PFN \(hex64(pfn)) outside the response and data buffers (offsets \(outside.first!)...\(outside.last!))")
                }
            }
        }
        // The guest->host ring: the host writes its read_index (and may set its interrupt_mask), nothing else.
        let img = out.image
        var diffs: [Int] = []
        for j in 0..<min(img.count, outImage.count) where img[j] != outImage[j] && !(4..<12).contains(j) { diffs.append(j) }
        bytesCompared += img.count
        if !diffs.isEmpty {
            report("vsp.write.page-not-given", "during \(kind) the host wrote \(diffs.count) byte(s) of the guest->host ring outside read_index and interrupt_mask (ring offsets \(diffs.first!)...\(diffs.last!))")
        }
    }

    /// Takes a snapshot now (the guest is idle): `quietCheck` compares against it later.
    public func markQuiet() {
        takeSnapshot()
        lastInWrite = inbound?.writeIndex ?? lastInWrite
    }

    /// After the host said DONE to CLOSE or RESCIND: nothing may have changed since `markQuiet`.
    public func quietCheck(_ what: String) {
        guard quietSince != nil, let inb = inbound else { return }
        compareSnapshot(.interrupt)
        if inb.writeIndex != lastInWrite {
            report(quietSince == .close ? "vsp.lifecycle.close" : "vsp.lifecycle.rescind",
                   "after its DONE for \(quietSince!) the host moved the host->guest write_index \(lastInWrite)->\(inb.writeIndex) (\(what))")
        }
    }
}
