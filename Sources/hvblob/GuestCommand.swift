// SPDX-License-Identifier: Apache-2.0
import ArgumentParser
import Foundation
import HVBlob
import HVBlobBridge

#if canImport(Glibc)
import Glibc
#endif

/// `hvblob guest`: the guest side — the Swift model or a driver's C code, with clients and a
/// workload as simulate takes them — against an out-of-process host.
struct GuestCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "guest",
        abstract: "Run the guest (model or C driver, clients, workload) against an out-of-process host.",
        discussion: """
            The host connects to the control socket (--host-socket PATH, or --host-exec CMD which starts it). \
            Guest memory is a shared file, the rings are hv_ring_buffer pages in it (Docs/host-interface.md). \
            --faults takes only rescind=T here (hvblob as VMBus control plane takes the device away); the \
            host's misbehaviour is the host's own (hvblob host --faults). Against a host that runs in the \
            guest's virtual time (hvblob host) the run is the same as 'hvblob simulate' with that seed.
            """
    )

    @OptionGroup var host: HostTarget
    @OptionGroup var input: DriverInput
    @Flag(help: "Run the Swift model as the guest driver (default: the C driver given, or the in-tree one).")
    var model = false
    @Option(help: "Behaviour of the model: fixed | v5.")
    var behavior: String = "fixed"
    @Option(help: "Seed (decimal or 0x hex).")
    var seed: String = "0x5eed"
    @Option(help: "Number of client processes.")
    var clients: Int = 8
    @Option(help: "Requests per client.")
    var requests: Int = 64
    @Option(help: "Data buffer sizes in bytes, comma-separated; drawn per request.")
    var sizes: String = "4096,65536,1048576"
    @Option(help: "Guest-side fault plan: only rescind=T.")
    var faults: String = "none"
    @Option(name: .customLong("kernel-version"), help: "Kernel API era, 5.13 to 6.3.")
    var kernelVersion: String?
    @Option(help: "Write the full trace to this file.")
    var trace: String?
    @Option(help: "Record the run as a pcapng capture (as 'hvblob record' writes, plus the guest-data records a replay against a host needs).")
    var record: String?
    @Option(help: "Replay this capture's guest side against the host and report, request by request, where its answers differ from the capture's.")
    var replay: String?

    func run() throws {
        if let file = replay {
            guard host.given else { fail("--replay: give the host to replay against: --host-exec CMD or --host-socket PATH") }
            let workload = ["--model", "--record", "--trace", "--seed", "--clients", "--requests", "--sizes", "--faults", "--behavior", "--kernel-version",
                            "--driver", "--tree", "--patch", "--include"].filter(typed)
            if !workload.isEmpty { fail("--replay and \(workload.joined(separator: ", ")) exclude each other: a replay's guest side is the capture's") }
            return try replayCapture(file)
        }
        if let r = record { checkOutputFile(r, option: "--record") }
        if let t = trace, let r = record, t == r { fail("--trace and --record name the same file \(t)") }
        let config = guestConfig(seed: seed, clients: clients, requests: requests, sizes: sizes, faults: faults,
                                 behavior: behavior, kernelVersion: kernelVersion)
        var cfg = config
        cfg.keepTrace = trace != nil
        let built: DriverBuild.Built? = model ? nil : buildGuestDriver(input, kernelVersion: kernelVersion)
        if model && input.any { fail("--model and \(input.given.joined(separator: ", ")) exclude each other") }
        if let b = built {
            cfg.version = b.version
            cfg.cDriver = input.driver ?? input.tree ?? input.patch ?? "kernel/hv_azure_blob.c"
        }
        let conn = host.connect()
        // The host's own fault plan is the host's: the guest's line shows only what acts here.
        let line = "\(cfg)".replacingOccurrences(of: "faults=\(cfg.faults)", with: "faults=\(cfg.faults.rescindAt.map { "rescind=\($0)" } ?? "none")")
        Out.standardOutput.write("\(line) host=\(conn.session.offer.name)\n")
        let (report, capture) = runGuest(cfg, built: built, session: conn.session, record: record != nil)
        var text = report.render()
        if let first = text.firstIndex(of: "\n") { text = String(text[text.index(after: first)...]) }
        Out.standardOutput.write(text.split(separator: "\n", omittingEmptySubsequences: false).map { line in
            line.hasPrefix("host: ") ? "host: external (\(conn.session.offer.name)); \(conn.session.sent[.signal, default: 0]) signals, \(conn.session.sent[.run, default: 0]) timers run" : String(line)
        }.joined(separator: "\n"))
        if let path = trace {
            guard let f = fopen(path, "w") else { fail("--trace: cannot open \(path) for writing") }
            fputs(report.trace.joined(separator: "\n") + "\n", f)
            fclose(f)
        }
        if let path = record, let capture {
            writeFile(path, capture.pcapng(), what: "--record")
            Out.standardOutput.write("recorded: \(capture.records.count) records to \(path)\n")
        }
        if let status = conn.finish(), status != 0 {
            Out.standardOutput.write("host process exited with status \(status)\n")
        }
        if report.exitCode != 0 { throw ExitCode(report.exitCode) }
    }

    /// --replay FILE: the capture's guest side against the host; exit 1 when an answer differs,
    /// the host breaks a rule, dies or hangs.
    func replayCapture(_ file: String) throws {
        if isDirectory(file) { fail("--replay: \(file): is a directory; give a capture file (pcapng)") }
        let bytes = readFile(file, what: "--replay")
        let capture: Capture
        do { capture = try Capture.parse(bytes) } catch {
            var e = error
            e.file = file
            fail("--replay: \(e)")
        }
        guard capture.records.contains(where: { $0.kind == .ringPacket && $0.direction == .guestToHost }) else {
            fail("--replay: \(file): the capture holds no guest->host packet: nothing to replay against a host")
        }
        let conn = host.connect()
        let report = HostReplay.run(capture, session: conn.session)
        let how = host.hostExec.map { "--host-exec '\($0)'" } ?? "--host-socket \(host.hostSocket ?? "")"
        Out.standardOutput.write(report.render(file: file, host: "\(conn.session.offer.name) (\(how))"))
        if let status = conn.finish(), status != 0 {
            Out.standardOutput.write("host process exited with status \(status)\n")
        }
        if !report.clean { throw ExitCode(1) }
    }
}

/// Builds the C driver a guest-side command takes (DriverInput, default in-tree); exit 2 on failure.
func buildGuestDriver(_ input: DriverInput, kernelVersion: String?) -> DriverBuild.Built {
    guard let source = input.resolve() else { fail("no driver") }
    do { return try DriverBuild.build(source, version: kernelVersion.map(parseKernelVersion)) } catch {
        Out.standardError.write(shown("hvblob: \(error)\n"))
        Glibc.exit(2)
    }
}

/// A simulation run with every machine attached to `session`'s host; `record`: with its capture
/// (guest data included, so that it replays against a host).
func runGuest(_ config: SimulationConfig, built: DriverBuild.Built?, session: ExternalHostSession,
              record: Bool = false) -> (SimulationReport, Capture?) {
    ExternalHostSession.$current.withValue(session) {
        var loadError: Error?
        let sim = Simulation(config, driver: built.map { b in { machine in
            do { return try BridgedDriver(b, machine: machine) } catch { loadError = error; return machine.vsc }
        } })
        if let e = loadError { fail("\(e)") }
        let recorder = record ? sim.machine.startRecording() : nil
        recorder?.recordGuestData = true
        var r = sim.run()
        session.detach()
        // The in-process host saw nothing; what reached the external host, seen in the rings.
        r.host.received = session.monitor.requestsSeen
        r.host.completionsSent = session.monitor.completionsSeen
        r.host.executed = session.monitor.completionsSeen
        if session.sent[.rescind, default: 0] > 0 { r.host.inFlightAtRescind = session.monitor.inFlightAtRescind ?? 0 }
        return (r, recorder?.capture)
    }
}

/// The workload options as simulate reads them; exit 2 naming the option on bad input.
func guestConfig(seed: String, clients: Int, requests: Int, sizes: String, faults: String, behavior: String,
                 kernelVersion: String?) -> SimulationConfig {
    guard let s = parseSeed(seed) else { fail("--seed: '\(seed)' is not a number") }
    checkWorkload(clients: clients, requests: requests)
    var config = SimulationConfig()
    config.seed = s
    config.clients = clients
    config.requestsPerClient = requests
    config.sizes = parseSizes(sizes)
    guard let b = DriverBehavior.named(behavior) else { fail("--behavior: '\(behavior)' is not fixed or v5") }
    config.behavior = b
    config.version = kernelVersion.map(parseKernelVersion) ?? (b == .v5 ? KernelVersion(5, 13) : .default)
    do {
        let plan = try FaultPlan(spec: faults)
        var onlyRescind = FaultPlan()
        onlyRescind.rescindAt = plan.rescindAt
        guard plan == onlyRescind else {
            fail("--faults: '\(faults)': only rescind=T acts from the guest side; give the host its own fault plan (hvblob host --faults)")
        }
        config.faults = plan
    } catch { fail("--faults: \(error)") }
    return config
}

/// `--sizes` as simulate, guest and serve read it: comma-separated byte counts, each a size one
/// request can carry; exit 2 naming the character where a bad one starts.
func parseSizes(_ sizes: String) -> [Int] {
    var out: [Int] = []
    var offset = 0
    let limit = AzBlob.pageSize * (AzBlob.maxPages - 2)
    for part in sizes.split(separator: ",", omittingEmptySubsequences: false) {
        guard let v = Int(part), v > 0, v <= limit else {
            fail("--sizes at character \(offset): '\(part)' is not a size in 1...\(limit)")
        }
        out.append(v)
        offset += part.count + 1
    }
    return out
}

/// `--clients` and `--requests` within what one run can hold; exit 2 naming the option.
func checkWorkload(clients: Int, requests: Int) {
    guard clients > 0, clients <= 10_000 else { fail("--clients: \(clients) is outside 1...10000") }
    guard requests > 0, requests <= 10_000_000 else { fail("--requests: \(requests) is outside 1...10000000") }
}
