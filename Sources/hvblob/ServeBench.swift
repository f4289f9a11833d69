// SPDX-License-Identifier: Apache-2.0
import Foundation
import HVBlob
import HVBlobBridge

#if canImport(Glibc)
import Glibc
#endif

/// `hvblob bench`'s rows for the preload path: 4 KiB reads through /dev/azure_blob served by
/// `hvblob serve` (this binary), 1 client and 16, beside plain ioctls on /dev/null in the same
/// run. The client is Examples/blob_bench.c, built with cc.
enum ServeBench {
    struct Row: CustomStringConvertible {
        let label: String
        let clients: Int
        let perSecond: Double
        let baseline: Double
        var description: String {
            "ioctls/s through \(label): \(String(format: "%.1f", perSecond)) /s | baseline a plain ioctl on /dev/null: \(String(format: "%.1f", baseline)) /s | ratio \(String(format: "%.5f", perSecond / baseline)) | goal >= 100,000/s for one client"
        }
    }

    /// The daemon's own account of the preload rows (its summary's `caller memory:` line): per
    /// ioctl, the microseconds spent in process_vm_readv/writev and PROCMAP_QUERY, and its CPU.
    struct CallerMemory {
        let inCalls: Double
        let cpu: Double
        let line: String
    }

    static func run(requests: Int, progress: (String) -> Void = { _ in }) throws -> (rows: [Row], memory: CallerMemory?) {
        let root = DriverBuild.repositoryRoot
        let exe = "/tmp/hvblob-blob-bench-\(getpid())"
        defer { unlink(exe) }
        guard try status(["cc", "-O2", "-o", exe, root.appendingPathComponent("Examples/blob_bench.c").path]) == 0 else {
            throw InputError("bench: cc could not build Examples/blob_bench.c")
        }
        let socket = "/tmp/hvblob-bench-\(getpid()).sock"
        let fuse = "/tmp/hvblob-bench-\(getpid()).dev"
        let summary = "/tmp/hvblob-bench-\(getpid()).out"
        defer { unlink(summary) }
        let preload = Serve.preloadPath()
        let null = try timed([exe, "null", "\(requests * 10)"], env: [:]).first!
        var rows: [Row] = []
        // The preload rows on a daemon of their own, whose summary says where its time went.
        let daemon = try start(socket: socket, fuse: nil, output: summary)
        for clients in [1, 16] {
            let each = clients == 1 ? requests : max(1, requests / 4)
            let start = Date()
            _ = try timed(Array(repeating: [exe, "device", "\(each)", "blob-0"], count: clients).flatMap { $0 }, env: ["LD_PRELOAD": preload, "HVBLOB_SOCKET": socket], parallel: clients, argc: 4)
            let wall = Date().timeIntervalSince(start)
            rows.append(Row(label: "the preload path (hvblob serve, 4 KiB reads, \(clients) client\(clients == 1 ? "" : "s"))", clients: clients, perSecond: Double(each * clients) / wall, baseline: null))
        }
        daemon.terminate()
        daemon.waitUntilExit()
        var memory: CallerMemory?
        let text = (try? String(contentsOfFile: summary, encoding: .utf8)) ?? ""
        if let line = text.split(separator: "\n").first(where: { $0.hasPrefix("caller memory:") }) {
            // "... ; X us in them of Y us daemon CPU (...)"
            let words = line.split(separator: " ")
            if let i = words.firstIndex(of: "in"), i > 1, let x = Double(words[i - 2]),
               let j = words.firstIndex(of: "daemon"), j > 1, let y = Double(words[j - 2]) {
                memory = CallerMemory(inCalls: x, cpu: y, line: String(line))
            }
        }
        // The FUSE file too where it can be mounted (root, /dev/fuse).
        if getuid() == 0 && access("/dev/fuse", R_OK | W_OK) == 0 {
            let d = try start(socket: socket, fuse: fuse)
            defer { d.terminate(); d.waitUntilExit() }
            if !d.isRunning {
                progress("no FUSE row: hvblob serve --fuse \(fuse) exited with status \(d.terminationStatus)")
            } else {
                // The same client without the preload, through the FUSE file.
                let each = max(1, requests / 4)
                let start = Date()
                _ = try timed([exe, "device", "\(each)", "blob-0"], env: ["HVBLOB_DEVICE": fuse, "LD_PRELOAD": ""], argc: 4)
                rows.append(Row(label: "the FUSE file (hvblob serve --fuse, 4 KiB reads, 1 client, no preload)", clients: 0,
                                perSecond: Double(each) / Date().timeIntervalSince(start), baseline: null))
            }
        }
        return (rows, memory)
    }

    /// `hvblob serve` (this binary) on `socket`, once it listens or has exited.
    static func start(socket: String, fuse: String?, output: String? = nil) throws -> Process {
        let daemon = Process()
        daemon.executableURL = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        daemon.arguments = ["serve", "--socket", socket] + (fuse.map { ["--fuse", $0] } ?? [])
        if let output, FileManager.default.createFile(atPath: output, contents: nil), let h = FileHandle(forWritingAtPath: output) {
            daemon.standardOutput = h
        } else {
            daemon.standardOutput = FileHandle.nullDevice
        }
        try daemon.run()
        for _ in 0..<500 where !FileManager.default.fileExists(atPath: socket) && daemon.isRunning { usleep(10_000) }
        // --fuse: the socket exists before the mount does; the mount is there when the file's
        // device differs from its directory's.
        if let f = fuse {
            for _ in 0..<500 where daemon.isRunning {
                var a = stat(), b = stat()
                if stat(f, &a) == 0, stat("/tmp", &b) == 0, a.st_dev != b.st_dev { break }
                usleep(10_000)
            }
        }
        return daemon
    }

    static func status(_ argv: [String]) throws -> Int32 {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = argv
        try p.run()
        p.waitUntilExit()
        return p.terminationStatus
    }

    /// Runs `parallel` copies (argv split every `argc` words); returns each one's ioctls/s.
    static func timed(_ argv: [String], env: [String: String], parallel: Int = 1, argc: Int = 3) throws -> [Double] {
        var procs: [(Process, Pipe)] = []
        for i in 0..<parallel {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            p.arguments = Array(argv[(i * argc)..<((i + 1) * argc)])
            var e = ProcessInfo.processInfo.environment
            for (k, v) in env { e[k] = v }
            p.environment = e
            let pipe = Pipe()
            p.standardOutput = pipe
            try p.run()
            procs.append((p, pipe))
        }
        var out: [Double] = []
        for (p, pipe) in procs {
            let text = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            p.waitUntilExit()
            guard p.terminationStatus == 0,
                  let n = text.split(separator: " ").first.flatMap({ Double($0.dropFirst(7)) }),
                  let s = text.split(separator: " ").last.flatMap({ Double($0.dropFirst(8).trimmingCharacters(in: .whitespacesAndNewlines)) }), s > 0 else {
                throw InputError("bench: the preload client failed (status \(p.terminationStatus)): \(text)")
            }
            out.append(n / s)
        }
        return out
    }
}
