// SPDX-License-Identifier: Apache-2.0
import ArgumentParser
import Foundation
import HVBlob
import HVBlobBridge

#if canImport(Glibc)
import Glibc
#endif

struct Simulate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run N clients x M requests against the simulated host and report what happened.",
        discussion: """
            Fault plan (--faults): comma-separated NAME=VALUE, e.g. 'drop=0.01,delay=1-8,rescind=500'. \
            Not probabilities: delay=LO-HI (completion delay in ticks, default 1-4), rescind=T (the host \
            rescinds the channel at tick T), stall-ticks=N (how long a ring-full stall lasts, default 200). \
            Probabilities per request, 0 to 1 (a bare name means 1): \(Simulate.probabilityNames.joined(separator: ", ")). \
            'none' (the default) is no fault beyond the completion delay, so a run prints faults=delay=1-4; \
            'random' draws a plan from the seed (swarm testing).
            Kernel API era: 6.1 by default (5.13 with --driver v5, the era v5 was posted for); with \
            --c-driver the newest era the driver builds for, as verify chooses it.
            """
    )

    static var probabilityNames: [String] { FaultPlan.modeNames.filter { !["delay", "stall-ticks", "rescind"].contains($0) } }

    @Option(help: "Seed (decimal or 0x hex): one seed replays the whole run byte for byte. The run prints it in decimal.")
    var seed: String = "24301"
    @Option(help: "Number of client processes.")
    var clients: Int = 8
    @Option(help: "Requests per client.")
    var requests: Int = 64
    @Option(help: "Data buffer sizes in bytes, comma-separated; drawn per request.")
    var sizes: String = "4096,65536,1048576"
    @Option(help: "Fault plan of the simulated host (see the fault plan above).")
    var faults: String = "none"
    @Option(help: "Driver behaviour of the model: fixed | v5.")
    var driver: String = "fixed"
    @Option(name: .customLong("kernel-version"), help: "Kernel API era, \(KernelVersion.supported.lowerBound) to \(KernelVersion.supported.upperBound) (default: 6.1; 5.13 for --driver v5; for --c-driver the newest it builds for).")
    var kernelVersion: String?
    @Option(name: .customLong("c-driver"), help: "Run this driver's C source through the kernel bridge instead of the Swift model.")
    var cDriver: String?
    @Option(help: "Write the full trace to this file.")
    var trace: String?
    @Flag(help: "No progress lines on stderr.")
    var quiet = false
    @Flag(name: .customLong("strict-host"), help: "The host rejects every packet that breaks a rule (as a strict VSP would) instead of reporting it and executing what it can make sense of.")
    var strictHost = false
    @Option(help: "Record every ring packet, host write, ioctl and lifecycle step into this pcapng file.")
    var record: String?
    @Option(help: "The host's backend: store (the Blob store, a line protocol: PUT/GET/LIST) or blob (the Blob service, the fast-path client's JSON: write/open/read/getProperties).")
    var backend: String = "store"
    @Option(help: "With --backend blob: a directory whose files are blobs the service starts with (name = file name); each client first reads one back.")
    var blobs: String?

    /// `record` passes its `-o` as --record; messages then name `-o`.
    var recordOption = "--record"

    enum CodingKeys: String, CodingKey {
        case seed, clients, requests, sizes, faults, driver, kernelVersion, cDriver, trace, quiet, strictHost, record, backend, blobs
    }

    func run() throws {
        guard let s = parseSeed(seed) else { fail("--seed: '\(seed)' is not a number (decimal or 0x hex)") }
        if cDriver != nil && typed("--driver") {
            fail("--driver \(driver) and --c-driver exclude each other: --driver chooses the Swift model's behaviour, --c-driver runs C code instead")
        }
        if let t = trace { checkOutputFile(t, option: "--trace") }
        if let r = record { checkOutputFile(r, option: recordOption) }
        if let t = trace, let r = record, t == r { fail("--trace and \(recordOption) name the same file \(t)") }
        checkWorkload(clients: clients, requests: requests)
        var config = SimulationConfig()
        config.seed = s
        config.clients = clients
        config.requestsPerClient = requests
        config.sizes = parseSizes(sizes)
        guard let b = DriverBehavior.named(driver) else { fail("--driver: '\(driver)' is not fixed or v5") }
        config.behavior = b
        config.version = kernelVersion.map(parseKernelVersion) ?? (b == .v5 ? KernelVersion(5, 13) : .default)
        if faults == "random" {
            var rng = SeededRandom(seed: s).split("faults")
            config.faults = FaultPlan.random(&rng, maxTime: UInt64(requests) * 20)
        } else {
            do { config.faults = try FaultPlan(spec: faults) } catch { fail("--faults: \(error)") }
        }
        (config.backend, config.blobs) = parseBackend(backend, blobs: blobs)
        config.blobsFrom = blobs
        config.keepTrace = trace != nil
        config.strictHost = strictHost
        var built: DriverBuild.Built?
        if let path = cDriver {
            built = buildDriver(path, option: "--c-driver", version: kernelVersion.flatMap(KernelVersion.init))
            if let b = built {
                config.version = b.version
                config.cDriver = path
            }
        }
        Out.standardOutput.write("\(config)\n")
        if let b = built, kernelVersion == nil {
            // Why this era: the model's default is 6.1, a C driver runs the newest it builds for.
            for line in b.skipped { Out.standardOutput.write(shown(eraLine(line)) + "\n") }
            Out.standardOutput.write("kernel=\(b.version): the newest API era this driver builds for (--kernel-version picks another)\n")
        }
        var loadError: Error?
        let sim = Simulation(config, driver: built.map { b in { machine in
            do { return try BridgedDriver(b, machine: machine) } catch { loadError = error; return machine.vsc }
        } })
        if let e = loadError { fail("\(e)") }
        let recorder = record.map { _ in sim.machine.startRecording() }
        if !quiet && clients * requests >= 2000 {
            sim.progress = { done, all in Out.standardError.write("progress: \(done)/\(all) requests returned\n") }
        }
        let report = sim.run()
        var text = report.render()
        if let first = text.firstIndex(of: "\n") { text = String(text[text.index(after: first)...]) }
        Out.standardOutput.write(text)
        if let path = trace {
            let body = report.trace.joined(separator: "\n") + "\n"
            guard let f = fopen(path, "w") else { fail("--trace: cannot open \(path) for writing") }
            fputs(body, f)
            fclose(f)
        }
        if let path = record, let recorder {
            writeFile(path, recorder.capture.pcapng(), what: recordOption)
            Out.standardOutput.write("recorded: \(recorder.capture.records.count) records to \(path)\n")
        }
        if report.exitCode != 0 { throw ExitCode(report.exitCode) }
    }
}

/// `--backend NAME` and `--blobs DIR` (simulate, verify): exit 2 naming the option as typed.
func parseBackend(_ name: String, blobs: String?) -> (SimulationBackend, [String: [UInt8]]?) {
    guard let b = SimulationBackend(rawValue: name) else {
        fail("--backend: '\(name)' is not a backend; the backends: \(SimulationBackend.allCases.map(\.rawValue).joined(separator: ", "))")
    }
    guard let dir = blobs else { return (b, nil) }
    if b != .blob { fail("--blobs \(dir) needs --backend blob (the Blob store starts empty)") }
    guard isDirectory(dir) else { fail("--blobs: \(dir) is not a directory") }
    var contents: [String: [UInt8]] = [:]
    for n in ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).sorted() {
        var isDir: ObjCBool = false
        let path = dir + "/" + n
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDir), !isDir.boolValue {
            contents[n] = readFile(path, what: "--blobs")
        }
    }
    if contents.isEmpty { fail("--blobs: \(dir) holds no file (each file is one blob)") }
    return (b, contents)
}

/// `hvblob record -o FILE [simulate options]`: a simulation with its capture written to FILE.
struct Record: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run a simulation (same options as simulate) and write its capture as pcapng.",
        discussion: "Equivalent to 'hvblob simulate --record FILE ...'. Read it with 'hvblob replay FILE' or Wireshark (Tools/wireshark/hvblob.lua)."
    )
    @Option(name: .short, help: "The pcapng file to write.")
    var output: String
    @Argument(parsing: .captureForPassthrough, help: "Options for simulate.")
    var simulate: [String] = []

    func run() throws {
        if simulate.contains(where: { $0 == "--record" || $0.hasPrefix("--record=") }) {
            fail("-o and --record both name the capture: give it once")
        }
        checkOutputFile(output, option: "-o")
        var sim = try Simulate.parse(simulate + ["--record", output])
        sim.recordOption = "-o"
        try sim.run()
    }
}

func writeFile(_ path: String, _ bytes: [UInt8], what: String) {
    guard let f = fopen(path, "wb") else { fail("\(what): cannot open \(path) for writing") }
    let n = bytes.withUnsafeBytes { fwrite($0.baseAddress, 1, $0.count, f) }
    fclose(f)
    if n != bytes.count { fail("\(what): short write to \(path)") }
}

/// Reads a whole file; exit 2 naming it when it cannot be read.
func readFile(_ path: String, what: String) -> [UInt8] {
    if isDirectory(path) { fail("\(what): \(path) is a directory; give a file") }
    guard let f = fopen(path, "rb") else { fail("\(what): \(path): cannot open") }
    defer { fclose(f) }
    var out = [UInt8]()
    var buf = [UInt8](repeating: 0, count: 1 << 16)
    while true {
        let n = fread(&buf, 1, buf.count, f)
        if n <= 0 { break }
        out += buf[0..<n]
    }
    if ferror(f) != 0 { fail("\(what): \(path): read error (a directory?)") }
    return out
}
