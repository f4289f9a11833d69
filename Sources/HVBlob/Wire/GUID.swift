// SPDX-License-Identifier: Apache-2.0

/// A 16-byte GUID as it sits in memory (Linux `guid_t`, built by GUID_INIT): the first three
/// groups little-endian, the last eight bytes in order. The transaction GUID and the device
/// class id are both of this type.
public struct GUID: Hashable, Sendable, CustomStringConvertible {
    /// The sixteen bytes as two little-endian words: a GUID is read from every request and
    /// completion, and two words cost no heap allocation where an array of bytes does.
    public let low: UInt64
    public let high: UInt64

    public init(low: UInt64, high: UInt64) {
        self.low = low
        self.high = high
    }

    public init(bytes: [UInt8]) {
        precondition(bytes.count == 16, "internal: GUID needs 16 bytes; callers read exactly 16")
        low = bytes.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self)) }
        high = bytes.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(fromByteOffset: 8, as: UInt64.self)) }
    }

    /// Its sixteen bytes in wire order.
    public var bytes: [UInt8] {
        withUnsafeBytes(of: (low.littleEndian, high.littleEndian)) { Array($0) }
    }

    public static let zero = GUID(low: 0, high: 0)

    /// GUID_INIT(a, b, c, d0..d7).
    public init(_ a: UInt32, _ b: UInt16, _ c: UInt16, _ d: [UInt8]) {
        precondition(d.count == 8, "internal: GUID_INIT takes eight trailing bytes")
        var w = WireWriter(capacity: 16)
        w.u32(a); w.u16(b); w.u16(c); w.bytes(d)
        self.init(bytes: w.bytes)
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
        var out: [UInt8] = []
        out.reserveCapacity(36)
        writeText(into: &out)
        return String(decoding: out, as: UTF8.self)
    }

    /// Appends the canonical text form's 36 bytes (lower-case hex) to `out`, with no String
    /// in between (the Blob service answers with it on every request).
    public func writeText(into out: inout [UInt8]) {
        func byte(_ i: Int) -> UInt8 { UInt8(truncatingIfNeeded: (i < 8 ? low : high) >> (8 * UInt64(i & 7))) }
        func hex(_ b: UInt8) {
            let d = b >> 4, e = b & 15
            out.append(d < 10 ? 0x30 + d : 0x57 + d)
            out.append(e < 10 ? 0x30 + e : 0x57 + e)
        }
        // The first three groups are little-endian in memory; the last eight bytes in order.
        hex(byte(3)); hex(byte(2)); hex(byte(1)); hex(byte(0)); out.append(0x2d)
        hex(byte(5)); hex(byte(4)); out.append(0x2d)
        hex(byte(7)); hex(byte(6)); out.append(0x2d)
        hex(byte(8)); hex(byte(9)); out.append(0x2d)
        for i in 10..<16 { hex(byte(i)) }
    }
}
