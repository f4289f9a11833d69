// SPDX-License-Identifier: Apache-2.0
import Foundation
import HVBlob
import HVBlobBridge
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The out-of-process host interface (Docs/host-interface.md): the guest's side runs here, the
/// host runs as its own process — `hvblob host --attach` or the C reference host in
/// Examples/host-c — over the shared memory file and the control socket.
@Suite("host interface", .serialized)
struct HostInterfaceTests {
    static var repo: URL { DriverBuild.repositoryRoot }

    /// Builds Examples/host-c/hvblob_host.c (with extra -D flags for the broken copies).
    static func buildCHost(_ defines: [String] = []) throws -> String {
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("hvblob_host-\(getpid())-\(defines.joined(separator: "_")).bin").path
        let src = repo.appendingPathComponent("Examples/host-c/hvblob_host.c").path
        let r = try runProcess([cCompiler, "-O1", "-Wall", "-Wextra", "-Werror", "-o", out, src] + defines.map { "-D" + $0 })
        try #require(r.status == 0, "the reference host does not build: \(r.output)")
        return out
    }

    /// Listens on a fresh socket, starts `argv + [socket]`, and runs `body` with every machine
    /// created meanwhile attached to that host.
    static func withHost<T>(_ argv: [String], _ body: (ExternalHostSession) throws -> T) throws -> T {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("hvb-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).sock").path
        let listener = try ControlSocket.listen(path: path)
        defer { unlink(path) }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: argv[0])
        p.arguments = Array(argv.dropFirst()) + [path]
        try p.run()
        let session = try ExternalHostSession.accept(listener, timeoutMs: 30_000, memoryDirectory: FileManager.default.temporaryDirectory.path)
        session.frameCount = 1 << 16
        defer {
            session.detach()
            shutdown(session.socket.fd, Int32(SHUT_RDWR))
            p.waitUntilExit()
        }
        return try ExternalHostSession.$current.withValue(session) { try body(session) }
    }

    static var hvblob: String { CLITests.binary }

    /// The first of clang (the Swift toolchain has one), cc and gcc on PATH.
    static var cCompiler: String {
        let path = (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":")
        for name in ["clang", "cc", "gcc"] {
            if path.contains(where: { FileManager.default.isExecutableFile(atPath: "\($0)/\(name)") }) { return name }
        }
        return "cc"
    }

    func config(seed: UInt64, clients: Int = 3, requests: Int = 12) -> SimulationConfig {
        var c = SimulationConfig()
        c.seed = seed
        c.clients = clients
        c.requestsPerClient = requests
        c.sizes = [4096, 65536]
        return c
    }

    /// What two runs must share to be "the same run" for a client: ioctl results and data.
    func sameResults(_ a: SimulationReport, _ b: SimulationReport) {
        #expect(a.requestsIssued == b.requestsIssued && a.requestsReturned == b.requestsReturned)
        #expect(a.results == b.results)
        #expect(a.dataBytesUp == b.dataBytesUp && a.dataBytesDown == b.dataBytesDown)
        #expect(a.blobsVerified == b.blobsVerified)
        #expect(a.counts == b.counts)
        #expect(a.removeFinished == b.removeFinished)
    }

    @Test("host.attach.same-run: hvblob host --attach gives the in-process run, trace digest and all, per seed")
    func attachSameRun() throws {
        try #require(FileManager.default.isExecutableFile(atPath: Self.hvblob), "no hvblob binary at \(Self.hvblob): run swift build first")
        for seed: UInt64 in [1, 0x5eed, 77] {
            let inProcess = Simulation(config(seed: seed)).run()
            let outOfProcess = try Self.withHost([Self.hvblob, "host", "--attach"]) { s in
                let r = Simulation(config(seed: seed)).run()
                #expect(s.sent[.run, default: 0] > 0, "the host never ran in virtual time (no TIMER/RUN)")
                return r
            }
            #expect(inProcess.requestsReturned == 36 && inProcess.clean, "seed \(seed): the in-process run itself: \(inProcess.render())")
            sameResults(inProcess, outOfProcess)
            #expect(inProcess.traceDigest == outOfProcess.traceDigest, "seed \(seed): trace digests differ")
            #expect(inProcess.events == outOfProcess.events && inProcess.virtualTime == outOfProcess.virtualTime, "seed \(seed)")
        }
    }

    @Test("host.attach.same-findings: the host's faults and its checks of the guest reach the guest as in process")
    func attachSameFindings() throws {
        // The v5 model lets an oversized response_len through; the host's error-status and
        // oversized-response-len faults are drawn from the same seed on both sides.
        let spec = "oversized-response-len=0.3,error-status=0.2"
        var c = config(seed: 9)
        c.behavior = .v5
        c.version = KernelVersion(5, 13)
        var inCfg = c
        inCfg.faults = try FaultPlan(spec: spec)
        let inProcess = Simulation(inCfg).run()
        let outOfProcess = try Self.withHost([Self.hvblob, "host", "--faults", spec, "--attach"]) { _ in Simulation(c).run() }
        #expect(inProcess.counts["guest.response-len-unbounded", default: 0] > 0, "the fault never fired: \(inProcess.render())")
        #expect(inProcess.results == outOfProcess.results)
        #expect(inProcess.hostErrorStatus == outOfProcess.hostErrorStatus && inProcess.hostErrorStatus > 0)
        // Every rule both ways; the pin rule is counted per write call in process and per
        // changed page out of process (the guest sees the page change, not the call).
        #expect(inProcess.rules == outOfProcess.rules)
        for (rule, n) in inProcess.counts where rule != "pin.host-write-without-write-intent" {
            #expect(outOfProcess.counts[rule] == n, "\(rule)")
        }
    }

    @Test("host.attach.rescind: a rescind from the control plane gives the same ioctl results")
    func attachRescind() throws {
        var c = config(seed: 3, clients: 4, requests: 20)
        c.faults = try FaultPlan(spec: "rescind=30")
        let inProcess = Simulation(c).run()
        let outOfProcess = try Self.withHost([Self.hvblob, "host", "--attach"]) { s in
            let r = Simulation(c).run()
            #expect(s.sent[.rescind, default: 0] == 1 && s.sent[.close, default: 0] == 1)
            return r
        }
        #expect(inProcess.results[.ENODEV, default: 0] > 0, "no request was in flight at the rescind: \(inProcess.render())")
        sameResults(inProcess, outOfProcess)
        #expect(inProcess.traceDigest == outOfProcess.traceDigest)
    }

    @Test("host.c.model: the C reference host serves the model: same results and data as the in-process host")
    func cHostModel() throws {
        let host = try Self.buildCHost()
        let inProcess = Simulation(config(seed: 5)).run()
        let external = try Self.withHost([host]) { s in
            let r = Simulation(config(seed: 5)).run()
            #expect(s.offer.name == "hvblob_host.c" && s.failure == nil)
            #expect(s.monitor.completionsSeen == 36, "completions seen in the host->guest ring")
            return r
        }
        #expect(external.clean, "\(external.render())")
        sameResults(inProcess, external)
    }

    @Test("host.c.driver: the C reference host serves the in-tree C driver (through the bridge, in a hvblob process)")
    func cHostDriver() throws {
        // The bridge keeps process-wide state (one bridged driver per process, and BridgeTests
        // use it in this one): both runs go through the hvblob binary.
        try #require(FileManager.default.isExecutableFile(atPath: Self.hvblob), "no hvblob binary at \(Self.hvblob): run swift build first")
        let host = try Self.buildCHost()
        let workload = ["--seed", "6", "--clients", "3", "--requests", "12", "--sizes", "4096,65536"]
        let inProcess = try runProcess([Self.hvblob, "simulate", "--c-driver", DriverBuild.inTreeDriver.path, "--quiet"] + workload)
        let external = try runProcess([Self.hvblob, "guest", "--driver", DriverBuild.inTreeDriver.path, "--host-exec", host] + workload)
        #expect(inProcess.status == 0 && external.status == 0, "\(inProcess.output)\n\(external.output)")
        func lines(_ out: String) -> [String] {
            out.split(separator: "\n").filter { l in ["requests:", "results:", "data:", "lifecycle:", "verdict:"].contains { l.hasPrefix($0) } }.map(String.init)
        }
        #expect(lines(external.output).count == 5 && lines(external.output) == lines(inProcess.output), "\(inProcess.output)\n\(external.output)")
        #expect(external.output.contains("results: 0=36") && external.output.contains("host=hvblob_host.c"), "\(external.output)")
    }

    // MARK: verify-host

    /// Runs `hvblob verify-host` against `host` and returns (status, output, rule -> verdict).
    func verifyHost(_ host: String, _ extra: [String] = []) throws -> (status: Int32, output: String, verdicts: [String: String]) {
        try #require(FileManager.default.isExecutableFile(atPath: Self.hvblob), "no hvblob binary at \(Self.hvblob): run swift build first")
        let r = try runProcess([Self.hvblob, "verify-host", "--host-exec", host] + extra)
        var verdicts: [String: String] = [:]
        for line in r.output.split(separator: "\n") {
            let words = line.split(separator: " ", omittingEmptySubsequences: true)
            if words.count >= 3, ["PASS", "FAIL", "INCONCLUSIVE"].contains(words[0]) { verdicts[String(words[2])] = String(words[0]) }
        }
        return (r.status, r.output, verdicts)
    }

    @Test("verify-host.conforms: the C reference host passes every rule with evidence, 0 findings")
    func referenceConforms() throws {
        let host = try Self.buildCHost()
        let r = try verifyHost(host)
        #expect(r.status == 0, "\(r.output)")
        #expect(r.verdicts.count == HostConformance.rules.count && r.verdicts.values.allSatisfy { $0 == "PASS" }, "\(r.output)")
        #expect(r.output.contains("verdict: conforms"))
    }

    @Test("verify-host.conforms: hvblob host --attach passes every rule with evidence, 0 findings")
    func attachConforms() throws {
        let r = try verifyHost("\(Self.hvblob) host --attach")
        #expect(r.status == 0, "\(r.output)")
        #expect(r.verdicts.count == HostConformance.rules.count && r.verdicts.values.allSatisfy { $0 == "PASS" }, "\(r.output)")
    }

    @Test("verify-host.write.request-buffer: a copy of the reference host that writes the request buffer fails that rule")
    func brokenWritesRequest() throws {
        let host = try Self.buildCHost(["BROKEN_WRITES_REQUEST"])
        let r = try verifyHost(host, ["--only", "workload"])
        #expect(r.status == 1)
        #expect(r.verdicts["vsp.write.request-buffer"] == "FAIL", "\(r.output)")
        // Nothing else is blamed on it: completions and the other writes are right.
        #expect(r.verdicts["vsp.completion.exactly-once"] == "PASS" && r.verdicts["vsp.write.outside-buffers"] == "PASS", "\(r.output)")
        #expect(r.output.contains("reproduce: hvblob verify-host --host-exec '\(host)' --seed 1 --only workload"))
    }

    @Test("verify-host.completion.exactly-once: a copy of the reference host that completes twice fails that rule")
    func brokenCompletesTwice() throws {
        let host = try Self.buildCHost(["BROKEN_COMPLETES_TWICE"])
        let r = try verifyHost(host, ["--only", "workload,load-1024"])
        #expect(r.status == 1)
        #expect(r.verdicts["vsp.completion.exactly-once"] == "FAIL", "\(r.output)")
        #expect(r.output.contains("completed a second time"))
        #expect(r.verdicts["vsp.write.request-buffer"] == "PASS" && r.verdicts["vsp.completion.type"] == "PASS", "\(r.output)")
    }

    @Test("verify-host.bad-input: an unknown hostile packet or scenario is named, exit 2")
    func verifyHostBadInput() throws {
        let r = try runProcess([Self.hvblob, "verify-host", "--host-exec", "true", "--guest-faults", "rangecount-0,bogus"])
        #expect(r.status == 2 && r.output.contains("character 13") && r.output.contains("'bogus'"), "\(r.output)")
        let o = try runProcess([Self.hvblob, "verify-host", "--host-exec", "true", "--only", "nothing"])
        #expect(o.status == 2 && o.output.contains("nothing"), "\(o.output)")
        let g = try runProcess([Self.hvblob, "guest", "--model", "--host-exec", "true", "--faults", "drop=0.1"])
        #expect(g.status == 2 && g.output.contains("only rescind=T"), "\(g.output)")
    }

    // MARK: fuzz-host

    @Test("fuzz-host: mutated packets against the reference host stay clean; a broken copy is caught and replays by its case seed")
    func fuzzHost() throws {
        let good = try Self.buildCHost()
        let r = try runProcess([Self.hvblob, "fuzz-host", "--host-exec", good, "--runs", "25", "--seed", "5"])
        #expect(r.status == 0 && r.output.contains("verdict: 25 case(s): clean 25, crash 0, hang 0, rule 0"), "\(r.output)")
        let bad = try Self.buildCHost(["BROKEN_COMPLETES_TWICE"])
        let b = try runProcess([Self.hvblob, "fuzz-host", "--host-exec", bad, "--runs", "3", "--seed", "5"])
        #expect(b.status == 1 && b.output.contains("rule broken: vsp.completion.exactly-once"), "\(b.output)")
        let line = try #require(b.output.split(separator: "\n").first { $0.contains("reproduce: hvblob fuzz-host") })
        let seed = try #require(line.split(separator: " ").last)
        let again = try runProcess([Self.hvblob, "fuzz-host", "--host-exec", bad, "--case", String(seed)])
        #expect(again.status == 1 && again.output.contains("case \(seed): rule broken: vsp.completion.exactly-once"), "\(again.output)")
    }

    @Test("verify-host.formats: the verdicts as JSON, a failing rule with its findings")
    func verifyHostFormats() throws {
        let bad = try Self.buildCHost(["BROKEN_WRITES_REQUEST"])
        let j = try runProcess([Self.hvblob, "verify-host", "--host-exec", bad, "--only", "workload", "--guest-faults", "none", "--format", "json"])
        #expect(j.status == 1, "\(j.output)")
        let doc = try JSONParser.parse(Array(j.output.utf8))
        let rules = try #require(doc["rules"]?.array)
        #expect(rules.count == HostConformance.rules.count)
        let row = try #require(rules.first { $0["id"]?.string == "vsp.write.request-buffer" })
        #expect(row["verdict"]?.string == "FAIL" && (row["findings"]?.array?.count ?? 0) > 0, "\(j.output)")
        let bogus = try runProcess([Self.hvblob, "verify-host", "--host-exec", bad, "--format", "xml"])
        #expect(bogus.status == 2 && bogus.output.contains("'xml'"))
    }
}
