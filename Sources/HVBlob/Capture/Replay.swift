// SPDX-License-Identifier: Apache-2.0
#if canImport(Glibc)
import Glibc
#endif

/// Where a replay first parted from its capture: the record (index and file offset), what was
/// expected, what happened, and for packets the first differing field, decoded.
public struct ReplayDivergence: Sendable, Equatable, CustomStringConvertible {
    public let recordIndex: Int
    public let fileOffset: Int?
    public let record: String
    public let what: String
    public let detail: [String]

    public var description: String {
        var s = "first divergence at record \(recordIndex)"
        if let o = fileOffset { s += " (file byte \(o))" }
        s += ": \(what)\n  capture: \(record)"
        for d in detail { s += "\n  \(d)" }
        return s
    }
}

public struct ReplayReport: Sendable {
    public var records = 0
    public var channels = 0
    public var guestPacketsMatched = 0
    public var hostPacketsDelivered = 0
    public var hostWrites = 0
    public var ioctls = 0
    public var ioctlReturnsMatched = 0
    /// Capture PFNs that the replay's guest used under another number (a real VM's capture).
    public var pfnsRenamed = 0
    public var pfnsIdentical = 0
    public var divergence: ReplayDivergence?
    /// Findings the guest's own checks made during the replay (rule: count).
    public var findings: [Rule: Int] = [:]
    public var violations: [Violation] = []

    /// Findings against the guest (guest rules, hangs); integrity notes about what the
    /// captured host did are listed but are not the replayed guest's fault.
    public var guestFindings: [Rule: Int] {
        findings.filter { $0.key.findingClass == .guest || $0.key.findingClass == .liveness }
    }

    public var clean: Bool { divergence == nil && guestFindings.isEmpty }

    public func render(driver: String) -> String {
        var s = "replay against \(driver): \(records) records on \(channels) channel(s)\n"
        s += "guest packets matched: \(guestPacketsMatched); host packets delivered: \(hostPacketsDelivered); host writes: \(hostWrites)\n"
        s += "ioctls: \(ioctls) replayed, \(ioctlReturnsMatched) returns matched\n"
        s += "PFNs: \(pfnsIdentical) identical, \(pfnsRenamed) renamed (a consistent one-to-one renaming is allowed)\n"
        if let d = divergence { s += d.description + "\n" }
        for (rule, n) in findings.sorted(by: { $0.key < $1.key }) {
            s += "\(guestFindings[rule] == nil ? "note (the captured host's doing)" : "finding"): \(rule) x\(n)\n"
            for v in violations where v.rule == rule { s += "  t=\(v.time) \(v.detail)\n" }
        }
        s += "verdict: \(clean ? "clean" : divergence != nil ? "DIVERGED" : "guest findings")\n"
        return s
    }
}

/// Re-drives a guest from the host side of a capture: user space's ioctls and the host's
/// packets, memory writes and rescind come from the capture; the guest (the model or a C driver)
/// runs for real, and everything it does that the capture saw — ring packets, channel open and
/// close, what each ioctl returned — must match, packets byte for byte (PFNs up to a consistent
/// renaming, since a replayed guest's memory is its own).
public final class Replayer {
    public let capture: Capture
    public let version: KernelVersion
    public let factory: DriverRig.Factory?

    public init(capture: Capture, version: KernelVersion = .default, factory: DriverRig.Factory? = nil) {
        self.capture = capture
        self.version = version
        self.factory = factory
    }

    public func run() -> ReplayReport {
        var report = ReplayReport()
        report.records = capture.records.count
        var channels: [UInt32] = []
        for r in capture.records where !channels.contains(r.channel) { channels.append(r.channel) }
        report.channels = channels.count
        for ch in channels {
            let indices = capture.records.indices.filter { capture.records[$0].channel == ch }
            let one = ChannelReplay(capture: capture, indices: indices, version: version, factory: factory)
            one.run(&report)
            if report.divergence != nil { break }
        }
        return report
    }
}

/// One channel's records on one fresh machine.
final class ChannelReplay {
    final class Activity: TrackedCall {
        let pid: Int
        let argument: UInt64
        let space: AddressSpace?
        /// The request's transaction GUID: which captured packet this call must produce.
        var guid: GUID?
        /// What was mapped for this call (unmapped when it returns, as user space frees them).
        var mapped: [(UInt64, Int)] = []
        /// An ioctl stays fresh (not stepped) until the capture shows its packet or its return,
        /// so that concurrent calls reach the ring (and take request ids) in the captured order.
        init(call: DriverCall, pid: Int, argument: UInt64, space: AddressSpace?) {
            self.pid = pid
            self.argument = argument
            self.space = space
            super.init(call)
        }
    }

    let capture: Capture
    let indices: [Int]
    let version: KernelVersion
    let factory: DriverRig.Factory?
    var machine: Machine!
    var produced: [CaptureRecord] = []
    var activities: [Activity] = []
    var processes: [Int: (AddressSpace, OpenFile)] = [:]
    var removeStarted = false
    var interruptPending = false
    /// Capture PFN -> the replay PFN standing for it while a request that carried it is in
    /// flight (with how many such requests), the reverse, and the last binding of each (a
    /// host write after the guest let go still lands where it would have).
    var live: [UInt64: (rep: UInt64, refs: Int)] = [:]
    var liveRep: [UInt64: UInt64] = [:]
    var last: [UInt64: UInt64] = [:]
    var owned: [GUID: [UInt64]] = [:]
    var identical = 0, renamed = 0

    func interrupt() {
        guard interruptPending else { return }
        interruptPending = false
        machine.scheduleCallback()
        settle()
    }

    func release(_ guid: GUID?) {
        guard let guid, let caps = owned.removeValue(forKey: guid) else { return }
        for x in caps {
            guard var e = live[x] else { continue }
            e.refs -= 1
            if e.refs == 0 {
                live[x] = nil
                liveRep[e.rep] = nil
            } else {
                live[x] = e
            }
        }
    }

    init(capture: Capture, indices: [Int], version: KernelVersion, factory: DriverRig.Factory?) {
        self.capture = capture
        self.indices = indices
        self.version = version
        self.factory = factory
    }

    func diverge(_ report: inout ReplayReport, _ i: Int, _ what: String, _ detail: [String] = []) {
        report.divergence = ReplayDivergence(recordIndex: i, fileOffset: i < capture.offsets.count ? capture.offsets[i] : nil,
                                             record: capture.records[i].summary, what: what, detail: detail)
    }

    func run(_ report: inout ReplayReport) {
        defer {
            report.pfnsIdentical += identical
            report.pfnsRenamed += renamed
        }
        if factory == nil {
            // The model replays on a machine of the pool, reset to how a fresh one starts.
            RigPool.shared.withMachine(version: version) { m in
                run(&report, on: m)
                // What this replay made lives in the machine until its reset: let it go first.
                activities.removeAll()
                processes.removeAll()
                machine = nil
            }
        } else {
            run(&report, on: Machine(behavior: .fixed, version: version, faults: .none, seed: 1))
        }
    }

    func run(_ report: inout ReplayReport, on m: Machine) {
        machine = m
        if let factory {
            do { m.driver = try factory(m) } catch {
                if let i = indices.first { diverge(&report, i, "the driver could not be built: \(error)") }
                return
            }
        }
        let rec = m.startRecording()
        rec.recordHostWrites = false
        rec.onRecord = { [unowned self] r in
            if (r.kind == .ringPacket && r.direction == .guestToHost) || r.kind == .open || r.kind == .close || r.kind == .guestRead {
                self.produced.append(r)
            }
        }
        // The scripted host takes each guest packet off the ring when signalled; what it sent
        // was recorded at the write. Its own packets come from the capture.
        m.channel.signalHost = { [unowned m] in
            m.queue.schedule(at: m.now) { [unowned m] in while m.channel.hostReceive() != nil {} }
        }
        // The guest's interrupt is held until the capture shows the guest reading: when the
        // callback ran decides which request ids are free for concurrent sends.
        m.channel.signalGuest = { [unowned self] in self.interruptPending = true }
        var probed = false
        for i in indices {
            let r = capture.records[i]
            if r.time > m.now {
                m.run(until: r.time)
                m.now = r.time
            }
            if !probed {
                probed = true
                do { try m.driver.probe() } catch {
                    diverge(&report, i, "the driver's probe failed: \(error)")
                    return
                }
            }
            settle()
            switch r.kind {
            case .open, .close:
                guard expect(r, i, &report) else { return }
            case .guestRead:
                if !produced.contains(where: { $0.kind == .guestRead }) { interrupt() }
                guard expect(r, i, &report) else { return }
            case .ringPacket:
                if r.direction == .guestToHost {
                    guard expect(r, i, &report) else { return }
                } else {
                    guard deliver(r, i, &report) else { return }
                }
            case .hostWrite:
                guard let h = r.hostWrite else { return }
                guard let pfn = live[h.pfn]?.rep ?? last[h.pfn] else {
                    diverge(&report, i, "the host writes PFN \(hex64(h.pfn)), which no replayed guest packet carried")
                    return
                }
                // A write to a page whose request already returned in the capture is the
                // captured host's doing (as after a misdelivered completion), not the guest's.
                if live[h.pfn] == nil { m.memory.hostAccessAttribution = "integrity.host-access-after-release" }
                h.bytes.withUnsafeBytes { _ = m.memory.hostWrite(pfn, offset: h.offset, from: $0.baseAddress!, count: h.bytes.count) }
                m.memory.hostAccessAttribution = nil
                report.hostWrites += 1
            case .rescind:
                m.channel.rescind()
            case .remove:
                if !removeStarted {
                    removeStarted = true
                    activities.append(Activity(call: m.driver.remove(), pid: -1, argument: 0, space: nil))
                }
            case .release:
                if let (_, file) = processes.removeValue(forKey: Int(r.pid)) { m.driver.release(file) }
            case .ioctlCall:
                guard startIoctl(r, i, &report) else { return }
                report.ioctls += 1
            case .ioctlReturn:
                guard checkReturn(r, i, &report) else { return }
                report.ioctlReturnsMatched += 1
                        case .guestData, .ringState:
                // What the guest handed a host (for replaying against one): this guest makes its own.
                break
            }
            settle()
        }
        settle()
        if let extra = produced.first, let last = indices.last {
            diverge(&report, last, "the replayed guest did more than the capture shows: \(produced.count) more record(s), first: \(extra.summary)")
        }
        for v in m.log.violations {
            report.findings[v.rule, default: 0] += 1
            report.violations.append(v)
        }
    }

    /// Runs due events and steps every call that can make progress, until nothing can.
    func settle() {
        let m = machine!
        for _ in 0..<100_000 {
            m.run(until: m.now)
            var progressed = false
            // Only the remove runs on its own: an ioctl runs when the capture shows its packet
            // or its return, so its pages stay pinned exactly as long as in the capture.
            for a in activities where a.space == nil && a.isDue(at: m.now) {
                progressed = a.advance() || progressed
            }
            if !progressed && (m.queue.nextTime.map { $0 > m.now } ?? true) { return }
        }
    }

    // MARK: what the guest must reproduce

    /// Runs a call the capture now needs, as far as it can go.
    func start(_ a: Activity) {
        let m = machine!
        var steps = 0
        while steps < 1000 && a.isDue(at: m.now) {
            steps += 1
            a.advance()
            settle()
        }
    }

    func expect(_ r: CaptureRecord, _ i: Int, _ report: inout ReplayReport) -> Bool {
        if r.kind == .ringPacket {
            let guid = ChannelReplay.transaction(r.body)
            let waiting = activities.filter { $0.fresh && $0.space != nil }
            if let guid, let a = waiting.first(where: { $0.guid == guid }) {
                start(a)
            } else if produced.isEmpty {
                for a in waiting { start(a) }
            }
        }
        guard !produced.isEmpty else {
            var what = "the capture has the guest's \(r.kind)"
            if r.kind == .ringPacket { what += " packet" }
            what += " here; the replayed guest did nothing"
            let blocked = activities.filter { $0.result == nil }.map { "pid \($0.pid) waits: \($0.call.waitDescription)" }
            diverge(&report, i, what, blocked)
            return false
        }
        // Packets between two host events may come in any order: take the first that matches.
        var firstMismatch: [String]? = nil
        for (k, got) in produced.enumerated() {
            if got.kind != r.kind {
                if firstMismatch == nil { firstMismatch = ["replay did \(got.kind) instead: \(got.summary)"] }
                continue
            }
            if r.kind != .ringPacket {
                if r.body != got.body {
                    if firstMismatch == nil { firstMismatch = ["replay: \(got.summary)"] }
                    continue
                }
                produced.remove(at: k)
                return true
            }
            switch comparePackets(r, got) {
            case .none:
                produced.remove(at: k)
                report.guestPacketsMatched += 1
                return true
            case .some(let diff):
                if firstMismatch == nil { firstMismatch = diff }
            }
        }
        diverge(&report, i, "the replayed guest's \(r.kind == .ringPacket ? "packet" : String(describing: r.kind)) differs", firstMismatch ?? [])
        return false
    }

    /// nil when equal (binding new PFNs); else the first differing field, decoded.
    /// Where a well-formed GPA-direct packet's PFN array lies (nil: not one).
    static func pfnSpan(_ b: [UInt8]) -> Range<Int>? {
        guard b.count >= GPADirectPacket.headerSize + VSPRequest.wireSize, b[0] == 9, b[1] == 0 else { return nil }
        let desc = Int(UInt16(b[2]) | UInt16(b[3]) << 8) * 8
        guard desc >= GPADirectPacket.headerSize, desc + VSPRequest.wireSize <= b.count else { return nil }
        return GPADirectPacket.headerSize..<desc
    }

    /// The request's transaction GUID, read in place.
    static func transaction(_ b: [UInt8]) -> GUID? {
        guard let pfns = pfnSpan(b) else { return nil }
        let at = pfns.upperBound + 40
        return GUID(bytes: Array(b[at..<(at + 16)]))
    }

    func comparePackets(_ want: CaptureRecord, _ got: CaptureRecord) -> [String]? {
        if want.ringOffsetsKnown && (want.ringBefore != got.ringBefore || want.ringAfter != got.ringAfter) {
            return ["ring write_index: capture \(want.ringBefore)->\(want.ringAfter), replay \(got.ringBefore)->\(got.ringAfter)"]
        }
        let a = want.body, b = got.body
        // The common case without decoding: the same bytes outside the PFN array (and the request
        // id when the capture does not know it), PFNs bound one to one.
        if a.count == b.count, let span = ChannelReplay.pfnSpan(a), ChannelReplay.pfnSpan(b) == span,
           a.withUnsafeBytes({ x in b.withUnsafeBytes { y in
               memcmp(x.baseAddress!, y.baseAddress!, 8) == 0
                   && (want.requestIdUnknown || memcmp(x.baseAddress! + 8, y.baseAddress! + 8, 8) == 0)
                   && memcmp(x.baseAddress! + 16, y.baseAddress! + 16, span.lowerBound - 16) == 0
                   && memcmp(x.baseAddress! + span.upperBound, y.baseAddress! + span.upperBound, a.count - span.upperBound) == 0
           } }) {
            let n = span.count / 8
            var pa = [UInt64](repeating: 0, count: n), pb = pa
            for k in 0..<n {
                pa[k] = a.u64(span.lowerBound + 8 * k)
                pb[k] = b.u64(span.lowerBound + 8 * k)
            }
            if let diff = bind(pa, pb, guid: ChannelReplay.transaction(a)) { return diff }
            return nil
        }
        guard let pa = try? GPADirectPacket.decode(a), let pb = try? GPADirectPacket.decode(b) else {
            if a == b { return nil }
            return firstRawDifference(a, b)
        }
        var fa = pa, fb = pb
        if want.requestIdUnknown { fb.transactionId = fa.transactionId }
        fa.pfns = []; fb.pfns = []
        if pa.pfns.count != pb.pfns.count || fa != fb {
            let la = pa.fieldLines, lb = pb.fieldLines
            for (x, y) in zip(la, lb) where x.1 != y.1 && !x.0.name.hasPrefix("range.pfn_array") {
                if x.0.name == "transactionid" && want.requestIdUnknown { continue }
                return ["field \(x.0.name) at byte \(x.0.offset): capture \(x.1), replay \(y.1)"]
            }
            if la.count != lb.count { return ["packet has \(la.count) fields in the capture, \(lb.count) in the replay (\(pa.pfns.count) vs \(pb.pfns.count) PFNs)"] }
            return firstRawDifference(a, b)
        }
        return bind(Array(pa.pfns), Array(pb.pfns), guid: pa.request.transactionId)
    }

    /// Binds capture PFNs to replay PFNs one to one while in flight; the first conflict, decoded.
    func bind(_ capturePFNs: [UInt64], _ replayPFNs: [UInt64], guid: GUID?) -> [String]? {
        var newPairs: [(UInt64, UInt64)] = []
        for (k, (x, y)) in zip(capturePFNs, replayPFNs).enumerated() {
            let bound = live[x]?.rep ?? newPairs.first(where: { $0.0 == x })?.1
            let taken = liveRep[y] ?? newPairs.first(where: { $0.1 == y })?.0
            if let bound, bound != y {
                return ["field range.pfn_array[\(k)] at byte \(32 + 8 * k): capture PFN \(hex64(x)) stands for replay PFN \(hex64(bound)) while in flight, here \(hex64(y))"]
            }
            if bound == nil, let taken, taken != x {
                return ["field range.pfn_array[\(k)] at byte \(32 + 8 * k): replay PFN \(hex64(y)) already stands for capture PFN \(hex64(taken)), here \(hex64(x))"]
            }
            if bound == nil { newPairs.append((x, y)) }
        }
        var seen = Set<UInt64>()
        for x in capturePFNs where seen.insert(x).inserted {
            guard let y = live[x]?.rep ?? newPairs.first(where: { $0.0 == x })?.1 else { continue }
            if let e = live[x] {
                live[x] = (e.rep, e.refs + 1)
            } else {
                live[x] = (y, 1)
                liveRep[y] = x
                if x == y { identical += 1 } else { renamed += 1 }
            }
            last[x] = y
            if let guid { owned[guid, default: []].append(x) }
        }
        return nil
    }

    func firstRawDifference(_ a: [UInt8], _ b: [UInt8]) -> [String] {
        for k in 0..<min(a.count, b.count) where a[k] != b[k] {
            return ["byte \(k): capture 0x\(String(a[k], radix: 16)), replay 0x\(String(b[k], radix: 16)) (\(a.count) vs \(b.count) bytes)"]
        }
        return ["lengths differ: capture \(a.count) bytes, replay \(b.count)"]
    }

    // MARK: what the host and user space do

    func deliver(_ r: CaptureRecord, _ i: Int, _ report: inout ReplayReport) -> Bool {
        let m = machine!
        guard let ring = m.channel.inbound, m.channel.state == .open else {
            diverge(&report, i, "the host sends a packet but the replayed guest's channel is \(m.channel.state.rawValue)")
            return false
        }
        if r.ringOffsetsKnown && ring.writeIndex != r.ringBefore {
            diverge(&report, i, "host->guest ring write_index is \(ring.writeIndex) in the replay, \(r.ringBefore) in the capture")
            return false
        }
        guard m.channel.hostSend(r.body) else {
            diverge(&report, i, "the host->guest ring is full in the replay (the replayed guest has not read what the captured guest had)")
            return false
        }
        report.hostPacketsDelivered += 1
        return true
    }

    func startIoctl(_ r: CaptureRecord, _ i: Int, _ report: inout ReplayReport) -> Bool {
        let m = machine!
        guard let c = r.ioctlCall else {
            diverge(&report, i, "ioctl-call record without a decodable az_blob_request_sync")
            return false
        }
        let pid = Int(r.pid)
        if processes[pid] == nil {
            let space = AddressSpace(pid: pid, memory: m.memory)
            do { processes[pid] = (space, try m.driver.open(space)) } catch {
                diverge(&report, i, "open() of the device by pid \(pid) failed in the replay: \(error)")
                return false
            }
        }
        let (space, file) = processes[pid]!
        let page = UInt64(AzBlob.pageSize - 1)
        // No guest can pin more than 8192 pages: a capture's larger length is mapped only that
        // far (its ioctl must fail before pinning), so a hostile capture cannot exhaust memory.
        let cap = AzBlob.pageSize * (AzBlob.maxPages + 1)
        var mapped: [(UInt64, Int)] = []
        var req = c.request
        let want = Int(req.requestLen)
        let text = c.requestBytes + [UInt8](repeating: 0, count: max(0, min(want, 1 << 16) - c.requestBytes.count))
        // Buffers that shared a page in the captured process share one here too (a program's
        // small heap buffers often do: `hvblob serve` captures them so), else the page's one
        // PFN would stand for two in the replay.
        struct Buffer { let address: UInt64; let length: Int; let populated: Bool; let contents: [UInt8]; var placed: UInt64 = 0 }
        var buffers = [Buffer(address: req.requestBuffer, length: min(max(Int(req.requestLen), 1), cap), populated: true, contents: text),
                       Buffer(address: req.responseBuffer, length: min(max(Int(req.responseLen), 1), cap), populated: false, contents: []),
                       Buffer(address: req.dataBuffer, length: min(max(Int(req.dataLen), 1), cap), populated: req.dataValid > 0, contents: [])]
        func pages(_ b: Buffer) -> ClosedRange<UInt64> {
            (b.address >> 12)...((b.address &+ UInt64(b.length) &- 1) >> 12)
        }
        var done = [Bool](repeating: false, count: 3)
        for k in 0..<3 where buffers[k].address != 0 && !done[k] {
            // This buffer and every other one whose pages meet its group's.
            var group = [k]
            var span = pages(buffers[k])
            var grew = true
            while grew {
                grew = false
                for j in 0..<3 where buffers[j].address != 0 && !group.contains(j) && pages(buffers[j]).overlaps(span) {
                    group.append(j)
                    span = min(span.lowerBound, pages(buffers[j]).lowerBound)...max(span.upperBound, pages(buffers[j]).upperBound)
                    grew = true
                }
            }
            if group.count == 1 {
                let b = buffers[k]
                buffers[k].placed = space.map(length: b.length, pageOffset: Int(b.address & page), kind: b.populated ? .populated : .untouched, contents: b.contents)
                mapped.append((buffers[k].placed, b.length))
            } else {
                let length = Int(span.upperBound - span.lowerBound + 1) * AzBlob.pageSize
                let base = space.map(length: length, kind: group.contains { buffers[$0].populated } ? .populated : .untouched)
                mapped.append((base, length))
                for j in group {
                    buffers[j].placed = base + (buffers[j].address - (span.lowerBound << 12))
                    if !buffers[j].contents.isEmpty { try? space.write(buffers[j].placed, buffers[j].contents) }
                }
            }
            for j in group { done[j] = true }
        }
        req.requestBuffer = buffers[0].placed
        req.responseBuffer = buffers[1].placed
        req.dataBuffer = buffers[2].placed
        let layout = m.driver.abi.layout
        let arg = space.map(length: layout.size, pageOffset: Int(c.argument & page), kind: .populated, contents: layout.encode(req))
        mapped.append((arg, layout.size))
        let a = Activity(call: m.driver.ioctl(file, command: m.driver.abi.translate(IoctlCommand(rawValue: c.command)), argument: arg),
                         pid: pid, argument: arg, space: space)
        a.guid = c.request.guid
        a.mapped = mapped
        activities.append(a)
        return true
    }

    func checkReturn(_ r: CaptureRecord, _ i: Int, _ report: inout ReplayReport) -> Bool {
        guard let want = r.ioctlReturn else { return false }
        guard let k = activities.firstIndex(where: { $0.pid == Int(r.pid) && $0.space != nil }) else {
            diverge(&report, i, "the capture has an ioctl return for pid \(r.pid), which has no ioctl in progress in the replay")
            return false
        }
        let a = activities[k]
        start(a)
        guard let e = a.result else {
            diverge(&report, i, "the ioctl of pid \(r.pid) returned \(want.errno) in the capture; in the replay it still waits",
                    ["waits: \(a.call.waitDescription)"] + (a.call.lastPoint.map { ["at: \($0)"] } ?? []))
            return false
        }
        activities.remove(at: k)
        release(a.guid)
        let resp = a.space?.readResponse(at: a.argument, layout: machine.driver.abi.layout) ?? (0, 0)
        let got = CaptureRecord.IoctlReturn(value: e == .success ? 0 : -e.rawValue, status: resp.status, responseLength: resp.length)
        for (address, length) in a.mapped { a.space?.unmap(address, length: length) }
        if got != want {
            diverge(&report, i, "the ioctl of pid \(r.pid) returned differently",
                    ["capture: \(want.errno) status \(want.status) response_len \(want.responseLength)",
                     "replay:  \(got.errno) status \(got.status) response_len \(got.responseLength)"])
            return false
        }
        return true
    }
}
