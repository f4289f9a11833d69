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
            "ioctls/s through the preload path (hvblob serve, \(label)): \(String(format: "%.1f", perSecond)) /s | baseline a plain ioctl on /dev/null: \(String(format: "%.1f", baseline)) /s | ratio \(String(format: "%.5f", perSecond / baseline)) | goal >= 100,000/s for one client"
        }
    }

    static func run(requests: Int) throws -> [Row] {
        let root = DriverBuild.repositoryRoot
        let exe = "/tmp/hvblob-blob-bench-\(getpid())"
        defer { unlink(exe) }
        guard try status(["cc", "-O2", "-o", exe, root.appendingPathComponent("Examples/blob_bench.c").path]) == 0 else {
            throw InputError("bench: cc could not build Examples/blob_bench.c")
        }
        let socket = "/tmp/hvblob-bench-\(getpid()).sock"
        let daemon = Process()
        daemon.executableURL = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        daemon.arguments = ["serve", "--socket", socket]
        daemon.standardOutput = FileHandle.nullDevice
        try daemon.run()
        defer { daemon.terminate(); daemon.waitUntilExit() }
        for _ in 0..<500 where !FileManager.default.fileExists(atPath: socket) { usleep(10_000) }
        let preload = Serve.preloadPath()
        let null = try timed([exe, "null", "\(requests * 10)"], env: [:]).first!
        var rows: [Row] = []
        for clients in [1, 16] {
            let each = clients == 1 ? requests : max(1, requests / 4)
            let start = Date()
            _ = try timed(Array(repeating: [exe, "device", "\(each)", "blob-0"], count: clients).flatMap { $0 }, env: ["LD_PRELOAD": preload, "HVBLOB_SOCKET": socket], parallel: clients, argc: 4)
            let wall = Date().timeIntervalSince(start)
            rows.append(Row(label: "4 KiB reads, \(clients) client\(clients == 1 ? "" : "s")", clients: clients, perSecond: Double(each * clients) / wall, baseline: null))
        }
        return rows
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
