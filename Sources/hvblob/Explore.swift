// SPDX-License-Identifier: Apache-2.0
import ArgumentParser
import Foundation
import HVBlob
import HVBlobBridge
import Synchronization

struct Explore: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Explore interleavings of ioctls, completions, rescind, remove and host page accesses, and report every finding.",
        discussion: """
            Scenarios (--scenario): rescind-in-flight (the default: N processes hold /dev/azure_blob \
            open and issue one ioctl each; the host may rescind the channel at any step, remove then \
            runs), remove-drain (remove without a rescind while the host completes what is in flight), \
            host-access-until-close (as rescind-in-flight, and the host touches a held request's pages \
            once at any step before vmbus_close returns), two-devices (the host offers a second \
            device; --clients counts clients per device; the first is rescinded at any step while \
            the second serves), or all. Every step is a scheduling point. \
            The search does not stop at a failing schedule: a finding the unperturbed schedule shows is \
            deterministic (reported once); every other finding is schedule-dependent and printed once \
            with its minimised schedule, which --replay reproduces, and the seed. Exit status: 0 no \
            finding within the bound/budget, 1 findings (or a scenario that could not run), 2 bad usage.
            """
    )

    @Flag(help: "Explore the Swift model (the default).")
    var model = false
    @Flag(help: "The Swift model with v5's behaviour (implies --model).")
    var v5 = false
    @Option(help: "Explore this driver's C code through the bridge instead (a C file, a patch mail or a kernel tree).")
    var driver: String?
    @Option(name: .customLong("kernel-version"), help: "Kernel API era, \(KernelVersion.supported.lowerBound) to \(KernelVersion.supported.upperBound) (default: 6.1 for the model, 5.13 with --v5; for --driver the newest the driver builds for).")
    var kernelVersion: String?
    @Option(help: "rescind-in-flight | remove-drain | host-access-until-close | all.")
    var scenario: String = Explorer.Scenario.rescindInFlight.rawValue
    @Option(help: "Processes, each issuing one ioctl (1...8; default 2, or the replayed schedule's).")
    var clients: Int?
    @Option(help: "dfs (bounded preemptions, exhaustive) | pct | random.")
    var strategy: String = "dfs"
    @Option(help: "Preemption bound for dfs, or 'none': every schedule (see --prune).")
    var bound: String = "2"
    @Flag(help: "With --bound none (implied): cut reorders of independent steps (sleep sets) and states already explored.")
    var prune = false
    @Option(help: "The host's backend: store (each client lists a container) or blob (the Blob service: each client reads a 4 KiB range of a blob in an open fast-path session, every byte checked).")
    var backend: String = "store"
    @Option(help: "With --backend blob: a directory whose files are the blobs (the largest is read); default: blobs generated from seed 1.")
    var blobs: String?
    @Flag(help: "Prune by dynamic partial-order reduction with sleep sets (implies --prune and --bound none): branch only where a race asks for it, without cutting at states already explored.")
    var dpor = false
    var pruned: Bool { prune || dpor }
    var pruneOption: String { dpor ? "--dpor" : "--prune" }
    @Flag(name: .customLong("no-state-hashing"), help: "With --prune: cut only at trace digests, not at machine states already explored (the model's; to measure what that saves).")
    var noStateHashing = false
    @Option(help: "Run part i of n of an exhaustive search (1-based: 1/4 ... 4/4; implies --bound none); needs --result.")
    var shard: String?
    @Option(help: "Write the search's result (schedules, states, findings with their schedules, seed, driver hash) to this JSON file.")
    var result: String?
    @Option(parsing: .upToNextOption, help: "Combine the --result files of every shard of one search and print the merged result.")
    var merge: [String] = []
    @Option(help: "Depth for pct.")
    var depth: Int = 3
    @Option(help: "Most schedules to run (per scenario).")
    var budget: Int = 1_000_000
    @Option(help: "Seed for pct and random.")
    var seed: String = "1"
    @Option(help: "Replay this schedule (v1.<clients>[<scenario>].<choices>) and print its trace.")
    var replay: String?
    @Option(help: "Only these findings count (comma-separated rules; 'liveness.*' matches a prefix).")
    var rules: String?
    @Option(help: "Findings that never count (same syntax).")
    var ignore: String?
    @Option(help: "Write the first schedule-dependent finding's minimised schedule as a Mermaid sequence diagram to this file.")
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
        if strategy != "dfs" && (pruned || shard != nil) {
            fail("\(pruned ? pruneOption : "--shard") is for the exhaustive dfs strategy; --strategy \(strategy) draws its schedules")
        }
        if dpor && shard != nil { fail("--dpor and --shard exclude each other: a race found in one shard adds a branch in another's part") }
        if dpor && noStateHashing { fail("--no-state-hashing is for --prune's cut at states already explored; --dpor cuts none") }
        if pruned && bound != "none" && typed("--bound") {
            fail("\(pruneOption) and --bound \(bound) exclude each other: a sleep set with a preemption bound is not sound (give --bound none)")
        }
        if shard != nil && bound != "none" && typed("--bound") {
            fail("--shard splits the search with no preemption bound; --bound \(bound) excludes it (give --bound none)")
        }
        if shard != nil && result == nil { fail("--shard needs --result FILE: the merge (--merge) reads each shard's file") }
        if replay != nil && (pruned || shard != nil) { fail("\(pruned ? pruneOption : "--shard") and --replay exclude each other") }
        if let r = result { checkOutputFile(r, option: "--result") }
        if strategy != "pct" && typed("--depth") { fail("--depth is the pct strategy's; --strategy \(strategy) does not use it") }
        if strategy == "dfs" && typed("--seed") { fail("--seed is for --strategy pct or random; dfs is exhaustive and uses no seed") }
        if let d = diagram { checkOutputFile(d, option: "--diagram") }
    }

    func say(_ text: String) { Out.standardOutput.write(symbolize([text]).joined(separator: "\n")) }

    func run() throws {
        if listRules {
            for r in knownRules { Out.standardOutput.write(r + "\n") }
            return
        }
        guard let s = parseSeed(seed) else { fail("--seed: '\(seed)' is not a number (decimal or 0x hex)") }
        if let c = clients, !(1...8).contains(c) { fail("--clients: \(c) is outside 1...8") }
        if !merge.isEmpty { return try runMerge() }
        let unbounded = bound == "none" || (pruned && !typed("--bound")) || (shard != nil && !typed("--bound"))
        let boundValue: Int
        if unbounded {
            boundValue = 0
        } else if let b = Int(bound) {
            guard b >= 0 else { fail("--bound: \(b) is negative: give a preemption bound of 0 or more, or none") }
            boundValue = b
        } else {
            fail("--bound: '\(bound)' is not a number or none")
        }
        var shardSpec: ShardSpec?
        if let text = shard {
            do { shardSpec = try ShardSpec(parsing: text) } catch { fail("--shard: \(error)") }
        }
        guard depth >= 1 else { fail("--depth: \(depth) is below 1") }
        guard budget >= 1 else { fail("--budget: \(budget) is below 1") }
        checkOptions()
        let scenarios: [Explorer.Scenario]
        if scenario == "all" {
            scenarios = Explorer.Scenario.allCases
        } else if let one = Explorer.Scenario(rawValue: scenario) {
            scenarios = [one]
        } else {
            fail("--scenario: '\(scenario)' is not \(Explorer.Scenario.allCases.map(\.rawValue).joined(separator: ", ")) or all")
        }
        let strat: Explorer.Strategy
        switch strategy {
        case "dfs": strat = unbounded ? .exhaustive(prune: pruned) : .dfs(bound: boundValue)
        case "pct": strat = .pct(depth: depth, seed: s)
        case "random": strat = .random(seed: s)
        default: fail("--strategy: '\(strategy)' is not dfs, pct or random")
        }
        var version = kernelVersion.map(parseKernelVersion) ?? (v5 && driver == nil ? KernelVersion(5, 13) : .default)
        var factory: Explorer.Factory?
        var what = "the Swift model (\(v5 ? "v5" : "fixed") behaviour)"
        if let path = driver {
            if model || v5 { fail("--driver and \(model ? "--model" : "--v5") exclude each other") }
            let built = buildDriver(path, option: "--driver", version: kernelVersion == nil ? nil : version)
            version = built.version
            what = "\(shown(built.source)) (Linux \(built.version) API era)"
            Explore.library.withLock { $0 = built.library }
            factory = BridgedDriver.explorerFactory(built)
        }
        var explorer = Explorer(clients: clients ?? 2, factory: factory, behavior: v5 ? .v5 : .fixed, version: version)
        explorer.stateHashing = !noStateHashing
        explorer.dpor = dpor
        let (chosenBackend, dirBlobs) = parseBackend(backend, blobs: blobs)
        if chosenBackend == .blob { explorer.blobs = dirBlobs ?? BlobService.generatedBlobs(seed: 1) }
        explorer.shard = shardSpec
        var parts: [ShardResult.Part] = []
        explorer.rules = rules.map { $0.split(separator: ",").map(String.init) } ?? []
        explorer.ignore = ignore.map { $0.split(separator: ",").map(String.init) } ?? []
        if let text = replay {
            let schedule: Schedule
            do { schedule = try Schedule(parsing: text) } catch { fail("--replay: \(error)") }
            if let c = clients, c != schedule.clients { fail("--replay: the schedule is for \(schedule.clients) client(s), --clients says \(c)") }
            explorer.clients = schedule.clients
            explorer.scenario = schedule.scenario
            Out.standardOutput.write("explore: \(what), scenario \(schedule.scenario), \(schedule.clients) client(s)\n")
            let o: Explorer.Outcome
            do { o = try explorer.replay(schedule) } catch { fail("--replay: \(error)") }
            report(o, explorer: explorer)
            if o.failed { throw ExitCode(1) }
            Out.standardOutput.write("verdict: the schedule runs clean\n")
            return
        }
        var found = 0, unavailable = 0
        var diagramWritten = false
        for sc in scenarios {
            explorer.scenario = sc
            Out.standardOutput.write("explore: \(what), scenario \(sc), \(explorer.clients) client(s)\(explorer.blobs != nil ? ", host backend: the Blob service" : "")\n")
            // Progress is for a person watching a terminal, not for logs and pipes.
            let tty = isatty(2) != 0
            let progress: (Int) -> Void = { n in if tty { Out.standardError.write("progress: \(sc): \(n) schedules\n") } }
            let x: Explorer.Exploration
            do {
                x = try explorer.search([Explorer.Phase(strat, clients: explorer.clients, budget: budget)], progress: progress)
            } catch let e as Explorer.ScenarioUnavailable {
                // Not bad usage: the driver cannot be put in this scenario, which is itself
                // a result (inconclusive: the scenario did not happen).
                Out.standardOutput.write("scenario could not run (inconclusive): \(e)\n")
                unavailable += 1
                continue
            }
            let p = x.phases.first
            let rate = x.seconds > 0 ? Int(Double(x.schedules) / x.seconds) : x.schedules
            let how = dpor ? "DFS with no preemption bound, pruned (DPOR with sleep sets)" : "\(strat)"
            Out.standardOutput.write("strategy: \(how)\(shardSpec.map { ", shard \($0)" } ?? "")\n")
            let end = p?.exhausted == true ? (unbounded ? "exhaustive\(shardSpec == nil ? "" : " in this shard")" : "exhaustive within \(bound) preemption(s)")
                : "not exhaustive: the budget of \(budget) schedules was reached"
            Out.standardOutput.write("schedules: \(x.schedules) run (\(strategy == "dfs" ? end : "budget \(budget)")), \(String(format: "%.2f", x.seconds)) s, \(rate) schedules/s\n")
            if let w = x.walk {
                let srate = x.seconds > 0 ? Int(Double(w.states) / x.seconds) : w.states
                Out.standardOutput.write("cut: \(w.cutBySleep) by sleep sets, \(w.cutBySeen) by states already explored; states: \(w.states) distinct (\(srate)/s)"
                                         + (w.machineStates > 0 ? ", \(w.machineStates) distinct machine states" : "")
                                         + ", \(w.finalStates.count) distinct end states; steps run: \(w.steps)\n")
            }
            parts.append(ShardResult.part(x, clients: explorer.clients))
            Out.standardOutput.write("scenario ran: requests in flight at the \(sc == .removeDrain ? "remove" : "rescind") in \(x.withInFlight) schedules (at most \(x.mostInFlight))"
                                     + (sc == .removeDrain ? "; an ioctl completed while remove ran in \(x.withCompletionDuringRemove)" : "")
                                     + (sc == .hostAccess ? "; a host access after the rescind, before vmbus_close, in \(x.withHostAccessAfterRescind)" : "")
                                     + (sc == .twoDevices ? "; requests on the second device in flight then in \(x.withOtherDeviceInFlight), one returned while the first's remove ran in \(x.withOtherDeviceCompletionDuringRemove)" : "")
                                     + (explorer.blobs != nil ? "; Blob service reads that returned the blob's bytes, checked: \(x.blobReadsChecked)" : "") + "\n")
            if explorer.blobs != nil && x.blobReadsChecked == 0 {
                Out.standardOutput.write("scenario could not run (inconclusive): no read came back from the Blob service with the blob's bytes\n")
                unavailable += 1
            }
            Out.standardOutput.write("findings: \(x.findings.count) distinct: \(x.deterministic.count) deterministic, \(x.scheduleDependent.count) schedule-dependent\n")
            for f in x.deterministic {
                say("  deterministic: \(f.rule) (in \(f.schedules) of \(x.schedules) schedules, the unperturbed one among them): \(f.detail)\n")
            }
            for f in x.scheduleDependent {
                guard let m = f.minimised else { continue }
                say("  schedule-dependent: \(f.rule) (in \(f.schedules) of \(x.schedules) schedules): \(f.detail)\n")
                Out.standardOutput.write("    seed: \(s)\n    schedule: \(f.found) (found)\n")
                Out.standardOutput.write("    minimised: \(m.schedule)\(f.replays == true ? " (replays to it)" : " (WARNING: did not replay to it)")\n")
                Out.standardOutput.write("    replay: hvblob explore \(args) --replay \(m.schedule)\n")
                Out.standardOutput.write("    trace:\n")
                for (i, line) in symbolize(m.trace).enumerated() { Out.standardOutput.write("      \(String(i).leftPad(3))  \(line)\n") }
                if let path = diagram, !diagramWritten {
                    diagramWritten = true
                    do { try Explorer.mermaid(m).write(toFile: path, atomically: true, encoding: .utf8) } catch { fail("--diagram: \(error)") }
                }
            }
            found += x.findings.count
        }
        if let path = result {
            let r = ShardResult(driver: what, driverHash: driverHash(factory: factory), options: canonicalOptions(version: version, unbounded: unbounded),
                                seed: s, shard: shardSpec, parts: parts)
            do { try r.json.write(toFile: path, atomically: true, encoding: .utf8) } catch { fail("--result: cannot write \(path): \(error)") }
            Out.standardOutput.write("result: \(path)\n")
        }
        if found == 0 && unavailable > 0 {
            Out.standardOutput.write("verdict: inconclusive: \(unavailable) scenario(s) could not run\n")
            throw ExitCode(1)
        }
        if found == 0 {
            Out.standardOutput.write(strategy != "dfs" ? "verdict: no finding within the budget\n"
                                     : unbounded ? "verdict: no finding (in every schedule, or within the budget)\n"
                                     : "verdict: no finding (within \(bound) preemption(s) or the budget)\n")
            return
        }
        Out.standardOutput.write("verdict: \(found) distinct finding(s)\n")
        throw ExitCode(1)
    }

    /// A digest of the code under test: the C driver's library, or the model's behaviour.
    func driverHash(factory: Explorer.Factory?) -> String {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        func add(_ bytes: some Sequence<UInt8>) { for b in bytes { h ^= UInt64(b); h &*= 0x100_0000_01b3 } }
        if let lib = Explore.library.withLock({ $0 }), let data = FileManager.default.contents(atPath: lib) {
            add(data)
        } else {
            add("model \(v5 ? "v5" : "fixed")".utf8)
        }
        return String(h, radix: 16)
    }

    /// Every option that shapes the search, in one canonical string (the shard left out).
    func canonicalOptions(version: KernelVersion, unbounded: Bool) -> String {
        ["scenario=\(scenario)", "clients=\(clients ?? 2)", "strategy=\(strategy)", "bound=\(unbounded ? "none" : bound)",
         "prune=\(prune)", "backend=\(backend)", "blobs=\(blobs ?? "")", "depth=\(depth)", "budget=\(budget)", "kernel=\(version)", "rules=\(rules ?? "")", "ignore=\(ignore ?? "")"]
            .joined(separator: " ")
    }

    /// --merge: the combined result of every shard's file.
    func runMerge() throws {
        for o in ["--driver", "--model", "--v5", "--shard", "--replay", "--result", "--scenario", "--clients", "--budget", "--bound", "--prune", "--dpor", "--strategy", "--seed"] where typed(o) {
            fail("--merge and \(o) exclude each other: the shards' files say what was searched")
        }
        var read: [(name: String, result: ShardResult)] = []
        for path in merge {
            guard let data = FileManager.default.contents(atPath: path) else { fail("--merge: cannot read '\(path)'") }
            do { read.append((path, try ShardResult(json: Array(data), name: path))) } catch { fail("--merge: \(error)") }
        }
        let m: ShardResult
        do { m = try ShardResult.merge(read) } catch { fail("--merge: \(error)") }
        Out.standardOutput.write("merge: \(read.count) result(s) of \(m.shardCount) shard(s): \(m.driver) (driver hash \(m.driverHash)), seed \(m.seed)\n")
        Out.standardOutput.write("options: \(m.options)\n")
        var found = 0
        for p in m.parts {
            Out.standardOutput.write("scenario \(p.scenario), \(p.clients) client(s): \(p.strategy)\n")
            Out.standardOutput.write("schedules: \(p.schedules) run (\(p.exhaustive ? "exhaustive" : "not exhaustive: a shard's budget was reached")); cut: \(p.cutBySleep) by sleep sets, \(p.cutBySeen) by states already explored; states: at most \(p.states) distinct, \(p.finalStates.count) distinct end states\n")
            Out.standardOutput.write("findings: \(p.findings.count) distinct\n")
            for f in p.findings {
                say("  \(f.deterministic ? "deterministic" : "schedule-dependent"): \(f.rule) (in \(f.schedules) of \(p.schedules) schedules): \(f.detail)\n")
                if !f.deterministic {
                    Out.standardOutput.write("    schedule: \(f.found) (found)\(f.minimised.map { "; minimised: \($0)\(f.replays == true ? " (replays to it)" : " (WARNING: did not replay to it)")" } ?? "")\n")
                }
            }
            found += p.findings.count
        }
        if found == 0 {
            Out.standardOutput.write("verdict: no finding in any shard\n")
            return
        }
        Out.standardOutput.write("verdict: \(found) distinct finding(s)\n")
        throw ExitCode(1)
    }

    /// The arguments that select the same driver and findings.
    var args: String {
        var a = driver.map { "--driver \($0)" } ?? (v5 ? "--v5" : "--model")
        if let k = kernelVersion { a += " --kernel-version \(k)" }
        if let r = rules { a += " --rules '\(r)'" }
        if let i = ignore { a += " --ignore '\(i)'" }
        return a
    }

    func report(_ o: Explorer.Outcome, explorer: Explorer) {
        Out.standardOutput.write("trace:\n")
        for (i, line) in symbolize(o.trace).enumerated() { Out.standardOutput.write("  \(String(i).leftPad(3))  \(line)\n") }
        if o.failed {
            Out.standardOutput.write("findings:\n")
            for f in o.findings { say("  \(f.rule): \(f.detail)\n") }
            Out.standardOutput.write("replay: hvblob explore \(args) --replay \(o.schedule)\n")
        }
        if let path = diagram {
            do { try Explorer.mermaid(o).write(toFile: path, atomically: true, encoding: .utf8) } catch { fail("--diagram: \(error)") }
        }
    }
}

// MARK: verify's race results (issue 11): the explorer after the conformance set

extension Verify {
    /// Runs the explorer over verify's concurrency scenarios and prints one result per
    /// scenario; nil when --no-explore (or --only) leaves it out. `factory`: the driver as the
    /// checks ran it (nil: the model); `replay`: the simulate arguments selecting it.
    func raceResults(factory: DriverRig.Factory?, version: KernelVersion, seed: UInt64, replay: String,
                     checks: [Conformance.Result]) -> [Conformance.Result]? {
        if noExplore { return nil }
        if only != nil {
            say("explore: skipped (--only selects checks; hvblob explore runs the scenarios alone)\n")
            return nil
        }
        let seconds = exploreBudget.flatMap(Double.init) ?? RaceChecks.defaultSeconds
        let total = exploreSchedules ?? RaceChecks.schedules(forSeconds: seconds)
        say("explore: budget \(exploreSchedules != nil ? "" : "\(fmtSeconds(seconds)) s = ")\(total) schedules over \(Explorer.Scenario.allCases.count) scenarios"
            + (exploreSchedules != nil ? "" : " (at a nominal \(RaceChecks.nominalRate) schedules/s: the count, not the clock, bounds the search)")
            + "; \(RaceChecks.planText(seed: seed))\n")
        let clock = ContinuousClock(), start = clock.now
        let runs = RaceChecks.explore(factory: preempting(factory), version: version, schedules: total, seed: seed)
        let elapsed = clock.now - start
        let known = Set(checks.flatMap { $0.findings.keys })
        let exploreArgs = (factory == nil ? "--model " : "") + replay.replacingOccurrences(of: "--c-driver ", with: "--driver ")
        var out: [Conformance.Result] = []
        var ran = 0
        for (sc, run) in runs {
            if case .success(let x) = run { ran += x.schedules }
            let r = RaceChecks.result(sc, run, known: known, seed: seed, replay: exploreArgs)
            var line = "\(r.verdict.rawValue.rightPad(12)) \(r.check.level.rawValue.rightPad(6)) \(r.check.id.rightPad(30)) \(r.check.summary)\n"
            if r.verdict != .pass {
                for (k, l) in r.detail.split(separator: "\n").enumerated() { line += (k == 0 ? "      -> " : "         ") + l + "\n" }
            }
            line += "      evidence: " + r.evidence.joined(separator: "; ") + "\n"
            say(line)
            out.append(r)
        }
        let secs = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        say("explore: \(ran) schedules in \(fmtSeconds(secs)) s (\(secs > 0 ? Int(Double(ran) / secs) : ran) schedules/s); the same search: --seed \(seed) --explore-schedules \(total)\n")
        return out
    }

    /// The race options, checked before any check runs (bad input: exit 2, naming the option).
    func validateExplore() {
        if let b = exploreBudget, !((Double(b) ?? 0) > 0 && (Double(b) ?? 0) <= 86_400) {
            fail("--explore-budget: '\(b)' is not a number of seconds in (0, 86400]")
        }
        if let n = exploreSchedules, n < Explorer.Scenario.allCases.count {
            fail("--explore-schedules: \(n) is fewer than one schedule per scenario (\(Explorer.Scenario.allCases.count))")
        }
        if exploreBudget != nil && exploreSchedules != nil { fail("--explore-budget and --explore-schedules exclude each other") }
        if noExplore && (exploreBudget != nil || exploreSchedules != nil) {
            fail("--no-explore and --explore-\(exploreBudget != nil ? "budget" : "schedules") exclude each other")
        }
    }

    func fmtSeconds(_ s: Double) -> String { String(format: s < 10 ? "%.2f" : "%.1f", s) }
}
