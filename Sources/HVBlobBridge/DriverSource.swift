// SPDX-License-Identifier: Apache-2.0
import Foundation
import HVBlob

/// A driver as the user has it, resolved to what the compiler needs: the C file that holds
/// `module_init`, the include directories its `#include <...>` lines resolve in (searched after
/// the kernel shim's own headers), and headers to force-include first (what a patch adds to
/// `include/linux/hyperv.h`, such as the device GUID macro).
public struct DriverSource: Sendable, Hashable {
    /// The driver's C file (the one with module_init).
    public var driver: URL
    /// `-I` directories after the shim's (a tree's `include/` and `include/uapi/`, `--include`).
    public var includeDirs: [URL]
    /// `-include` files, in order.
    public var forcedIncludes: [URL]
    /// Where it came from, for the report ("v5.eml: [Patch v5 2/3] Drivers: hv: add Azure Blob driver").
    public var origin: String
    /// Every file the build reads besides the shim (hashed into the build cache key).
    public var files: [URL]

    public init(driver: URL, includeDirs: [URL] = [], forcedIncludes: [URL] = [], origin: String = "", files: [URL] = []) {
        self.driver = driver
        self.includeDirs = includeDirs
        self.forcedIncludes = forcedIncludes
        self.origin = origin.isEmpty ? driver.path : origin
        self.files = files.isEmpty ? [driver] : files
    }
}

// MARK: - Resolving what the user gave

extension DriverSource {
    /// Where generated headers and materialised patch trees go unless told otherwise.
    public static var defaultCache: URL {
        FileManager.default.temporaryDirectory.appendingPathComponent("hvblob-sources")
    }

    /// Resolves whatever the user gave: a directory as a tree, a patch mail / format-patch file
    /// / mbox (a `.patch`, `.diff`, `.eml`, `.mbox` file, or any non-`.c` file holding a
    /// diff) as a patch, anything else as a C file.
    public static func resolve(_ url: URL, extraIncludes: [URL] = [], cache: URL = defaultCache) throws(DriverSourceError) -> DriverSource {
        switch try kind(of: url) {
        case .directory: return try fromTree(url, extraIncludes: extraIncludes, cache: cache)
        case .file:
            let ext = url.pathExtension.lowercased()
            if ["c", "h"].contains(ext) { return try fromFile(url, extraIncludes: extraIncludes, cache: cache) }
            if ["patch", "diff", "eml", "mbox", "mbx", "mail", "msg"].contains(ext) { return try fromPatch(url, cache: cache) }
            let bytes = try read(url)
            if !bytes.contains(0), UnifiedDiff.containsDiff(PatchMail.lines(bytes)) { return try fromPatch(url, cache: cache) }
            return try fromFile(url, extraIncludes: extraIncludes, cache: cache)
        }
    }

    /// A single C file: include directories from the kernel tree it sits in (the nearest
    /// `include/` above it holding `uapi/` or `linux/`, and its `uapi/`), then `extraIncludes`;
    /// the tree's `HV_*_GUID` defines, if it has `include/linux/hyperv.h`, force-included.
    public static func fromFile(_ file: URL, extraIncludes: [URL] = [], cache: URL = defaultCache) throws(DriverSourceError) -> DriverSource {
        let file = file.standardizedFileURL
        guard try kind(of: file) == .file else { throw .isDirectory(path: file.path) }
        let text = try cSource(file)
        guard CScan.hasModuleInit(CScan.code(text)) else { throw .noModuleInit(path: file.path) }
        var includes: [URL] = []
        var forced: [URL] = []
        if let inc = nearestInclude(above: file.deletingLastPathComponent()) {
            includes.append(inc)
            let uapi = inc.appendingPathComponent("uapi", isDirectory: true)
            if isDirectory(uapi) { includes.append(uapi) }
            if let h = try guidHeader(tree: inc.deletingLastPathComponent(), cache: cache) { forced.append(h) }
        }
        includes += extraIncludes.map(\.standardizedFileURL)
        return assemble(driver: file, includeDirs: includes, forced: forced, origin: file.path)
    }

    /// A kernel tree or any folder: the driver is the C file with `module_init` that registers
    /// an `hv_driver` (in a kernel tree, searched in `drivers/hv/` and `drivers/misc/` only);
    /// include directories are the tree's `include/` and `include/uapi/` (else the folder
    /// itself), then `extraIncludes`; the tree's `HV_*_GUID` defines are force-included.
    public static func fromTree(_ dir: URL, extraIncludes: [URL] = [], cache: URL = defaultCache) throws(DriverSourceError) -> DriverSource {
        let dir = dir.standardizedFileURL
        guard try kind(of: dir) == .directory else { throw .notADirectory(path: dir.path) }
        let kernel = isDirectory(dir.appendingPathComponent("include/linux")) && isDirectory(dir.appendingPathComponent("drivers"))
        let roots = kernel ? ["drivers/hv", "drivers/misc"].filter { isDirectory(dir.appendingPathComponent($0)) } : [""]
        var found: [(URL, String)] = []
        for root in roots {
            let base = root.isEmpty ? dir : dir.appendingPathComponent(root)
            for c in try cFiles(under: base, limit: kernel ? 20_000 : 5_000, reportAs: dir.path) {
                guard let data = FileManager.default.contents(atPath: c.path), data.count <= 4 << 20,
                      !data.contains(0), let text = String(data: data, encoding: .utf8) else { continue }
                found.append((c, text))
            }
        }
        let candidates = found.map { (url: $0.0, code: CScan.code($0.1)) }
        guard let driver = try pick(candidates, registering: true, reportAs: dir.path, relativeTo: dir) else {
            throw .noDriverInTree(path: dir.path, searched: kernel ? roots : [])
        }
        var includes: [URL] = []
        let inc = dir.appendingPathComponent("include")
        if isDirectory(inc) {
            includes.append(dir.appendingPathComponent("include", isDirectory: true))
            if isDirectory(inc.appendingPathComponent("uapi")) { includes.append(dir.appendingPathComponent("include/uapi", isDirectory: true)) }
        } else {
            includes.append(dir)
        }
        includes += extraIncludes.map(\.standardizedFileURL)
        let forced = try guidHeader(tree: dir, cache: cache).map { [$0] } ?? []
        return assemble(driver: driver, includeDirs: includes, forced: forced,
                        origin: "\(dir.path): \(relative(driver, to: dir))")
    }

    /// The header files whose text belongs to the driver rather than the kernel: those it
    /// includes with quotes (resolved beside the including file, then in `includeDirs`), with
    /// `<uapi/...>` or `<misc/...>` (resolved in `includeDirs`), and any other `<...>` that
    /// resolves to one of `files`; followed recursively (bounded), in first-seen order.
    public var localHeaders: [URL] {
        let own = Set(files.map(\.standardizedFileURL.path))
        var seen: Set<String> = [driver.standardizedFileURL.path]
        var out: [URL] = []
        var queue: [(URL, Int)] = [(driver, 0)]
        while !queue.isEmpty, out.count < 64 {
            let (file, depth) = queue.removeFirst()
            guard depth < 8, let data = FileManager.default.contents(atPath: file.path), data.count <= 4 << 20 else { continue }
            for (quoted, name) in CScan.includes(String(decoding: data, as: UTF8.self)) {
                var places: [URL] = []
                if quoted { places.append(file.deletingLastPathComponent()) }
                places += includeDirs
                let candidates = places.map { $0.appendingPathComponent(name).standardizedFileURL }
                guard let hit = candidates.first(where: { FileManager.default.fileExists(atPath: $0.path) && !Self.isDirectory($0) }) else { continue }
                let belongs = quoted || name.hasPrefix("uapi/") || name.hasPrefix("misc/") || own.contains(hit.path)
                guard belongs, seen.insert(hit.path).inserted else { continue }
                out.append(hit)
                queue.append((hit, depth + 1))
            }
        }
        return out
    }
}

// MARK: - Helpers

extension DriverSource {
    enum Kind { case file, directory }

    static func kind(of url: URL) throws(DriverSourceError) -> Kind {
        var dir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &dir) else { throw .notFound(path: url.path) }
        return dir.boolValue ? .directory : .file
    }

    static func isDirectory(_ url: URL) -> Bool {
        var dir: ObjCBool = false
        return FileManager.default.fileExists(atPath: url.path, isDirectory: &dir) && dir.boolValue
    }

    static func read(_ url: URL) throws(DriverSourceError) -> [UInt8] {
        do { return [UInt8](try Data(contentsOf: url)) } catch {
            throw .unreadable(path: url.path, reason: (error as NSError).localizedDescription)
        }
    }

    /// The text of a file that must be C source, or why it is not.
    static func cSource(_ url: URL) throws(DriverSourceError) -> String {
        let bytes = try read(url)
        guard !bytes.contains(0), let text = String(validating: bytes, as: UTF8.self) else { throw .binary(path: url.path) }
        switch CScan.classify(text) {
        case .c: return text
        case .markdown: throw .notCSource(path: url.path, hint: "Markdown")
        case .patch: throw .notCSource(path: url.path, hint: "a patch: give it as a patch")
        case .other: throw .notCSource(path: url.path, hint: nil)
        }
    }

    /// The nearest `include/` holding `uapi/` or `linux/`, walking up from `dir` (bounded).
    static func nearestInclude(above dir: URL) -> URL? {
        var d = dir.standardizedFileURL
        for _ in 0..<24 {
            let inc = d.appendingPathComponent("include", isDirectory: true)
            if isDirectory(inc.appendingPathComponent("uapi")) || isDirectory(inc.appendingPathComponent("linux")) { return inc }
            let up = d.deletingLastPathComponent()
            if up.path == d.path { break }
            d = up
        }
        return nil
    }

    /// The `.c` files under `dir`, hidden and build directories skipped; more than `limit`
    /// entries visited is an error (the folder is too big to search).
    static func cFiles(under dir: URL, limit: Int, reportAs: String) throws(DriverSourceError) -> [URL] {
        guard let e = FileManager.default.enumerator(at: dir, includingPropertiesForKeys: [.isDirectoryKey],
                                                     options: [.skipsHiddenFiles, .skipsPackageDescendants]) else { return [] }
        var out: [URL] = []
        var visited = 0
        while let u = e.nextObject() as? URL {
            visited += 1
            if visited > limit { throw .tooManyFiles(path: reportAs, limit: limit) }
            let name = u.lastPathComponent
            if (try? u.resourceValues(forKeys: [.isDirectoryKey]).isDirectory) == true {
                if [".build", "node_modules", "build"].contains(name) { e.skipDescendants() }
                continue
            }
            if name.hasSuffix(".c") { out.append(u.standardizedFileURL) }
        }
        return out.sorted { $0.path < $1.path }
    }

    /// The driver among `candidates` (C files with their comment-free code): those with
    /// `module_init` (or a `module_hv_driver`-style macro), narrowed to those naming the
    /// device hvblob simulates, else to those registering an `hv_driver`. nil when none
    /// qualifies; an error when several remain. With `registering`, a file that registers
    /// no `hv_driver` never qualifies.
    static func pick(_ candidates: [(url: URL, code: String)], registering: Bool, reportAs: String, relativeTo base: URL) throws(DriverSourceError) -> URL? {
        let withInit = candidates.filter { CScan.hasModuleInit($0.code) }
        let hv = withInit.filter { CScan.registersHVDriver($0.code) }
        let blob = hv.filter { CScan.namesBlobDevice($0.code) }
        let tier = !blob.isEmpty ? blob : !hv.isEmpty ? hv : registering ? [] : withInit
        if tier.count > 1 { throw .severalDrivers(path: reportAs, candidates: tier.map { relative($0.url, to: base) }) }
        return tier.first?.url
    }

    static func relative(_ url: URL, to base: URL) -> String {
        let p = url.standardizedFileURL.path, b = base.standardizedFileURL.path
        let prefix = b.hasSuffix("/") ? b : b + "/"
        return p.hasPrefix(prefix) ? String(p.dropFirst(prefix.count)) : p
    }

    static func assemble(driver: URL, includeDirs: [URL], forced: [URL], origin: String, files: [URL] = []) -> DriverSource {
        var s = DriverSource(driver: driver, includeDirs: includeDirs, forcedIncludes: forced, origin: origin)
        var all = files.isEmpty ? [driver] : files
        for h in s.localHeaders where !all.contains(h) { all.append(h) }
        for f in forced where !all.contains(f) { all.append(f) }
        s.files = all
        return s
    }

    /// A header holding the `HV_*_GUID` defines of `tree/include/linux/hyperv.h` (with their
    /// continuation lines), written content-addressed under `cache`; nil without such defines.
    static func guidHeader(tree: URL, cache: URL) throws(DriverSourceError) -> URL? {
        let h = tree.appendingPathComponent("include/linux/hyperv.h")
        guard let data = FileManager.default.contents(atPath: h.path) else { return nil }
        let lines = String(decoding: data, as: UTF8.self).components(separatedBy: "\n")
        var defines: [String] = []
        var i = 0
        while i < lines.count {
            if let name = CScan.defineName(lines[i]), name.hasPrefix("HV_"), name.hasSuffix("_GUID") {
                var block = [lines[i]]
                while CScan.continues(block[block.count - 1]), i + 1 < lines.count, block.count < 64 {
                    i += 1
                    block.append(lines[i])
                }
                defines.append(block.joined(separator: "\n"))
            }
            i += 1
        }
        guard !defines.isEmpty else { return nil }
        let text = """
            /* Generated by hvblob: the HV_*_GUID defines of \(CScan.commentSafe(h.path)),
             * force-included because hvblob's kernel shim provides <linux/hyperv.h>. */
            #ifndef HVB_TREE_HYPERV_GUIDS_H
            #define HVB_TREE_HYPERV_GUIDS_H

            \(defines.joined(separator: "\n\n"))

            #endif

            """
        let dir = try ContentCache.store([("hvb-tree-hyperv-guids.h", Array(text.utf8))], in: cache)
        return dir.appendingPathComponent("hvb-tree-hyperv-guids.h")
    }
}

/// Files written once under a directory named by the hash of their paths and contents, so
/// resolving the same input again reuses them and concurrent runs do not trip on each other.
enum ContentCache {
    static func store(_ files: [(path: String, bytes: [UInt8])], in cache: URL) throws(DriverSourceError) -> URL {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for f in files {
            h = FNV1a.hash(Array(f.path.utf8) + [0] + Array(String(f.bytes.count).utf8) + [0], into: h)
            h = FNV1a.hash(f.bytes, into: h)
        }
        let name = String(h, radix: 16)
        // Named as a directory explicitly: Foundation otherwise adds the slash only once it exists.
        let dir = cache.appendingPathComponent(String(repeating: "0", count: 16 - name.count) + name, isDirectory: true)
        let fm = FileManager.default
        if files.allSatisfy({ (try? fm.attributesOfItem(atPath: dir.appendingPathComponent($0.path).path)[.size] as? Int) == $0.bytes.count }) {
            return dir
        }
        let tmp = cache.appendingPathComponent(".tmp-\(getpid())-\(UInt64.random(in: 0...UInt64.max))")
        do {
            try fm.createDirectory(at: tmp, withIntermediateDirectories: true)
            for f in files {
                let u = tmp.appendingPathComponent(f.path)
                try fm.createDirectory(at: u.deletingLastPathComponent(), withIntermediateDirectories: true)
                try Data(f.bytes).write(to: u)
            }
            if fm.fileExists(atPath: dir.path) { try? fm.removeItem(at: dir) }
            do { try fm.moveItem(at: tmp, to: dir) } catch {
                // Another process stored the same content meanwhile.
                try? fm.removeItem(at: tmp)
                if !fm.fileExists(atPath: dir.path) { throw error }
            }
        } catch {
            try? fm.removeItem(at: tmp)
            throw .cannotWrite(path: dir.path, reason: (error as NSError).localizedDescription)
        }
        return dir
    }
}
