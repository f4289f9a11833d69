// SPDX-License-Identifier: Apache-2.0
#if canImport(Glibc)
import Glibc
#endif

/// `hvblob verify-host`: the conformance set for hosts (VSPs) attached through the host
/// interface. hvblob plays the guest — the Swift model with clients, or hand-made packets — and
/// `HostConformanceMonitor` checks everything the host does. Each scenario runs on a fresh
/// connection (`connect`), so a host that dies in one cannot hide the others; each rule's
/// verdict names the scenarios that gave it evidence, and a rule no scenario exercised is
/// INCONCLUSIVE.
public enum HostConformance {
    public enum Level: String, Sendable { case must = "MUST", should = "SHOULD" }

    public struct HostRule: Sendable {
        public let id: String
        public let level: Level
        public let summary: String
        /// Scenarios whose evidence counts for this rule.
        public let scenarios: [String]
    }

    static let traffic = ["workload", "load-1024"]
    public static let rules: [HostRule] = [
        HostRule(id: "vsp.completion.exactly-once", level: .must, summary: "every request is completed exactly once", scenarios: traffic),
        HostRule(id: "vsp.completion.request-id", level: .must, summary: "a completion carries the request id of a request in flight", scenarios: traffic),
        HostRule(id: "vsp.completion.type", level: .must, summary: "completions are type-11 packets (VM_PKT_COMP)", scenarios: traffic),
        HostRule(id: "vsp.completion.descriptor", level: .must, summary: "offset8 >= 2, len8 >= offset8, and a 12-byte az_blob_vsp_response fits", scenarios: traffic),
        HostRule(id: "vsp.completion.response-len", level: .must, summary: "response_len never exceeds the response buffer", scenarios: traffic),
        HostRule(id: "vsp.write.request-buffer", level: .must, summary: "the host never writes the request buffer", scenarios: ["workload"]),
        HostRule(id: "vsp.write.outside-buffers", level: .must, summary: "writes stay inside the response and data buffers, up to their lengths", scenarios: ["workload"]),
        HostRule(id: "vsp.write.page-not-given", level: .must, summary: "the host writes no page it was not given (nor the guest->host ring beyond read_index)", scenarios: ["workload"]),
        HostRule(id: "vsp.ring.overrun", level: .must, summary: "the host never writes past the guest's read index", scenarios: traffic),
        HostRule(id: "vsp.ring.framing", level: .must, summary: "packets tile the host->guest ring from the old to the new write_index", scenarios: traffic),
        HostRule(id: "vsp.ring.trailer", level: .should, summary: "each packet's trailer holds its offset << 32", scenarios: traffic),
        HostRule(id: "vsp.ring.header", level: .must, summary: "the host writes only its own ring-header fields", scenarios: traffic),
        HostRule(id: "vsp.ring.read-index", level: .must, summary: "the host publishes its read index, never past the write index", scenarios: traffic),
        HostRule(id: "vsp.ring.signal", level: .must, summary: "the host interrupts on empty -> non-empty unless interrupt_mask is set", scenarios: traffic),
        HostRule(id: "vsp.ring.pending-send-sz", level: .must, summary: "the host interrupts when it frees room past pending_send_sz", scenarios: ["pending-send-sz"]),
        HostRule(id: "vsp.lifecycle.close", level: .must, summary: "after its DONE for CLOSE the host touches no guest page or ring", scenarios: ["close"]),
        HostRule(id: "vsp.lifecycle.rescind", level: .must, summary: "after its DONE for RESCIND the host touches no guest page or ring", scenarios: ["rescind"]),
        HostRule(id: "vsp.control.done", level: .must, summary: "the host answers every control message with one DONE, in time, and stays alive", scenarios: ["workload", "load-1024", "close", "rescind", "pending-send-sz"]),
        HostRule(id: "vsp.load.1024-in-flight", level: .must, summary: "the host keeps up with 1,024 requests in flight", scenarios: ["load-1024"]),
        HostRule(id: "vsp.workload.clean", level: .must, summary: "the model guest's clients run clean against the host (every ioctl 0, data verified)", scenarios: ["workload"]),
        HostRule(id: "vsp.hostile.survives", level: .must, summary: "a malformed GPA-direct packet neither crashes nor hangs the host", scenarios: HostileGuest.kinds.map { "hostile:" + $0.name }),
        HostRule(id: "vsp.hostile.answer", level: .should, summary: "a malformed request gets an error completion or none, never success", scenarios: HostileGuest.kinds.map { "hostile:" + $0.name }),
        HostRule(id: "vsp.hostile.recovers", level: .should, summary: "a valid request after a malformed one that kept the ring framed completes", scenarios: HostileGuest.kinds.filter(\.keepsFraming).map { "hostile:" + $0.name }),
    ]

    /// What one scenario saw.
    public struct Scenario: Sendable {
        public let name: String
        public var findings: [Violation] = []
        public var counts: [Rule: Int] = [:]
        /// Rules this scenario exercised (it did what the rule needs to have happened).
        public var exercised: Set<String> = []
        public var evidence: [String] = []
    }

    public struct Verdict: Sendable {
        public enum Outcome: String, Sendable { case pass = "PASS", fail = "FAIL", inconclusive = "INCONCLUSIVE" }
        public let rule: HostRule
        public let outcome: Outcome
        public let evidence: String
        public let findings: [String]
        public let scenarios: [String]
    }

    /// Every scenario name, in the order they run.
    public static func scenarioNames(guestFaults: [String]) -> [String] {
        ["workload", "load-1024", "close", "rescind", "pending-send-sz"] + guestFaults.map { "hostile:" + $0 }
    }

    /// Runs the scenarios (`only`: a subset) against hosts `connect` hands out, one per scenario.
    public static func run(seed: UInt64, guestFaults: [String], only: Set<String>? = nil,
                           connect: () -> ExternalHostSession?) -> [Scenario] {
        var out: [Scenario] = []
        for name in scenarioNames(guestFaults: guestFaults) where only?.contains(name) ?? true {
            guard let session = connect() else {
                var s = Scenario(name: name)
                s.evidence.append("no host connected")
                s.findings.append(Violation(rule: "vsp.control.done", time: 0, detail: "no host connected for scenario \(name)"))
                s.counts["vsp.control.done"] = 1
                out.append(s)
                continue
            }
            // Whole-memory comparison around every message: where the write rules are judged
            // (the load scenarios would compare 8 MiB per message for thousands of messages).
            session.monitor.memoryChecks = !(name == "load-1024" || name == "pending-send-sz")
            let log = session.monitor.log
            let (seenBefore, countsBefore) = (log.violations.count, log.counts)
            var s = ExternalHostSession.$current.withValue(session) { () -> Scenario in
                switch name {
                case "workload": return workload(seed: seed, session)
                case "load-1024": return load(seed: seed, session)
                case "close": return lifecycle(seed: seed, session, rescind: false)
                case "rescind": return lifecycle(seed: seed, session, rescind: true)
                case "pending-send-sz": return pending(seed: seed, session)
                default: return hostile(String(name.dropFirst("hostile:".count)), seed: seed, session)
                }
            }
            session.detach()
            // A host that serves every scenario on one connection shares one monitor: this scenario's part.
            s.findings += log.violations.dropFirst(seenBefore)
            for (r, n) in log.counts where n > countsBefore[r, default: 0] { s.counts[r, default: 0] += n - countsBefore[r, default: 0] }
            if session.failure == nil { s.exercised.insert("vsp.control.done") }
            out.append(s)
        }
        return out
    }

    /// One verdict per rule over what the scenarios saw.
    public static func verdicts(_ scenarios: [Scenario]) -> [Verdict] {
        rules.map { rule in
            let covering = scenarios.filter { rule.scenarios.contains($0.name) }
            let findings = covering.flatMap { sc in sc.findings.filter { $0.rule.rawValue == rule.id }.map { "[\(sc.name)] \($0.detail)" } }
                + scenarios.filter { !rule.scenarios.contains($0.name) }.flatMap { sc in sc.findings.filter { $0.rule.rawValue == rule.id }.map { "[\(sc.name)] \($0.detail)" } }
            let ran = covering.filter { $0.exercised.contains(rule.id) }.map(\.name)
            let outcome: Verdict.Outcome = !findings.isEmpty ? .fail : (ran.isEmpty ? .inconclusive : .pass)
            let evidence = ran.isEmpty
                ? "no scenario exercised it (\(covering.isEmpty ? "none ran" : covering.map(\.name).joined(separator: ", ")): \(covering.flatMap(\.evidence).prefix(2).joined(separator: "; ")))"
                : ran.count > 4 ? "\(ran.count) scenarios (\(ran.prefix(2).joined(separator: ", ")), ...)" : ran.joined(separator: ", ")
            return Verdict(rule: rule, outcome: outcome, evidence: evidence, findings: findings, scenarios: covering.map(\.name))
        }
    }

    // MARK: scenarios

    static func workload(seed: UInt64, _ session: ExternalHostSession) -> Scenario {
        var s = Scenario(name: "workload")
        var c = SimulationConfig()
        c.seed = seed
        c.clients = 4
        c.requestsPerClient = 16
        c.sizes = [4096, 65536]
        let sim = Simulation(c)
        let r = sim.run()
        let m = session.monitor
        if let out = sim.machine.channel.outbound, out.readIndex != out.writeIndex {
            m.report("vsp.ring.read-index", "at the end the host had published read_index \(out.readIndex) of write_index \(out.writeIndex): \(out.readIndex < out.writeIndex ? out.writeIndex - out.readIndex : 0) bytes never consumed")
        }
        for id in m.inFlight.keys.sorted() {
            m.report("vsp.completion.exactly-once", "request id \(id) was never completed")
        }
        let issued = c.clients * c.requestsPerClient
        if !r.clean || r.results != [Errno(rawValue: 0): issued] {
            let rules = r.counts.keys.map(\.rawValue).sorted().joined(separator: ", ")
            m.report("vsp.workload.clean", "the model's run: results \(r.results.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")); findings: \(rules.isEmpty ? "none" : rules); reproduce: hvblob guest --model --seed \(seed) --clients 4 --requests 16 --sizes 4096,65536 --host-exec HOST")
        }
        s.evidence.append("workload: \(m.requestsSeen) requests, \(m.completionsSeen) host packets, \(m.interactions) control messages, \(m.bytesCompared / 1024) KiB of guest memory compared")
        if m.completionsSeen > 0 {
            s.exercised.formUnion(["vsp.completion.exactly-once", "vsp.completion.request-id", "vsp.completion.type", "vsp.completion.descriptor",
                                   "vsp.completion.response-len", "vsp.ring.overrun", "vsp.ring.framing", "vsp.ring.trailer", "vsp.ring.header",
                                   "vsp.ring.read-index", "vsp.workload.clean"])
        }
        if m.bytesCompared > 0 && m.completionsSeen > 0 {
            s.exercised.formUnion(["vsp.write.request-buffer", "vsp.write.outside-buffers", "vsp.write.page-not-given"])
        }
        if m.signalOpportunities > 0 { s.exercised.insert("vsp.ring.signal") }
        return s
    }

    static func load(seed: UInt64, _ session: ExternalHostSession) -> Scenario {
        var s = Scenario(name: "load-1024")
        let g = RawGuest(seed: seed)
        guard g.open() else { s.evidence.append("the channel did not open"); return s }
        let n = AzBlob.queueDepth
        for i in 1...n {
            _ = g.write(g.request(id: UInt64(i), text: "DELETE load-\(i)\n"), id: UInt64(i), signal: false)
        }
        let m = session.monitor
        m.scanOutbound()
        let inFlight = m.inFlightCount
        g.signal()
        g.settle()
        let done = (1...n).filter { m.completed[UInt64($0)] != nil }.count
        if done < n {
            m.report("vsp.load.1024-in-flight", "\(done) of \(n) requests completed (the first missing: request id \((1...n).first { m.completed[UInt64($0)] == nil } ?? 0))")
        }
        for id in m.inFlight.keys.sorted().prefix(3) { m.report("vsp.completion.exactly-once", "request id \(id) was never completed") }
        s.evidence.append("load-1024: \(inFlight) requests in the guest->host ring at one signal, \(done) completed")
        if inFlight == n && session.failure == nil {
            s.exercised.formUnion(["vsp.load.1024-in-flight", "vsp.completion.exactly-once", "vsp.completion.request-id", "vsp.completion.type",
                                   "vsp.completion.descriptor", "vsp.completion.response-len", "vsp.ring.overrun", "vsp.ring.framing",
                                   "vsp.ring.trailer", "vsp.ring.header", "vsp.ring.read-index"])
        }
        if m.signalOpportunities > 0 { s.exercised.insert("vsp.ring.signal") }
        return s
    }

    /// Requests sit in the ring unsignalled when the channel closes (or is rescinded); then a
    /// stray signal, the host's timers, and a pause: the host must touch nothing.
    static func lifecycle(seed: UInt64, _ session: ExternalHostSession, rescind: Bool) -> Scenario {
        let name = rescind ? "rescind" : "close"
        var s = Scenario(name: name)
        let g = RawGuest(seed: seed)
        guard g.open() else { s.evidence.append("the channel did not open"); return s }
        // One request the host completes, so its pages are known to it; then three left in the ring.
        _ = g.write(g.request(id: 1, text: "DELETE \(name)-1\n"), id: 1, signal: true)
        g.settle()
        for i in 2...4 { _ = g.write(g.request(id: UInt64(i), text: "DELETE \(name)-\(i)\n"), id: UInt64(i), signal: false) }
        let m = session.monitor
        m.scanOutbound()
        let left = m.inFlightCount
        if rescind { g.machine.channel.rescind() } else { g.machine.channel.close() }
        m.markQuiet()
        // A host must ignore a signal on a channel it let go of (hvblob sends one on purpose).
        g.link?.request { HostMessage(.signal, seq: $0, time: $1) }
        g.settle()
        usleep(200_000)
        m.quietCheck("200 ms after its DONE")
        if rescind { g.machine.channel.close() }
        s.evidence.append("\(name): \(left) requests in the ring at \(rescind ? "RESCIND" : "CLOSE"), a stray SIGNAL after, 200 ms watched")
        if left > 0 && m.quietSince != nil && session.failure == nil { s.exercised.insert(rescind ? "vsp.lifecycle.rescind" : "vsp.lifecycle.close") }
        return s
    }

    /// The guest fills the guest->host ring, masks completion interrupts, and sets
    /// pending_send_sz to the room it has: the host's read frees room past it and must interrupt.
    static func pending(seed: UInt64, _ session: ExternalHostSession) -> Scenario {
        var s = Scenario(name: "pending-send-sz")
        let g = RawGuest(seed: seed)
        guard g.open(), let out = g.machine.channel.outbound, let inb = g.machine.channel.inbound else {
            s.evidence.append("the channel did not open"); return s
        }
        var id: UInt64 = 0
        while true {
            let p = g.request(id: id + 1, text: "DELETE pending-\(id + 1)\n")
            if out.bytesToWrite <= (p.count + RingBuffer.trailerSize) * 2 { break }
            id += 1
            _ = g.write(p, id: id, signal: false)
        }
        inb.interruptMask = 1
        out.pendingSendSize = UInt32(out.bytesToWrite)
        let m = session.monitor
        let room = out.bytesToWrite
        let before = g.link?.interruptsTotal ?? 0
        g.signal()
        g.settle()
        let interrupts = (g.link?.interruptsTotal ?? 0) - before
        out.pendingSendSize = 0
        inb.interruptMask = 0
        g.settle()
        s.evidence.append("pending-send-sz: \(id) requests left \(room) bytes of room; pending_send_sz \(room), completion interrupts masked; \(interrupts) interrupt(s) while the host drained")
        if m.pendingOpportunities > 0 { s.exercised.insert("vsp.ring.pending-send-sz") }
        else { s.evidence.append("the host freed no room past pending_send_sz during its SIGNAL") }
        return s
    }

    static func hostile(_ kind: String, seed: UInt64, _ session: ExternalHostSession) -> Scenario {
        var s = Scenario(name: "hostile:" + kind)
        guard let k = HostileGuest.kinds.first(where: { $0.name == kind }) else { return s }
        let g = RawGuest(seed: seed)
        guard g.open() else { s.evidence.append("the channel did not open"); return s }
        let m = session.monitor
        // The host may ignore the packet: wait a second for an answer, not the whole timeout.
        session.idleTimeoutMs = min(1_000, session.timeoutMs)
        defer { session.idleTimeoutMs = nil }
        let bad = k.make(g, 0xBAD)
        m.hostile.insert(0xBAD)
        _ = g.write(bad, id: 0xBAD, signal: true, hostile: true)
        g.settle()
        let alive = session.failure == nil
        if !alive { m.report("vsp.hostile.survives", "\(k.what): \(session.failure ?? "")") }
        if let st = m.hostileAnswered[0xBAD], st == 0 {
            m.report("vsp.hostile.answer", "\(k.what): the host completed it with status 0 (success)")
        }
        var recovered = false
        if alive && k.keepsFraming {
            _ = g.write(g.request(id: 7, text: "DELETE after-hostile\n"), id: 7, signal: true)
            g.settle()
            recovered = m.completed[7] != nil
            if !recovered { m.report("vsp.hostile.recovers", "\(k.what): the valid request id 7 sent after it was never completed") }
        }
        let answer = m.hostileAnswered[0xBAD].map { "answered with status \(hex32($0))" } ?? "not answered"
        s.evidence.append("\(k.name): \(k.what); host \(alive ? "alive" : "gone"), \(answer)\(k.keepsFraming ? (recovered ? ", the next request completed" : ", the next request did not complete") : "")")
        if alive { s.exercised.insert("vsp.hostile.survives") }
        if alive { s.exercised.insert("vsp.hostile.answer") }
        if alive && k.keepsFraming { s.exercised.insert("vsp.hostile.recovers") }
        return s
    }
}

func hex32(_ v: UInt32) -> String { "0x" + String(v, radix: 16) }

/// A guest without a driver, for the scenarios that need exact packets: one machine on the
/// current host session, its channel opened, requests built by hand in its memory.
final class RawGuest {
    let machine: Machine
    private var reader: RingReader?
    var link: ExternalHostLink? { ExternalHostSession.current?.link }

    init(seed: UInt64) {
        machine = Machine(behavior: .fixed, version: .default, faults: FaultPlan(), seed: seed)
    }

    func open() -> Bool {
        do { try machine.channel.open(ringSize: AzBlob.ringSize) { [unowned self] in self.consume() } } catch { return false }
        return machine.channel.state == .open && ExternalHostSession.current?.failure == nil
    }

    /// The guest's channel callback: consume every host packet, signal room as Linux does.
    func consume() {
        guard let inb = machine.channel.inbound else { return }
        var r = RingReader(ring: inb)
        var n = 0
        while let pkt = r.copyFirst(inb), n < 100_000 {
            n += 1
            if !r.advance(inb, len8: UInt16(pkt[4]) | UInt16(pkt[5]) << 8) { break }
        }
        if r.close(inb) { machine.channel.signalRoomToHost() }
    }

    /// The request page of each request id built here, with its text (recorded as guest data).
    private var requestPages: [UInt64: (pfn: UInt64, bytes: [UInt8])] = [:]

    /// A valid request: one request page holding `text`, one 4 KiB response page.
    func request(id: UInt64, text: String) -> [UInt8] {
        let req = machine.memory.allocateFrame(), resp = machine.memory.allocateFrame()
        let bytes = Array(text.utf8)
        requestPages[id] = (req, bytes)
        bytes.withUnsafeBytes { machine.memory.copyIn(req, offset: 0, from: $0.baseAddress!, count: $0.count) }
        var g = [UInt8](repeating: 0, count: 16)
        withUnsafeBytes(of: id.littleEndian) { for i in 0..<8 { g[i] = $0[i] } }
        let r = VSPRequest(requestBufferOffset: 0, requestBufferLength: UInt32(bytes.count),
                           responseBufferOffset: UInt32(AzBlob.pageSize), responseBufferLength: 64, transactionId: GUID(bytes: g))
        return GPADirectPacket(pfns: [req, resp], request: r, transactionId: id).encoded()
    }

    /// Puts a packet in the guest->host ring; `signal`: as Linux's send does (empty -> non-empty).
    /// A recording machine records the request's page (guest data) and the packet, `hostile`
    /// when hvblob made it malformed on purpose.
    func write(_ packet: [UInt8], id: UInt64, signal: Bool, hostile: Bool = false) -> Bool {
        guard let out = machine.channel.outbound else { return false }
        var padded = packet
        while padded.count % 8 != 0 { padded.append(0) }
        if padded.count >= 16 { withUnsafeBytes(of: id.littleEndian) { padded.replaceSubrange(8..<16, with: $0) } }
        let before = out.writeIndex
        switch out.write(padded, transId: { id }) {
        case .written(_, let s):
            if let r = machine.recorder {
                if let page = requestPages[id], !page.bytes.isEmpty { r.guestData(page.pfn, offset: 0, bytes: page.bytes) }
                r.ringPacket(.guestToHost, before: before, after: out.writeIndex, bytes: padded, hostile: hostile)
            }
            if signal && s { self.signal() }
            return true
        default: return false
        }
    }

    func signal() { link?.request { HostMessage(.signal, seq: $0, time: $1) } }

    /// Runs the host's timers and the guest's callbacks until nothing is left.
    func settle() { machine.run(maxEvents: 5_000_000) }
}

/// The hostile guest's packets (`--guest-faults`): each a malformed GPA-direct packet.
public enum HostileGuest {
    public struct Kind: Sendable {
        public let name: String
        public let what: String
        /// The ring stays framed after it (its len8 is true): a later packet can be read.
        public let keepsFraming: Bool
        let make: @Sendable (RawGuest, UInt64) -> [UInt8]
    }

    /// Patches a little-endian field of a valid request packet.
    static func patched(_ g: RawGuest, _ id: UInt64, _ edits: [(Int, Int, UInt64)], pfns: Int = 2, extraPFNs: [UInt64] = []) -> [UInt8] {
        var p = g.request(id: id, text: "DELETE hostile\n")
        for (off, width, v) in edits {
            for i in 0..<width { p[off + i] = UInt8(truncatingIfNeeded: v >> (8 * UInt64(i))) }
        }
        return p
    }

    // Offsets in the packet: rangecount @20, range.len @24, range.offset @28, PFNs @32; with two
    // PFNs the az_blob_vsp_request starts at 48 (version @48, operation @68, request offset @72,
    // request length @76, response offset @80, response length @84).
    public static let kinds: [Kind] = [
        Kind(name: "rangecount-0", what: "rangecount 0", keepsFraming: true) { g, id in patched(g, id, [(20, 4, 0)]) },
        Kind(name: "rangecount-2", what: "rangecount 2 (one range described)", keepsFraming: true) { g, id in patched(g, id, [(20, 4, 2)]) },
        Kind(name: "range-offset", what: "range.offset 4095", keepsFraming: true) { g, id in patched(g, id, [(28, 4, 4095)]) },
        Kind(name: "buffer-outside-range", what: "request buffer at 8000 + 400 bytes in an 8192-byte range", keepsFraming: true) { g, id in
            patched(g, id, [(72, 4, 8000), (76, 4, 400)]) },
        Kind(name: "response-outside-range", what: "response buffer of 1 MiB in an 8192-byte range", keepsFraming: true) { g, id in
            patched(g, id, [(84, 4, 1 << 20)]) },
        Kind(name: "response-overlaps-request", what: "response buffer at offset 2, inside the request buffer's page", keepsFraming: true) { g, id in
            patched(g, id, [(80, 4, 2)]) },
        Kind(name: "pfn-list-short", what: "range.len claims 64 pages, the PFN list holds 2", keepsFraming: true) { g, id in
            patched(g, id, [(24, 4, 64 * 4096), (80, 4, 63 * 4096)]) },
        Kind(name: "range-len-mid-page", what: "range.len 6000 (ends mid-page), the response buffer runs past it", keepsFraming: true) { g, id in
            patched(g, id, [(24, 4, 6000), (80, 4, 5000), (84, 4, 2000)]) },
        Kind(name: "offset8-lie", what: "dataoffset8 points past the packet's end", keepsFraming: true) { g, id in
            patched(g, id, [(2, 2, 200)]) },
        Kind(name: "offset8-short", what: "dataoffset8 1 (inside the descriptor header)", keepsFraming: true) { g, id in
            patched(g, id, [(2, 2, 1)]) },
        Kind(name: "len8-lie", what: "len8 claims 4 KiB more than the guest wrote", keepsFraming: false) { g, id in
            patched(g, id, [(4, 2, 13 + 512)]) },
        Kind(name: "len8-short", what: "len8 1 (shorter than a descriptor)", keepsFraming: false) { g, id in
            patched(g, id, [(4, 2, 1)]) },
        Kind(name: "no-completion-flag", what: "flags 0: no completion requested (the host must not send one)", keepsFraming: true) { g, id in
            patched(g, id, [(6, 2, 0)]) },
        Kind(name: "version-unknown", what: "az_blob_vsp_request.version 7", keepsFraming: true) { g, id in patched(g, id, [(48, 4, 7)]) },
        Kind(name: "operation-unknown", what: "operation_type 0x999", keepsFraming: true) { g, id in patched(g, id, [(68, 4, 0x999)]) },
        Kind(name: "zero-lengths", what: "request and response lengths 0", keepsFraming: true) { g, id in patched(g, id, [(76, 4, 0), (84, 4, 0)]) },
        Kind(name: "pfn-unknown", what: "a PFN that is not guest memory", keepsFraming: true) { g, id in patched(g, id, [(40, 8, 0xdead_beef_0000)]) },
        Kind(name: "pfn-huge", what: "a PFN of 2^63 + 0x1000 (negative as a signed index)", keepsFraming: true) { g, id in
            patched(g, id, [(40, 8, 0x8000_0000_0000_1000)]) },
    ]
}

extension HostConformance {
    /// The scenarios whose findings a failing verdict names ("[workload] ..." -> workload).
    public static func failingScenarios(_ v: Verdict) -> [String] {
        Set(v.findings.compactMap { f -> String? in
            guard f.hasPrefix("["), let end = f.firstIndex(of: "]") else { return nil }
            return String(f[f.index(after: f.startIndex)..<end])
        }).sorted()
    }

    /// The verdicts as the conformance report `verify` writes (text, JSON, JUnit, KTAP, HTML):
    /// one row per rule, its evidence one check whose counts say which scenarios showed it and
    /// the command that replays them with the seed; inconclusive stays inconclusive (JUnit
    /// <error>, KTAP not ok). `how` is how the host was given (--host-exec 'CMD').
    public static func report(_ verdicts: [Verdict], host: String, how: String, seed: UInt64, hash: String? = nil) -> ConformanceReport {
        let results: [Conformance.Result] = verdicts.map { v in
            let level: Conformance.Level = v.rule.level == .must ? .must : .should
            let check = Conformance.Check(id: v.rule.id, level: level, summary: v.rule.summary, needs: [], direct: [v.rule.id])
            let scenarios = v.outcome == .fail ? failingScenarios(v) : v.scenarios
            let replay = "hvblob verify-host \(how) --seed \(seed) --only \((scenarios.isEmpty ? v.scenarios : scenarios).joined(separator: ","))"
            var counts = ["scenarios: \(v.scenarios.joined(separator: ", "))"]
            if v.outcome == .pass { counts.append("shown by \(v.evidence)") }
            counts.append("seed \(seed): \(replay)")
            let verdict: Conformance.Verdict = v.outcome == .pass ? .pass : v.outcome == .fail ? .fail : .inconclusive
            let detail: String
            switch v.outcome {
            case .pass: detail = ""
            case .fail: detail = (v.findings + ["reproduce: \(replay)"]).joined(separator: "\n")
            case .inconclusive: detail = v.evidence
            }
            return Conformance.Result(check: check, verdict: verdict, detail: detail, evidence: counts,
                                      findings: v.outcome == .fail ? [v.rule.id: v.findings.count] : [:],
                                      firstFindings: v.findings.first.map { [v.rule.id: $0] } ?? [:],
                                      failedOn: v.outcome == .fail ? [v.rule.id] : [], hostPackets: 0)
        }
        var header = ConformanceReport.Header(driver: "\(host) (\(how))", hash: hash, era: "host interface v\(HostMessage.version)", seed: "\(seed)")
        header.subject = "host"
        return ConformanceReport(target: "host \(host)", checks: results, vectors: [], header: header)
    }
}
