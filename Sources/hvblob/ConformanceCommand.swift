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
    @Option(help: "text | json | junit | ktap | html")
    var format: String = "text"
    @Option(name: .short, help: "Write the report to this file instead of standard output.")
    var output: String?
    @Option(help: "A vector file or a directory of them.")
    var vectors: String = defaultVectorDir
    @Option(help: "The vector schema (default: vectors.schema.json beside the vectors, else the built-in one).")
    var schema: String?
    @Option(help: "Seed for the checks' simulations.")
    var seed: String = "1"
    @Flag(name: .customLong("vectors-only"), help: "Skip the simulated conformance checks (seconds); only the vectors.")
    var vectorsOnly = false

    func run() throws {
        guard ConformanceReport.formats.contains(format) else {
            fail("--format: '\(format)' is not one of \(ConformanceReport.formats.joined(separator: ", "))")
        }
        guard let s = parseSeed(seed) else { fail("--seed: '\(seed)' is not a number (decimal or 0x hex)") }
        if let o = output { checkOutputFile(o, option: "-o") }
        if vectorsOnly && typed("--seed") { fail("--seed and --vectors-only exclude each other: the seed is for the simulated checks") }
        let files = loadVectorFiles([vectors], schema: schema)
        let (factory, version, name) = try driverSelection(model: model, driver: driver, kernelVersion: kernelVersion)
        let checks = vectorsOnly ? [] : Conformance.run(factory: factory, version: version, seed: s)
        let outcomes = files.flatMap { VectorRunner.run($0, factory: factory, version: version) }
        let report = ConformanceReport(target: name, checks: checks, vectors: outcomes)
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
