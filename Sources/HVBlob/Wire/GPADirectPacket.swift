// SPDX-License-Identifier: Apache-2.0

/// The packet `vmbus_sendpacket_mpb_desc()` puts in the ring: the packed
/// `struct vmbus_packet_mpb_array` (32 bytes + 8 per PFN) with ONE range, then the in-band
/// `az_blob_vsp_request`, then zero padding to 8 bytes.
///
///     off  size  field
///       0     2  type          9 = VM_PKT_DATA_USING_GPA_DIRECT
///       2     2  dataoffset8   desc_size / 8, desc_size = 32 + 8 * pfns
///       4     2  length8       ALIGN(desc_size + payload, 8) / 8
///       6     2  flags         1 = completion requested
///       8     8  transactionid the request id (written by the ring writer)
///      16     4  reserved
///      20     4  rangecount    1
///      24     4  range.len     pages * 4096
///      28     4  range.offset  0
///      32   8*n  range.pfn_array
public struct GPADirectPacket: Hashable, Sendable {
    public var type: PacketType = .dataUsingGPADirect
    public var dataOffset8: UInt16
    public var length8: UInt16
    public var flags: UInt16 = PacketFlags.completionRequested
    public var transactionId: UInt64
    public var reserved: UInt32 = 0
    public var rangeCount: UInt32 = 1
    public var rangeLen: UInt32
    public var rangeOffset: UInt32 = 0
    public var pfns: PFNList
    public var request: VSPRequest
    /// Bytes between the end of the payload and len8*8 (zero padding in a correct packet).
    public var trailingPadding: [UInt8]

    public static let headerSize = 32
    public static let structure = "vmbus_packet_mpb_array"

    /// Builds the packet exactly as `vmbus_sendpacket_mpb_desc()` does.
    public init<S: Sequence>(pfns: S, request: VSPRequest, transactionId: UInt64 = 0) where S.Element == UInt64 {
        let pfns = pfns as? PFNList ?? PFNList(pfns)
        let descSize = GPADirectPacket.headerSize + 8 * pfns.count
        let packetLen = descSize + VSPRequest.wireSize
        let aligned = (packetLen + 7) & ~7
        self.dataOffset8 = UInt16(truncatingIfNeeded: descSize >> 3)
        self.length8 = UInt16(truncatingIfNeeded: aligned >> 3)
        self.transactionId = transactionId
        self.rangeLen = UInt32(truncatingIfNeeded: pfns.count * AzBlob.pageSize)
        self.pfns = pfns
        self.request = request
        self.trailingPadding = [UInt8](repeating: 0, count: aligned - packetLen)
    }

    public var descriptorSize: Int { GPADirectPacket.headerSize + 8 * pfns.count }

    /// What `GPADirectPacket(pfns: a + b + c, request: request).encoded()` is, written without
    /// building the PFN list (the driver's request path: data, request, response pages).
    public static func encoded<A: Collection, B: Collection, C: Collection>(pfns a: A, _ b: B, _ c: C, request: VSPRequest) -> [UInt8]
    where A.Element == UInt64, B.Element == UInt64, C.Element == UInt64 {
        var bytes: [UInt8] = []
        encode(pfns: a, b, c, request: request, into: &bytes)
        return bytes
    }

    /// The same, written into `storage` (its buffer reused when no one else holds it).
    public static func encode<A: Collection, B: Collection, C: Collection>(pfns a: A, _ b: B, _ c: C, request: VSPRequest,
                                                                       into storage: inout [UInt8])
    where A.Element == UInt64, B.Element == UInt64, C.Element == UInt64 {
        let n = a.count + b.count + c.count
        let descSize = headerSize + 8 * n
        let packetLen = descSize + VSPRequest.wireSize
        let aligned = (packetLen + 7) & ~7
        var w = WireWriter(taking: &storage)
        w.reserveCapacity(aligned)
        w.u16(PacketType.dataUsingGPADirect.rawValue); w.u16(UInt16(truncatingIfNeeded: descSize >> 3))
        w.u16(UInt16(truncatingIfNeeded: aligned >> 3)); w.u16(PacketFlags.completionRequested); w.u64(0)
        w.u32(0); w.u32(1); w.u32(UInt32(truncatingIfNeeded: n * AzBlob.pageSize)); w.u32(0)
        for p in a { w.u64(p) }
        for p in b { w.u64(p) }
        for p in c { w.u64(p) }
        request.encode(into: &w)
        w.zeros(aligned - packetLen)
        w.give(to: &storage)
    }

    public func encoded() -> [UInt8] {
        var w = WireWriter(capacity: descriptorSize + VSPRequest.wireSize + 8)
        encode(into: &w)
        return w.bytes
    }

    public func encode(into w: inout WireWriter) {
        w.u16(type.rawValue); w.u16(dataOffset8); w.u16(length8); w.u16(flags); w.u64(transactionId)
        w.u32(reserved); w.u32(rangeCount); w.u32(rangeLen); w.u32(rangeOffset)
        for p in pfns { w.u64(p) }
        request.encode(into: &w)
        w.bytes(trailingPadding)
    }

    /// Decodes a whole packet as it sits in the ring (len8*8 bytes, trailer excluded). The PFN
    /// count is taken from dataoffset8 (the descriptor's own size), and every length is checked
    /// against the bytes present before it is used.
    public static func decode(_ bytes: [UInt8], base: Int = 0) throws(WireError) -> GPADirectPacket {
        var r = WireReader(bytes, structure: structure, base: base)
        let type = PacketType(rawValue: try r.u16("type"))
        let dataOffset8 = try r.u16("dataoffset8")
        let length8 = try r.u16("length8")
        let flags = try r.u16("flags")
        let transactionId = try r.u64("transactionid")
        let reserved = try r.u32("reserved")
        let rangeCount = try r.u32("rangecount")
        let rangeLen = try r.u32("range.len")
        let rangeOffset = try r.u32("range.offset")
        let descSize = Int(dataOffset8) * 8
        if descSize < headerSize || (descSize - headerSize) % 8 != 0 {
            throw WireError(.badValue, structure: structure, field: "dataoffset8", offset: base + 2,
                            needed: headerSize, available: descSize)
        }
        let packetLen = Int(length8) * 8
        if packetLen > bytes.count {
            throw WireError(.truncated, structure: structure, field: "length8", offset: base + 4,
                            needed: packetLen, available: bytes.count)
        }
        if packetLen < descSize + VSPRequest.wireSize {
            throw WireError(.badValue, structure: structure, field: "length8", offset: base + 4,
                            needed: descSize + VSPRequest.wireSize, available: packetLen)
        }
        let n = (descSize - headerSize) / 8
        // length8 covers the descriptor and the payload (checked above), so no PFN read can
        // run short: read them without naming each one.
        var pfns = PFNList()
        pfns.reserveCapacity(n)
        bytes.withUnsafeBytes { raw in
            for i in 0..<n { pfns.append(UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: headerSize + 8 * i, as: UInt64.self))) }
        }
        try r.skip(8 * n, "range.pfn_array")
        r.structure = VSPRequest.wireName
        let request = try VSPRequest(from: &r)
        let padding = try r.bytes(packetLen - r.offset, "padding")
        if r.offset != bytes.count {
            throw WireError(.trailingBytes, structure: structure, field: "", offset: base + r.offset, available: bytes.count)
        }
        var p = GPADirectPacket(pfns: pfns, request: request, transactionId: transactionId)
        p.type = type; p.dataOffset8 = dataOffset8; p.length8 = length8; p.flags = flags
        p.reserved = reserved; p.rangeCount = rangeCount; p.rangeLen = rangeLen; p.rangeOffset = rangeOffset
        p.trailingPadding = padding
        return p
    }

    /// One line per field with its byte offset, for `hvblob decode`.
    public var fieldLines: [(WireField, String)] {
        var out: [(WireField, String)] = [
            (WireField("type", 0, 2), type.description),
            (WireField("dataoffset8", 2, 2), "\(dataOffset8) (\(Int(dataOffset8) * 8) bytes)"),
            (WireField("length8", 4, 2), "\(length8) (\(Int(length8) * 8) bytes)"),
            (WireField("flags", 6, 2), "0x\(String(flags, radix: 16))"),
            (WireField("transactionid", 8, 8), "\(transactionId)"),
            (WireField("reserved", 16, 4), "\(reserved)"),
            (WireField("rangecount", 20, 4), "\(rangeCount)"),
            (WireField("range.len", 24, 4), "\(rangeLen) (\(rangeLen / 4096) pages)"),
            (WireField("range.offset", 28, 4), "\(rangeOffset)"),
        ]
        for (i, p) in pfns.enumerated() {
            out.append((WireField("range.pfn_array[\(i)]", 32 + 8 * i, 8), hex64(p)))
        }
        let base = descriptorSize
        for (f, v) in zip(VSPRequest.fields, request.fieldValues) {
            out.append((WireField("request." + f.name, base + f.offset, f.size), v))
        }
        if !trailingPadding.isEmpty {
            out.append((WireField("(padding)", base + VSPRequest.wireSize, trailingPadding.count), Hex.encode(trailingPadding)))
        }
        return out
    }
}

/// A completion packet (VM_PKT_COMP) as the VSP sends it: a 16-byte descriptor with
/// offset8 = 2, the 12-byte `az_blob_vsp_response`, padding to 8 (len8 = 4).
public struct CompletionPacket: Hashable, Sendable {
    public var descriptor: PacketDescriptor
    public var payload: [UInt8]

    public init(requestId: UInt64, response: VSPResponse) {
        let len = (PacketDescriptor.wireSize + VSPResponse.wireSize + 7) & ~7
        self.descriptor = PacketDescriptor(type: .completion, offset8: UInt16(PacketDescriptor.wireSize / 8),
                                           len8: UInt16(len / 8), flags: 0, transId: requestId)
        // One array, sized once: the response and its padding to the packet's 8-byte length.
        var w = WireWriter(capacity: len - PacketDescriptor.wireSize)
        response.encode(into: &w)
        w.zeros(len - PacketDescriptor.wireSize - w.bytes.count)
        self.payload = w.bytes
    }

    /// `CompletionPacket(requestId:response:).encoded()`, written into `storage` (its buffer
    /// reused: the host answers every request with one).
    public static func encode(requestId: UInt64, response: VSPResponse, into storage: inout [UInt8]) {
        let len = (PacketDescriptor.wireSize + VSPResponse.wireSize + 7) & ~7
        var w = WireWriter(taking: &storage)
        PacketDescriptor(type: .completion, offset8: UInt16(PacketDescriptor.wireSize / 8), len8: UInt16(len / 8),
                         flags: 0, transId: requestId).encode(into: &w)
        response.encode(into: &w)
        w.zeros(len - w.bytes.count)
        w.give(to: &storage)
    }

    /// A packet with an arbitrary header and payload (hostile-host modes build these).
    public init(descriptor: PacketDescriptor, payload: [UInt8]) {
        self.descriptor = descriptor
        self.payload = payload
    }

    public func encoded() -> [UInt8] {
        var w = WireWriter(capacity: 16 + payload.count)
        descriptor.encode(into: &w)
        w.bytes(payload)
        return w.bytes
    }
}
