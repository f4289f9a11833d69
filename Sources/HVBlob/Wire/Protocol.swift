// SPDX-License-Identifier: Apache-2.0

/// Every protocol number lives here once. Sources: the posted v5 patch (seed), Linux's
/// `include/linux/hyperv.h` (checked against the real header in the test suite), PROTOCOL.md.
public enum AzBlob {
    public static let pageSize = 4096
    public static let pageShift = 12
    /// AZ_BLOB_MAX_PAGES: most pages in one request, all three buffers together (32 MiB).
    public static let maxPages = 8192
    /// AZ_BLOB_RING_SIZE: each direction, header page included.
    public static let ringSize = 128 * 1024
    /// AZ_BLOB_QUEUE_DEPTH: request-id table size (channel->rqstor_size).
    public static let queueDepth = 1024
    /// VSP_PROTOCOL_VERSION_V1.
    public static let protocolVersion: UInt32 = 0
    /// HV_AZURE_BLOB_GUID {0590b792-db64-45cc-81db-b8d70c577c9e}.
    public static let deviceClassGUID = GUID(0x0590_b792, 0xdb64, 0x45cc, [0x81, 0xdb, 0xb8, 0xd7, 0x0c, 0x57, 0x7c, 0x9e])
    /// The misc device node.
    public static let deviceNode = "/dev/azure_blob"
    /// AZ_BLOB_MAGIC_NUMBER.
    public static let ioctlMagic = UInt8(ascii: "R")
    public static let ioctlNumber: UInt8 = 0xF0

    /// Pages spanned by `length` bytes that start `offset` bytes into a page.
    @inline(__always)
    public static func pagesSpanned(offset: Int, length: Int) -> Int {
        (offset + length + pageSize - 1) >> pageShift
    }
}

/// `enum az_blob_vsp_request_type`: open, because the operation field is a u32 on the wire and a
/// guest under test may put anything there.
public struct VSPOperation: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    public static let userRequest = VSPOperation(rawValue: 0x100)
    public static let registerBuffer = VSPOperation(rawValue: 0x101)
    public static let deregisterBuffer = VSPOperation(rawValue: 0x102)
    public var description: String {
        switch self {
        case .userRequest: return "AZ_BLOB_DRIVER_USER_REQUEST"
        case .registerBuffer: return "AZ_BLOB_DRIVER_REGISTER_BUFFER"
        case .deregisterBuffer: return "AZ_BLOB_DRIVER_DEREGISTER_BUFFER"
        default: return "unknown(0x\(String(rawValue, radix: 16)))"
        }
    }
}

/// `enum vmbus_packet_type` from hyperv.h. Open: the host may send any u16.
public struct PacketType: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }
    public static let invalid = PacketType(rawValue: 0x0)
    public static let synch = PacketType(rawValue: 0x1)
    public static let addTransferPageSet = PacketType(rawValue: 0x2)
    public static let removeTransferPageSet = PacketType(rawValue: 0x3)
    public static let establishGPADL = PacketType(rawValue: 0x4)
    public static let teardownGPADL = PacketType(rawValue: 0x5)
    public static let dataInBand = PacketType(rawValue: 0x6)
    public static let dataUsingTransferPages = PacketType(rawValue: 0x7)
    public static let dataUsingGPADL = PacketType(rawValue: 0x8)
    public static let dataUsingGPADirect = PacketType(rawValue: 0x9)
    public static let cancelRequest = PacketType(rawValue: 0xa)
    public static let completion = PacketType(rawValue: 0xb)
    public static let dataUsingAdditionalPacket = PacketType(rawValue: 0xc)
    public static let additionalData = PacketType(rawValue: 0xd)

    static let names = [
        "VM_PKT_INVALID", "VM_PKT_SYNCH", "VM_PKT_ADD_XFER_PAGESET", "VM_PKT_RM_XFER_PAGESET",
        "VM_PKT_ESTABLISH_GPADL", "VM_PKT_TEARDOWN_GPADL", "VM_PKT_DATA_INBAND",
        "VM_PKT_DATA_USING_XFER_PAGES", "VM_PKT_DATA_USING_GPADL", "VM_PKT_DATA_USING_GPA_DIRECT",
        "VM_PKT_CANCEL_REQUEST", "VM_PKT_COMP", "VM_PKT_DATA_USING_ADDITIONAL_PKT", "VM_PKT_ADDITIONAL_DATA",
    ]
    public var description: String {
        Int(rawValue) < PacketType.names.count ? PacketType.names[Int(rawValue)] : "unknown(0x\(String(rawValue, radix: 16)))"
    }
}

/// vmpacket_descriptor.flags bits.
public enum PacketFlags {
    /// VMBUS_DATA_PACKET_FLAG_COMPLETION_REQUESTED.
    public static let completionRequested: UInt16 = 1
}

/// VMBus request-id sentinels (hyperv.h).
public enum RequestIdSentinel {
    /// VMBUS_NO_RQSTOR: the channel has no request-id table.
    public static let noRequestor: UInt64 = UInt64.max
    /// VMBUS_RQST_ERROR: table full on allocation, or an id that is not outstanding on lookup.
    public static let error: UInt64 = UInt64.max - 1
    /// VMBUS_RQST_ADDR_ANY: lookup frees the slot whatever it holds (Linux 6.1: U64_MAX, the
    /// same value as VMBUS_NO_RQSTOR).
    public static let addrAny: UInt64 = UInt64.max
    /// VMBUS_RQST_ID_NO_RESPONSE: a send that wants no completion (Linux ≥ 5.18).
    public static let idNoResponse: UInt64 = UInt64.max - 2
}

/// Status values a host puts in `az_blob_vsp_response.error`. Open: any u32 is possible.
public struct VSPStatus: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    public static let success = VSPStatus(rawValue: 0)
    /// NTSTATUS STATUS_INVALID_PARAMETER: the simulated VSP refused the packet.
    public static let invalidParameter = VSPStatus(rawValue: 0xC000_000D)
    /// NTSTATUS STATUS_UNSUCCESSFUL: the fault plan's "error status".
    public static let unsuccessful = VSPStatus(rawValue: 0xC000_0001)
    public var description: String {
        switch self {
        case .success: return "0"
        case .invalidParameter: return "0xc000000d(STATUS_INVALID_PARAMETER)"
        case .unsuccessful: return "0xc0000001(STATUS_UNSUCCESSFUL)"
        default: return "0x" + String(rawValue, radix: 16)
        }
    }
}
