// SPDX-License-Identifier: Apache-2.0
import Foundation

/// Unified diffs as `git diff`, `git format-patch` and `diff -u` write them: parsed into file
/// patches and applied to file contents with every context line checked (no fuzz).
enum UnifiedDiff {
    struct Hunk: Sendable, Error {
        enum Kind: UInt8, Sendable { case context = 0x20, removed = 0x2D, added = 0x2B }
        struct Line: Sendable {
            var kind: Kind
            /// The line's bytes with its line feed, unless `\ No newline at end of file` followed.
            var bytes: [UInt8]
        }
        var oldStart: Int, oldCount: Int, newStart: Int, newCount: Int
        /// The `@@ -a,b +c,d @@` part of the header line.
        var header: String
        /// What follows the second `@@` (git's function context, e.g. `enum vmbus_device_type {`).
        var section: String
        var lines: [Line]
        /// Byte offset of the header line in the file.
        var offset: Int

        var oldLines: [[UInt8]] { lines.filter { $0.kind != .added }.map(\.bytes) }
        var newLines: [[UInt8]] { lines.filter { $0.kind != .removed }.map(\.bytes) }
    }

    struct FilePatch: Sendable {
        /// Paths with the `a/`, `b/` prefix stripped; nil for `/dev/null`.
        var oldPath: String?
        var newPath: String?
        var isBinary = false
        /// A `copy from`/`copy to` patch: the old file stays.
        var isCopy = false
        var hunks: [Hunk] = []
        /// Byte offset of the patch's first line (`diff --git` or `---`).
        var offset: Int
        var isCreation: Bool { oldPath == nil }
        var isDeletion: Bool { newPath == nil }
        var path: String { newPath ?? oldPath ?? "?" }
    }

    enum ParseError: Error, Sendable {
        case malformedHeader(offset: Int, line: String)
        case endsEarly(offset: Int, header: String, path: String, missingOld: Int, missingNew: Int)
        case malformed(offset: Int, reason: String)
    }

    /// Whether any line of `lines` starts a diff.
    static func containsDiff(_ lines: [SourceLine]) -> Bool {
        for i in lines.indices {
            if lines[i].hasPrefix("diff --git ") { return true }
            if lines[i].hasPrefix("--- "), i + 2 < lines.count, lines[i + 1].hasPrefix("+++ "), lines[i + 2].hasPrefix("@@ ") { return true }
        }
        return false
    }

    /// Strips the carriage returns of a text whose diff lines all end in CR (a mail saved or sent
    /// with CRLF line ends): git's own diff headers never carry one, so there it is transport.
    static func normalisingLineEnds(_ lines: [SourceLine]) -> [SourceLine] {
        guard let first = lines.first(where: { $0.hasPrefix("diff --git ") || $0.hasPrefix("--- ") || $0.hasPrefix("@@ ") }),
              first.bytes.last == 0x0D else { return lines }
        return lines.map { l in
            var l = l
            if l.bytes.last == 0x0D { l.bytes.removeLast() }
            return l
        }
    }

    /// A path from a `diff --git`, `---` or `+++` line: unquoted, timestamp dropped, first
    /// component stripped (`-p1`), nil for /dev/null.
    static func path(_ raw: Substring, strip: Bool = true) -> String? {
        var s = String(raw)
        if let tab = s.firstIndex(of: "\t") { s = String(s[..<tab]) }
        s = s.trimmingCharacters(in: .whitespaces)
        if s.hasPrefix("\""), s.hasSuffix("\""), s.count >= 2 { s = unquote(String(s.dropFirst().dropLast())) }
        if s == "/dev/null" { return nil }
        if strip, let slash = s.firstIndex(of: "/") { s = String(s[s.index(after: slash)...]) }
        return s
    }

    /// Undoes git's C-style quoting of unusual path names.
    static func unquote(_ s: String) -> String {
        var out: [UInt8] = []
        let b = Array(s.utf8)
        var i = 0
        while i < b.count {
            if b[i] == UInt8(ascii: "\\"), i + 1 < b.count {
                let c = b[i + 1]
                switch c {
                case UInt8(ascii: "n"): out.append(0x0A); i += 2
                case UInt8(ascii: "t"): out.append(0x09); i += 2
                case UInt8(ascii: "0")...UInt8(ascii: "7") where i + 3 < b.count:
                    out.append(UInt8(truncatingIfNeeded: (Int(b[i + 1] - 0x30) << 6) | (Int(b[i + 2] - 0x30) << 3) | Int(b[i + 3] - 0x30)))
                    i += 4
                default: out.append(c); i += 2
                }
            } else {
                out.append(b[i]); i += 1
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// The two paths of a `diff --git a/X b/Y` line (X == Y unless renamed).
    static func gitPaths(_ line: String) -> (String?, String?) {
        let rest = line.dropFirst("diff --git ".count)
        if rest.hasPrefix("\"") {
            let parts = rest.split(separator: " ", omittingEmptySubsequences: true)
            if parts.count >= 2 { return (path(parts[0]), path(parts[parts.count - 1])) }
        }
        // Unquoted: split where the halves agree, else at the last " b/".
        let s = String(rest)
        let chars = Array(s)
        if chars.count % 2 == 1 {
            let half = chars.count / 2
            let a = String(chars[..<half]), b = String(chars[(half + 1)...])
            if chars[half] == " ", a.dropFirst(2) == b.dropFirst(2) { return (path(Substring(a)), path(Substring(b))) }
        }
        if let r = s.range(of: " b/", options: .backwards) {
            return (path(s[..<r.lowerBound]), path(s[s.index(after: r.lowerBound)...]))
        }
        return (nil, nil)
    }

    /// Parses `@@ -a[,b] +c[,d] @@ section`.
    static func hunkHeader(_ text: String) -> (Int, Int, Int, Int, String, String)? {
        guard text.hasPrefix("@@ -") else { return nil }
        let body = text.dropFirst(3)
        guard let close = body.range(of: " @@") else { return nil }
        let ranges = body[..<close.lowerBound].split(separator: " ")
        guard ranges.count == 2, ranges[0].hasPrefix("-"), ranges[1].hasPrefix("+") else { return nil }
        func range(_ r: Substring) -> (Int, Int)? {
            let p = r.dropFirst().split(separator: ",", omittingEmptySubsequences: false)
            guard p.count == 1 || p.count == 2, let start = Int(p[0]), start >= 0 else { return nil }
            guard p.count == 2 else { return (start, 1) }
            guard let count = Int(p[1]), count >= 0 else { return nil }
            return (start, count)
        }
        guard let (a, b) = range(ranges[0]), let (c, d) = range(ranges[1]) else { return nil }
        let header = "@@ " + ranges.joined(separator: " ") + " @@"
        let section = String(body[close.upperBound...]).trimmingCharacters(in: .whitespaces)
        return (a, b, c, d, header, section)
    }

    /// Every file patch in `lines`, in order; text between patches (commit messages, the
    /// diffstat, a mail signature) is skipped.
    static func parse(_ input: [SourceLine]) throws(ParseError) -> [FilePatch] {
        let lines = normalisingLineEnds(input)
        var out: [FilePatch] = []
        var i = 0
        let n = lines.count
        while i < n {
            let line = lines[i]
            var patch: FilePatch
            if line.hasPrefix("diff --git ") {
                let (a, b) = gitPaths(line.text)
                patch = FilePatch(oldPath: a, newPath: b, offset: line.offset)
                i += 1
                // Extended header lines.
                while i < n {
                    let t = lines[i].text
                    if t.hasPrefix("new file mode") { patch.oldPath = nil }
                    else if t.hasPrefix("deleted file mode") { patch.newPath = nil }
                    else if t.hasPrefix("rename from ") || t.hasPrefix("copy from ") {
                        patch.isCopy = t.hasPrefix("copy ")
                        patch.oldPath = path(t.drop { $0 != " " }.dropFirst().drop { $0 != " " }.dropFirst(), strip: false)
                    } else if t.hasPrefix("rename to ") || t.hasPrefix("copy to ") {
                        patch.newPath = path(t.drop { $0 != " " }.dropFirst().drop { $0 != " " }.dropFirst(), strip: false)
                    } else if t.hasPrefix("Binary files ") || t.hasPrefix("GIT binary patch") { patch.isBinary = true }
                    else if !(t.hasPrefix("index ") || t.hasPrefix("old mode") || t.hasPrefix("new mode")
                              || t.hasPrefix("similarity index") || t.hasPrefix("dissimilarity index")) { break }
                    i += 1
                }
                if i < n, lines[i].hasPrefix("--- ") {
                    guard i + 1 < n, lines[i + 1].hasPrefix("+++ ") else {
                        throw .malformed(offset: lines[i].offset, reason: "'---' line without a '+++' line after it")
                    }
                    let old = path(lines[i].text.dropFirst(4)), new = path(lines[i + 1].text.dropFirst(4))
                    patch.oldPath = old
                    patch.newPath = new
                    i += 2
                }
            } else if line.hasPrefix("--- "), i + 2 < n, lines[i + 1].hasPrefix("+++ "), lines[i + 2].hasPrefix("@@ ") {
                patch = FilePatch(oldPath: path(line.text.dropFirst(4)), newPath: path(lines[i + 1].text.dropFirst(4)), offset: line.offset)
                i += 2
            } else {
                i += 1
                continue
            }
            while i < n, lines[i].hasPrefix("@@ ") {
                let hunk = try parseHunk(lines, &i, path: patch.path)
                patch.hunks.append(hunk)
            }
            // A plain diff creating a file says so only by its ranges.
            if patch.oldPath != nil, !patch.hunks.isEmpty, patch.hunks.allSatisfy({ $0.oldStart == 0 && $0.oldCount == 0 }),
               !line.hasPrefix("diff --git ") {
                patch.oldPath = nil
            }
            out.append(patch)
        }
        return out
    }

    static func parseHunk(_ lines: [SourceLine], _ i: inout Int, path: String) throws(ParseError) -> Hunk {
        let headerLine = lines[i]
        guard let (a, b, c, d, header, section) = hunkHeader(headerLine.text) else {
            throw .malformedHeader(offset: headerLine.offset, line: headerLine.text)
        }
        var hunk = Hunk(oldStart: a, oldCount: b, newStart: c, newCount: d, header: header, section: section, lines: [], offset: headerLine.offset)
        var old = b, new = d
        i += 1
        func early() -> ParseError {
            .endsEarly(offset: headerLine.offset, header: header, path: path, missingOld: old, missingNew: new)
        }
        while old > 0 || new > 0 {
            guard i < lines.count else { throw early() }
            let l = lines[i].bytes
            let content = Array(l.dropFirst()) + [0x0A]
            switch l.first {
            case nil:
                // Mailers and editors drop the space of an empty context line; git accepts that.
                guard old > 0, new > 0 else { throw early() }
                hunk.lines.append(.init(kind: .context, bytes: [0x0A])); old -= 1; new -= 1
            case 0x20:
                guard old > 0, new > 0 else { throw early() }
                hunk.lines.append(.init(kind: .context, bytes: content)); old -= 1; new -= 1
            case 0x2D:
                guard old > 0 else { throw early() }
                hunk.lines.append(.init(kind: .removed, bytes: content)); old -= 1
            case 0x2B:
                guard new > 0 else { throw early() }
                hunk.lines.append(.init(kind: .added, bytes: content)); new -= 1
            case 0x5C:
                guard !hunk.lines.isEmpty else { throw early() }
                hunk.lines[hunk.lines.count - 1].bytes.removeLast()
            default:
                throw early()
            }
            i += 1
        }
        if i < lines.count, lines[i].bytes.first == 0x5C, let last = hunk.lines.indices.last, hunk.lines[last].bytes.last == 0x0A {
            hunk.lines[last].bytes.removeLast()
            i += 1
        }
        return hunk
    }

    /// A file's content as lines, each with its line feed (the last may lack one).
    static func split(_ data: [UInt8]) -> [[UInt8]] {
        var out: [[UInt8]] = []
        var start = 0
        for k in data.indices where data[k] == 0x0A {
            out.append(Array(data[start...k]))
            start = k + 1
        }
        if start < data.count { out.append(Array(data[start...])) }
        return out
    }

    /// Applies `hunks` in order, each where its removed and context lines match exactly: at its
    /// stated line (shifted by what earlier hunks moved) or the nearest place after the previous
    /// hunk. Returns the offending hunk when one matches nowhere.
    static func apply(_ hunks: [Hunk], to content: [[UInt8]]) -> Result<[[UInt8]], Hunk> {
        var out = content
        var delta = 0
        var floor = 0
        for h in hunks {
            let old = h.oldLines, new = h.newLines
            let stated = h.oldCount == 0 ? h.oldStart : h.oldStart - 1
            let expected = stated + delta
            let last = out.count - old.count
            guard last >= floor else { return .failure(h) }
            func matches(_ p: Int) -> Bool {
                guard p >= floor, p <= last else { return false }
                for k in old.indices where out[p + k] != old[k] { return false }
                return true
            }
            var found: Int? = nil
            let clamped = min(max(expected, floor), last)
            var d = 0
            while found == nil && (clamped - d >= floor || clamped + d <= last) {
                if matches(clamped - d) { found = clamped - d } else if matches(clamped + d) { found = clamped + d }
                d += 1
            }
            guard let p = found else { return .failure(h) }
            out.replaceSubrange(p..<(p + old.count), with: new)
            delta = p - stated + new.count - old.count
            floor = p + new.count
        }
        return .success(out)
    }
}
