// SPDX-License-Identifier: Apache-2.0

/// One message on the control socket between hvblob (the guest and its VMBus control plane)
/// and an out-of-process host (the VSP). SOCK_SEQPACKET: one message per record, little-endian.
///
///     off  size  field
///       0     2  type      (HostMessage.Kind)
///       2     2  reserved  (0)
///       4     4  length    whole message in bytes, header included
///       8     8  seq       guest messages: numbered from 1; DONE: the seq it answers; else 0
///      16     8  time      the guest's virtual time (ticks) when it sent the message; host: 0
///      24     …  body      per type (Docs/host-interface.md)
public struct HostMessage: Equatable, Sendable {
    public struct Kind: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
        public let rawValue: UInt16
        public init(rawValue: UInt16) { self.rawValue = rawValue }
        // guest -> host: each answered by exactly one DONE with the same seq
        public static let attach = Kind(rawValue: 1)
        public static let open = Kind(rawValue: 2)
        public static let signal = Kind(rawValue: 3)
        public static let run = Kind(rawValue: 4)
        public static let close = Kind(rawValue: 5)
        public static let rescind = Kind(rawValue: 6)
        public static let detach = Kind(rawValue: 7)
        // host -> guest
        public static let offer = Kind(rawValue: 16)
        public static let done = Kind(rawValue: 17)
        public static let interrupt = Kind(rawValue: 18)
        public static let timer = Kind(rawValue: 19)
        public static let finding = Kind(rawValue: 20)

        public var description: String {
            switch self {
            case .attach: "ATTACH"
            case .open: "OPEN"
            case .signal: "SIGNAL"
            case .run: "RUN"
            case .close: "CLOSE"
            case .rescind: "RESCIND"
            case .detach: "DETACH"
            case .offer: "OFFER"
            case .done: "DONE"
            case .interrupt: "INTERRUPT"
            case .timer: "TIMER"
            case .finding: "FINDING"
            default: "type \(rawValue)"
            }
        }
    }

    public static let headerSize = 24
    /// Protocol version in ATTACH and OFFER.
    public static let version: UInt32 = 1
    /// The largest message either side sends (a FINDING's text is cut to fit).
    public static let maxSize = 4096

    public var kind: Kind
    public var seq: UInt64 = 0
    public var time: UInt64 = 0
    public var body: [UInt8] = []

    public init(_ kind: Kind, seq: UInt64 = 0, time: UInt64 = 0, body: [UInt8] = []) {
        self.kind = kind
        self.seq = seq
        self.time = time
        self.body = body
    }

    public func encoded() -> [UInt8] {
        var w = WireWriter(capacity: HostMessage.headerSize + body.count)
        w.u16(kind.rawValue)
        w.u16(0)
        w.u32(UInt32(HostMessage.headerSize + body.count))
        w.u64(seq)
        w.u64(time)
        return w.bytes + body
    }

    public enum DecodeError: Error, Equatable, CustomStringConvertible {
        case short(count: Int)
        case lengthMismatch(claimed: UInt32, received: Int)
        case bodyShort(kind: Kind, need: Int, have: Int)
        public var description: String {
            switch self {
            case .short(let n): "a \(n)-byte message is shorter than the 24-byte header"
            case .lengthMismatch(let c, let r): "header length \(c) but \(r) bytes received"
            case .bodyShort(let k, let need, let have): "\(k) body needs \(need) bytes, has \(have)"
            }
        }
    }

    public static func decode(_ bytes: [UInt8]) throws(DecodeError) -> HostMessage {
        guard bytes.count >= headerSize else { throw .short(count: bytes.count) }
        let len = bytes.u32(4)
        guard Int(len) == bytes.count else { throw .lengthMismatch(claimed: len, received: bytes.count) }
        return HostMessage(Kind(rawValue: bytes.le16(0)), seq: bytes.u64(8), time: bytes.u64(16), body: Array(bytes[headerSize...]))
    }

    func need(_ n: Int) throws(DecodeError) {
        if body.count < n { throw .bodyShort(kind: kind, need: n, have: body.count) }
    }

    // MARK: bodies

    /// ATTACH: the guest's memory file.
    public struct Attach: Equatable, Sendable {
        public var pageSize: UInt32 = UInt32(AzBlob.pageSize)
        public var pfnBase: UInt64 = SharedGuestMemory.pfnBase
        public var pageCount: UInt64
        public var frameCount: UInt64
        /// The run's seed: a deterministic host may draw its choices from it.
        public var seed: UInt64
        public var path: String
        public init(pageCount: UInt64, frameCount: UInt64, seed: UInt64, path: String) {
            self.pageCount = pageCount
            self.frameCount = frameCount
            self.seed = seed
            self.path = path
        }
    }

    public static func attach(_ a: Attach, seq: UInt64, time: UInt64) -> HostMessage {
        var w = WireWriter(capacity: 48 + a.path.utf8.count)
        w.u32(version); w.u32(a.pageSize); w.u64(a.pfnBase); w.u64(a.pageCount); w.u64(a.frameCount); w.u64(a.seed)
        w.u32(UInt32(a.path.utf8.count)); w.u32(0)
        return HostMessage(.attach, seq: seq, time: time, body: w.bytes + Array(a.path.utf8))
    }

    public func attachBody() throws(DecodeError) -> Attach {
        try need(48)
        let n = Int(body.u32(40))
        try need(48 + n)
        var a = Attach(pageCount: body.u64(16), frameCount: body.u64(24), seed: body.u64(32),
                       path: String(decoding: body[48..<(48 + n)], as: UTF8.self))
        a.pageSize = body.u32(4)
        a.pfnBase = body.u64(8)
        return a
    }

    /// OPEN: both rings, each a contiguous run of `ringPages` pages starting at its first PFN.
    public struct Open: Equatable, Sendable {
        public var ringSize: UInt32
        public var outboundPFN: UInt64
        public var inboundPFN: UInt64
        public init(ringSize: UInt32, outboundPFN: UInt64, inboundPFN: UInt64) {
            self.ringSize = ringSize
            self.outboundPFN = outboundPFN
            self.inboundPFN = inboundPFN
        }
    }

    public static func open(_ o: Open, seq: UInt64, time: UInt64) -> HostMessage {
        var w = WireWriter(capacity: 24)
        w.u32(o.ringSize); w.u32(o.ringSize / UInt32(AzBlob.pageSize)); w.u64(o.outboundPFN); w.u64(o.inboundPFN)
        return HostMessage(.open, seq: seq, time: time, body: w.bytes)
    }

    public func openBody() throws(DecodeError) -> Open {
        try need(24)
        return Open(ringSize: body.u32(0), outboundPFN: body.u64(8), inboundPFN: body.u64(16))
    }

    /// OFFER: the host's device.
    public struct Offer: Equatable, Sendable {
        public var classId: GUID
        public var instanceId: GUID
        /// bit 0: the host runs in the guest's virtual time (TIMER/RUN) and is deterministic.
        public var flags: UInt32
        public var name: String
        public static let flagVirtualTime: UInt32 = 1
        public init(classId: GUID, instanceId: GUID, flags: UInt32, name: String) {
            self.classId = classId
            self.instanceId = instanceId
            self.flags = flags
            self.name = name
        }
    }

    public static func offer(_ o: Offer) -> HostMessage {
        var w = WireWriter(capacity: 48)
        w.u32(version); w.u32(o.flags)
        let name = Array(o.name.utf8.prefix(256))
        w.u32(UInt32(name.count)); w.u32(0)
        return HostMessage(.offer, body: w.bytes + o.classId.bytes + o.instanceId.bytes + name)
    }

    public func offerBody() throws(DecodeError) -> (version: UInt32, offer: Offer) {
        try need(48)
        let n = Int(body.u32(8))
        try need(48 + n)
        return (body.u32(0), Offer(classId: GUID(bytes: Array(body[16..<32])), instanceId: GUID(bytes: Array(body[32..<48])),
                                  flags: body.u32(4), name: String(decoding: body[48..<(48 + n)], as: UTF8.self)))
    }

    /// DONE: status 0 or a negative errno.
    public static func done(seq: UInt64, status: Int32 = 0) -> HostMessage {
        var w = WireWriter(capacity: 8)
        w.u32(UInt32(bitPattern: status)); w.u32(0)
        return HostMessage(.done, seq: seq, body: w.bytes)
    }

    public var doneStatus: Int32 { body.count >= 4 ? Int32(bitPattern: body.u32(0)) : 0 }

    /// TIMER: run token `token` at virtual time `at` (answered later by RUN).
    public static func timer(token: UInt64, at: UInt64) -> HostMessage {
        var w = WireWriter(capacity: 16)
        w.u64(token); w.u64(at)
        return HostMessage(.timer, body: w.bytes)
    }

    public func timerBody() throws(DecodeError) -> (token: UInt64, at: UInt64) {
        try need(16)
        return (body.u64(0), body.u64(8))
    }

    public static func run(token: UInt64, seq: UInt64, time: UInt64) -> HostMessage {
        var w = WireWriter(capacity: 8)
        w.u64(token)
        return HostMessage(.run, seq: seq, time: time, body: w.bytes)
    }

    public func runToken() throws(DecodeError) -> UInt64 {
        try need(8)
        return body.u64(0)
    }

    /// FINDING: a rule the host saw broken (its own checks of the guest's packets).
    public static func finding(rule: String, detail: String) -> HostMessage {
        let r = Array(rule.utf8.prefix(128))
        let d = Array(detail.utf8.prefix(maxSize - headerSize - 8 - r.count))
        var w = WireWriter(capacity: 8)
        w.u32(UInt32(r.count)); w.u32(UInt32(d.count))
        return HostMessage(.finding, body: w.bytes + r + d)
    }

    public func findingBody() throws(DecodeError) -> (rule: String, detail: String) {
        try need(8)
        let r = Int(body.u32(0)), d = Int(body.u32(4))
        try need(8 + r + d)
        return (String(decoding: body[8..<(8 + r)], as: UTF8.self), String(decoding: body[(8 + r)..<(8 + r + d)], as: UTF8.self))
    }
}

extension Array where Element == UInt8 {
    func le16(_ o: Int) -> UInt16 { UInt16(self[o]) | UInt16(self[o + 1]) << 8 }
}
