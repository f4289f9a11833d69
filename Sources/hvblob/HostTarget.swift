// SPDX-License-Identifier: Apache-2.0
import ArgumentParser
import Foundation
import HVBlob

#if canImport(Glibc)
import Glibc
#endif

/// Where the out-of-process host (VSP) is: hvblob listens on a control socket and the host
/// connects (Docs/host-interface.md).
struct HostTarget: ParsableArguments {
    @Option(name: .customLong("host-socket"), help: "Listen on this Unix socket (SOCK_SEQPACKET) and wait for a host to connect (e.g. 'hvblob host --attach PATH').")
    var hostSocket: String?
    @Option(name: .customLong("host-exec"), help: "Start this host command with the socket path: '{}' in it is replaced by the path, else the path is appended (also in $HVBLOB_HOST_SOCKET). A command starting with 'hvblob' runs this hvblob.")
    var hostExec: String?
    @Option(name: .customLong("host-timeout-ms"), help: "How long to wait for the host to connect and to answer each message.")
    var hostTimeoutMs: Int32 = 10_000

    var given: Bool { hostSocket != nil || hostExec != nil }

    /// A connected host and, for --host-exec, its process.
    final class Connected {
        let session: ExternalHostSession
        let process: Process?
        let listener: ControlSocket
        let socketPath: String
        init(session: ExternalHostSession, process: Process?, listener: ControlSocket, socketPath: String) {
            self.session = session
            self.process = process
            self.listener = listener
            self.socketPath = socketPath
        }

        /// Detaches, closes the socket and waits for the host process (ended after 5 s).
        func finish() -> Int32? {
            session.detach()
            unlink(socketPath)
            guard let p = process else { return nil }
            shutdown(session.socket.fd, Int32(SHUT_RDWR))
            let deadline = Date().addingTimeInterval(5)
            while p.isRunning && Date() < deadline { usleep(10_000) }
            if p.isRunning { p.terminate(); p.waitUntilExit() }
            return p.terminationStatus
        }
    }

    static var memoryDirectory: String {
        var st = stat()
        return stat("/dev/shm", &st) == 0 ? "/dev/shm" : (ProcessInfo.processInfo.environment["TMPDIR"] ?? "/tmp")
    }

    /// Listens, starts the host if asked, accepts it and reads its OFFER; exit 2 with the reason.
    func connect() -> Connected {
        switch tryConnect() {
        case .success(let c): return c
        case .failure(let e): fail(e.what)
        }
    }

    /// The same, with the reason as a value (verify-host connects once per scenario).
    func tryConnect() -> Result<Connected, ControlSocket.Failure> {
        if hostSocket != nil && hostExec != nil { fail("--host-socket and --host-exec exclude each other: give the host one way") }
        guard hostTimeoutMs > 0 else { fail("--host-timeout-ms: \(hostTimeoutMs) is not a positive number of milliseconds") }
        HostTarget.connections += 1
        let path = hostSocket ?? "\(NSTemporaryDirectory())/hvblob-host-\(getpid())-\(HostTarget.connections).sock"
        let listener: ControlSocket
        do { listener = try ControlSocket.listen(path: path) } catch { fail("\(hostSocket != nil ? "--host-socket" : "--host-exec"): \(error)") }
        var process: Process?
        if var cmd = hostExec {
            // "hvblob ..." is this hvblob (a host command from README samples and scripts).
            if cmd == "hvblob" || cmd.hasPrefix("hvblob ") {
                let me = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().path
                cmd = "'\(me)'" + cmd.dropFirst("hvblob".count)
            }
            let line = cmd.contains("{}") ? cmd.replacingOccurrences(of: "{}", with: "'\(path)'") : "\(cmd) '\(path)'"
            let p = Process()
            p.executableURL = URL(fileURLWithPath: "/bin/sh")
            p.arguments = ["-c", line]
            var env = ProcessInfo.processInfo.environment
            env["HVBLOB_HOST_SOCKET"] = path
            p.environment = env
            do { try p.run() } catch { return .failure(ControlSocket.Failure("--host-exec: cannot start '\(cmd)': \(error)")) }
            process = p
        } else {
            Out.standardError.write("waiting for a host at \(path) (hvblob host --attach \(path))\n")
        }
        do {
            let s = try ExternalHostSession.accept(listener, timeoutMs: hostSocket != nil ? max(hostTimeoutMs, 60_000) : hostTimeoutMs,
                                                   memoryDirectory: HostTarget.memoryDirectory)
            s.timeoutMs = hostTimeoutMs
            return .success(Connected(session: s, process: process, listener: listener, socketPath: path))
        } catch {
            process?.terminate()
            unlink(path)
            return .failure(ControlSocket.Failure("\(hostExec.map { "--host-exec '\($0)'" } ?? "--host-socket \(path)"): \(error)"))
        }
    }

    nonisolated(unsafe) static var connections = 0
}
