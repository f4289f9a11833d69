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
    @Flag(help: "The Swift model with v5's behaviour (implies --model).")
    var v5 = false
    @Option(help: "Explore this driver's C code through the bridge instead.")
    var driver: String?
    @Option(name: .customLong("kernel-version"), help: "Kernel API era, \(KernelVersion.supported.lowerBound) to \(KernelVersion.supported.upperBound) (default: 6.1 for the model, 5.13 with --v5; for --driver the newest the driver builds for).")
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
    @Flag(name: .customLong("list-rules"), help: "Print every rule --rules and --ignore may name, and exit.")
    var listRules = false

    /// The driver library, when exploring C code (to resolve call sites with addr2line).
    static let library = Mutex<String?>(nil)

    /// Replaces "@0x<offset>" call sites in trace lines by "function (file:line)".
    func symbolize(_ lines: [String]) -> [String] {
        guard let lib = Explore.library.withLock({ $0 }) else { return lines }
        return symbolizeSites(lines.joined(separator: "\n"), library: lib).components(separatedBy: "\n")
    }

    /// Options that contradict each other or name nothing: exit 2 before anything is built.
    func checkOptions() {
        if driver != nil && v5 { fail("--v5 and --driver exclude each other: --v5 is the Swift model's v5 behaviour, --driver explores C code") }
        if driver != nil && model { fail("--model and --driver exclude each other") }
        if let r = rules { _ = checkNames("--rules", r, known: knownRules, what: "rule", listedBy: "hvblob explore --list-rules") }
        if let i = ignore { _ = checkNames("--ignore", i, known: knownRules, what: "rule", listedBy: "hvblob explore --list-rules") }
        guard ["dfs", "pct", "random"].contains(strategy) else {
            fail("--strategy: '\(strategy)' is not dfs, pct or random\(closeMatches(strategy, ["dfs", "pct", "random"]).map { " (did you mean \($0)?)" } ?? "")")
        }
        if replay != nil {
            for o in ["--strategy", "--bound", "--depth", "--budget", "--seed"] where typed(o) {
                fail("\(o) and --replay exclude each other: a replay runs the one schedule given")
            }
        }
        if strategy != "dfs" && typed("--bound") { fail("--bound is the dfs strategy's; --strategy \(strategy) does not use it") }
        if strategy != "pct" && typed("--depth") { fail("--depth is the pct strategy's; --strategy \(strategy) does not use it") }
        if strategy == "dfs" && typed("--seed") { fail("--seed is for --strategy pct or random; dfs is exhaustive and uses no seed") }
        if let d = diagram { checkOutputFile(d, option: "--diagram") }
    }

    func run() throws {
        if listRules {
            for r in knownRules { Out.standardOutput.write(r + "\n") }
            return
        }
        guard let s = parseSeed(seed) else { fail("--seed: '\(seed)' is not a number (decimal or 0x hex)") }
        guard (1...8).contains(clients) else { fail("--clients: \(clients) is outside 1...8") }
        guard bound >= 0 else { fail("--bound: \(bound) is negative: give a preemption bound of 0 or more") }
        guard depth >= 1 else { fail("--depth: \(depth) is below 1") }
        guard budget >= 1 else { fail("--budget: \(budget) is below 1") }
        checkOptions()
        var version = kernelVersion.map(parseKernelVersion) ?? (v5 && driver == nil ? KernelVersion(5, 13) : .default)
        var factory: Explorer.Factory?
        var what = "the Swift model (\(v5 ? "v5" : "fixed") behaviour)"
        if let path = driver {
            let built = buildDriver(path, option: "--driver", version: kernelVersion == nil ? nil : version)
            version = built.version
            what = "\(shown(built.source)) (Linux \(built.version) API era)"
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
