// SPDX-License-Identifier: Apache-2.0
import ArgumentParser
import Foundation
import Synchronization
import HVBlob
import HVBlobBridge

struct Verify: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Build a driver's C source against the kernel shim and run the conformance set on it.",
        discussion: """
            Prints one verdict per rule (MUST / SHOULD). Exit status: 0 the driver conforms, 1 findings, \
            2 it could not be built or run. Without --kernel-version the API eras are tried newest first \
            and the one the driver builds against is named. --model checks the Swift model instead.
            """
    )

    @OptionGroup var input: DriverInput
    @Option(name: .customLong("kernel-version"), help: "Kernel API era, \(KernelVersion.supported.lowerBound) to \(KernelVersion.supported.upperBound) (default: the newest the driver builds for; 6.1 for --model).")
    var kernelVersion: String?
    @Flag(help: "Check the Swift model instead of C code.")
    var model = false
    @Option(help: "Seed for the simulations and the differential run.")
    var seed: String = "1"
    @Option(help: "Only these checks (comma-separated ids; 'ioctl.*' matches a prefix; --list-checks lists them).")
    var only: String?
    @Option(help: "Record every check's traffic into this pcapng file, each check's machine on its own channel.")
    var record: String?
    @Flag(name: .customLong("list-checks"), help: "Print every check's id, level and what it checks (what --only may name), and exit.")
    var listChecks = false
    @Flag(help: "Print each check's evidence (what happened in its machines) and the compiler output of eras that did not build.")
    var verbose = false
    @Option(help: "Print the verdict as a report instead of the running text: \(ConformanceReport.formats.joined(separator: " | ")) (the running text then goes to standard error).")
    var format: String = "text"
    @Option(name: .customLong("report"), help: "Also write the report to this file, in the format its name says: .json, .xml (JUnit), .ktap, .html, .txt (repeatable).")
    var reports: [String] = []
    // Races (issue 11): the explorer runs after the checks; see raceResults in Explore.swift.
    @Option(name: .customLong("explore-budget"), help: "Seconds of race exploration after the checks, counted as \(RaceChecks.nominalRate) schedules per second (default \(Int(RaceChecks.defaultSeconds))).")
    var exploreBudget: String?
    @Option(name: .customLong("explore-schedules"), help: "Schedules of race exploration in all (instead of --explore-budget): the exact search a verdict printed.")
    var exploreSchedules: Int?
    @Flag(name: .customLong("no-explore"), help: "Leave the race exploration out.")
    var noExplore = false
    @Option(help: "The backend of the fault and lifecycle checks' simulations: store (the Blob store's line protocol) or blob (the Blob service's JSON, as simulate --backend blob).")
    var backend: String = "store"
    @Option(help: "With --backend blob: a directory whose files are blobs the service starts with.")
    var blobs: String?

    /// The driver's library once built: its code addresses in findings become function (file:line).
    static let library = Mutex<String?>(nil)

    func say(_ text: String) {
        var t = shown(text)
        if let lib = Verify.library.withLock({ $0 }) { t = symbolizeSites(t, library: lib) }
        (format == "text" ? Out.standardOutput : Out.standardError).write(t)
    }

    func run() throws {
        validateExplore()  // races (issue 11): Explore.swift
        if listChecks {
            for c in Conformance.checks { Out.standardOutput.write("\(c.id.rightPad(30)) \(c.level.rawValue.rightPad(6)) \(c.summary)\n") }
            return
        }
        guard let s = parseSeed(seed) else { fail("--seed: '\(seed)' is not a number (decimal or 0x hex)") }
        let reportFormats = checkReportOptions(format: format, reports: reports)
        if model && input.any { fail("--model and \(input.given.joined(separator: ", ")) exclude each other") }
        if model && !input.includes.isEmpty { fail("--model and --include exclude each other: the model has no C code to include for") }
        let filter = only.map { Set(checkNames("--only", $0, known: Conformance.checks.map(\.id), what: "check", listedBy: "hvblob verify --list-checks")) }
        if let r = record { checkOutputFile(r, option: "--record") }
        let (backendKind, backendBlobs) = parseBackend(backend, blobs: blobs)
        let choice = Conformance.BackendChoice(backendKind, blobs: backendBlobs)
        var version = kernelVersion.map(parseKernelVersion) ?? .default
        var factory: DriverRig.Factory?
        var replay = "--kernel-version \(version)"
        var header = ConformanceReport.Header(driver: "the Swift model (fixed behaviour)", hash: nil, era: "\(version)", seed: seed)
        if model {
            say("driver: the Swift model (fixed behaviour), API era \(version)\n")
        } else {
            guard let source = input.resolve() else { fail("no driver") }
            let built: DriverBuild.Built
            do {
                built = try DriverBuild.build(source, version: kernelVersion == nil ? nil : version)
            } catch {
                Out.standardError.write(shown("hvblob: \(error)\n"))
                if let real = RealKernel.build(source) { Out.standardError.write(shown(Verify.realKernelLine(real) + "\n")) }
                throw ExitCode(2)
            }
            version = built.version
            let typed = input.patch ?? input.tree ?? input.driver ?? built.source
            replay = "--c-driver \(typed) --kernel-version \(built.version)"
            say("driver: \(source.origin)\n")
            if !shown(source.origin).hasPrefix(shown(built.source)) { say("  source: \(built.source)\n") }
            let abi = built.abi
            say("ABI (read from \(abi.header)): \(abi.request.name) = \(abi.command)\n")
            say("  \(abi.layout)\n")
            for c in abi.commands where c != abi.request { say("  also defines \(c.name) = \(c.value)\n") }
            for n in built.abiNotes { say("  note: \(n)\n") }
            for line in built.skipped { say((verbose ? "API era \(line)" : eraLine(line)) + "\n") }
            let why = kernelVersion == nil ? "the newest era it builds for; --kernel-version picks another" : "as --kernel-version asks"
            say("builds against: the Linux \(built.version) API era of the shim (\(why))\(built.cached ? " (cached build)" : "")\n")
            if let real = RealKernel.build(source) { say(Verify.realKernelLine(real) + "\n") }
            Verify.library.withLock { $0 = built.library }
            header = ConformanceReport.Header(driver: source.origin, hash: sourceHash(built.source), era: "\(built.version)", seed: seed)
            factory = { machine in try BridgedDriver(built, machine: machine) }
        }
        let session = record.map { _ in CaptureSession() }
        var results = Conformance.$backendChoice.withValue(choice) { CaptureSession.$current.withValue(session) { Conformance.run(factory: factory, version: version, seed: s, replay: replay, only: filter) { r in
            var line = "\(r.verdict.rawValue.rightPad(12)) \(r.check.level.rawValue.rightPad(6)) \(r.check.id.rightPad(30)) \(r.check.summary)\n"
            if r.verdict != .pass {
                for (k, l) in r.detail.split(separator: "\n").enumerated() { line += (k == 0 ? "      -> " : "         ") + l + "\n" }
            }
            if verbose || r.verdict == .inconclusive { line += "      evidence: " + r.evidence.joined(separator: "; ") + "\n" }
            say(line)
        } } }
        if backendKind == .blob {
            let answers = choice.statuses.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
            say("blob service (the clients of \(choice.simulations) fault/lifecycle simulation(s)): \(answers.isEmpty ? "no answer" : answers)\n")
        }
        if let path = record, let session {
            let cap = session.capture
            writeFile(path, cap.pcapng(), what: "--record")
            say("recorded: \(cap.records.count) records on \(session.recorders.count) channels to \(path)\n")
        }
        // MARK: races (issue 11) — the explorer's results join the checks' (Explore.swift)
        if let races = raceResults(factory: factory, version: version, seed: s, replay: replay, checks: results) {
            results += races
        }
        // end of races
        let report = DefectReport(results)
        if format != "text" || !reports.isEmpty {
            let full = ConformanceReport(target: header.driver, checks: results, vectors: [], header: header,
                                         symbolize: reportSymbolizer(library: Verify.library.withLock { $0 }))
            writeReports(full, format: format, reports: zip(reports, reportFormats).map { ($0, $1) })
        }
        let reached = results.filter { $0.hostPackets > 0 }.count
        say("checks whose requests reached the host: \(reached) of \(results.count)\n")
        let bad = results.filter(\.counts)
        let mustBad = bad.filter { $0.check.level == .must }.count
        let na = results.filter { $0.verdict == .notApplicable }.count
        if bad.isEmpty {
            say("verdict: conforms (\(results.count - na) checks passed\(na > 0 ? ", \(na) not applicable" : ""))\n")
        } else {
            if !report.defects.isEmpty {
                say("defects (each broken rule once, with the check that shows it most directly):\n" + report.text)
            }
            say("verdict: does not conform: \(report.countsLine) (\(mustBad) MUST, \(bad.count - mustBad) SHOULD)\n")
            throw ExitCode(1)
        }
    }

    /// Whether the driver builds with kbuild against the installed kernel headers.
    static func realKernelLine(_ r: RealKernel.Build) -> String {
        let tree = URL(fileURLWithPath: r.tree).lastPathComponent
        if r.builds { return "real kernel (\(tree), kbuild): builds\(r.cached ? " (cached)" : "")" }
        return "real kernel (\(tree), kbuild): does not build\n" + r.errors.map { "  " + $0 }.joined(separator: "\n")
    }
}
