// SPDX-License-Identifier: Apache-2.0
import Foundation
import HVBlob

/// Compiles a driver's C source against hvblob's kernel shim into a shared object, cached by
/// content hash, for one Linux API era.
public enum DriverBuild {
    /// The API eras a driver may be written for, newest first; each stands for the versions up
    /// to the next (6.0 covers 6.0-6.2, 5.14 covers 5.14-5.17, 5.10 covers 5.10-5.12). What
    /// each era's headers had is written at the top of shim/hvb_kernel.h.
    public static let eras: [KernelVersion] = [KernelVersion(6, 3), KernelVersion(6, 0), KernelVersion(5, 18),
                                               KernelVersion(5, 14), KernelVersion(5, 13), KernelVersion(5, 10)]

    public struct Built: Sendable {
        public let library: String
        public let version: KernelVersion
        public let source: String
        public let uapiHeader: String
        public let cached: Bool
        /// The driver's own ioctl commands and request layout.
        public var abi: DriverABI = .reference
        /// Newer eras tried first that did not build, each with its first compiler error.
        public var skipped: [String] = []
        /// Where the driver came from (a file, a tree, a patch mail's subject).
        public var origin: String = ""
        /// What the ABI probe noted (a size field that disagrees with sizeof, ...).
        public var abiNotes: [String] = []
    }

    public struct Failure: Error, CustomStringConvertible, Sendable {
        public let source: String
        /// Compiler output per era tried.
        public let attempts: [(KernelVersion, String)]
        /// Names the compiler found undeclared that the real kernel declares (or the shim's
        /// list of what it lacks names): kernel API missing from the shim.
        public let missingAPIs: [String]
        /// Undeclared names no kernel header declares: the driver's own errors.
        public var driverErrors: [String] = []
        /// Undeclared names that could not be told apart (no real headers installed).
        public var unclassified: [String] = []
        /// Undeclared names the shim has in other API eras than the one the error came from.
        public var otherEra: [String] = []
        /// Set when the driver built but its ABI could not be read.
        public var abiError: String? = nil
        /// Print every era's first errors, not only when none built.
        public var verbose = true

        public init(source: String, attempts: [(KernelVersion, String)], missingAPIs: [String], abiError: String? = nil) {
            self.source = source
            self.attempts = attempts
            self.missingAPIs = missingAPIs
            self.abiError = abiError
        }

        public var description: String {
            if let abiError { return "\(source) builds, but its ABI could not be read from its headers: \(abiError)" }
            if attempts.isEmpty { return "\(source): cannot read the file" }
            var s = "\(source) does not build against the kernel shim in any API era tried ("
            s += attempts.map { "\($0.0)" }.joined(separator: ", ") + ")\n"
            for (v, out) in attempts {
                let errors = DriverBuild.firstErrors(out, limit: 3)
                s += "  \(v):\n" + (errors.isEmpty ? ["    " + String(out.suffix(300))] : errors.map { "    " + $0 }).joined(separator: "\n") + "\n"
            }
            if !missingAPIs.isEmpty { s += "kernel API missing from the shim: \(missingAPIs.joined(separator: ", "))\n" }
            if !otherEra.isEmpty { s += "kernel API of other API eras (each era above lacks some of what the driver uses): \(otherEra.joined(separator: ", "))\n" }
            if !driverErrors.isEmpty {
                // Where each is first used, from the compiler's own words.
                let all = attempts.map(\.1).joined(separator: "\n").split(separator: "\n")
                let sited = driverErrors.map { n -> String in
                    guard let line = all.first(where: { $0.contains("'\(n)'") && $0.contains("error:") }),
                          let colon = line.range(of: ": error:") else { return n }
                    let site = line[..<colon.lowerBound].split(separator: ":").prefix(2).joined(separator: ":")
                    return "\(n) at \(site)"
                }
                s += "the driver's own errors: \(sited.joined(separator: ", ")) — no kernel header declares \(driverErrors.count == 1 ? "it" : "them"): it would not build in a real kernel either\n"
            }
            if !unclassified.isEmpty {
                s += "undeclared, not known to the shim: \(unclassified.joined(separator: ", ")) (install linux-headers-amd64 to tell a kernel API from the driver's own error)\n"
            }
            return s
        }
    }

    /// The first `limit` diagnostics of a compiler's output, `file:line:col: error: ...`.
    public static func firstErrors(_ output: String, limit: Int) -> [String] {
        Array(output.split(separator: "\n").filter { $0.contains(" error: ") || $0.contains("fatal error: ") }.prefix(limit).map(String.init))
    }

    /// What the shim knows it lacks (shim/MISSING, one name a line).
    static var knownMissing: Set<String> {
        guard let text = try? String(contentsOf: shimDirectory.appendingPathComponent("MISSING"), encoding: .utf8) else { return [] }
        return Set(text.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty && !$0.hasPrefix("#") })
    }

    /// Names the shim's headers define in some API era (`#define`, a function, a type): kernel
    /// API that exists, only not in the era tried.
    static func shimDefines(_ names: [String]) -> Set<String> {
        var text = ""
        for f in shimFiles() where f.pathExtension == "h" { text += (try? String(contentsOf: f, encoding: .utf8)) ?? "" }
        return Set(names.filter { n in
            // A definition, not a use: #define NAME, a function defined or declared at the start
            // of a line (static inline ... NAME(), a struct/union/enum NAME, a typedef NAME;.
            text.range(of: "(#[ \\t]*define[ \\t]+\(n)\\b|(^|\\n)[A-Za-z_][^;(\\n]*[ \\t*]\(n)[ \\t]*\\(|(^|\\n)(struct|union|enum)[ \\t]+\(n)\\b|(^|\\n)typedef[^;]*[ \\t*]\(n)[ \\t]*;|(^|\\n)\\}[ \\t]*\(n)[ \\t]*;)",
                       options: .regularExpression) != nil
        })
    }

    /// Sorts undeclared names into kernel API (missing from the shim, or of another era), the
    /// driver's own, and unknown (no real headers installed to tell).
    static func classify(_ names: [String]) -> (kernel: [String], driver: [String], unknown: [String], otherEra: [String]) {
        let listed = knownMissing
        let otherEra = shimDefines(names)
        let real = RealKernel.declared(names)
        var k: [String] = [], d: [String] = [], u: [String] = [], e: [String] = []
        for n in names {
            if otherEra.contains(n) { e.append(n) } else if listed.contains(n) || real?.contains(n) == true { k.append(n) } else if real != nil { d.append(n) } else { u.append(n) }
        }
        return (k, d, u, e)
    }

    /// The repository root (the shim headers, the in-tree driver and uapi header live there).
    public static var repositoryRoot: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    }

    public static var shimDirectory: URL { repositoryRoot.appendingPathComponent("Sources/CKernelShim/shim") }
    public static var inTreeDriver: URL { repositoryRoot.appendingPathComponent("kernel/hv_azure_blob.c") }

    /// The uapi header for a driver: include/uapi/misc/ beside it or in any directory above it
    /// (a kernel tree), else the in-tree one. Returns the include directory and the header.
    public static func uapiInclude(for driver: URL) -> (dir: URL, header: URL) {
        var dir = driver.deletingLastPathComponent()
        while dir.path != "/" {
            let h = dir.appendingPathComponent("include/uapi/misc/hv_azure_blob.h")
            if FileManager.default.fileExists(atPath: h.path) { return (dir.appendingPathComponent("include"), h) }
            dir = dir.deletingLastPathComponent()
        }
        let inTree = repositoryRoot.appendingPathComponent("kernel/include")
        return (inTree, inTree.appendingPathComponent("uapi/misc/hv_azure_blob.h"))
    }

    /// The toolchain's clang (next to swift), else the first clang, cc or gcc on PATH.
    static func compiler() -> String {
        let dirs = (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin").split(separator: ":").map(String.init)
        for name in ["clang", "cc", "gcc"] {
            for dir in dirs where FileManager.default.isExecutableFile(atPath: "\(dir)/\(name)") {
                return "\(dir)/\(name)"
            }
        }
        return "/usr/bin/cc"
    }

    static func run(_ argv: [String]) -> (Int32, String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: argv[0])
        p.arguments = Array(argv.dropFirst())
        let pipe = Pipe()
        p.standardOutput = pipe
        p.standardError = pipe
        do { try p.run() } catch { return (127, "cannot run \(argv[0]): \(error)") }
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    /// One line per era that did not build: its first error, the path made relative.
    static func skippedLines(_ attempts: [(KernelVersion, String)]) -> [String] {
        attempts.map { v, out in
            let first = firstErrors(out, limit: 1).first ?? "failed"
            return "\(v): \(first)"
        }
    }

    /// Names the compiler says are undeclared: kernel API the shim lacks.
    static func missing(in output: String) -> [String] {
        var names = Set<String>()
        for line in output.split(separator: "\n") where line.contains("error:") {
            for marker in ["undeclared function '", "undeclared identifier '", "unknown type name '", "incomplete type 'struct "] {
                if let r = line.range(of: marker) {
                    let rest = line[r.upperBound...]
                    if let end = rest.firstIndex(where: { $0 == "'" }) { names.insert(String(rest[..<end])) }
                }
            }
        }
        return names.sorted()
    }

    /// Whether this process carries the AddressSanitizer runtime (`swift test --sanitize=address`):
    /// then drivers are built with ASan and UBSan too, so their memory errors are caught.
    public static var processHasASan: Bool {
        dlsym(UnsafeMutableRawPointer(bitPattern: 0), "__asan_init") != nil
    }

    /// Builds `driver` for `version`, or for each era newest first until one builds.
    public static func build(driver: URL, version: KernelVersion? = nil, sanitize: Bool = DriverBuild.processHasASan) throws(Failure) -> Built {
        let (uapiDir, _) = uapiInclude(for: driver)
        return try build(DriverSource(driver: driver, includeDirs: [uapiDir, uapiDir.appendingPathComponent("uapi")]),
                         version: version, sanitize: sanitize)
    }

    /// Every file under the shim directory, sorted: all of it goes into the cache key.
    static func shimFiles() -> [URL] {
        let fm = FileManager.default
        guard let e = fm.enumerator(at: shimDirectory, includingPropertiesForKeys: [.isRegularFileKey]) else { return [] }
        return e.compactMap { $0 as? URL }.filter { (try? $0.resourceValues(forKeys: [.isRegularFileKey]).isRegularFile) == true }
            .sorted { $0.path < $1.path }
    }

    /// The compiler flags for one era (without inputs and output).
    static func flags(_ v: KernelVersion, _ source: DriverSource, sanitize: Bool) -> [String] {
        let module = source.driver.deletingPathExtension().lastPathComponent
        var f: [String] = ["-shared", "-fPIC", "-O1", "-g", "-std=gnu11", "-Wall", "-Wno-unused-function",
                           "-Werror=implicit-function-declaration", "-Werror=incompatible-pointer-types",
                           "-Werror=int-conversion", "-fno-omit-frame-pointer"]
        f.append("-DHVB_KVER=\(v.major * 100 + v.minor)")
        f.append("-DKBUILD_MODNAME=\"\(module)\"")
        if sanitize { f += ["-fsanitize=address,undefined", "-fno-sanitize=alignment", "-fno-sanitize-recover=undefined"] }
        // Scripts/fuzz.sh adds -fsanitize=fuzzer-no-link so libFuzzer sees the driver's coverage.
        if let extra = ProcessInfo.processInfo.environment["HVBLOB_DRIVER_CFLAGS"] { f += extra.split(separator: " ").map(String.init) }
        f += ["-I", shimDirectory.path]
        for d in source.includeDirs { f += ["-I", d.path] }
        for h in source.forcedIncludes { f += ["-include", h.path] }
        return f
    }

    /// Kernel options the shim can turn off (see shim/linux/kconfig.h).
    static let optionalConfigs = ["CONFIG_DEBUG_FS", "CONFIG_COMPAT"]

    /// For each optional kernel option the driver's own files test, whether it still compiles
    /// with that option off (a real kernel may be built so): nil, or the first error.
    static func configBuilds(_ source: DriverSource, version: KernelVersion, sanitize: Bool) -> [String: String?] {
        let text = Set(source.files + [source.driver]).compactMap { FileManager.default.contents(atPath: $0.path) }
            .map { String(decoding: $0, as: UTF8.self) }.joined(separator: "\n")
        var out: [String: String?] = [:]
        for option in optionalConfigs where text.contains(option) {
            let (status, output) = run([compiler(), "-fsyntax-only"] + flags(version, source, sanitize: sanitize).filter { $0 != "-shared" && $0 != "-fPIC" }
                                       + ["-DHVB_NO_\(option)", source.driver.path])
            out[option] = status == 0 ? String?.none : (firstErrors(output, limit: 1).first ?? "it does not compile")
        }
        return out
    }

    /// Builds the driver `source` resolves to for `version`, or for each era newest first until
    /// one builds; then reads its ABI (ioctl commands, request layout) from its own headers.
    public static func build(_ source: DriverSource, version: KernelVersion? = nil, sanitize: Bool = DriverBuild.processHasASan) throws(Failure) -> Built {
        let path = source.driver.path
        guard FileManager.default.contents(atPath: path) != nil else {
            throw Failure(source: path, attempts: [], missingAPIs: [])
        }
        var digest: UInt64 = 0xcbf2_9ce4_8422_2325
        for f in Set(source.files + [source.driver] + source.forcedIncludes).sorted(by: { $0.path < $1.path }) + shimFiles() {
            digest = FNV1a.hash(Array(f.path.utf8), into: digest)
            digest = FNV1a.hash(FileManager.default.contents(atPath: f.path) ?? Data(), into: digest)
        }
        let cache = FileManager.default.temporaryDirectory.appendingPathComponent("hvblob-drivers")
        try? FileManager.default.createDirectory(at: cache, withIntermediateDirectories: true)
        var attempts: [(KernelVersion, String)] = []
        for v in version.map({ [$0] }) ?? eras {
            let flags = flags(v, source, sanitize: sanitize)
            let key = String(FNV1a.hash(flags.joined(separator: " ").utf8, into: digest), radix: 16)
            let out = cache.appendingPathComponent("\(key).so")
            var cached = FileManager.default.fileExists(atPath: out.path)
            if !cached {
                let tmp = out.path + ".\(getpid()).tmp"
                let (status, output) = run([compiler()] + flags + [path, shimDirectory.appendingPathComponent("hvb_stub.c").path, "-o", tmp])
                guard status == 0 else {
                    attempts.append((v, output))
                    continue
                }
                _ = try? FileManager.default.removeItem(atPath: out.path)
                do { try FileManager.default.moveItem(atPath: tmp, toPath: out.path) } catch {
                    attempts.append((v, "cannot store \(out.path): \(error)"))
                    continue
                }
                cached = false
            }
            var abi = DriverABI.reference
            var notes: [String] = []
            do {
                let probe = try ABIProbe.probe(source, version: v)
                abi = probe.abi
                notes = probe.notes
            } catch {
                // A driver with no ioctl of its own (a test driver, a stub) still runs; the
                // harness speaks the reference ABI to it and uapi.ioctl-number says why.
                guard case .noIoctlCommand = error else {
                    throw Failure(source: path, attempts: attempts + [(v, "the driver builds, but its ABI could not be read: \(error)")],
                                  missingAPIs: [], abiError: "\(error)")
                }
                abi.unread = "\(error)"
                notes.append("\(error): the reference ABI is used")
            }
            abi.userHeader = UserHeader.check(source, abi: abi)
            abi.optionalConfigs = configBuilds(source, version: v, sanitize: sanitize)
            if let text = FileManager.default.contents(atPath: source.driver.path) {
                abi.compatIoctl = CScan.code(String(decoding: text, as: UTF8.self)).range(of: #"\.compat_ioctl\s*="#, options: .regularExpression) != nil
            }
            return Built(library: out.path, version: v, source: path, uapiHeader: abi.header, cached: cached,
                         abi: abi, skipped: skippedLines(attempts), origin: source.origin, abiNotes: notes)
        }
        let (kernel, own, unknown, otherEra) = classify(missing(in: attempts.map(\.1).joined(separator: "\n")))
        var failure = Failure(source: source.origin, attempts: attempts, missingAPIs: kernel)
        failure.driverErrors = own
        failure.unclassified = unknown
        failure.otherEra = otherEra
        throw failure
    }
}

extension FNV1a {
    static func hash(_ data: Data, into h: UInt64 = 0xcbf2_9ce4_8422_2325) -> UInt64 {
        data.withUnsafeBytes { hash($0, into: h) }
    }
}
