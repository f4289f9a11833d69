// SPDX-License-Identifier: Apache-2.0
import ArgumentParser
import Foundation
import HVBlob
import HVBlobBridge

#if canImport(Glibc)
import Glibc
#endif

/// `hvblob bench`'s rows for the out-of-process host interface: round trips against the C
/// reference host and against `hvblob host --attach`, each beside the in-process host.
enum BenchHost {
    static func rows(count: Int) throws -> [HVBlob.Bench.Figure] {
        var out: [HVBlob.Bench.Figure] = []
        let me = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().path
        let cHost = NSTemporaryDirectory() + "/hvblob-bench-host-\(getpid())"
        let src = DriverBuild.repositoryRoot.appendingPathComponent("Examples/host-c/hvblob_host.c").path
        let cc = Process()
        cc.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        let path = (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":")
        let compiler = ["clang", "cc", "gcc"].first { n in path.contains { FileManager.default.isExecutableFile(atPath: "\($0)/\(n)") } } ?? "cc"
        cc.arguments = [compiler, "-O2", "-o", cHost, src]
        try cc.run()
        cc.waitUntilExit()
        defer { unlink(cHost) }
        var hosts: [(String, [String])] = []
        if cc.terminationStatus == 0 { hosts.append(("the C reference host", [cHost])) }
        hosts.append(("hvblob host --attach", [me, "host", "--attach"]))
        for (label, argv) in hosts {
            let path = NSTemporaryDirectory() + "/hvblob-bench-\(getpid()).sock"
            let listener = try ControlSocket.listen(path: path)
            defer { unlink(path) }
            let p = Process()
            p.executableURL = URL(fileURLWithPath: argv[0])
            p.arguments = Array(argv.dropFirst()) + [path]
            try p.run()
            let session = try ExternalHostSession.accept(listener, timeoutMs: 10_000, memoryDirectory: HostTarget.memoryDirectory)
            session.frameCount = 1 << 14
            defer {
                shutdown(session.socket.fd, Int32(SHUT_RDWR))
                p.waitUntilExit()
            }
            out.append(try HVBlob.Bench.outOfProcessRoundTrips(count: count, session: session, label: label))
        }
        return out
    }
}

/// `hvblob bench-host`: the out-of-process rows on their own (bench's owner adds
/// `BenchHost.rows` to `hvblob bench`'s figures).
struct BenchHostCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-host",
        abstract: "Round trips/s against out-of-process hosts (the C reference host, hvblob host --attach), each beside the in-process host in the same run.",
        discussion: "Build with -c release for figures worth quoting: swift run -c release hvblob bench-host"
    )
    @Option(help: "Round trips to time per host (4 KiB).")
    var roundTrips: Int = 2_000

    func run() throws {
        if roundTrips < 10 { fail("--round-trips: \(roundTrips) is below 10") }
        do {
            for f in try BenchHost.rows(count: roundTrips) { Out.standardOutput.write("\(f)\n") }
        } catch {
            Out.standardError.write("hvblob: \(error)\n")
            throw ExitCode(1)
        }
    }
}
