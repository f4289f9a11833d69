// SPDX-License-Identifier: Apache-2.0

/// What the VSP does with a request once the transport has delivered it. Pluggable: a host
/// developer can put a real service behind this.
public protocol BlobBackend {
    /// Executes one request. `data` holds the data buffer (`dataValid` bytes meaningful on
    /// entry); a backend that fills it (a download) returns how many bytes it wrote there.
    mutating func execute(request: [UInt8], data: inout [UInt8], dataValid: Int) -> BlobResult
}

public struct BlobResult: Equatable, Sendable {
    /// The status line written into the response buffer.
    public var response: [UInt8]
    /// Bytes written into the data buffer (0 when the data buffer is untouched).
    public var dataWritten: Int
    public init(response: [UInt8], dataWritten: Int) {
        self.response = response
        self.dataWritten = dataWritten
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

    public mutating func execute(request: [UInt8], data: inout [UInt8], dataValid: Int) -> BlobResult {
        var line = request
        if let nl = line.firstIndex(of: UInt8(ascii: "\n")) { line = Array(line[..<nl]) }
        let words = line.split(separator: UInt8(ascii: " "), omittingEmptySubsequences: false).map { String(decoding: $0, as: UTF8.self) }
        func bad(_ why: String) -> BlobResult { BlobResult(response: Array("BADREQUEST \(why)".utf8), dataWritten: 0) }
        func ok(_ n: Int) -> [UInt8] { Array("OK \(n)".utf8) }
        guard let op = words.first else { return bad("empty") }
        switch op {
        case "PUT":
            guard words.count == 2, !words[1].isEmpty else { return bad("PUT takes a name") }
            let n = min(dataValid, data.count)
            blobs[words[1]] = Array(data[0..<n])
            return BlobResult(response: ok(n), dataWritten: 0)
        case "GET":
            guard words.count == 4, let off = Int(words[2]), let len = Int(words[3]), off >= 0, len >= 0 else {
                return bad("GET takes a name, an offset and a length")
            }
            guard let blob = blobs[words[1]] else { return BlobResult(response: Array("NOTFOUND".utf8), dataWritten: 0) }
            let start = min(off, blob.count)
            let n = min(len, blob.count - start, data.count)
            data.replaceSubrange(0..<n, with: blob[start..<start + n])
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
            data.replaceSubrange(0..<n, with: bytes[0..<n])
            return BlobResult(response: ok(n), dataWritten: n)
        default:
            return bad("unknown operation")
        }
    }
}
