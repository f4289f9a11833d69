// SPDX-License-Identifier: Apache-2.0
import ArgumentParser
import CServeChannel
import Foundation
import HVBlob
import HVBlobBridge

#if canImport(Glibc)
import Glibc
#endif

/// The daemon's wire (Sources/HVBlobDevice/include/hvblob_device.h): 32-byte frames, then
/// (HVBD_CHANNEL) a shared-memory channel per connection for the ioctls.
enum DeviceWire {
    static let magic: UInt32 = UInt32(HVBD_MAGIC)
    static let version: UInt16 = UInt16(HVBD_VERSION)
    static let open: UInt16 = UInt16(HVBD_OPEN.rawValue), attach: UInt16 = UInt16(HVBD_ATTACH.rawValue)
    static let ioctl: UInt16 = UInt16(HVBD_IOCTL.rawValue), channel: UInt16 = UInt16(HVBD_CHANNEL.rawValue)
    static let frameSize = 32

    struct Frame {
        var magic: UInt32, version: UInt16, op: UInt16, pid: Int32, tidOrResult: Int32, a: UInt64, b: UInt64
        init(_ bytes: ArraySlice<UInt8>) {
            (magic, version, op, pid, tidOrResult, a, b) = bytes.withUnsafeBytes { r in
                (UInt32(littleEndian: r.loadUnaligned(fromByteOffset: 0, as: UInt32.self)),
                 UInt16(littleEndian: r.loadUnaligned(fromByteOffset: 4, as: UInt16.self)),
                 UInt16(littleEndian: r.loadUnaligned(fromByteOffset: 6, as: UInt16.self)),
                 Int32(littleEndian: r.loadUnaligned(fromByteOffset: 8, as: Int32.self)),
                 Int32(littleEndian: r.loadUnaligned(fromByteOffset: 12, as: Int32.self)),
                 UInt64(littleEndian: r.loadUnaligned(fromByteOffset: 16, as: UInt64.self)),
                 UInt64(littleEndian: r.loadUnaligned(fromByteOffset: 24, as: UInt64.self)))
            }
        }
        static func reply(op: UInt16, result: Int32, a: UInt64 = 0) -> [UInt8] {
            var w = [UInt8]()
            func put(_ v: UInt64, _ n: Int) { for i in 0..<n { w.append(UInt8(truncatingIfNeeded: v >> (8 * i))) } }
            put(UInt64(DeviceWire.magic), 4); put(UInt64(DeviceWire.version), 2); put(UInt64(op), 2); put(UInt64(UInt32(bitPattern: getpid())), 4)
            put(UInt64(UInt32(bitPattern: result)), 4); put(a, 8); put(0, 8)
            return w
        }
    }
}

/// Where two pages differ, a word at a time (the write-back's diff runs on every page an
/// ioctl touched: a byte loop over a page the host rewrote costs microseconds).
enum PageDiff {
    @inline(__always) static func word(_ a: UnsafeRawPointer, _ b: UnsafeRawPointer, _ i: Int) -> UInt64 {
        a.loadUnaligned(fromByteOffset: i, as: UInt64.self) ^ b.loadUnaligned(fromByteOffset: i, as: UInt64.self)
    }

    /// The first offset in [from, to) where the bytes differ, or `to`.
    static func firstDifference(_ a: UnsafeRawPointer, _ b: UnsafeRawPointer, from: Int, to: Int) -> Int {
        var i = from
        while i + 32 <= to, word(a, b, i) | word(a, b, i + 8) | word(a, b, i + 16) | word(a, b, i + 24) == 0 { i += 32 }
        while i + 8 <= to {
            let x = word(a, b, i)
            if x != 0 { return i + x.trailingZeroBitCount / 8 }
            i += 8
        }
        while i < to && a.load(fromByteOffset: i, as: UInt8.self) == b.load(fromByteOffset: i, as: UInt8.self) { i += 1 }
        return i
    }

    /// The first offset in [from, to) where the bytes are equal, or `to`.
    static func firstEqual(_ a: UnsafeRawPointer, _ b: UnsafeRawPointer, from: Int, to: Int) -> Int {
        var i = from
        let ones: UInt64 = 0x0101_0101_0101_0101, highs: UInt64 = 0x8080_8080_8080_8080
        while i + 8 <= to {
            // A zero byte in a ^ b is an equal byte: the classic has-zero-byte test finds it.
            let x = word(a, b, i)
            let zero = (x &- ones) & ~x & highs
            if zero != 0 { return i + zero.trailingZeroBitCount / 8 }
            i += 8
        }
        while i < to && a.load(fromByteOffset: i, as: UInt8.self) != b.load(fromByteOffset: i, as: UInt8.self) { i += 1 }
        return i
    }
}

/// What the daemon spends in the system calls that reach the caller's memory, for the summary:
/// the part of an ioctl's cost no change to hvblob's own code can take away.
enum Accounting {
    enum Call: Int { case readv, writev, query }
    nonisolated(unsafe) static var calls = [0, 0, 0]
    nonisolated(unsafe) static var ns: [UInt64] = [0, 0, 0]
    static func note(_ c: Call, since t0: UInt64) {
        calls[c.rawValue] += 1
        ns[c.rawValue] += hvbd_now_ns() - t0
    }
}

/// process_vm_readv / process_vm_writev (not in the Glibc module: looked up at run time).
enum RemoteMemory {
    typealias Fn = @convention(c) (pid_t, UnsafePointer<iovec>?, UInt, UnsafePointer<iovec>?, UInt, UInt) -> Int
    nonisolated(unsafe) static let readv: Fn = unsafeBitCast(dlsym(nil, "process_vm_readv")!, to: Fn.self)
    nonisolated(unsafe) static let writev: Fn = unsafeBitCast(dlsym(nil, "process_vm_writev")!, to: Fn.self)

    /// Reads `count` bytes at `address` of `pid`; nil when any of it is not mapped.
    static func read(_ pid: Int32, _ address: UInt64, _ count: Int, into dst: UnsafeMutableRawPointer) -> Bool {
        var local = iovec(iov_base: dst, iov_len: count)
        var remote = iovec(iov_base: UnsafeMutableRawPointer(bitPattern: UInt(address)), iov_len: count)
        return readv(pid, &local, 1, &remote, 1, 0) == count
    }

    static func write(_ pid: Int32, _ address: UInt64, _ src: UnsafeRawPointer, _ count: Int) -> Bool {
        var local = iovec(iov_base: UnsafeMutableRawPointer(mutating: src), iov_len: count)
        var remote = iovec(iov_base: UnsafeMutableRawPointer(bitPattern: UInt(address)), iov_len: count)
        return writev(pid, &local, 1, &remote, 1, 0) == count
    }

    /// One process_vm_readv/writev call (IOV_MAX iovecs at a time) for many ranges of `pid`;
    /// which of them were transferred whole. The kernel stops at the first range it cannot
    /// transfer, so the call is repeated past each failing one: the result is the same as one
    /// call per range.
    static func transfer(_ pid: Int32, local: [iovec], remote: [iovec], write: Bool) -> [Bool] {
        var done = [Bool](repeating: false, count: remote.count)
        var i = 0
        while i < remote.count {
            let n = min(remote.count - i, 1024)
            let t0 = hvbd_now_ns()
            let moved = local.withUnsafeBufferPointer { l in
                remote.withUnsafeBufferPointer { r in
                    (write ? writev : readv)(pid, l.baseAddress! + i, UInt(n), r.baseAddress! + i, UInt(n), 0)
                }
            }
            Accounting.note(write ? .writev : .readv, since: t0)
            var left = max(moved, 0)
            var k = i
            while k < i + n && left >= remote[k].iov_len {
                left -= remote[k].iov_len
                done[k] = true
                k += 1
            }
            // k failed (or was cut short): go on after it.
            i = k == i + n ? k : k + 1
        }
        return done
    }

    /// Which pages of `pid` are mapped with write permission: PROCMAP_QUERY (Linux 6.11) on an
    /// open /proc/PID/maps, one query per VMA; on an older kernel the text of /proc/PID/maps.
    /// The answer is what the VMA's flags are now: nothing is cached between ioctls.
    final class Permissions {
        let pid: Int32
        private var fd: Int32 = -1
        private var noQuery = false
        init(pid: Int32) { self.pid = pid }
        deinit { if fd >= 0 { Glibc.close(fd) } }

        /// PROCMAP_QUERY = _IOWR('f', 17, struct procmap_query) (104 bytes); VMA_WRITABLE = 2.
        static let query: UInt = 0xC068_6611

        /// The VMAs queried since `forget()`: (start, end, writable).
        private var seen: [(start: UInt64, end: UInt64, writable: Bool)] = []
        private var ranges: [(UInt64, UInt64)]?
        private var q = [UInt64](repeating: 0, count: 13)

        /// A new ioctl: what was learnt for the last one is not trusted (the program may have
        /// called mprotect or munmap in between).
        func forget() {
            seen.removeAll(keepingCapacity: true)
            ranges = nil
        }

        func writable(_ addresses: [UInt64]) -> [Bool] { addresses.map(writable) }

        func writable(_ a: UInt64) -> Bool {
            for v in seen where v.start <= a && a < v.end { return v.writable }
            if !noQuery, let r = queried(a) { return r }
            noQuery = true
            if ranges == nil { ranges = RemoteMemory.writableRanges(pid) }
            return ranges!.contains { $0.0 <= a && a < $0.1 }
        }

        /// nil when the kernel has no PROCMAP_QUERY.
        private func queried(_ a: UInt64) -> Bool? {
            var reopened = false
            while true {
                if fd < 0 { fd = Glibc.open("/proc/\(pid)/maps", O_RDONLY | O_CLOEXEC) }
                if fd < 0 { return nil }
                for k in q.indices { q[k] = 0 }
                q[0] = 104
                q[2] = a
                let t0 = hvbd_now_ns()
                let r = q.withUnsafeMutableBytes { Glibc.ioctl(fd, Permissions.query, $0.baseAddress!) }
                Accounting.note(.query, since: t0)
                if r == 0 {
                    seen.append((q[3], q[4], q[5] & 2 != 0))
                    return q[5] & 2 != 0
                }
                let e = errno
                if e == ENOENT { return false }
                if e == ENOTTY || e == EINVAL { return nil }
                // ESRCH: the process this descriptor was opened for is gone (a pid reused).
                Glibc.close(fd)
                fd = -1
                if reopened { return false }
                reopened = true
            }
        }
    }

    /// /proc/PID/maps: the writable ranges, sorted.
    static func writableRanges(_ pid: Int32) -> [(UInt64, UInt64)] {
        let fd = Glibc.open("/proc/\(pid)/maps", O_RDONLY)
        guard fd >= 0 else { return [] }
        defer { Glibc.close(fd) }
        var text = [UInt8]()
        var buf = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = buf.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, 65536) }
            if n <= 0 { break }
            text += buf[0..<n]
        }
        var out: [(UInt64, UInt64)] = []
        for line in text.split(separator: 0x0a) {
            // "start-end perms offset dev inode path"
            guard let dash = line.firstIndex(of: 0x2d), let sp = line.firstIndex(of: 0x20) else { continue }
            let permsStart = line.index(after: sp)
            guard line.count > permsStart - line.startIndex + 2, line[line.index(permsStart, offsetBy: 1)] == 0x77 else { continue }
            guard let a = UInt64(String(decoding: line[line.startIndex..<dash], as: UTF8.self), radix: 16),
                  let b = UInt64(String(decoding: line[line.index(after: dash)..<sp], as: UTF8.self), radix: 16) else { continue }
            out.append((a, b))
        }
        return out
    }
}

/// `hvblob serve`: a simulated machine behind a Unix socket; programs reach its /dev/azure_blob
/// through libhvblob-device.so.
struct Serve: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Serve a simulated /dev/azure_blob to unmodified programs (LD_PRELOAD=libhvblob-device.so).",
        discussion: """
            The guest is the Swift model (default) or a driver's C code (--driver/--tree/--patch as verify takes it); \
            the host is the simulated VSP with a Blob-service backend (JSON requests, see README) and a fault plan: \
            --faults takes simulate's modes (\(FaultPlan.modeNames.joined(separator: ", "))) and the Blob service's \
            (\(BlobServiceFaults.names.joined(separator: ", "))). Virtual time advances only while a request is in \
            flight. SIGINT/SIGTERM print the summary (and write --record); exit 0 clean, 1 findings.
            """
    )

    @OptionGroup var input: DriverInput
    @Option(name: .customLong("kernel-version"), help: "Kernel API era of a C driver (default: the newest it builds for).")
    var kernelVersion: String?
    @Option(help: "The Unix socket to listen on (default: $HVBLOB_SOCKET, else $XDG_RUNTIME_DIR/hvblob.sock, else /tmp/hvblob-<uid>.sock).")
    var socket: String?
    @Option(help: "Seed (decimal or 0x hex): host delays, faults, session tokens, generated blobs.")
    var seed: String = "1"
    @Option(help: "Fault plan: simulate's modes and server-busy=P, service-ms=LO-HI, session-ticks=N.")
    var faults: String = "none"
    @Option(help: "Backend: blob (the Blob service, JSON) or store (simulate's line protocol).")
    var backend: String = "blob"
    @Option(help: "A directory whose files are the blobs (name = file name); default: 8 blobs generated from the seed.")
    var blobs: String?
    @Option(help: "Write the pcapng capture of everything served to this file on exit.")
    var record: String?
    @Flag(help: "One line per request on stdout.")
    var verbose = false
    @Option(help: "Also serve the device without a preload: a FUSE file mounted at this path (created if missing; needs /dev/fuse and root or fusermount3). Statically linked programs open it; bind-mount it at /dev/azure_blob to put it at the device's path.")
    var fuse: String?
    @Flag(name: .customLong("print-preload-path"), help: "Print the path of libhvblob-device.so (building it if needed) and exit.")
    var printPreloadPath = false

    static func defaultSocket() -> String {
        if let s = ProcessInfo.processInfo.environment["HVBLOB_SOCKET"], !s.isEmpty { return s }
        if let x = ProcessInfo.processInfo.environment["XDG_RUNTIME_DIR"], !x.isEmpty { return x + "/hvblob.sock" }
        return "/tmp/hvblob-\(getuid()).sock"
    }

    /// libhvblob-device.so built with cc from the package's source into a cache keyed by the
    /// source's hash (no dependency but libc; the one swift build puts next to this executable
    /// also links the Swift runtime, and is the fallback without cc).
    static func preloadPath() -> String {
        let exe = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        let beside = exe.deletingLastPathComponent().appendingPathComponent("libhvblob-device.so").path
        do {
            return try cachedBuild("libhvblob-device.so", sources: ["hvblob_device.c", "include/hvblob_device.h"],
                                   flags: ["-shared", "-fPIC", "-O2", "-Wall"], libraries: ["-ldl", "-lpthread"])
        } catch {
            if FileManager.default.fileExists(atPath: beside) { return beside }
            fail("--print-preload-path: \(error)")
        }
    }

    /// hvblob-fuse (Sources/HVBlobDevice/fuse), built with cc against libfuse3.
    static func fuseHelperPath() throws -> String {
        try cachedBuild("hvblob-fuse", sources: ["fuse/hvblob_fuse.c", "include/hvblob_device.h"],
                        flags: ["-O2", "-Wall", "-I/usr/include/fuse3"], libraries: ["-lfuse3", "-lpthread"])
    }

    /// Builds `sources` (under Sources/HVBlobDevice; the first is compiled) with cc into
    /// /tmp/hvblob-device-UID/HASH/NAME, once per source hash.
    static func cachedBuild(_ name: String, sources: [String], flags: [String], libraries: [String]) throws -> String {
        let src = DriverBuild.repositoryRoot.appendingPathComponent("Sources/HVBlobDevice")
        var bytes: [UInt8] = Array((flags + libraries).joined(separator: " ").utf8)
        for f in sources {
            guard let c = FileManager.default.contents(atPath: src.path + "/" + f) else { throw InputError("\(src.path)/\(f) does not exist") }
            bytes += Array(c)
        }
        let dir = "/tmp/hvblob-device-\(getuid())/\(String(FNV1a.hash(bytes), radix: 16))"
        let out = dir + "/" + name
        if FileManager.default.fileExists(atPath: out) { return out }
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let tmp = out + ".\(getpid())"
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["cc"] + flags + ["-I", src.path + "/include", src.path + "/" + sources[0], "-o", tmp] + libraries
        let errors = Pipe()
        p.standardError = errors
        let ok = (try? p.run()) != nil
        var output = Data()
        if ok {
            output = errors.fileHandleForReading.readDataToEndOfFile()
            p.waitUntilExit()
        }
        guard ok, p.terminationStatus == 0, rename(tmp, out) == 0 else {
            throw InputError("cc could not build \(out) from \(src.path)/\(sources[0]): \(String(decoding: output, as: UTF8.self))")
        }
        return out
    }

    func run() throws {
        if printPreloadPath {
            Out.standardOutput.write(Serve.preloadPath() + "\n")
            return
        }
        guard let s = parseSeed(seed) else { fail("--seed: '\(seed)' is not a number") }
        // Split the spec: the Blob service's items, the VSP's.
        var plan = FaultPlan()
        var blobFaults = BlobServiceFaults()
        var vspItems: [String] = []
        var offset = 0
        if faults != "none" && !faults.isEmpty {
            for item in faults.split(separator: ",", omittingEmptySubsequences: false) {
                defer { offset += item.count + 1 }
                let kv = item.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
                if BlobServiceFaults.names.contains(kv[0]) {
                    if !blobFaults.set(kv[0], kv.count > 1 ? kv[1] : nil) {
                        fail("--faults at character \(offset): '\(kv.count > 1 ? kv[1] : "")' is not a valid value for \(kv[0])")
                    }
                    continue
                }
                do { _ = try FaultPlan(spec: String(item)) } catch {
                    fail("--faults at character \(offset): \(String(describing: error).replacingOccurrences(of: "fault spec at character 0: ", with: "")) (the Blob service's: \(BlobServiceFaults.names.joined(separator: ", ")))")
                }
                vspItems.append(String(item))
            }
            do { plan = try FaultPlan(spec: vspItems.joined(separator: ",")) } catch { fail("--faults: \(error)") }
        }
        let backendValue: BlobBackend
        var service: BlobService?
        switch backend {
        case "blob":
            var contents: [String: [UInt8]]
            if let dir = blobs {
                guard let names = try? FileManager.default.contentsOfDirectory(atPath: dir) else { fail("--blobs: \(dir): not a readable directory") }
                contents = [:]
                for n in names.sorted() {
                    var isDir: ObjCBool = false
                    let path = dir + "/" + n
                    if FileManager.default.fileExists(atPath: path, isDirectory: &isDir), !isDir.boolValue {
                        contents[n] = readFile(path, what: "--blobs")
                    }
                }
            } else {
                contents = BlobService.generatedBlobs(seed: s)
            }
            let svc = BlobService(blobs: contents, faults: blobFaults, seed: s)
            service = svc
            backendValue = svc
        case "store":
            if blobs != nil { fail("--blobs needs --backend blob") }
            if blobFaults != BlobServiceFaults() { fail("--faults: \(blobFaults) needs --backend blob") }
            backendValue = BlobStore()
        default:
            fail("--backend: '\(backend)' is not blob or store")
        }

        var version = kernelVersion.map(parseKernelVersion) ?? .default
        var built: DriverBuild.Built?
        if input.any {
            guard let source = input.resolve(inTree: false) else { fail("no driver") }
            do { built = try DriverBuild.build(source, version: kernelVersion == nil ? nil : version) } catch {
                Out.standardError.write(shown("hvblob: \(error)\n"))
                throw ExitCode(2)
            }
            version = built!.version
        }
        let machine = Machine(behavior: .fixed, version: version, faults: plan, seed: s, backend: backendValue)
        if let b = built {
            do { machine.driver = try BridgedDriver(b, machine: machine) } catch { fail("\(input.given.first ?? "--driver"): \(error)") }
        }
        let recorder = record.map { _ in machine.startRecording() }
        do { try machine.driver.probe() } catch { fail("the driver's probe returned \(error)") }

        let path = socket ?? Serve.defaultSocket()
        let server = DeviceServer(machine: machine, service: service, verbose: verbose, recorder: recorder)
        try server.listen(path)
        let mount = fuse.map { FuseMount(at: $0, socket: path) }
        let abi = machine.driver.abi
        Out.standardOutput.write("""
            hvblob serve: seed=\(s) faults=\(plan)\(blobFaults == BlobServiceFaults() ? "" : ",\(blobFaults)") driver=\(machine.driver.name) kernel=\(version)
            device: \(abi.request.name) = \(abi.command); \(abi.layout)
            backend: \(backend)\(service.map { " (\($0.state.blobs.count) blobs\(blobs.map { " from \($0)" } ?? " generated from the seed"))" } ?? "")
            socket: \(path)
            run a program: HVBLOB_SOCKET=\(path) LD_PRELOAD=\(Serve.preloadPath()) PROGRAM
            \(mount.map { "fuse: \($0.path) (a FUSE file: programs open it without LD_PRELOAD)\n" } ?? "")
            """)
        server.serve()
        mount?.unmount()
        Out.standardOutput.write(server.summary())
        if let path = record, let recorder {
            writeFile(path, recorder.capture.pcapng(), what: "--record")
            Out.standardOutput.write("recorded: \(recorder.capture.records.count) records to \(path)\n")
        }
        if !machine.log.counts.isEmpty { throw ExitCode(1) }
    }
}

/// `--fuse PATH`: hvblob-fuse mounted at PATH, forwarding each open and ioctl to the socket
/// with the caller's pid. It holds a pipe from us as stdin: when we exit (even killed) it unmounts.
final class FuseMount {
    let path: String
    let helper = Process()
    let lifeline = Pipe()
    /// We made the file the mount covers: it goes when the mount does.
    var created = false

    init(at path: String, socket: String) {
        self.path = path
        let exe: String
        do { exe = try Serve.fuseHelperPath() } catch { fail("--fuse: \(error)") }
        var st = stat()
        if stat(path, &st) != 0 {
            let e = errno
            let fd = e == ENOENT ? Glibc.open(path, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0o666) : -1
            if fd < 0 {
                let why = String(cString: strerror(e == ENOENT ? errno : e))
                fail("--fuse: cannot create \(path): \(why)\(e == ENOTCONN ? " (a FUSE mount left by a daemon that died: umount \(path))" : "")")
            }
            Glibc.close(fd)
            created = true
        } else if (st.st_mode & S_IFMT) != S_IFREG {
            fail("--fuse: \(path) is not a regular file (a FUSE file is mounted over a file)")
        }
        helper.executableURL = URL(fileURLWithPath: exe)
        helper.arguments = [path, socket]
        helper.standardInput = lifeline
        let out = Pipe()
        helper.standardOutput = out
        do { try helper.run() } catch { fail("--fuse: cannot start \(exe): \(error)") }
        // It prints "mounted PATH" once the mount is there, or says why not and exits 1.
        let line = String(decoding: out.fileHandleForReading.availableData, as: UTF8.self)
        guard line.hasPrefix("mounted ") else {
            helper.waitUntilExit()
            fail("--fuse: no FUSE file at \(path): hvblob-fuse exited with status \(helper.terminationStatus) (its message above)")
        }
    }

    func unmount() {
        try? lifeline.fileHandleForWriting.close()
        helper.waitUntilExit()
        if created { unlink(path) }
    }
}

nonisolated(unsafe) var serveStopPipe: [Int32] = [-1, -1]

/// The daemon proper: connections, open files, ioctls in flight, the machine's clock.
final class DeviceServer {
    final class Connection {
        let fd: Int32
        var input: [UInt8] = []
        var file: ServedFile?
        var pid: Int32 = 0
        var busy = false
        var closed = false
        /// The shared-memory channel its ioctls come through (after HVBD_CHANNEL); the socket
        /// then carries only the wake-up bytes and the hang-up.
        var channel: UnsafeMutablePointer<hvbd_channel>?
        /// A memfd that came with the bytes read (SCM_RIGHTS), for the HVBD_CHANNEL frame.
        var passedFD: Int32 = -1
        /// The pages its previous ioctl mirrored: read together with the next argument, in one
        /// process_vm_readv, since a client mostly reuses its buffers (a guess: a page the new
        /// argument does not name is dropped, one it names and the guess missed is read after).
        var lastPages: [UInt64] = []
        init(fd: Int32) { self.fd = fd }
    }

    final class ServedFile {
        let id: UInt64
        let open: OpenFile
        let space: AddressSpace
        /// Connections and ioctls in flight holding it; the driver's release runs at 0.
        var refs = 1
        /// Mirrored pages: how many ioctls in flight use each, and its bytes as mirrored (a
        /// page of the server's snapshot pool).
        var pages: [UInt64: (refs: Int, snapshot: UnsafeMutableRawPointer)] = [:]
        /// The process whose pages are mirrored: after fork, parent and child have the same
        /// addresses with different contents, so one waits while the other's ioctl is in flight.
        var mirroredPid: Int32 = 0
        init(id: UInt64, open: OpenFile, space: AddressSpace) {
            self.id = id
            self.open = open
            self.space = space
        }
    }

    final class Pending {
        let conn: Connection
        let file: ServedFile
        let pid: Int32
        let argument: UInt64
        let command: IoctlCommand
        var tracked: TrackedCall!
        var vpns: [UInt64] = []
        var request: AzBlobRequestSync?
        /// Another ioctl in flight carries the same transaction GUID: the host's bookkeeping by
        /// GUID cannot tell the two apart, so their returns are not compared with it.
        var ambiguous = false
        init(conn: Connection, file: ServedFile, pid: Int32, argument: UInt64, command: IoctlCommand) {
            self.conn = conn
            self.file = file
            self.pid = pid
            self.argument = argument
            self.command = command
        }
    }

    let machine: Machine
    let service: BlobService?
    let verbose: Bool
    let recorder: CaptureRecorder?
    var listenFD: Int32 = -1
    var path = ""
    var connections: [Int32: Connection] = [:]
    /// The connections with a channel, in the order they got it: scanned for posted ioctls.
    var channels: [Connection] = []
    /// Whether the channels say the daemon may be asleep in poll (clients then kick the socket).
    var sleeping = false
    /// How long the daemon looks for posted ioctls before it sleeps in poll
    /// (HVBLOB_SERVE_SPIN_US, default 50 µs; 0: sleep at once).
    let spinNs: UInt64 = (ProcessInfo.processInfo.environment["HVBLOB_SERVE_SPIN_US"].flatMap { UInt64($0) } ?? 50) * 1000
    var files: [UInt64: ServedFile] = [:]
    var nextFile: UInt64 = 1
    var pending: [Pending] = []
    var waiting: [Pending] = []
    var remove: TrackedCall?
    var removeDone = false
    // Summary.
    var requests = 0
    var results: [Errno: Int] = [:]
    var statuses: [UInt32: Int] = [:]
    var opens = 0
    var pids = Set<Int32>()
    var protocolErrors = 0
    /// Ioctls that came through a shared-memory channel, and as frames on the socket.
    var channelIoctls = 0
    var frameIoctls = 0
    var maps: [Int32: RemoteMemory.Permissions] = [:]
    var scratchBuffer: UnsafeMutableRawPointer?
    var scratchSize = 0
    /// Pages for snapshots of mirrored pages, and the iovec lists: reused between ioctls.
    var snapshotPool: [UnsafeMutableRawPointer] = []
    var local: [iovec] = []
    var remote: [iovec] = []
    var wanted: [UInt64] = []
    var release: [UInt64] = []
    var receiveBuffer = [UInt8](repeating: 0, count: 4096)

    init(machine: Machine, service: BlobService?, verbose: Bool, recorder: CaptureRecorder?) {
        self.machine = machine
        self.service = service
        self.verbose = verbose
        self.recorder = recorder
        if let t = machine.host.faults.rescindAt {
            machine.queue.schedule(at: t) { [unowned self] in
                self.machine.host.noteRescind()
                self.machine.channel.rescind()
                self.recorder?.remove()
                self.remove = TrackedCall(self.machine.driver.remove())
                if self.verbose { Out.standardOutput.write("t=\(self.machine.now) host rescinds the channel; remove starts\n") }
            }
        }
    }

    func listen(_ path: String) throws {
        self.path = path
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        let max = MemoryLayout.size(ofValue: addr.sun_path)
        guard path.utf8.count < max else { fail("--socket: \(path) is longer than \(max - 1) bytes") }
        withUnsafeMutableBytes(of: &addr.sun_path) { raw in
            for (i, b) in path.utf8.enumerated() { raw[i] = b }
        }
        // A socket left by a daemon that died is removed; a live one is an error.
        let probe = Glibc.socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        let live = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(probe, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) } } == 0
        Glibc.close(probe)
        if live { fail("--socket: another hvblob serve is listening on \(path)") }
        unlink(path)
        listenFD = Glibc.socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
        let bound = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.bind(listenFD, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) } }
        if bound != 0 { fail("--socket: cannot bind \(path): \(String(cString: strerror(errno)))") }
        chmod(path, 0o666)
        Glibc.listen(listenFD, 256)
        pipe(&serveStopPipe)
        let handler: @convention(c) (Int32) -> Void = { _ in
            var b: UInt8 = 1
            _ = Glibc.write(serveStopPipe[1], &b, 1)
        }
        signal(SIGINT, handler)
        signal(SIGTERM, handler)
        // A parent may have started us with these blocked (Foundation's Process does).
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, SIGINT)
        sigaddset(&set, SIGTERM)
        pthread_sigmask(SIG_UNBLOCK, &set, nil)
        signal(SIGPIPE, SIG_IGN)
    }

    /// Runs until SIGINT/SIGTERM. Ioctls posted in a channel are picked up by looking (for
    /// `spinNs` after the last one, with a look at the sockets every 20 µs); then the daemon
    /// says in every channel that it sleeps, looks once more, and sleeps in poll, where a
    /// client's wake-up byte, a frame, a connection or a hang-up wakes it.
    func serve() {
        var idleSince: UInt64 = 0
        var lastPoll: UInt64 = 0
        var burst = 0
        while true {
            if scanChannels() {
                pump()
                idleSince = 0
                burst += 1
                // The sockets are looked at now and then even while ioctls keep coming.
                if burst < 64 { continue }
            }
            burst = 0
            let now = hvbd_now_ns()
            var timeout: Int32 = 0
            if idleSince == 0 { idleSince = now }
            if channels.isEmpty || now - idleSince >= spinNs {
                setSleeping(true)
                if scanChannels() {
                    setSleeping(false)
                    pump()
                    idleSince = 0
                    continue
                }
                timeout = -1
            } else if now - lastPoll < 20_000 {
                // A CPU shared with others (the client among them) is handed on, not held.
                hvbd_pause()
                sched_yield()
                continue
            }
            lastPoll = now
            let stop = pollSockets(timeout)
            if sleeping {
                setSleeping(false)
                idleSince = 0
            }
            if stop { break }
            pump()
        }
        Glibc.close(listenFD)
        unlink(path)
    }

    /// One poll of the stop pipe, the listening socket and every connection; true: stop.
    func pollSockets(_ timeout: Int32) -> Bool {
        var fds = [pollfd(fd: serveStopPipe[0], events: Int16(POLLIN), revents: 0), pollfd(fd: listenFD, events: Int16(POLLIN), revents: 0)]
        for c in connections.values where !c.closed { fds.append(pollfd(fd: c.fd, events: Int16(POLLIN), revents: 0)) }
        let n = poll(&fds, nfds_t(fds.count), timeout)
        if n <= 0 { return false }
        if fds[0].revents != 0 { return true }
        if fds[1].revents != 0 { acceptAll() }
        for p in fds.dropFirst(2) where p.revents != 0 {
            if let c = connections[p.fd] { readFrom(c) }
        }
        return false
    }

    /// Starts the ioctls posted in channels whose previous one has returned; true if any.
    func scanChannels() -> Bool {
        var found = false
        for c in channels where !c.busy && !c.closed {
            let ch = c.channel!
            guard hvbd_load(hvbd_state(ch)) == HVBD_POSTED.rawValue else { continue }
            found = true
            let pid = ch.pointee.pid
            guard let file = c.file else { continue }
            c.pid = pid
            pids.insert(pid)
            channelIoctls += 1
            startIoctl(c, file, pid: pid, argument: ch.pointee.arg, command: IoctlCommand(rawValue: UInt32(truncatingIfNeeded: ch.pointee.cmd)))
        }
        return found
    }

    func setSleeping(_ on: Bool) {
        sleeping = on
        for c in channels where !c.closed { hvbd_store(hvbd_daemon_sleeping(c.channel!), on ? 1 : 0) }
    }

    func acceptAll() {
        while true {
            let fd = Glibc.accept(listenFD, nil, nil)
            if fd < 0 { return }
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
            connections[fd] = Connection(fd: fd)
        }
    }

    func send(_ c: Connection, _ bytes: [UInt8]) {
        guard !c.closed else { return }
        // 32 bytes into an idle socket's buffer: a short write means the peer is gone.
        let n = bytes.withUnsafeBytes { Glibc.send(c.fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        if n != bytes.count { drop(c) }
    }

    func readFrom(_ c: Connection) {
        while !c.closed {
            let n = receiveBuffer.withUnsafeMutableBytes { hvbd_recv(c.fd, $0.baseAddress, $0.count, &c.passedFD) }
            if n > 0 && c.channel != nil {
                // Wake-up bytes: the ioctl is in the channel.
                continue
            }
            if n > 0 {
                c.input += receiveBuffer[0..<n]
                // A whole frame: handle it now (poll says if more follows), sparing a recv
                // that would only say EAGAIN.
                if c.input.count >= DeviceWire.frameSize { break }
                continue
            }
            if n < 0 && (errno == EAGAIN || errno == EINTR) { break }
            drop(c)
            return
        }
        while c.input.count >= DeviceWire.frameSize && !c.closed {
            let f = DeviceWire.Frame(c.input[0..<DeviceWire.frameSize])
            c.input.removeFirst(DeviceWire.frameSize)
            handle(c, f)
        }
    }

    /// The connection is gone (the process closed it or died): its hold on the file goes.
    func drop(_ c: Connection) {
        if c.closed { return }
        c.closed = true
        Glibc.close(c.fd)
        if c.passedFD >= 0 { Glibc.close(c.passedFD) }
        c.passedFD = -1
        if let ch = c.channel {
            channels.removeAll { $0 === c }
            // An ioctl in flight still answers into it (finish checks `closed`): unmapped then.
            if !c.busy {
                hvbd_unmap(ch)
                c.channel = nil
            }
        }
        connections[c.fd] = nil
        if !connections.values.contains(where: { $0.pid == c.pid }) { maps[c.pid] = nil }
        if let f = c.file { unref(f, pid: c.pid) }
    }

    func unref(_ f: ServedFile, pid: Int32) {
        f.refs -= 1
        guard f.refs == 0 else { return }
        recorder?.release(pid: Int(pid))
        machine.driver.release(f.open)
        files[f.id] = nil
        if verbose { Out.standardOutput.write("t=\(machine.now) pid=\(pid) release file \(f.id)\n") }
    }

    func handle(_ c: Connection, _ f: DeviceWire.Frame) {
        guard f.magic == DeviceWire.magic, f.version == DeviceWire.version else {
            protocolErrors += 1
            send(c, DeviceWire.Frame.reply(op: f.op, result: EPROTO))
            drop(c)
            return
        }
        c.pid = f.pid
        pids.insert(f.pid)
        switch f.op {
        case DeviceWire.open where c.file == nil:
            let space = AddressSpace(pid: Int(f.pid), memory: machine.memory)
            do {
                let open = try machine.driver.open(space)
                let file = ServedFile(id: nextFile, open: open, space: space)
                nextFile += 1
                files[file.id] = file
                c.file = file
                opens += 1
                if verbose { Out.standardOutput.write("t=\(machine.now) pid=\(f.pid) open -> file \(file.id)\n") }
                send(c, DeviceWire.Frame.reply(op: f.op, result: 0, a: file.id))
            } catch {
                if verbose { Out.standardOutput.write("t=\(machine.now) pid=\(f.pid) open -> \(error)\n") }
                send(c, DeviceWire.Frame.reply(op: f.op, result: error.rawValue))
            }
        case DeviceWire.attach where c.file == nil:
            guard let file = files[f.a] else {
                send(c, DeviceWire.Frame.reply(op: f.op, result: EBADF))
                return
            }
            file.refs += 1
            c.file = file
            send(c, DeviceWire.Frame.reply(op: f.op, result: 0, a: file.id))
        case DeviceWire.channel where c.file != nil && c.channel == nil && c.passedFD >= 0:
            let fd = c.passedFD
            c.passedFD = -1
            let ch = hvbd_map(fd, f.a)
            Glibc.close(fd)
            guard let ch else {
                send(c, DeviceWire.Frame.reply(op: f.op, result: EINVAL))
                return
            }
            c.channel = ch
            channels.append(c)
            if sleeping { hvbd_store(hvbd_daemon_sleeping(ch), 1) }
            send(c, DeviceWire.Frame.reply(op: f.op, result: 0))
        case DeviceWire.ioctl where c.file != nil && !c.busy && c.channel == nil:
            frameIoctls += 1
            startIoctl(c, c.file!, pid: f.pid, argument: f.a, command: IoctlCommand(rawValue: UInt32(truncatingIfNeeded: f.b)))
        default:
            protocolErrors += 1
            send(c, DeviceWire.Frame.reply(op: f.op, result: EPROTO))
            drop(c)
        }
    }

    // MARK: the caller's memory

    /// Mirrors into the file's address space every page the ioctl can touch: the argument and
    /// the three buffers the argument names (in the driver's layout). A page that is not
    /// mapped in the caller is left unmapped (the driver faults: EFAULT); one mapped without
    /// write permission is mirrored read-only (a write-intent pin faults).
    func mirror(_ p: Pending) -> Bool {
        if !p.file.pages.isEmpty && p.file.mirroredPid != p.pid { return false }
        p.file.mirroredPid = p.pid
        let layout = machine.driver.abi.layout
        let page = AzBlob.pageSize
        // One process_vm_readv: the argument and the pages the connection's previous ioctl used,
        // each page straight into a snapshot page of the pool.
        let guess = p.conn.lastPages.filter { p.file.pages[$0] == nil }
        let argBuffer = scratch(layout.size)
        local.removeAll(keepingCapacity: true)
        remote.removeAll(keepingCapacity: true)
        local.append(iovec(iov_base: argBuffer, iov_len: layout.size))
        remote.append(iovec(iov_base: UnsafeMutableRawPointer(bitPattern: UInt(p.argument)), iov_len: layout.size))
        var snaps: [UnsafeMutableRawPointer] = []
        snaps.reserveCapacity(guess.count + 4)
        for v in guess {
            let snap = takeSnapshot()
            snaps.append(snap)
            local.append(iovec(iov_base: snap, iov_len: page))
            remote.append(iovec(iov_base: UnsafeMutableRawPointer(bitPattern: UInt(v << 12)), iov_len: page))
        }
        let got = RemoteMemory.transfer(p.pid, local: local, remote: remote, write: false)
        wanted.removeAll(keepingCapacity: true)
        func add(_ address: UInt64, _ length: Int) {
            guard length > 0 else { return }
            let (end, over) = address.addingReportingOverflow(UInt64(length) - 1)
            if over { return }
            for v in (address >> 12)...(end >> 12) where !wanted.contains(v) { wanted.append(v) }
        }
        add(p.argument, layout.size)
        if got[0], let r = try? layout.decode(Array(UnsafeRawBufferPointer(start: argBuffer, count: layout.size))) {
            p.request = r
            // A buffer longer than the page limit is refused by the driver before it pins
            // past that: mirror no more than the limit and a page.
            let cap = page * (AzBlob.maxPages + 1)
            add(r.requestBuffer, min(Int(r.requestLen), cap))
            add(r.responseBuffer, min(Int(r.responseLen), cap))
            add(r.dataBuffer, min(Int(r.dataLen), cap))
        }
        wanted.sort()
        p.conn.lastPages = wanted
        // Pages mirrored already (another ioctl in flight uses them), read with the guess, or
        // still to read (the guess missed: a new buffer).
        var fresh: [(vpn: UInt64, snapshot: UnsafeMutableRawPointer?)] = []
        var used = [Bool](repeating: false, count: guess.count)
        local.removeAll(keepingCapacity: true)
        remote.removeAll(keepingCapacity: true)
        var late: [Int] = []
        for v in wanted {
            if var entry = p.file.pages[v] {
                entry.refs += 1
                p.file.pages[v] = entry
                p.vpns.append(v)
            } else if let k = guess.firstIndex(of: v) {
                used[k] = true
                fresh.append((v, got[k + 1] ? snaps[k] : nil))
            } else {
                let snap = takeSnapshot()
                late.append(fresh.count)
                fresh.append((v, snap))
                local.append(iovec(iov_base: snap, iov_len: page))
                remote.append(iovec(iov_base: UnsafeMutableRawPointer(bitPattern: UInt(v << 12)), iov_len: page))
            }
        }
        for k in guess.indices where !used[k] || !got[k + 1] { snapshotPool.append(snaps[k]) }
        if !late.isEmpty {
            let read = RemoteMemory.transfer(p.pid, local: local, remote: remote, write: false)
            for (j, i) in late.enumerated() where !read[j] {
                snapshotPool.append(fresh[i].snapshot!)
                fresh[i].snapshot = nil
            }
        }
        // Write permission is asked (PROCMAP_QUERY) only of pages the driver writes or pins for
        // writing, when it does: the request's pages are mostly never asked about.
        let perms = permissions(p.pid)
        perms.forget()
        if p.file.space.writableResolver == nil {
            // The process whose pages are mirrored when the question comes (after fork, the
            // file is shared).
            let file = p.file
            p.file.space.writableResolver = { [unowned self, unowned file] a in self.permissions(file.mirroredPid).writable(a) }
        }
        for f in fresh {
            guard let snap = f.snapshot else { continue }
            p.file.space.mapPage(at: f.vpn << 12, writable: nil, contents: snap)
            p.file.pages[f.vpn] = (1, snap)
            p.vpns.append(f.vpn)
        }
        return true
    }

    /// Process_vm_readv's view of who may be written: one per process with an ioctl in flight.
    func permissions(_ pid: Int32) -> RemoteMemory.Permissions {
        if let m = maps[pid] { return m }
        if maps.count > 256 { maps.removeAll() }
        let m = RemoteMemory.Permissions(pid: pid)
        maps[pid] = m
        return m
    }

    /// A buffer of at least `count` bytes, reused between ioctls.
    func scratch(_ count: Int) -> UnsafeMutableRawPointer {
        if scratchSize < count {
            let old = scratchBuffer
            let keep = scratchSize
            scratchSize = max(count, 4 * AzBlob.pageSize)
            scratchBuffer = UnsafeMutableRawPointer.allocate(byteCount: scratchSize, alignment: 4096)
            if let old {
                scratchBuffer!.copyMemory(from: old, byteCount: keep)
                old.deallocate()
            }
        }
        return scratchBuffer!
    }

    /// A page for a mirrored page's snapshot, from the pool (given back by `writeBack`).
    func takeSnapshot() -> UnsafeMutableRawPointer {
        snapshotPool.popLast() ?? UnsafeMutableRawPointer.allocate(byteCount: AzBlob.pageSize, alignment: 64)
    }

    /// Writes back, byte run by byte run, what the driver and the host changed in the mirrored
    /// pages (one process_vm_writev for all the runs), and unmaps the pages no other ioctl in
    /// flight uses.
    func writeBack(_ p: Pending) {
        let page = AzBlob.pageSize
        local.removeAll(keepingCapacity: true)
        remote.removeAll(keepingCapacity: true)
        let r = p.request
        let response = (r?.responseBuffer ?? 0, UInt64(r?.responseLen ?? 0)), data = (r?.dataBuffer ?? 0, UInt64(r?.dataLen ?? 0))
        /// The end of the device-owned buffer holding `a` (the response or data buffer the
        /// argument named), if one does.
        func owned(_ a: UInt64) -> UInt64? {
            if response.1 > 0 && a >= response.0 && a - response.0 < response.1 { return response.0 &+ response.1 }
            if data.1 > 0 && a >= data.0 && a - data.0 < data.1 { return data.0 &+ data.1 }
            return nil
        }
        // The pages are compared where they are in guest memory, and the changed runs sent from
        // there: they are unmapped only after the process_vm_writev.
        release.removeAll(keepingCapacity: true)
        for v in p.vpns {
            guard var entry = p.file.pages[v] else { continue }
            let address = v << 12
            if let mirrored = p.file.space.pageBytes(at: address) {
                let old = UnsafeRawPointer(entry.snapshot).assumingMemoryBound(to: UInt8.self)
                let new = mirrored.assumingMemoryBound(to: UInt8.self)
                if memcmp(old, new, page) != 0 {
                    let a = UnsafeRawPointer(old), b = mirrored
                    var i = PageDiff.firstDifference(a, b, from: 0, to: page)
                    while i < page {
                        var j = PageDiff.firstEqual(a, b, from: i, to: page)
                        // A few equal bytes inside a buffer the device owns during the ioctl
                        // (response, data) go back with the run around them: the host may
                        // write any byte there, and one iovec costs less than two.
                        while j < page, let end = owned(address + UInt64(j)) {
                            let limit = min(page, j + 64, Int(end - address))
                            let k = PageDiff.firstDifference(a, b, from: j, to: limit)
                            if k >= limit { break }
                            j = PageDiff.firstEqual(a, b, from: k, to: page)
                        }
                        local.append(iovec(iov_base: UnsafeMutableRawPointer(mutating: mirrored + i), iov_len: j - i))
                        remote.append(iovec(iov_base: UnsafeMutableRawPointer(bitPattern: UInt(address) + UInt(i)), iov_len: j - i))
                        i = PageDiff.firstDifference(a, b, from: j, to: page)
                    }
                    // Another ioctl in flight on this page compares with what it is now.
                    if entry.refs > 1 { entry.snapshot.copyMemory(from: mirrored, byteCount: page) }
                }
            }
            entry.refs -= 1
            if entry.refs == 0 {
                p.file.pages[v] = nil
                release.append(v)
                snapshotPool.append(entry.snapshot)
            } else {
                p.file.pages[v] = entry
            }
        }
        if !remote.isEmpty { _ = RemoteMemory.transfer(p.pid, local: local, remote: remote, write: true) }
        for v in release { p.file.space.unmap(v << 12, length: page) }
    }

    // MARK: ioctls

    func startIoctl(_ c: Connection, _ file: ServedFile, pid: Int32, argument: UInt64, command: IoctlCommand) {
        c.busy = true
        file.refs += 1
        requests += 1
        let p = Pending(conn: c, file: file, pid: pid, argument: argument, command: command)
        if !begin(p) { waiting.append(p) }
    }

    /// Mirrors the caller's pages and enters the driver's ioctl; false while another process
    /// sharing the open file has an ioctl in flight.
    func begin(_ p: Pending) -> Bool {
        guard mirror(p) else { return false }
        recorder?.ioctlCall(p.file.space, command: p.command, argument: p.argument)
        if let g = p.request?.guid {
            for q in pending where q.request?.guid == g {
                q.ambiguous = true
                p.ambiguous = true
            }
        }
        p.tracked = TrackedCall(machine.driver.ioctl(p.file.open, command: p.command, argument: p.argument))
        pending.append(p)
        return true
    }

    func finish(_ p: Pending, _ e: Errno) {
        recorder?.ioctlReturn(p.file.space, argument: p.argument, result: e)
        if p.tracked.call.sentRequestId != nil, !p.ambiguous, let r = p.request { machine.noteReturned(transaction: r.guid, result: e) }
        let response = p.file.space.readResponse(at: p.argument, layout: machine.driver.abi.layout)
        writeBack(p)
        results[e, default: 0] += 1
        if e == .success, let r = response { statuses[r.status, default: 0] += 1 }
        if verbose {
            var line = "t=\(machine.now) pid=\(p.pid) ioctl \(p.command)"
            if let r = p.request {
                line += " transaction \(r.guid) request_len=\(r.requestLen) response_len=\(r.responseLen) data_len=\(r.dataLen) timeout=\(r.timeout)"
            }
            if let id = p.tracked.call.sentRequestId { line += " request id \(id)" }
            line += " -> \(e)"
            if e == .success, let r = response { line += " status=\(VSPStatus(rawValue: r.status)) response_len=\(r.length)" }
            Out.standardOutput.write(line + "\n")
        }
        p.conn.busy = false
        if let ch = p.conn.channel {
            if p.conn.closed {
                hvbd_unmap(ch)
                p.conn.channel = nil
            } else {
                hvbd_reply(ch, e.rawValue, 0)
            }
        } else {
            send(p.conn, DeviceWire.Frame.reply(op: DeviceWire.ioctl, result: e.rawValue))
        }
        unref(p.file, pid: p.pid)
    }

    /// Steps every call that can make progress and lets the machine's events run while some
    /// call waits: virtual time moves only while a request is in flight.
    func pump() {
        var spins = 0
        while !pending.isEmpty || (remove != nil && !removeDone) {
            var progressed = false
            let now = machine.now
            for p in pending where p.tracked.isDue(at: now) {
                p.tracked.advance()
                progressed = true
            }
            if let r = remove, !removeDone, r.isDue(at: now) {
                r.advance()
                progressed = true
                if r.result != nil {
                    removeDone = true
                    if verbose { Out.standardOutput.write("t=\(machine.now) remove finished\n") }
                }
            }
            let done = pending.filter { $0.tracked.result != nil }
            if !done.isEmpty {
                pending.removeAll { $0.tracked.result != nil }
                for p in done { finish(p, p.tracked.result!) }
                let ready = waiting
                waiting = []
                for p in ready where !begin(p) { waiting.append(p) }
            }
            if progressed {
                spins += 1
                if spins < 10_000_000 { continue }
            }
            var deadlines = pending.compactMap { $0.tracked.result == nil ? $0.tracked.deadline : nil }
            if let r = remove, !removeDone, let d = r.deadline { deadlines.append(d) }
            let soonest = deadlines.filter { $0 > machine.now }.min()
            if let t = machine.queue.nextTime, soonest.map({ t <= $0 }) ?? true {
                machine.run(until: t, maxEvents: 1)
            } else if let d = soonest {
                machine.now = d
            } else {
                // Everything left waits for something that cannot happen now (a completion
                // the host never sends): it stays blocked, as in the kernel.
                break
            }
        }
    }

    func summary() -> String {
        var s = "summary: \(requests) ioctls from \(pids.count) process(es), \(opens) open(s); results: "
        s += results.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
        if !statuses.isEmpty {
            s += "; response.status: " + statuses.sorted { $0.key < $1.key }.map { "\(VSPStatus(rawValue: $0.key))=\($0.value)" }.joined(separator: " ")
        }
        s += "\n"
        s += "transport: \(channelIoctls) ioctl(s) through shared-memory channels, \(frameIoctls) as socket frames\n"
        if requests > 0 {
            // Per ioctl: the daemon's CPU time, and the part of it in the calls that read and
            // write the caller's memory and ask its permissions.
            var u = rusage()
            getrusage(RUSAGE_SELF.rawValue, &u)
            let cpu = (Double(u.ru_utime.tv_sec + u.ru_stime.tv_sec) * 1e6 + Double(u.ru_utime.tv_usec + u.ru_stime.tv_usec)) / Double(requests)
            let n = Double(requests)
            let a = Accounting.self
            let inCalls = Double(a.ns.reduce(0, +)) / 1000 / n
            s += "caller memory: per ioctl \(String(format: "%.2f", Double(a.calls[0]) / n)) process_vm_readv, \(String(format: "%.2f", Double(a.calls[1]) / n)) process_vm_writev, \(String(format: "%.2f", Double(a.calls[2]) / n)) PROCMAP_QUERY; \(String(format: "%.1f", inCalls)) us in them of \(String(format: "%.1f", cpu)) us daemon CPU (readv \(String(format: "%.1f", Double(a.ns[0]) / 1000 / n)), writev \(String(format: "%.1f", Double(a.ns[1]) / 1000 / n)), query \(String(format: "%.1f", Double(a.ns[2]) / 1000 / n)) us)\n"
        }
        if let svc = service {
            s += "blob service: " + svc.state.statuses.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ") + "\n"
        }
        let h = machine.host.stats
        s += "host: \(h.received) packets received, \(h.executed) executed, \(h.completionsSent) completions, \(h.dropped) dropped, \(h.neverCompleted) never completed\n"
        if !pending.isEmpty { s += "still blocked in the ioctl: \(pending.count) (\(pending.map { "pid \($0.pid): \($0.tracked.call.waitDescription)" }.joined(separator: "; ")))\n" }
        if protocolErrors > 0 { s += "protocol errors: \(protocolErrors) connection(s) spoke another protocol\n" }
        s += "time: t=\(machine.now)\n"
        let counts = machine.log.counts
        if counts.isEmpty {
            s += "verdict: clean (0 findings)\n"
        } else {
            s += "verdict: \(counts.values.reduce(0, +)) finding(s)\n"
            for v in machine.log.violations.prefix(20) { s += "  \(v.rule) t=\(v.time) \(v.detail)\n" }
        }
        return s
    }
}
