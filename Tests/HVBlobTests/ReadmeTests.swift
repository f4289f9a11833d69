// SPDX-License-Identifier: Apache-2.0
import Foundation
import Testing

/// Every sample output in README.md is the output of a command this test runs, so a stale
/// sample fails `swift test`.
///
/// The convention (for every section, including ones added later):
///
/// - A **sample** is a fenced code block whose first line starts with `$ `. Each `$ ` line is a
///   command: `hvblob ARGS`, `swift run hvblob ARGS` or `swift run -c release hvblob ARGS`, run
///   here with the built binary (`CLITests.binary`) in the repository root. Arguments split on
///   spaces; single quotes group. Text after `  # ` on a `$ ` line is a comment.
/// - The lines after a command, up to the next `$ ` line or the end of the block, are what it
///   prints (standard output and error together):
///   - `…` inside a line stands for any text: a measurement (a rate, a time), a path that
///     depends on the machine. Mask only what changes from run to run or machine to machine;
///     everything deterministic is shown as it is.
///   - a line `...` alone stands for any number of lines (none included);
///   - a last line `# exit N` is the exit status the command must have (else 0).
///   Shown lines match output lines exactly (trailing spaces aside), in order, each run of
///   shown lines on consecutive output lines; the first shown line is the first output line and
///   the last the last, unless a `...` line stands before or after.
/// - Samples run in README order, so a later one may read what an earlier one wrote. Samples
///   and command lists write only under `/tmp/`, never into the checkout (checked below for
///   `-o`, `--record`, `--trace`, `--diagram`, `--report` and `> FILE`).
/// - A sample naming a file in `../shared/` beside the project runs only where it exists
///   (under CI=true a missing file is a failure), like `RevisionTests`.
/// - A block that does not start with `$ ` is a list of commands to copy; it is not run, and it
///   must not contain `$ ` lines (output belongs in a sample).
@Suite("README samples", .serialized)
struct ReadmeTests {
    struct Sample: CustomStringConvertible {
        let line: Int
        let command: String
        let args: [String]
        let expected: [String]
        let status: Int32
        var description: String { "README.md:\(line): $ \(command)" }
    }

    struct Block {
        let line: Int
        let lines: [String]
    }

    static var readme: String {
        (try? String(contentsOf: repoRoot.appendingPathComponent("README.md"), encoding: .utf8)) ?? ""
    }

    static func blocks(_ text: String) -> [Block] {
        var out: [Block] = []
        var current: [String]?
        var start = 0
        for (i, line) in text.components(separatedBy: "\n").enumerated() {
            if line.hasPrefix("```") {
                if let c = current { out.append(Block(line: start, lines: c)); current = nil } else { current = []; start = i + 2 }
            } else if current != nil {
                current!.append(line)
            }
        }
        return out
    }

    static let prefixes = ["swift run -c release hvblob ", "swift run hvblob ", "hvblob "]

    /// The arguments of a command line; nil when it does not run hvblob.
    static func arguments(_ command: String) -> [String]? {
        var c = command
        if let r = c.range(of: "  # ") { c = String(c[..<r.lowerBound]) }
        c = c.trimmingCharacters(in: .whitespaces)
        guard let p = prefixes.first(where: { c.hasPrefix($0) || c == $0.trimmingCharacters(in: .whitespaces) }) else { return nil }
        let rest = c.count > p.count ? String(c.dropFirst(p.count)) : ""
        var args: [String] = []
        var cur = ""
        var quoted = false
        var any = false
        for ch in rest {
            if ch == "'" { quoted.toggle(); any = true } else if ch == " " && !quoted {
                if any || !cur.isEmpty { args.append(cur) }
                cur = ""; any = false
            } else { cur.append(ch) }
        }
        if any || !cur.isEmpty { args.append(cur) }
        return args
    }

    static func samples(_ text: String) -> (samples: [Sample], problems: [String]) {
        var samples: [Sample] = []
        var problems: [String] = []
        for b in blocks(text) {
            guard let first = b.lines.first, first.hasPrefix("$ ") else {
                for (k, l) in b.lines.enumerated() where l.hasPrefix("$ ") {
                    problems.append("README.md:\(b.line + k): a '$ ' line in a block that is not a sample (start the block with it)")
                }
                continue
            }
            var i = 0
            while i < b.lines.count {
                let cmd = String(b.lines[i].dropFirst(2))
                var j = i + 1
                while j < b.lines.count && !b.lines[j].hasPrefix("$ ") { j += 1 }
                var expected = Array(b.lines[(i + 1)..<j])
                while expected.last?.isEmpty == true { expected.removeLast() }
                var status: Int32 = 0
                if let last = expected.last, last.hasPrefix("# exit "), let n = Int32(last.dropFirst(7)) {
                    status = n
                    expected.removeLast()
                }
                if let args = arguments(cmd) {
                    samples.append(Sample(line: b.line + i, command: cmd, args: args, expected: expected, status: status))
                } else {
                    problems.append("README.md:\(b.line + i): '\(cmd)' does not run hvblob")
                }
                i = j
            }
        }
        return (samples, problems)
    }

    /// `…` in a shown line matches any text.
    static func lineMatches(_ shown: String, _ actual: String) -> Bool {
        let shown = shown.trimmingCharacters(in: .whitespaces), actual = actual.trimmingCharacters(in: .whitespaces)
        let pieces = shown.components(separatedBy: "…")
        if pieces.count == 1 { return shown == actual }
        guard actual.hasPrefix(pieces[0]) else { return false }
        var rest = actual.dropFirst(pieces[0].count)
        for (k, piece) in pieces.enumerated().dropFirst() {
            if k == pieces.count - 1 { return rest.hasSuffix(piece) && rest.count >= piece.count }
            guard let r = rest.range(of: piece) else { return false }
            rest = rest[r.upperBound...]
        }
        return true
    }

    /// Nil when the output shows the sample's lines as the convention says; else what is wrong.
    static func mismatch(_ expected: [String], _ output: [String]) -> String? {
        var segments: [[String]] = [[]]
        for l in expected { if l.trimmingCharacters(in: .whitespaces) == "..." { segments.append([]) } else { segments[segments.count - 1].append(l) } }
        let openStart = segments.first!.isEmpty, openEnd = segments.last!.isEmpty
        segments = segments.filter { !$0.isEmpty }
        var cursor = 0
        for (k, seg) in segments.enumerated() {
            func fits(_ at: Int) -> Bool {
                at + seg.count <= output.count && zip(seg, output[at..<(at + seg.count)]).allSatisfy { lineMatches($0, $1) }
            }
            let isFirst = k == 0, isLast = k == segments.count - 1
            var found: Int?
            if isLast && !openEnd {
                let at = output.count - seg.count
                if at >= cursor && (!isFirst || openStart || at == 0) && fits(at) { found = at }
            } else if isFirst && !openStart {
                if fits(0) { found = 0 }
            } else {
                found = (cursor..<max(cursor, output.count)).first(where: fits)
            }
            guard let at = found else { return "no match for the shown line '\(seg[0])' (and the \(seg.count - 1) after it) from output line \(cursor + 1)" }
            cursor = at + seg.count
        }
        if segments.isEmpty && !openStart && !output.isEmpty { return "the sample shows no output, the command prints \(output.count) line(s)" }
        return nil
    }

    static let outputOptions: Set<String> = ["-o", "--record", "--trace", "--diagram", "--report", ">"]

    @Test("readme.convention: the matcher accepts what the convention says and refuses the rest")
    func matcher() {
        #expect(ReadmeTests.mismatch(["a", "b"], ["a", "b"]) == nil)
        #expect(ReadmeTests.mismatch(["a", "b"], ["a", "b", "c"]) != nil)
        #expect(ReadmeTests.mismatch(["a", "..."], ["a", "b", "c"]) == nil)
        #expect(ReadmeTests.mismatch(["...", "c"], ["a", "b", "c"]) == nil)
        #expect(ReadmeTests.mismatch(["a", "...", "c"], ["a", "b", "c"]) == nil)
        #expect(ReadmeTests.mismatch(["a", "c"], ["a", "b", "c"]) != nil)
        #expect(ReadmeTests.mismatch(["c", "a"], ["a", "b", "c"]) != nil)
        #expect(ReadmeTests.mismatch(["rate: … /s"], ["rate: 12,345 /s"]) == nil)
        #expect(ReadmeTests.mismatch(["rate: … /s"], ["rate: 12,345 ms"]) != nil)
        #expect(ReadmeTests.mismatch(["x … y … z"], ["x 1 y 2 z"]) == nil)
        #expect(ReadmeTests.arguments("swift run hvblob explore --rules 'a b'  # why") == ["explore", "--rules", "a b"])
        #expect(ReadmeTests.arguments("make -C kernel") == nil)
    }

    @Test("readme.samples: every README sample is what its command prints today, exit status included")
    func samplesMatch() throws {
        try #require(FileManager.default.isExecutableFile(atPath: CLITests.binary), "no hvblob binary at \(CLITests.binary): run swift build first")
        let (samples, problems) = ReadmeTests.samples(ReadmeTests.readme)
        for p in problems { Issue.record(Comment(rawValue: p)) }
        // The README shows simulate, verify, explore, replay, vectors, decode and a mistake.
        #expect(samples.count >= 8, "only \(samples.count) samples found: the convention above is not being followed")
        for s in samples {
            if let shared = s.args.first(where: { $0.hasPrefix("../shared/") }),
               !FileManager.default.fileExists(atPath: repoRoot.appendingPathComponent(shared).path) {
                if runningUnderCI { Issue.record("\(s): \(shared) is missing beside the project") } else { print("note: \(s) not run: \(shared) missing") }
                continue
            }
            let out = try runProcess([CLITests.binary] + s.args, cwd: repoRoot)
            let lines = out.output.components(separatedBy: "\n")
            let shown = lines.last == "" ? Array(lines.dropLast()) : lines
            #expect(out.status == s.status, "\(s): exit \(out.status), the README says \(s.status)\n\(out.output.suffix(2000))")
            if let why = ReadmeTests.mismatch(s.expected, shown) {
                Issue.record("\(s): \(why)\n--- the README shows:\n\(s.expected.joined(separator: "\n"))\n--- the command printed:\n\(out.output.prefix(4000))")
            }
        }
    }

    @Test("readme.no-writes-into-checkout: README commands write only under /tmp")
    func writesOnlyTmp() {
        for b in ReadmeTests.blocks(ReadmeTests.readme) {
            for (k, raw) in b.lines.enumerated() {
                let line = raw.hasPrefix("$ ") ? String(raw.dropFirst(2)) : raw
                let words = line.split(separator: " ").map(String.init)
                guard words.contains(where: { $0 == "hvblob" || $0.hasPrefix("Scripts/") || $0 == "tshark" }) || words.first == "sudo" else { continue }
                for (i, w) in words.enumerated() where ReadmeTests.outputOptions.contains(w) && i + 1 < words.count {
                    let path = words[i + 1]
                    #expect(path.hasPrefix("/tmp/"), "README.md:\(b.line + k): \(w) \(path) writes into the checkout: use a /tmp path")
                }
            }
        }
    }
}
