// SPDX-License-Identifier: Apache-2.0
import Foundation

/// Light lexical looks at C source: enough to tell a driver from other files and to find its
/// includes and macros, not a parser.
enum CScan {
    /// `text` with comments and string and character literals blanked out (newlines kept), so
    /// a `module_init(` in a comment does not count.
    static func code(_ text: String) -> String {
        let b = Array(text.utf8)
        var out = [UInt8](repeating: 0x20, count: b.count)
        enum State { case code, line, block, string(UInt8) }
        var state = State.code
        var i = 0
        while i < b.count {
            let c = b[i], next: UInt8 = i + 1 < b.count ? b[i + 1] : 0
            if c == 0x0A { out[i] = 0x0A }
            switch state {
            case .code:
                if c == UInt8(ascii: "/") && next == UInt8(ascii: "/") { state = .line; i += 2; continue }
                if c == UInt8(ascii: "/") && next == UInt8(ascii: "*") { state = .block; i += 2; continue }
                if c == UInt8(ascii: "\"") || c == UInt8(ascii: "'") { state = .string(c); out[i] = c; i += 1; continue }
                out[i] = c
            case .line:
                if c == 0x0A { state = .code }
            case .block:
                if c == UInt8(ascii: "*") && next == UInt8(ascii: "/") { state = .code; i += 2; continue }
            case .string(let q):
                if c == UInt8(ascii: "\\") { i += 2; continue }
                if c == q { state = .code; out[i] = c }
                if c == 0x0A { state = .code }
            }
            i += 1
        }
        return String(decoding: out, as: UTF8.self)
    }

    static func isIdentifier(_ c: Character) -> Bool { c == "_" || c.isLetter || c.isNumber }

    /// Whether `code` calls or expands `name(` (as a whole word, spaces allowed before `(`).
    static func calls(_ code: String, _ name: String) -> Bool {
        var search = code.startIndex..<code.endIndex
        while let r = code.range(of: name, range: search) {
            search = r.upperBound..<code.endIndex
            if r.lowerBound > code.startIndex, isIdentifier(code[code.index(before: r.lowerBound)]) { continue }
            let rest = code[r.upperBound...].drop { $0 == " " || $0 == "\t" }
            if rest.first == "(" { return true }
        }
        return false
    }

    static func hasModuleInit(_ code: String) -> Bool {
        ["module_init", "module_hv_driver", "module_vmbus_driver"].contains { calls(code, $0) }
    }

    static func registersHVDriver(_ code: String) -> Bool {
        ["vmbus_driver_register", "__vmbus_driver_register", "module_hv_driver", "module_vmbus_driver"].contains { calls(code, $0) }
            || code.contains("struct hv_driver")
    }

    /// Whether the driver names the device hvblob simulates (by GUID macro or value).
    static func namesBlobDevice(_ code: String) -> Bool {
        code.contains("HV_AZURE_BLOB_GUID") || code.contains("HV_XS_FASTPATH_GUID") || code.lowercased().contains("0x0590b792")
    }

    static let directives: Set<String> = ["include", "define", "undef", "if", "ifdef", "ifndef", "elif", "else", "endif",
                                          "pragma", "error", "warning", "line", "include_next"]

    /// The directive word of a preprocessor line (`#  define X` gives "define").
    static func directive(_ line: Substring) -> String? {
        let t = line.drop { $0 == " " || $0 == "\t" }
        guard t.first == "#" else { return nil }
        return String(t.dropFirst().drop { $0 == " " || $0 == "\t" }.prefix { $0.isLetter || $0 == "_" })
    }

    enum Classification { case c, markdown, patch, other }

    /// What a text file looks like: C (a preprocessor directive, or statements and braces),
    /// Markdown (code fences, headings, links), a patch, or something else.
    static func classify(_ text: String) -> Classification {
        var cScore = 0, markdown = 0, directive = false, diff = false
        for line in text.split(separator: "\n", omittingEmptySubsequences: true).prefix(20_000) {
            let t = line.trimmingCharacters(in: .whitespaces)
            if t.hasPrefix("```") || t.hasPrefix("~~~") { markdown += 2 }
            if let d = self.directive(line) {
                if directives.contains(d) { directive = true } else if t.hasPrefix("# ") || t.hasPrefix("##") { markdown += 1 }
            }
            if t.hasPrefix("diff --git ") || t.hasPrefix("+++ ") { diff = true }
            if t.contains("](") && t.contains("[") { markdown += 1 }
            if t.hasSuffix(";") && (t.contains("(") || t.contains("=")) { cScore += 1 }
            if t == "{" || t == "}" || t == "};" || t.hasSuffix(") {") || t.hasSuffix("= {") { cScore += 1 }
        }
        if diff && text.contains("\n@@ -") { return .patch }
        if markdown >= 2 { return .markdown }
        if directive || cScore >= 2 { return .c }
        return markdown > 0 ? .markdown : .other
    }

    /// The `#include` lines of `text`: quoted or not, and the name.
    static func includes(_ text: String) -> [(quoted: Bool, name: String)] {
        var out: [(Bool, String)] = []
        for line in text.split(separator: "\n") where directive(line) == "include" {
            guard let open = line.firstIndex(where: { $0 == "\"" || $0 == "<" }) else { continue }
            let quoted = line[open] == "\""
            let rest = line[line.index(after: open)...]
            guard let close = rest.firstIndex(of: quoted ? "\"" : ">") else { continue }
            let name = String(rest[..<close])
            if !name.isEmpty && !name.hasPrefix("/") && !name.split(separator: "/").contains("..") { out.append((quoted, name)) }
        }
        return out
    }

    /// The macro a `#define` line defines, if it is one.
    static func defineName(_ line: String) -> String? {
        guard directive(Substring(line)) == "define" else { return nil }
        guard let r = line.range(of: "define") else { return nil }
        let name = line[r.upperBound...].drop { $0 == " " || $0 == "\t" }.prefix { isIdentifier($0) }
        return name.isEmpty ? nil : String(name)
    }

    /// Whether a line ends in a backslash continuation.
    static func continues(_ line: String) -> Bool {
        line.trimmingCharacters(in: .whitespacesAndNewlines.union(CharacterSet(charactersIn: "\r"))).hasSuffix("\\")
    }

    /// `s` with anything that would end a C comment defused.
    static func commentSafe(_ s: String) -> String { s.replacingOccurrences(of: "*/", with: "* /") }
}
