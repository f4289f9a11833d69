// SPDX-License-Identifier: Apache-2.0

/// The bodies of hvblob's fuzz targets. Each takes raw bytes, decodes them into a structured
/// scenario (a request and its memory layout, a sequence of hostile host packets, a ring image,
/// parser input), runs it against the model, and returns nil when every invariant held or a
/// description of what broke. libFuzzer entry points (Fuzz/*.swift, built by Scripts/fuzz.sh)
/// trap on a non-nil result; `swift test` runs the same bodies over the corpus and seeded
/// random inputs; `hvblob replay-fuzz` prints the scenario an input decodes to.
public enum FuzzTargets {
    public static let names = ["validation", "hostile-host", "ring-reader", "parsers"]

    /// Runs target `name` on `data`: nil when every invariant held.
    public static func run(_ name: String, _ data: [UInt8], describe: ((String) -> Void)? = nil) -> String? {
        switch name {
        case "validation": return validation(data, describe: describe)
        case "hostile-host": return hostileHost(data, describe: describe)
        case "ring-reader": return ringReader(data, describe: describe)
        case "parsers": return parsers(data, describe: describe)
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
        "guest.close-twice", "guest.release-twice",
    ]

    // MARK: ioctl validation

    /// A request (every field), its buffers' lengths, page offsets and mapping kinds, a
    /// command and a credentials change, decoded from the input and run through the corrected
    /// model's ioctl. Invariants: it returns; a known errno; nothing left pinned; no rule of
    /// the guest broken; on 0, response_len within the caller's buffer.
    public static func validation(_ data: [UInt8], describe: ((String) -> Void)? = nil) -> String? {
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
        describe?("""
            validation: command \(command)\(creds ? ", credentials changed since open" : "")
              request  \(rl) bytes at page offset \(offsets.0), \(k.0.map(\.rawValue) ?? "unmapped")
              response \(pl) bytes at page offset \(offsets.1), \(k.1.map(\.rawValue) ?? "unmapped")
              data     \(dl) bytes (valid \(dv)) at page offset \(offsets.2), \(k.2.map(\.rawValue) ?? "unmapped")
              guid \(guid) timeout \(timeout)
            """)
        guard let rig = try? DriverRig(factory: nil, version: .default) else { return "could not set up the model" }
        func map(_ len: UInt32, _ off: Int, _ kind: MappingKind?) -> UInt64 {
            guard let kind else { return 0x1000 + UInt64(off) }
            guard len <= 64 * 1024 else { return 0x7e00_0000_0000 + UInt64(off) }
            return rig.space.map(length: Int(max(len, 1)), pageOffset: off, kind: kind,
                                 contents: kind == .untouched ? [] : [UInt8](repeating: 0x4c, count: Int(min(len, 32))))
        }
        let r = AzBlobRequestSync(guid: guid, timeout: timeout, requestLen: rl, responseLen: pl, dataLen: dl, dataValid: dv,
                                  requestBuffer: map(rl, offsets.0, k.0), responseBuffer: map(pl, offsets.1, k.1),
                                  dataBuffer: map(dl, offsets.2, k.2))
        let arg = rig.argument(r)
        if creds { rig.space.credentials += 1 }
        guard let e = rig.ioctl(arg, command: command) else { return "the ioctl never returned" }
        let known: Set<Errno> = [.success, .EINVAL, .EFAULT, .EACCES, .ENOMEM, .EAGAIN, .ENODEV, .EIO]
        if !known.contains(e) { return "unexpected errno \(e)" }
        if rig.machine.memory.pinnedFrames != 0 { return "\(rig.machine.memory.pinnedFrames) page(s) left pinned after \(e)" }
        if let v = rig.log.violations.first(where: { $0.rule.findingClass == .guest || $0.rule.findingClass == .hostCheck }) {
            return "\(v.rule): \(v.detail)"
        }
        if e == .success, let back = rig.response(arg), back.length > pl {
            return "response_len \(back.length) exceeds the caller's \(pl)"
        }
        return nil
    }

    // MARK: hostile host

    /// Two requests in flight, then a sequence of packets the host writes into the host->guest
    /// ring (any type, offset8, len8, flags, request id — live, stale, zero or random — and
    /// payload), interleaved with callback runs, optionally a rescind and remove. Invariants:
    /// the model never breaks a memory-safety rule, every call returns or waits, nothing traps.
    public static func hostileHost(_ data: [UInt8], describe: ((String) -> Void)? = nil) -> String? {
        var input = Input(data)
        let version = input.pick([KernelVersion(5, 13), KernelVersion(5, 17), KernelVersion(6, 1)])
        guard let rig = try? DriverRig(factory: nil, version: version, faults: FaultPlan(spec: "never-complete=1")) else {
            return "could not set up the model"
        }
        var calls: [DriverCall] = []
        for _ in 0..<2 {
            let (arg, _) = rig.argument(dataLen: 100, dataValid: 0)
            let c = rig.driver.ioctl(rig.file, command: .azBlobUserRequest, argument: arg)
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
        if let v = rig.log.violations.first(where: { memorySafetyRules.contains($0.rule.rawValue) }) {
            return "\(v.rule): \(v.detail)"
        }
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
}
