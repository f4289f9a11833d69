// SPDX-License-Identifier: Apache-2.0
import ArgumentParser
import Foundation
import HVBlob
import HVBlobBridge

/// The driver as the user has it: a C file, a kernel tree or folder, or a patch mail (one
/// patch, a `git format-patch` file, an mbox of a series), plus include directories.
struct DriverInput: ParsableArguments {
    @Option(help: "The driver's C source (a patch mail also works here; default: the in-tree kernel/hv_azure_blob.c).")
    var driver: String?
    @Option(help: "A kernel tree or folder holding the driver and its headers.")
    var tree: String?
    @Option(help: "A patch mail, git format-patch file or mbox of a series that adds the driver (e.g. ../shared/revisions/v5.eml).")
    var patch: String?
    @Option(name: .customLong("include"), help: "Another include directory for the driver's #include <...> (repeatable).")
    var includes: [String] = []

    /// Which options were given, as typed.
    var given: [String] {
        [driver.map { _ in "--driver" }, tree.map { _ in "--tree" }, patch.map { _ in "--patch" }].compactMap { $0 }
    }

    var any: Bool { !given.isEmpty }

    /// The source to build, or nil when none was given and `inTree` is false. Bad input: the
    /// message names the option as typed and the file, and the exit status is 2.
    func resolve(inTree: Bool = true) -> DriverSource? {
        if given.count > 1 { fail("\(given.joined(separator: " and ")) exclude each other: give the driver one way") }
        let extra = includes.map { URL(fileURLWithPath: $0) }
        for dir in includes {
            var isDir: ObjCBool = false
            guard FileManager.default.fileExists(atPath: dir, isDirectory: &isDir), isDir.boolValue else {
                fail("--include: \(dir): no such directory")
            }
        }
        do {
            if let p = patch {
                var s = try DriverSource.fromPatch(URL(fileURLWithPath: p), cache: DriverSource.defaultCache)
                s.includeDirs += extra
                return s
            }
            if let t = tree { return try DriverSource.fromTree(URL(fileURLWithPath: t), extraIncludes: extra) }
            if let d = driver {
                if isDirectory(d) { fail("--driver: \(d) is a directory; give the driver's C file, or the directory as --tree \(d)") }
                return try DriverSource.resolve(URL(fileURLWithPath: d), extraIncludes: extra)
            }
        } catch {
            fail("\(given.first ?? "--driver"): \(error)")
        }
        guard inTree else { return nil }
        return DriverSource(driver: DriverBuild.inTreeDriver,
                            includeDirs: [DriverBuild.repositoryRoot.appendingPathComponent("kernel/include")],
                            origin: "kernel/hv_azure_blob.c (in-tree)")
    }
}

/// Resolves and builds a driver a command names by path (`--driver`, `--c-driver`): a C file,
/// a tree or a patch. Exit 2 with the reason when it cannot be resolved or built.
func buildDriver(_ path: String, option: String, version: KernelVersion?) -> DriverBuild.Built {
    let source: DriverSource
    do { source = try DriverSource.resolve(URL(fileURLWithPath: path)) } catch { fail("\(option): \(error)") }
    do { return try DriverBuild.build(source, version: version) } catch {
        Out.standardError.write("hvblob: \(error)\n")
        Glibc.exit(2)
    }
}

/// Paths inside the cache where a patch is materialised, shown as the patch names them
/// (`drivers/hv/hv_azure_blob.c:108:37`, not `/tmp/hvblob-sources/6ce9…/drivers/hv/...`).
/// Paths under the current directory are shown relative to it, as a user types them.
func shown(_ text: String) -> String {
    let root = NSRegularExpression.escapedPattern(for: DriverSource.defaultCache.path)
    var t = text.replacingOccurrences(of: root + "/[0-9a-f]+/", with: "", options: .regularExpression)
    let cwd = FileManager.default.currentDirectoryPath
    if cwd.count > 1 { t = t.replacingOccurrences(of: cwd + "/", with: "") }
    return t
}

/// One quiet line for an API era the driver does not build for ("6.3: file:line: error: ..."):
/// the reason in words where the error is a known difference between eras, else the place of
/// the first error; --verbose prints the compiler's output.
func eraLine(_ skipped: String) -> String {
    guard let colon = skipped.range(of: ": ") else { return "API era \(skipped)" }
    let era = skipped[..<colon.lowerBound]
    let error = String(skipped[colon.upperBound...])
    let place = error.range(of: ": error:").map { String(error[..<$0.lowerBound]) }
    let at = place.map { " (\($0))" } ?? ""
    let pattern = #"incompatible function pointer types initializing '(\w+) \(\*\)\(([^)]*)\)' with an expression of type '(\w+) \(([^)]*)\)'"#
    if let re = try? NSRegularExpression(pattern: pattern),
       let m = re.firstMatch(in: error, range: NSRange(error.startIndex..., in: error)), m.numberOfRanges == 5,
       let era0 = Range(m.range(at: 1), in: error), let args = Range(m.range(at: 2), in: error), let drv = Range(m.range(at: 3), in: error) {
        let hook = error[args] == "struct hv_device *" ? "remove()" : "callback taking (\(error[args]))"
        return "API era \(era) skipped: its \(hook) returns \(error[era0]); this driver's returns \(error[drv])\(at)"
    }
    return "API era \(era) skipped: it does not build there\(place.map { " (first error at \($0))" } ?? ""); --verbose shows why"
}

/// One addr2line run: function and file:line for each offset, in order; nil without addr2line.
func addr2line(_ library: String, _ offsets: [String]) -> [(function: String, line: String)]? {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    p.arguments = ["addr2line", "-f", "-s", "-e", library] + offsets
    let pipe = Pipe()
    p.standardOutput = pipe
    p.standardError = Pipe()
    guard (try? p.run()) != nil else { return nil }
    let out = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self).split(separator: "\n").map(String.init)
    p.waitUntilExit()
    guard out.count == 2 * offsets.count else { return nil }
    return offsets.indices.map { (out[2 * $0], out[2 * $0 + 1]) }
}

/// Replaces the driver's code addresses in `text` — `@0x<offset>` (a call site) and
/// `<library>.so+0x<offset>` (a fault) — by "in function (file:line)", with addr2line over the
/// driver's library. Text without addresses, or a machine without addr2line, is left as it is.
func symbolizeSites(_ text: String, library: String) -> String {
    let lib = NSRegularExpression.escapedPattern(for: library)
    let pattern = "(at )?(@|" + lib + "\\+)0x[0-9a-f]+"
    guard let re = try? NSRegularExpression(pattern: pattern) else { return text }
    let ns = text as NSString
    let matches = re.matches(in: text, range: NSRange(location: 0, length: ns.length))
    guard !matches.isEmpty else { return text }
    func offset(_ m: NSTextCheckingResult) -> String {
        let s = ns.substring(with: m.range)
        return String(s[s.range(of: "0x")!.lowerBound...])
    }
    let unique = Array(Set(matches.map(offset))).sorted()
    guard let out = addr2line(library, unique) else { return text }
    var names: [String: String] = [:]
    for (i, o) in unique.enumerated() where out[i].function != "??" { names[o] = "\(out[i].function) (\(out[i].line))" }
    // A call site is a return address: the instruction after the call, which the compiler may
    // attribute to no line (file:? or :0). The call itself, one byte before, has the line.
    let lineless = unique.filter { o in names[o].map { $0.hasSuffix(":?)") || $0.hasSuffix(":0)") } ?? false }
    if !lineless.isEmpty, let before = addr2line(library, lineless.map { o in "0x" + String((UInt64(o.dropFirst(2), radix: 16) ?? 1) - 1, radix: 16) }) {
        for (i, o) in lineless.enumerated() where before[i].function != "??" && !before[i].line.hasSuffix(":?") {
            names[o] = "\(before[i].function) (\(before[i].line))"
        }
    }
    var result = text
    for m in matches.reversed() {
        guard let n = names[offset(m)], let r = Range(m.range, in: result) else { continue }
        // A call site reads "spin_lock …, in f (x.c:3)" (never "at in f"); a fault already
        // says "in <library>", so its offset becomes the bare name.
        let site = ns.substring(with: m.range)
        result.replaceSubrange(r, with: site.hasPrefix("at ") || site.hasPrefix("@") ? "in " + n : n)
    }
    return result
}
