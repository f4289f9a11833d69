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
        // The reproducer replays against the host and shows the same finding; the good host has none.
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("hvblob-fh-\(getpid())").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let f = try runProcess([Self.hvblob, "fuzz-host", "--host-exec", bad, "--case", String(seed), "--reproducers", dir])
        let replay = try #require(f.output.split(separator: "\n").first { $0.hasPrefix("  replay: hvblob guest --replay \(dir)/") })
        let file = String(replay.split(separator: " ")[4])
        #expect(replay.hasSuffix("--host-exec '\(bad)'"), "\(replay)")
        let shown = try runProcess([Self.hvblob, "guest", "--replay", file, "--host-exec", bad])
        #expect(shown.status == 1 && shown.output.contains("finding: vsp.completion.exactly-once") && shown.output.contains("capture says: hvblob fuzz-host case \(seed)"), "\(shown.output)")
        let fixed = try runProcess([Self.hvblob, "guest", "--replay", file, "--host-exec", good])
        #expect(!fixed.output.contains("finding:") && fixed.output.contains("the capture's host 1, this host 0"), "\(fixed.output)")
        // A crash: a copy that dies on a rangecount other than 1; its reproducer kills it again, at the same packet.
        let crashing = try Self.buildCHost(["BROKEN_CRASHES_ON_RANGECOUNT"])
        let c = try runProcess([Self.hvblob, "fuzz-host", "--host-exec", crashing, "--case", "0xad0fe24978787fe8", "--reproducers", dir])
        #expect(c.status == 1 && c.output.contains("case 0xad0fe24978787fe8: crash: the host closed the control socket"), "\(c.output)")
        let died = try runProcess([Self.hvblob, "guest", "--replay", "\(dir)/case-0xad0fe24978787fe8.pcapng", "--host-exec", crashing])
        #expect(died.status == 1 && died.output.contains("the host died") && died.output.contains("at record 2 (file byte"), "\(died.output)")
    }

    @Test("verify-host.formats: verify's report formats; a failing rule with its findings and seed, inconclusive never a pass or a skip")
    func verifyHostFormats() throws {
        let bad = try Self.buildCHost(["BROKEN_WRITES_REQUEST"])
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("hvblob-vh-\(getpid())").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        // Only the workload runs: its rules pass or fail, every other rule's scenario never happened.
        let j = try Self.runSplit([Self.hvblob, "verify-host", "--host-exec", bad, "--only", "workload", "--guest-faults", "none", "--format", "json",
                                   "--report", "\(dir)/r.xml", "--report", "\(dir)/r.ktap", "--report", "\(dir)/r.html"])
        #expect(j.status == 1, "\(j.stderr)")
        let doc = try JSONParser.parse(Array(j.stdout.utf8))
        let rows = try #require(doc["results"]?.array)
        #expect(rows.count == HostConformance.rules.count)
        let row = try #require(rows.first { $0["rule"]?.string == "vsp.write.request-buffer" })
        #expect(row["verdict"]?.string == "fail" && row["level"]?.string == "MUST", "\(j.stdout)")
        let detail = row["evidence"]?.array?.first?["detail"]?.string ?? ""
        #expect(detail.contains("request buffer") && detail.contains("reproduce: hvblob verify-host --host-exec '\(bad)' --seed 1 --only workload"), "\(detail)")
        let pending = try #require(rows.first { $0["rule"]?.string == "vsp.ring.pending-send-sz" })
        #expect(pending["verdict"]?.string == "inconclusive", "\(j.stdout)")
        #expect(doc["conforms"]?.bool == false)
        // The running text went to standard error, as verify's does.
        #expect(j.stderr.contains("FAIL         MUST   vsp.write.request-buffer"), "\(j.stderr)")
        let junit = try String(contentsOfFile: "\(dir)/r.xml", encoding: .utf8)
        let inconclusive = HostConformance.rules.count - rows.filter { ["pass", "fail"].contains($0["verdict"]?.string ?? "") }.count
        #expect(inconclusive > 0 && junit.components(separatedBy: "<error type=\"inconclusive\"").count - 1 == inconclusive, "\(junit)")
        #expect(junit.contains("<failure type=\"fail\"") && !junit.contains("<skipped"))
        let ktap = try String(contentsOfFile: "\(dir)/r.ktap", encoding: .utf8)
        #expect(ktap.hasPrefix("KTAP version 1\n") && !ktap.contains("# SKIP") && ktap.contains("not ok") && ktap.contains("# host: hvblob_host.c"), "\(ktap)")
        let failed = rows.filter { $0["verdict"]?.string == "fail" }.count
        #expect(ktap.split(separator: "\n").filter { $0.hasPrefix("not ok ") }.count == inconclusive + failed, "\(ktap)")
        let html = try String(contentsOfFile: "\(dir)/r.html", encoding: .utf8)
        #expect(html.contains("<!DOCTYPE html>") && html.contains("vsp.write.request-buffer") && html.contains("seed 1: hvblob verify-host"))
        let bogus = try runProcess([Self.hvblob, "verify-host", "--host-exec", bad, "--format", "xml"])
        #expect(bogus.status == 2 && bogus.output.contains("'xml'"))
        let ext = try runProcess([Self.hvblob, "verify-host", "--host-exec", bad, "--report", "\(dir)/r.pdf"])
        #expect(ext.status == 2 && ext.output.contains("r.pdf"), "\(ext.output)")
    }

    /// Runs a process with standard output and standard error apart (standard error through a file).
    static func runSplit(_ argv: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
        let errPath = FileManager.default.temporaryDirectory.appendingPathComponent("hvblob-stderr-\(getpid()).txt").path
        #expect(FileManager.default.createFile(atPath: errPath, contents: nil))
        defer { unlink(errPath) }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: argv[0])
        p.arguments = Array(argv.dropFirst())
        let out = Pipe()
        p.standardOutput = out
        p.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: errPath))
        try p.run()
        let o = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        let e = FileManager.default.contents(atPath: errPath) ?? Data()
        return (p.terminationStatus, String(decoding: o, as: UTF8.self), String(decoding: e, as: UTF8.self))
    }

    // MARK: capture and replay out of process

    @Test("capture.out-of-process: hvblob guest's capture is the in-process capture, record for record; host writes as the bytes they changed")
    func captureOutOfProcess() throws {
        try #require(FileManager.default.isExecutableFile(atPath: Self.hvblob), "no hvblob binary at \(Self.hvblob): run swift build first")
        func record(_ external: Bool) throws -> Capture {
            func run() -> Capture {
                let sim = Simulation(config(seed: 11))
                let r = sim.machine.startRecording()
                r.recordGuestData = true
                let report = sim.run()
                #expect(report.clean && report.requestsReturned == 36, "\(report.render())")
                return r.capture
            }
            return external ? try Self.withHost([Self.hvblob, "host", "--attach"]) { _ in run() } : run()
        }
        let inProcess = try record(false), outOfProcess = try record(true)
        let a = inProcess.records.filter { $0.kind != .hostWrite }, b = outOfProcess.records.filter { $0.kind != .hostWrite }
        #expect(a.count == b.count && a.count > 100)
        #expect(a.contains { $0.kind == .ringPacket && $0.direction == .hostToGuest } && a.contains { $0.kind == .guestData })
        for (x, y) in zip(a, b) where x != y {
            Issue.record("first differing record: in process \(x.summary), out of process \(y.summary)")
            break
        }
        // Host writes: what the host wrote, page by page, just before the record they precede;
        // out of process each is the span of bytes it changed.
        func segments(_ c: Capture) -> [[CaptureRecord.HostWrite]] {
            var out: [[CaptureRecord.HostWrite]] = [[]]
            for r in c.records { if let w = r.hostWrite { out[out.count - 1].append(w) } else { out.append([]) } }
            return out
        }
        var total = 0, seen = 0, wrong = 0
        for (x, y) in zip(segments(inProcess), segments(outOfProcess)) {
            var written: [UInt64: [Int: UInt8]] = [:]
            for w in x { for (k, v) in w.bytes.enumerated() { written[w.pfn, default: [:]][w.offset + k] = v }; total += w.bytes.count }
            for w in y {
                for (k, v) in w.bytes.enumerated() where written[w.pfn]?[w.offset + k] != v { wrong += 1 }
                seen += w.bytes.count
            }
        }
        #expect(wrong == 0 && seen > 0 && Double(seen) > 0.98 * Double(total), "\(seen) of \(total) bytes seen, \(wrong) not written in process")
        // The file round-trips and the dissector reads the new kinds.
        let bytes = outOfProcess.pcapng()
        #expect(try Capture.parse(bytes).records == outOfProcess.records)
        guard (try? runProcess(["sh", "-c", "command -v tshark"]))?.status == 0 else {
            #expect(!runningUnderCI, "tshark is not installed; CI must install it (apt-get install tshark)")
            return
        }
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("hvblob-oop-\(getpid()).pcapng").path
        #expect(FileManager.default.createFile(atPath: path, contents: Data(bytes)))
        defer { unlink(path) }
        let lua = Self.repo.appendingPathComponent("Tools/wireshark/hvblob.lua").path
        let t = try runProcess(["tshark", "-X", "lua_script:\(lua)", "-r", path, "-T", "fields", "-e", "hvblob.kind", "-e", "hvblob.hostwrite.length"])
        let lines = t.output.split(separator: "\n").filter { !$0.hasPrefix("Running as user") }
        #expect(t.status == 0 && lines.count == outOfProcess.records.count, "\(t.output.prefix(500))")
        for (line, r) in zip(lines, outOfProcess.records) where r.kind == .guestData {
            #expect(line == "11\t\(r.guestData!.bytes.count)", "\(line)")
        }
    }

    @Test("guest.replay: a guest --record capture replays against the hosts; a host that completes twice is shown request by request")
    func guestReplay() throws {
        let good = try Self.buildCHost(), twice = try Self.buildCHost(["BROKEN_COMPLETES_TWICE"])
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("hvblob-replay-\(getpid()).pcapng").path
        defer { unlink(path) }
        let rec = try runProcess([Self.hvblob, "guest", "--model", "--host-exec", "hvblob host --attach", "--seed", "4", "--clients", "2",
                                  "--requests", "8", "--sizes", "4096,65536", "--record", path])
        #expect(rec.status == 0 && rec.output.contains("recorded: "), "\(rec.output)")
        for host in [good, "hvblob host --attach"] {
            let r = try runProcess([Self.hvblob, "guest", "--replay", path, "--host-exec", host])
            #expect(r.status == 0 && r.output.contains("requests compared: 16, 16 answered as in the capture"), "\(r.output)")
        }
        let r = try runProcess([Self.hvblob, "guest", "--replay", path, "--host-exec", twice])
        #expect(r.status == 1 && r.output.contains("finding: vsp.completion.exactly-once") && r.output.contains("packets beyond one answer per request: the capture's host 0"), "\(r.output)")
        let mixed = try runProcess([Self.hvblob, "guest", "--replay", path, "--host-exec", good, "--clients", "3"])
        #expect(mixed.status == 2 && mixed.output.contains("--clients"), "\(mixed.output)")
        let missing = try runProcess([Self.hvblob, "guest", "--replay", "/tmp/no-such-capture.pcapng", "--host-exec", good])
        #expect(missing.status == 2 && missing.output.contains("no-such-capture"), "\(missing.output)")
    }
}
