// SPDX-License-Identifier: Apache-2.0
import ArgumentParser
import Foundation
import HVBlob

#if canImport(Glibc)
import Glibc
#endif

@main
struct HVBlobCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hvblob",
        abstract: "An executable model of the Azure Blob VMBus fast path, with a simulated Hyper-V host.",
        discussion: """
            Exit status: 0 clean, 1 findings (violations, hangs, integrity errors), 2 bad usage or input.
            """,
        subcommands: [Simulate.self, Verify.self, Explore.self, Record.self, Replay.self, Vectors.self, ConformanceCommand.self, Decode.self, Bench.self, ReplayFuzz.self, Serve.self,
                      GuestCommand.self, HostCommand.self, VerifyHost.self, FuzzHost.self, BenchHostCommand.self],
        defaultSubcommand: Simulate.self
    )

    /// ArgumentParser exits 64 on usage errors; the contract here is 2.
    static func main() {
        preflight(Array(CommandLine.arguments.dropFirst()))
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch let e as ExitCode {
            Glibc.exit(e.rawValue)
        } catch {
            let code = exitCode(for: error)
            if code == .success {
                print(fullMessage(for: error))
                Glibc.exit(0)
            }
            Out.standardError.write(fullMessage(for: error) + "\n")
            Glibc.exit(2)
        }
    }
}

extension HVBlobCommand {
    /// The subcommands' names, as a user types them.
    static var subcommandNames: [String] { configuration.subcommands.map { $0._commandName } }

    /// Mistakes ArgumentParser reports badly, caught before it parses: an unknown subcommand
    /// (it would parse the word as an argument of the default `simulate`) and a negative number
    /// (it would read `-1` as an option and say the value is missing). Exit 2.
    static func preflight(_ argv: [String]) {
        if let first = argv.first, !first.hasPrefix("-"), first != "help", !subcommandNames.contains(first) {
            fail("unknown subcommand '\(first)'\(closeMatches(first, subcommandNames).map { " (did you mean \($0)?)" } ?? "")"
                 + "; the subcommands: \(subcommandNames.joined(separator: ", "))")
        }
        if argv.count > 1, let command = configuration.subcommands.first(where: { $0._commandName == argv[0] }),
           !command.configuration.subcommands.isEmpty, command.configuration.defaultSubcommand == nil {
            let names = command.configuration.subcommands.map { $0._commandName }
            let word = argv[1]
            if !word.hasPrefix("-"), word != "help", !names.contains(word) {
                fail("unknown subcommand '\(argv[0]) \(word)'\(closeMatches(word, names).map { " (did you mean \(argv[0]) \($0)?)" } ?? "")"
                     + "; the subcommands of \(argv[0]): \(names.joined(separator: ", "))")
            }
        }
        for (i, arg) in argv.enumerated() where isNegativeNumber(arg) {
            let option = i > 0 && argv[i - 1].hasPrefix("--") ? argv[i - 1] : nil
            guard let option else { fail("'\(arg)': a negative number is not an argument here") }
            fail("\(option): '\(arg)' is negative: \(option) takes \(negativeHint(option))")
        }
        for arg in argv where arg.hasPrefix("--") {
            guard let eq = arg.firstIndex(of: "="), isNegativeNumber(String(arg[arg.index(after: eq)...])) else { continue }
            let option = String(arg[..<eq])
            fail("\(option): '\(arg[arg.index(after: eq)...])' is negative: \(option) takes \(negativeHint(option))")
        }
    }

    static func isNegativeNumber(_ s: String) -> Bool {
        guard s.hasPrefix("-"), s.count > 1 else { return false }
        let rest = s.dropFirst()
        return rest.first!.isNumber && rest.allSatisfy { $0.isHexDigit || $0 == "." || $0 == "x" || $0 == "," || $0 == "-" }
    }

    static func negativeHint(_ option: String) -> String {
        switch option {
        case "--seed": return "a seed of 0 or more (decimal or 0x hex)"
        case "--bound": return "a preemption bound of 0 or more"
        case "--kernel-version": return "a version such as \(KernelVersion.default)"
        case "--sizes": return "sizes in bytes of 1 or more"
        default: return "a count of 1 or more"
        }
    }
}

/// The names in `known` closest to `name` (a prefix either way, or at most 2 edits per 5
/// characters), as "a, b or c"; nil when none is close.
func closeMatches(_ name: String, _ known: [String], limit: Int = 3) -> String? {
    let n = name.lowercased()
    let scored = known.map { k -> (String, Int) in
        let kl = k.lowercased()
        if kl.hasPrefix(n) || n.hasPrefix(kl) { return (k, 0) }
        return (k, editDistance(n, kl))
    }
    let allowed = max(2, name.count * 2 / 5)
    let close = scored.filter { $0.1 <= allowed }.sorted { ($0.1, $0.0) < ($1.1, $1.0) }.prefix(limit).map(\.0)
    if close.isEmpty { return nil }
    if close.count == 1 { return close[0] }
    return close.dropLast().joined(separator: ", ") + " or " + close.last!
}

func editDistance(_ a: String, _ b: String) -> Int {
    let a = Array(a), b = Array(b)
    if a.isEmpty { return b.count }
    var row = Array(0...b.count)
    for i in 1...a.count {
        var prev = row[0]
        row[0] = i
        for j in stride(from: 1, through: b.count, by: 1) {
            let cur = row[j]
            row[j] = min(row[j] + 1, row[j - 1] + 1, prev + (a[i - 1] == b[j - 1] ? 0 : 1))
            prev = cur
        }
    }
    return row[b.count]
}

/// Checks each comma-separated name or `prefix.*` pattern against `known`; an empty entry, a
/// name that is not known or a pattern that matches nothing is an error naming the option as
/// typed, with the closest known names. Exit 2. Returns the names matched, patterns expanded.
func checkNames(_ option: String, _ text: String, known: [String], what: String, listedBy: String) -> [String] {
    let parts = text.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
    var names: [String] = []
    for p in parts {
        if p.isEmpty { fail("\(option): an empty \(what) in '\(text)'") }
        if p.hasSuffix("*") {
            let prefix = String(p.dropLast())
            names += known.filter { $0.hasPrefix(prefix) }
            if !known.contains(where: { $0.hasPrefix(prefix) }) {
                let heads = Array(Set(known.compactMap { k in k.split(separator: ".").first.map { String($0) + ".*" } })).sorted()
                fail("\(option): '\(p)' matches no \(what)\(closeMatches(p, heads).map { " (did you mean \($0)?)" } ?? ""); \(listedBy) lists them")
            }
        } else if !known.contains(p) {
            fail("\(option): unknown \(what) '\(p)'\(closeMatches(p, known).map { " (did you mean \($0)?)" } ?? ""); \(listedBy) lists them")
        } else {
            names.append(p)
        }
    }
    return names
}

/// Whether the user typed `name` (as `name`, `name=...`), for options whose default cannot be
/// told apart from a value given.
func typed(_ name: String) -> Bool {
    CommandLine.arguments.dropFirst().contains { $0 == name || $0.hasPrefix(name + "=") }
}

/// An output file the command will write: checked before the run starts, so that a long run
/// does not end in "cannot open". The message names the option as the user typed it.
func checkOutputFile(_ path: String, option: String) {
    if path.isEmpty { fail("\(option): an empty path") }
    if isDirectory(path) { fail("\(option): \(path) is a directory; give a file to write") }
    let dir = URL(fileURLWithPath: path).deletingLastPathComponent().path
    if !isDirectory(dir) { fail("\(option): \(path): the directory \(dir) does not exist") }
    if FileManager.default.fileExists(atPath: path) {
        if access(path, W_OK) != 0 { fail("\(option): \(path): not writable") }
    } else if access(dir, W_OK) != 0 {
        fail("\(option): \(path): the directory \(dir) is not writable")
    }
}

/// Bad input: printed as "hvblob: what (where)" and exit 2.
struct InputError: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}

enum Out {
    case standardError, standardOutput
    func write(_ s: String) {
        let fd: Int32 = self == .standardError ? 2 : 1
        var s = s
        s.withUTF8 { buf in
            var off = 0
            while off < buf.count {
                let n = Glibc.write(fd, buf.baseAddress! + off, buf.count - off)
                if n <= 0 { break }
                off += n
            }
        }
    }
}

func fail(_ message: String) -> Never {
    Out.standardError.write("hvblob: \(message)\n")
    Glibc.exit(2)
}

func parseSeed(_ s: String) -> UInt64? {
    if s.hasPrefix("0x") { return UInt64(s.dropFirst(2), radix: 16) }
    return UInt64(s)
}

/// --kernel-version: a version in 5.13...6.3, else exit 2 naming the value.
func parseKernelVersion(_ text: String) -> KernelVersion {
    guard let v = KernelVersion(text), KernelVersion.supported.contains(v) else {
        fail("--kernel-version: '\(text)' is not a version in \(KernelVersion.supported.lowerBound)...\(KernelVersion.supported.upperBound)")
    }
    return v
}
