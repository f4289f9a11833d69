// SPDX-License-Identifier: Apache-2.0

/// `struct az_blob_request_sync` (uapi, 72 bytes): what user space hands the ioctl.
/// Offset 36 is implicit padding before the `__aligned_u64` fields; it is kept so that a
/// decode/encode round trip is byte-exact.
public struct AzBlobRequestSync: WireStruct, Hashable {
    public var guid: GUID
    public var timeout: UInt32
    public var requestLen: UInt32
    public var responseLen: UInt32
    public var dataLen: UInt32
    public var dataValid: UInt32
    public var padding: UInt32
    public var requestBuffer: UInt64
    public var responseBuffer: UInt64
    public var dataBuffer: UInt64
    /// `response.status`, written back by the driver.
    public var responseStatus: UInt32
    /// `response.response_len`, written back by the driver.
    public var responseResponseLen: UInt32

    public init(guid: GUID = .zero, timeout: UInt32 = 0, requestLen: UInt32 = 0, responseLen: UInt32 = 0,
                dataLen: UInt32 = 0, dataValid: UInt32 = 0, requestBuffer: UInt64 = 0, responseBuffer: UInt64 = 0,
                dataBuffer: UInt64 = 0, responseStatus: UInt32 = 0, responseResponseLen: UInt32 = 0, padding: UInt32 = 0) {
        self.guid = guid
        self.timeout = timeout
        self.requestLen = requestLen
        self.responseLen = responseLen
        self.dataLen = dataLen
        self.dataValid = dataValid
        self.padding = padding
        self.requestBuffer = requestBuffer
        self.responseBuffer = responseBuffer
        self.dataBuffer = dataBuffer
        self.responseStatus = responseStatus
        self.responseResponseLen = responseResponseLen
    }

    public static let wireName = "az_blob_request_sync"
    public static let wireSize = 72
    public static let fields: [WireField] = [
        WireField("guid", 0, 16), WireField("timeout", 16, 4), WireField("request_len", 20, 4),
        WireField("response_len", 24, 4), WireField("data_len", 28, 4), WireField("data_valid", 32, 4),
        WireField("(padding)", 36, 4), WireField("request_buffer", 40, 8), WireField("response_buffer", 48, 8),
        WireField("data_buffer", 56, 8), WireField("response.status", 64, 4), WireField("response.response_len", 68, 4),
    ]
    /// Where the driver copies `response` back to (copy_to_user(&request_user->response, ...)).
    public static let responseOffset = 64
    public static let responseSize = 8

    public init(from r: inout WireReader) throws(WireError) {
        guid = try r.guid("guid")
        timeout = try r.u32("timeout")
        requestLen = try r.u32("request_len")
        responseLen = try r.u32("response_len")
        dataLen = try r.u32("data_len")
        dataValid = try r.u32("data_valid")
        padding = try r.u32("(padding)")
        requestBuffer = try r.u64("request_buffer")
        responseBuffer = try r.u64("response_buffer")
        dataBuffer = try r.u64("data_buffer")
        responseStatus = try r.u32("response.status")
        responseResponseLen = try r.u32("response.response_len")
    }

    public func encode(into w: inout WireWriter) {
        w.guid(guid); w.u32(timeout); w.u32(requestLen); w.u32(responseLen); w.u32(dataLen); w.u32(dataValid)
        w.u32(padding); w.u64(requestBuffer); w.u64(responseBuffer); w.u64(dataBuffer)
        w.u32(responseStatus); w.u32(responseResponseLen)
    }

    public var fieldValues: [String] {
        [guid.description, "\(timeout)", "\(requestLen)", "\(responseLen)", "\(dataLen)", "\(dataValid)",
         "\(padding)", hex64(requestBuffer), hex64(responseBuffer), hex64(dataBuffer), "\(responseStatus)",
         "\(responseResponseLen)"]
    }
}

@inline(__always) func hex64(_ v: UInt64) -> String { "0x" + String(v, radix: 16) }
