// SPDX-License-Identifier: Apache-2.0
import ArgumentParser
import Foundation
import HVBlob
import HVBlobBridge
import Synchronization

struct Explore: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Explore interleavings of ioctls, completions, rescind and remove, and report a failing schedule.",
        discussion: """
            The scenario: N processes hold /dev/azure_blob open and issue one ioctl each; the host \
            may rescind the channel at any step (remove then runs) and delivers its completions. \
            Every step is a scheduling point. A failure prints the seed, a schedule string that \
            --replay reproduces, the minimised schedule and its trace. Exit status: 0 nothing \
            found within the bound/budget, 1 a failing schedule, 2 bad usage.
            """
    )

    @Flag(help: "Explore the Swift model (the default).")
    var model = false
    @Flag(help: "With --model: the model's v5 behaviour.")
    var v5 = false
    @Option(help: "Explore this driver's C code through the bridge instead.")
    var driver: String?
    @Option(name: .customLong("kernel-version"), help: "Kernel API era, 5.13 to 6.3.")
    var kernelVersion: String?
    @Option(help: "Processes, each issuing one ioctl (1...8).")
    var clients: Int = 2
    @Option(help: "dfs (bounded preemptions, exhaustive) | pct | random.")
    var strategy: String = "dfs"
    @Option(help: "Preemption bound for dfs.")
    var bound: Int = 2
    @Option(help: "Depth for pct.")
    var depth: Int = 3
    @Option(help: "Most schedules to run.")
    var budget: Int = 1_000_000
    @Option(help: "Seed for pct and random.")
    var seed: String = "1"
    @Option(help: "Replay this schedule (v1.<clients>.<choices>) and print its trace.")
    var replay: String?
    @Option(help: "Only these findings fail a schedule (comma-separated rules; 'liveness.*' matches a prefix).")
    var rules: String?
    @Option(help: "Findings that never fail a schedule (same syntax).")
    var ignore: String?
    @Option(help: "Write the failing schedule as a Mermaid sequence diagram to this file.")
    var diagram: String?

    /// The driver library, when exploring C code (to resolve call sites with addr2line).
    static let library = Mutex<String?>(nil)

    /// Replaces "@0x<offset>" call sites in trace lines by "function (file:line)".
    func symbolize(_ lines: [String]) -> [String] {
        guard let lib = Explore.library.withLock({ $0 }) else { return lines }
        return symbolizeSites(lines.joined(separator: "\n"), library: lib).components(separatedBy: "\n")
    }

    func run() throws {
        guard let s = parseSeed(seed) else { fail("--seed: '\(seed)' is not a number") }
        guard (1...8).contains(clients) else { fail("--clients: \(clients) is outside 1...8") }
        guard bound >= 0, depth >= 1, budget >= 1 else { fail("--bound, --depth and --budget must be positive") }
        var version = kernelVersion.map(parseKernelVersion) ?? (v5 && driver == nil ? KernelVersion(5, 13) : .default)
        var factory: Explorer.Factory?
        var what = "the Swift model (\(v5 ? "v5" : "fixed") behaviour)"
        if let path = driver {
            let built = buildDriver(path, option: "--driver", version: kernelVersion == nil ? nil : version)
            version = built.version
            what = "\(built.source) (Linux \(built.version) API era)"
            Explore.library.withLock { $0 = built.library }
            factory = BridgedDriver.explorerFactory(built)
        }
        var explorer = Explorer(clients: clients, factory: factory, behavior: v5 ? .v5 : .fixed, version: version)
        explorer.rules = rules.map { $0.split(separator: ",").map(String.init) } ?? []
        explorer.ignore = ignore.map { $0.split(separator: ",").map(String.init) } ?? []
        Out.standardOutput.write("explore: \(what), \(clients) client(s) + rescind + completions\n")
        if let text = replay {
            let schedule: Schedule
            do { schedule = try Schedule(parsing: text) } catch { fail("--replay: \(error)") }
            let o: Explorer.Outcome
            do { o = try explorer.replay(schedule) } catch { fail("--replay: \(error)") }
            report(o, minimised: nil)
            if o.failed { throw ExitCode(1) }
            Out.standardOutput.write("verdict: the schedule runs clean\n")
            return
        }
        let progress: (Int) -> Void = { n in Out.standardError.write("progress: \(n) schedules\n") }
        let summary: Explorer.Summary
        switch strategy {
        case "dfs": summary = try explorer.dfs(bound: bound, budget: budget, progress: progress)
        case "pct": summary = try explorer.pct(seed: s, depth: depth, budget: budget, progress: progress)
        case "random": summary = try explorer.random(seed: s, budget: budget, progress: progress)
        default: fail("--strategy: '\(strategy)' is not dfs, pct or random")
        }
        let rate = summary.seconds > 0 ? Int(Double(summary.schedules) / summary.seconds) : summary.schedules
        Out.standardOutput.write("strategy: \(strategy)\(strategy == "dfs" ? " (preemption bound \(bound))" : " (seed \(s))")\n")
        Out.standardOutput.write("schedules: \(summary.schedules) run, \(summary.distinctStates) distinct interleavings, \(String(format: "%.2f", summary.seconds)) s, \(rate) schedules/s\n")
        if !summary.note.isEmpty { Out.standardOutput.write("\(summary.note)\n") }
        guard let failing = summary.failing else {
            Out.standardOutput.write(summary.exhausted
                ? "verdict: no failing schedule: exhaustive within \(bound) preemption(s)\n"
                : "verdict: no failing schedule within the budget (not exhaustive)\n")
            return
        }
        let small = try explorer.minimise(failing)
        Out.standardOutput.write("seed: \(s)\nschedule: \(failing.schedule)\n")
        report(small, minimised: failing)
        throw ExitCode(1)
    }

    func report(_ o: Explorer.Outcome, minimised from: Explorer.Outcome?) {
        if let from { Out.standardOutput.write("minimised: \(o.schedule) (from \(from.schedule.choices.count) to \(o.schedule.choices.count) steps)\n") }
        Out.standardOutput.write("trace:\n")
        for (i, line) in symbolize(o.trace).enumerated() { Out.standardOutput.write("  \(String(i).leftPad(3))  \(line)\n") }
        if o.failed {
            Out.standardOutput.write("findings:\n")
            for f in o.findings { Out.standardOutput.write("  \(f.rule): \(f.detail)\n") }
            var args = driver.map { "--driver \($0)" } ?? (v5 ? "--v5" : "--model")
            if let r = rules { args += " --rules '\(r)'" }
            if let i = ignore { args += " --ignore '\(i)'" }
            Out.standardOutput.write("replay: hvblob explore \(args) --clients \(clients) --replay \(o.schedule)\n")
        }
        if let path = diagram {
            do { try Explorer.mermaid(o).write(toFile: path, atomically: true, encoding: .utf8) } catch { fail("--diagram: \(error)") }
        }
    }
}
