// SPDX-License-Identifier: Apache-2.0

/// Writes every vector group from one seed. Expected results come from the rules themselves
/// (the small oracles below, written from PROTOCOL.md and Linux's ring and requestor code), not
/// from running the model: a vector is a claim the model and the driver are both checked against.
public enum VectorGenerator {
    public static let defaultSeed: UInt64 = 0x5EED_0004

    public static func generate(seed: UInt64 = defaultSeed) -> [VectorFile] {
        let how = "hvblob vectors generate --seed 0x\(String(seed, radix: 16))"
        var rng = SeededRandom(seed: seed)
        return [
            VectorFile(group: "ioctl", description: "IOCTL_AZ_BLOB_DRIVER_USER_REQUEST argument validation: each rule and each boundary, in the order the driver must check them.",
                       generator: how, vectors: ioctl(&rng)),
            VectorFile(group: "layouts", description: "Wire and uapi structures as bytes: field values in, exact little-endian bytes out.",
                       generator: how, vectors: layouts(&rng)),
            VectorFile(group: "mpb", description: "Building the one GPA-direct range: data, request, response pages; offsets, range.len, dataoffset8, length8; the 8192-page limit.",
                       generator: how, vectors: mpb(&rng)),
            VectorFile(group: "ring", description: "The VMBus ring buffer: wrap, full (free <= packet + trailer), the empty->non-empty signal, interrupt_mask, pending_send_sz.",
                       generator: how, vectors: ring(&rng)),
            VectorFile(group: "request-ids", description: "The per-channel request-id table (vmbus_requestor): LIFO reuse, exhaustion, stale, forged and zero ids per API era.",
                       generator: how, vectors: requestIds(&rng)),
            VectorFile(group: "completions", description: "What the guest does with each completion a host may send: short, oversized response_len, wrong type, unknown and zero ids, error status.",
                       generator: how, vectors: completions()),
            VectorFile(group: "lifecycle", description: "open / ioctl / remove / rescind sequences and what each step returns.",
                       generator: how, vectors: lifecycle()),
        ]
    }

    static func id(_ group: String, _ n: Int) -> String {
        let s = String(n)
        return "\(group)-" + String(repeating: "0", count: max(0, 4 - s.count)) + s
    }

    static func level(_ rule: String) -> Conformance.Level {
        Conformance.checks.first { $0.id == rule }?.level ?? ruleLevels[rule] ?? .must
    }

    /// Rules that only vectors test (the conformance checks carry their own levels).
    static let ruleLevels: [String: Conformance.Level] = [
        "layout.struct": .must, "ring.write": .must, "ring.full": .must, "ring.signal": .must, "ring.interrupt-mask": .must,
        "ring.pending-send-size": .must, "rqstor.lifo": .must, "rqstor.exhausted": .must, "rqstor.stale": .must,
        "rqstor.zero-id": .must, "completion.ok": .must, "completion.wrong-type": .must, "completion.short": .must,
        "completion.unknown-id": .must, "completion.offset8-invalid": .must, "completion.zero-id": .must, "completion.duplicate": .must,
        "completion.error-status": .must, "lifecycle.orderly": .must, "lifecycle.rescind": .must,
        "lifecycle.rescind-in-flight": .must, "lifecycle.open-after-remove": .should,
    ]

    // MARK: ioctl validation

    public struct IoctlInputs: Sendable, Equatable {
        public var command: UInt32 = IoctlCommand.azBlobUserRequest.rawValue
        public var requestLen: UInt32 = 32, responseLen: UInt32 = 64, dataLen: UInt32 = 0, dataValid: UInt32 = 0
        public var requestOffset = 0, responseOffset = 0, dataOffset = 0
        public var requestMapping = "populated", responseMapping = "untouched", dataMapping = "untouched"
        /// "mapped", "unmapped", or "short" (only the first 64 of its 72 bytes readable).
        public var argument = "mapped"
        public var credentialsChanged = false

        var json: JSON {
            obj([
                "command": .string("0x" + String(command, radix: 16)),
                "request_len": .int(requestLen), "response_len": .int(responseLen), "data_len": .int(dataLen), "data_valid": .int(dataValid),
                "request_offset": .int(requestOffset), "response_offset": .int(responseOffset), "data_offset": .int(dataOffset),
                "request_mapping": .string(requestMapping), "response_mapping": .string(responseMapping), "data_mapping": .string(dataMapping),
                "argument": .string(argument), "credentials_changed": .bool(credentialsChanged),
            ])
        }

        init() {}

        init?(_ j: JSONNode) {
            guard let c = j["command"]?.string, c.hasPrefix("0x"), let cmd = UInt32(c.dropFirst(2), radix: 16),
                  let rl = j["request_len"]?.uint, let pl = j["response_len"]?.uint, let dl = j["data_len"]?.uint, let dv = j["data_valid"]?.uint,
                  rl <= UInt32.max, pl <= UInt32.max, dl <= UInt32.max, dv <= UInt32.max,
                  let ro = j["request_offset"]?.int, let po = j["response_offset"]?.int, let doff = j["data_offset"]?.int,
                  (0..<4096).contains(ro), (0..<4096).contains(po), (0..<4096).contains(doff),
                  let rm = j["request_mapping"]?.string, let pm = j["response_mapping"]?.string, let dm = j["data_mapping"]?.string,
                  let a = j["argument"]?.string, let cc = j["credentials_changed"]?.bool else { return nil }
            command = cmd
            requestLen = UInt32(rl); responseLen = UInt32(pl); dataLen = UInt32(dl); dataValid = UInt32(dv)
            requestOffset = Int(ro); responseOffset = Int(po); dataOffset = Int(doff)
            requestMapping = rm; responseMapping = pm; dataMapping = dm
            argument = a; credentialsChanged = cc
        }
    }

    static let byteLimit = UInt64(AzBlob.pageSize * AzBlob.maxPages)

    static func span(_ off: Int, _ len: UInt32) -> Int { AzBlob.pagesSpanned(offset: off, length: Int(len)) }

    /// The rule that decides, in the order the driver must check, and what it returns.
    public static func ioctlOracle(_ i: IoctlInputs) -> (Errno, String) {
        if i.command != IoctlCommand.azBlobUserRequest.rawValue { return (.EINVAL, "ioctl.command.unknown") }
        if i.credentialsChanged { return (.EACCES, "ioctl.cred.changed") }
        if i.argument != "mapped" { return (.EFAULT, "ioctl.copy-in.fault") }
        if i.requestLen == 0 || i.responseLen == 0 { return (.EINVAL, "ioctl.len.zero") }
        if i.dataLen != 0 && i.dataLen < i.dataValid { return (.EINVAL, "ioctl.data-valid") }
        if UInt64(i.requestLen) > byteLimit || UInt64(i.responseLen) > byteLimit || UInt64(i.dataLen) > byteLimit {
            return (.EINVAL, "ioctl.len.max")
        }
        if i.requestMapping == "unmapped" { return (.EFAULT, "ioctl.pin.fault") }
        if i.responseMapping == "unmapped" { return (.EFAULT, "ioctl.pin.fault") }
        if i.responseMapping == "read-only" { return (.EFAULT, "ioctl.pin.write-intent") }
        if i.dataLen != 0 && i.dataMapping == "unmapped" { return (.EFAULT, "ioctl.pin.fault") }
        if i.dataLen != 0 && i.dataMapping == "read-only" { return (.EFAULT, "ioctl.pin.write-intent") }
        let total = span(i.requestOffset, i.requestLen) + span(i.responseOffset, i.responseLen)
            + (i.dataLen != 0 ? span(i.dataOffset, i.dataLen) : 0)
        if total > AzBlob.maxPages { return (.EINVAL, "ioctl.pages.total") }
        if i.requestMapping == "read-only" { return (.success, "ioctl.pin.request-read-only") }
        return (.success, "ioctl.ok")
    }

    static func ioctl(_ rng: inout SeededRandom) -> [Vector] {
        var out: [Vector] = []
        func add(_ i: IoctlInputs, _ comment: String, why: String? = nil) {
            let (e, rule) = ioctlOracle(i)
            out.append(Vector(id: id("ioctl", out.count + 1), rule: rule, level: level(rule), comment: comment, why: why,
                              inputs: i.json, expected: obj(["errno": .string(e.name), "packets": .int(e == .success ? 1 : 0)])))
        }
        let base = IoctlInputs()
        add(base, "a plain valid request: 32-byte request, 64-byte response, no data")
        for c: UInt32 in [0, 0xC048_52F1, 0x8048_52F0, 0x4048_52F0, 0xC049_52F0, 0xC048_53F0] {
            var i = base; i.command = c
            add(i, "command 0x\(String(c, radix: 16)) differs from IOCTL_AZ_BLOB_DRIVER_USER_REQUEST (0xc04852f0) in one field")
        }
        var i = base; i.credentialsChanged = true
        add(i, "credentials changed since open")
        i.requestLen = 0
        add(i, "credentials are checked before the lengths: still EACCES with request_len 0")
        for a in ["unmapped", "short"] {
            i = base; i.argument = a
            add(i, "the argument is \(a == "short" ? "readable for only 64 of its 72 bytes" : "not mapped")")
        }
        for (r, p) in [(0, 64), (32, 0), (0, 0)] as [(UInt32, UInt32)] {
            i = base; i.requestLen = r; i.responseLen = p
            add(i, "request_len \(r), response_len \(p)")
        }
        i = base; i.requestLen = 0; i.requestMapping = "unmapped"
        add(i, "a zero length is refused before any pin: the unmapped request buffer is never touched")
        for (len, valid) in [(4096, 4097), (4096, 4096), (1, 0), (0, 5), (0, 0xFFFF_FFFF), (65536, 0xFFFF_FFFF)] as [(UInt32, UInt32)] {
            i = base; i.dataLen = len; i.dataValid = valid; i.dataMapping = "populated"
            add(i, "data_len \(len), data_valid \(valid)\(len == 0 ? ": data_valid is ignored without data" : "")")
        }
        let limit = UInt32(byteLimit)
        for (field, value) in [("request_len", limit + 1), ("response_len", limit + 1), ("data_len", limit + 1),
                               ("request_len", UInt32.max), ("data_len", UInt32.max), ("response_len", limit)] {
            i = base
            switch field {
            case "request_len": i.requestLen = value
            case "response_len": i.responseLen = value
            default: i.dataLen = value
            }
            add(i, "\(field) \(value) (the limit is 8192 pages, \(limit) bytes)")
        }
        for which in ["request", "response", "data"] {
            for kind in ["unmapped", "read-only"] {
                i = base
                i.dataLen = 4096
                switch which {
                case "request": i.requestMapping = kind
                case "response": i.responseMapping = kind
                default: i.dataMapping = kind
                }
                add(i, "the \(which) buffer is \(kind)")
            }
        }
        i = base; i.dataLen = 0; i.dataMapping = "unmapped"
        add(i, "data_len 0: the data buffer is not pinned, so an unmapped data pointer is fine")
        // The 8192-page total: 8190 data pages + 1 request + 1 response page fit; one more does not.
        i = base; i.dataLen = UInt32(8190 * 4096)
        add(i, "8190 data pages + 1 request page + 1 response page = 8192 pages: accepted")
        i.dataOffset = 1
        add(i, "the same with the data buffer starting 1 byte into a page: 8193 pages")
        i = base; i.dataLen = UInt32(8190 * 4096); i.requestOffset = 4064
        add(i, "the request buffer crosses a page boundary: 8193 pages")
        i = base; i.requestLen = 4096; i.requestOffset = 1
        add(i, "a one-page request starting at byte 1 spans two pages")
        // Seeded random requests over the same fields.
        let lens: [UInt32] = [1, 7, 4095, 4096, 4097, 8191, 65536, 200_000]
        for _ in 0..<120 {
            var r = IoctlInputs()
            r.requestLen = rng.chance(0.05) ? 0 : lens[rng.int(in: 0...lens.count - 1)]
            r.responseLen = rng.chance(0.05) ? 0 : lens[rng.int(in: 0...lens.count - 1)]
            r.dataLen = rng.chance(0.3) ? 0 : lens[rng.int(in: 0...lens.count - 1)]
            r.dataValid = rng.chance(0.5) ? r.dataLen : UInt32(rng.int(in: 0...Int(r.dataLen) + 2))
            r.requestOffset = [0, 1, 4095, rng.int(in: 0...4095)][rng.int(in: 0...3)]
            r.responseOffset = [0, 1, 4095, rng.int(in: 0...4095)][rng.int(in: 0...3)]
            r.dataOffset = [0, 1, 4095, rng.int(in: 0...4095)][rng.int(in: 0...3)]
            let kinds = ["populated", "untouched", "read-only", "unmapped"]
            func kind() -> String { rng.chance(0.85) ? (rng.chance(0.5) ? "populated" : "untouched") : kinds[rng.int(in: 2...3)] }
            r.requestMapping = rng.chance(0.9) ? "populated" : kind()
            r.responseMapping = kind()
            r.dataMapping = kind()
            add(r, "seeded random request")
        }
        // Each pair of rules whose order decides the errno (PROTOCOL.md §1): one request that
        // breaks both, named in the comment, whose answer comes from the earlier rule.
        func pair(_ first: String, _ second: String, _ i: IoctlInputs, _ what: String) {
            let (e, rule) = ioctlOracle(i)
            precondition(rule == first, "boundary vector \(first) before \(second): the oracle says \(rule)")
            out.append(Vector(id: id("ioctl", out.count + 1), rule: rule, level: level(rule),
                              comment: "order: \(first) before \(second): \(what)",
                              why: "both rules are broken; only the order of the checks decides between their answers",
                              inputs: i.json, expected: obj(["errno": .string(e.name), "packets": .int(0)])))
        }
        // (An unknown command and changed credentials are not ordered by §1: no vector.)
        i = base; i.credentialsChanged = true; i.argument = "unmapped"
        pair("ioctl.cred.changed", "ioctl.copy-in.fault", i, "changed credentials with an unmapped argument: EACCES, not EFAULT")
        i = base; i.argument = "short"; i.requestLen = 0
        pair("ioctl.copy-in.fault", "ioctl.len.zero", i, "an argument readable for only 64 of its 72 bytes that says request_len 0: EFAULT")
        i = base; i.responseLen = 0; i.dataLen = 100; i.dataValid = 101
        pair("ioctl.len.zero", "ioctl.data-valid", i, "response_len 0 with data_valid > data_len")
        i = base; i.responseLen = 0; i.responseMapping = "unmapped"
        pair("ioctl.len.zero", "ioctl.pin.fault", i, "zero response_len with an unmapped response buffer: EINVAL, not EFAULT")
        i = base; i.dataLen = 100; i.dataValid = 101; i.requestLen = limit + 1
        pair("ioctl.data-valid", "ioctl.len.max", i, "data_valid > data_len with request_len one byte over the limit")
        i = base; i.dataLen = 100; i.dataValid = 101; i.dataMapping = "unmapped"
        pair("ioctl.data-valid", "ioctl.pin.fault", i, "data_valid > data_len with an unmapped data buffer: EINVAL, not EFAULT")
        i = base; i.requestLen = limit + 1; i.requestMapping = "unmapped"
        pair("ioctl.len.max", "ioctl.pin.fault", i, "request_len one byte over the limit with an unmapped request buffer: EINVAL, not EFAULT")
        i = base; i.requestLen = limit; i.requestMapping = "unmapped"
        pair("ioctl.pin.fault", "ioctl.len.max", i, "request_len exactly at the limit (allowed) with an unmapped request buffer: EFAULT")
        i = base; i.dataLen = limit; i.dataMapping = "unmapped"
        pair("ioctl.pin.fault", "ioctl.len.max", i, "data_len exactly at the limit (allowed) with an unmapped data buffer: EFAULT")
        i = base; i.dataLen = UInt32(8190 * 4096); i.dataOffset = 1; i.responseMapping = "unmapped"
        pair("ioctl.pin.fault", "ioctl.pages.total", i, "8193 pages in all with an unmapped response buffer: the pin fails first, EFAULT")
        i = base; i.dataLen = UInt32(8190 * 4096); i.dataOffset = 1; i.dataMapping = "read-only"
        pair("ioctl.pin.write-intent", "ioctl.pages.total", i, "8193 pages in all with a read-only data buffer: the write-intent pin fails first, EFAULT")
        return out
    }

    // MARK: layouts

    static func layouts(_ rng: inout SeededRandom) -> [Vector] {
        var out: [Vector] = []
        func add(_ structName: String, _ fields: JSON, _ bytes: [UInt8], _ comment: String, why: String? = nil) {
            out.append(Vector(id: id("layouts", out.count + 1), rule: "layout.struct", level: .must, comment: comment, why: why,
                              targets: ["model"], inputs: obj(["struct": .string(structName), "fields": fields]),
                              expected: obj(["hex": .string(Hex.encode(bytes))])))
        }
        func guid(_ r: inout SeededRandom) -> GUID {
            var b = [UInt8](repeating: 0, count: 16)
            for k in 0..<16 { b[k] = UInt8(truncatingIfNeeded: r.next()) }
            return GUID(bytes: b)
        }
        func u32(_ r: inout SeededRandom) -> UInt32 { r.chance(0.2) ? [0, 1, 0xFFFF_FFFF, 0x8000_0000][r.int(in: 0...3)] : UInt32(truncatingIfNeeded: r.next()) }
        for k in 0..<12 {
            let s = AzBlobRequestSync(guid: guid(&rng), timeout: u32(&rng), requestLen: u32(&rng), responseLen: u32(&rng), dataLen: u32(&rng),
                                      dataValid: u32(&rng), requestBuffer: rng.next(), responseBuffer: rng.next(), dataBuffer: rng.next())
            var t = s
            t.responseStatus = u32(&rng); t.responseResponseLen = u32(&rng)
            add("az_blob_request_sync", syncFields(t), t.encoded(), "seeded random az_blob_request_sync #\(k + 1)")
        }
        for k in 0..<12 {
            let r = VSPRequest(version: u32(&rng), timeoutMs: u32(&rng), dataBufferOffset: u32(&rng), dataBufferLength: u32(&rng),
                               dataBufferValid: u32(&rng), operation: VSPOperation(rawValue: u32(&rng)), requestBufferOffset: u32(&rng),
                               requestBufferLength: u32(&rng), responseBufferOffset: u32(&rng), responseBufferLength: u32(&rng),
                               transactionId: guid(&rng))
            add("az_blob_vsp_request", vspFields(r), r.encoded(), "seeded random az_blob_vsp_request #\(k + 1)")
        }
        for k in 0..<8 {
            let r = VSPResponse(length: u32(&rng), error: VSPStatus(rawValue: u32(&rng)), responseLen: u32(&rng))
            add("az_blob_vsp_response", obj(["length": .int(r.length), "error": .int(r.error.rawValue), "response_len": .int(r.responseLen)]),
                r.encoded(), "seeded random az_blob_vsp_response #\(k + 1)")
        }
        for k in 0..<8 {
            let d = PacketDescriptor(type: PacketType(rawValue: UInt16(truncatingIfNeeded: rng.next())), offset8: UInt16(truncatingIfNeeded: rng.next()),
                                     len8: UInt16(truncatingIfNeeded: rng.next()), flags: UInt16(truncatingIfNeeded: rng.next()), transId: rng.next())
            add("vmpacket_descriptor", descFields(d), d.encoded(), "seeded random vmpacket_descriptor #\(k + 1)")
        }
        let dev = AzBlobRequestSync(guid: AzBlob.deviceClassGUID)
        add("az_blob_request_sync", syncFields(dev), dev.encoded(),
            "the device class GUID {0590b792-db64-45cc-81db-b8d70c577c9e} as the guid field",
            why: "guid_t is stored as Linux's GUID_INIT lays it out: the first three fields little-endian (92 b7 90 05 64 db cc 45), the last eight bytes as written; a big-endian mistake shows here first")
        let c = CompletionPacket(requestId: 0x0102_0304_0506_0708, response: VSPResponse(error: .success, responseLen: 4))
        var w = WireWriter()
        c.descriptor.encode(into: &w)
        add("vmpacket_descriptor", descFields(c.descriptor), w.bytes, "the descriptor of a host completion: VM_PKT_COMP, offset8 2, len8 4, flags 0",
            why: "the completion the guest must accept: offset8 counts the 16-byte descriptor, len8 the descriptor plus the 12-byte response padded to 8")
        return out
    }

    static func syncFields(_ s: AzBlobRequestSync) -> JSON {
        obj(["guid": .string(s.guid.description), "timeout": .int(s.timeout), "request_len": .int(s.requestLen),
             "response_len": .int(s.responseLen), "data_len": .int(s.dataLen), "data_valid": .int(s.dataValid),
             "request_buffer": .int(s.requestBuffer), "response_buffer": .int(s.responseBuffer), "data_buffer": .int(s.dataBuffer),
             "response.status": .int(s.responseStatus), "response.response_len": .int(s.responseResponseLen)])
    }

    static func vspFields(_ r: VSPRequest) -> JSON {
        obj(["version": .int(r.version), "timeout_ms": .int(r.timeoutMs), "data_buffer_offset": .int(r.dataBufferOffset),
             "data_buffer_length": .int(r.dataBufferLength), "data_buffer_valid": .int(r.dataBufferValid),
             "operation_type": .int(r.operation.rawValue), "request_buffer_offset": .int(r.requestBufferOffset),
             "request_buffer_length": .int(r.requestBufferLength), "response_buffer_offset": .int(r.responseBufferOffset),
             "response_buffer_length": .int(r.responseBufferLength), "transaction_id": .string(r.transactionId.description)])
    }

    static func descFields(_ d: PacketDescriptor) -> JSON {
        obj(["type": .int(d.type.rawValue), "offset8": .int(d.offset8), "len8": .int(d.len8), "flags": .int(d.flags), "trans_id": .int(d.transId)])
    }

    // MARK: MPB construction

    static func mpbOracle(_ i: IoctlInputs) -> JSON {
        let dataPages = i.dataLen != 0 ? span(i.dataOffset, i.dataLen) : 0
        let reqPages = span(i.requestOffset, i.requestLen), respPages = span(i.responseOffset, i.responseLen)
        let total = dataPages + reqPages + respPages
        if total > AzBlob.maxPages { return obj(["errno": .string("EINVAL")]) }
        let desc = 32 + 8 * total
        return obj([
            "errno": .string("0"), "pfn_count": .int(total), "range_len": .int(total * 4096), "range_offset": .int(0),
            "dataoffset8": .int(desc / 8), "length8": .int((desc + VSPRequest.wireSize + 7) / 8),
            "data_buffer_offset": .int(i.dataLen != 0 ? i.dataOffset : 0), "data_buffer_length": .int(i.dataLen),
            "data_buffer_valid": .int(i.dataLen != 0 ? i.dataValid : 0),
            "request_buffer_offset": .int(i.requestOffset + dataPages * 4096), "request_buffer_length": .int(i.requestLen),
            "response_buffer_offset": .int(i.responseOffset + (dataPages + reqPages) * 4096), "response_buffer_length": .int(i.responseLen),
        ])
    }

    static func mpb(_ rng: inout SeededRandom) -> [Vector] {
        var out: [Vector] = []
        func add(_ i: IoctlInputs, _ comment: String, rule: String = "mpb.layout") {
            let e = mpbOracle(i)
            let r = JSONNode(e)["errno"]?.string == "EINVAL" ? "ioctl.pages.total" : rule
            out.append(Vector(id: id("mpb", out.count + 1), rule: r, level: level(r), comment: comment, inputs: i.json, expected: e))
        }
        var i = IoctlInputs()
        add(i, "no data: request and response pages only")
        for (off, len) in [(0, 4096), (1, 4096), (4095, 2), (4095, 1), (0, 1), (2048, 8192), (0, 65536), (100, 1_000_000)] as [(Int, UInt32)] {
            i = IoctlInputs(); i.dataLen = len; i.dataValid = len / 2; i.dataOffset = off; i.dataMapping = "populated"
            add(i, "data at page offset \(off), \(len) bytes (\(span(off, len)) page(s))")
        }
        i = IoctlInputs(); i.requestLen = 5000; i.requestOffset = 4000; i.responseLen = 9000; i.responseOffset = 3000; i.dataLen = 10; i.dataOffset = 4090
        add(i, "every buffer crossing page boundaries")
        i = IoctlInputs(); i.dataLen = UInt32(8190 * 4096)
        add(i, "the largest request: 8190 + 1 + 1 = 8192 pages, range.len 32 MiB")
        i.responseOffset = 4095
        add(i, "one byte more page: 8193 pages")
        for _ in 0..<40 {
            var r = IoctlInputs()
            r.requestLen = UInt32(rng.int(in: 1...9000)); r.responseLen = UInt32(rng.int(in: 1...9000))
            r.dataLen = rng.chance(0.2) ? 0 : UInt32(rng.int(in: 1...300_000))
            r.dataValid = UInt32(rng.int(in: 0...Int(r.dataLen)))
            r.requestOffset = rng.int(in: 0...4095); r.responseOffset = rng.int(in: 0...4095); r.dataOffset = rng.int(in: 0...4095)
            r.dataMapping = rng.chance(0.5) ? "populated" : "untouched"
            add(r, "seeded random placement")
        }
        return out
    }

    // MARK: ring

    /// Linux's ring rules on a model of its indices (no bytes): what each operation does.
    static func ringOracle(size: Int, ops: [JSONNode]) -> [JSON] {
        let dataSize = size - 4096
        var w = 0, r = 0, mask = 0, pending = 0
        var packets: [Int] = []
        var out: [JSON] = []
        for op in ops {
            switch op["op"]?.string ?? "" {
            case "write":
                let len = Int(op["len"]?.int ?? 16)
                let total = len + 8
                let free = w >= r ? dataSize - (w - r) : r - w
                if free <= total {
                    out.append(obj(["ok": .bool(false), "write_index": .int(w)]))
                    continue
                }
                let old = w
                w = (w + total) % dataSize
                packets.append(len)
                out.append(obj(["ok": .bool(true), "signal": .bool(mask == 0 && old == r), "write_index": .int(w)]))
            case "read":
                guard !packets.isEmpty else {
                    out.append(obj(["len": .int(0), "read_index": .int(r), "signal": .bool(false)]))
                    continue
                }
                let len = packets.removeFirst()
                r = (r + len + 8) % dataSize
                let current = w >= r ? dataSize - (w - r) : r - w
                let read = len + 8
                let signal = pending != 0 && !(current - read > pending) && current > pending
                out.append(obj(["len": .int(len), "read_index": .int(r), "signal": .bool(signal)]))
            case "mask":
                mask = (op["on"]?.bool ?? false) ? 1 : 0
                out.append(obj(["ok": .bool(true)]))
            case "pending":
                pending = Int(op["bytes"]?.int ?? 0)
                out.append(obj(["ok": .bool(true)]))
            default:
                out.append(obj(["ok": .bool(false)]))
            }
        }
        return out
    }

    static func ring(_ rng: inout SeededRandom) -> [Vector] {
        var out: [Vector] = []
        func add(_ size: Int, _ ops: [JSON], _ rule: String, _ comment: String, why: String? = nil) {
            let nodes = ops.map { JSONNode($0) }
            out.append(Vector(id: id("ring", out.count + 1), rule: rule, level: level(rule), comment: comment, why: why, targets: ["model"],
                              inputs: obj(["ring_size": .int(size), "ops": .array(nodes)]),
                              expected: obj(["results": arr(ringOracle(size: size, ops: nodes))])))
        }
        func w(_ n: Int) -> JSON { obj(["op": .string("write"), "len": .int(n)]) }
        let rd = obj(["op": .string("read")])
        add(8192, [w(16), w(16), rd, rd, rd], "ring.signal", "two writes: only the first (empty -> non-empty) signals; a read of an empty ring returns nothing",
            why: "hv_signal_on_write(): the reader is interrupted only when the ring was empty before the write")
        add(8192, [w(4072), w(16)], "ring.full", "a packet that would leave the ring exactly full is refused (free <= packet + trailer)",
            why: "hv_ringbuffer_write() keeps one slot free so that read_index == write_index always means empty")
        add(8192, [w(4080)], "ring.full", "a packet plus trailer the size of the whole data area never fits")
        add(8192, [w(2040), rd, w(2040), rd, w(2040), rd], "ring.write", "packets that wrap around the end of the data area")
        add(8192, [obj(["op": .string("mask"), "on": .bool(true)]), w(16), rd, obj(["op": .string("mask"), "on": .bool(false)]), w(16)],
            "ring.interrupt-mask", "a masked reader is not signalled; unmasked again, the next empty -> non-empty write signals")
        add(8192, [w(2000), w(1000), obj(["op": .string("pending"), "bytes": .int(2100)]), rd, rd], "ring.pending-send-size",
            "the writer waits for 2100 bytes: the read that makes that much room signals it, the one before does not",
            why: "hv_pkt_iter_close(): signal only on the transition from not enough to enough room")
        for k in 0..<30 {
            var ops: [JSON] = []
            for _ in 0..<rng.int(in: 4...24) {
                switch rng.int(in: 0...9) {
                case 0...4: ops.append(w(8 * rng.int(in: 2...300)))
                case 5...7: ops.append(rd)
                case 8: ops.append(obj(["op": .string("mask"), "on": .bool(rng.chance(0.3))]))
                default: ops.append(obj(["op": .string("pending"), "bytes": .int(rng.chance(0.5) ? 0 : 8 * rng.int(in: 2...500))]))
                }
            }
            add(rng.chance(0.5) ? 8192 : 12288, ops, "ring.write", "seeded random ring operations #\(k + 1)")
        }
        return out
    }

    // MARK: request ids

    static func rqstorOracle(size: Int, zeroIsError: Bool, ops: [JSONNode]) -> [JSON] {
        var free = Array((0..<size).reversed())  // the last element is the next free slot
        var outstanding = Set<Int>()
        var out: [JSON] = []
        for op in ops {
            if op["op"]?.string == "allocate" {
                guard let slot = free.popLast() else { out.append(.string("full")); continue }
                outstanding.insert(slot)
                out.append(.int(slot + 1))
            } else {
                let id = op["id"]?.uint ?? 0
                if id == 0 { out.append(.string(zeroIsError ? "error" : "zero")); continue }
                let slot = Int(truncatingIfNeeded: id - 1)
                if id > UInt64(size) || !outstanding.contains(slot) { out.append(.string("error")); continue }
                outstanding.remove(slot)
                free.append(slot)
                out.append(.string("found"))
            }
        }
        return out
    }

    static func requestIds(_ rng: inout SeededRandom) -> [Vector] {
        var out: [Vector] = []
        let alloc = obj(["op": .string("allocate")])
        func look(_ id: UInt64) -> JSON { obj(["op": .string("lookup"), "id": .int(id)]) }
        func add(_ size: Int, _ era: String, _ ops: [JSON], _ rule: String, _ comment: String, why: String? = nil) {
            let nodes = ops.map { JSONNode($0) }
            let zeroIsError = KernelVersion(era)?.zeroIdLookupIsError ?? true
            out.append(Vector(id: id("request-ids", out.count + 1), rule: rule, level: level(rule), comment: comment, why: why, targets: ["model"],
                              inputs: obj(["size": .int(size), "kernel": .string(era), "ops": .array(nodes)]),
                              expected: obj(["results": arr(rqstorOracle(size: size, zeroIsError: zeroIsError, ops: nodes))])))
        }
        add(4, "6.1", [alloc, alloc, look(1), alloc, alloc], "rqstor.lifo", "a freed id is the next one handed out (LIFO)",
            why: "the free list is threaded through req_arr: vmbus_request_addr() pushes the freed slot on top")
        add(2, "6.1", [alloc, alloc, alloc, look(2), alloc], "rqstor.exhausted", "a full table refuses (the send fails with EAGAIN); freeing one makes room")
        add(4, "6.1", [alloc, look(1), look(1)], "rqstor.stale", "looking up an id twice: the second is VMBUS_RQST_ERROR")
        add(4, "6.1", [alloc, look(3), look(5), look(UInt64.max)], "rqstor.stale", "ids never handed out and ids beyond the table are errors")
        add(4, "6.1", [alloc, look(0)], "rqstor.zero-id", "id 0 on 6.1 (>= 5.18): an error", why: "Linux 5.18 made a lookup of id 0 fail; before, it returned 0")
        add(4, "5.14", [alloc, look(0)], "rqstor.zero-id", "id 0 on 5.14: the lookup returns 0 (a driver must check it)")
        for k in 0..<20 {
            var ops: [JSON] = []
            var handed: [UInt64] = []
            for _ in 0..<rng.int(in: 4...30) {
                if rng.chance(0.5) {
                    ops.append(alloc)
                    handed.append(UInt64(handed.count + 1))
                } else {
                    let id: UInt64 = rng.chance(0.7) && !handed.isEmpty ? UInt64(rng.int(in: 1...min(8, handed.count + 1))) : UInt64(rng.int(in: 0...12))
                    ops.append(look(id))
                }
            }
            add(8, rng.chance(0.5) ? "6.1" : "5.14", ops, "rqstor.lifo", "seeded random allocate/lookup sequence #\(k + 1)")
        }
        return out
    }

    // MARK: completions

    static func completions() -> [Vector] {
        var out: [Vector] = []
        /// trans_id: "request" (the id the guest sent), "zero", "unknown" (an id never handed
        /// out), "duplicate" (the request's id, sent twice).
        func add(_ rule: String, _ comment: String, type: Int = 11, offset8: Int = 2, len8: Int = 4, transId: String = "request",
                 error: UInt32 = 0, responseLen: UInt32 = 4, expect: (Errno, UInt32, UInt32), why: String? = nil) {
            out.append(Vector(id: id("completions", out.count + 1), rule: rule, level: level(rule), comment: comment, why: why,
                              inputs: obj(["response_buffer_len": .int(64), "completion": obj([
                                  "type": .int(type), "offset8": .int(offset8), "len8": .int(len8), "flags": .int(0),
                                  "trans_id": .string(transId), "error": .int(error), "response_len": .int(responseLen)]),
                                  "then_real_completion": .bool(true)]),
                              expected: obj(["errno": .string(expect.0.name), "status": .int(expect.1), "response_len": .int(expect.2),
                                             "guest_findings": arr([])])))
        }
        // The follow-up "real" completion: success, response_len 4.
        let real: (Errno, UInt32, UInt32) = (.success, 0, 4)
        add("completion.ok", "a well-formed completion: 0, status 0, response_len as sent", responseLen: 17, expect: (.success, 0, 17))
        add("completion.error-status", "the host reports an error: the ioctl returns 0 and user space reads the status", error: 0xC000_0001,
            responseLen: 0, expect: (.success, 0xC000_0001, 0))
        add("ioctl.response-len.bound", "response_len one beyond the 64-byte buffer: bounded to 64", responseLen: 65, expect: (.success, 0, 64),
            why: "the v5 review: user space must never be told more bytes than its buffer holds")
        add("ioctl.response-len.bound", "response_len 0xffffffff: bounded to 64", responseLen: 0xFFFF_FFFF, expect: (.success, 0, 64))
        add("completion.wrong-type", "an in-band packet (type 6) carrying the request's id is not a completion: ignored", type: 6, expect: real)
        add("completion.wrong-type", "a GPA-direct packet type from the host: ignored", type: 9, expect: real)
        add("completion.short", "len8 3: 8 payload bytes, fewer than the 12-byte response: the request fails with EIO", len8: 3, expect: (.EIO, 0, 0),
            why: "the callback must not read past the packet; the id is consumed, so the request cannot wait for another completion")
        add("completion.offset8-invalid", "offset8 beyond len8: the iterator resets the offset to 16, so the response is read from byte 16 (zeros here)",
            offset8: 5, len8: 4, expect: (.success, 0, 0),
            why: "hv_pkt_iter_first() (Linux >= 5.14) replaces an offset outside the packet by sizeof(vmpacket_descriptor); a guest must not read beyond the packet")
        add("completion.ok", "a longer completion (len8 6): the response is the first 12 payload bytes", len8: 6, responseLen: 9, expect: (.success, 0, 9))
        add("completion.ok", "offset8 3: the response starts 24 bytes into the packet", offset8: 3, len8: 5, responseLen: 11, expect: (.success, 0, 11))
        add("completion.zero-id", "request id 0: no request has it; ignored", transId: "zero", expect: real)
        add("completion.unknown-id", "an id the guest never handed out: ignored", transId: "unknown", expect: real)
        add("completion.duplicate", "the same completion twice: the second finds a stale id and is ignored", transId: "duplicate", responseLen: 5,
            expect: (.success, 0, 5))
        return out
    }

    // MARK: lifecycle

    static func lifecycle() -> [Vector] {
        var out: [Vector] = []
        func add(_ rule: String, _ comment: String, why: String, _ steps: [(String, String)], channel: String) {
            out.append(Vector(id: id("lifecycle", out.count + 1), rule: rule, level: level(rule), comment: comment, why: why,
                              inputs: obj(["steps": arr(steps.map { .string($0.0) })]),
                              expected: obj(["results": arr(steps.map { .string($0.1) }), "channel": .string(channel), "guest_findings": arr([])])))
        }
        add("lifecycle.orderly", "open, one request, close, module unload: the channel is closed", why: "the path every user takes",
            [("ioctl", "0"), ("release", "ok"), ("remove", "done")], channel: "closed")
        add("lifecycle.rescind", "a rescind with nothing in flight: remove finishes at once, and the device node is gone",
            why: "remove after rescind must not wait for anything that cannot come",
            [("rescind", "ok"), ("remove", "done"), ("open", "ENODEV")], channel: "closed")
        add("lifecycle.rescind", "an ioctl after the rescind, before remove runs: ENODEV, nothing sent",
            why: "vmbus_sendpacket on a rescinded channel fails; user space must see ENODEV",
            [("rescind", "ok"), ("ioctl", "ENODEV"), ("remove", "done")], channel: "closed")
        add("lifecycle.rescind-in-flight", "a request in flight when the host rescinds: remove waits (bounded), closes, fails it with ENODEV",
            why: "after a rescind the host never completes; the drain must be bounded and the caller released",
            [("ioctl-held", "blocked"), ("rescind", "ok"), ("remove", "blocked"), ("advance 10000", "ok"), ("wait", "ENODEV"), ("remove", "done")],
            channel: "closed")
        add("lifecycle.rescind-in-flight", "an ioctl that starts while remove drains: ENODEV at once (the removing flag)",
            why: "the v5 review's race: no request may be queued once remove started",
            [("ioctl-held", "blocked"), ("rescind", "ok"), ("remove", "blocked"), ("ioctl", "ENODEV"), ("advance 10000", "ok"), ("wait", "ENODEV"),
             ("remove", "done")], channel: "closed")
        add("lifecycle.orderly", "a completion that arrives before the rescind: the request returns 0; remove does not wait",
            why: "completed requests leave the pending list; remove has nothing to drain",
            [("ioctl-held", "blocked"), ("complete", "ok"), ("wait", "0"), ("rescind", "ok"), ("remove", "done")], channel: "closed")
        add("lifecycle.open-after-remove", "open after module unload: the misc device is gone", why: "misc_deregister removes the node: ENODEV",
            [("release", "ok"), ("remove", "done"), ("open", "ENODEV")], channel: "closed")
        return out
    }
}
