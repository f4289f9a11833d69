// SPDX-License-Identifier: Apache-2.0

/// `struct az_blob_vsp_request` (packed, 56 bytes): the in-band payload after the MPB
/// descriptor. Offsets of the three buffers are relative to the start of the concatenated range
/// (data pages, then request pages, then response pages).
public struct VSPRequest: WireStruct, Hashable {
    public var version: UInt32
    public var timeoutMs: UInt32
    public var dataBufferOffset: UInt32
    public var dataBufferLength: UInt32
    public var dataBufferValid: UInt32
    public var operation: VSPOperation
    public var requestBufferOffset: UInt32
    public var requestBufferLength: UInt32
    public var responseBufferOffset: UInt32
    public var responseBufferLength: UInt32
    /// The caller's transaction GUID, verbatim.
    public var transactionId: GUID

    public init(version: UInt32 = AzBlob.protocolVersion, timeoutMs: UInt32 = 0, dataBufferOffset: UInt32 = 0,
                dataBufferLength: UInt32 = 0, dataBufferValid: UInt32 = 0, operation: VSPOperation = .userRequest,
                requestBufferOffset: UInt32 = 0, requestBufferLength: UInt32 = 0, responseBufferOffset: UInt32 = 0,
                responseBufferLength: UInt32 = 0, transactionId: GUID = .zero) {
        self.version = version
        self.timeoutMs = timeoutMs
        self.dataBufferOffset = dataBufferOffset
        self.dataBufferLength = dataBufferLength
        self.dataBufferValid = dataBufferValid
        self.operation = operation
        self.requestBufferOffset = requestBufferOffset
        self.requestBufferLength = requestBufferLength
        self.responseBufferOffset = responseBufferOffset
        self.responseBufferLength = responseBufferLength
        self.transactionId = transactionId
    }

    public static let wireName = "az_blob_vsp_request"
    public static let wireSize = 56
    public static let fields: [WireField] = [
        WireField("version", 0, 4), WireField("timeout_ms", 4, 4), WireField("data_buffer_offset", 8, 4),
        WireField("data_buffer_length", 12, 4), WireField("data_buffer_valid", 16, 4),
        WireField("operation_type", 20, 4), WireField("request_buffer_offset", 24, 4),
        WireField("request_buffer_length", 28, 4), WireField("response_buffer_offset", 32, 4),
        WireField("response_buffer_length", 36, 4), WireField("transaction_id", 40, 16),
    ]

    public init(from r: inout WireReader) throws(WireError) {
        version = try r.u32("version")
        timeoutMs = try r.u32("timeout_ms")
        dataBufferOffset = try r.u32("data_buffer_offset")
        dataBufferLength = try r.u32("data_buffer_length")
        dataBufferValid = try r.u32("data_buffer_valid")
        operation = VSPOperation(rawValue: try r.u32("operation_type"))
        requestBufferOffset = try r.u32("request_buffer_offset")
        requestBufferLength = try r.u32("request_buffer_length")
        responseBufferOffset = try r.u32("response_buffer_offset")
        responseBufferLength = try r.u32("response_buffer_length")
        transactionId = try r.guid("transaction_id")
    }

    public func encode(into w: inout WireWriter) {
        w.u32(version); w.u32(timeoutMs); w.u32(dataBufferOffset); w.u32(dataBufferLength); w.u32(dataBufferValid)
        w.u32(operation.rawValue); w.u32(requestBufferOffset); w.u32(requestBufferLength)
        w.u32(responseBufferOffset); w.u32(responseBufferLength); w.guid(transactionId)
    }

    public var fieldValues: [String] {
        ["\(version)", "\(timeoutMs)", "\(dataBufferOffset)", "\(dataBufferLength)", "\(dataBufferValid)",
         operation.description, "\(requestBufferOffset)", "\(requestBufferLength)", "\(responseBufferOffset)",
         "\(responseBufferLength)", transactionId.description]
    }
}

/// `struct az_blob_vsp_response` (packed, 12 bytes): the completion payload, host to guest.
/// `length`'s meaning is not public; the simulated VSP puts the structure size there.
public struct VSPResponse: WireStruct, Hashable {
    public var length: UInt32
    /// -> `response.status` of the ioctl.
    public var error: VSPStatus
    /// -> `response.response_len` of the ioctl (bounded by the caller's response_len in a
    /// correct guest).
    public var responseLen: UInt32

    public init(length: UInt32 = UInt32(VSPResponse.wireSize), error: VSPStatus = .success, responseLen: UInt32 = 0) {
        self.length = length
        self.error = error
        self.responseLen = responseLen
    }

    public static let wireName = "az_blob_vsp_response"
    public static let wireSize = 12
    public static let fields: [WireField] = [
        WireField("length", 0, 4), WireField("error", 4, 4), WireField("response_len", 8, 4),
    ]

    public init(from r: inout WireReader) throws(WireError) {
        length = try r.u32("length")
        error = VSPStatus(rawValue: try r.u32("error"))
        responseLen = try r.u32("response_len")
    }

    public func encode(into w: inout WireWriter) {
        w.u32(length); w.u32(error.rawValue); w.u32(responseLen)
    }

    public var fieldValues: [String] { ["\(length)", error.description, "\(responseLen)"] }
}
