// SPDX-License-Identifier: Apache-2.0

/// `hvblob guest --replay FILE` against an out-of-process host: the guest side of a capture —
/// channel open, close and rescind, the ring states the guest set, every guest->host packet
/// with the page bytes it handed over (guest-data records; else the request buffer from its
/// ioctl record) — is played to the host, in the capture's order and virtual time, and what the
/// host answers is compared with what the capture's host answered, request by request: its
/// completions (request id, packet type and descriptor, status, response_len), the bytes it left
/// in the response buffer and the data it wrote into the data buffer. The host is watched as
/// verify-host watches it (its `vsp.*` findings are reported too), and a host that dies or hangs
/// is named with the record it was acting on. PFNs are the capture's own (the replay's guest
/// memory gives every page the PFN it had).
public enum HostReplay {
    public struct Report: Sendable {
        public var records = 0
        public var channels = 0
        public var guestPackets = 0
        public var requestsCompared = 0
        public var requestsMatched = 0
        public var hostPacketsExpected = 0
        public var hostPacketsSeen = 0
        /// One line per request whose answer differs, in the capture's order.
        public var differences: [String] = []
        /// What the host broke while it was watched (rule, detail).
        public var findings: [(rule: String, detail: String)] = []
        public var hostFailure: String?
        public var notes: [String] = []
        public var comment: String?
        public var clean: Bool { differences.isEmpty && findings.isEmpty && hostFailure == nil }

        public func render(file: String, host: String) -> String {
            var s = "replay of \(file) against \(host): \(records) records on \(channels) channel(s)\n"
            if let c = comment { s += "capture says: \(c)\n" }
            for n in notes { s += "note: \(n)\n" }
            s += "guest packets sent: \(guestPackets); host packets: \(hostPacketsSeen) (the capture's host: \(hostPacketsExpected))\n"
            s += "requests compared: \(requestsCompared), \(requestsMatched) answered as in the capture\n"
            for d in differences.prefix(40) { s += "differs: \(d)\n" }
            if differences.count > 40 { s += "differs: ... \(differences.count - 40) more\n" }
            for f in findings.prefix(20) { s += "finding: \(f.rule): \(f.detail)\n" }
            if findings.count > 20 { s += "finding: ... \(findings.count - 20) more\n" }
            if let f = hostFailure { s += "host: \(f)\n" }
            if clean {
                s += "verdict: the host answers as the capture's host did\n"
            } else {
                var why: [String] = []
                if !differences.isEmpty { why.append("\(differences.count) difference(s)") }
                if !findings.isEmpty { why.append("\(Set(findings.map(\.rule)).count) host rule(s) broken") }
                if hostFailure != nil { why.append(hostFailure!.contains("hangs") ? "the host hung" : "the host died") }
                s += "verdict: DIFFERS: \(why.joined(separator: ", "))\n"
            }
            return s
        }
    }

    /// A guest packet the replay sent: where it is in the capture and in the replay's own
    /// recording, and its pages as sent.
    struct Sent {
        let index: Int
        let replayIndex: Int
        let id: UInt64
        let packet: GPADirectPacket?
        let base: [UInt64: [UInt8]]
    }

    /// One request's answer: its completion packets and the host's writes before each.
    struct Answer {
        var packets: [(record: Int, bytes: [UInt8])] = []
        var writes: [CaptureRecord.HostWrite] = []
    }

    /// The host's side of a capture, by request id (every completion-type packet and the host
    /// writes recorded just before it), plus packets that complete nothing.
    static func answers(_ records: [(index: Int, record: CaptureRecord)]) -> (byId: [UInt64: [Answer]], others: Int) {
        var byId: [UInt64: [Answer]] = [:]
        var pending: [CaptureRecord.HostWrite] = []
        var others = 0
        for (i, r) in records {
            if let w = r.hostWrite { pending.append(w); continue }
            guard r.kind == .ringPacket, r.direction == .hostToGuest, r.body.count >= 16 else { continue }
            let id = r.body.u64(8)
            if UInt16(r.body[0]) | UInt16(r.body[1]) << 8 != PacketType.completion.rawValue { others += 1 }
            byId[id, default: []].append(Answer(packets: [(i, r.body)], writes: pending))
            pending = []
        }
        return (byId, others)
    }

    /// Replays `capture` against the host of `session`.
    public static func run(_ capture: Capture, session: ExternalHostSession) -> Report {
        var report = Report()
        report.records = capture.records.count
        report.comment = capture.comment
        var channels: [UInt32] = []
        for r in capture.records where !channels.contains(r.channel) { channels.append(r.channel) }
        report.channels = channels.count
        let monitor = session.monitor
        let seen = monitor.log.violations.count
        // A host may ignore a malformed packet: while requests are in flight and the guest has
        // nothing to do, wait half a second for an answer, not the whole --host-timeout-ms.
        session.idleTimeoutMs = min(500, session.timeoutMs)
        defer { session.idleTimeoutMs = nil }
        var withoutData = 0
        for ch in channels {
            let records = capture.records.enumerated().filter { $0.element.channel == ch }.map { (index: $0.offset, record: $0.element) }
            ExternalHostSession.$current.withValue(session) {
                replayChannel(records, capture: capture, session: session, report: &report, withoutData: &withoutData)
            }
            session.detach()
            if report.hostFailure != nil { break }
        }
        if withoutData > 0 {
            report.notes.append("\(withoutData) guest packet(s) had no guest-data records (a capture recorded in process): their request buffers come from the ioctl records, and data the guest uploaded replays as zeros, so what the host sends back for it may differ")
        }
        report.findings = monitor.log.violations.dropFirst(seen).filter { $0.rule.rawValue.hasPrefix("vsp.") }.map { ($0.rule.rawValue, $0.detail) }
        return report
    }

    static func replayChannel(_ records: [(index: Int, record: CaptureRecord)], capture: Capture, session: ExternalHostSession,
                              report: inout Report, withoutData: inout Int) {
        let g = RawGuest(seed: 0)
        let recorder = g.machine.startRecording()
        let memory = g.machine.memory
        let monitor = session.monitor
        // Comparing all of guest memory around every message is what finds stray writes; it
        // costs a copy of every page in use per message, so only for small captures.
        let pfnsUsed = Set(records.compactMap { $0.record.guestData?.pfn })
        monitor.memoryChecks = pfnsUsed.count <= 1024
        var pending: [CaptureRecord.HostWrite] = []
        var requestBytes: [GUID: [UInt8]] = [:]
        var sent: [Sent] = []
        var opened = false
        func fail(_ i: Int, _ what: String) {
            let at = capture.offsets.indices.contains(i) ? " (file byte \(capture.offsets[i]))" : ""
            report.hostFailure = "\(what), at record \(i)\(at): \(capture.records[i].summary)"
        }
        /// Page `pfn` of the replay's guest, allocated up to it (the capture's PFNs are kept).
        func frame(_ pfn: UInt64) -> UnsafeMutableRawPointer? {
            guard let shared = memory.backing, pfn > GuestMemory.pfnBase, pfn - GuestMemory.pfnBase < UInt64(shared.frameCount) else { return nil }
            while !memory.isValid(pfn) { _ = memory.allocateFrame() }
            return memory.pointer(pfn)
        }
        // An asynchronous host is waited for (up to the idle timeout) once after each packet
        // sent, not again at every record while a packet it ignores stays in flight.
        let waitForHost = g.machine.waitForHost
        var waitedAfter = -1
        for (i, r) in records {
            // The host's timers and the guest's callbacks up to the record's time.
            g.machine.waitForHost = waitedAfter == sent.count ? nil : waitForHost
            waitedAfter = sent.count
            g.machine.run(until: r.time, maxEvents: 5_000_000)
            g.machine.waitForHost = waitForHost
            if g.machine.now < r.time { g.machine.now = r.time }
            if let f = session.failure { fail(i, f); return }
            switch r.kind {
            case .open:
                guard g.open() else { fail(i, session.failure ?? "the channel did not open"); return }
                opened = true
            case .close where opened:
                g.machine.channel.close()
                opened = false
            case .rescind where opened:
                g.machine.channel.rescind()
            case .ringState:
                guard let st = r.ringState else { break }
                if r.direction == .hostToGuest { g.machine.channel.inbound?.interruptMask = st.interruptMask }
                else { g.machine.channel.outbound?.pendingSendSize = st.pendingSendSize }
            case .guestData:
                if let d = r.guestData { pending.append(d) }
            case .ioctlCall:
                if let c = r.ioctlCall { requestBytes[c.request.guid] = c.requestBytes }
            case .ringPacket where r.direction == .guestToHost && opened:
                guard r.body.count >= 16 else { break }
                let id = r.body.u64(8)
                let pkt = try? GPADirectPacket.decode(r.body)
                // The pages as the guest handed them over: fresh (zeroed) unless another
                // request in flight holds them, then the bytes the capture says it put there.
                let busy = Set(monitor.inFlight.values.flatMap(\.pfns))
                for pfn in pkt?.pfns ?? [] where !busy.contains(pfn) {
                    frame(pfn)?.initializeMemory(as: UInt8.self, repeating: 0, count: AzBlob.pageSize)
                }
                if pending.isEmpty, let pkt, let text = requestBytes[pkt.request.transactionId] {
                    withoutData += 1
                    var at = Int(pkt.request.requestBufferOffset), k = 0
                    while k < text.count, at / AzBlob.pageSize < pkt.pfns.count {
                        let n = min(text.count - k, AzBlob.pageSize - at % AzBlob.pageSize)
                        pending.append(CaptureRecord.HostWrite(pfn: pkt.pfns[at / AzBlob.pageSize], offset: at % AzBlob.pageSize, bytes: Array(text[k..<(k + n)])))
                        k += n
                        at += n
                    }
                }
                for d in pending {
                    guard let p = frame(d.pfn), d.offset + d.bytes.count <= AzBlob.pageSize else { continue }
                    d.bytes.withUnsafeBytes { (p + d.offset).copyMemory(from: $0.baseAddress!, byteCount: d.bytes.count) }
                }
                pending = []
                var base: [UInt64: [UInt8]] = [:]
                for pfn in pkt?.pfns ?? [] { if let p = frame(pfn) { base[pfn] = Array(UnsafeRawBufferPointer(start: p, count: AzBlob.pageSize)) } }
                if r.hostile { monitor.hostile.insert(id) }
                report.guestPackets += 1
                // The packet's own record comes next in the replay's recording (the host may answer
                // within the write's signal).
                sent.append(Sent(index: i, replayIndex: recorder.capture.records.count, id: id, packet: pkt, base: base))
                _ = g.write(r.body, id: id, signal: true, hostile: r.hostile)
            default:
                break
            }
            if let f = session.failure { fail(i, f); return }
        }
        g.machine.run(maxEvents: 5_000_000)
        if opened { g.machine.channel.close() }
        if let f = session.failure, report.hostFailure == nil { report.hostFailure = "\(f), after the last record" }
        compare(records, replayed: recorder.capture.records.enumerated().map { ($0.offset, $0.element) }, sent: sent,
                capture: capture, report: &report)
    }

    /// Request by request: the capture's host's answers against this host's.
    static func compare(_ records: [(index: Int, record: CaptureRecord)], replayed: [(index: Int, record: CaptureRecord)],
                        sent: [Sent],
                        capture: Capture, report: inout Report) {
        var (expected, _) = answers(records)
        var (actual, _) = answers(replayed)
        report.hostPacketsExpected += expected.values.reduce(0) { $0 + $1.count }
        report.hostPacketsSeen += actual.values.reduce(0) { $0 + $1.count }
        func at(_ i: Int) -> String {
            capture.offsets.indices.contains(i) ? "record \(i), file byte \(capture.offsets[i])" : "record \(i)"
        }
        func hex(_ v: UInt32) -> String { "0x" + String(v, radix: 16) }
        var extraExpected: [UInt64: Int] = [:], extraActual: [UInt64: Int] = [:]
        for s in sent {
            // The first answer for the id after the packet was sent; earlier ones left over are
            // packets more for an earlier request with that id.
            func take(_ d: inout [UInt64: [Answer]], after: Int, extra: inout [UInt64: Int]) -> Answer? {
                guard var list = d[s.id] else { return nil }
                while let f = list.first, f.packets[0].record < after { extra[s.id, default: 0] += 1; list.removeFirst() }
                let first = list.isEmpty ? nil : list.removeFirst()
                d[s.id] = list.isEmpty ? nil : list
                return first
            }
            let want = take(&expected, after: s.index, extra: &extraExpected), got = take(&actual, after: s.replayIndex, extra: &extraActual)
            report.requestsCompared += 1
            var diffs: [String] = []
            switch (want, got) {
            case (nil, nil): break
            case (let w?, nil): diffs.append("the capture's host answered it (\(at(w.packets[0].record))), this host did not")
            case (nil, .some): diffs.append("this host answered it, the capture's host did not")
            case (let w?, let h?):
                let a = w.packets[0].bytes, b = h.packets[0].bytes
                let da = try? PacketDescriptor.decode(Array(a.prefix(16))), db = try? PacketDescriptor.decode(Array(b.prefix(16)))
                if da?.type != db?.type { diffs.append("packet type: capture \(da.map { "\($0.type)" } ?? "?"), host \(db.map { "\($0.type)" } ?? "?")") }
                if da?.offset8 != db?.offset8 || da?.len8 != db?.len8 {
                    diffs.append("descriptor: capture offset8 \(da?.offset8 ?? 0) len8 \(da?.len8 ?? 0), host offset8 \(db?.offset8 ?? 0) len8 \(db?.len8 ?? 0)")
                }
                func response(_ p: [UInt8]) -> (UInt32, UInt32)? {
                    guard let d = try? PacketDescriptor.decode(Array(p.prefix(16))) else { return nil }
                    let off = Int(d.offset8) * 8
                    guard off >= 16, off + 12 <= p.count else { return nil }
                    return (p.u32(off + 4), p.u32(off + 8))
                }
                let ra = response(a), rb = response(b)
                if ra?.0 != rb?.0 { diffs.append("status: capture \(ra.map { hex($0.0) } ?? "none"), host \(rb.map { hex($0.0) } ?? "none")") }
                if ra?.1 != rb?.1 { diffs.append("response_len: capture \(ra.map { "\($0.1)" } ?? "none"), host \(rb.map { "\($0.1)" } ?? "none")") }
                if let r = s.packet?.request, let pfns = s.packet?.pfns {
                    func contents(_ writes: [CaptureRecord.HostWrite], _ off: UInt32, _ len: UInt32) -> [UInt8] {
                        var pages = s.base
                        for wr in writes where pages[wr.pfn] != nil && wr.offset + wr.bytes.count <= AzBlob.pageSize {
                            pages[wr.pfn]!.replaceSubrange(wr.offset..<(wr.offset + wr.bytes.count), with: wr.bytes)
                        }
                        var out: [UInt8] = []
                        var at = Int(off), left = Int(min(len, 64 << 20))
                        while left > 0, at / AzBlob.pageSize < pfns.count, let page = pages[pfns[at / AzBlob.pageSize]] {
                            let n = min(left, AzBlob.pageSize - at % AzBlob.pageSize)
                            out += page[(at % AzBlob.pageSize)..<(at % AzBlob.pageSize + n)]
                            at += n
                            left -= n
                        }
                        return out
                    }
                    for (what, off, len) in [("response bytes", r.responseBufferOffset, r.responseBufferLength),
                                             ("data written", r.dataBufferOffset, r.dataBufferLength)] where len > 0 {
                        let x = contents(w.writes, off, len), y = contents(h.writes, off, len)
                        let differing = (0..<min(x.count, y.count)).filter { x[$0] != y[$0] }
                        if let first = differing.first {
                            diffs.append("\(what): \(differing.count) of \(x.count) bytes differ, the first at offset \(first): capture \(hexByte(x[first])), host \(hexByte(y[first]))")
                        }
                    }
                }
            }
            if diffs.isEmpty { report.requestsMatched += 1 } else {
                report.differences.append("request id \(s.id) (sent at \(at(s.index))): " + diffs.joined(separator: "; "))
            }
        }
        for (id, left) in expected { extraExpected[id, default: 0] += left.count }
        for (id, left) in actual { extraActual[id, default: 0] += left.count }
        for id in Set(extraExpected.keys).union(extraActual.keys).sorted() where extraExpected[id, default: 0] != extraActual[id, default: 0] {
            report.differences.append("request id \(id): packets beyond one answer per request: the capture's host \(extraExpected[id, default: 0]), this host \(extraActual[id, default: 0])")
        }
    }

    static func hexByte(_ b: UInt8) -> String { b < 16 ? "0x0" + String(b, radix: 16) : "0x" + String(b, radix: 16) }
}
