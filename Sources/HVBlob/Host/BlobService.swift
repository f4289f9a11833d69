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
        let token: [UInt8]
        let eTag: [UInt8]
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
        eTagBytes(path).map { String(decoding: $0, as: UTF8.self) }
    }

    /// The eTags as computed, by path and the version they are of (one read per ioctl asks).
    private var eTags: [String: (version: UInt64, tag: [UInt8])] = [:]

    func eTagBytes(_ path: String) -> [UInt8]? {
        guard let b = blobs[path] else { return nil }
        if let c = eTags[path], c.version == b.version { return c.tag }
        let h = FNV1a.hash(Array(path.utf8) + withUnsafeBytes(of: b.version.littleEndian, Array.init))
        let tag = Array(("\"0x8D" + String(h & 0xF_FFFF_FFFF_FFFF, radix: 16, uppercase: true) + "\"").utf8)
        eTags[path] = (b.version, tag)
        return tag
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
    /// Requests of the fast-path client's shape are scanned in place (false: every request
    /// through the full JSON parser, as a reference the scan is tested against).
    public var scansFlatRequests = true

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
        let rid = context.transaction
        func answer(_ status: Int, _ fill: (inout Answer) -> Void = { _ in }, written: Int = 0, vsp: VSPStatus = .success) -> BlobResult {
            s.statuses[status, default: 0] += 1
            var a = Answer(status: status)
            fill(&a)
            return BlobResult(response: a.finish(clientRequestId: rid), dataWritten: written, status: vsp)
        }
        func error(_ status: Int, _ code: StaticString, _ message: String, vsp: VSPStatus = .success) -> BlobResult {
            answer(status, { $0.str("errorCode", code); $0.str("message", message) }, vsp: vsp)
        }
        if s.rng.chance(s.faults.serverBusy) {
            return error(503, "ServerBusy", "The server is busy (fault plan: server-busy=\(s.faults.serverBusy)).")
        }
        if s.faults.serviceMs.upperBound > 0 {
            let ms = UInt64(s.rng.int(in: Int(s.faults.serviceMs.lowerBound)...Int(s.faults.serviceMs.upperBound)))
            if context.timeoutMs > 0 && ms > UInt64(context.timeoutMs) {
                return error(500, "OperationTimedOut", "The service took \(ms) ms; the request's timeout is \(context.timeoutMs) ms.", vsp: .ioTimeout)
            }
        }
        var end = request.count
        while end > 0, request[end - 1] == 0 || request[end - 1] == 0x0a || request[end - 1] == 0x20 { end -= 1 }
        let text = request[0..<end]
        // The fast-path client's requests are flat objects of strings and integers: scanned in
        // place. Anything else (nesting, escapes, other values, malformed JSON) goes through
        // the full parser, which gives the same members or the same error.
        let req: ServiceRequest
        if scansFlatRequests, let flat = ServiceRequest(scanning: text) {
            req = flat
        } else {
            let node: JSONNode
            do { node = try JSONParser.parse(Array(text)) } catch let e {
                return error(400, "InvalidInput", "The request buffer is not JSON: \(e.detail) at byte \(e.offset).")
            }
            guard node.members != nil else { return error(400, "InvalidInput", "The request has no \"operation\".") }
            req = ServiceRequest(node)
        }
        guard let op = req.operation else {
            return error(400, "InvalidInput", "The request has no \"operation\".")
        }
        func session() -> (String, BlobServiceState.Session)? {
            guard let h = req.handle.map({ String(decoding: $0, as: UTF8.self) }), let sess = s.sessions[h] else { return nil }
            return (h, sess)
        }
        func named(_ b: ArraySlice<UInt8>?) -> String? { b.map { String(decoding: $0, as: UTF8.self) } }
        switch op {
        case ServiceRequest.open:
            guard let path = named(req.path) else { return error(400, "InvalidInput", "open takes \"path\".") }
            guard let blob = s.blobs[path], let tag = s.eTagBytes(path) else {
                return error(404, "BlobNotFound", "The specified blob does not exist: \(path).")
            }
            let handle = "fh-\(s.nextHandle)"
            s.nextHandle += 1
            let token = String(s.rng.next(), radix: 16)
            s.sessions[handle] = BlobServiceState.Session(path: path, token: Array(token.utf8), eTag: tag, expires: context.now + s.faults.sessionTicks)
            return answer(200) {
                $0.str("eTag", tag); $0.int("contentLength", blob.bytes.count)
                $0.str("fastpathSessionToken", token); $0.str("fastpathFileHandle", handle)
            }
        case ServiceRequest.read:
            guard let (_, sess) = session() else {
                return error(403, "AuthorizationFailure", "No fast-path session has this fastpathFileHandle.")
            }
            guard let t = req.token, t.elementsEqual(sess.token) else {
                return error(403, "AuthorizationFailure", "The fastpathSessionToken does not belong to this fastpathFileHandle.")
            }
            if context.now > sess.expires {
                return error(403, "AuthenticationFailed", "The fast-path session expired at t=\(sess.expires) (now t=\(context.now)).")
            }
            guard let blob = s.blobs[sess.path], let tag = s.eTagBytes(sess.path) else {
                return error(404, "BlobNotFound", "The specified blob does not exist: \(sess.path).")
            }
            let want = req.eTag ?? sess.eTag[...]
            if !want.elementsEqual(tag) || sess.eTag != tag {
                return error(412, "ConditionNotMet", "The condition specified using HTTP conditional header(s) is not met: eTag \(String(decoding: want, as: UTF8.self)), the blob's is \(String(decoding: tag, as: UTF8.self)).")
            }
            guard let pos = req.storeFilePosition, let len = req.readLength, pos >= 0, len >= 0 else {
                return error(400, "InvalidInput", "read takes storeFilePosition and readLength (non-negative integers).")
            }
            let off = req.bufferOffset ?? 0
            guard off >= 0, off + len <= Int64(data.count) else {
                return error(400, "InvalidInput", "bufferOffset \(off) + readLength \(len) exceeds data_len \(data.count).")
            }
            let size = Int64(blob.bytes.count)
            if pos >= size && !(pos == 0 && size == 0) {
                return error(416, "InvalidRange", "The range specified is invalid for the current size of the resource: position \(pos), contentLength \(size).")
            }
            let n = Int(min(len, size - pos))
            let written = n > 0 ? data.write(blob.bytes[Int(pos)..<Int(pos) + n], at: Int(off)) : 0
            return answer(206, { $0.int("bytesRead", written); $0.str("eTag", tag); $0.int("contentLength", blob.bytes.count) }, written: written)
        case ServiceRequest.close:
            guard let (h, sess) = session(), let t = req.token, t.elementsEqual(sess.token) else {
                return error(403, "AuthorizationFailure", "No fast-path session has this fastpathFileHandle and fastpathSessionToken.")
            }
            s.sessions[h] = nil
            return answer(200)
        case ServiceRequest.write:
            guard let path = named(req.path) else { return error(400, "InvalidInput", "write takes \"path\".") }
            let pos = Int(req.position ?? Int64(s.blobs[path]?.bytes.count ?? 0))
            if let want = req.eTag, s.eTagBytes(path).map({ !want.elementsEqual($0) }) ?? true {
                return error(412, "ConditionNotMet", "The condition specified using HTTP conditional header(s) is not met: eTag \(String(decoding: want, as: UTF8.self)), the blob's is \(s.eTag(path) ?? "none").")
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
            let tag = s.eTagBytes(path)!
            return answer(201) { $0.str("eTag", tag); $0.int("contentLength", blob.bytes.count) }
        case ServiceRequest.getProperties:
            guard let path = named(req.path) else { return error(400, "InvalidInput", "getProperties takes \"path\".") }
            guard let blob = s.blobs[path], let tag = s.eTagBytes(path) else {
                return error(404, "BlobNotFound", "The specified blob does not exist: \(path).")
            }
            return answer(200) { $0.str("eTag", tag); $0.int("contentLength", blob.bytes.count) }
        default:
            return error(400, "InvalidInput", "Unknown operation \"\(String(decoding: op, as: UTF8.self))\" (open, read, close, write, getProperties).")
        }
    }
}

/// The members of a request the service reads, from the flat scan or from the full parser:
/// a string member only when its value is a string, an integer one only when it is a number
/// that fits an Int64 (what `JSONNode.string` and `.int` give).
struct ServiceRequest {
    var operation, path, handle, token, eTag: ArraySlice<UInt8>?
    var storeFilePosition, bufferOffset, readLength, position: Int64?

    static let open = Array("open".utf8)[...], read = Array("read".utf8)[...], close = Array("close".utf8)[...]
    static let write = Array("write".utf8)[...], getProperties = Array("getProperties".utf8)[...]

    init(_ node: JSONNode) {
        func str(_ k: String) -> ArraySlice<UInt8>? { node[k]?.string.map { Array($0.utf8)[...] } }
        operation = str("operation"); path = str("path"); handle = str("fastpathFileHandle")
        token = str("fastpathSessionToken"); eTag = str("eTag")
        storeFilePosition = node["storeFilePosition"]?.int; bufferOffset = node["bufferOffset"]?.int
        readLength = node["readLength"]?.int; position = node["position"]?.int
    }

    /// A flat object `{"key":"string" | integer, ...}` with ASCII strings without escapes,
    /// integers of at most 18 digits and no key twice; nil for anything else (the caller then
    /// parses it in full, which answers the same or says what is wrong).
    init?(scanning text: ArraySlice<UInt8>) {
        var i = text.startIndex
        let end = text.endIndex
        func space() { while i < end, text[i] == 0x20 || text[i] == 0x0a || text[i] == 0x0d || text[i] == 0x09 { i += 1 } }
        func quoted() -> Range<Int>? {
            guard i < end, text[i] == 0x22 else { return nil }
            i += 1
            let s = i
            while i < end {
                let c = text[i]
                if c == 0x22 { i += 1; return s..<(i - 1) }
                if c < 0x20 || c == 0x5c || c >= 0x80 { return nil }
                i += 1
            }
            return nil
        }
        space()
        guard i < end, text[i] == 0x7b else { return nil }
        i += 1
        space()
        var keys: [Range<Int>] = []
        if i < end, text[i] == 0x7d {
            i += 1
        } else {
            while true {
                space()
                guard let key = quoted() else { return nil }
                for k in keys where text[k].elementsEqual(text[key]) { return nil }
                keys.append(key)
                space()
                guard i < end, text[i] == 0x3a else { return nil }
                i += 1
                space()
                guard i < end else { return nil }
                let name = text[key]
                if text[i] == 0x22 {
                    guard let v = quoted() else { return nil }
                    let value = text[v]
                    switch name.count {
                    case 4 where name.elementsEqual("path".utf8): path = value
                    case 4 where name.elementsEqual("eTag".utf8): eTag = value
                    case 9 where name.elementsEqual("operation".utf8): operation = value
                    case 18 where name.elementsEqual("fastpathFileHandle".utf8): handle = value
                    case 20 where name.elementsEqual("fastpathSessionToken".utf8): token = value
                    default: break
                    }
                } else {
                    let s = i
                    if text[i] == 0x2d { i += 1 }
                    let digits = i
                    while i < end, text[i] >= 0x30, text[i] <= 0x39 { i += 1 }
                    let n = i - digits
                    guard n > 0, n <= 18, !(n > 1 && text[digits] == 0x30) else { return nil }
                    if i < end, text[i] == 0x2e || text[i] == 0x65 || text[i] == 0x45 { return nil }
                    var v: Int64 = 0
                    for k in digits..<i { v = v * 10 + Int64(text[k] - 0x30) }
                    if text[s] == 0x2d { v = -v }
                    switch name.count {
                    case 8 where name.elementsEqual("position".utf8): position = v
                    case 10 where name.elementsEqual("readLength".utf8): readLength = v
                    case 12 where name.elementsEqual("bufferOffset".utf8): bufferOffset = v
                    case 17 where name.elementsEqual("storeFilePosition".utf8): storeFilePosition = v
                    default: break
                    }
                }
                space()
                guard i < end else { return nil }
                if text[i] == 0x2c { i += 1; continue }
                guard text[i] == 0x7d else { return nil }
                i += 1
                break
            }
        }
        space()
        guard i == end else { return nil }
    }
}

/// An answer's JSON, written straight into bytes: `{"status":N,` the members, then
/// `"clientRequestId":GUID}` (compact, members in the order written).
struct Answer {
    private var out: [UInt8] = []
    init(status: Int) {
        out.reserveCapacity(224)
        out.append(0x7b)
        key("status", first: true)
        Answer.digits(Int64(status), &out)
    }
    private mutating func key(_ k: StaticString, first: Bool = false) {
        if !first { out.append(0x2c) }
        out.append(0x22)
        k.withUTF8Buffer { out.append(contentsOf: $0) }
        out.append(0x22)
        out.append(0x3a)
    }
    mutating func int(_ k: StaticString, _ v: Int) { key(k); Answer.digits(Int64(v), &out) }
    mutating func str(_ k: StaticString, _ v: String) { key(k); Json.quote(v.utf8, &out) }
    mutating func str(_ k: StaticString, _ v: StaticString) { key(k); v.withUTF8Buffer { Json.quote($0, &out) } }
    mutating func str(_ k: StaticString, _ v: [UInt8]) { key(k); Json.quote(v, &out) }
    mutating func finish(clientRequestId: GUID) -> [UInt8] {
        key("clientRequestId")
        out.append(0x22)
        clientRequestId.writeText(into: &out)
        out.append(0x22)
        out.append(0x7d)
        return out
    }
    static func digits(_ v: Int64, _ out: inout [UInt8]) {
        var m = v.magnitude
        if v < 0 { out.append(0x2d) }
        var tmp: (UInt64, UInt64, UInt64) = (0, 0, 0)
        var n = 0
        withUnsafeMutableBytes(of: &tmp) { buf in
            repeat {
                buf[n] = UInt8(truncatingIfNeeded: m % 10) + 0x30
                m /= 10
                n += 1
            } while m > 0
            while n > 0 { n -= 1; out.append(buf[n]) }
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
        case .str(let s): Json.quote(s.utf8, &out)
        case .num(let n): Answer.digits(n, &out)
        case .object(let m):
            out.append(0x7b)
            for (k, (key, value)) in m.enumerated() {
                if k > 0 { out.append(0x2c) }
                Json.quote(key.utf8, &out)
                out.append(0x3a)
                value.write(&out)
            }
            out.append(0x7d)
        }
    }

    static func quote<S: Sequence<UInt8>>(_ s: S, _ out: inout [UInt8]) {
        out.append(0x22)
        for b in s {
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
