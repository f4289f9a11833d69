// SPDX-License-Identifier: Apache-2.0
import Foundation
import HVBlob

/// Reads a driver revision's own user-space ABI (its ioctl command numbers and the layout of its
/// request struct) from its own sources, so the harness talks to each revision the way that
/// revision reads requests, never through a constant.
///
/// The names come from a scan of the driver's .c and the headers it includes that belong to it
/// (not the kernel shim's); the numbers come from the C compiler: a generated probe program
/// includes the driver (or, when the driver does not compile against today's shim, only its
/// headers, or at last only the definitions copied out of them), prints every command's value
/// and every member's `offsetof`/`sizeof`, and is run. Results are cached by content hash.
public enum ABIProbe {
    /// How the probe saw the driver's definitions, most faithful first.
    public enum Method: String, Sendable, Hashable, CaseIterable, CustomStringConvertible {
        /// The probe included the driver's .c: every type and macro exactly as the driver sees them.
        case driver
        /// The driver did not compile; the probe included only the headers that define the
        /// commands and the request struct (after the shim's types, ioctl and uuid headers).
        case headers
        /// Those headers did not compile either; the probe carried the struct and macro
        /// definitions copied out of them (after the same shim headers).
        case definitions

        public var description: String {
            switch self {
            case .driver: "the driver's .c"
            case .headers: "the driver's headers only"
            case .definitions: "definitions copied from the driver's headers"
            }
        }
    }

    /// A way of probing that did not compile, with the compiler's first errors (file:line: ...).
    public struct Attempt: Sendable, Hashable, CustomStringConvertible {
        public var method: Method
        public var errors: [String]
        public var description: String {
            "via \(method): " + (errors.isEmpty ? "failed" : errors.joined(separator: "\n    "))
        }
    }

    /// What a probe found, and how.
    public struct Result: Sendable, CustomStringConvertible {
        public var abi: DriverABI
        public var method: Method
        /// Ways tried first that did not compile.
        public var fallbacks: [Attempt]
        /// Cross-check findings (a command whose size field is not sizeof its struct, a field of
        /// an unexpected width, a role matched by several members).
        public var notes: [String]
        /// The driver's files the scan read, in the order read.
        public var scanned: [String]
        /// Whether the numbers came from the cache.
        public var cached: Bool

        public var description: String {
            var s = "\(abi) [read via \(method)\(cached ? ", cached" : ""); header \(abi.header)]"
            for f in fallbacks { s += "\n  fallback: \(f.method) did not compile: \(f.errors.first ?? "failed")" }
            for n in notes { s += "\n  note: \(n)" }
            return s
        }
    }

    public enum Failure: Error, Sendable, CustomStringConvertible {
        /// The driver file (or a forced include) cannot be read.
        case unreadable(path: String)
        /// No `#define NAME _IO/_IOR/_IOW/_IOWR(...)` in any file scanned.
        case noIoctlCommand(scanned: [String])
        /// No command's argument type is a struct defined in the files scanned.
        case requestStructNotFound(commands: [String], scanned: [String])
        /// The best candidate struct lacks a member for required roles.
        case roleMissing(structName: String, roles: [String], members: [String], command: String)
        /// No way of probing compiled.
        case probeDidNotCompile(attempts: [Attempt])
        /// The probe program exited abnormally (or did not finish in time).
        case probeCrashed(status: Int32, reason: String, output: String)
        /// The probe ran but did not print what was asked for.
        case probeOutputUnreadable(reason: String, output: String)

        public var description: String {
            switch self {
            case .unreadable(let path):
                return "ABI probe: cannot read \(path)"
            case .noIoctlCommand(let scanned):
                return "ABI probe: no ioctl command macro (#define NAME _IO/_IOR/_IOW/_IOWR(...)) in the files scanned: "
                    + scanned.joined(separator: ", ")
            case .requestStructNotFound(let commands, let scanned):
                return "ABI probe: no ioctl command takes a struct defined in the driver's files; commands: "
                    + commands.joined(separator: ", ") + "; files scanned: " + scanned.joined(separator: ", ")
            case .roleMissing(let name, let roles, let members, let command):
                return "ABI probe: \(name) (argument of \(command)) has no member for "
                    + roles.joined(separator: ", ") + "; members found: "
                    + (members.isEmpty ? "(none)" : members.joined(separator: ", "))
            case .probeDidNotCompile(let attempts):
                return "ABI probe did not compile:\n  " + attempts.map(\.description).joined(separator: "\n  ")
            case .probeCrashed(let status, let reason, let output):
                return "ABI probe \(reason) (status \(status))" + (output.isEmpty ? "" : ":\n\(output.prefix(2000))")
            case .probeOutputUnreadable(let reason, let output):
                return "ABI probe output unreadable: \(reason)\n\(output.prefix(2000))"
            }
        }
    }

    /// Where probe results are cached.
    public static var cacheDirectory: URL {
        FileManager.default.temporaryDirectory.appendingPathComponent("hvblob-abi")
    }

    /// The driver's ABI, read through its own headers.
    public static func read(_ source: DriverSource, version: KernelVersion) throws(Failure) -> DriverABI {
        try probe(source, version: version).abi
    }

    /// The driver's ABI with how it was read and what the cross-checks found.
    public static func probe(_ source: DriverSource, version: KernelVersion) throws(Failure) -> Result {
        let scan = try Scan(source)
        guard !scan.commands.isEmpty else { throw .noIoctlCommand(scanned: scan.files.map(\.path)) }
        let choice = try choose(scan)

        let key = cacheKey(scan, source: source, version: version)
        let cacheFile = cacheDirectory.appendingPathComponent("\(key).probe")
        if let text = try? String(contentsOf: cacheFile, encoding: .utf8),
           let stored = Stored(text), let r = try? assemble(scan, choice, stored, cached: true) {
            return r
        }
        let stored = try compileAndRun(scan, choice, source: source, version: version, key: key)
        let result = try assemble(scan, choice, stored, cached: false)
        try? FileManager.default.createDirectory(at: cacheDirectory, withIntermediateDirectories: true)
        let tmp = cacheFile.path + ".\(getpid()).tmp"
        if (try? stored.text.write(toFile: tmp, atomically: false, encoding: .utf8)) != nil {
            _ = try? FileManager.default.removeItem(at: cacheFile)
            if (try? FileManager.default.moveItem(atPath: tmp, toPath: cacheFile.path)) == nil {
                _ = try? FileManager.default.removeItem(atPath: tmp)
            }
        }
        return result
    }
}

// MARK: - Source text

extension ABIProbe {
    /// A C token: an identifier or number, a literal, or punctuation.
    struct Token: Hashable {
        var text: String
        var isIdentifier: Bool { text.first.map { $0 == "_" || $0.isLetter } ?? false }
    }

    /// Joins backslash-continued lines and replaces comments by a space (string and character
    /// literals kept), as translation phases 2 and 3 do.
    static func clean(_ text: String) -> String {
        var b = Array(text.utf8)
        // Phase 2: backslash (optionally trailed by blanks) then newline joins the lines.
        var spliced: [UInt8] = []
        spliced.reserveCapacity(b.count)
        var i = 0
        while i < b.count {
            if b[i] == UInt8(ascii: "\\") {
                var j = i + 1
                while j < b.count, b[j] == UInt8(ascii: " ") || b[j] == UInt8(ascii: "\t") || b[j] == UInt8(ascii: "\r") { j += 1 }
                if j < b.count, b[j] == UInt8(ascii: "\n") {
                    i = j + 1
                    continue
                }
            }
            if b[i] != UInt8(ascii: "\r") { spliced.append(b[i]) }
            i += 1
        }
        b = spliced
        var out: [UInt8] = []
        out.reserveCapacity(b.count)
        i = 0
        while i < b.count {
            let c = b[i]
            if c == UInt8(ascii: "/"), i + 1 < b.count, b[i + 1] == UInt8(ascii: "*") {
                i += 2
                while i + 1 < b.count, !(b[i] == UInt8(ascii: "*") && b[i + 1] == UInt8(ascii: "/")) { i += 1 }
                i += 2
                out.append(UInt8(ascii: " "))
            } else if c == UInt8(ascii: "/"), i + 1 < b.count, b[i + 1] == UInt8(ascii: "/") {
                while i < b.count, b[i] != UInt8(ascii: "\n") { i += 1 }
            } else if c == UInt8(ascii: "\"") || c == UInt8(ascii: "'") {
                out.append(c)
                i += 1
                while i < b.count, b[i] != c, b[i] != UInt8(ascii: "\n") {
                    if b[i] == UInt8(ascii: "\\"), i + 1 < b.count {
                        out.append(b[i])
                        i += 1
                    }
                    out.append(b[i])
                    i += 1
                }
                if i < b.count, b[i] == c {
                    out.append(c)
                    i += 1
                }
            } else {
                out.append(c)
                i += 1
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    static func tokenize(_ text: String) -> [Token] {
        let b = Array(text.utf8)
        var out: [Token] = []
        var i = 0
        func word(_ c: UInt8) -> Bool {
            (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) || c == 0x5F
        }
        let three: Set<String> = ["...", "<<=", ">>="]
        let two: Set<String> = ["<<", ">>", "->", "==", "!=", "<=", ">=", "&&", "||", "++", "--", "##",
                                "+=", "-=", "*=", "/=", "|=", "&=", "^=", "%="]
        while i < b.count {
            let c = b[i]
            if c == 0x20 || c == 0x09 || c == 0x0A || c == 0x0B || c == 0x0C || c == 0x0D {
                i += 1
            } else if word(c) {
                let start = i
                let number = c >= 0x30 && c <= 0x39
                while i < b.count, word(b[i]) || (number && b[i] == UInt8(ascii: ".")) { i += 1 }
                out.append(Token(text: String(decoding: b[start..<i], as: UTF8.self)))
            } else if c == UInt8(ascii: "\"") || c == UInt8(ascii: "'") {
                let start = i
                i += 1
                while i < b.count, b[i] != c {
                    if b[i] == UInt8(ascii: "\\") { i += 1 }
                    i += 1
                }
                i = min(i + 1, b.count)
                out.append(Token(text: String(decoding: b[start..<i], as: UTF8.self)))
            } else {
                let rest = { (n: Int) in i + n <= b.count ? String(decoding: b[i..<i + n], as: UTF8.self) : "" }
                if three.contains(rest(3)) {
                    out.append(Token(text: rest(3)))
                    i += 3
                } else if two.contains(rest(2)) {
                    out.append(Token(text: rest(2)))
                    i += 2
                } else {
                    out.append(Token(text: String(UnicodeScalar(c))))
                    i += 1
                }
            }
        }
        return out
    }

    /// The index of the bracket closing the one at `open`.
    static func closing(_ t: [Token], _ open: Int) -> Int? {
        let pairs = ["(": ")", "[": "]", "{": "}"]
        guard open < t.count, let close = pairs[t[open].text] else { return nil }
        var depth = 0
        var i = open
        while i < t.count {
            if t[i].text == t[open].text { depth += 1 } else if t[i].text == close {
                depth -= 1
                if depth == 0 { return i }
            }
            i += 1
        }
        return nil
    }

    /// Splits at `separator` outside any brackets.
    static func split(_ t: ArraySlice<Token>, on separator: String) -> [[Token]] {
        var parts: [[Token]] = [[]]
        var depth = 0
        for tok in t {
            switch tok.text {
            case "(", "[", "{": depth += 1
            case ")", "]", "}": depth -= 1
            default: break
            }
            if depth == 0, tok.text == separator { parts.append([]) } else { parts[parts.count - 1].append(tok) }
        }
        return parts
    }

    static func spelled(_ t: some Sequence<Token>) -> String { t.map(\.text).joined(separator: " ") }
}

// MARK: - Scan

extension ABIProbe {
    struct Command {
        var name: String
        /// `_IO`, `_IOR`, `_IOW` or `_IOWR`.
        var macro: String
        /// The argument type as C spells it (`struct az_blob_request_sync`), nil for `_IO` or a
        /// type the probe cannot size by name.
        var argument: String?
        var file: URL
        var definition: String
    }

    struct StructDef {
        /// `struct NAME`, `union NAME` or a typedef name: how C names the type.
        var key: String
        var body: [Token]
        var file: URL
        /// The whole definition, `struct NAME { ... };`, for the definitions fallback.
        var definition: String
        var referencedTypes: [String]
        var identifiers: Set<String>
    }

    struct Member: Hashable {
        /// `guid`, `response.status` (offsetof accepts the dotted path).
        var path: String
        var isBitfield: Bool
        var isAggregate: Bool
    }

    struct Macro {
        var name: String
        var definition: String
        var identifiers: Set<String>
    }

    struct Scan {
        var files: [URL] = []
        var contents: [Data] = []
        var commands: [Command] = []
        var structs: [String: StructDef] = [:]
        var macros: [String: Macro] = [:]
        var driver: URL
        var forced: [URL]

        static let maxFiles = 64
        static let maxDepth = 8

        init(_ source: DriverSource) throws(Failure) {
            driver = source.driver.standardizedFileURL
            forced = source.forcedIncludes.map(\.standardizedFileURL)
            let shim = DriverBuild.shimDirectory
            let dirs = source.includeDirs.map(\.standardizedFileURL)
            var seen = Set<String>()
            var queue: [(URL, Int)] = [(driver, 0)] + forced.map { ($0, 0) }
            while !queue.isEmpty, files.count < Scan.maxFiles {
                let (url, depth) = queue.removeFirst()
                guard seen.insert(url.path).inserted else { continue }
                guard let data = FileManager.default.contents(atPath: url.path) else {
                    if depth == 0 { throw .unreadable(path: url.path) }
                    continue
                }
                files.append(url)
                contents.append(data)
                let text = ABIProbe.clean(String(decoding: data, as: UTF8.self))
                var code: [String] = []
                for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
                    let trimmed = line.drop { $0 == " " || $0 == "\t" }
                    guard trimmed.first == "#" else {
                        code.append(String(line))
                        continue
                    }
                    code.append("")
                    let directive = trimmed.dropFirst().drop { $0 == " " || $0 == "\t" }
                    if directive.hasPrefix("include"), depth < Scan.maxDepth,
                       let inc = Scan.resolve(directive.dropFirst("include".count), from: url, dirs: dirs, shim: shim) {
                        queue.append((inc, depth + 1))
                    } else if directive.hasPrefix("define") {
                        record(define: directive.dropFirst("define".count), in: url)
                    }
                }
                record(structsIn: ABIProbe.tokenize(code.joined(separator: "\n")), in: url)
            }
        }

        /// A quote include beside the including file, else (like an angle include) in the
        /// driver's include directories; nil when it is the shim's (the shim comes first on the
        /// compiler's search path) or not the driver's at all.
        static func resolve(_ rest: Substring, from file: URL, dirs: [URL], shim: URL) -> URL? {
            let s = rest.drop { $0 == " " || $0 == "\t" }
            guard let open = s.first, open == "\"" || open == "<" else { return nil }
            let close: Character = open == "\"" ? "\"" : ">"
            let name = s.dropFirst().prefix { $0 != close }
            guard !name.isEmpty, !name.hasPrefix("/") else { return nil }
            let fm = FileManager.default
            if open == "\"" {
                let beside = file.deletingLastPathComponent().appendingPathComponent(String(name)).standardizedFileURL
                if fm.fileExists(atPath: beside.path) { return beside }
            }
            if fm.fileExists(atPath: shim.appendingPathComponent(String(name)).path) { return nil }
            for d in dirs {
                let u = d.appendingPathComponent(String(name)).standardizedFileURL
                if fm.fileExists(atPath: u.path) { return u }
            }
            return nil
        }

        mutating func record(define rest: Substring, in file: URL) {
            guard rest.first == " " || rest.first == "\t" else { return }
            let s = rest.drop { $0 == " " || $0 == "\t" }
            let name = String(s.prefix { $0 == "_" || $0.isLetter || $0.isNumber })
            guard !name.isEmpty else { return }
            let after = s.dropFirst(name.count)
            if after.first == "(" { return } // function-like: not a command, not needed by one
            let value = ABIProbe.tokenize(String(after))
            let definition = "#define \(name) \(ABIProbe.spelled(value))"
            macros[name] = Macro(name: name, definition: definition, identifiers: Set(value.filter(\.isIdentifier).map(\.text)))
            var i = 0
            while i < value.count, value[i].text == "(" { i += 1 }
            guard i + 1 < value.count, ["_IO", "_IOR", "_IOW", "_IOWR"].contains(value[i].text), value[i + 1].text == "(",
                  let close = ABIProbe.closing(value, i + 1) else { return }
            let args = ABIProbe.split(value[(i + 2)..<close], on: ",")
            var argument: String?
            if value[i].text != "_IO", args.count == 3 {
                let t = args[2].filter { !["const", "volatile"].contains($0.text) }
                if t.count == 2, ["struct", "union"].contains(t[0].text), t[1].isIdentifier {
                    argument = "\(t[0].text) \(t[1].text)"
                } else if t.count == 1, t[0].isIdentifier {
                    argument = t[0].text
                }
            }
            commands.removeAll { $0.name == name }
            commands.append(Command(name: name, macro: value[i].text, argument: argument, file: file, definition: definition))
        }

        mutating func record(structsIn t: [Token], in file: URL) {
            var i = 0
            while i < t.count {
                let typedef = t[i].text == "typedef" && i + 1 < t.count && ["struct", "union"].contains(t[i + 1].text)
                let start = i
                let kw = typedef ? i + 1 : i
                guard ["struct", "union"].contains(t[kw].text) else {
                    i += 1
                    continue
                }
                var j = kw + 1
                var tag: String?
                if j < t.count, t[j].isIdentifier {
                    tag = t[j].text
                    j += 1
                }
                guard j < t.count, t[j].text == "{", tag != nil || typedef, let close = ABIProbe.closing(t, j) else {
                    i += 1
                    continue
                }
                var end = close + 1
                while end < t.count, t[end].text != ";" {
                    if t[end].text == "(" || t[end].text == "{", let c = ABIProbe.closing(t, end) { end = c }
                    end += 1
                }
                let body = Array(t[(j + 1)..<close])
                let definition = ABIProbe.spelled(t[start..<min(end + 1, t.count)])
                var referenced: [String] = []
                var k = 0
                while k + 1 < body.count {
                    if ["struct", "union"].contains(body[k].text), body[k + 1].isIdentifier {
                        referenced.append("\(body[k].text) \(body[k + 1].text)")
                    }
                    k += 1
                }
                let idents = Set(body.filter(\.isIdentifier).map(\.text))
                referenced += idents.sorted()
                let kind = t[kw].text
                if let tag {
                    let key = "\(kind) \(tag)"
                    structs[key] = StructDef(key: key, body: body, file: file, definition: definition,
                                             referencedTypes: referenced, identifiers: idents)
                }
                if typedef {
                    // typedef struct [tag] { ... } NAME [, ...];
                    let declarators = ABIProbe.split(t[(close + 1)..<min(end, t.count)], on: ",")
                    for d in declarators {
                        if let name = ABIProbe.stripAttributes(d).last, name.isIdentifier, !d.contains(where: { $0.text == "*" || $0.text == "[" }) {
                            structs[name.text] = StructDef(key: name.text, body: body, file: file, definition: definition,
                                                           referencedTypes: referenced, identifiers: idents)
                        }
                    }
                }
                // Nested definitions inside the body are found by continuing inside it.
                i = j + 1
            }
        }

        /// The members of a struct (anonymous members flattened, named struct members recursed
        /// into with a dotted path, both the aggregate and its leaves listed).
        func members(of def: StructDef) -> [Member] {
            members(body: def.body, prefix: "", depth: 0)
        }

        func members(body: [Token], prefix: String, depth: Int) -> [Member] {
            var out: [Member] = []
            for declaration in ABIProbe.split(body[...], on: ";") {
                let d = ABIProbe.stripAttributes(declaration)
                guard !d.isEmpty else { continue }
                if let open = d.firstIndex(where: { $0.text == "{" }), let close = ABIProbe.closing(d, open) {
                    let inner = Array(d[(open + 1)..<close])
                    let declarators = ABIProbe.split(d[(close + 1)...], on: ",").filter { !$0.isEmpty }
                    if declarators.isEmpty {
                        out += members(body: inner, prefix: prefix, depth: depth + 1)
                    }
                    for decl in declarators {
                        guard let (name, plain, bitfield) = ABIProbe.declarator(decl) else { continue }
                        out.append(Member(path: prefix + name, isBitfield: bitfield, isAggregate: plain))
                        if plain, depth < 4 { out += members(body: inner, prefix: prefix + name + ".", depth: depth + 1) }
                    }
                    continue
                }
                let parts = ABIProbe.split(d[...], on: ",")
                guard let first = parts.first, let (firstName, _, _) = ABIProbe.declarator(first),
                      let nameAt = first.lastIndex(where: { $0.text == firstName }) else { continue }
                let type = first[..<nameAt].filter { !["const", "volatile", "*", "("].contains($0.text) }
                let typeKey: String? = if type.count == 2, ["struct", "union"].contains(type[0].text) {
                    "\(type[0].text) \(type[1].text)"
                } else if type.count == 1 {
                    type[0].text
                } else {
                    nil
                }
                for part in parts {
                    guard let (name, plain, bitfield) = ABIProbe.declarator(part) else { continue }
                    let nested = plain ? typeKey.flatMap { structs[$0] } : nil
                    out.append(Member(path: prefix + name, isBitfield: bitfield, isAggregate: nested != nil))
                    if let nested, depth < 4 {
                        out += members(body: nested.body, prefix: prefix + name + ".", depth: depth + 1)
                    }
                }
            }
            return out
        }
    }

    static let attributeWords: Set<String> = ["__attribute__", "__attribute", "__aligned", "__counted_by", "__alignas", "_Alignas", "alignas"]
    static let qualifierWords: Set<String> = ["__packed", "__user", "__iomem", "__rcu", "__force", "__randomize_layout",
                                              "__cacheline_aligned", "____cacheline_aligned", "__cacheline_aligned_in_smp",
                                              "____cacheline_aligned_in_smp", "__private", "__nonstring"]

    static func stripAttributes(_ t: [Token]) -> [Token] {
        var out: [Token] = []
        var i = 0
        while i < t.count {
            if attributeWords.contains(t[i].text), i + 1 < t.count, t[i + 1].text == "(", let c = closing(t, i + 1) {
                i = c + 1
            } else if qualifierWords.contains(t[i].text) {
                i += 1
            } else {
                out.append(t[i])
                i += 1
            }
        }
        return out
    }

    /// A member declarator's name; `plain` when it is neither a pointer nor an array nor a
    /// function pointer (so a struct type names a nested struct).
    static func declarator(_ d: [Token]) -> (name: String, plain: Bool, bitfield: Bool)? {
        let bitfield = d.contains { $0.text == ":" }
        if let open = d.indices.first(where: { d[$0].text == "(" && $0 + 1 < d.count && d[$0 + 1].text == "*" }) {
            guard let name = d[(open + 1)...].first(where: \.isIdentifier) else { return nil }
            return (name.text, false, bitfield)
        }
        let cut = d.firstIndex { $0.text == "[" || $0.text == ":" } ?? d.count
        guard let name = d[..<cut].last(where: \.isIdentifier) else { return nil }
        let plain = !d.contains { $0.text == "*" || $0.text == "[" }
        return (name.text, plain, bitfield)
    }
}

// MARK: - Roles

extension ABIProbe {
    /// The request struct's fields, by what they mean to the driver.
    enum Role: String, CaseIterable {
        case guid, timeout
        case requestLen = "request_len", responseLen = "response_len", dataLen = "data_len", dataValid = "data_valid"
        case requestBuffer = "request_buffer", responseBuffer = "response_buffer", dataBuffer = "data_buffer"
        case responseStatus = "response.status", responseResponseLen = "response.response_len"

        var required: Bool { self != .dataValid }
        /// The width the harness writes the field with.
        var width: Int {
            switch self {
            case .guid: 16
            case .requestBuffer, .responseBuffer, .dataBuffer: 8
            default: 4
            }
        }
    }

    /// A member name in canonical words: `req_buf` and `request_buffer` both `request_buffer`,
    /// `timeout_ms` `timeout`, `data_length` `data_len`.
    static func canonical(_ name: String) -> String {
        let map = ["req": "request", "rqst": "request", "resp": "response", "rsp": "response", "reply": "response",
                   "buf": "buffer", "buff": "buffer", "ptr": "buffer", "addr": "buffer", "address": "buffer",
                   "length": "len", "size": "len", "sz": "len", "bytes": "len", "txn": "transaction", "trans": "transaction",
                   "xid": "transaction_id", "uuid": "guid", "err": "error"]
        let drop: Set<String> = ["ms", "msec", "msecs", "millis", "milliseconds", "in", "usr", "user"]
        let words = name.lowercased().split(separator: "_").map(String.init).filter { !drop.contains($0) }
        return words.map { map[$0] ?? $0 }.joined(separator: "_")
    }

    static func matches(_ role: Role, _ path: String) -> Bool {
        let parts = path.split(separator: ".").map(String.init)
        let leaf = canonical(parts.last ?? "")
        switch role {
        case .guid, .timeout, .requestLen, .responseLen, .dataLen, .dataValid, .requestBuffer, .responseBuffer, .dataBuffer:
            guard parts.count == 1 else { return false }
            let names: [Role: Set<String>] = [
                .guid: ["guid", "transaction_id", "transaction_guid", "transaction", "request_guid", "id_guid"],
                .timeout: ["timeout", "time_out", "timeout_value"],
                .requestLen: ["request_len", "request_buffer_len"],
                .responseLen: ["response_len", "response_buffer_len"],
                .dataLen: ["data_len", "data_buffer_len"],
                .dataValid: ["data_valid", "data_valid_len", "data_buffer_valid", "data_buffer_valid_len", "valid_len",
                             "data_len_valid", "valid_data_len"],
                .requestBuffer: ["request_buffer", "request"],
                .responseBuffer: ["response_buffer"],
                .dataBuffer: ["data_buffer", "data"],
            ]
            return names[role]?.contains(leaf) ?? false
        case .responseStatus, .responseResponseLen:
            if parts.count == 1 {
                let flat: Set<String> = role == .responseStatus
                    ? ["response_status", "status", "completion_status", "response_error"]
                    : ["response_response_len", "returned_len", "response_returned_len", "response_actual_len"]
                return flat.contains(leaf)
            }
            guard parts.count == 2 else { return false }
            let parent = canonical(parts[0])
            guard parent.contains("response") || parent.contains("result") || parent.contains("completion")
                    || parent == "status" || parent == "out" || parent == "reply" else { return false }
            let leaves: Set<String> = role == .responseStatus
                ? ["status", "error", "result", "status_code", "error_code", "ret", "response_status"]
                : ["response_len", "len", "returned_len", "actual_len", "data_len", "response_buffer_len"]
            return leaves.contains(leaf)
        }
    }

    /// Each role's member (the first that matches); the roles no member matched; notes about
    /// roles several members matched.
    static func assign(_ members: [Member]) -> (roles: [Role: String], missing: [Role], notes: [String]) {
        var roles: [Role: String] = [:]
        var missing: [Role] = []
        var notes: [String] = []
        for role in Role.allCases {
            let m = members.filter { !$0.isBitfield && !$0.isAggregate && matches(role, $0.path) }
            if let first = m.first {
                roles[role] = first.path
                if m.count > 1 { notes.append("\(role.rawValue): several members match (\(m.map(\.path).joined(separator: ", "))); took \(first.path)") }
            } else if role.required {
                missing.append(role)
            }
        }
        return (roles, missing, notes)
    }

    struct Choice {
        var command: Command
        var structDef: StructDef
        var members: [Member]
        var roles: [Role: String]
        var notes: [String]
        /// Every command's struct the probe sizes (the request's included), with its members.
        var sized: [(StructDef, [Member])]
    }

    /// The request command: the one whose struct has the request fields; among several, the
    /// one whose name says USER_REQUEST.
    static func choose(_ scan: Scan) throws(Failure) -> Choice {
        var sized: [(StructDef, [Member])] = []
        var candidates: [(Command, StructDef, [Member], [Role: String], [Role], [String])] = []
        for c in scan.commands {
            guard let arg = c.argument, let def = scan.structs[arg] else { continue }
            let members = scan.members(of: def)
            if !sized.contains(where: { $0.0.key == def.key }) { sized.append((def, members)) }
            let (roles, missing, notes) = assign(members)
            candidates.append((c, def, members, roles, missing, notes))
        }
        guard !candidates.isEmpty else {
            throw .requestStructNotFound(commands: scan.commands.map { "\($0.name) (\($0.argument ?? "no struct"))" },
                                         scanned: scan.files.map(\.path))
        }
        let user = { (c: Command) in c.name.uppercased().contains("USER_REQUEST") }
        let complete = candidates.filter { $0.4.isEmpty }
        if let best = complete.first(where: { user($0.0) }) ?? complete.first {
            var notes = best.5
            if complete.count > 1 {
                notes.append("several commands take a request struct (\(complete.map(\.0.name).joined(separator: ", "))); took \(best.0.name)")
            }
            return Choice(command: best.0, structDef: best.1, members: best.2, roles: best.3, notes: notes, sized: sized)
        }
        let worst = candidates.min { a, b in
            (user(a.0) ? 0 : 1, a.4.count) < (user(b.0) ? 0 : 1, b.4.count)
        }!
        throw .roleMissing(structName: worst.1.key, roles: worst.4.map(\.rawValue),
                           members: worst.2.filter { !$0.isAggregate }.map(\.path), command: worst.0.name)
    }
}

// MARK: - Probe

extension ABIProbe {
    /// What a probe printed (and how it was built), as cached.
    struct Stored {
        var method: Method
        var fallbacks: [Attempt]
        var output: String

        var text: String {
            var s = "method\t\(method.rawValue)\n"
            for f in fallbacks {
                s += "fallback\t\(f.method.rawValue)\t" + f.errors.joined(separator: "\u{1F}") + "\n"
            }
            return s + "output\n" + output
        }

        init(method: Method, fallbacks: [Attempt], output: String) {
            self.method = method
            self.fallbacks = fallbacks
            self.output = output
        }

        init?(_ text: String) {
            guard let split = text.range(of: "\noutput\n") else { return nil }
            var method: Method?
            var fallbacks: [Attempt] = []
            for line in text[..<split.lowerBound].split(separator: "\n") {
                let f = line.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
                if f.count == 2, f[0] == "method" { method = Method(rawValue: f[1]) }
                if f.count == 3, f[0] == "fallback", let m = Method(rawValue: f[1]) {
                    fallbacks.append(Attempt(method: m, errors: f[2].split(separator: "\u{1F}").map(String.init)))
                }
            }
            guard let method else { return nil }
            self.init(method: method, fallbacks: fallbacks, output: String(text[split.upperBound...]))
        }
    }

    static let probeFormat = "hvblob-abi-probe 1"

    static func cacheKey(_ scan: Scan, source: DriverSource, version: KernelVersion) -> String {
        let command = [DriverBuild.compiler()] + flags(source, version: version)
        var h = FNV1a.hash("\(probeFormat)\n\(command.joined(separator: " "))\n".utf8)
        for (url, data) in zip(scan.files, scan.contents) {
            h = FNV1a.hash("\(url.path)\n".utf8, into: h)
            h = FNV1a.hash(data, into: h)
        }
        let shim = DriverBuild.shimDirectory
        let names = (FileManager.default.enumerator(atPath: shim.path)?.allObjects as? [String] ?? []).sorted()
        for name in names {
            guard let data = FileManager.default.contents(atPath: shim.appendingPathComponent(name).path) else { continue }
            h = FNV1a.hash("\(name)\n".utf8, into: h)
            h = FNV1a.hash(data, into: h)
        }
        return String(h, radix: 16)
    }

    /// The probe's text for one method, and the structs it sizes; nil when the method cannot
    /// apply (the request command or struct is defined in the .c itself, which only the
    /// driver method sees).
    static func program(_ scan: Scan, _ choice: Choice, _ method: Method) -> String? {
        var s = "/* generated by hvblob's ABI probe (\(method)) */\n"
        var sized = choice.sized
        var commands = scan.commands
        /// Whether a command's argument type is visible to the probe.
        func visible(_ c: Command, _ keys: Set<String>, foreign: Bool) -> Bool {
            guard let arg = c.argument else { return true }
            if scan.structs[arg] != nil { return keys.contains(arg) }
            return foreign || !(arg.hasPrefix("struct ") || arg.hasPrefix("union "))
        }
        switch method {
        case .driver:
            s += "#include \"\(scan.driver.path)\"\n"
        case .headers:
            guard choice.command.file != scan.driver, choice.structDef.file != scan.driver else { return nil }
            sized = sized.filter { $0.0.file != scan.driver }
            var included = Set<String>()
            s += "#include <linux/types.h>\n#include <linux/ioctl.h>\n#include <linux/uuid.h>\n"
            for h in [choice.command.file] + sized.map(\.0.file) where included.insert(h.path).inserted {
                s += "#include \"\(h.path)\"\n"
            }
            let keys = Set(sized.map(\.0.key))
            commands = commands.filter { included.contains($0.file.path) && visible($0, keys, foreign: true) }
        case .definitions:
            s += "#include <linux/types.h>\n#include <linux/ioctl.h>\n#include <linux/uuid.h>\n"
            let keys = Set(sized.map(\.0.key))
            commands = commands.filter { visible($0, keys, foreign: false) }
            var emitted = Set<String>()
            var macrosOut: [String] = []
            var structsOut: [String] = []
            func macro(_ name: String, depth: Int) {
                guard depth < 16, let m = scan.macros[name], emitted.insert("#" + name).inserted else { return }
                for i in m.identifiers.sorted() { macro(i, depth: depth + 1) }
                macrosOut.append(m.definition)
            }
            func type(_ key: String, depth: Int) {
                guard depth < 16, let d = scan.structs[key], emitted.insert(d.definition).inserted else { return }
                for r in d.referencedTypes where r != key { type(r, depth: depth + 1) }
                for i in d.identifiers.sorted() { macro(i, depth: 0) }
                structsOut.append(d.definition)
            }
            for (d, _) in sized { type(d.key, depth: 0) }
            for c in commands { macro(c.name, depth: 0) }
            s += macrosOut.joined(separator: "\n") + "\n" + structsOut.joined(separator: "\n") + "\n"
        }
        s += "\nint main(void)\n{\n"
        func line(_ fmt: String, _ args: String...) {
            s += "\t__builtin_printf(\"\(fmt)\\n\"" + args.map { ", " + $0 }.joined() + ");\n"
        }
        for c in commands {
            line("cmd\\t\(c.name)\\t%llu", "(unsigned long long)(\(c.name))")
        }
        for (d, members) in sized {
            line("sizeof\\t\(d.key)\\t%llu", "(unsigned long long)sizeof(\(d.key))")
            for m in members where !m.isBitfield {
                line("member\\t\(d.key)\\t\(m.path)\\t%llu\\t%llu",
                     "(unsigned long long)__builtin_offsetof(\(d.key), \(m.path))",
                     "(unsigned long long)sizeof(((\(d.key) *)0)->\(m.path))")
            }
        }
        line("end")
        s += "\treturn 0;\n}\n"
        return s
    }

    /// DriverBuild's language and preprocessor flags (what decides every type and macro the
    /// driver sees). Its -Werror= flags are left out and those errors made warnings: the probe
    /// only needs the driver's types, so a call the shim does not declare yet must not stop it.
    static func flags(_ source: DriverSource, version: KernelVersion) -> [String] {
        ["-std=gnu11", "-O0", "-w", "-Wno-error=implicit-function-declaration", "-Wno-error=int-conversion",
         "-Wno-error=incompatible-pointer-types", "-Wno-error=incompatible-function-pointer-types",
         "-DHVB_KVER=\(version.major * 100 + version.minor)", "-DKBUILD_MODNAME=\"hv_azure_blob\"",
         "-I", DriverBuild.shimDirectory.path]
            + source.includeDirs.flatMap { ["-I", $0.path] }
            + source.forcedIncludes.flatMap { ["-include", $0.path] }
    }

    static func compileAndRun(_ scan: Scan, _ choice: Choice, source: DriverSource, version: KernelVersion,
                              key: String) throws(Failure) -> Stored {
        let fm = FileManager.default
        let work = cacheDirectory.appendingPathComponent("work-\(key)-\(getpid())")
        try? fm.createDirectory(at: work, withIntermediateDirectories: true)
        defer { try? fm.removeItem(at: work) }
        let shim = DriverBuild.shimDirectory
        let flags = flags(source, version: version)
        var fallbacks: [Attempt] = []
        for method in Method.allCases {
            guard let text = program(scan, choice, method) else { continue }
            let file = work.appendingPathComponent("probe-\(method.rawValue).c")
            let exe = work.appendingPathComponent("probe-\(method.rawValue)")
            do { try text.write(to: file, atomically: false, encoding: .utf8) } catch {
                fallbacks.append(Attempt(method: method, errors: ["cannot write \(file.path): \(error)"]))
                continue
            }
            var argv = [DriverBuild.compiler()] + flags + [file.path]
            if method == .driver { argv.append(shim.appendingPathComponent("hvb_stub.c").path) }
            // main never calls the driver, whose calls into the shim runtime stay unresolved.
            argv += ["-o", exe.path, "-Wl,--unresolved-symbols=ignore-all", "-Wl,-z,lazy"]
            let cc = run(argv, timeout: 300, in: work)
            guard cc.status == 0, cc.exited else {
                fallbacks.append(Attempt(method: method, errors: firstErrors(cc.output, probe: file.path, method: method)))
                continue
            }
            let r = run([exe.path], timeout: 20, in: work)
            guard r.exited, r.status == 0 else {
                let reason = r.timedOut ? "did not finish in 20 s" : r.exited ? "exited with status \(r.status)" : "was killed by signal \(r.status)"
                throw .probeCrashed(status: r.status, reason: reason, output: r.output)
            }
            return Stored(method: method, fallbacks: fallbacks, output: r.output)
        }
        throw .probeDidNotCompile(attempts: fallbacks)
    }

    /// The compiler's first errors (file:line: message), the generated file named by its method.
    static func firstErrors(_ output: String, probe: String, method: Method) -> [String] {
        let lines = output.split(separator: "\n").map(String.init)
        var errors = lines.filter { $0.contains("error:") || $0.contains("error :") }
        if errors.isEmpty { errors = lines.filter { !$0.trimmingCharacters(in: .whitespaces).isEmpty } }
        return errors.prefix(5).map {
            // path:line:col: error: text -> path:line: error: text
            var l = $0.replacingOccurrences(of: probe, with: "<probe \(method.rawValue)>")
            let f = l.split(separator: ":", maxSplits: 3, omittingEmptySubsequences: false)
            if f.count == 4, Int(f[1]) != nil, Int(f[2]) != nil { l = "\(f[0]):\(f[1]):\(f[3])" }
            return l
        }
    }

    struct Ran {
        var status: Int32
        var exited: Bool
        var timedOut: Bool
        var output: String
    }

    /// Runs a program with its output in a file (no pipe to fill), killing it after `timeout`.
    static func run(_ argv: [String], timeout: TimeInterval, in dir: URL) -> Ran {
        let out = dir.appendingPathComponent("out-\(UUID().uuidString).txt")
        _ = FileManager.default.createFile(atPath: out.path, contents: nil)
        defer { try? FileManager.default.removeItem(at: out) }
        guard let handle = try? FileHandle(forWritingTo: out) else {
            return Ran(status: 127, exited: true, timedOut: false, output: "cannot create \(out.path)")
        }
        defer { try? handle.close() }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: argv[0])
        p.arguments = Array(argv.dropFirst())
        p.currentDirectoryURL = dir
        p.standardOutput = handle
        p.standardError = handle
        p.standardInput = FileHandle.nullDevice
        do { try p.run() } catch {
            return Ran(status: 127, exited: true, timedOut: false, output: "cannot run \(argv[0]): \(error)")
        }
        let deadline = Date().addingTimeInterval(timeout)
        var timedOut = false
        while p.isRunning {
            if Date() > deadline {
                timedOut = true
                p.terminate()
                let grace = Date().addingTimeInterval(2)
                while p.isRunning, Date() < grace { usleep(10_000) }
                if p.isRunning { kill(p.processIdentifier, SIGKILL) }
                break
            }
            usleep(5_000)
        }
        p.waitUntilExit()
        let text = (try? String(contentsOf: out, encoding: .utf8)) ?? ""
        return Ran(status: p.terminationStatus, exited: p.terminationReason == .exit && !timedOut, timedOut: timedOut, output: text)
    }

    /// The ABI from the probe's output.
    static func assemble(_ scan: Scan, _ choice: Choice, _ stored: Stored, cached: Bool) throws(Failure) -> Result {
        var commands: [String: UInt64] = [:]
        var order: [String] = []
        var sizes: [String: Int] = [:]
        var offsets: [String: [String: (Int, Int)]] = [:]
        var complete = false
        for line in stored.output.split(separator: "\n") {
            let f = line.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
            switch f.first {
            case "cmd" where f.count == 3:
                guard let v = UInt64(f[2]) else { throw .probeOutputUnreadable(reason: "bad value in \(line)", output: stored.output) }
                if commands[f[1]] == nil { order.append(f[1]) }
                commands[f[1]] = v
            case "sizeof" where f.count == 3:
                guard let v = Int(f[2]) else { throw .probeOutputUnreadable(reason: "bad size in \(line)", output: stored.output) }
                sizes[f[1]] = v
            case "member" where f.count == 5:
                guard let o = Int(f[3]), let n = Int(f[4]) else {
                    throw .probeOutputUnreadable(reason: "bad member in \(line)", output: stored.output)
                }
                offsets[f[1], default: [:]][f[2]] = (o, n)
            case "end":
                complete = true
            default:
                throw .probeOutputUnreadable(reason: "unexpected line \(line)", output: stored.output)
            }
        }
        guard complete else { throw .probeOutputUnreadable(reason: "no end line", output: stored.output) }
        let key = choice.structDef.key
        guard let size = sizes[key], let members = offsets[key] else {
            throw .probeOutputUnreadable(reason: "nothing printed for \(key)", output: stored.output)
        }
        guard let request = commands[choice.command.name] else {
            throw .probeOutputUnreadable(reason: "no value printed for \(choice.command.name)", output: stored.output)
        }
        var notes = choice.notes
        func value(_ name: String, _ v: UInt64) -> IoctlCommand {
            if v > UInt64(UInt32.max) { notes.append("\(name) = \(v) does not fit 32 bits; truncated") }
            return IoctlCommand(rawValue: UInt32(truncatingIfNeeded: v))
        }
        var offset: [Role: Int] = [:]
        for (role, path) in choice.roles {
            guard let (o, n) = members[path] else {
                throw .probeOutputUnreadable(reason: "no offset printed for \(key).\(path)", output: stored.output)
            }
            offset[role] = o
            if n != role.width {
                notes.append("\(key).\(path) (\(role.rawValue)) is \(n) bytes; the harness writes \(role.width)")
            }
        }
        let requestCommand = DriverABI.Command(name: choice.command.name, value: value(choice.command.name, request))
        let all = order.map { DriverABI.Command(name: $0, value: value($0, commands[$0]!)) }
        let missing = scan.commands.map(\.name).filter { commands[$0] == nil }
        if !missing.isEmpty {
            notes.append("not read via \(stored.method) (defined where the probe could not see them): \(missing.joined(separator: ", "))")
        }
        let c = requestCommand.value
        if c.size != size {
            notes.append("\(requestCommand.name) size field is \(c.size) but sizeof(\(key)) is \(size)")
        }
        if c.direction != [.read, .write] {
            notes.append("\(requestCommand.name) direction is \(c.direction.rawValue), not read|write (\(choice.command.macro))")
        }
        let structName = key.hasPrefix("struct ") ? String(key.dropFirst(7)) : key.hasPrefix("union ") ? String(key.dropFirst(6)) : key
        let layout = RequestLayout(
            structName: structName, size: size, guid: offset[.guid]!, timeout: offset[.timeout]!,
            requestLen: offset[.requestLen]!, responseLen: offset[.responseLen]!, dataLen: offset[.dataLen]!,
            dataValid: offset[.dataValid], requestBuffer: offset[.requestBuffer]!, responseBuffer: offset[.responseBuffer]!,
            dataBuffer: offset[.dataBuffer]!, responseStatus: offset[.responseStatus]!,
            responseResponseLen: offset[.responseResponseLen]!)
        let abi = DriverABI(request: requestCommand, commands: all, layout: layout, header: choice.command.file.path)
        return Result(abi: abi, method: stored.method, fallbacks: stored.fallbacks, notes: notes,
                      scanned: scan.files.map(\.path), cached: cached)
    }
}
