// SPDX-License-Identifier: Apache-2.0

/// Why a capture (pcapng file or one of its records) could not be read. `offset` is the byte
/// offset in the file where the bad thing starts; `file` is filled in by whoever opened it.
public struct CaptureError: Error, Hashable, Sendable, CustomStringConvertible {
    public enum Code: String, Sendable {
        case truncated
        case badMagic = "bad-magic"
        case badBlockLength = "bad-block-length"
        case unsupported
        case badLinkType = "bad-link-type"
        case badInterface = "bad-interface"
        case badRecord = "bad-record"
        case io
    }

    public let code: Code
    public let offset: Int
    public let detail: String
    public var file: String?

    public init(_ code: Code, offset: Int, _ detail: String, file: String? = nil) {
        self.code = code
        self.offset = offset
        self.detail = detail
        self.file = file
    }

    public var description: String {
        "\(file ?? "capture"): byte \(offset): \(code.rawValue): \(detail)"
    }
}

/// One capture record: what the VSC and VSP did, as seen at the ring (the payload of one
/// pcapng Enhanced Packet Block under link type `CaptureRecord.linkType`).
///
/// Layout (little-endian, 24-byte header then `body_len` bytes):
///
///     0  u8   version      1
///     1  u8   kind         CaptureRecord.Kind (1...12)
///     2  u8   direction    0 guest->host (outbound ring), 1 host->guest (inbound ring), 0xff none
///     3  u8   flags        bit 0: ring offsets known; bit 1: request id not known (0 on record);
///                          bit 2: a guest packet made malformed on purpose (hvblob's hostile guest)
///     4  u32  channel      the channel's relid (the simulator uses 1)
///     8  u32  ring_before  the ring's write_index before the packet
///    12  u32  ring_after   ... and after it (trailer included)
///    16  u32  pid          the process, for ioctl records
///    20  u32  body_len
///    24  ...  body         by kind, see `Body`
public struct CaptureRecord: Hashable, Sendable {
    /// LINKTYPE_USER0: a link type reserved for private use (147-162).
    public static let linkType: UInt16 = 147
    public static let version: UInt8 = 1
    public static let headerSize = 24
    public static let flagRingOffsets: UInt8 = 1
    public static let flagRequestIdUnknown: UInt8 = 2
    /// A guest->host packet hvblob made malformed on purpose (verify-host's and fuzz-host's
    /// hostile guest): a host may answer it with an error or not at all.
    public static let flagHostile: UInt8 = 4

    public enum Kind: UInt8, Sendable, CaseIterable, CustomStringConvertible {
        /// Body: the packet as written into the ring (descriptor first, no trailer).
        case ringPacket = 1
        /// Body: u32 cmd, u32 0, u64 argument address, the 72-byte az_blob_request_sync as
        /// user space passed it, then the request buffer's bytes.
        case ioctlCall = 2
        /// Body: i32 return value (0 or -errno), u32 response.status, u32 response.response_len.
        case ioctlReturn = 3
        /// Body: u64 PFN, u32 offset in the page, u32 length, the bytes the host wrote.
        case hostWrite = 4
        /// The host rescinded the channel. No body.
        case rescind = 5
        /// The guest opened the channel (vmbus_open). Body: u32 ring size (each direction).
        case open = 6
        /// The guest closed the channel (vmbus_close). No body.
        case close = 7
        /// The guest consumed host->guest packets: it published read_index, moving it from
        /// ring_before to ring_after (hv_pkt_iter_close). No body.
        case guestRead = 8
        /// User space closed its file (the last close of /dev/azure_blob by `pid`). No body.
        case release = 9
        /// The device's remove started (after a rescind, or a module unload). No body.
        case remove = 10
        /// Body as host-write: bytes of a page the guest handed the host with the guest->host
        /// packet recorded next (its request buffer and the valid part of its data buffer), as
        /// they stood when the packet was sent. Recorded by `hvblob guest --record` and
        /// fuzz-host reproducers, so that a capture replays against a host
        /// (`hvblob guest --replay`); replaying a guest ignores it.
        case guestData = 11
        /// The guest set its ring-header fields of the ring `direction` names (interrupt_mask
        /// of the host->guest ring, pending_send_sz of the guest->host ring). Body: u32
        /// interrupt_mask, u32 pending_send_sz.
        case ringState = 12

        public var description: String {
            switch self {
            case .ringPacket: return "ring-packet"
            case .ioctlCall: return "ioctl-call"
            case .ioctlReturn: return "ioctl-return"
            case .hostWrite: return "host-write"
            case .rescind: return "rescind"
            case .open: return "open"
            case .close: return "close"
            case .guestRead: return "guest-read"
            case .release: return "release"
            case .remove: return "remove"
            case .guestData: return "guest-data"
            case .ringState: return "ring-state"
            }
        }
    }

    public enum Direction: UInt8, Sendable, CustomStringConvertible {
        case guestToHost = 0, hostToGuest = 1, none = 0xff
        public var description: String {
            switch self {
            case .guestToHost: return "guest->host"
            case .hostToGuest: return "host->guest"
            case .none: return "-"
            }
        }
    }

    /// Milliseconds: simulator ticks (jiffies at HZ=1000), or a real VM's clock converted.
    public var time: UInt64
    public var kind: Kind
    public var direction: Direction
    public var flags: UInt8
    public var channel: UInt32
    public var ringBefore: UInt32
    public var ringAfter: UInt32
    public var pid: UInt32
    public var body: [UInt8]

    public init(time: UInt64, kind: Kind, direction: Direction = .none, flags: UInt8 = 0, channel: UInt32 = 1,
                ringBefore: UInt32 = 0, ringAfter: UInt32 = 0, pid: UInt32 = 0, body: [UInt8] = []) {
        self.time = time
        self.kind = kind
        self.direction = direction
        self.flags = flags
        self.channel = channel
        self.ringBefore = ringBefore
        self.ringAfter = ringAfter
        self.pid = pid
        self.body = body
    }

    public var ringOffsetsKnown: Bool { flags & CaptureRecord.flagRingOffsets != 0 }
    public var requestIdUnknown: Bool { flags & CaptureRecord.flagRequestIdUnknown != 0 }

    public func encoded() -> [UInt8] {
        var w = WireWriter(capacity: CaptureRecord.headerSize + body.count)
        w.u8(CaptureRecord.version); w.u8(kind.rawValue); w.u8(direction.rawValue); w.u8(flags)
        w.u32(channel); w.u32(ringBefore); w.u32(ringAfter); w.u32(pid); w.u32(UInt32(body.count))
        w.bytes(body)
        return w.bytes
    }

    /// Decodes one record; `base` is where `bytes` starts in the file, so errors name file offsets.
    public static func decode(_ bytes: ArraySlice<UInt8>, time: UInt64, base: Int) throws(CaptureError) -> CaptureRecord {
        let s = bytes.startIndex
        func u8(_ o: Int) -> UInt8 { bytes[s + o] }
        func u32(_ o: Int) -> UInt32 {
            UInt32(bytes[s + o]) | UInt32(bytes[s + o + 1]) << 8 | UInt32(bytes[s + o + 2]) << 16 | UInt32(bytes[s + o + 3]) << 24
        }
        guard bytes.count >= headerSize else {
            throw CaptureError(.truncated, offset: base, "record header needs \(headerSize) bytes, \(bytes.count) captured")
        }
        guard u8(0) == version else {
            throw CaptureError(.badRecord, offset: base, "record version \(u8(0)), expected \(version)")
        }
        guard let kind = Kind(rawValue: u8(1)) else {
            throw CaptureError(.badRecord, offset: base + 1, "record kind \(u8(1)) is not one of 1...12")
        }
        guard let direction = Direction(rawValue: u8(2)) else {
            throw CaptureError(.badRecord, offset: base + 2, "direction \(u8(2)) is not 0, 1 or 0xff")
        }
        let bodyLen = Int(u32(20))
        guard bodyLen == bytes.count - headerSize else {
            throw CaptureError(.badRecord, offset: base + 20, "body_len \(bodyLen) but \(bytes.count - headerSize) body bytes captured")
        }
        let r = CaptureRecord(time: time, kind: kind, direction: direction, flags: u8(3), channel: u32(4),
                              ringBefore: u32(8), ringAfter: u32(12), pid: u32(16), body: Array(bytes[(s + headerSize)...]))
        try r.validateBody(base: base + headerSize)
        return r
    }

    /// Each kind's body has a fixed shape; anything else names the offending byte.
    func validateBody(base: Int) throws(CaptureError) {
        let n = body.count
        func need(_ ok: Bool, _ what: String) throws(CaptureError) {
            if !ok { throw CaptureError(.badRecord, offset: base, "\(kind) body of \(n) bytes: \(what)") }
        }
        switch kind {
        case .ringPacket:
            try need(direction != .none, "a ring packet needs a direction")
            try need(n >= PacketDescriptor.wireSize, "shorter than the 16-byte packet descriptor")
            try need(n % 8 == 0, "not a multiple of 8 (ring packets are 8-byte aligned)")
        case .ioctlCall:
            try need(n >= CaptureRecord.callFixedSize, "needs at least \(CaptureRecord.callFixedSize) bytes (cmd, argument, az_blob_request_sync)")
        case .ioctlReturn:
            try need(n == 12, "must be 12 bytes (return value, status, response_len)")
        case .hostWrite, .guestData:
            try need(n >= 16, "needs the 16-byte PFN/offset/length header")
            let off = Int(body.u32(8)), len = Int(body.u32(12))
            if len != n - 16 {
                throw CaptureError(.badRecord, offset: base + 12, "\(kind) length \(len) but \(n - 16) bytes follow")
            }
            if off + len > AzBlob.pageSize {
                throw CaptureError(.badRecord, offset: base + 8, "\(kind) of \(len) bytes at page offset \(off) crosses the page end")
            }
        case .rescind, .close, .release, .remove:
            try need(n == 0, "carries no body")
        case .guestRead:
            try need(n == 0, "carries no body")
            try need(direction == .hostToGuest, "a guest read is on the host->guest ring")
        case .open:
            try need(n == 4, "must be 4 bytes (ring size)")
        case .ringState:
            try need(n == 8, "must be 8 bytes (interrupt_mask, pending_send_sz)")
            try need(direction != .none, "a ring state names its ring")
        }
    }

    static let callFixedSize = 16 + AzBlobRequestSync.wireSize
}

extension Array where Element == UInt8 {
    @inline(__always) func u32(_ o: Int) -> UInt32 {
        UInt32(self[o]) | UInt32(self[o + 1]) << 8 | UInt32(self[o + 2]) << 16 | UInt32(self[o + 3]) << 24
    }
    @inline(__always) func u64(_ o: Int) -> UInt64 { UInt64(u32(o)) | UInt64(u32(o + 4)) << 32 }
}

/// Typed views of the record bodies.
extension CaptureRecord {
    public struct IoctlCall: Sendable, Equatable {
        public var command: UInt32
        public var argument: UInt64
        public var request: AzBlobRequestSync
        public var requestBytes: [UInt8]
    }

    public struct IoctlReturn: Sendable, Equatable {
        public var value: Int32
        public var status: UInt32
        public var responseLength: UInt32
        public var errno: Errno { Errno(rawValue: value < 0 ? -value : value) }
    }

    public struct HostWrite: Sendable, Equatable {
        public var pfn: UInt64
        public var offset: Int
        public var bytes: [UInt8]
    }

    public var ioctlCall: IoctlCall? {
        guard kind == .ioctlCall, body.count >= CaptureRecord.callFixedSize,
              let req = try? AzBlobRequestSync.decode(Array(body[16..<CaptureRecord.callFixedSize])) else { return nil }
        return IoctlCall(command: body.u32(0), argument: body.u64(8), request: req,
                         requestBytes: Array(body[CaptureRecord.callFixedSize...]))
    }

    public var ioctlReturn: IoctlReturn? {
        guard kind == .ioctlReturn, body.count == 12 else { return nil }
        return IoctlReturn(value: Int32(bitPattern: body.u32(0)), status: body.u32(4), responseLength: body.u32(8))
    }

    public var hostWrite: HostWrite? {
        guard kind == .hostWrite, body.count >= 16 else { return nil }
        return HostWrite(pfn: body.u64(0), offset: Int(body.u32(8)), bytes: Array(body[16...]))
    }

    /// A guest-data record's page bytes (the same shape as a host write's).
    public var guestData: HostWrite? {
        guard kind == .guestData, body.count >= 16 else { return nil }
        return HostWrite(pfn: body.u64(0), offset: Int(body.u32(8)), bytes: Array(body[16...]))
    }

    /// The body of a host-write or guest-data record.
    public static func pageBytesBody(pfn: UInt64, offset: Int, bytes: [UInt8]) -> [UInt8] {
        var w = WireWriter(capacity: 16 + bytes.count)
        w.u64(pfn); w.u32(UInt32(offset)); w.u32(UInt32(bytes.count))
        w.bytes(bytes)
        return w.bytes
    }

    /// A ring-state record's (interrupt_mask, pending_send_sz).
    public var ringState: (interruptMask: UInt32, pendingSendSize: UInt32)? {
        guard kind == .ringState, body.count == 8 else { return nil }
        return (body.u32(0), body.u32(4))
    }

    public var hostile: Bool { flags & CaptureRecord.flagHostile != 0 }

    public static func ioctlCallBody(command: UInt32, argument: UInt64, request: [UInt8], requestBytes: [UInt8]) -> [UInt8] {
        var w = WireWriter(capacity: callFixedSize + requestBytes.count)
        w.u32(command); w.u32(0); w.u64(argument)
        w.bytes(request + [UInt8](repeating: 0, count: Swift.max(0, AzBlobRequestSync.wireSize - request.count)))
        w.bytes(requestBytes)
        return w.bytes
    }

    public static func ioctlReturnBody(_ e: Errno, status: UInt32, responseLength: UInt32) -> [UInt8] {
        var w = WireWriter(capacity: 12)
        w.u32(UInt32(bitPattern: e == .success ? 0 : -e.rawValue)); w.u32(status); w.u32(responseLength)
        return w.bytes
    }

    /// One line for listings and divergence reports.
    public var summary: String {
        var s = "t=\(time) \(kind)"
        if direction != .none { s += " \(direction)" }
        if ringOffsetsKnown { s += " ring \(ringBefore)->\(ringAfter)" }
        switch kind {
        case .ringPacket:
            s += " \(body.count) bytes type \(body.count >= 2 ? String(UInt16(body[0]) | UInt16(body[1]) << 8) : "?")"
            if body.count >= 16 { s += " trans_id \(body.u64(8))" }
            if hostile { s += " (malformed on purpose)" }
        case .ioctlCall:
            if let c = ioctlCall {
                s += " pid \(pid) request_len \(c.request.requestLen) response_len \(c.request.responseLen) data_len \(c.request.dataLen) data_valid \(c.request.dataValid)"
            }
        case .ioctlReturn:
            if let r = ioctlReturn { s += " pid \(pid) -> \(r.errno) status \(r.status) response_len \(r.responseLength)" }
        case .hostWrite:
            if let h = hostWrite { s += " PFN \(hex64(h.pfn)) +\(h.offset) \(h.bytes.count) bytes" }
        case .guestData:
            if let h = guestData { s += " PFN \(hex64(h.pfn)) +\(h.offset) \(h.bytes.count) bytes" }
        case .ringState:
            if let st = ringState { s += " interrupt_mask \(st.interruptMask) pending_send_sz \(st.pendingSendSize)" }
        case .open:
            if body.count == 4 { s += " ring size \(body.u32(0))" }
        case .release:
            s += " pid \(pid)"
        case .rescind, .close, .guestRead, .remove:
            break
        }
        return s
    }
}
