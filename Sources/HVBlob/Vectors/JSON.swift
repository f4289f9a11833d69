// SPDX-License-Identifier: Apache-2.0

/// A JSON value that remembers the byte offset it started at, so that an error about a vector
/// can name the file and the byte. Parsing is strict RFC 8259 with limits (depth, size); it
/// throws `JSONError` and never traps.
public indirect enum JSON: Sendable, Equatable {
    case null
    case bool(Bool)
    /// Numbers keep their text: vectors use integers up to 64 bits, which a Double would round.
    case number(String)
    case string(String)
    case array([JSONNode])
    case object([(key: String, value: JSONNode)])

    public static func == (a: JSON, b: JSON) -> Bool {
        switch (a, b) {
        case (.null, .null): return true
        case (.bool(let x), .bool(let y)): return x == y
        case (.number(let x), .number(let y)): return x == y
        case (.string(let x), .string(let y)): return x == y
        case (.array(let x), .array(let y)): return x.map(\.value) == y.map(\.value)
        case (.object(let x), .object(let y)):
            return x.count == y.count && zip(x, y).allSatisfy { $0.key == $1.key && $0.value.value == $1.value.value }
        default: return false
        }
    }

    public var typeName: String {
        switch self {
        case .null: return "null"
        case .bool: return "boolean"
        case .number(let t): return t.contains(where: { $0 == "." || $0 == "e" || $0 == "E" }) ? "number" : "integer"
        case .string: return "string"
        case .array: return "array"
        case .object: return "object"
        }
    }
}

public struct JSONNode: Sendable, Equatable {
    public var value: JSON
    /// Byte offset in the source text (0 for values built in code).
    public var offset: Int

    public init(_ value: JSON, offset: Int = 0) {
        self.value = value
        self.offset = offset
    }

    public subscript(key: String) -> JSONNode? {
        if case .object(let members) = value { return members.first { $0.key == key }?.value }
        return nil
    }

    public var string: String? { if case .string(let s) = value { return s }; return nil }
    public var bool: Bool? { if case .bool(let b) = value { return b }; return nil }
    public var array: [JSONNode]? { if case .array(let a) = value { return a }; return nil }
    public var int: Int64? { if case .number(let t) = value { return Int64(t) }; return nil }
    public var uint: UInt64? { if case .number(let t) = value { return UInt64(t) }; return nil }
    public var members: [(key: String, value: JSONNode)]? { if case .object(let m) = value { return m }; return nil }
}

public struct JSONError: Error, Hashable, Sendable, CustomStringConvertible {
    public let offset: Int
    public let detail: String
    public var file: String?
    public init(_ offset: Int, _ detail: String, file: String? = nil) {
        self.offset = offset
        self.detail = detail
        self.file = file
    }
    public var description: String { "\(file ?? "json"): byte \(offset): \(detail)" }
}

public enum JSONParser {
    public static let maxDepth = 64
    public static let maxSize = 64 << 20

    public static func parse(_ bytes: [UInt8]) throws(JSONError) -> JSONNode {
        guard bytes.count <= maxSize else { throw JSONError(0, "file of \(bytes.count) bytes exceeds the \(maxSize)-byte limit") }
        var p = Cursor(bytes: bytes)
        p.skipSpace()
        let v = try p.value(depth: 0)
        p.skipSpace()
        if p.at < bytes.count { throw JSONError(p.at, "unexpected '\(p.show(bytes[p.at]))' after the top-level value") }
        return v
    }

    struct Cursor {
        let bytes: [UInt8]
        var at = 0

        func show(_ b: UInt8) -> String { b >= 0x20 && b < 0x7f ? String(UnicodeScalar(b)) : "0x" + String(b, radix: 16) }

        mutating func skipSpace() {
            while at < bytes.count, bytes[at] == 0x20 || bytes[at] == 0x0a || bytes[at] == 0x0d || bytes[at] == 0x09 { at += 1 }
        }

        mutating func value(depth: Int) throws(JSONError) -> JSONNode {
            guard depth < JSONParser.maxDepth else { throw JSONError(at, "nesting deeper than \(JSONParser.maxDepth)") }
            guard at < bytes.count else { throw JSONError(at, "unexpected end of input: a value is missing") }
            let start = at
            switch bytes[at] {
            case UInt8(ascii: "{"):
                at += 1
                var members: [(key: String, value: JSONNode)] = []
                skipSpace()
                if at < bytes.count, bytes[at] == UInt8(ascii: "}") { at += 1; return JSONNode(.object(members), offset: start) }
                while true {
                    skipSpace()
                    guard at < bytes.count, bytes[at] == UInt8(ascii: "\"") else {
                        throw JSONError(at, at < bytes.count ? "expected a member name in quotes, found '\(show(bytes[at]))'" : "unexpected end of input in an object")
                    }
                    let keyAt = at
                    let key = try string()
                    if members.contains(where: { $0.key == key }) { throw JSONError(keyAt, "duplicate member \"\(key)\"") }
                    skipSpace()
                    try expect(UInt8(ascii: ":"), "':' after a member name")
                    skipSpace()
                    members.append((key, try value(depth: depth + 1)))
                    skipSpace()
                    guard at < bytes.count else { throw JSONError(at, "unexpected end of input in an object") }
                    if bytes[at] == UInt8(ascii: ",") { at += 1; continue }
                    try expect(UInt8(ascii: "}"), "',' or '}' in an object")
                    return JSONNode(.object(members), offset: start)
                }
            case UInt8(ascii: "["):
                at += 1
                var items: [JSONNode] = []
                skipSpace()
                if at < bytes.count, bytes[at] == UInt8(ascii: "]") { at += 1; return JSONNode(.array(items), offset: start) }
                while true {
                    skipSpace()
                    items.append(try value(depth: depth + 1))
                    skipSpace()
                    guard at < bytes.count else { throw JSONError(at, "unexpected end of input in an array") }
                    if bytes[at] == UInt8(ascii: ",") { at += 1; continue }
                    try expect(UInt8(ascii: "]"), "',' or ']' in an array")
                    return JSONNode(.array(items), offset: start)
                }
            case UInt8(ascii: "\""):
                return JSONNode(.string(try string()), offset: start)
            case UInt8(ascii: "t"):
                try literal("true"); return JSONNode(.bool(true), offset: start)
            case UInt8(ascii: "f"):
                try literal("false"); return JSONNode(.bool(false), offset: start)
            case UInt8(ascii: "n"):
                try literal("null"); return JSONNode(.null, offset: start)
            case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
                return JSONNode(.number(try number()), offset: start)
            default:
                throw JSONError(at, "unexpected '\(show(bytes[at]))' where a value should start")
            }
        }

        mutating func expect(_ c: UInt8, _ what: String) throws(JSONError) {
            guard at < bytes.count else { throw JSONError(at, "unexpected end of input: expected \(what)") }
            guard bytes[at] == c else { throw JSONError(at, "expected \(what), found '\(show(bytes[at]))'") }
            at += 1
        }

        mutating func literal(_ word: String) throws(JSONError) {
            for c in word.utf8 {
                guard at < bytes.count, bytes[at] == c else { throw JSONError(at, "invalid literal (expected \(word))") }
                at += 1
            }
        }

        mutating func number() throws(JSONError) -> String {
            let start = at
            if bytes[at] == UInt8(ascii: "-") { at += 1 }
            func digits() -> Int {
                let s = at
                while at < bytes.count, bytes[at] >= 0x30, bytes[at] <= 0x39 { at += 1 }
                return at - s
            }
            let intStart = at
            let n = digits()
            guard n > 0 else { throw JSONError(at, "a number needs digits") }
            if n > 1 && bytes[intStart] == 0x30 { throw JSONError(intStart, "leading zero in a number") }
            if at < bytes.count, bytes[at] == UInt8(ascii: ".") {
                at += 1
                guard digits() > 0 else { throw JSONError(at, "digits expected after '.'") }
            }
            if at < bytes.count, bytes[at] == UInt8(ascii: "e") || bytes[at] == UInt8(ascii: "E") {
                at += 1
                if at < bytes.count, bytes[at] == UInt8(ascii: "+") || bytes[at] == UInt8(ascii: "-") { at += 1 }
                guard digits() > 0 else { throw JSONError(at, "digits expected in the exponent") }
            }
            return String(decoding: bytes[start..<at], as: UTF8.self)
        }

        mutating func hex4() throws(JSONError) -> UInt32 {
            guard bytes.count - at >= 4 else { throw JSONError(at, "\\u needs four hex digits") }
            var v: UInt32 = 0
            for _ in 0..<4 {
                let c = bytes[at]
                let d: UInt8
                switch c {
                case 0x30...0x39: d = c - 0x30
                case 0x61...0x66: d = c - 0x61 + 10
                case 0x41...0x46: d = c - 0x41 + 10
                default: throw JSONError(at, "bad hex digit '\(show(c))' in \\u escape")
                }
                v = v << 4 | UInt32(d)
                at += 1
            }
            return v
        }

        mutating func string() throws(JSONError) -> String {
            let open = at
            at += 1
            var out = [UInt8]()
            while true {
                guard at < bytes.count else { throw JSONError(open, "string not terminated") }
                let c = bytes[at]
                if c == UInt8(ascii: "\"") { at += 1; break }
                if c < 0x20 { throw JSONError(at, "control character 0x\(String(c, radix: 16)) in a string") }
                if c != UInt8(ascii: "\\") { out.append(c); at += 1; continue }
                at += 1
                guard at < bytes.count else { throw JSONError(at, "string ends inside an escape") }
                let e = bytes[at]
                at += 1
                switch e {
                case UInt8(ascii: "\""): out.append(0x22)
                case UInt8(ascii: "\\"): out.append(0x5c)
                case UInt8(ascii: "/"): out.append(0x2f)
                case UInt8(ascii: "b"): out.append(0x08)
                case UInt8(ascii: "f"): out.append(0x0c)
                case UInt8(ascii: "n"): out.append(0x0a)
                case UInt8(ascii: "r"): out.append(0x0d)
                case UInt8(ascii: "t"): out.append(0x09)
                case UInt8(ascii: "u"):
                    let escAt = at - 2
                    var scalar = try hex4()
                    if (0xD800...0xDBFF).contains(scalar) {
                        guard bytes.count - at >= 6, bytes[at] == 0x5c, bytes[at + 1] == UInt8(ascii: "u") else {
                            throw JSONError(escAt, "lone high surrogate in \\u escape")
                        }
                        at += 2
                        let low = try hex4()
                        guard (0xDC00...0xDFFF).contains(low) else { throw JSONError(escAt, "bad surrogate pair") }
                        scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                    }
                    guard let u = Unicode.Scalar(scalar) else { throw JSONError(escAt, "\\u escape is not a Unicode scalar") }
                    out.append(contentsOf: Array(String(Character(u)).utf8))
                default:
                    throw JSONError(at - 1, "unknown escape '\\\(show(e))'")
                }
            }
            guard let s = String(validating: out, as: UTF8.self) else { throw JSONError(open, "string is not valid UTF-8") }
            return s
        }
    }
}

// MARK: writing (deterministic: members in the order given, two-space indent)

extension JSON {
    public static func int<T: BinaryInteger>(_ v: T) -> JSON { .number(String(v)) }

    public func serialized(indent: Int = 0) -> String {
        var out = ""
        write(into: &out, indent: indent)
        return out
    }

    func write(into out: inout String, indent: Int) {
        let pad = String(repeating: " ", count: indent)
        switch self {
        case .null: out += "null"
        case .bool(let b): out += b ? "true" : "false"
        case .number(let t): out += t
        case .string(let s): out += JSON.quote(s)
        case .array(let items):
            if items.isEmpty { out += "[]"; return }
            // Arrays of scalars stay on one line.
            if items.allSatisfy({ if case .array = $0.value { return false }; if case .object = $0.value { return false }; return true }) {
                out += "[" + items.map { $0.value.serialized() }.joined(separator: ", ") + "]"
                return
            }
            out += "[\n"
            for (i, item) in items.enumerated() {
                out += pad + "  "
                item.value.write(into: &out, indent: indent + 2)
                out += i + 1 < items.count ? ",\n" : "\n"
            }
            out += pad + "]"
        case .object(let members):
            if members.isEmpty { out += "{}"; return }
            out += "{\n"
            for (i, m) in members.enumerated() {
                out += pad + "  " + JSON.quote(m.key) + ": "
                m.value.value.write(into: &out, indent: indent + 2)
                out += i + 1 < members.count ? ",\n" : "\n"
            }
            out += pad + "}"
        }
    }

    static func quote(_ s: String) -> String {
        var out = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            case "\r": out += "\\r"
            default:
                if u.value < 0x20 {
                    let h = String(u.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - h.count) + h
                } else {
                    out.unicodeScalars.append(u)
                }
            }
        }
        return out + "\""
    }
}

/// Building objects in code: `obj(["a": .int(1)])` keeps the order written.
public func obj(_ members: KeyValuePairs<String, JSON>) -> JSON {
    .object(members.map { (key: $0.key, value: JSONNode($0.value)) })
}

public func arr(_ items: [JSON]) -> JSON { .array(items.map { JSONNode($0) }) }
