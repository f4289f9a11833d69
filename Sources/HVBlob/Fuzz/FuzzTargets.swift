// SPDX-License-Identifier: Apache-2.0
#if canImport(Glibc)
import Glibc
#endif

/// The bodies of hvblob's fuzz targets. Each takes raw bytes, decodes them into a structured
/// scenario (a request and its memory layout, a sequence of hostile host packets, a ring image,
/// parser input), runs it against the model, and returns nil when every invariant held or a
/// description of what broke. libFuzzer entry points (Fuzz/*.swift, built by Scripts/fuzz.sh)
/// trap on a non-nil result; `swift test` runs the same bodies over the corpus and seeded
/// random inputs; `hvblob replay-fuzz` prints the scenario an input decodes to.
public enum FuzzTargets {
    public static let names = ["validation", "hostile-host", "ring-reader", "parsers", "captures", "vectors", "blob-service"]

    /// Runs target `name` on `data`: nil when every invariant held.
    public static func run(_ name: String, _ data: [UInt8], describe: ((String) -> Void)? = nil) -> String? {
        switch name {
        case "validation": return validation(data, describe: describe)
        case "hostile-host": return hostileHost(data, describe: describe)
        case "ring-reader": return ringReader(data, describe: describe)
        case "parsers": return parsers(data, describe: describe)
        case "captures": return captures(data, describe: describe)
        case "vectors": return vectors(data, describe: describe)
        case "blob-service": return blobService(data, describe: describe)
        default: return "unknown fuzz target '\(name)'"
        }
    }

    /// Reads structured values from fuzz bytes; past the end it yields zeros, so every input
    /// decodes to some scenario.
    struct Input {
        let bytes: [UInt8]
        var at = 0
        init(_ b: [UInt8]) { bytes = b }
        var exhausted: Bool { at >= bytes.count }
        mutating func u8() -> UInt8 {
            defer { at += 1 }
            return at < bytes.count ? bytes[at] : 0
        }
        mutating func u16() -> UInt16 { UInt16(u8()) | UInt16(u8()) << 8 }
        mutating func u32() -> UInt32 { UInt32(u16()) | UInt32(u16()) << 16 }
        mutating func u64() -> UInt64 { UInt64(u32()) | UInt64(u32()) << 32 }
        mutating func pick<T>(_ options: [T]) -> T { options[Int(u8()) % options.count] }
        mutating func bytes(_ n: Int) -> [UInt8] { (0..<n).map { _ in u8() } }
    }

    static let memorySafetyRules: Set<String> = [
        "pin.double-release", "pin.leak", "pin.host-write-without-write-intent", "pin.host-access-unpinned",
        "pin.host-access-freed", "guest.use-after-free", "guest.refcount-negative", "guest.send-on-closed-channel",
        "guest.close-twice", "guest.release-twice", "guest.crash", "guest.null-deref",
    ]

    // MARK: ioctl validation

    /// A request (every field), its buffers' lengths, page offsets and mapping kinds, a
    /// command and a credentials change: what the validation targets decode their input to.
    public struct ValidationScenario: Sendable {
        public var requestLen: UInt32, responseLen: UInt32, dataLen: UInt32, dataValid: UInt32
        public var offsets: (Int, Int, Int)
        public var kinds: (MappingKind?, MappingKind?, MappingKind?)
        public var command: IoctlCommand
        public var credentialsChanged: Bool
        public var guid: GUID
        public var timeout: UInt32

        public var description: String {
            """
            validation: command \(command)\(credentialsChanged ? ", credentials changed since open" : "")
              request  \(requestLen) bytes at page offset \(offsets.0), \(kinds.0.map(\.rawValue) ?? "unmapped")
              response \(responseLen) bytes at page offset \(offsets.1), \(kinds.1.map(\.rawValue) ?? "unmapped")
              data     \(dataLen) bytes (valid \(dataValid)) at page offset \(offsets.2), \(kinds.2.map(\.rawValue) ?? "unmapped")
              guid \(guid) timeout \(timeout)
            """
        }
    }

    public static func decodeValidation(_ data: [UInt8]) -> ValidationScenario {
        var input = Input(data)
        let limit = UInt32(AzBlob.pageSize * AzBlob.maxPages)
        func length() -> UInt32 {
            switch input.u8() % 6 {
            case 0: return 0
            case 1: return UInt32(input.u16() % 9000) + 1
            case 2: return UInt32(input.u8()) + 1
            case 3: return 4096
            case 4: return limit + UInt32(input.u8() % 2)
            default: return input.u32()
            }
        }
        let kinds: [MappingKind?] = [.populated, .untouched, .readOnly, nil]
        let rl = length(), pl = length(), dl = length()
        let dv = input.u8() % 4 == 0 ? input.u32() : (dl == 0 ? 0 : UInt32(UInt64(input.u16()) % (UInt64(dl) + 1)))
        let offsets = (Int(input.u16() % 4096), Int(input.u16() % 4096), Int(input.u16() % 4096))
        let k = (input.pick(kinds), input.pick(kinds), input.pick(kinds))
        let command = input.u8() % 16 == 0 ? IoctlCommand(rawValue: input.u32()) : .azBlobUserRequest
        let creds = input.u8() % 32 == 0
        let guid = GUID(bytes: input.bytes(16))
        let timeout = input.u32()
        return ValidationScenario(requestLen: rl, responseLen: pl, dataLen: dl, dataValid: dv, offsets: offsets, kinds: k,
                                  command: command, credentialsChanged: creds, guid: guid, timeout: timeout)
    }

    /// Everything user space and the host can see of one ioctl: what a differential compares.
    public struct Observation: Sendable, Equatable {
        public var errno: Errno?
        public var packets: [[UInt8]]
        public var response: [UInt8]
        public var responseBuffer: [UInt8]
        public var pinnedAfter: Int
        public var findings: [String]
    }

    /// Runs the scenario through `factory`'s driver (nil: the model). The model runs on a rig
    /// of `RigPool.shared`, reset to right after probe and open (`reuse: false`: a fresh rig);
    /// another driver on a fresh machine.
    public static func observe(_ s: ValidationScenario, factory: DriverRig.Factory?, version: KernelVersion = .default,
                               reuse: Bool = true) -> Observation? {
        if factory == nil && reuse {
            return RigPool.shared.withRig(version: version) { observe(s, on: $0) } ?? nil
        }
        guard let rig = try? DriverRig(factory: factory, version: version) else { return nil }
        return observe(s, on: rig)
    }

    /// The scenario on `rig` (probed, file open, nothing run yet).
    public static func observe(_ s: ValidationScenario, on rig: DriverRig) -> Observation? {
        func map(_ len: UInt32, _ off: Int, _ kind: MappingKind?) -> UInt64 {
            guard let kind else { return 0x1000 + UInt64(off) }
            guard len <= 64 * 1024 else { return 0x7e00_0000_0000 + UInt64(off) }
            return rig.space.map(length: Int(max(len, 1)), pageOffset: off, kind: kind,
                                 contents: kind == .untouched ? [] : [UInt8](repeating: 0x4c, count: Int(min(len, 32))))
        }
        let resp = map(s.responseLen, s.offsets.1, s.kinds.1)
        let r = AzBlobRequestSync(guid: s.guid, timeout: s.timeout, requestLen: s.requestLen, responseLen: s.responseLen,
                                  dataLen: s.dataLen, dataValid: s.dataValid, requestBuffer: map(s.requestLen, s.offsets.0, s.kinds.0),
                                  responseBuffer: resp, dataBuffer: map(s.dataLen, s.offsets.2, s.kinds.2))
        let arg = rig.argument(r)
        if s.credentialsChanged { rig.space.credentials += 1 }
        let e = rig.ioctl(arg, command: rig.driver.abi.translate(s.command))
        let layout = rig.driver.abi.layout
        let back = ((try? rig.space.read(arg + UInt64(layout.responseStatus), count: 4)) ?? [])
            + ((try? rig.space.read(arg + UInt64(layout.responseResponseLen), count: 4)) ?? [])
        let buffer = s.kinds.1 != nil && s.responseLen <= 64 * 1024 ? ((try? rig.space.read(resp, count: Int(s.responseLen))) ?? []) : []
        // Close the file and remove the device: the driver's own leaks (allocations, device
        // references, pins) become findings.
        let pinned = rig.machine.memory.pinnedFrames
        rig.driver.release(rig.file)
        let removed = rig.machine.drive(rig.driver.remove()) != nil
        if removed { rig.machine.memory.reportLeakedPins() }
        rig.driver.finish(removed: removed)
        if !removed { rig.log.report("liveness.remove-hang", "remove after one ioctl never returned") }
        let findings = rig.log.violations.filter { $0.rule.findingClass != .integrity }
            .map { "\($0.rule): \($0.detail)" }
        return Observation(errno: e, packets: rig.packets, response: back, responseBuffer: buffer,
                           pinnedAfter: pinned, findings: findings)
    }

    /// The validation invariants: it returns; a known errno; nothing left pinned; no rule of
    /// the guest broken; on 0, response_len within the caller's buffer.
    public static func checkValidation(_ s: ValidationScenario, _ o: Observation) -> String? {
        guard let e = o.errno else { return "the ioctl never returned" }
        let known: Set<Errno> = [.success, .EINVAL, .EFAULT, .EACCES, .ENOMEM, .EAGAIN, .ENODEV, .EIO]
        if !known.contains(e) { return "unexpected errno \(e)" }
        if o.pinnedAfter != 0 { return "\(o.pinnedAfter) page(s) left pinned after \(e)" }
        if let f = o.findings.first { return f }
        if e == .success, o.response.count == 8 {
            let len = UInt32(o.response[4]) | UInt32(o.response[5]) << 8 | UInt32(o.response[6]) << 16 | UInt32(o.response[7]) << 24
            if len > s.responseLen { return "response_len \(len) exceeds the caller's \(s.responseLen)" }
        }
        return nil
    }

    /// The ioctl validation target against the corrected model.
    public static func validation(_ data: [UInt8], describe: ((String) -> Void)? = nil) -> String? {
        let s = decodeValidation(data)
        describe?(s.description)
        guard let o = observe(s, factory: nil) else { return "could not set up the model" }
        return checkValidation(s, o)
    }

    // MARK: hostile host

    /// Two requests in flight, then a sequence of packets the host writes into the host->guest
    /// ring (any type, offset8, len8, flags, request id — live, stale, zero or random — and
    /// payload), interleaved with callback runs, optionally a rescind and remove. Invariants:
    /// the model never breaks a memory-safety rule, every call returns or waits, nothing traps.
    public static func hostileHost(_ data: [UInt8], describe: ((String) -> Void)? = nil) -> String? {
        hostileHost(data, factory: nil, versions: [KernelVersion(5, 13), KernelVersion(5, 17), KernelVersion(6, 1)], describe: describe)
    }

    /// The same against any driver (`factory`, built for one of `versions`).
    /// The model runs on a rig of `RigPool.shared` (`reuse: false`: a fresh one).
    public static func hostileHost(_ data: [UInt8], factory: DriverRig.Factory?, versions: [KernelVersion],
                                   reuse: Bool = true, describe: ((String) -> Void)? = nil) -> String? {
        var input = Input(data)
        let version = input.pick(versions)
        let faults = (try? FaultPlan(spec: "never-complete=1")) ?? FaultPlan()
        if factory == nil && reuse {
            return RigPool.shared.withRig(version: version, faults: faults) { hostileHost(&input, rig: $0, version: version, describe: describe) }
                ?? "could not set up the model"
        }
        guard let rig = try? DriverRig(factory: factory, version: version, faults: faults) else {
            return "could not set up the model"
        }
        return hostileHost(&input, rig: rig, version: version, describe: describe)
    }

    /// The same on a rig `provide` hands over (for the era and fault plan the input picked;
    /// nil: it could not set one up): how the bridge runs it on a C driver kept loaded.
    public static func hostileHost(_ data: [UInt8], versions: [KernelVersion], describe: ((String) -> Void)? = nil,
                                   provide: (KernelVersion, FaultPlan, (DriverRig) -> String?) -> String??) -> String? {
        var input = Input(data)
        let version = input.pick(versions)
        let faults = (try? FaultPlan(spec: "never-complete=1")) ?? FaultPlan()
        return provide(version, faults) { hostileHost(&input, rig: $0, version: version, describe: describe) } ?? "could not set up the model"
    }

    static func hostileHost(_ input: inout Input, rig: DriverRig, version: KernelVersion, describe: ((String) -> Void)?) -> String? {
        var calls: [DriverCall] = []
        for _ in 0..<2 {
            let (arg, _) = rig.argument(dataLen: 100, dataValid: 0)
            let c = rig.driver.ioctl(rig.file, command: rig.driver.abi.command, argument: arg)
            _ = c.runUntilBlocked()
            calls.append(c)
        }
        rig.machine.run()
        var lines = ["hostile-host: Linux \(version) API era, 2 requests in flight (ids 1 and 2)"]
        let count = Int(input.u8() % 12)
        var removal: DriverCall?
        for i in 0..<count where !input.exhausted {
            let type = input.pick([PacketType.completion, .completion, .dataInBand, PacketType(rawValue: input.u16())])
            let id = input.pick([1, 2, 0, UInt64(input.u16()), UInt64.max])
            let len8 = input.u8() % 4 == 0 ? input.u16() : UInt16(2 + input.u8() % 6)
            let off8 = input.u8() % 4 == 0 ? input.u16() : 2
            let payload = input.bytes(Int(input.u8() % 40))
            let d = PacketDescriptor(type: type, offset8: off8, len8: len8, flags: input.u16(), transId: id)
            var packet = d.encoded() + payload
            while packet.count % 8 != 0 { packet.append(0) }
            lines.append("  packet \(i): \(type) id \(id) offset8 \(off8) len8 \(len8), \(payload.count) payload byte(s)")
            guard let ring = rig.machine.channel.inbound, rig.machine.channel.state == .open else { break }
            _ = ring.write(packet) { id }
            if input.u8() % 3 != 0 { rig.machine.channel.callback?() }
            if removal == nil && input.u8() % 8 == 0 {
                lines.append("  rescind after packet \(i)")
                rig.machine.channel.rescind()
                let r = rig.driver.remove()
                _ = r.runUntilBlocked()
                removal = r
            }
        }
        describe?(lines.joined(separator: "\n"))
        for c in calls where c.isReady { _ = c.runUntilBlocked() }
        // The end of every run: rescind (if the input did not), remove, close. A correct driver's
        // bounded drain then fails whatever is still waiting, so every call returns.
        if removal == nil {
            rig.machine.channel.rescind()
            removal = rig.driver.remove()
        }
        let removed = removal.map { rig.machine.drive($0) != nil } ?? false
        var hung = 0
        for c in calls where rig.machine.drive(c) == nil { hung += 1 }
        rig.driver.release(rig.file)
        rig.driver.finish(removed: removed && hung == 0)
        if let v = rig.log.violations.first(where: { memorySafetyRules.contains($0.rule.rawValue) }) {
            return "\(v.rule): \(v.detail)"
        }
        if !removed { return "remove never finished after the rescind" }
        if hung > 0 { return "\(hung) ioctl(s) still waiting after remove finished" }
        return nil
    }

    // MARK: ring reader

    /// A host->guest ring image with arbitrary indices and bytes, read by the guest's
    /// iterator in both API eras. Invariants: every read stays inside the ring, copies at most
    /// 4096 bytes per packet, and every copied packet's len8/offset8 are consistent.
    public static func ringReader(_ data: [UInt8], describe: ((String) -> Void)? = nil) -> String? {
        var input = Input(data)
        let ring = RingBuffer(size: RingBuffer.headerSize + 8 * 64)
        let write = UInt32(input.u16()) % UInt32(ring.dataSize)
        let read = UInt32(input.u16()) % UInt32(ring.dataSize)
        ring.overwrite(at: 0, input.bytes(ring.dataSize))
        ring.writeIndex = write & ~7
        ring.readIndex = read & ~7
        describe?("ring-reader: 512-byte data area, write index \(ring.writeIndex), read index \(ring.readIndex)")
        var reader = RingReader(ring: ring)
        var packets = 0
        while let p = reader.copyFirst(ring) {
            packets += 1
            if p.count > RingReader.packetBufferSize { return "copied \(p.count) bytes, more than the packet buffer" }
            let len = Int(p[4]) << 3 | Int(p[5]) << 11, off = Int(p[2]) << 3 | Int(p[3]) << 11
            if len != p.count || off < 16 || off > len { return "copied packet claims len \(len) offset \(off) for \(p.count) bytes" }
            if !reader.advance(ring, len8: UInt16(len / 8)) { return "advance left the ring" }
            // A hostile len8 can send Linux's iterator round stale data (the model bounds
            // and reports that: liveness.callback-livelock); here only bounds are checked.
            if packets > ring.dataSize / 24 + 1 || reader.available(ring) == 0 { break }
        }
        // The ≤ 5.13 in-place path: reads stay inside the ring; an impossible len8 is refused.
        var shared = RingReader(ring: ring)
        var steps = 0
        while let s = shared.sharedFirst(ring), steps < 1000 {
            steps += 1
            _ = s.type
            _ = s.transId
            if !shared.advance(ring, len8: s.len8) || shared.available(ring) == 0 { break }
        }
        _ = reader.close(ring)
        return nil
    }

    // MARK: parsers

    /// Every decoder on arbitrary bytes, and the text parsers on arbitrary text. Invariants:
    /// a decoder throws a WireError or returns a value that encodes back to the same bytes.
    public static func parsers(_ data: [UInt8], describe: ((String) -> Void)? = nil) -> String? {
        describe?("parsers: \(data.count) byte(s): \(Hex.encode(Array(data.prefix(64))))\(data.count > 64 ? "..." : "")")
        func check<T: WireStruct>(_ t: T.Type) -> String? {
            guard let v = try? T.decode(data) else { return nil }
            return v.encoded() == data ? nil : "\(T.wireName): decode then encode changed the bytes"
        }
        for r in [check(AzBlobRequestSync.self), check(VSPRequest.self), check(VSPResponse.self), check(PacketDescriptor.self)] {
            if let r { return r }
        }
        if let p = try? GPADirectPacket.decode(data), p.encoded() != data { return "GPA-direct packet: decode then encode changed the bytes" }
        let text = String(decoding: data, as: UTF8.self)
        _ = try? Hex.decode(text)
        if let f = try? FaultPlan(spec: text), (try? FaultPlan(spec: f.description)) != f { return "fault spec '\(text)' does not round trip" }
        if let s = try? Schedule(parsing: text), (try? Schedule(parsing: s.description)) != s { return "schedule '\(text)' does not round trip" }
        _ = GUID(string: text)
        _ = KernelVersion(text)
        return nil
    }

    // MARK: captures

    /// A capture, two ways: the first byte even, the rest is a pcapng file as is (the parser
    /// on hostile bytes); odd, the rest decodes into a sequence of records (kind, direction,
    /// flags, pid, body) wrapped in a valid file, so the replayer meets every record kind in
    /// any order. Invariants: parse errors are typed with an offset inside the input; what
    /// parses writes back to the same records; the replay (at most 64 records) ends, with a
    /// verdict, against the model.
    public static func captures(_ data: [UInt8], describe: ((String) -> Void)? = nil) -> String? {
        var input = Input(data)
        let structured = input.u8() & 1 == 1
        var bytes: [UInt8]
        if structured {
            var records: [CaptureRecord] = []
            var time: UInt64 = 0
            while !input.exhausted && records.count < 64 {
                time += UInt64(input.u8() % 4 == 0 ? input.u16() : UInt16(input.u8() % 3))
                let kind = CaptureRecord.Kind(rawValue: 1 + input.u8() % 10) ?? .ringPacket
                var r = CaptureRecord(time: time, kind: kind, flags: input.u8() & 3, pid: UInt32(100 + input.u8() % 3))
                switch kind {
                case .ringPacket:
                    r.direction = input.u8() & 1 == 0 ? .guestToHost : .hostToGuest
                    let type = input.pick([UInt16(11), 11, 9, 6, input.u16()])
                    let len8 = UInt16(2 + input.u8() % 12)
                    var w = WireWriter(capacity: Int(len8) * 8)
                    PacketDescriptor(type: PacketType(rawValue: type), offset8: input.pick([2, 2, 4, UInt16(input.u8())]), len8: len8,
                                     flags: input.u16() & 1, transId: input.pick([1, 2, 0, UInt64(input.u16())])).encode(into: &w)
                    w.bytes(input.bytes(Int(len8) * 8 - 16))
                    r.body = w.bytes
                    r.ringBefore = input.u32() % 131_072
                case .ioctlCall:
                    let req = AzBlobRequestSync(guid: GUID(bytes: input.bytes(16)), timeout: 1, requestLen: UInt32(input.u16() % 300),
                                                responseLen: UInt32(input.u16() % 300), dataLen: UInt32(input.u16()), dataValid: UInt32(input.u16()),
                                                requestBuffer: UInt64(input.u16()), responseBuffer: UInt64(input.u16()), dataBuffer: UInt64(input.u16()))
                    r.body = CaptureRecord.ioctlCallBody(command: input.u8() % 8 == 0 ? input.u32() : IoctlCommand.azBlobUserRequest.rawValue,
                                                         argument: UInt64(input.u16()), request: req.encoded(), requestBytes: input.bytes(Int(input.u8() % 16)))
                case .ioctlReturn:
                    r.body = CaptureRecord.ioctlReturnBody(input.pick([Errno.success, .EINVAL, .ENODEV, .EIO]), status: input.u32(), responseLength: input.u32() % 128)
                case .hostWrite:
                    let n = Int(input.u8() % 64)
                    var w = WireWriter(capacity: 16 + n)
                    w.u64(0x1000 + UInt64(input.u8())); w.u32(UInt32(input.u16() % UInt16(4096 - n))); w.u32(UInt32(n)); w.bytes(input.bytes(n))
                    r.body = w.bytes
                case .open:
                    var w = WireWriter(capacity: 4)
                    w.u32(input.pick([UInt32(AzBlob.ringSize), 8192, input.u32()]))
                    r.body = w.bytes
                case .guestRead:
                    r.direction = .hostToGuest
                case .rescind, .close, .release, .remove, .guestData, .ringState:
                    break
                }
                records.append(r)
            }
            bytes = Capture(records: records).pcapng()
        } else {
            bytes = Array(data.dropFirst())
        }
        let capture: Capture
        do { capture = try Capture.parse(bytes) } catch {
            describe?("captures: \(structured ? "structured" : "raw") input of \(bytes.count) bytes: \(error)")
            if error.offset < 0 || error.offset > bytes.count { return "error offset \(error.offset) outside the \(bytes.count)-byte input: \(error)" }
            return structured ? "a capture written by hvblob does not parse: \(error)" : nil
        }
        describe?("captures: \(capture.records.count) records\n" + capture.records.prefix(64).map { "  " + $0.summary }.joined(separator: "\n"))
        guard let again = try? Capture.parse(capture.pcapng()), again.records == capture.records else {
            return "a parsed capture does not survive writing and parsing again"
        }
        guard capture.records.count <= 64 else { return nil }
        let report = Replayer(capture: capture).run()
        describe?(report.render(driver: "the model"))
        // The replay may diverge (most such captures are nonsense); it must not break the guest.
        if let v = report.violations.first(where: { memorySafetyRules.contains($0.rule.rawValue) }) { return "\(v.rule): \(v.detail)" }
        return nil
    }

    // MARK: vectors

    /// The vector schema, read from Fixtures/vectors/vectors.schema.json under the current
    /// directory (or HVBLOB_SCHEMA) when there is one; without it only the parser and the decoder run.
    static let vectorSchema: JSONSchema? = {
        #if canImport(Glibc)
        let path = getenv("HVBLOB_SCHEMA").map { String(cString: $0) } ?? "Fixtures/vectors/vectors.schema.json"
        guard let f = fopen(path, "rb") else { return nil }
        defer { fclose(f) }
        var bytes: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = fread(&buf, 1, buf.count, f)
            if n <= 0 { break }
            bytes += buf[0..<n]
        }
        return try? VectorSuite.schema(bytes)
        #else
        return nil
        #endif
    }()

    /// A vector file: JSON text, checked by the schema, decoded, and its vectors run against
    /// the model when they are cheap (ring, request ids, layouts; ioctl and MPB up to 256 KiB).
    /// Invariants: errors carry an offset inside the input; what parses serializes and parses
    /// back to the same value; nothing traps or hangs.
    public static func vectors(_ data: [UInt8], describe: ((String) -> Void)? = nil) -> String? {
        let root: JSONNode
        do { root = try JSONParser.parse(data) } catch {
            describe?("vectors: not JSON: \(error)")
            return error.offset <= data.count ? nil : "error offset \(error.offset) beyond the \(data.count)-byte input"
        }
        guard let back = try? JSONParser.parse(Array(root.value.serialized().utf8)), back.value == root.value else {
            return "JSON that parsed does not survive serializing and parsing again"
        }
        if let schema = vectorSchema {
            let failures = schema.validate(root)
            if let f = failures.first(where: { $0.offset > data.count }) { return "schema error offset beyond the input: \(f)" }
            if !failures.isEmpty {
                describe?("vectors: \(failures.count) schema failure(s), first: \(failures[0])")
                return nil
            }
        }
        guard let file = try? VectorFile.decode(root) else { return nil }
        let cheap = file.vectors.filter { v in
            let i = JSONNode(v.inputs)
            let lens = ["request_len", "response_len", "data_len"].compactMap { i[$0]?.uint }
            return lens.allSatisfy { $0 <= 256 * 1024 } && (i["ops"]?.array?.count ?? 0) <= 200 && (i["size"]?.int ?? 0) <= 4096
        }
        describe?("vectors: group \(file.group), \(file.vectors.count) vector(s), running \(cheap.count)")
        var copy = file
        copy.vectors = Array(cheap.prefix(8))
        for r in VectorRunner.run(copy, factory: nil) { describe?("  \(r.verdict.rawValue) \(r.vector.id): \(r.detail)") }
        return nil
    }

    // MARK: blob-service

    /// The Blob service backend (`BlobService`) on a sequence of up to 8 requests decoded from
    /// the input: each is either raw request bytes (the JSON parser on hostile input) or one of
    /// open / read / close / write / getProperties with fields drawn from the input (a path of
    /// two blobs or a missing one, positions and lengths around the blob's size, the handle,
    /// token and eTag the service gave out or a wrong one), with a data buffer of up to 8 KiB.
    /// Invariants: every answer is one JSON object with a `status` from the service's set and
    /// the request's client request id; no more bytes written than the data buffer holds; a
    /// 206 read returns exactly the blob's bytes at that range (a model of the blobs kept
    /// beside the service, updated by every 201 write); a read with the eTag of before a write
    /// of the same blob is 412.
    public static func blobService(_ data: [UInt8], describe: ((String) -> Void)? = nil) -> String? {
        var input = Input(data)
        let seedBlobs: [String: [UInt8]] = ["a": (0..<5000).map { UInt8(truncatingIfNeeded: $0 &* 7) }, "b": []]
        var model = seedBlobs
        var service = BlobService(blobs: seedBlobs)
        let statuses: Set<Int64> = [200, 201, 206, 400, 403, 404, 412, 416, 500, 503]
        var handles: [(handle: String, token: String, path: String, eTag: String)] = []
        var staleTags: [String: [String]] = [:]
        let count = Int(input.u8() % 8) + 1
        var storage = [UInt8](repeating: 0, count: 8192)
        for step in 0..<count {
            let kind = input.u8() % 6
            let dataLen = [0, 1, 4096, 8192, Int(input.u16() % 8193)][Int(input.u8() % 5)]
            let path = input.pick(["a", "b", "missing", "a\"x"])
            let guid = GUID(UInt32(step), 0, 0, [0, 0, 0, 0, 0, 0, 0, 3])
            var request: [UInt8]
            var expectRead: (path: String, pos: Int, len: Int, off: Int, eTag: String)?
            func session() -> (String, String, String, String) {
                let wrong = input.u8() % 4 == 0
                guard !handles.isEmpty, !wrong else { return ("fh-none", "bad", path, "\"0x0\"") }
                let h = handles[Int(input.u8()) % handles.count]
                return (h.handle, input.u8() % 8 == 0 ? "bad" : h.token, h.path, h.eTag)
            }
            switch kind {
            case 0:
                request = input.bytes(Int(input.u8()))
            case 1:
                request = Json.object([("operation", .str("open")), ("path", .str(path))]).bytes
            case 2:
                let (h, t, p, tag) = session()
                let useTag = input.u8() % 4 == 0 ? (staleTags[p]?.first ?? tag) : tag
                let pos = [0, 1, 4095, 4999, 5000, 6000, Int(input.u16())][Int(input.u8() % 7)]
                let len = [0, 1, 4096, 8192, Int(input.u16() % 9000)][Int(input.u8() % 5)]
                let off = [0, 1, 4096, Int(input.u16() % 9000)][Int(input.u8() % 4)]
                request = Json.object([("operation", .str("read")), ("fastpathFileHandle", .str(h)), ("fastpathSessionToken", .str(t)),
                                       ("eTag", .str(useTag)), ("storeFilePosition", .int(pos)), ("readLength", .int(len)),
                                       ("bufferOffset", .int(off))]).bytes
                expectRead = (p, pos, len, off, useTag)
            case 3:
                let (h, t, _, _) = session()
                request = Json.object([("operation", .str("close")), ("fastpathFileHandle", .str(h)), ("fastpathSessionToken", .str(t))]).bytes
            case 4:
                var fields: [(String, Json)] = [("operation", .str("write")), ("path", .str(path))]
                if input.u8() % 2 == 0 { fields.append(("position", .int([0, 1, 4999, 5000, 5001, 100_000][Int(input.u8() % 6)]))) }
                request = Json.object(fields).bytes
                for i in 0..<dataLen { storage[i] = input.u8() }
            default:
                request = Json.object([("operation", .str("getProperties")), ("path", .str(path))]).bytes
            }
            let valid = kind == 4 ? dataLen : 0
            let before = model
            let tagBefore = service.state.eTag(path)
            let result = storage.withUnsafeMutableBytes { raw -> BlobResult in
                let buffer = GuestBuffer(local: UnsafeMutableRawBufferPointer(rebasing: raw[0..<dataLen]), valid: valid)
                return service.execute(request: request, data: buffer, context: BackendRequest(transaction: guid, timeoutMs: 0, now: UInt64(step)))
            }
            describe?("blob-service step \(step): \(String(decoding: request.prefix(160), as: UTF8.self)) -> \(String(decoding: result.response.prefix(160), as: UTF8.self))")
            guard let node = try? JSONParser.parse(result.response), node.members != nil, let status = node["status"]?.int else {
                return "step \(step): the answer is not a JSON object with a status: \(String(decoding: result.response.prefix(120), as: UTF8.self))"
            }
            guard statuses.contains(status) else { return "step \(step): status \(status) is not one the service documents" }
            guard node["clientRequestId"]?.string == guid.description else { return "step \(step): the answer does not carry the client request id \(guid)" }
            guard result.dataWritten >= 0, result.dataWritten <= dataLen else {
                return "step \(step): \(result.dataWritten) bytes written into a data buffer of \(dataLen)"
            }
            switch (kind, status) {
            case (1, 200):
                guard let h = node["fastpathFileHandle"]?.string, let t = node["fastpathSessionToken"]?.string, let tag = node["eTag"]?.string else {
                    return "step \(step): open answered 200 without handle, token and eTag"
                }
                guard node["contentLength"]?.int == Int64(model[path]?.count ?? -1) else { return "step \(step): open's contentLength is not the blob's size" }
                handles.append((h, t, path, tag))
            case (2, 206):
                guard let r = expectRead, let blob = before[r.path] else { return "step \(step): a read answered 206 for no blob" }
                if let stale = staleTags[r.path], stale.contains(r.eTag) { return "step \(step): a read with the eTag of before a write answered 206, not 412" }
                let n = max(0, min(r.len, blob.count - r.pos))
                guard result.dataWritten == n, node["bytesRead"]?.int == Int64(n) else {
                    return "step \(step): read \(r.len) at \(r.pos) of \(blob.count) bytes wrote \(result.dataWritten), expected \(n)"
                }
                if n > 0 && Array(storage[r.off..<r.off + n]) != Array(blob[r.pos..<r.pos + n]) {
                    return "step \(step): the bytes read differ from the blob's at \(r.pos)"
                }
            case (4, 201):
                var blob = model[path] ?? []
                let pos = Int((try? JSONParser.parse(request))?["position"]?.int ?? Int64(blob.count))
                let end = pos + dataLen
                if end > blob.count { blob += [UInt8](repeating: 0, count: end - blob.count) }
                blob.replaceSubrange(pos..<end, with: storage[0..<dataLen])
                model[path] = blob
                if let t = tagBefore { staleTags[path, default: []].append(t) }
                if service.state.eTag(path) == tagBefore { return "step \(step): a write answered 201 and left the eTag as it was" }
            case (4, let st) where st != 201:
                if model[path] != nil && service.state.blobs[path]?.bytes != model[path] { return "step \(step): a failed write changed the blob" }
            default:
                break
            }
            if kind != 4, model != before { return "step \(step): only a write changes a blob" }
            for (p, b) in model where service.state.blobs[p]?.bytes != b {
                return "step \(step): blob \(p) is not what the writes made it"
            }
        }
        return nil
    }
}
