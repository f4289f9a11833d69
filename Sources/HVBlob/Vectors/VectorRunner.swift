// SPDX-License-Identifier: Apache-2.0

/// What one vector did against one target.
public struct VectorOutcome: Sendable {
    public enum Verdict: String, Sendable { case pass, fail, notApplicable = "n/a" }
    public let group: String
    public let vector: Vector
    public let verdict: Verdict
    /// Why it failed (empty when it passed).
    public let detail: String
}

/// Runs vectors against the Swift model (factory nil) or a driver (a bridged C driver).
public enum VectorRunner {
    public static func run(_ file: VectorFile, factory: DriverRig.Factory?, version: KernelVersion = .default,
                           only: ((Vector) -> Bool)? = nil) -> [VectorOutcome] {
        let target = factory == nil ? "model" : "driver"
        var out: [VectorOutcome] = []
        for v in file.vectors where only?(v) ?? true {
            guard v.targets.contains(target) else {
                out.append(VectorOutcome(group: file.group, vector: v, verdict: .notApplicable, detail: "applies to \(v.targets.joined(separator: ", "))"))
                continue
            }
            let detail: String?
            do { detail = try runOne(file.group, v, factory: factory, version: version) } catch { detail = "could not run: \(error)" }
            out.append(VectorOutcome(group: file.group, vector: v, verdict: detail == nil ? .pass : .fail, detail: detail ?? ""))
        }
        return out
    }

    static func runOne(_ group: String, _ v: Vector, factory: DriverRig.Factory?, version: KernelVersion) throws -> String? {
        let inputs = JSONNode(v.inputs), expected = JSONNode(v.expected)
        switch group {
        case "ioctl": return try ioctl(inputs, expected, factory, version)
        case "mpb": return try mpb(inputs, expected, factory, version)
        case "layouts": return layout(inputs, expected)
        case "ring": return ring(inputs, expected)
        case "request-ids": return requestIds(inputs, expected)
        case "completions": return try completion(inputs, expected, factory, version)
        case "lifecycle": return try lifecycle(inputs, expected, factory, version)
        default: return "unknown group \(group)"
        }
    }

    static func guestFindings(_ log: ViolationLog) -> String? {
        let bad = log.counts.filter { $0.key.findingClass == .guest || $0.key.findingClass == .liveness || $0.key.findingClass == .hostCheck }
        guard !bad.isEmpty else { return nil }
        let first = log.violations.first { bad[$0.rule] != nil }
        return "findings: " + bad.sorted { $0.key < $1.key }.map { "\($0.key) x\($0.value)" }.joined(separator: ", ") + (first.map { " — \($0.detail)" } ?? "")
    }

    // MARK: ioctl and MPB

    /// Lays the inputs out in the rig's process; returns the argument address.
    static func place(_ i: VectorGenerator.IoctlInputs, _ rig: DriverRig) -> UInt64? {
        let cap = UInt64(AzBlob.pageSize * (AzBlob.maxPages + 1))
        func buffer(_ len: UInt32, _ off: Int, _ kind: String, _ contents: [UInt8] = []) -> UInt64? {
            if kind == "unmapped" { return 0x5555_0000_0000 + UInt64(off) }
            guard let k = MappingKind(rawValue: kind) else { return nil }
            return rig.space.map(length: Int(min(UInt64(len), cap)), pageOffset: off, kind: k, contents: contents)
        }
        let text = BlobStore.request("LIST", "x")
        let n = Int(min(i.requestLen, 4096))
        let reqText = Array((text + [UInt8](repeating: 0x20, count: max(0, n - text.count))).prefix(n))
        guard let req = buffer(i.requestLen, i.requestOffset, i.requestMapping, reqText),
              let resp = buffer(i.responseLen, i.responseOffset, i.responseMapping),
              let data = buffer(i.dataLen, i.dataOffset, i.dataMapping) else { return nil }
        let s = AzBlobRequestSync(guid: GUID(0x1122_3344, 0x5566, 0x7788, [1, 2, 3, 4, 5, 6, 7, 8]), timeout: 500,
                                  requestLen: i.requestLen, responseLen: i.responseLen, dataLen: i.dataLen, dataValid: i.dataValid,
                                  requestBuffer: req, responseBuffer: resp, dataBuffer: data)
        switch i.argument {
        case "mapped": return rig.argument(s)
        case "unmapped": return 0x5556_0000_0000
        case "short":
            let l = rig.driver.abi.layout
            return rig.space.map(length: l.size - 8, pageOffset: 4096 - (l.size - 8), kind: .populated, contents: Array(l.encode(s).prefix(l.size - 8)))
        default: return nil
        }
    }

    static func ioctl(_ inputs: JSONNode, _ expected: JSONNode, _ factory: DriverRig.Factory?, _ version: KernelVersion) throws -> String? {
        guard let i = VectorGenerator.IoctlInputs(inputs), let want = expected["errno"]?.string.flatMap(Errno.init(name:)) else {
            return "inputs or expected malformed"
        }
        let rig = try DriverRig(factory: factory, version: version)
        if i.credentialsChanged { rig.space.credentials = 4242 }
        guard let arg = place(i, rig) else { return "inputs name an unknown mapping or argument kind" }
        let got = rig.ioctl(arg, command: rig.driver.abi.translate(IoctlCommand(rawValue: i.command)))
        if got != want { return "returned \(got.map(\.name) ?? "never (hang)"), expected \(want.name)" }
        if let p = expected["packets"]?.int, rig.packets.count != Int(p) { return "\(rig.packets.count) packet(s) sent, expected \(p)" }
        if rig.machine.memory.pinnedFrames != 0 { return "\(rig.machine.memory.pinnedFrames) page(s) still pinned after the ioctl returned" }
        return guestFindings(rig.log)
    }

    static func mpb(_ inputs: JSONNode, _ expected: JSONNode, _ factory: DriverRig.Factory?, _ version: KernelVersion) throws -> String? {
        guard let i = VectorGenerator.IoctlInputs(inputs), let want = expected["errno"]?.string.flatMap(Errno.init(name:)) else {
            return "inputs or expected malformed"
        }
        let rig = try DriverRig(factory: factory, version: version)
        guard let arg = place(i, rig) else { return "inputs name an unknown mapping kind" }
        let got = rig.ioctl(arg)
        if got != want { return "returned \(got.map(\.name) ?? "never (hang)"), expected \(want.name)" }
        if want != .success { return rig.packets.isEmpty ? guestFindings(rig.log) : "a packet was sent" }
        guard rig.packets.count == 1 else { return "\(rig.packets.count) packets sent, expected 1" }
        let p: GPADirectPacket
        do { p = try GPADirectPacket.decode(rig.packets[0]) } catch { return "the packet does not decode: \(error)" }
        let r = p.request
        let have: [(String, UInt64)] = [
            ("pfn_count", UInt64(p.pfns.count)), ("range_len", UInt64(p.rangeLen)), ("range_offset", UInt64(p.rangeOffset)),
            ("dataoffset8", UInt64(p.dataOffset8)), ("length8", UInt64(p.length8)),
            ("data_buffer_offset", UInt64(r.dataBufferOffset)), ("data_buffer_length", UInt64(r.dataBufferLength)),
            ("data_buffer_valid", UInt64(r.dataBufferValid)), ("request_buffer_offset", UInt64(r.requestBufferOffset)),
            ("request_buffer_length", UInt64(r.requestBufferLength)), ("response_buffer_offset", UInt64(r.responseBufferOffset)),
            ("response_buffer_length", UInt64(r.responseBufferLength)),
        ]
        for (name, value) in have {
            guard let w = expected[name]?.uint else { return "expected.\(name) missing" }
            if w != value { return "\(name) is \(value), expected \(w)" }
        }
        return guestFindings(rig.log)
    }

    // MARK: layouts

    static func layout(_ inputs: JSONNode, _ expected: JSONNode) -> String? {
        guard let name = inputs["struct"]?.string, let f = inputs["fields"], let hex = expected["hex"]?.string,
              let want = try? Hex.decode(hex) else { return "inputs or expected malformed" }
        func u(_ k: String) -> UInt64? { f[k]?.uint }
        func u32(_ k: String) -> UInt32? { u(k).flatMap { $0 <= UInt64(UInt32.max) ? UInt32($0) : nil } }
        func u16(_ k: String) -> UInt16? { u(k).flatMap { $0 <= UInt64(UInt16.max) ? UInt16($0) : nil } }
        func g(_ k: String) -> GUID? { f[k]?.string.flatMap(GUID.init(string:)) }
        let encoded: [UInt8]
        let roundTrip: [UInt8]?
        switch name {
        case "az_blob_request_sync":
            guard let guid = g("guid"), let t = u32("timeout"), let rl = u32("request_len"), let pl = u32("response_len"),
                  let dl = u32("data_len"), let dv = u32("data_valid"), let rb = u("request_buffer"), let pb = u("response_buffer"),
                  let db = u("data_buffer"), let st = u32("response.status"), let rrl = u32("response.response_len") else { return "fields malformed" }
            var s = AzBlobRequestSync(guid: guid, timeout: t, requestLen: rl, responseLen: pl, dataLen: dl, dataValid: dv,
                                      requestBuffer: rb, responseBuffer: pb, dataBuffer: db)
            s.responseStatus = st
            s.responseResponseLen = rrl
            encoded = s.encoded()
            roundTrip = (try? AzBlobRequestSync.decode(want))?.encoded()
        case "az_blob_vsp_request":
            guard let ver = u32("version"), let t = u32("timeout_ms"), let dO = u32("data_buffer_offset"), let dL = u32("data_buffer_length"),
                  let dV = u32("data_buffer_valid"), let op = u32("operation_type"), let rO = u32("request_buffer_offset"),
                  let rL = u32("request_buffer_length"), let pO = u32("response_buffer_offset"), let pL = u32("response_buffer_length"),
                  let tid = g("transaction_id") else { return "fields malformed" }
            encoded = VSPRequest(version: ver, timeoutMs: t, dataBufferOffset: dO, dataBufferLength: dL, dataBufferValid: dV,
                                 operation: VSPOperation(rawValue: op), requestBufferOffset: rO, requestBufferLength: rL,
                                 responseBufferOffset: pO, responseBufferLength: pL, transactionId: tid).encoded()
            roundTrip = (try? VSPRequest.decode(want))?.encoded()
        case "az_blob_vsp_response":
            guard let l = u32("length"), let e = u32("error"), let rl = u32("response_len") else { return "fields malformed" }
            encoded = VSPResponse(length: l, error: VSPStatus(rawValue: e), responseLen: rl).encoded()
            roundTrip = (try? VSPResponse.decode(want))?.encoded()
        case "vmpacket_descriptor":
            guard let t = u16("type"), let o = u16("offset8"), let l = u16("len8"), let fl = u16("flags"), let id = u("trans_id") else { return "fields malformed" }
            encoded = PacketDescriptor(type: PacketType(rawValue: t), offset8: o, len8: l, flags: fl, transId: id).encoded()
            roundTrip = (try? PacketDescriptor.decode(want))?.encoded()
        default:
            return "unknown struct \(name)"
        }
        if encoded != want {
            let k = (0..<min(encoded.count, want.count)).first { encoded[$0] != want[$0] } ?? min(encoded.count, want.count)
            return "\(name): encoding differs at byte \(k) (\(encoded.count) vs \(want.count) bytes)"
        }
        if roundTrip != want { return "\(name): decoding the expected bytes and encoding again does not give them back" }
        return nil
    }

    // MARK: ring and request ids (the model's own transport)

    static func ring(_ inputs: JSONNode, _ expected: JSONNode) -> String? {
        guard let size = inputs["ring_size"]?.int, size >= 8192, size % 4096 == 0, size <= 1 << 22, let ops = inputs["ops"]?.array,
              let want = expected["results"]?.array else { return "inputs or expected malformed" }
        let ring = RingBuffer(size: Int(size))
        var got: [JSON] = []
        for op in ops {
            switch op["op"]?.string ?? "" {
            case "write":
                let len = Int(op["len"]?.int ?? 16)
                guard len >= 16, len % 8 == 0, len < ring.dataSize else { return "write length \(len) is not a ring packet" }
                var w = WireWriter(capacity: len)
                PacketDescriptor(type: .dataInBand, offset8: 2, len8: UInt16(len / 8), flags: 0, transId: 0).encode(into: &w)
                w.zeros(len - PacketDescriptor.wireSize)
                switch ring.write(w.bytes, transId: { 0 }) {
                case .written(_, let signal):
                    got.append(obj(["ok": .bool(true), "signal": .bool(signal), "write_index": .int(ring.writeIndex)]))
                case .full, .noRequestId:
                    got.append(obj(["ok": .bool(false), "write_index": .int(ring.writeIndex)]))
                }
            case "read":
                var reader = RingReader(ring: ring)
                if let p = reader.copyFirst(ring) {
                    _ = reader.advance(ring, len8: UInt16(p.count / 8))
                    let signal = reader.close(ring)
                    got.append(obj(["len": .int(p.count), "read_index": .int(ring.readIndex), "signal": .bool(signal)]))
                } else {
                    got.append(obj(["len": .int(0), "read_index": .int(ring.readIndex), "signal": .bool(false)]))
                }
            case "mask":
                ring.interruptMask = (op["on"]?.bool ?? false) ? 1 : 0
                got.append(obj(["ok": .bool(true)]))
            case "pending":
                ring.pendingSendSize = UInt32(truncatingIfNeeded: op["bytes"]?.int ?? 0)
                got.append(obj(["ok": .bool(true)]))
            default:
                got.append(obj(["ok": .bool(false)]))
            }
        }
        return compareResults(got, want)
    }

    static func compareResults(_ got: [JSON], _ want: [JSONNode]) -> String? {
        guard got.count == want.count else { return "\(got.count) results, expected \(want.count)" }
        for (k, (g, w)) in zip(got, want).enumerated() where g != w.value {
            return "operation \(k): \(g.serialized()), expected \(w.value.serialized())"
        }
        return nil
    }

    static func requestIds(_ inputs: JSONNode, _ expected: JSONNode) -> String? {
        guard let size = inputs["size"]?.int, size > 0, size <= 1 << 16, let era = inputs["kernel"]?.string.flatMap(KernelVersion.init),
              let ops = inputs["ops"]?.array, let want = expected["results"]?.array else { return "inputs or expected malformed" }
        var table = RequestIdTable(size: Int(size), zeroIdIsError: era.zeroIdLookupIsError)
        var got: [JSON] = []
        for op in ops {
            if op["op"]?.string == "allocate" {
                got.append(table.allocate(0xC0FFEE).map { .int($0) } ?? .string("full"))
            } else {
                switch table.lookup(op["id"]?.uint ?? 0) {
                case .found: got.append(.string("found"))
                case .error: got.append(.string("error"))
                case .zero: got.append(.string("zero"))
                }
            }
        }
        return compareResults(got, want)
    }

    // MARK: completions and lifecycle (a scripted host)

    static func completion(_ inputs: JSONNode, _ expected: JSONNode, _ factory: DriverRig.Factory?, _ version: KernelVersion) throws -> String? {
        guard let c = inputs["completion"], let type = c["type"]?.uint, let offset8 = c["offset8"]?.uint, let len8 = c["len8"]?.uint,
              let flags = c["flags"]?.uint, let tid = c["trans_id"]?.string, let error = c["error"]?.uint, let rlen = c["response_len"]?.uint,
              type <= 0xFFFF, offset8 <= 64, len8 >= 2, len8 <= 64, flags <= 0xFFFF, error <= UInt64(UInt32.max), rlen <= UInt64(UInt32.max),
              let respLen = inputs["response_buffer_len"]?.uint, respLen > 0, respLen <= 1 << 20,
              let want = expected["errno"]?.string.flatMap(Errno.init(name:)), let wantStatus = expected["status"]?.uint,
              let wantLen = expected["response_len"]?.uint else { return "inputs or expected malformed" }
        let real = inputs["then_real_completion"]?.bool ?? false
        let rig = try DriverRig(factory: factory, version: version)
        let m = rig.machine
        m.channel.signalHost = { [unowned m] in
            m.queue.schedule(at: m.now) { [unowned m] in
                while let b = m.channel.hostReceive() {
                    let id = b.count >= 16 ? b.u64(8) : 0
                    var packet = [UInt8](repeating: 0, count: Int(len8) * 8)
                    var w = WireWriter(capacity: 16)
                    let wireId: UInt64 = tid == "zero" ? 0 : tid == "unknown" ? 4242 : id
                    PacketDescriptor(type: PacketType(rawValue: UInt16(type)), offset8: UInt16(offset8), len8: UInt16(len8),
                                     flags: UInt16(flags), transId: wireId).encode(into: &w)
                    packet.replaceSubrange(0..<16, with: w.bytes)
                    let resp = VSPResponse(error: VSPStatus(rawValue: UInt32(error)), responseLen: UInt32(rlen)).encoded()
                    let at = Int(offset8) * 8
                    for (k, byte) in resp.enumerated() where at + k >= 16 && at + k < packet.count { packet[at + k] = byte }
                    _ = m.channel.hostSend(packet)
                    if tid == "duplicate" { _ = m.channel.hostSend(packet) }
                    if real { _ = m.channel.hostSend(CompletionPacket(requestId: id, response: VSPResponse(responseLen: 4)).encoded()) }
                }
            }
        }
        let (arg, _) = rig.argument(responseLen: Int(respLen))
        let got = rig.ioctl(arg)
        if got != want { return "returned \(got.map(\.name) ?? "never (hang)"), expected \(want.name)" }
        if want == .success {
            guard let r = rig.response(arg) else { return "the response cannot be read back" }
            if UInt64(r.status) != wantStatus || UInt64(r.length) != wantLen {
                return "response status \(r.status) response_len \(r.length), expected status \(wantStatus) response_len \(wantLen)"
            }
        }
        m.run(until: m.now + 10)
        return guestFindings(rig.log)
    }

    static func lifecycle(_ inputs: JSONNode, _ expected: JSONNode, _ factory: DriverRig.Factory?, _ version: KernelVersion) throws -> String? {
        guard let steps = inputs["steps"]?.array?.compactMap(\.string), let want = expected["results"]?.array?.compactMap(\.string),
              want.count == steps.count, let wantChannel = expected["channel"]?.string else { return "inputs or expected malformed" }
        let rig = try DriverRig(factory: factory, version: version)
        let m = rig.machine
        var hold = false
        var held: [UInt64] = []
        m.channel.signalHost = { [unowned m] in
            m.queue.schedule(at: m.now) { [unowned m] in
                while let b = m.channel.hostReceive() {
                    let id = b.count >= 16 ? b.u64(8) : 0
                    if hold { held.append(id) } else { _ = m.channel.hostSend(CompletionPacket(requestId: id, response: VSPResponse(responseLen: 4)).encoded()) }
                }
            }
        }
        var calls: [TrackedCall] = []
        var remove: TrackedCall?
        func pump() {
            for _ in 0..<10_000 {
                m.run(until: m.now)
                var progressed = false
                for t in calls + (remove.map { [$0] } ?? []) where t.isDue(at: m.now) {
                    progressed = t.advance() || progressed
                }
                if !progressed { return }
            }
        }
        for (k, step) in steps.enumerated() {
            var got = "ok"
            let parts = step.split(separator: " ")
            switch parts.first.map(String.init) ?? "" {
            case "ioctl":
                hold = false
                let (arg, _) = rig.argument()
                let call = TrackedCall(rig.driver.ioctl(rig.file, command: rig.driver.abi.command, argument: arg))
                call.advance()
                calls.append(call)
                pump()
                calls.removeAll { $0 === call && call.result != nil }
                got = call.result?.name ?? "blocked"
            case "ioctl-held":
                hold = true
                let (arg, _) = rig.argument()
                let call = TrackedCall(rig.driver.ioctl(rig.file, command: rig.driver.abi.command, argument: arg))
                call.advance()
                pump()
                calls.append(call)
                got = call.result?.name ?? "blocked"
            case "complete":
                for id in held { _ = m.channel.hostSend(CompletionPacket(requestId: id, response: VSPResponse(responseLen: 4)).encoded()) }
                held = []
                hold = false
                pump()
            case "wait":
                pump()
                got = calls.map { $0.result?.name ?? "blocked" }.joined(separator: ",")
                calls.removeAll { $0.result != nil }
            case "rescind":
                m.channel.rescind()
                pump()
            case "remove":
                if remove == nil {
                    let r = TrackedCall(rig.driver.remove())
                    r.advance()
                    remove = r
                }
                pump()
                got = remove?.result == nil ? "blocked" : "done"
            case "advance":
                guard parts.count == 2, let n = UInt64(parts[1]), n <= 1 << 32 else { return "step \(k): '\(step)' is not 'advance N'" }
                m.now += n
                pump()
            case "release":
                rig.driver.release(rig.file)
                pump()
            case "open":
                do { _ = try rig.driver.open(AddressSpace(pid: 99, memory: m.memory)); got = "0" } catch { got = error.name }
            default:
                return "step \(k): unknown step '\(step)'"
            }
            if got != want[k] { return "step \(k) '\(step)': \(got), expected \(want[k])" }
        }
        let channel = m.channel.state.rawValue
        if channel != wantChannel { return "channel is \(channel) at the end, expected \(wantChannel)" }
        return guestFindings(rig.log)
    }
}
