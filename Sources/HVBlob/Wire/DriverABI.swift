// SPDX-License-Identifier: Apache-2.0

/// Where each field of the ioctl's request struct sits, in one driver's own uapi layout. The
/// reference layout is PROTOCOL.md's 72-byte `struct az_blob_request_sync`; a driver revision
/// may differ (the first posted revision has no `data_valid` and is 64 bytes), and the harness
/// lays requests out the way the driver under test reads them.
public struct RequestLayout: Hashable, Sendable, CustomStringConvertible {
    /// The struct's C name (`az_blob_request_sync`, `xs_fastpath_request_sync`, ...).
    public var structName: String
    public var size: Int
    public var guid: Int
    public var timeout: Int
    public var requestLen: Int
    public var responseLen: Int
    public var dataLen: Int
    /// nil: the struct has no `data_valid` (user space cannot say how much of the data is valid).
    public var dataValid: Int?
    public var requestBuffer: Int
    public var responseBuffer: Int
    public var dataBuffer: Int
    /// `response.status`, written back by the driver.
    public var responseStatus: Int
    /// `response.response_len`, written back by the driver.
    public var responseResponseLen: Int

    public init(structName: String, size: Int, guid: Int, timeout: Int, requestLen: Int, responseLen: Int,
                dataLen: Int, dataValid: Int?, requestBuffer: Int, responseBuffer: Int, dataBuffer: Int,
                responseStatus: Int, responseResponseLen: Int) {
        self.structName = structName
        self.size = size
        self.guid = guid
        self.timeout = timeout
        self.requestLen = requestLen
        self.responseLen = responseLen
        self.dataLen = dataLen
        self.dataValid = dataValid
        self.requestBuffer = requestBuffer
        self.responseBuffer = responseBuffer
        self.dataBuffer = dataBuffer
        self.responseStatus = responseStatus
        self.responseResponseLen = responseResponseLen
    }

    /// PROTOCOL.md section 1: `struct az_blob_request_sync`, 72 bytes.
    public static let reference = RequestLayout(
        structName: AzBlobRequestSync.wireName, size: AzBlobRequestSync.wireSize, guid: 0, timeout: 16, requestLen: 20,
        responseLen: 24, dataLen: 28, dataValid: 32, requestBuffer: 40, responseBuffer: 48, dataBuffer: 56,
        responseStatus: 64, responseResponseLen: 68)

    /// Every field, as (uapi name, offset, size), in offset order.
    public var fields: [WireField] {
        var f: [WireField] = [
            WireField("guid", guid, 16), WireField("timeout", timeout, 4), WireField("request_len", requestLen, 4),
            WireField("response_len", responseLen, 4), WireField("data_len", dataLen, 4),
            WireField("request_buffer", requestBuffer, 8), WireField("response_buffer", responseBuffer, 8),
            WireField("data_buffer", dataBuffer, 8), WireField("response.status", responseStatus, 4),
            WireField("response.response_len", responseResponseLen, 4),
        ]
        if let dataValid { f.append(WireField("data_valid", dataValid, 4)) }
        return f.sorted { $0.offset < $1.offset }
    }

    /// Where the driver copies `response` back to.
    public var responseOffset: Int { min(responseStatus, responseResponseLen) }

    /// The fields whose offset differs from `other`'s, and a size difference, as text; empty
    /// when the two layouts agree.
    public func differences(from other: RequestLayout) -> [String] {
        var out: [String] = []
        if size != other.size { out.append("sizeof \(size) (reference \(other.size))") }
        let mine = Dictionary(uniqueKeysWithValues: fields.map { ($0.name, $0.offset) })
        for f in other.fields {
            if let o = mine[f.name] {
                if o != f.offset { out.append("\(f.name) at \(o) (reference \(f.offset))") }
            } else {
                out.append("no \(f.name) (reference has it at \(f.offset))")
            }
        }
        return out
    }

    /// The request in this layout: `size` bytes. A field the layout lacks (data_valid) is not
    /// written; padding stays zero.
    public func encode(_ r: AzBlobRequestSync) -> [UInt8] {
        var b = [UInt8](repeating: 0, count: size)
        func put(_ v: UInt64, _ at: Int, _ n: Int) {
            for i in 0..<n where at + i < size { b[at + i] = UInt8(truncatingIfNeeded: v >> (8 * i)) }
        }
        for (i, byte) in r.guid.bytes.enumerated() where guid + i < size { b[guid + i] = byte }
        put(UInt64(r.timeout), timeout, 4)
        put(UInt64(r.requestLen), requestLen, 4)
        put(UInt64(r.responseLen), responseLen, 4)
        put(UInt64(r.dataLen), dataLen, 4)
        if let dataValid { put(UInt64(r.dataValid), dataValid, 4) }
        put(r.requestBuffer, requestBuffer, 8)
        put(r.responseBuffer, responseBuffer, 8)
        put(r.dataBuffer, dataBuffer, 8)
        put(UInt64(r.responseStatus), responseStatus, 4)
        put(UInt64(r.responseResponseLen), responseResponseLen, 4)
        return b
    }

    /// Reads a request laid out this way (fields the layout lacks read as 0).
    public func decode(_ b: [UInt8]) throws(WireError) -> AzBlobRequestSync {
        guard b.count >= size else {
            throw WireError(.truncated, structure: structName, field: "(whole)", offset: 0, needed: size, available: b.count)
        }
        func get(_ at: Int, _ n: Int) -> UInt64 {
            (0..<n).reduce(0) { $0 | UInt64(b[at + $1]) << (8 * $1) }
        }
        return AzBlobRequestSync(
            guid: GUID(bytes: Array(b[guid..<guid + 16])), timeout: UInt32(get(timeout, 4)),
            requestLen: UInt32(get(requestLen, 4)), responseLen: UInt32(get(responseLen, 4)),
            dataLen: UInt32(get(dataLen, 4)), dataValid: dataValid.map { UInt32(get($0, 4)) } ?? 0,
            requestBuffer: get(requestBuffer, 8), responseBuffer: get(responseBuffer, 8), dataBuffer: get(dataBuffer, 8),
            responseStatus: UInt32(get(responseStatus, 4)), responseResponseLen: UInt32(get(responseResponseLen, 4)))
    }

    public var description: String {
        "struct \(structName): sizeof \(size); " + fields.map { "\($0.name)@\($0.offset)" }.joined(separator: " ")
    }
}

/// What user space must know to talk to one driver: its ioctl command, the layout of its
/// request struct, the misc device name and the device class GUID in its id table. For a C
/// driver every value is read from the driver's own headers and code (a probe compiled with
/// them, its id table, its misc registration); the Swift model speaks the reference ABI.
public struct DriverABI: Hashable, Sendable, CustomStringConvertible {
    /// One ioctl command the driver's headers define.
    public struct Command: Hashable, Sendable {
        public var name: String
        public var value: IoctlCommand
        public init(name: String, value: IoctlCommand) {
            self.name = name
            self.value = value
        }
    }

    /// The command that carries a request (the one whose size is the request struct's).
    public var request: Command
    /// Every ioctl command the driver's headers define (the request's included).
    public var commands: [Command]
    public var layout: RequestLayout
    /// The header the ABI was read from.
    public var header: String
    /// Set when the driver's own headers define no ioctl command the probe could read: the
    /// harness then speaks the reference ABI and `uapi.ioctl-number` fails with this reason.
    public var unread: String? = nil
    /// Kernel options the driver's sources test (`#ifdef CONFIG_DEBUG_FS`, IS_ENABLED(...)) that
    /// hvblob can turn off, each with nil when the driver still builds without it, else the first
    /// compiler error. Empty for the Swift model (and for a driver that tests none). A build
    /// fact, not an ABI one, but read from the same sources at the same time.
    public var optionalConfigs: [String: String?] = [:]
    /// Whether the driver's file_operations name a .compat_ioctl (32-bit processes reach the
    /// ioctl); nil where nothing was read (the Swift model).
    public var compatIoctl: Bool? = nil
    /// How user space fares with `header`; nil where nothing was checked (the Swift model).
    public var userHeader: UserHeader? = nil

    /// What compiling the ABI's header as user space would (after `make headers_install`) says.
    public enum UserHeader: Hashable, Sendable {
        /// A uapi header that compiles on its own, the command and struct usable.
        case selfContained
        /// The command or struct is defined in a header outside include/uapi: user space has none.
        case kernelInternal
        /// A uapi header that does not compile on its own: the compiler's first errors.
        case broken([String])
    }

    public init(request: Command, commands: [Command], layout: RequestLayout, header: String) {
        self.request = request
        self.commands = commands
        self.layout = layout
        self.header = header
    }

    public var command: IoctlCommand { request.value }

    /// PROTOCOL.md: `IOCTL_AZ_BLOB_DRIVER_USER_REQUEST` = 0xC04852F0 over the 72-byte struct.
    public static let reference = DriverABI(
        request: Command(name: "IOCTL_AZ_BLOB_DRIVER_USER_REQUEST", value: .azBlobUserRequest),
        commands: [Command(name: "IOCTL_AZ_BLOB_DRIVER_USER_REQUEST", value: .azBlobUserRequest)],
        layout: .reference, header: "PROTOCOL.md section 1")

    /// Commands that this driver must refuse with EINVAL: a neighbour number, the other
    /// direction, zero, and the reference command when the driver's differs.
    public var unknownCommands: [IoctlCommand] {
        let c = command.rawValue
        var out: [UInt32] = [c ^ 0x01, (c & 0x3FFF_FFFF) | 0x8000_0000, 0]
        if c != IoctlCommand.azBlobUserRequest.rawValue { out.append(IoctlCommand.azBlobUserRequest.rawValue) }
        let defined = Set(commands.map(\.value.rawValue))
        return out.filter { !defined.contains($0) }.map(IoctlCommand.init(rawValue:))
    }

    /// A command written for the reference ABI (a capture, a fuzz input, a vector), as this
    /// driver spells it: the reference request command becomes the driver's; others stay.
    public func translate(_ c: IoctlCommand) -> IoctlCommand {
        c == .azBlobUserRequest ? command : c
    }

    /// The driver's command in reference terms (what a capture records).
    public func normalise(_ c: IoctlCommand) -> IoctlCommand {
        c == command ? .azBlobUserRequest : c
    }

    public var description: String {
        "\(request.name) = \(request.value); \(layout)"
    }
}
