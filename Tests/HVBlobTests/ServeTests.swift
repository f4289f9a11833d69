// SPDX-License-Identifier: Apache-2.0
import Foundation
import HVBlob
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// `hvblob serve` from the built binary, with the example clients (Examples/) built by cc and
/// run unmodified under LD_PRELOAD=libhvblob-device.so: bytes checked end to end, faults the
/// client sees, EFAULT from the program's own read-only memory, a daemon that dies.
@Suite("hvblob serve", .serialized)
struct ServeTests {
    static var binary: String { CLITests.binary }

    /// A daemon on its own socket, stdout into a file, with blobs from a directory.
    final class Daemon: @unchecked Sendable {
        let process = Process()
        let socket: String
        let log: String
        let dir: String
        init(faults: String = "none", extra: [String] = [], blobs: [String: [UInt8]]) throws {
            let base = FileManager.default.temporaryDirectory.appendingPathComponent("hvblob-serve-\(UUID().uuidString)").path
            dir = base + "-blobs"
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            for (n, b) in blobs { try Data(b).write(to: URL(fileURLWithPath: dir + "/" + n)) }
            socket = base + ".sock"
            log = base + ".log"
            _ = FileManager.default.createFile(atPath: log, contents: nil)
            process.executableURL = URL(fileURLWithPath: ServeTests.binary)
            process.arguments = ["serve", "--socket", socket, "--blobs", dir, "--faults", faults, "--verbose"] + extra
            process.standardOutput = FileHandle(forWritingAtPath: log)
            process.standardError = FileHandle(forWritingAtPath: log)
            try process.run()
            // It prints "socket: PATH" once it listens.
            for _ in 0..<500 where !output.contains("socket: \(socket)\n") { usleep(20_000) }
            try #require(output.contains("socket: \(socket)\n"), "the daemon did not listen: \(output)")
        }
        var output: String { (try? String(contentsOfFile: log, encoding: .utf8)) ?? "" }
        /// SIGTERM and the summary it prints.
        func stop() -> String {
            if process.isRunning { process.terminate() }
            process.waitUntilExit()
            return output
        }
        deinit {
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
            for path in [dir, log, socket] { try? FileManager.default.removeItem(atPath: path) }
        }
    }

    static let preload: String = {
        let r = try? runProcess([binary, "serve", "--print-preload-path"])
        return r?.output.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
    }()

    /// Examples/NAME.c built with cc (once per run); `static`: linked with -static.
    static func built(_ name: String, static linkStatic: Bool = false) throws -> String {
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("hvblob-\(name)\(linkStatic ? "-static" : "")-\(getpid())").path
        if !FileManager.default.fileExists(atPath: out) {
            let r = try runProcess(["cc", "-O2", "-Wall", "-Werror"] + (linkStatic ? ["-static"] : []) + ["-o", out, repoRoot.appendingPathComponent("Examples/\(name).c").path])
            try #require(r.status == 0, "cc \(name).c: \(r.output)")
        }
        return out
    }

    /// Runs a client under the preload against `daemon`, killed after `timeout` seconds (a
    /// hang is a failure, not a stuck test).
    static func client(_ argv: [String], _ daemon: Daemon?, socket: String? = nil, timeout: Double = 60,
                       device: String? = nil, env extra: [String: String] = [:]) throws -> (status: Int32, stdout: String, stderr: String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = argv
        var env = ProcessInfo.processInfo.environment
        if let device {
            // The FUSE file: no preload at all.
            env["LD_PRELOAD"] = nil
            env["HVBLOB_DEVICE"] = device
        } else {
            try #require(FileManager.default.fileExists(atPath: ServeTests.preload), "no preload library: hvblob serve --print-preload-path said '\(ServeTests.preload)'")
            env["LD_PRELOAD"] = ServeTests.preload
        }
        env["HVBLOB_SOCKET"] = socket ?? daemon!.socket
        for (k, v) in extra { env[k] = v }
        p.environment = env
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        let deadline = Date().addingTimeInterval(timeout)
        let outData = Box(Data())
        let reader = Thread { outData.set(out.fileHandleForReading.readDataToEndOfFile()) }
        reader.start()
        while p.isRunning && Date() < deadline { usleep(10_000) }
        let hung = p.isRunning
        if hung { kill(p.processIdentifier, SIGKILL) }
        p.waitUntilExit()
        let errData = err.fileHandleForReading.readDataToEndOfFile()
        while !reader.isFinished { usleep(1000) }
        #expect(!hung, "\(argv) hung for \(timeout) s")
        return (p.terminationStatus, String(decoding: outData.value, as: UTF8.self), String(decoding: errData, as: UTF8.self))
    }

    static func blob(_ n: Int, seed: UInt64) -> [UInt8] {
        var rng = SeededRandom(seed: seed)
        return (0..<n).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
    }

    @Test("serve.clients: the C and the Python example read a blob in ranges under LD_PRELOAD, every byte checked; the summary counts them")
    func examples() throws {
        let bytes = ServeTests.blob(300_001, seed: 7)
        let capture = FileManager.default.temporaryDirectory.appendingPathComponent("hvblob-serve-\(UUID().uuidString).pcapng").path
        defer { unlink(capture) }
        let d = try Daemon(extra: ["--record", capture], blobs: ["alpha": bytes])
        let copy = d.dir + "/alpha"
        let c = try ServeTests.client([try ServeTests.built("blob_read"), "alpha", copy, "65536", "2"], d)
        #expect(c.status == 0, "C client: \(c.stdout) \(c.stderr)")
        #expect(c.stdout.contains("alpha: 10 reads, 600002 bytes, every byte matched"), "\(c.stdout)")
        let py = try ServeTests.client(["python3", repoRoot.appendingPathComponent("Examples/blob_read.py").path, "alpha", copy, "4096"], d)
        #expect(py.status == 0, "Python client: \(py.stdout) \(py.stderr)")
        #expect(py.stdout.contains("alpha: 74 reads, 300001 bytes, every byte matched"), "\(py.stdout)")
        let out = d.stop()
        // open + 10 reads + close, open + 74 reads + close.
        #expect(out.contains("summary: 88 ioctls from 2 process(es), 2 open(s); results: 0=88"), "\(out)")
        #expect(out.contains("verdict: clean"), "\(out)")
        // The README's third command: the capture of what was served, replayed.
        #expect(out.contains("records to \(capture)"), "\(out.suffix(400))")
        let replay = try runProcess([ServeTests.binary, "replay", capture])
        #expect(replay.status == 0, "\(replay.output)")
        #expect(replay.output.contains("ioctls: 88 replayed, 88 returns matched") && replay.output.contains("verdict: clean"), "\(replay.output)")
    }

    @Test("serve.transports: the C example through the shared-memory channel and, with HVBLOB_TRANSPORT=socket, as socket frames: the same bytes, each counted where it went")
    func transports() throws {
        let bytes = ServeTests.blob(100_000, seed: 13)
        let d = try Daemon(blobs: ["alpha": bytes])
        let copy = d.dir + "/alpha"
        let exe = try ServeTests.built("blob_read")
        let channel = try ServeTests.client([exe, "alpha", copy, "16384", "1"], d)
        #expect(channel.status == 0 && channel.stdout.contains("every byte matched"), "\(channel.stdout) \(channel.stderr)")
        let frames = try ServeTests.client([exe, "alpha", copy, "16384", "1"], d, env: ["HVBLOB_TRANSPORT": "socket"])
        #expect(frames.status == 0 && frames.stdout.contains("every byte matched"), "\(frames.stdout) \(frames.stderr)")
        let out = d.stop()
        // Each run: open, 7 reads, close.
        #expect(out.contains("summary: 18 ioctls from 2 process(es), 2 open(s); results: 0=18"), "\(out)")
        #expect(out.contains("transport: 9 ioctl(s) through shared-memory channels, 9 as socket frames"), "\(out)")
    }

    @Test("serve.concurrent: 16 processes x 1,026 requests at once, every byte checked")
    func concurrent() throws {
        let bytes = ServeTests.blob(262_144, seed: 11)
        let d = try Daemon(blobs: ["beta": bytes])
        let exe = try ServeTests.built("blob_read")
        let results = Box([(status: Int32, stdout: String, stderr: String)?](repeating: nil, count: 16))
        let socket = d.socket, copy = d.dir + "/beta"
        DispatchQueue.concurrentPerform(iterations: 16) { i in
            let r = try? ServeTests.client([exe, "beta", copy, "4096", "16"], nil, socket: socket, timeout: 120)
            results.update { $0[i] = r }
        }
        for (i, r) in results.value.enumerated() {
            #expect(r?.status == 0 && r?.stdout.contains("1024 reads, 4194304 bytes, every byte matched") == true, "client \(i): \(String(describing: r))")
        }
        let out = d.stop()
        #expect(out.contains("summary: 16416 ioctls from 16 process(es), 16 open(s); results: 0=16416"), "\(out.suffix(800))")
    }

    @Test("serve.faults: EIO (short completions), ENODEV after a rescind, the timeout status, 503 ServerBusy, 404 BlobNotFound")
    func faults() throws {
        let exe = try ServeTests.built("blob_faults")
        let blobs = ["alpha": ServeTests.blob(5000, seed: 1)]
        do {
            let d = try Daemon(faults: "short-completion=1", blobs: blobs)
            let r = try ServeTests.client([exe, "loop", "3", "alpha"], d)
            #expect(r.stdout.components(separatedBy: "errno=EIO").count - 1 == 3, "\(r.stdout)")
            _ = d.stop()
        }
        do {
            let d = try Daemon(faults: "rescind=40", blobs: blobs)
            let r = try ServeTests.client([exe, "loop", "30", "alpha"], d)
            let ok = r.stdout.components(separatedBy: "errno=0 ").count - 1
            let gone = r.stdout.components(separatedBy: "errno=ENODEV").count - 1
            #expect(ok > 0 && gone > 0 && ok + gone == 30, "\(r.stdout)")
            // Nothing succeeds after the first ENODEV.
            if let first = r.stdout.range(of: "errno=ENODEV") { #expect(!r.stdout[first.upperBound...].contains("errno=0 "), "\(r.stdout)") }
            let out = d.stop()
            #expect(out.contains("host rescinds the channel"), "\(out.suffix(600))")
        }
        do {
            let d = try Daemon(faults: "service-ms=100-100", blobs: blobs)
            let late = try ServeTests.client([exe, "loop", "1", "alpha", "50"], d)
            #expect(late.stdout.contains("errno=0 status=0xc00000b5 http=500 code=OperationTimedOut"), "\(late.stdout)")
            let inTime = try ServeTests.client([exe, "loop", "1", "alpha", "200"], d)
            #expect(inTime.stdout.contains("errno=0 status=0x0 http=200 code="), "\(inTime.stdout)")
            _ = d.stop()
        }
        do {
            let d = try Daemon(faults: "server-busy=1", blobs: blobs)
            let r = try ServeTests.client([exe, "loop", "2", "alpha"], d)
            #expect(r.stdout.components(separatedBy: "http=503 code=ServerBusy").count - 1 == 2, "\(r.stdout)")
            let missing = try ServeTests.client([exe, "loop", "1", "nope"], d)
            #expect(missing.stdout.contains("http=503"), "\(missing.stdout)")
            _ = d.stop()
        }
        do {
            let d = try Daemon(blobs: blobs)
            let missing = try ServeTests.client([exe, "loop", "1", "nope"], d)
            #expect(missing.stdout.contains("errno=0 status=0x0 http=404 code=BlobNotFound"), "\(missing.stdout)")
            _ = d.stop()
        }
    }

    @Test("serve.memory: a read-only response buffer and an unmapped data buffer are EFAULT, also right after an ioctl that used them writable and mapped (nothing carried over); fork and dup share the open file")
    func memory() throws {
        let exe = try ServeTests.built("blob_faults")
        let d = try Daemon(blobs: ["alpha": ServeTests.blob(100, seed: 2)])
        let ro = try ServeTests.client([exe, "readonly-response", "alpha"], d)
        #expect(ro.status == 0 && ro.stdout.contains("errno=EFAULT"), "\(ro.stdout) \(ro.stderr)")
        let unmapped = try ServeTests.client([exe, "unmapped-data", "alpha"], d)
        #expect(unmapped.status == 0 && unmapped.stdout.contains("errno=EFAULT"), "\(unmapped.stdout) \(unmapped.stderr)")
        let forked = try ServeTests.client([exe, "fork", "alpha", "40"], d)
        #expect(forked.status == 0, "\(forked.stdout) \(forked.stderr)")
        #expect(forked.stdout.components(separatedBy: "errno=0 status=0x0 http=200").count - 1 == 80, "\(forked.stdout)")
        let again = try ServeTests.client([exe, "reprotect", "alpha"], d)
        #expect(again.status == 0 && again.stdout.contains("reprotect: 0 EFAULT 0 EFAULT 0"), "\(again.stdout) \(again.stderr)")
        let out = d.stop()
        #expect(out.contains("results: 0=83 EFAULT=4"), "\(out.suffix(600))")
    }

    @Test("serve.daemon-errors: no daemon is ENXIO with a line on stderr; a daemon killed mid-request is EIO, not a hang")
    func daemonErrors() throws {
        let exe = try ServeTests.built("blob_faults")
        let none = try ServeTests.client([exe, "loop", "1", "alpha"], nil, socket: "/tmp/hvblob-no-such-daemon.sock", timeout: 20)
        #expect(none.stdout.contains("open errno=ENXIO"), "\(none.stdout)")
        #expect(none.stderr.contains("no hvblob serve daemon at /tmp/hvblob-no-such-daemon.sock"), "\(none.stderr)")

        let d = try Daemon(faults: "never-complete=1", blobs: ["alpha": ServeTests.blob(100, seed: 3)])
        let killer = Thread {
            // The request reaches the daemon and waits for a completion that never comes.
            usleep(1_500_000)
            kill(d.process.processIdentifier, SIGKILL)
        }
        killer.start()
        let r = try ServeTests.client([exe, "loop", "1", "alpha"], d, timeout: 20)
        #expect(r.stdout.contains("errno=EIO"), "\(r.stdout)")
        #expect(r.stderr.contains("went away"), "\(r.stderr)")
        d.process.waitUntilExit()
        #expect(d.process.terminationReason == .uncaughtSignal)
    }

    @Test("serve.c-driver: the in-tree C driver behind the socket: the C example's bytes, EFAULT from a read-only response buffer")
    func cDriver() throws {
        let bytes = ServeTests.blob(70_000, seed: 5)
        let d = try Daemon(extra: ["--driver", repoRoot.appendingPathComponent("kernel/hv_azure_blob.c").path], blobs: ["gamma": bytes])
        #expect(d.output.contains("driver=") && d.output.contains("hv_azure_blob.c"), "\(d.output)")
        let c = try ServeTests.client([try ServeTests.built("blob_read"), "gamma", d.dir + "/gamma", "16384"], d)
        #expect(c.status == 0 && c.stdout.contains("gamma: 5 reads, 70000 bytes, every byte matched"), "\(c.stdout) \(c.stderr)")
        let ro = try ServeTests.client([try ServeTests.built("blob_faults"), "readonly-response", "gamma"], d)
        #expect(ro.status == 0 && ro.stdout.contains("errno=EFAULT"), "\(ro.stdout)")
        let out = d.stop()
        #expect(out.contains("results: 0=7 EFAULT=1"), "\(out.suffix(600))")
    }

    @Test("serve.blob-service: 412 after the blob changed, 416 past the end, 403 for a foreign or expired session, the transaction GUID as clientRequestId")
    func blobService() throws {
        var faults = BlobServiceFaults()
        faults.sessionTicks = 100
        var svc = BlobService(blobs: ["b": Array(repeating: 7, count: 10)], faults: faults, seed: 1)
        let buf = UnsafeMutableRawBufferPointer.allocate(byteCount: 64, alignment: 8)
        defer { buf.deallocate() }
        func call(_ json: String, now: UInt64 = 0, valid: Int = 0) throws -> JSONNode {
            let guid = GUID(0x1234_5678, 1, 2, [3, 4, 5, 6, 7, 8, 9, 10])
            let r = svc.execute(request: Array(json.utf8), data: GuestBuffer(local: buf, valid: valid),
                                context: BackendRequest(transaction: guid, timeoutMs: 1000, now: now))
            let node = try JSONParser.parse(r.response)
            #expect(node["clientRequestId"]?.string == guid.description)
            return node
        }
        let open = try call(#"{"operation":"open","path":"b"}"#)
        let h = try #require(open["fastpathFileHandle"]?.string), t = try #require(open["fastpathSessionToken"]?.string)
        func read(_ pos: Int, token: String? = nil, now: UInt64 = 0) throws -> JSONNode {
            try call(#"{"operation":"read","fastpathFileHandle":"\#(h)","fastpathSessionToken":"\#(token ?? t)","storeFilePosition":\#(pos),"bufferOffset":0,"readLength":4}"#, now: now)
        }
        #expect(try read(0)["status"]?.int == 206)
        #expect(try read(8)["bytesRead"]?.int == 2)
        #expect(try read(10)["errorCode"]?.string == "InvalidRange")
        #expect(try read(0, token: "feed")["errorCode"]?.string == "AuthorizationFailure")
        #expect(try read(0, now: 101)["errorCode"]?.string == "AuthenticationFailed")
        let w = try call(#"{"operation":"write","path":"b","position":10}"#, valid: 3)
        #expect(w["status"]?.int == 201 && w["contentLength"]?.int == 13)
        #expect(w["eTag"]?.string != open["eTag"]?.string)
        let stale = try read(0)
        #expect(stale["status"]?.int == 412 && stale["errorCode"]?.string == "ConditionNotMet")
        #expect(try call(#"{"operation":"getProperties","path":"zz"}"#)["errorCode"]?.string == "BlobNotFound")
        #expect(try call("not json")["status"]?.int == 400)
    }

    /// A FUSE mount can be tried: root (the mount needs CAP_SYS_ADMIN, or fusermount3),
    /// /dev/fuse, libfuse3's header for the helper, and a static libc for the client.
    static let fuseUsable: Bool = getuid() == 0 && access("/dev/fuse", R_OK | W_OK) == 0
        && FileManager.default.fileExists(atPath: "/usr/include/fuse3/fuse_lowlevel.h")
        && runningStaticLibc

    static var runningStaticLibc: Bool {
        ["/usr/lib/x86_64-linux-gnu/libc.a", "/usr/lib/aarch64-linux-gnu/libc.a", "/usr/lib/libc.a"].contains { FileManager.default.fileExists(atPath: $0) }
    }

    /// Whether a mount is at `path` (in this process's mount namespace).
    static func mounted(_ path: String) -> Bool {
        let table = (try? String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8)) ?? ""
        return table.split(separator: "\n").contains { $0.split(separator: " ").dropFirst(4).first.map(String.init) == path }
    }

    @Test("serve.fuse: statically linked clients (cc -static, no preload) through the FUSE file: bytes checked, EFAULT, fork; a killed daemon is EIO and the mount goes",
          .enabled(if: ServeTests.fuseUsable, "needs root, /dev/fuse, libfuse3-dev and a static libc"))
    func fuse() throws {
        let bytes = ServeTests.blob(70_001, seed: 9)
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("hvblob-fuse-\(UUID().uuidString)").path
        let reader = try ServeTests.built("blob_read", static: true), faults = try ServeTests.built("blob_faults", static: true)
        do {
            let d = try Daemon(extra: ["--fuse", base], blobs: ["delta": bytes])
            try #require(d.output.contains("fuse: \(base) "), "\(d.output)")
            #expect(ServeTests.mounted(base), "no mount at \(base)")
            let c = try ServeTests.client([reader, "delta", d.dir + "/delta", "16384", "2"], d, device: base)
            #expect(c.status == 0 && c.stdout.contains("delta: 10 reads, 140002 bytes, every byte matched"), "\(c.stdout) \(c.stderr)")
            let ro = try ServeTests.client([faults, "readonly-response", "delta"], d, device: base)
            #expect(ro.status == 0 && ro.stdout.contains("errno=EFAULT"), "\(ro.stdout) \(ro.stderr)")
            let forked = try ServeTests.client([faults, "fork", "delta", "5"], d, device: base)
            #expect(forked.status == 0 && forked.stdout.components(separatedBy: "errno=0 status=0x0 http=200").count - 1 == 10, "\(forked.stdout) \(forked.stderr)")
            let out = d.stop()
            // open + 10 reads + close; the read-only response; 5 + 5 getProperties from parent and child.
            #expect(out.contains("summary: 23 ioctls from 4 process(es), 3 open(s); results: 0=22 EFAULT=1"), "\(out.suffix(600))")
            #expect(!ServeTests.mounted(base) && !FileManager.default.fileExists(atPath: base), "the mount at \(base) outlived the daemon")
        }
        do {
            let d = try Daemon(faults: "never-complete=1", extra: ["--fuse", base], blobs: ["delta": bytes])
            let killer = Thread {
                usleep(1_500_000)
                kill(d.process.processIdentifier, SIGKILL)
            }
            killer.start()
            let r = try ServeTests.client([faults, "loop", "1", "delta"], d, timeout: 20, device: base)
            #expect(r.stdout.contains("errno=EIO"), "\(r.stdout) \(r.stderr)")
            d.process.waitUntilExit()
            #expect(d.process.terminationReason == .uncaughtSignal)
            // The helper unmounts when the daemon's end of its stdin closes.
            for _ in 0..<200 where ServeTests.mounted(base) { usleep(10_000) }
            #expect(!ServeTests.mounted(base), "the mount at \(base) outlived a killed daemon")
            unlink(base)
        }
    }

    @Test("serve.backend-choice: simulate and verify --backend blob: the Blob service answers the clients (JSON), bytes checked; the store does not")
    func backendChoice() throws {
        let blob = try runProcess([ServeTests.binary, "simulate", "--backend", "blob", "--clients", "2", "--requests", "8", "--sizes", "4096,70000", "--seed", "5"])
        #expect(blob.status == 0, "\(blob.output)")
        // Per client: write, open, read twice, a third write, getProperties at the end: 3 x 201, 3 x 200, 2 x 206.
        #expect(blob.output.contains("backend=blob"), "\(blob.output)")
        #expect(blob.output.contains("blob service: 200=6 201=6 206=4"), "\(blob.output)")
        #expect(blob.output.contains("4 reads verified"), "\(blob.output)")
        // The same run against the store: the store's line protocol, no Blob service.
        let store = try runProcess([ServeTests.binary, "simulate", "--clients", "2", "--requests", "8", "--sizes", "4096,70000", "--seed", "5"])
        #expect(store.status == 0 && !store.output.contains("blob service") && !store.output.contains("backend=blob"), "\(store.output)")
        // --blobs: each client first reads one of the directory's blobs back.
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("hvblob-backend-\(getpid())").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try Data(ServeTests.blob(5000, seed: 9)).write(to: URL(fileURLWithPath: dir + "/given"))
        let given = try runProcess([ServeTests.binary, "simulate", "--backend", "blob", "--blobs", dir, "--clients", "1", "--requests", "2"])
        #expect(given.status == 0 && given.output.contains("blob service: 200=1 206=1") && given.output.contains("1 reads verified"), "\(given.output)")
        // verify: the fault and lifecycle checks' clients speak to the Blob service.
        let v = try runProcess([ServeTests.binary, "verify", "--model", "--backend", "blob", "--only", "lifecycle.unload,fault.error-status", "--no-explore"])
        #expect(v.status == 0, "\(v.output)")
        #expect(v.output.range(of: #"blob service \(the clients of 2 fault/lifecycle simulation\(s\)\): 200=\d+ 201=\d+ 206=\d+"#, options: .regularExpression) != nil, "\(v.output)")
    }

    @Test("serve.bad-input: a fault the daemon does not know is exit 2 naming it and where")
    func badInput() throws {
        let r = try runProcess([ServeTests.binary, "serve", "--faults", "server-busy=0.1,nonsense=1", "--socket", "/tmp/hvblob-bad.sock"])
        #expect(r.status == 2)
        #expect(r.output.contains("--faults at character 16: unknown fault 'nonsense'"), "\(r.output)")
    }
}

/// A value shared between threads, behind a lock.
final class Box<T>: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: T
    init(_ v: T) { stored = v }
    var value: T { lock.withLock { stored } }
    func set(_ v: T) { lock.withLock { stored = v } }
    func update(_ f: (inout T) -> Void) { lock.withLock { f(&stored) } }
}
