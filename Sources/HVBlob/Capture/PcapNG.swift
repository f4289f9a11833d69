// SPDX-License-Identifier: Apache-2.0

/// A capture: records in order, stored as pcapng (one Section Header Block, one Interface
/// Description Block with link type 147, one Enhanced Packet Block per record). Record times are
/// milliseconds — simulator ticks, which are jiffies at HZ=1000 — written with if_tsresol 3;
/// other resolutions (a real VM's nanoseconds) are converted on reading.
public struct Capture: Sendable, Equatable {
    public var records: [CaptureRecord]
    /// Where each record's EPB starts in the file it was read from (empty for a new capture).
    public var offsets: [Int] = []
    /// Who wrote it (shb_userappl), when known.
    public var application: String? = nil
    /// The section's comment (opt_comment), when there is one: a fuzz-host reproducer says
    /// there which case, seed and finding it holds.
    public var comment: String? = nil

    public init(records: [CaptureRecord] = []) { self.records = records }

    static let shbType: UInt32 = 0x0A0D_0D0A
    static let idbType: UInt32 = 1
    static let epbType: UInt32 = 6
    static let byteOrderMagic: UInt32 = 0x1A2B_3C4D
    /// A block larger than this is refused before anything is allocated for it.
    public static let maxBlock = 64 << 20

    // MARK: writing

    public func pcapng(application: String = "hvblob") -> [UInt8] {
        var w = WireWriter(capacity: 256 + records.count * 128)
        func option(_ code: UInt16, _ value: [UInt8]) -> [UInt8] {
            var o = WireWriter(capacity: 4 + value.count + 3)
            o.u16(code); o.u16(UInt16(value.count)); o.bytes(value); o.pad(to: 4)
            return o.bytes
        }
        func block(_ type: UInt32, _ body: [UInt8]) {
            let total = UInt32(12 + body.count)
            w.u32(type); w.u32(total); w.bytes(body); w.u32(total)
        }
        var shb = WireWriter(capacity: 64)
        shb.u32(Capture.byteOrderMagic); shb.u16(1); shb.u16(0); shb.u64(UInt64.max)
        if let comment { shb.bytes(option(1, Array(comment.utf8))) }
        shb.bytes(option(4, Array(application.utf8)))
        shb.bytes(option(0, []))
        block(Capture.shbType, shb.bytes)
        var idb = WireWriter(capacity: 64)
        idb.u16(CaptureRecord.linkType); idb.u16(0); idb.u32(0)
        idb.bytes(option(2, Array("vmbus:azure_blob".utf8)))
        idb.bytes(option(9, [3]))
        idb.bytes(option(0, []))
        block(Capture.idbType, idb.bytes)
        for r in records {
            let data = r.encoded()
            var epb = WireWriter(capacity: 20 + data.count + 3)
            epb.u32(0); epb.u32(UInt32(truncatingIfNeeded: r.time >> 32)); epb.u32(UInt32(truncatingIfNeeded: r.time))
            epb.u32(UInt32(data.count)); epb.u32(UInt32(data.count))
            epb.bytes(data); epb.pad(to: 4)
            block(Capture.epbType, epb.bytes)
        }
        return w.bytes
    }

    // MARK: reading

    /// Parses a pcapng file. Only little-endian sections and the hvblob link type are accepted;
    /// other block types (name resolution, statistics, custom) are skipped. Every error names
    /// the byte offset where the bad block or field starts.
    public static func parse(_ bytes: [UInt8]) throws(CaptureError) -> Capture {
        var capture = Capture()
        var at = 0
        var sawSection = false
        var interfaces: [(linkType: UInt16, tsDivisor: UInt64, tsMultiplier: UInt64)] = []
        func u16(_ o: Int) -> UInt16 { UInt16(bytes[o]) | UInt16(bytes[o + 1]) << 8 }
        func u32(_ o: Int) -> UInt32 { bytes.u32(o) }
        while at < bytes.count {
            guard bytes.count - at >= 12 else {
                throw CaptureError(.truncated, offset: at, "a block needs at least 12 bytes, \(bytes.count - at) left")
            }
            let type = u32(at)
            if type == shbType {
                let bom = u32(at + 8)
                if bom == 0x4D3C_2B1A {
                    throw CaptureError(.unsupported, offset: at + 8, "big-endian section (hvblob writes and reads little-endian pcapng)")
                }
                guard bom == byteOrderMagic else {
                    throw CaptureError(.badMagic, offset: at + 8, "byte-order magic 0x\(String(bom, radix: 16)), expected 0x1a2b3c4d")
                }
            } else if !sawSection {
                throw CaptureError(.badMagic, offset: at, "block type 0x\(String(type, radix: 16)) before any Section Header Block (not a pcapng file?)")
            }
            let length = Int(u32(at + 4))
            guard length >= 12, length % 4 == 0, length <= maxBlock else {
                throw CaptureError(.badBlockLength, offset: at + 4, "block total length \(length) (must be a multiple of 4, 12...\(maxBlock))")
            }
            guard length <= bytes.count - at else {
                throw CaptureError(.truncated, offset: at + 4, "block of \(length) bytes, \(bytes.count - at) left in the file")
            }
            guard Int(u32(at + length - 4)) == length else {
                throw CaptureError(.badBlockLength, offset: at + length - 4,
                                   "trailing block length \(u32(at + length - 4)) differs from the leading \(length)")
            }
            let body = at + 8, bodyEnd = at + length - 4
            switch type {
            case shbType:
                guard bodyEnd - body >= 16 else {
                    throw CaptureError(.truncated, offset: body, "section header body needs 16 bytes")
                }
                guard u16(body + 4) == 1 else {
                    throw CaptureError(.unsupported, offset: body + 4, "pcapng major version \(u16(body + 4)), expected 1")
                }
                sawSection = true
                interfaces = []
                let opts = try options(bytes, from: body + 16, to: bodyEnd)
                if let app = opts[4] { capture.application = String(decoding: app, as: UTF8.self) }
                if let c = opts[1] { capture.comment = String(decoding: c, as: UTF8.self) }
            case idbType:
                guard bodyEnd - body >= 8 else {
                    throw CaptureError(.truncated, offset: body, "interface description body needs 8 bytes")
                }
                let link = u16(body)
                let opts = try options(bytes, from: body + 8, to: bodyEnd)
                // Record times are milliseconds; pcapng's default resolution is microseconds.
                var resolution = 6
                if let r = opts[9] {
                    guard r.count == 1, r[0] & 0x80 == 0, r[0] <= 9 else {
                        throw CaptureError(.unsupported, offset: body + 8, "if_tsresol \(r) (only powers of ten, seconds to nanoseconds)")
                    }
                    resolution = Int(r[0])
                }
                var divisor: UInt64 = 1, multiplier: UInt64 = 1
                for _ in 0..<Swift.max(0, resolution - 3) { divisor *= 10 }
                for _ in 0..<Swift.max(0, 3 - resolution) { multiplier *= 10 }
                interfaces.append((link, divisor, multiplier))
            case epbType:
                guard bodyEnd - body >= 20 else {
                    throw CaptureError(.truncated, offset: body, "enhanced packet body needs 20 bytes")
                }
                let iface = Int(u32(body))
                guard iface < interfaces.count else {
                    throw CaptureError(.badInterface, offset: body, "interface \(iface) but \(interfaces.count) described")
                }
                guard interfaces[iface].linkType == CaptureRecord.linkType else {
                    throw CaptureError(.badLinkType, offset: body, "interface \(iface) has link type \(interfaces[iface].linkType), expected \(CaptureRecord.linkType) (hvblob records)")
                }
                let ts = (UInt64(u32(body + 4)) << 32 | UInt64(u32(body + 8))) / interfaces[iface].tsDivisor &* interfaces[iface].tsMultiplier
                let captured = Int(u32(body + 12))
                guard captured <= bodyEnd - (body + 20) else {
                    throw CaptureError(.truncated, offset: body + 12, "captured length \(captured) but the block holds \(bodyEnd - body - 20)")
                }
                let original = Int(u32(body + 16))
                guard original == captured else {
                    throw CaptureError(.badRecord, offset: body + 16, "record cut short: \(captured) of \(original) bytes captured")
                }
                let record = try CaptureRecord.decode(bytes[(body + 20)..<(body + 20 + captured)], time: ts, base: body + 20)
                capture.records.append(record)
                capture.offsets.append(at)
            default:
                break
            }
            at += length
        }
        guard sawSection else { throw CaptureError(.truncated, offset: 0, "empty file: no Section Header Block") }
        return capture
    }

    /// Options (code, length, value padded to 4) up to opt_endofopt or the block end.
    static func options(_ bytes: [UInt8], from: Int, to end: Int) throws(CaptureError) -> [UInt16: [UInt8]] {
        var out: [UInt16: [UInt8]] = [:]
        var o = from
        while o < end {
            guard end - o >= 4 else { throw CaptureError(.truncated, offset: o, "option header needs 4 bytes, \(end - o) left in the block") }
            let code = UInt16(bytes[o]) | UInt16(bytes[o + 1]) << 8
            let len = Int(UInt16(bytes[o + 2]) | UInt16(bytes[o + 3]) << 8)
            if code == 0 { break }
            let padded = (len + 3) & ~3
            guard padded <= end - o - 4 else {
                throw CaptureError(.truncated, offset: o + 2, "option \(code) of \(len) bytes runs past the block end")
            }
            out[code] = Array(bytes[(o + 4)..<(o + 4 + len)])
            o += 4 + padded
        }
        return out
    }
}
