// SPDX-License-Identifier: Apache-2.0
import ArgumentParser
import Foundation
import HVBlob

#if canImport(Glibc)
import Glibc
#endif

/// `hvblob verify-host`: the conformance set for hosts (VSPs) on the host interface.
struct VerifyHost: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify-host",
        abstract: "Check an out-of-process host (VSP) against the host rules: one verdict per rule (MUST / SHOULD).",
        discussion: """
            hvblob is the guest: the Swift model with clients (workload), 1,024 requests in flight, requests \
            left in the ring at close and rescind, pending_send_sz, and hostile packets (--guest-faults). It \
            compares guest memory and both rings before and after every message the host acts on. With \
            --host-exec every scenario gets a fresh host process; with --host-socket one host serves them all. \
            Exit status: 0 conforms, 1 a rule fails or is inconclusive, 2 bad input or no host.
            """
    )

    @OptionGroup var host: HostTarget
    @Option(help: "Seed of the model's workload (decimal or 0x hex).")
    var seed: String = "1"
    @Option(name: .customLong("guest-faults"), help: "Hostile packets to send, comma-separated, 'all' or 'none' (\(HostileGuest.kinds.map(\.name).joined(separator: ", "))).")
    var guestFaults: String = "all"
    @Option(help: "Only these scenarios (comma-separated: workload, load-1024, close, rescind, pending-send-sz, hostile:NAME).")
    var only: String?
    @Flag(help: "Print every finding, not the first three per rule.")
    var verbose = false
    @Option(help: "Print the verdict as a report instead of the running text: \(ConformanceReport.formats.joined(separator: " | ")) (the running text then goes to standard error), as verify does.")
    var format: String = "text"
    @Option(name: .customLong("report"), help: "Also write the report to this file, in the format its name says: .json, .xml (JUnit), .ktap, .html, .txt (repeatable).")
    var reports: [String] = []
    @Option(name: .short, help: "Write what standard output would get (the running text, or --format's report) to this file instead.")
    var output: String?

    func run() throws {
        guard let s = parseSeed(seed) else { fail("--seed: '\(seed)' is not a number") }
        guard host.given else { fail("give the host: --host-exec CMD or --host-socket PATH") }
        let reportFormats = checkReportOptions(format: format, reports: reports)
        if let o = output { checkOutputFile(o, option: "-o") }
        let faults: [String]
        switch guestFaults {
        case "all": faults = HostileGuest.kinds.map(\.name)
        case "none": faults = []
        default:
            faults = guestFaults.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
            var at = 0
            for f in faults {
                if !HostileGuest.kinds.contains(where: { $0.name == f }) {
                    fail("--guest-faults at character \(at): '\(f)' is not a hostile packet (\(HostileGuest.kinds.map(\.name).joined(separator: ", ")))")
                }
                at += f.count + 1
            }
        }
        let names = HostConformance.scenarioNames(guestFaults: faults)
        let filter = only.map { Set($0.split(separator: ",").map(String.init)) }
        if let f = filter {
            let unknown = f.subtracting(names)
            if !unknown.isEmpty { fail("--only: unknown scenario(s) \(unknown.sorted().joined(separator: ", ")) (scenarios: \(names.joined(separator: ", ")))") }
        }
        var shared: HostTarget.Connected?
        var current: HostTarget.Connected?
        var hostName = "?"
        var problems: [String] = []
        let scenarios = HostConformance.run(seed: s, guestFaults: faults, only: filter) { () -> ExternalHostSession? in
            if host.hostSocket != nil {
                if shared == nil {
                    shared = host.connect()
                    hostName = shared!.session.offer.name
                }
                return shared!.session.failure == nil ? shared!.session : nil
            }
            if let c = current { _ = c.finish() }
            switch host.tryConnect() {
            case .success(let c):
                current = c
                hostName = c.session.offer.name
                return c.session
            case .failure(let e):
                problems.append(e.what)
                current = nil
                return nil
            }
        }
        if let c = current { _ = c.finish() }
        if let c = shared { _ = c.finish() }
        let verdicts = HostConformance.verdicts(scenarios)
        let how = host.hostExec.map { "--host-exec '\($0)'" } ?? "--host-socket \(host.hostSocket ?? "")"
        var out = "host: \(hostName) (\(how))\n"
        out += "seed=\(s) guest-faults=\(faults.isEmpty ? "none" : faults.count == HostileGuest.kinds.count ? "all" : faults.joined(separator: ","))\n"
        for sc in scenarios {
            out += "scenario \(sc.name): \(sc.evidence.map { e in e.hasPrefix(sc.name.replacingOccurrences(of: "hostile:", with: "") + ": ") ? String(e.dropFirst(sc.name.replacingOccurrences(of: "hostile:", with: "").count + 2)) : e }.joined(separator: "; "))\n"
        }
        for p in problems.prefix(3) { out += "connection: \(p)\n" }
        let width = HostConformance.rules.map(\.id.count).max() ?? 30
        for v in verdicts {
            out += v.outcome.rawValue.padding(toLength: 13, withPad: " ", startingAt: 0) + v.rule.level.rawValue.padding(toLength: 7, withPad: " ", startingAt: 0)
                + v.rule.id.padding(toLength: width + 2, withPad: " ", startingAt: 0) + v.rule.summary + "\n"
            if v.outcome == .pass {
                out += "      -> shown by \(v.evidence)\n"
            } else if v.outcome == .fail {
                for f in (verbose ? v.findings : Array(v.findings.prefix(3))) { out += "      ! \(f)\n" }
                if !verbose && v.findings.count > 3 { out += "      ! ... \(v.findings.count - 3) more (--verbose)\n" }
                out += "      reproduce: hvblob verify-host \(how) --seed \(s) --only \(HostConformance.failingScenarios(v).joined(separator: ","))\n"
            } else {
                out += "      -> inconclusive: \(v.evidence)\n"
            }
        }
        let fails = verdicts.filter { $0.outcome == .fail }, inconclusive = verdicts.filter { $0.outcome == .inconclusive }
        let pass = verdicts.count - fails.count - inconclusive.count
        if fails.isEmpty && inconclusive.isEmpty {
            out += "verdict: conforms (\(verdicts.count) rules pass, 0 findings)\n"
        } else {
            let must = fails.filter { $0.rule.level == .must }.count
            out += "verdict: does not conform: \(fails.count) rule(s) fail (\(must) MUST, \(fails.count - must) SHOULD), \(inconclusive.count) inconclusive, \(pass) pass\n"
        }
        if format != "text" || !reports.isEmpty {
            let report = HostConformance.report(verdicts, host: hostName, how: how, seed: s, hash: hostHash())
            for (path, f) in zip(reports, reportFormats) {
                writeFile(path, Array((report.render(f) ?? "").utf8), what: "--report")
                Out.standardError.write("report: \(path) (\(f))\n")
            }
            if format != "text" {
                Out.standardError.write(out)
                out = report.render(format) ?? ""
            }
        }
        if let path = output {
            writeFile(path, Array(out.utf8), what: "-o")
        } else {
            Out.standardOutput.write(out)
        }
        if !(fails.isEmpty && inconclusive.isEmpty) { throw ExitCode(1) }
    }

    /// FNV-1a of the host's executable when --host-exec names a file (which host text a report is about).
    func hostHash() -> String? {
        guard let cmd = host.hostExec, let first = cmd.split(separator: " ").first, !cmd.hasPrefix("hvblob") else { return nil }
        return sourceHash(String(first))
    }
}
