// SPDX-License-Identifier: Apache-2.0
import Foundation
import HVBlob

/// Compiles a driver's C source against hvblob's kernel shim into a shared object, cached by
/// content hash, for one Linux API era.
public enum DriverBuild {
    /// The API eras a driver may be written for, newest first; each stands for the versions up
    /// to the next (6.0 covers 6.0-6.2, 5.14 covers 5.14-5.17).
    public static let eras: [KernelVersion] = [KernelVersion(6, 3), KernelVersion(6, 0), KernelVersion(5, 18),
                                               KernelVersion(5, 14), KernelVersion(5, 13)]

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
    }

    public struct Failure: Error, CustomStringConvertible, Sendable {
        public let source: String
        /// Compiler output per era tried.
        public let attempts: [(KernelVersion, String)]
        /// Kernel functions or identifiers the driver uses that the shim does not provide.
        public let missingAPIs: [String]
        public var description: String {
            var s = "\(source) does not build against the kernel shim under any API era tried ("
            s += attempts.map { "\($0.0)" }.joined(separator: ", ") + ")\n"
            if !missingAPIs.isEmpty { s += "kernel API missing from the shim: \(missingAPIs.joined(separator: ", "))\n" }
            if let first = attempts.first { s += "compiler output for \(first.0):\n\(first.1)" }
            return s
        }
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

    static func skippedLines(_ attempts: [(KernelVersion, String)]) -> [String] {
        attempts.map { v, out in
            let first = out.split(separator: "\n").first { $0.contains("error:") }.map(String.init) ?? "failed"
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
        let path = driver.path
        guard let source = FileManager.default.contents(atPath: path) else {
            throw Failure(source: path, attempts: [], missingAPIs: [])
        }
        let (uapiDir, uapiHeader) = uapiInclude(for: driver)
        var digest = FNV1a.hash(source)
        digest = FNV1a.hash(FileManager.default.contents(atPath: uapiHeader.path) ?? Data(), into: digest)
        let shim = shimDirectory
        for f in ["hvb_kernel.h", "hvb_stub.c"] {
            digest = FNV1a.hash(FileManager.default.contents(atPath: shim.appendingPathComponent(f).path) ?? Data(), into: digest)
        }
        let cache = FileManager.default.temporaryDirectory.appendingPathComponent("hvblob-drivers")
        try? FileManager.default.createDirectory(at: cache, withIntermediateDirectories: true)
        var attempts: [(KernelVersion, String)] = []
        for v in version.map({ [$0] }) ?? eras {
            let flags = ["-shared", "-fPIC", "-O1", "-g", "-std=gnu11", "-Wall", "-Wno-unused-function",
                         "-Werror=implicit-function-declaration", "-Werror=incompatible-pointer-types",
                         "-Werror=int-conversion", "-fno-omit-frame-pointer",
                         "-DHVB_KVER=\(v.major * 100 + v.minor)", "-DKBUILD_MODNAME=\"hv_azure_blob\""]
                + (sanitize ? ["-fsanitize=address,undefined", "-fno-sanitize=alignment", "-fno-sanitize-recover=undefined"] : [])
                // Scripts/fuzz.sh adds -fsanitize=fuzzer-no-link so libFuzzer sees the driver's coverage.
                + (ProcessInfo.processInfo.environment["HVBLOB_DRIVER_CFLAGS"].map { $0.split(separator: " ").map(String.init) } ?? [])
            let key = String(FNV1a.hash(flags.joined(separator: " ").utf8, into: digest), radix: 16)
            let out = cache.appendingPathComponent("\(key).so")
            if FileManager.default.fileExists(atPath: out.path) {
                return Built(library: out.path, version: v, source: path, uapiHeader: uapiHeader.path, cached: true,
                             skipped: skippedLines(attempts))
            }
            let tmp = out.path + ".\(getpid()).tmp"
            let (status, output) = run([compiler()] + flags + ["-I", shim.path, "-I", uapiDir.path, path,
                                                               shim.appendingPathComponent("hvb_stub.c").path, "-o", tmp])
            if status == 0 {
                _ = try? FileManager.default.removeItem(atPath: out.path)
                do { try FileManager.default.moveItem(atPath: tmp, toPath: out.path) } catch {
                    attempts.append((v, "cannot store \(out.path): \(error)"))
                    continue
                }
                return Built(library: out.path, version: v, source: path, uapiHeader: uapiHeader.path, cached: false,
                             skipped: skippedLines(attempts))
            }
            attempts.append((v, output))
        }
        throw Failure(source: path, attempts: attempts, missingAPIs: missing(in: attempts.map(\.1).joined(separator: "\n")))
    }
}

extension FNV1a {
    static func hash(_ data: Data, into h: UInt64 = 0xcbf2_9ce4_8422_2325) -> UInt64 {
        data.withUnsafeBytes { hash($0, into: h) }
    }
}
