// SPDX-License-Identifier: Apache-2.0
@testable import HVBlob
import Testing

/// The Blob service reads the fast-path client's requests by scanning them in place and falls
/// back to the full JSON parser for anything else. Both must answer alike: two services with
/// the same blobs and seed, one scanning and one parsing every request, get the same sequence
/// of requests (the client's own, reshaped, broken, truncated at every byte) and must give the
/// same answers, byte for byte, the same data buffers and the same states.
@Suite("Blob service request scan")
struct BlobServiceScanTests {
    /// Requests built around one open session: each valid request, then variants of it.
    static func requests(handle: String, token: String, eTag: String) -> [String] {
        let e = eTag.replacingOccurrences(of: "\"", with: "\\\"")
        let base = [
            #"{"operation":"read","fastpathFileHandle":"\#(handle)","fastpathSessionToken":"\#(token)","eTag":"\#(e)","storeFilePosition":4096,"bufferOffset":0,"readLength":4096}"#,
            #"{"operation":"read","fastpathFileHandle":"\#(handle)","fastpathSessionToken":"\#(token)","storeFilePosition":0,"readLength":100,"bufferOffset":8}"#,
            #"{"operation":"getProperties","path":"blob-1"}"#,
            #"{"operation":"open","path":"blob-2"}"#,
            #"{"operation":"write","path":"new","position":0}"#,
            #"{"operation":"write","path":"blob-3","eTag":"\"0x8D0\""}"#,
            #"{"operation":"close","fastpathFileHandle":"\#(handle)","fastpathSessionToken":"feed"}"#,
        ]
        var out: [String] = []
        for b in base {
            out.append(b)
            out.append(" \n\t" + b.replacingOccurrences(of: ",", with: " ,\r\n ").replacingOccurrences(of: ":", with: " : ") + "  \n\0\0")
            // Escapes, duplicates, other value kinds, numbers the scan leaves to the parser.
            out.append(b.replacingOccurrences(of: "\"operation\"", with: "\"oper\\u0061tion\""))
            out.append(b.replacingOccurrences(of: "{", with: "{\"operation\":\"read\","))
            out.append(b.replacingOccurrences(of: "}", with: ",\"extra\":[1,{\"a\":null}],\"flag\":true}"))
            out.append(b.replacingOccurrences(of: "}", with: ",\"other\":\"x\",\"n\":-12}"))
            out.append(b.replacingOccurrences(of: "4096", with: "4096.0"))
            out.append(b.replacingOccurrences(of: ":0", with: ":-0"))
            out.append(b.replacingOccurrences(of: ":0", with: ":00"))
            out.append(b.replacingOccurrences(of: "4096", with: "40960000000000000000"))
            out.append(b.replacingOccurrences(of: "4096", with: "1e3"))
            out.append(b.replacingOccurrences(of: "4096", with: "\"4096\""))
            out.append(b.replacingOccurrences(of: "\"read\"", with: "\"r\u{e9}ad\""))
            out.append(b + " x")
            out.append("[" + b + "]")
            for cut in stride(from: 0, to: b.utf8.count, by: 1) { out.append(String(decoding: Array(b.utf8)[0..<cut], as: UTF8.self)) }
        }
        out += ["", "{}", "  {  }  ", "null", "\"read\"", "{\"operation\":7}", "{\"operation\":\"\"}", "{,}", "{\"a\":1,}"]
        return out
    }

    @Test("blob-service.scan-matches-parser: every answer, data buffer and state the same with the scan and with the full parser")
    func scanMatchesParser() throws {
        let blobs = BlobService.generatedBlobs(seed: 3)
        var scanning = BlobService(blobs: blobs, seed: 9)
        var parsing = BlobService(blobs: blobs, seed: 9)
        parsing.scansFlatRequests = false
        let a = UnsafeMutableRawBufferPointer.allocate(byteCount: 8192, alignment: 8)
        let b = UnsafeMutableRawBufferPointer.allocate(byteCount: 8192, alignment: 8)
        defer { a.deallocate(); b.deallocate() }
        var step = 0
        func both(_ json: String) throws -> [UInt8] {
            step += 1
            for i in 0..<8192 { a[i] = UInt8(truncatingIfNeeded: i); b[i] = UInt8(truncatingIfNeeded: i) }
            let ctx = BackendRequest(transaction: GUID(low: UInt64(step), high: 0xfeed), timeoutMs: 100, now: UInt64(step))
            let x = scanning.execute(request: Array(json.utf8), data: GuestBuffer(local: a, valid: 16), context: ctx)
            let y = parsing.execute(request: Array(json.utf8), data: GuestBuffer(local: b, valid: 16), context: ctx)
            #expect(x == y, "request \(step) \(json.debugDescription): scan \(String(decoding: x.response, as: UTF8.self)) parser \(String(decoding: y.response, as: UTF8.self))")
            #expect(a.elementsEqual(b), "request \(step) \(json.debugDescription): the data buffers differ")
            return x.response
        }
        let open = try JSONParser.parse(try both(#"{"operation":"open","path":"blob-0"}"#))
        let handle = try #require(open["fastpathFileHandle"]?.string)
        let token = try #require(open["fastpathSessionToken"]?.string)
        let tag = try #require(open["eTag"]?.string)
        let all = BlobServiceScanTests.requests(handle: handle, token: token, eTag: tag)
        var scanned = 0
        for r in all {
            if ServiceRequest(scanning: Array(r.utf8)[...]) != nil { scanned += 1 }
            _ = try both(r)
        }
        #expect(scanning.state.statuses == parsing.state.statuses)
        #expect(scanning.state.blobs.mapValues(\.bytes) == parsing.state.blobs.mapValues(\.bytes))
        #expect(Set(scanning.state.sessions.keys) == Set(parsing.state.sessions.keys))
        // Both ways were taken, and the answers were not all errors.
        #expect(scanned >= 20 && scanned < all.count - 100, "\(scanned) of \(all.count) scanned")
        #expect(scanning.state.statuses[206, default: 0] >= 4 && scanning.state.statuses[400, default: 0] >= 50,
                "\(scanning.state.statuses)")
    }

    @Test("blob-service.clientRequestId: the GUID's text as %pUl prints it")
    func guidText() {
        let g = GUID(0x0590_b792, 0xdb64, 0x45cc, [0x81, 0xdb, 0xb8, 0xd7, 0x0c, 0x57, 0x7c, 0x9e])
        #expect(g.description == "0590b792-db64-45cc-81db-b8d70c577c9e")
        #expect(GUID(string: g.description) == g)
    }
}
