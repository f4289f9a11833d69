// SPDX-License-Identifier: Apache-2.0

/// A 16-byte GUID as it sits in memory (Linux `guid_t`, built by GUID_INIT): the first three
/// groups little-endian, the last eight bytes in order. The transaction GUID and the device
/// class id are both of this type.
public struct GUID: Hashable, Sendable, CustomStringConvertible {
    public private(set) var bytes: [UInt8]

    public init(bytes: [UInt8]) {
        precondition(bytes.count == 16, "internal: GUID needs 16 bytes; callers read exactly 16")
        self.bytes = bytes
    }

    public static let zero = GUID(bytes: [UInt8](repeating: 0, count: 16))

    /// Two words instead of sixteen bytes: GUIDs key the host's bookkeeping on every request.
    public func hash(into h: inout Hasher) {
        bytes.withUnsafeBytes { raw in
            h.combine(raw.loadUnaligned(as: UInt64.self))
            h.combine(raw.loadUnaligned(fromByteOffset: 8, as: UInt64.self))
        }
    }

    /// GUID_INIT(a, b, c, d0..d7).
    public init(_ a: UInt32, _ b: UInt16, _ c: UInt16, _ d: [UInt8]) {
        precondition(d.count == 8, "internal: GUID_INIT takes eight trailing bytes")
        var w = WireWriter(capacity: 16)
        w.u32(a); w.u16(b); w.u16(c); w.bytes(d)
        self.bytes = w.bytes
    }

    /// Parses the canonical text form `0590b792-db64-45cc-81db-b8d70c577c9e`.
    public init?(string: String) {
        let parts = string.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 5, parts.map(\.count) == [8, 4, 4, 4, 12],
              let a = UInt32(parts[0], radix: 16), let b = UInt16(parts[1], radix: 16),
              let c = UInt16(parts[2], radix: 16),
              let tail = try? Hex.decode(String(parts[3] + parts[4])) else { return nil }
        self.init(a, b, c, tail)
    }

    /// Canonical text form (what `%pUl` prints for a guid_t).
    public var description: String {
        let h = Hex.encode
        return h([bytes[3], bytes[2], bytes[1], bytes[0]]) + "-" + h([bytes[5], bytes[4]]) + "-"
            + h([bytes[7], bytes[6]]) + "-" + h(Array(bytes[8..<10])) + "-" + h(Array(bytes[10..<16]))
    }
}
