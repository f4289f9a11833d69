// SPDX-License-Identifier: Apache-2.0
import Foundation

/// An enumerator a patch adds to `include/linux/hyperv.h` (such as `HV_AZURE_BLOB` in
/// `enum vmbus_device_type`): the shim's hyperv.h cannot gain it, so a report names it.
public struct HyperVEnumMember: Sendable, Hashable, CustomStringConvertible {
    public var enumName: String
    public var member: String
    public var description: String { "enum \(enumName): \(member)" }
    public init(enumName: String, member: String) {
        self.enumName = enumName
        self.member = member
    }
}

/// A driver resolved from a patch mail, a `git format-patch` file or an mbox of a series,
/// with what a report says about it.
public struct PatchedDriver: Sendable, Hashable {
    /// What the compiler needs.
    public var source: DriverSource
    /// The content-addressed directory the added files were materialised in.
    public var directory: URL
    /// The files the series adds (repository-relative, in the order it adds them; later
    /// patches of the series applied, files it deletes again left out).
    public var addedFiles: [String]
    /// Subject and Message-Id of each message whose diff was used, in order (Message-Id empty
    /// when the message has none, e.g. a bare `git diff`).
    public var subjects: [String]
    public var messageIDs: [String]
    /// Macros the series adds to `include/linux/hyperv.h`, in the generated header.
    public var hyperVDefines: [String]
    /// Enumerators it adds there, which the generated header can only mention.
    public var hyperVEnumMembers: [HyperVEnumMember]
    /// The generated header with those defines (also in `source.forcedIncludes`).
    public var generatedHeader: URL?
    /// Files the series modifies without adding them (Kconfig, Makefile, channel_mgmt.c,
    /// MAINTAINERS, docs), skipped; `include/linux/hyperv.h` is not among them.
    public var skippedFiles: [String]
}

extension DriverSource {
    /// The driver a patch mail, `git format-patch` file or mbox adds, materialised under `cache`.
    public static func fromPatch(_ url: URL, cache: URL) throws(DriverSourceError) -> DriverSource {
        try resolvePatch(url, cache: cache).source
    }

    /// Reads every message of `url` (one mail, a format-patch file, or an mbox of a series),
    /// applies their diffs in order to the files the series adds (context checked), collects
    /// what it adds to `include/linux/hyperv.h`, and writes the added files and a header with
    /// those defines under `cache/<content hash>/`.
    public static func resolvePatch(_ url: URL, cache: URL) throws(DriverSourceError) -> PatchedDriver {
        let url = url.standardizedFileURL
        guard try kind(of: url) == .file else { throw .isDirectory(path: url.path) }
        let bytes = try read(url)
        if bytes.contains(0) { throw .binaryPatch(path: url.path) }
        let label = url.path
        let mail = PatchMail(bytes)

        var files: [String: [[UInt8]]] = [:]
        var order: [String] = []
        var skipped: [String] = []
        var defines: [(name: String, text: String)] = []
        var members: [HyperVEnumMember] = []
        var used: [Int] = []
        var sawDiff = false

        for (m, message) in mail.messages.enumerated() {
            var touched = false
            for text in message.texts where UnifiedDiff.containsDiff(text) {
                let patches: [UnifiedDiff.FilePatch]
                do { patches = try UnifiedDiff.parse(text) } catch { throw error.sourceError(label) }
                sawDiff = sawDiff || !patches.isEmpty
                for p in patches {
                    for path in [p.oldPath, p.newPath].compactMap({ $0 }) where !safe(path) {
                        throw .malformedDiff(path: label, offset: p.offset, reason: "unsafe path '\(path)' in the diff")
                    }
                    if let new = p.newPath, p.isCreation {
                        if files[new] != nil { throw .fileAddedTwice(path: label, offset: p.offset, file: new) }
                        guard !p.isBinary else { skipped.append(new); continue }
                        files[new] = try applying(p, to: [], label: label)
                        order.removeAll { $0 == new }
                        order.append(new)
                        touched = true
                    } else if let old = p.oldPath, let content = files[old] {
                        touched = true
                        if p.isDeletion {
                            files[old] = nil
                            order.removeAll { $0 == old }
                            continue
                        }
                        let result = try applying(p, to: content, label: label)
                        let new = p.newPath ?? old
                        if p.isCopy && new != old {
                            if files[new] != nil { throw .fileAddedTwice(path: label, offset: p.offset, file: new) }
                            order.append(new)
                        } else {
                            files[old] = nil
                            if new != old, let k = order.firstIndex(of: old) { order[k] = new }
                        }
                        files[new] = result
                    } else if p.path == "include/linux/hyperv.h" || p.path.hasSuffix("/include/linux/hyperv.h") {
                        touched = true
                        let (d, e) = hyperVAdditions(p)
                        for x in d {
                            defines.removeAll { $0.name == x.name }
                            defines.append(x)
                        }
                        for x in e where !members.contains(x) { members.append(x) }
                    } else if !skipped.contains(p.path) {
                        skipped.append(p.path)
                    }
                }
            }
            if touched { used.append(m) }
        }
        guard sawDiff else { throw .noPatch(path: label) }

        // The driver: an added C file with module_init, preferring one registering an hv_driver.
        let cFiles = order.filter { $0.hasSuffix(".c") }.map { p in
            (url: URL(fileURLWithPath: "/" + p), code: CScan.code(String(decoding: files[p]!.joined(), as: UTF8.self)))
        }
        guard let chosen = try pick(cFiles, registering: false, reportAs: label, relativeTo: URL(fileURLWithPath: "/")) else {
            throw .noDriverInPatch(path: label, messages: mail.messages.count)
        }
        let driverPath = String(chosen.path.dropFirst())

        let subjects = used.map { mail.messages[$0].subject ?? "" }
        let ids = used.map { mail.messages[$0].messageID ?? "" }
        var stored: [(path: String, bytes: [UInt8])] = order.map { ($0, files[$0]!.flatMap { $0 }) }
        let headerName = "hvb-patch-hyperv.h"
        if !defines.isEmpty {
            stored.append((headerName, Array(generatedHeader(mailName: url.lastPathComponent, subjects: subjects, ids: ids,
                                                             defines: defines.map(\.text), members: members).utf8)))
        }
        let dir = try ContentCache.store(stored, in: cache)
        let header = defines.isEmpty ? nil : dir.appendingPathComponent(headerName)
        var includes: [URL] = []
        for sub in ["include", "include/uapi"] where isDirectory(dir.appendingPathComponent(sub)) {
            includes.append(dir.appendingPathComponent(sub, isDirectory: true))
        }
        let named = subjects.filter { !$0.isEmpty }
        let origin = url.lastPathComponent + (named.isEmpty ? "" : ": " + named.joined(separator: "; "))
        let materialised = order.map { dir.appendingPathComponent($0) }
        let driver = dir.appendingPathComponent(driverPath)
        let source = assemble(driver: driver, includeDirs: includes, forced: header.map { [$0] } ?? [], origin: origin,
                              files: [driver] + materialised.filter { $0 != driver })
        return PatchedDriver(source: source, directory: dir, addedFiles: order, subjects: subjects, messageIDs: ids,
                             hyperVDefines: defines.map(\.name), hyperVEnumMembers: members, generatedHeader: header,
                             skippedFiles: skipped)
    }

    /// A repository-relative path that stays inside the directory it is written under.
    static func safe(_ path: String) -> Bool {
        !path.isEmpty && !path.hasPrefix("/") && !path.split(separator: "/").contains { $0 == ".." || $0 == "." }
    }

    static func applying(_ p: UnifiedDiff.FilePatch, to content: [[UInt8]], label: String) throws(DriverSourceError) -> [[UInt8]] {
        switch UnifiedDiff.apply(p.hunks, to: content) {
        case .success(let out): return out
        case .failure(let h): throw .hunkDoesNotMatch(path: label, offset: h.offset, hunk: h.header, file: p.path)
        }
    }

    /// The `#define`s (each with its continuation lines and the comment block just above it)
    /// and the enumerators a diff of hyperv.h adds.
    static func hyperVAdditions(_ p: UnifiedDiff.FilePatch) -> ([(name: String, text: String)], [HyperVEnumMember]) {
        var defines: [(String, String)] = []
        var members: [HyperVEnumMember] = []
        for h in p.hunks {
            let lines = h.lines.filter { $0.kind != .removed }.map { l in
                (added: l.kind == .added, text: String(decoding: l.bytes, as: UTF8.self).trimmingCharacters(in: CharacterSet(charactersIn: "\n\r")))
            }
            var inEnum = enumName(h.section)
            var k = 0
            while k < lines.count {
                let t = lines[k].text.trimmingCharacters(in: .whitespaces)
                if let e = enumName(t) { inEnum = e }
                if t.hasPrefix("}") { inEnum = nil }
                guard lines[k].added else { k += 1; continue }
                if let name = CScan.defineName(lines[k].text) {
                    var block = [lines[k].text]
                    var j = k
                    while CScan.continues(lines[j].text), j + 1 < lines.count { j += 1; block.append(lines[j].text) }
                    // The comment block right above, when the patch added (the end of) it.
                    var comment: [String] = []
                    if k > 0, lines[k - 1].added, lines[k - 1].text.trimmingCharacters(in: .whitespaces).hasSuffix("*/") {
                        var c = k - 1
                        while c >= 0, k - c <= 40 {
                            comment.insert(lines[c].text, at: 0)
                            if lines[c].text.contains("/*") { break }
                            c -= 1
                        }
                        if !(comment.first?.contains("/*") ?? false) { comment = [] }
                    }
                    defines.append((name, (comment + block).joined(separator: "\n")))
                    k = j + 1
                    continue
                }
                if let e = inEnum, let m = enumerator(t) { members.append(HyperVEnumMember(enumName: e, member: m)) }
                k += 1
            }
        }
        return (defines, members)
    }

    /// `vmbus_device_type` from `enum vmbus_device_type {`.
    static func enumName(_ s: String) -> String? {
        guard let r = s.range(of: "enum "), s.contains("{") else { return nil }
        if r.lowerBound > s.startIndex, CScan.isIdentifier(s[s.index(before: r.lowerBound)]) { return nil }
        let name = s[r.upperBound...].drop { $0 == " " }.prefix { CScan.isIdentifier($0) }
        return name.isEmpty ? "(anonymous)" : String(name)
    }

    /// The enumerator a line like `HV_AZURE_BLOB,` or `FOO = 3, /* ... */` declares.
    static func enumerator(_ t: String) -> String? {
        let name = t.prefix { CScan.isIdentifier($0) }
        guard let first = name.first, first == "_" || first.isLetter else { return nil }
        let rest = t.dropFirst(name.count).trimmingCharacters(in: .whitespaces)
        guard rest.isEmpty || rest.hasPrefix(",") || rest.hasPrefix("=") || rest.hasPrefix("/*") || rest.hasPrefix("//") else { return nil }
        return String(name)
    }

    static func generatedHeader(mailName: String, subjects: [String], ids: [String], defines: [String], members: [HyperVEnumMember]) -> String {
        var s = "/* Generated by hvblob from \(CScan.commentSafe(mailName)): the #defines the patch adds to\n"
        s += " * include/linux/hyperv.h, force-included because hvblob's kernel shim provides <linux/hyperv.h>.\n"
        for (subject, id) in zip(subjects, ids) {
            s += " *   \(CScan.commentSafe(subject))" + (id.isEmpty ? "" : " <\(CScan.commentSafe(id))>") + "\n"
        }
        if !members.isEmpty {
            s += " *\n * Enumerators the patch adds there, which no define can stand for:\n"
            for m in members { s += " *   \(CScan.commentSafe(m.description))\n" }
        }
        s += " */\n#ifndef HVB_PATCH_HYPERV_H\n#define HVB_PATCH_HYPERV_H\n\n"
        s += defines.joined(separator: "\n\n")
        s += "\n\n#endif\n"
        return s
    }
}

extension UnifiedDiff.ParseError {
    func sourceError(_ label: String) -> DriverSourceError {
        switch self {
        case .malformedHeader(let o, let line): return .malformedHunkHeader(path: label, offset: o, line: line)
        case .endsEarly(let o, let h, let p, let mo, let mn):
            return .hunkEndsEarly(path: label, offset: o, hunk: h, file: p, missingOld: mo, missingNew: mn)
        case .malformed(let o, let r): return .malformedDiff(path: label, offset: o, reason: r)
        }
    }
}
