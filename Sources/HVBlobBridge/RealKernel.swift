// SPDX-License-Identifier: Apache-2.0
import Foundation
import HVBlob

/// The real kernel headers on this machine (`apt-get install linux-headers-amd64`): the truth
/// for which names the kernel API has, and a kbuild tree a driver can be built against, so that
/// a user sees beside the shim's result whether the driver builds for a real kernel.
public enum RealKernel {
    /// `/usr/src/linux-headers-<version>-amd64` (the kbuild tree), newest first; nil when none.
    public static var buildTree: URL? {
        let dirs = (try? FileManager.default.contentsOfDirectory(atPath: "/usr/src")) ?? []
        guard let d = dirs.filter({ $0.hasPrefix("linux-headers-") && $0.hasSuffix("-amd64") }).sorted().last else { return nil }
        return URL(fileURLWithPath: "/usr/src/\(d)")
    }

    /// The directories whose headers declare the kernel API (the tree's common part).
    static var headerDirs: [URL] {
        guard let tree = buildTree else { return [] }
        let common = tree.path.replacingOccurrences(of: "-amd64", with: "-common")
        return [URL(fileURLWithPath: common + "/include"), URL(fileURLWithPath: common + "/arch/x86/include"),
                tree.appendingPathComponent("include")].filter { FileManager.default.fileExists(atPath: $0.path) }
    }

    /// Of `names`, those the real headers declare (a `#define`, a function declared at the start
    /// of a line, a struct, union, enum, typedef or enum constant); nil when no headers are
    /// installed. A name only used inside inline bodies (`i`) does not count.
    public static func declared(_ names: [String]) -> Set<String>? {
        let dirs = headerDirs
        guard !dirs.isEmpty else { return nil }
        let safe = names.filter { !$0.isEmpty && $0.allSatisfy { $0.isLetter || $0.isNumber || $0 == "_" } }
        guard !safe.isEmpty else { return [] }
        let alt = "(" + safe.joined(separator: "|") + ")"
        let ere = [
            "#[[:space:]]*define[[:space:]]+\(alt)\\b",
            "^[A-Za-z_][^;(]*[[:space:]*]\(alt)[[:space:]]*\\(",
            "^(struct|union|enum)[[:space:]]+\(alt)\\b",
            "^typedef[^;]*[[:space:]*]\(alt)[[:space:]]*;",
            "^}[[:space:]]*\(alt)[[:space:]]*;",
            // An enum constant: a line of its own, a value with balanced parentheses.
            "^[[:space:]]+\(alt)[[:space:]]*(=([^;=()]|\\([^;()]*\\))*)?,[[:space:]]*(/[*/].*)?$",
        ].joined(separator: "|")
        let (_, out) = DriverBuild.run(["/usr/bin/grep", "-rhoE", "--include=*.h", ere] + dirs.map(\.path))
        var found = Set<String>()
        for line in out.split(separator: "\n") {
            for n in safe where !found.contains(n) && line.range(of: "\\b\(n)\\b", options: .regularExpression) != nil {
                found.insert(n)
            }
        }
        return found
    }

    /// What kbuild said of the driver against the real headers.
    public struct Build: Sendable {
        public let tree: String
        public let builds: Bool
        /// The first errors, `file:line: error: ...`.
        public let errors: [String]
        public let cached: Bool
    }

    /// Builds the driver as a module with kbuild against the installed headers (its local
    /// headers copied beside it, its include dirs and forced includes as ccflags); nil when no
    /// headers are installed. Cached by content.
    public static func build(_ source: DriverSource) -> Build? {
        guard let tree = buildTree else { return nil }
        let fm = FileManager.default
        // The tree and how the build is made (bump the tag when the Kbuild file changes).
        var digest = FNV1a.hash(Array((tree.path + "|kbuild-2").utf8))
        let files = Set(source.files + [source.driver] + source.forcedIncludes).sorted { $0.path < $1.path }
        for f in files {
            digest = FNV1a.hash(Array(f.path.utf8), into: digest)
            digest = FNV1a.hash(fm.contents(atPath: f.path) ?? Data(), into: digest)
        }
        let cache = fm.temporaryDirectory.appendingPathComponent("hvblob-kbuild")
        let verdict = cache.appendingPathComponent(String(digest, radix: 16) + ".txt")
        if let text = try? String(contentsOf: verdict, encoding: .utf8) {
            let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
            return Build(tree: tree.path, builds: lines.first == "ok", errors: Array(lines.dropFirst()).filter { !$0.isEmpty }, cached: true)
        }
        let work = cache.appendingPathComponent(String(digest, radix: 16))
        try? fm.removeItem(at: work)
        try? fm.createDirectory(at: work, withIntermediateDirectories: true)
        let dir = source.driver.deletingLastPathComponent()
        // The driver and the files beside it that it reads (its private headers).
        for f in files where f.deletingLastPathComponent().path == dir.path {
            try? fm.copyItem(at: f, to: work.appendingPathComponent(f.lastPathComponent))
        }
        let module = source.driver.deletingPathExtension().lastPathComponent
        // The driver's own directory too: a private header beside it that the source list
        // does not name (a driver given as one .c) is found as kbuild would find it in place.
        var ccflags = ["-I\(dir.path)"] + source.includeDirs.map { "-I\($0.path)" }
        ccflags += source.forcedIncludes.map { "-include \($0.path)" }
        let kbuild = "obj-m := \(module).o\nccflags-y := \(ccflags.joined(separator: " "))\n"
        try? kbuild.write(to: work.appendingPathComponent("Kbuild"), atomically: true, encoding: .utf8)
        let (status, out) = DriverBuild.run(["/usr/bin/make", "-s", "-C", tree.path, "M=\(work.path)", "modules"])
        let prefix = work.path + "/"
        var errors: [String] = []
        for line in out.split(separator: "\n") where line.contains("error:") {
            errors.append(String(line).replacingOccurrences(of: prefix, with: dir.path + "/"))
        }
        let ok = status == 0 && fm.fileExists(atPath: work.appendingPathComponent("\(module).ko").path)
        let first = Array(errors.prefix(5))
        try? ((ok ? "ok" : "fail") + "\n" + first.joined(separator: "\n")).write(to: verdict, atomically: true, encoding: .utf8)
        try? fm.removeItem(at: work)
        return Build(tree: tree.path, builds: ok, errors: ok ? [] : (first.isEmpty ? ["make exited \(status): " + String(out.suffix(300))] : first), cached: false)
    }
}
