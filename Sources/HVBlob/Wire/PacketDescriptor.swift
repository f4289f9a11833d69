// SPDX-License-Identifier: Apache-2.0

/// `struct vmpacket_descriptor` (16 bytes): the header of every VMBus packet in a ring.
/// `offset8` and `len8` count 8-byte units from the start of the packet; `len8` excludes the
/// 8-byte trailer the ring adds.
public struct PacketDescriptor: WireStruct, Hashable {
    public var type: PacketType
    public var offset8: UInt16
    public var len8: UInt16
    public var flags: UInt16
    public var transId: UInt64

    public init(type: PacketType, offset8: UInt16, len8: UInt16, flags: UInt16, transId: UInt64) {
        self.type = type
        self.offset8 = offset8
        self.len8 = len8
        self.flags = flags
        self.transId = transId
    }

    public static let wireName = "vmpacket_descriptor"
    public static let wireSize = 16
    public static let fields: [WireField] = [
        WireField("type", 0, 2), WireField("offset8", 2, 2), WireField("len8", 4, 2),
        WireField("flags", 6, 2), WireField("trans_id", 8, 8),
    ]
    /// Where trans_id sits: the ring writer stores the request id here after copying the packet.
    public static let transIdOffset = 8

    public init(from r: inout WireReader) throws(WireError) {
        type = PacketType(rawValue: try r.u16("type"))
        offset8 = try r.u16("offset8")
        len8 = try r.u16("len8")
        flags = try r.u16("flags")
        transId = try r.u64("trans_id")
    }

    public func encode(into w: inout WireWriter) {
        w.u16(type.rawValue); w.u16(offset8); w.u16(len8); w.u16(flags); w.u64(transId)
    }

    /// hv_pkt_datalen(): payload bytes = len8*8 - offset8*8 (may be negative for a hostile packet).
    public var dataLength: Int { Int(len8) * 8 - Int(offset8) * 8 }
    public var packetLength: Int { Int(len8) * 8 }

    public var fieldValues: [String] {
        [type.description, "\(offset8) (\(Int(offset8) * 8) bytes)", "\(len8) (\(Int(len8) * 8) bytes)",
         "0x\(String(flags, radix: 16))", "\(transId)"]
    }
}
