// SPDX-License-Identifier: Apache-2.0

/// Reads little-endian VMBus fields. There is no default byte order and no way to read past the
/// end: every read names its field and throws `WireError.truncated` with the offset.
public struct WireReader {
    public let bytes: [UInt8]
    public private(set) var offset: Int
    /// Added to offsets in errors, when `bytes` is a slice of a larger packet or file.
    public let base: Int
    public var structure: String

    public init(_ bytes: [UInt8], structure: String, offset: Int = 0, base: Int = 0) {
        self.bytes = bytes
        self.offset = offset
        self.base = base
        self.structure = structure
    }

    public var remaining: Int { bytes.count - offset }

    @inline(__always)
    private mutating func need(_ n: Int, _ field: String) throws(WireError) {
        if n > bytes.count - offset {
            throw WireError(.truncated, structure: structure, field: field, offset: base + offset,
                            needed: n, available: max(0, bytes.count - offset))
        }
    }

    public mutating func u8(_ field: String) throws(WireError) -> UInt8 {
        try need(1, field)
        defer { offset += 1 }
        return bytes[offset]
    }

    public mutating func u16(_ field: String) throws(WireError) -> UInt16 {
        try need(2, field)
        defer { offset += 2 }
        return UInt16(bytes[offset]) | UInt16(bytes[offset + 1]) << 8
    }

    public mutating func u32(_ field: String) throws(WireError) -> UInt32 {
        try need(4, field)
        defer { offset += 4 }
        return bytes.withUnsafeBytes { UInt32(littleEndian: $0.loadUnaligned(fromByteOffset: offset, as: UInt32.self)) }
    }

    public mutating func u64(_ field: String) throws(WireError) -> UInt64 {
        try need(8, field)
        defer { offset += 8 }
        return bytes.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(fromByteOffset: offset, as: UInt64.self)) }
    }

    public mutating func bytes(_ n: Int, _ field: String) throws(WireError) -> [UInt8] {
        try need(n, field)
        defer { offset += n }
        return Array(bytes[offset..<offset + n])
    }

    public mutating func guid(_ field: String) throws(WireError) -> GUID {
        try need(16, field)
        let low = try u64(field), high = try u64(field)
        return GUID(low: low, high: high)
    }

    public mutating func skip(_ n: Int, _ field: String) throws(WireError) {
        try need(n, field)
        offset += n
    }
}

/// Writes little-endian VMBus fields into a growing byte array.
public struct WireWriter {
    public private(set) var bytes: [UInt8]

    public init(capacity: Int = 64) {
        bytes = []
        bytes.reserveCapacity(capacity)
    }

    /// Writes into `storage`'s buffer (emptied, its capacity kept): the caller's array is left
    /// empty and gets the bytes back with `give(to:)`, so a buffer is reused without a copy.
    public init(taking storage: inout [UInt8]) {
        bytes = []
        swap(&bytes, &storage)
        bytes.removeAll(keepingCapacity: true)
    }

    /// Room for `n` bytes in all (no allocation when the taken storage has it already).
    public mutating func reserveCapacity(_ n: Int) { bytes.reserveCapacity(n) }

    public mutating func give(to storage: inout [UInt8]) {
        swap(&bytes, &storage)
        bytes = []
    }

    public mutating func u8(_ v: UInt8) { bytes.append(v) }
    public mutating func u16(_ v: UInt16) { bytes.append(UInt8(truncatingIfNeeded: v)); bytes.append(UInt8(truncatingIfNeeded: v >> 8)) }
    // Byte by byte: append(contentsOf:) of a raw buffer is the slow generic path, and every
    // request and completion is written here.
    @inline(__always)
    public mutating func u32(_ v: UInt32) {
        bytes.append(UInt8(truncatingIfNeeded: v)); bytes.append(UInt8(truncatingIfNeeded: v >> 8))
        bytes.append(UInt8(truncatingIfNeeded: v >> 16)); bytes.append(UInt8(truncatingIfNeeded: v >> 24))
    }
    @inline(__always)
    public mutating func u64(_ v: UInt64) { u32(UInt32(truncatingIfNeeded: v)); u32(UInt32(truncatingIfNeeded: v >> 32)) }
    public mutating func bytes(_ b: [UInt8]) { bytes.append(contentsOf: b) }
    public mutating func guid(_ g: GUID) { u64(g.low); u64(g.high) }
    public mutating func zeros(_ n: Int) { for _ in 0..<max(n, 0) { bytes.append(0) } }
    /// Pads with zeros to a multiple of `alignment` (VMBus packets are padded to 8).
    public mutating func pad(to alignment: Int) {
        let r = bytes.count % alignment
        if r != 0 { zeros(alignment - r) }
    }
}

/// Hex text <-> bytes, for `hvblob decode`, vectors and traces.
public enum Hex {
    public static func encode(_ bytes: [UInt8]) -> String {
        let digits: [UInt8] = Array("0123456789abcdef".utf8)
        var out = [UInt8]()
        out.reserveCapacity(bytes.count * 2)
        for b in bytes { out.append(digits[Int(b >> 4)]); out.append(digits[Int(b & 15)]) }
        return String(decoding: out, as: UTF8.self)
    }

    /// Accepts whitespace, `0x` prefixes are not allowed inside; throws with the character offset.
    public static func decode(_ text: String) throws(WireError) -> [UInt8] {
        var out = [UInt8]()
        var high: UInt8? = nil
        var index = 0
        for c in text.utf8 {
            defer { index += 1 }
            let v: UInt8
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): v = c - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): v = c - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): v = c - UInt8(ascii: "A") + 10
            case UInt8(ascii: " "), UInt8(ascii: "\n"), UInt8(ascii: "\t"), UInt8(ascii: "\r"), UInt8(ascii: ":"):
                if high != nil {
                    throw WireError(.badHex, structure: "hex", field: "separator inside a byte", offset: index)
                }
                continue
            default:
                throw WireError(.badHex, structure: "hex", field: "not a hex digit (byte 0x\(String(c, radix: 16)))", offset: index)
            }
            if let h = high { out.append(h << 4 | v); high = nil } else { high = v }
        }
        if high != nil {
            throw WireError(.badHex, structure: "hex", field: "odd number of hex digits", offset: index)
        }
        return out
    }
}
