// SPDX-License-Identifier: Apache-2.0
import ArgumentParser
import Foundation
import HVBlob
import HVBlobBridge

struct ConformanceCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "conformance",
        abstract: "One row per rule (MUST / SHOULD): the verdict, and the checks and vectors behind it.",
        discussion: """
            Runs the conformance checks (simulated scenarios) and every vector against the Swift model \
            (default) or a driver's C source. Formats: text, json, junit (JUnit XML for CI systems), \
            ktap (the kernel's test format, as KUnit prints it), html (one self-contained page). \
            Exit status: 0 every rule holds, 1 a rule fails, 2 bad input.
            """
    )

    @Flag(help: "The Swift model (the default).")
    var model = false
    @Option(help: "A driver's C source, through the kernel bridge.")
    var driver: String?
    @Option(name: .customLong("kernel-version"), help: "Kernel API era, \(KernelVersion.supported.lowerBound) to \(KernelVersion.supported.upperBound) (default: 6.1 for the model; for --driver the newest the driver builds for).")
    var kernelVersion: String?
    @Option(help: "text | json | junit | ktap | html; every format carries the defect grouping and each check's verdict with its counts.")
    var format: String = "text"
    @Option(name: .short, help: ArgumentHelp("Write the report to this file instead of standard output.", valueName: "file"))
    var output: String?
    @Option(help: "A vector file or a directory of them.")
    var vectors: String = defaultVectorDir
    @Option(help: "The vector schema (default: vectors.schema.json beside the vectors, else the built-in one).")
    var schema: String?
    @Option(help: "Seed for the checks' simulations.")
    var seed: String = "1"
    @Flag(name: .customLong("vectors-only"), help: "Skip the simulated conformance checks (seconds); only the vectors.")
    var vectorsOnly = false
    @Option(name: .customLong("explore-schedules"), help: "Schedules of race exploration after the checks, over verify's scenarios (default \(RaceChecks.schedules(forSeconds: RaceChecks.defaultSeconds)), as verify's default budget).")
    var exploreSchedules: Int?
    @Flag(name: .customLong("no-explore"), help: "Leave the race exploration out.")
    var noExplore = false

    func run() throws {
        guard ConformanceReport.formats.contains(format) else {
            fail("--format: '\(format)' is not one of \(ConformanceReport.formats.joined(separator: ", "))")
        }
        guard let s = parseSeed(seed) else { fail("--seed: '\(seed)' is not a number (decimal or 0x hex)") }
        if let o = output { checkOutputFile(o, option: "-o") }
        if vectorsOnly && typed("--seed") { fail("--seed and --vectors-only exclude each other: the seed is for the simulated checks") }
        if model && driver != nil { fail("--model and --driver exclude each other") }
        if let n = exploreSchedules, n < Explorer.Scenario.allCases.count {
            fail("--explore-schedules: \(n) is fewer than one schedule per scenario (\(Explorer.Scenario.allCases.count))")
        }
        if noExplore && exploreSchedules != nil { fail("--no-explore and --explore-schedules exclude each other") }
        if vectorsOnly && (noExplore || exploreSchedules != nil) {
            fail("--vectors-only and --\(noExplore ? "no-explore" : "explore-schedules") exclude each other: --vectors-only runs no exploration")
        }
        let files = loadVectorFiles([vectors], schema: schema)
        var version = kernelVersion.map(parseKernelVersion) ?? .default
        var factory: DriverRig.Factory?
        var name = "the Swift model (fixed behaviour), API era \(version)"
        var header = ConformanceReport.Header(driver: "the Swift model (fixed behaviour)", hash: nil, era: "\(version)", seed: seed)
        var library: String?
        if let path = driver {
            let built = buildDriver(path, option: "--driver", version: kernelVersion == nil ? nil : version)
            version = built.version
            factory = { machine in try BridgedDriver(built, machine: machine) }
            name = "\(built.source) (API era \(built.version))"
            header = ConformanceReport.Header(driver: path, hash: sourceHash(built.source), era: "\(built.version)", seed: seed)
            library = built.library
        }
        var checks = vectorsOnly ? [] : Conformance.run(factory: factory, version: version, seed: s)
        // The races, as verify runs them: one row per scenario, the same schedules for the seed.
        if !vectorsOnly && !noExplore {
            let total = exploreSchedules ?? RaceChecks.schedules(forSeconds: RaceChecks.defaultSeconds)
            let runs = RaceChecks.explore(factory: preempting(factory), version: version, schedules: total, seed: s)
            let known = Set(checks.flatMap { $0.findings.keys })
            let args = driver.map { "--driver \($0)" } ?? "--model"
            checks += runs.map { RaceChecks.result($0.0, $0.1, known: known, seed: s, replay: args) }
        }
        let outcomes = files.flatMap { VectorRunner.run($0, factory: factory, version: version) }
        let report = ConformanceReport(target: shown(name), checks: checks, vectors: outcomes, header: header,
                                       symbolize: reportSymbolizer(library: library))
        let text = report.render(format) ?? ""
        if let path = output {
            writeFile(path, Array(text.utf8), what: "-o")
            Out.standardOutput.write("\(path): \(report.rows.count) rules, \(report.failedRules.count) failing\n")
        } else {
            Out.standardOutput.write(text)
        }
        if !report.clean { throw ExitCode(1) }
    }
}

/// The driver as the explorer runs it: a C driver preempted at every kernel primitive.
func preempting(_ factory: DriverRig.Factory?) -> DriverRig.Factory? {
    factory.map { f in { machine in
        let d = try f(machine)
        (d as? BridgedDriver)?.preemptAtSchedulingPoints = true
        return d
    } }
}

// MARK: report helpers shared with `verify --format/--report`

/// Validates `--format` and every `--report FILE` before anything runs; returns each file's
/// format (from its name). Exit 2 naming the option and the value as typed.
func checkReportOptions(format: String, reports: [String]) -> [String] {
    guard ConformanceReport.formats.contains(format) else {
        fail("--format: '\(format)' is not one of \(ConformanceReport.formats.joined(separator: ", "))")
    }
    return reports.map { path in
        guard let f = ConformanceReport.format(forFile: path) else {
            fail("--report: '\(path)': the name must end in .json, .xml (JUnit), .ktap, .tap, .html or .txt to say the format")
        }
        checkOutputFile(path, option: "--report")
        return f
    }
}

/// FNV-1a 64 of a source file's bytes, in hex: which driver text a report is about.
func sourceHash(_ path: String) -> String? {
    guard let data = FileManager.default.contents(atPath: path) else { return nil }
    let h = FNV1a.hash(Array(data))
    let hex = String(h, radix: 16)
    return "fnv1a64:" + String(repeating: "0", count: 16 - hex.count) + hex
}

/// Resolves code addresses in report texts with one addr2line run over the driver's library.
func reportSymbolizer(library: String?) -> ([String]) -> [String] {
    { texts in
        let sep = "\n\u{1F}\n"
        var joined = texts.joined(separator: sep)
        if let library { joined = symbolizeSites(joined, library: library) }
        let out = shown(joined).components(separatedBy: sep)
        return out.count == texts.count ? out : texts.map(shown)
    }
}

/// Writes the report to each `--report` file and, for a format other than text, to standard output.
func writeReports(_ report: ConformanceReport, format: String, reports: [(path: String, format: String)]) {
    for (path, f) in reports {
        writeFile(path, Array((report.render(f) ?? "").utf8), what: "--report")
        Out.standardError.write("report: \(path) (\(f))\n")
    }
    if format != "text" { Out.standardOutput.write(report.render(format) ?? "") }
}
