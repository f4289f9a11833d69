// SPDX-License-Identifier: Apache-2.0
import ArgumentParser
import Foundation
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

    @Option(help: "The driver source (default: the in-tree kernel/hv_azure_blob.c).")
    var driver: String?
    @Option(name: .customLong("kernel-version"), help: "Kernel API era, 5.13 to 6.3.")
    var kernelVersion: String?
    @Flag(help: "Check the Swift model (--v5 for its v5 behaviour) instead of C code.")
    var model = false
    @Option(help: "Seed for the simulations and the differential run.")
    var seed: String = "1"
    @Option(help: "Only these checks (comma-separated ids).")
    var only: String?
    @Option(help: "Record every check's traffic into this pcapng file, each check's machine on its own channel.")
    var record: String?
    @Flag(help: "Print each check's evidence (what happened in its machines) and the compiler output of eras that did not build.")
    var verbose = false

    func run() throws {
        guard let s = parseSeed(seed) else { fail("--seed: '\(seed)' is not a number") }
        var version = kernelVersion.map(parseKernelVersion) ?? .default
        var factory: DriverRig.Factory?
        var replay = "--kernel-version \(version)"
        if model {
            Out.standardOutput.write("driver: the Swift model (fixed behaviour), API era \(version)\n")
        } else {
            let path = URL(fileURLWithPath: driver ?? DriverBuild.inTreeDriver.path)
            guard FileManager.default.fileExists(atPath: path.path) else { fail("--driver: \(path.path): no such file") }
            let built: DriverBuild.Built
            do {
                built = try DriverBuild.build(driver: path, version: kernelVersion == nil ? nil : version)
            } catch {
                Out.standardError.write("hvblob: \(error)\n")
                throw ExitCode(2)
            }
            version = built.version
            replay = "--c-driver \(built.source) --kernel-version \(built.version)"
            Out.standardOutput.write("driver: \(built.source)\nuapi header: \(built.uapiHeader)\n")
            for line in built.skipped { Out.standardOutput.write("does not build for API era \(line)\n") }
            Out.standardOutput.write("builds against: the Linux \(built.version) API era\(built.cached ? " (cached build)" : "")\n")
            factory = { machine in try BridgedDriver(built, machine: machine) }
        }
        let filter = only.map { Set($0.split(separator: ",").map(String.init)) }
        if let f = filter {
            let unknown = f.subtracting(Conformance.checks.map(\.id))
            if !unknown.isEmpty { fail("--only: unknown check(s) \(unknown.sorted().joined(separator: ", "))") }
        }
        let session = record.map { _ in CaptureSession() }
        let results = CaptureSession.$current.withValue(session) { Conformance.run(factory: factory, version: version, seed: s, replay: replay, only: filter) { r in
            var line = "\(r.verdict.rawValue.rightPad(12)) \(r.check.level.rawValue.rightPad(6)) \(r.check.id.rightPad(30)) \(r.check.summary)\n"
            if r.verdict != .pass {
                for (k, l) in r.detail.split(separator: "\n").enumerated() { line += (k == 0 ? "      -> " : "         ") + l + "\n" }
            }
            if verbose || r.verdict == .inconclusive { line += "      evidence: " + r.evidence.joined(separator: "; ") + "\n" }
            Out.standardOutput.write(line)
        } }
        if let path = record, let session {
            let cap = session.capture
            writeFile(path, cap.pcapng(), what: "--record")
            Out.standardOutput.write("recorded: \(cap.records.count) records on \(session.recorders.count) channels to \(path)\n")
        }
        let report = DefectReport(results)
        let bad = results.filter(\.counts)
        let mustBad = bad.filter { $0.check.level == .must }.count
        let na = results.filter { $0.verdict == .notApplicable }.count
        if bad.isEmpty {
            Out.standardOutput.write("verdict: conforms (\(results.count - na) checks passed\(na > 0 ? ", \(na) not applicable" : ""))\n")
        } else {
            if !report.defects.isEmpty {
                Out.standardOutput.write("defects (each broken rule once, with the check that shows it most directly):\n" + report.text)
            }
            Out.standardOutput.write("verdict: does not conform: \(report.countsLine) (\(mustBad) MUST, \(bad.count - mustBad) SHOULD)\n")
            throw ExitCode(1)
        }
    }
}
