// SPDX-License-Identifier: Apache-2.0

/// What the VSP does with a request once the transport has delivered it. Pluggable: a host
/// developer can put a real service behind this.
public protocol BlobBackend {
    /// Executes one request. `data` is the caller's data buffer in guest memory: read its valid
    /// bytes (an upload) or write into it (a download) and return how many bytes were written.
    mutating func execute(request: [UInt8], data: GuestBuffer) -> BlobResult
    /// The same, with what the VSP request says besides its buffers (the transaction GUID, the
    /// ioctl's timeout). Backends that do not need it implement only the two-argument form.
    mutating func execute(request: [UInt8], data: GuestBuffer, context: BackendRequest) -> BlobResult
}

extension BlobBackend {
    public mutating func execute(request: [UInt8], data: GuestBuffer, context: BackendRequest) -> BlobResult {
        execute(request: request, data: data)
    }
}

/// What the VSP knows about a request besides its three buffers.
public struct BackendRequest: Sendable, Equatable {
    /// The caller's transaction GUID (the client request id of a Blob client).
    public var transaction: GUID
    /// `timeout_ms` of the VSP request: the ioctl's timeout.
    public var timeoutMs: UInt32
    /// The host's virtual time.
    public var now: UInt64
    public init(transaction: GUID = .zero, timeoutMs: UInt32 = 0, now: UInt64 = 0) {
        self.transaction = transaction
        self.timeoutMs = timeoutMs
        self.now = now
    }
}

/// One buffer of a request (data, request or response) as the host sees it: bytes at `offset`
/// of the range the PFN list describes. Reads and writes go straight to the guest pages (one
/// copy, as the host's DMA would), through the pin checks of `GuestMemory`.
public struct GuestBuffer {
    let pfns: PFNList
    let offset: Int
    /// The buffer's size (data_len for the data buffer).
    public let count: Int
    /// Bytes that hold data on the way in (data_valid for the data buffer).
    public let valid: Int
    let memory: GuestMemory?
    let local: UnsafeMutableRawBufferPointer?

    init(pfns: PFNList, offset: Int, count: Int, valid: Int, memory: GuestMemory) {
        self.pfns = pfns
        self.offset = offset
        self.count = count
        self.valid = valid
        self.memory = memory
        self.local = nil
    }

    /// A buffer in ordinary memory (tests, other hosts).
    public init(local: UnsafeMutableRawBufferPointer, valid: Int) {
        self.pfns = []
        self.offset = 0
        self.count = local.count
        self.valid = valid
        self.memory = nil
        self.local = local
    }

    /// Splits [position, position + n) at page boundaries: (PFN, offset in page, bytes done, length).
    @inline(__always)
    private func walk(_ position: Int, _ n: Int, _ body: (UInt64, Int, Int, Int) -> Void) {
        var done = 0
        while done < n {
            let at = offset + position + done
            let inPage = at & (AzBlob.pageSize - 1)
            let k = min(n - done, AzBlob.pageSize - inPage)
            body(pfns[at >> AzBlob.pageShift], inPage, done, k)
            done += k
        }
    }

    /// The first `valid` bytes (clamped to the buffer).
    public func readValid() -> [UInt8] {
        var out: [UInt8] = []
        readValid(into: &out)
        return out
    }

    /// The same into `storage`, its buffer reused when no one else holds it.
    public func readValid(into storage: inout [UInt8]) {
        let n = min(valid, count)
        storage.removeAll(keepingCapacity: true)
        storage.append(contentsOf: repeatElement(0, count: n))
        storage.withUnsafeMutableBytes { read(at: 0, into: $0.baseAddress!, count: n) }
    }

    public func read(at position: Int, into dst: UnsafeMutableRawPointer, count n: Int) {
        if let local { dst.copyMemory(from: local.baseAddress! + position, byteCount: n); return }
        walk(position, n) { pfn, inPage, done, k in _ = memory?.hostRead(pfn, offset: inPage, into: dst + done, count: k) }
    }

    /// Writes `n` bytes at `position` (the caller keeps it inside the buffer).
    public func write(at position: Int, from src: UnsafeRawPointer, count n: Int) {
        if let local { (local.baseAddress! + position).copyMemory(from: src, byteCount: n); return }
        walk(position, n) { pfn, inPage, done, k in _ = memory?.hostWrite(pfn, offset: inPage, from: src + done, count: k) }
    }

    /// Writes as much of `bytes` as fits from `position`; returns how many were written.
    @discardableResult
    public func write(_ bytes: ArraySlice<UInt8>, at position: Int = 0) -> Int {
        let n = min(bytes.count, count - position)
        guard n > 0 else { return 0 }
        bytes.withUnsafeBytes { write(at: position, from: $0.baseAddress!, count: n) }
        return n
    }
}

public struct BlobResult: Equatable, Sendable {
    /// The status line written into the response buffer.
    public var response: [UInt8]
    /// Bytes the backend wrote into the data buffer (0 when it only read it).
    public var dataWritten: Int
    /// The completion's status (response.status of the ioctl): success unless the backend
    /// could not answer (a timeout).
    public var status: VSPStatus = .success
    public init(response: [UInt8], dataWritten: Int, status: VSPStatus = .success) {
        self.response = response
        self.dataWritten = dataWritten
        self.status = status
    }
}

/// The default backend: an in-memory Blob-like store, so that end-to-end data can be checked.
///
/// Request buffer (ASCII, one line, fields separated by single spaces, optional trailing `\n`):
///
///     PUT <name>                  store the first data_valid bytes of the data buffer
///     GET <name> <offset> <len>   read a range into the data buffer (at most data_len bytes)
///     DELETE <name>
///     LIST <prefix>               names with the prefix, one per line, into the data buffer
///
/// Response buffer: a status line, `OK <bytes>` (bytes stored, read, listed or deleted),
/// `NOTFOUND`, or `BADREQUEST <reason>`; the host writes at most response_len bytes of it and
/// reports what it wrote in the completion's response_len.
public struct BlobStore: BlobBackend {
    public private(set) var blobs: [String: [UInt8]] = [:]
    public init() {}

    public static func request(_ op: String, _ name: String, _ extra: [Int] = []) -> [UInt8] {
        Array(([op, name] + extra.map(String.init)).joined(separator: " ").utf8) + [UInt8(ascii: "\n")]
    }

    public mutating func execute(request: [UInt8], data: GuestBuffer) -> BlobResult {
        var line = request
        if let nl = line.firstIndex(of: UInt8(ascii: "\n")) { line = Array(line[..<nl]) }
        let words = line.split(separator: UInt8(ascii: " "), omittingEmptySubsequences: false).map { String(decoding: $0, as: UTF8.self) }
        func bad(_ why: String) -> BlobResult { BlobResult(response: Array("BADREQUEST \(why)".utf8), dataWritten: 0) }
        func ok(_ n: Int) -> [UInt8] { Array("OK \(n)".utf8) }
        guard let op = words.first else { return bad("empty") }
        switch op {
        case "PUT":
            guard words.count == 2, !words[1].isEmpty else { return bad("PUT takes a name") }
            let bytes = data.readValid()
            blobs[words[1]] = bytes
            return BlobResult(response: ok(bytes.count), dataWritten: 0)
        case "GET":
            guard words.count == 4, let off = Int(words[2]), let len = Int(words[3]), off >= 0, len >= 0 else {
                return bad("GET takes a name, an offset and a length")
            }
            guard let blob = blobs[words[1]] else { return BlobResult(response: Array("NOTFOUND".utf8), dataWritten: 0) }
            let start = min(off, blob.count)
            let n = min(len, blob.count - start, data.count)
            data.write(blob[start..<start + n])
            return BlobResult(response: ok(n), dataWritten: n)
        case "DELETE":
            guard words.count == 2 else { return bad("DELETE takes a name") }
            guard let old = blobs.removeValue(forKey: words[1]) else { return BlobResult(response: Array("NOTFOUND".utf8), dataWritten: 0) }
            return BlobResult(response: ok(old.count), dataWritten: 0)
        case "LIST":
            let prefix = words.count > 1 ? words[1] : ""
            let names = blobs.keys.filter { $0.hasPrefix(prefix) }.sorted().joined(separator: "\n")
            let bytes = Array(names.utf8)
            let n = min(bytes.count, data.count)
            data.write(bytes[0..<n])
            return BlobResult(response: ok(n), dataWritten: n)
        default:
            return bad("unknown operation")
        }
    }
}
