// SPDX-License-Identifier: Apache-2.0

/// How the simulated Blob service misbehaves (on top of the VSP's `FaultPlan`): spec items
/// `server-busy=P` (503 ServerBusy per request), `service-ms=LO-HI` (the service time drawn per
/// request; longer than the ioctl's timeout: 500 OperationTimedOut with STATUS_IO_TIMEOUT),
/// `session-ticks=N` (a fast-path session expires N virtual ticks after its open).
public struct BlobServiceFaults: Hashable, Sendable, CustomStringConvertible {
    public var serverBusy: Double = 0
    public var serviceMs: ClosedRange<UInt64> = 0...0
    public var sessionTicks: UInt64 = 1_000_000
    public init() {}

    public static let names = ["server-busy", "service-ms", "session-ticks"]

    /// Sets one spec item; nil when `value` is not valid for `key` (the key must be in `names`).
    public mutating func set(_ key: String, _ value: String?) -> Bool {
        switch key {
        case "server-busy":
            guard let p = value.map({ Double($0) }) ?? 1, p >= 0, p <= 1 else { return false }
            serverBusy = p
        case "service-ms":
            guard let value, let r = FaultPlan.parseRange(value) else { return false }
            serviceMs = r
        case "session-ticks":
            guard let value, let v = UInt64(value), v > 0 else { return false }
            sessionTicks = v
        default:
            return false
        }
        return true
    }

    public var description: String {
        var parts: [String] = []
        if serverBusy > 0 { parts.append("server-busy=\(serverBusy)") }
        if serviceMs != 0...0 { parts.append("service-ms=\(serviceMs.lowerBound)-\(serviceMs.upperBound)") }
        if sessionTicks != BlobServiceFaults().sessionTicks { parts.append("session-ticks=\(sessionTicks)") }
        return parts.isEmpty ? "none" : parts.joined(separator: ",")
    }
}

/// The state of a simulated Blob service: blobs, open fast-path sessions, what it answered.
/// A class, so the daemon and tests can look at it while the VSP owns the backend.
public final class BlobServiceState {
    public struct Blob {
        public var bytes: [UInt8]
        /// Bumped on every write: the eTag changes with it.
        public var version: UInt64
    }
    struct Session {
        let path: String
        let token: String
        let eTag: String
        let expires: UInt64
    }
    public internal(set) var blobs: [String: Blob] = [:]
    var sessions: [String: Session] = [:]
    var rng: SeededRandom
    public let faults: BlobServiceFaults
    /// Answers by HTTP status.
    public internal(set) var statuses: [Int: Int] = [:]
    var nextHandle: UInt64 = 1

    init(blobs: [String: [UInt8]], faults: BlobServiceFaults, seed: UInt64) {
        for (k, v) in blobs { self.blobs[k] = Blob(bytes: v, version: 1) }
        self.faults = faults
        rng = SeededRandom(seed: seed).split("blob-service")
    }

    public func eTag(_ path: String) -> String? {
        guard let b = blobs[path] else { return nil }
        let h = FNV1a.hash(Array(path.utf8) + withUnsafeBytes(of: b.version.littleEndian, Array.init))
        return "\"0x8D" + String(h & 0xF_FFFF_FFFF_FFFF, radix: 16, uppercase: true) + "\""
    }
}

/// A backend that answers like the Blob service for the fast-path client (the ABFS fast path
/// over /dev/azure_blob): JSON in the request buffer, JSON in the response buffer, data in the
/// data buffer. The format is hvblob's own (the connector's JSON is not public); its field
/// names follow the ABFS fast-path client's (`ReadRequestParameters`, the fast-path session).
///
///     {"operation":"open","path":P}             200 eTag, contentLength, fastpathSessionToken, fastpathFileHandle
///     {"operation":"read","fastpathFileHandle":H,"fastpathSessionToken":T,"eTag":E,
///      "storeFilePosition":N,"bufferOffset":O,"readLength":L}
///                                               206 bytesRead (the bytes at bufferOffset of the data buffer)
///     {"operation":"close","fastpathFileHandle":H,"fastpathSessionToken":T}      200
///     {"operation":"write","path":P,"position":N,"eTag":E?}  201 eTag, contentLength (data_valid bytes at N)
///     {"operation":"getProperties","path":P}   200 eTag, contentLength
///
/// Every answer carries "status" and "clientRequestId" (the ioctl's transaction GUID); errors
/// carry "errorCode" and "message": 400 InvalidInput, 403 AuthorizationFailure (a foreign or
/// unknown session), 403 AuthenticationFailed (an expired session), 404 BlobNotFound,
/// 412 ConditionNotMet (the eTag changed), 416 InvalidRange, 500 OperationTimedOut, 503 ServerBusy.
public struct BlobService: BlobBackend {
    public let state: BlobServiceState

    public init(blobs: [String: [UInt8]], faults: BlobServiceFaults = BlobServiceFaults(), seed: UInt64 = 0) {
        state = BlobServiceState(blobs: blobs, faults: faults, seed: seed)
    }

    /// `count` blobs drawn from the seed: `blob-0` ... with sizes up to 1 MiB.
    public static func generatedBlobs(seed: UInt64, count: Int = 8) -> [String: [UInt8]] {
        var rng = SeededRandom(seed: seed).split("blobs")
        var out: [String: [UInt8]] = [:]
        for i in 0..<count {
            let size = [4096, 65536, 1 << 20, rng.int(in: 1...300_000)][rng.int(in: 0...3)]
            var bytes = [UInt8](repeating: 0, count: size)
            var x = rng.next()
            for j in 0..<size {
                if j & 7 == 0 { x = x &* 6364136223846793005 &+ 1442695040888963407 }
                bytes[j] = UInt8(truncatingIfNeeded: x >> ((j & 7) * 8))
            }
            out["blob-\(i)"] = bytes
        }
        return out
    }

    public mutating func execute(request: [UInt8], data: GuestBuffer) -> BlobResult {
        execute(request: request, data: data, context: BackendRequest())
    }

    public mutating func execute(request: [UInt8], data: GuestBuffer, context: BackendRequest) -> BlobResult {
        let s = state
        let rid = context.transaction.description
        func answer(_ status: Int, _ fields: [(String, Json)] = [], written: Int = 0, vsp: VSPStatus = .success) -> BlobResult {
            s.statuses[status, default: 0] += 1
            let body: [(String, Json)] = [("status", .int(status))] + fields + [("clientRequestId", .str(rid))]
            return BlobResult(response: Json.object(body).bytes, dataWritten: written, status: vsp)
        }
        func error(_ status: Int, _ code: String, _ message: String) -> BlobResult {
            answer(status, [("errorCode", .str(code)), ("message", .str(message))])
        }
        if s.rng.chance(s.faults.serverBusy) {
            return error(503, "ServerBusy", "The server is busy (fault plan: server-busy=\(s.faults.serverBusy)).")
        }
        if s.faults.serviceMs.upperBound > 0 {
            let ms = UInt64(s.rng.int(in: Int(s.faults.serviceMs.lowerBound)...Int(s.faults.serviceMs.upperBound)))
            if context.timeoutMs > 0 && ms > UInt64(context.timeoutMs) {
                s.statuses[500, default: 0] += 1
                let body: [(String, Json)] = [("status", .int(500)), ("errorCode", .str("OperationTimedOut")),
                                              ("message", .str("The service took \(ms) ms; the request's timeout is \(context.timeoutMs) ms.")),
                                              ("clientRequestId", .str(rid))]
                return BlobResult(response: Json.object(body).bytes, dataWritten: 0, status: .ioTimeout)
            }
        }
        var text = request
        while let last = text.last, last == 0 || last == 0x0a || last == 0x20 { text.removeLast() }
        let node: JSONNode
        do { node = try JSONParser.parse(text) } catch let e {
            return error(400, "InvalidInput", "The request buffer is not JSON: \(e.detail) at byte \(e.offset).")
        }
        guard node.members != nil, let op = node["operation"]?.string else {
            return error(400, "InvalidInput", "The request has no \"operation\".")
        }
        func session() -> (String, BlobServiceState.Session)? {
            guard let h = node["fastpathFileHandle"]?.string, let sess = s.sessions[h] else { return nil }
            return (h, sess)
        }
        switch op {
        case "open":
            guard let path = node["path"]?.string else { return error(400, "InvalidInput", "open takes \"path\".") }
            guard let blob = s.blobs[path], let tag = s.eTag(path) else {
                return error(404, "BlobNotFound", "The specified blob does not exist: \(path).")
            }
            let handle = "fh-\(s.nextHandle)"
            s.nextHandle += 1
            let token = String(s.rng.next(), radix: 16)
            s.sessions[handle] = BlobServiceState.Session(path: path, token: token, eTag: tag, expires: context.now + s.faults.sessionTicks)
            return answer(200, [("eTag", .str(tag)), ("contentLength", .int(blob.bytes.count)),
                                ("fastpathSessionToken", .str(token)), ("fastpathFileHandle", .str(handle))])
        case "read":
            guard let (_, sess) = session() else {
                return error(403, "AuthorizationFailure", "No fast-path session has this fastpathFileHandle.")
            }
            guard node["fastpathSessionToken"]?.string == sess.token else {
                return error(403, "AuthorizationFailure", "The fastpathSessionToken does not belong to this fastpathFileHandle.")
            }
            if context.now > sess.expires {
                return error(403, "AuthenticationFailed", "The fast-path session expired at t=\(sess.expires) (now t=\(context.now)).")
            }
            guard let blob = s.blobs[sess.path], let tag = s.eTag(sess.path) else {
                return error(404, "BlobNotFound", "The specified blob does not exist: \(sess.path).")
            }
            let want = node["eTag"]?.string ?? sess.eTag
            if want != tag || sess.eTag != tag {
                return error(412, "ConditionNotMet", "The condition specified using HTTP conditional header(s) is not met: eTag \(want), the blob's is \(tag).")
            }
            guard let pos = node["storeFilePosition"]?.int, let len = node["readLength"]?.int, pos >= 0, len >= 0 else {
                return error(400, "InvalidInput", "read takes storeFilePosition and readLength (non-negative integers).")
            }
            let off = node["bufferOffset"]?.int ?? 0
            guard off >= 0, off + len <= Int64(data.count) else {
                return error(400, "InvalidInput", "bufferOffset \(off) + readLength \(len) exceeds data_len \(data.count).")
            }
            let size = Int64(blob.bytes.count)
            if pos >= size && !(pos == 0 && size == 0) {
                return error(416, "InvalidRange", "The range specified is invalid for the current size of the resource: position \(pos), contentLength \(size).")
            }
            let n = Int(min(len, size - pos))
            let written = n > 0 ? data.write(blob.bytes[Int(pos)..<Int(pos) + n], at: Int(off)) : 0
            return answer(206, [("bytesRead", .int(written)), ("eTag", .str(tag)), ("contentLength", .int(blob.bytes.count))], written: written)
        case "close":
            guard let (h, sess) = session(), node["fastpathSessionToken"]?.string == sess.token else {
                return error(403, "AuthorizationFailure", "No fast-path session has this fastpathFileHandle and fastpathSessionToken.")
            }
            s.sessions[h] = nil
            return answer(200)
        case "write":
            guard let path = node["path"]?.string else { return error(400, "InvalidInput", "write takes \"path\".") }
            let pos = Int(node["position"]?.int ?? Int64(s.blobs[path]?.bytes.count ?? 0))
            if let want = node["eTag"]?.string, want != s.eTag(path) {
                return error(412, "ConditionNotMet", "The condition specified using HTTP conditional header(s) is not met: eTag \(want), the blob's is \(s.eTag(path) ?? "none").")
            }
            var blob = s.blobs[path] ?? BlobServiceState.Blob(bytes: [], version: 0)
            guard pos >= 0, pos <= blob.bytes.count else {
                return error(416, "InvalidRange", "position \(pos) is beyond contentLength \(blob.bytes.count).")
            }
            let bytes = data.readValid()
            let end = pos + bytes.count
            if end > blob.bytes.count { blob.bytes += [UInt8](repeating: 0, count: end - blob.bytes.count) }
            blob.bytes.replaceSubrange(pos..<end, with: bytes)
            blob.version += 1
            s.blobs[path] = blob
            return answer(201, [("eTag", .str(s.eTag(path)!)), ("contentLength", .int(blob.bytes.count))])
        case "getProperties":
            guard let path = node["path"]?.string else { return error(400, "InvalidInput", "getProperties takes \"path\".") }
            guard let blob = s.blobs[path], let tag = s.eTag(path) else {
                return error(404, "BlobNotFound", "The specified blob does not exist: \(path).")
            }
            return answer(200, [("eTag", .str(tag)), ("contentLength", .int(blob.bytes.count))])
        default:
            return error(400, "InvalidInput", "Unknown operation \"\(op)\" (open, read, close, write, getProperties).")
        }
    }
}

extension VSPStatus {
    /// NTSTATUS STATUS_IO_TIMEOUT: the host did not answer within the request's timeout.
    public static let ioTimeout = VSPStatus(rawValue: 0xC000_00B5)
}

/// Compact JSON for answers (the shared `JSON` writer indents).
enum Json {
    case str(String)
    case num(Int64)
    case object([(String, Json)])
    static func int<T: BinaryInteger>(_ v: T) -> Json { .num(Int64(v)) }
    var text: String { String(decoding: bytes, as: UTF8.self) }

    /// The UTF-8 of `text`, written straight into bytes (an answer per ioctl under `hvblob
    /// serve`: building Strings was a tenth of the daemon's time). Escapes as `JSON.quote`.
    var bytes: [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(256)
        write(&out)
        return out
    }

    func write(_ out: inout [UInt8]) {
        switch self {
        case .str(let s): Json.quote(s, &out)
        case .num(let n): out.append(contentsOf: String(n).utf8)
        case .object(let m):
            out.append(0x7b)
            for (k, (key, value)) in m.enumerated() {
                if k > 0 { out.append(0x2c) }
                Json.quote(key, &out)
                out.append(0x3a)
                value.write(&out)
            }
            out.append(0x7d)
        }
    }

    static func quote(_ s: String, _ out: inout [UInt8]) {
        out.append(0x22)
        for b in s.utf8 {
            switch b {
            case 0x22: out.append(0x5c); out.append(0x22)
            case 0x5c: out.append(0x5c); out.append(0x5c)
            case 0x0a: out.append(0x5c); out.append(0x6e)
            case 0x09: out.append(0x5c); out.append(0x74)
            case 0x0d: out.append(0x5c); out.append(0x72)
            case 0..<0x20:
                let hex = Array("0123456789abcdef".utf8)
                out.append(contentsOf: [0x5c, 0x75, 0x30, 0x30, hex[Int(b >> 4)], hex[Int(b & 15)]])
            default: out.append(b)
            }
        }
        out.append(0x22)
    }
}
