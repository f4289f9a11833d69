// SPDX-License-Identifier: Apache-2.0
import Foundation

/// One line of text with the byte offset in the original file where it starts, so an error
/// deep inside a decoded body can still point at a place in the file the user gave.
struct SourceLine: Sendable {
    /// The line's bytes without its line feed (and, once transport CRs are stripped, without CR).
    var bytes: [UInt8]
    /// Byte offset in the file of the line's start (for encoded bodies, of the encoded text
    /// the line was decoded from).
    var offset: Int
    /// Whether a line feed ended the line (false only for a file's last, unterminated line).
    var terminated: Bool

    func hasPrefix(_ s: String) -> Bool { bytes.starts(with: Array(s.utf8)) }
    var text: String { String(decoding: bytes, as: UTF8.self) }
}

/// A patch mail, a `git format-patch` file or an mbox, read into messages whose text bodies
/// are ready for a diff parser: headers unfolded and decoded, bodies transfer-decoded and
/// multipart bodies split into their parts.
struct PatchMail: Sendable {
    struct Message: Sendable {
        /// Header fields in order, names as written, values unfolded (RFC 2047 not yet decoded).
        var headers: [(name: String, value: String)]
        /// The text bodies (the main body, or each leaf part of a multipart body), in order.
        var texts: [[SourceLine]]
        /// Byte offset of the message in the file.
        var offset: Int

        func header(_ name: String) -> String? {
            headers.first { $0.name.caseInsensitiveCompare(name) == .orderedSame }?.value
        }
        var subject: String? { header("Subject").map(PatchMail.decodeEncodedWords) }
        var messageID: String? {
            header("Message-Id").map { $0.trimmingCharacters(in: .whitespaces.union(CharacterSet(charactersIn: "<>"))) }
        }
    }

    var messages: [Message]

    /// Splits `data` into lines, each with its offset.
    static func lines(_ data: [UInt8]) -> [SourceLine] {
        var out: [SourceLine] = []
        var start = 0
        for i in data.indices where data[i] == 0x0A {
            out.append(SourceLine(bytes: Array(data[start..<i]), offset: start, terminated: true))
            start = i + 1
        }
        if start < data.count { out.append(SourceLine(bytes: Array(data[start...]), offset: start, terminated: false)) }
        return out
    }

    init(_ data: [UInt8]) {
        let all = Self.lines(data)
        messages = Self.split(all).map { Self.message($0) }
    }

    // MARK: mbox

    /// Whether line `i` is an mbox separator: `From ` at the start of the file or after a
    /// blank line, followed by a header field (so "From the start, ..." in a commit message
    /// does not split a `git format-patch` file).
    static func isSeparator(_ lines: [SourceLine], _ i: Int) -> Bool {
        guard lines[i].hasPrefix("From ") else { return false }
        if i > 0 && !stripCR(lines[i - 1].bytes).isEmpty { return false }
        guard i + 1 < lines.count else { return false }
        return isHeaderField(stripCR(lines[i + 1].bytes))
    }

    static func isHeaderField(_ b: [UInt8]) -> Bool {
        guard let colon = b.firstIndex(of: UInt8(ascii: ":")), colon > 0 else { return false }
        return b[..<colon].allSatisfy { c in
            (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) || c == UInt8(ascii: "-") || c == UInt8(ascii: "_")
        }
    }

    static func split(_ lines: [SourceLine]) -> [[SourceLine]] {
        var out: [[SourceLine]] = []
        var current: [SourceLine] = []
        for i in lines.indices {
            if isSeparator(lines, i) {
                if current.contains(where: { !stripCR($0.bytes).isEmpty }) { out.append(current) }
                current = []
                continue
            }
            var l = lines[i]
            // mboxrd escapes body lines that start with "From " as ">From " (and ">From " as ">>From ").
            if let n = l.bytes.firstIndex(where: { $0 != UInt8(ascii: ">") }), n > 0, l.bytes[n...].starts(with: Array("From ".utf8)) {
                l.bytes.removeFirst()
            }
            current.append(l)
        }
        if current.contains(where: { !stripCR($0.bytes).isEmpty }) { out.append(current) }
        return out
    }

    static func stripCR(_ b: [UInt8]) -> [UInt8] {
        b.last == 0x0D ? Array(b.dropLast()) : b
    }

    // MARK: RFC 822 / MIME

    /// Parses header fields at the top of `lines`; returns them and the index of the first body
    /// line. Text that does not start with a header field (a bare `git diff`) has no headers.
    static func headers(_ lines: [SourceLine]) -> ([(name: String, value: String)], Int) {
        var fields: [(name: String, value: String)] = []
        var i = 0
        while i < lines.count {
            let b = stripCR(lines[i].bytes)
            if b.isEmpty { return (fields, i + 1) }
            if b.first == 0x20 || b.first == 0x09 {
                // A continuation of the previous field (folded header).
                if fields.isEmpty { return ([], 0) }
                fields[fields.count - 1].value += " " + String(decoding: b, as: UTF8.self).trimmingCharacters(in: .whitespaces)
            } else if isHeaderField(b) {
                let s = String(decoding: b, as: UTF8.self)
                let colon = s.firstIndex(of: ":")!
                fields.append((String(s[..<colon]), String(s[s.index(after: colon)...]).trimmingCharacters(in: .whitespaces)))
            } else {
                // Not a header block at all (or it ended without a blank line): all body.
                return fields.isEmpty ? ([], 0) : (fields, i)
            }
            i += 1
        }
        return (fields, lines.count)
    }

    /// A header value's main token (lowercased) and its parameters (names lowercased).
    static func parameters(_ value: String) -> (String, [String: String]) {
        var parts: [String] = []
        var cur = ""
        var quoted = false
        for c in value {
            if c == "\"" { quoted.toggle(); continue }
            if c == ";" && !quoted { parts.append(cur); cur = ""; continue }
            cur.append(c)
        }
        parts.append(cur)
        let main = parts[0].trimmingCharacters(in: .whitespaces).lowercased()
        var params: [String: String] = [:]
        for p in parts.dropFirst() {
            guard let eq = p.firstIndex(of: "=") else { continue }
            params[p[..<eq].trimmingCharacters(in: .whitespaces).lowercased()] = p[p.index(after: eq)...].trimmingCharacters(in: .whitespaces)
        }
        return (main, params)
    }

    static func message(_ lines: [SourceLine]) -> Message {
        let (fields, bodyStart) = headers(lines)
        var m = Message(headers: fields, texts: [], offset: lines.first?.offset ?? 0)
        m.texts = bodies(fields, Array(lines[bodyStart...]), depth: 0)
        return m
    }

    /// The text bodies of an entity: itself, transfer-decoded, or each of its parts.
    static func bodies(_ fields: [(name: String, value: String)], _ body: [SourceLine], depth: Int) -> [[SourceLine]] {
        func field(_ n: String) -> String? { fields.first { $0.name.caseInsensitiveCompare(n) == .orderedSame }?.value }
        let (type, params) = parameters(field("Content-Type") ?? "text/plain")
        if type.hasPrefix("multipart/"), let boundary = params["boundary"], depth < 8 {
            var out: [[SourceLine]] = []
            for part in parts(body, boundary: boundary) {
                let (pf, start) = partHeaders(part)
                out += bodies(pf, Array(part[start...]), depth: depth + 1)
            }
            return out
        }
        if type.hasPrefix("image/") || type.hasPrefix("audio/") || type.hasPrefix("video/") { return [] }
        let (encoding, _) = parameters(field("Content-Transfer-Encoding") ?? "7bit")
        switch encoding {
        case "quoted-printable": return [quotedPrintable(body)]
        case "base64": return [base64(body)]
        default: return [body]
        }
    }

    /// A MIME part's headers: none when it starts with a blank line.
    static func partHeaders(_ part: [SourceLine]) -> ([(name: String, value: String)], Int) {
        guard let first = part.first else { return ([], 0) }
        if stripCR(first.bytes).isEmpty { return ([], 1) }
        return headers(part)
    }

    /// Splits a multipart body at its boundary lines; the preamble and epilogue are dropped.
    static func parts(_ body: [SourceLine], boundary: String) -> [[SourceLine]] {
        let open = Array("--\(boundary)".utf8)
        let close = Array("--\(boundary)--".utf8)
        var out: [[SourceLine]] = []
        var current: [SourceLine]? = nil
        for l in body {
            var b = stripCR(l.bytes)
            while let last = b.last, last == 0x20 || last == 0x09 { b.removeLast() }
            if b == close {
                if let c = current { out.append(c) }
                return out
            }
            if b == open {
                if let c = current { out.append(c) }
                current = []
                continue
            }
            current?.append(l)
        }
        if let c = current { out.append(c) }
        return out
    }

    // MARK: transfer encodings

    static func hexValue(_ c: UInt8) -> UInt8? {
        switch c {
        case 0x30...0x39: return c - 0x30
        case 0x41...0x46: return c - 0x41 + 10
        case 0x61...0x66: return c - 0x61 + 10
        default: return nil
        }
    }

    /// Decodes a quoted-printable body; each decoded line keeps the offset of the encoded line
    /// it starts on (a soft line break, `=` at the end, joins encoded lines).
    static func quotedPrintable(_ body: [SourceLine]) -> [SourceLine] {
        var out: [SourceLine] = []
        var current: [UInt8] = []
        var start: Int? = nil
        for l in body {
            var b = stripCR(l.bytes)
            // Trailing whitespace on an encoded line is transport padding (RFC 2045 6.7 (3)).
            while let last = b.last, last == 0x20 || last == 0x09 { b.removeLast() }
            if start == nil { start = l.offset }
            var soft = false
            var i = 0
            while i < b.count {
                let c = b[i]
                if c == UInt8(ascii: "=") {
                    if i == b.count - 1 { soft = true; break }
                    if i + 2 < b.count, let h = hexValue(b[i + 1]), let lo = hexValue(b[i + 2]) {
                        current.append(h << 4 | lo)
                        i += 3
                        continue
                    }
                }
                current.append(c)
                i += 1
            }
            if soft && l.terminated { continue }
            out.append(SourceLine(bytes: current, offset: start ?? l.offset, terminated: l.terminated))
            current = []
            start = nil
        }
        if !current.isEmpty, let s = start { out.append(SourceLine(bytes: current, offset: s, terminated: false)) }
        return out
    }

    /// Decodes a base64 body; each decoded line gets the offset of the encoded character its
    /// first byte came from.
    static func base64(_ body: [SourceLine]) -> [SourceLine] {
        var decoded: [UInt8] = []
        var origin: [Int] = []  // offset in the file of each decoded byte's quantum
        var quad: [UInt8] = []
        var quadStart = 0
        func value(_ c: UInt8) -> UInt8? {
            switch c {
            case 0x41...0x5A: return c - 0x41
            case 0x61...0x7A: return c - 0x61 + 26
            case 0x30...0x39: return c - 0x30 + 52
            case UInt8(ascii: "+"), UInt8(ascii: "-"): return 62
            case UInt8(ascii: "/"), UInt8(ascii: "_"): return 63
            default: return nil
            }
        }
        outer: for l in body {
            for (k, c) in l.bytes.enumerated() {
                if c == UInt8(ascii: "=") { break outer }
                guard let v = value(c) else { continue }
                if quad.isEmpty { quadStart = l.offset + k }
                quad.append(v)
                if quad.count == 4 {
                    decoded += [quad[0] << 2 | quad[1] >> 4, quad[1] << 4 | quad[2] >> 2, quad[2] << 6 | quad[3]]
                    origin += [quadStart, quadStart, quadStart]
                    quad = []
                }
            }
        }
        if quad.count >= 2 {
            decoded.append(quad[0] << 2 | quad[1] >> 4)
            origin.append(quadStart)
            if quad.count == 3 {
                decoded.append(quad[1] << 4 | quad[2] >> 2)
                origin.append(quadStart)
            }
        }
        let base = body.first?.offset ?? 0
        return lines(decoded).map { l in
            var l = l
            l.offset = l.offset < origin.count ? origin[l.offset] : (origin.last ?? base)
            return l
        }
    }

    // MARK: RFC 2047

    /// Decodes `=?charset?B?...?=` and `=?charset?Q?...?=` words in a header value; whitespace
    /// between two encoded words is dropped, as RFC 2047 section 6.2 says.
    static func decodeEncodedWords(_ value: String) -> String {
        guard value.contains("=?") else { return value }
        var out = ""
        var rest = Substring(value)
        var pendingSpace = ""
        var lastWasEncoded = false
        while !rest.isEmpty {
            if rest.hasPrefix("=?"), let (text, length) = encodedWord(rest) {
                if !lastWasEncoded { out += pendingSpace }
                pendingSpace = ""
                out += text
                rest = rest.dropFirst(length)
                lastWasEncoded = true
                continue
            }
            let c = rest.removeFirst()
            if c == " " || c == "\t" {
                pendingSpace.append(c)
                continue
            }
            out += pendingSpace
            pendingSpace = ""
            out.append(c)
            lastWasEncoded = false
        }
        return out + pendingSpace
    }

    /// One encoded word at the start of `s`: its text and how many characters it spans.
    static func encodedWord(_ s: Substring) -> (String, Int)? {
        let parts = s.dropFirst(2).split(separator: "?", maxSplits: 3, omittingEmptySubsequences: false)
        guard parts.count == 4, parts[3].hasPrefix("=") else { return nil }
        let charset = parts[0].split(separator: "*").first.map { $0.lowercased() } ?? ""
        let enc = parts[1].uppercased()
        let payload = Array(parts[2].utf8)
        var bytes: [UInt8] = []
        if enc == "B" {
            bytes = base64([SourceLine(bytes: payload, offset: 0, terminated: false)]).flatMap { $0.bytes + ($0.terminated ? [0x0A] : []) }
        } else if enc == "Q" {
            var i = 0
            while i < payload.count {
                let c = payload[i]
                if c == UInt8(ascii: "_") { bytes.append(0x20); i += 1; continue }
                if c == UInt8(ascii: "="), i + 2 < payload.count, let h = hexValue(payload[i + 1]), let l = hexValue(payload[i + 2]) {
                    bytes.append(h << 4 | l); i += 3; continue
                }
                bytes.append(c); i += 1
            }
        } else {
            return nil
        }
        let text: String
        switch charset {
        case "utf-8", "utf8", "us-ascii": text = String(decoding: bytes, as: UTF8.self)
        case "iso-8859-1", "latin1", "iso-8859-15", "windows-1252":
            text = String(bytes.map { Character(Unicode.Scalar($0)) })
        default: text = String(decoding: bytes, as: UTF8.self)
        }
        let length = 2 + parts[0].count + 1 + parts[1].count + 1 + parts[2].count + 2
        return (text, length)
    }
}
