// SPDX-License-Identifier: Apache-2.0

/// The explorer as part of the conformance verdict: one result per concurrency scenario
/// (`race.rescind-in-flight`, `race.remove-drain`, `race.host-access-until-close`,
/// `race.two-devices`).
///
/// Each scenario gets an equal share of a budget counted in schedules: exhaustive DFS at
/// preemption bound 1 with one client (at most three quarters of the share), then PCT with two
/// clients for the rest. A result FAILs with its schedule-dependent findings (each with its
/// minimised schedule and the command that replays it), and with deterministic findings no
/// check of the conformance set reported; a deterministic finding a check already reported is
/// that check's defect, not a second one. It PASSes only when its scenario really ran (requests
/// in flight at the rescind or remove, a completion during remove, a host access after the
/// rescind), else it is INCONCLUSIVE with the reason.
public enum RaceChecks {
    /// A budget in seconds becomes this many schedules per second: the debug build's rate for
    /// C code through the bridge on a loaded 2-core machine (~450/s measured; a release build
    /// runs ~10x faster). The count, not the clock, bounds the search, so the same budget and
    /// seed give the same search, and the same verdict, on any machine.
    public static let nominalRate = 400
    /// The default budget: 10 s = 4,000 schedules.
    public static let defaultSeconds = 10.0

    public static func schedules(forSeconds seconds: Double) -> Int {
        Int((seconds * Double(nominalRate)).rounded())
    }

    /// The phases one scenario's share runs, for `search(_:total:)`.
    /// Two devices have a client on each: their bound-1 DFS is many times the other scenarios'
    /// (7,391 schedules for the in-tree driver), so it runs at bound 0 and leaves
    /// the interleavings with preemptions to PCT over the same clients.
    public static func phases(share: Int, seed: UInt64, scenario: Explorer.Scenario = .rescindInFlight) -> [Explorer.Phase] {
        let two = scenario == .twoDevices
        return [Explorer.Phase(.dfs(bound: two ? 0 : 1), clients: 1, budget: max(1, share * 3 / 4)),
                Explorer.Phase(.pct(depth: 3, seed: seed), clients: two ? 1 : 2, budget: share)]
    }

    /// The search plan in words, for the budget line.
    public static func planText(seed: UInt64) -> String {
        "each scenario: exhaustive DFS at preemption bound 1 with 1 client (at most 3/4 of its share), then PCT depth 3 with 2 clients, seed \(seed), for the rest; two-devices: bound 0 and 1 client per device in both"
    }

    /// Explores every scenario with `schedules` in all (split evenly).
    public static func explore(factory: DriverRig.Factory?, behavior: DriverBehavior = .fixed, version: KernelVersion,
                               schedules: Int, seed: UInt64, minimiseAttempts: Int = 300,
                               progress: ((Explorer.Scenario, Int) -> Void)? = nil) -> [(Explorer.Scenario, Result<Explorer.Exploration, Error>)] {
        let all = Explorer.Scenario.allCases
        var out: [(Explorer.Scenario, Result<Explorer.Exploration, Error>)] = []
        for (i, sc) in all.enumerated() {
            // An even split; the first scenarios take the remainder.
            let share = schedules / all.count + (i < schedules % all.count ? 1 : 0)
            let e = Explorer(clients: 1, factory: factory, behavior: behavior, version: version, scenario: sc)
            let r = Result { try e.search(phases(share: share, seed: seed, scenario: sc), total: share, minimiseAttempts: minimiseAttempts) { n in progress?(sc, n) } }
            out.append((sc, r))
        }
        return out
    }

    /// The finding's line in a verdict: rule, how often, detail, schedule and replay command.
    static func describe(_ f: Explorer.Finding, of x: Explorer.Exploration, seed: UInt64, replay: String) -> String {
        let s = f.minimised?.schedule ?? f.found
        var t = "\(f.rule) in \(f.schedules) of \(x.schedules) schedules: \(f.detail)"
        if f.deterministic {
            t += " (every schedule of its configuration shows it; no check of the conformance set reported it)"
        } else {
            let phase = x.phases.indices.contains(f.phase) ? x.phases[f.phase].phase : nil
            t += "\nschedule \(s) (\(s == f.found ? "as found" : "minimised from \(f.found)"); found by \(phase.map { "\($0.strategy) with \($0.clients) client\($0.clients == 1 ? "" : "s")" } ?? "?"), verify seed \(seed)\(f.replays == true ? "; replays to it" : f.replays == false ? "; WARNING: the printed schedule did not replay to it" : ""))"
            t += "\nreplay: hvblob explore \(replay) --replay \(s)"
        }
        return t
    }

    /// The verify result of one scenario's exploration. `known`: finding rules the conformance
    /// set's checks reported; `replay`: the explore arguments that select the driver.
    public static func result(_ scenario: Explorer.Scenario, _ run: Result<Explorer.Exploration, Error>,
                              known: Set<String>, seed: UInt64, replay: String) -> Conformance.Result {
        let check = Conformance.Check(id: scenario.checkId, level: .must, summary: scenario.summary, needs: [],
                                      direct: direct(scenario))
        let x: Explorer.Exploration
        switch run {
        case .success(let e): x = e
        case .failure(let error):
            return Conformance.Result(check: check, verdict: .inconclusive, detail: "could not run: \(error)",
                                      evidence: ["0 schedules: the scenario could not be set up (\(error))"],
                                      findings: [:], firstFindings: [:], failedOn: [], hostPackets: 0)
        }
        let failing = x.findings.filter { !$0.deterministic || !known.contains($0.rule.rawValue) }
        let shown = x.deterministic.filter { known.contains($0.rule.rawValue) }
        var evidence = [phasesLine(x)]
        let at = scenario.trigger
        evidence.append("requests in flight at the \(at) in \(x.withInFlight) of \(x.schedules) schedules (at most \(x.mostInFlight)); the \(at) came in \(x.triggered)")
        if scenario == .removeDrain {
            evidence.append("an ioctl returned on its completion while remove ran in \(x.withCompletionDuringRemove) schedules")
        }
        if scenario == .twoDevices {
            evidence.append("requests on the second device in flight at the rescind of the first in \(x.withOtherDeviceInFlight) schedules; one returned while the first's remove ran in \(x.withOtherDeviceCompletionDuringRemove)")
        }
        if scenario == .hostAccess {
            evidence.append("the host touched a held request's pages after the rescind, before vmbus_close returned, in \(x.withHostAccessAfterRescind) schedules")
        }
        evidence.append("\(x.hostReceived) packet(s) reached the host")
        evidence.append("findings: \(x.deterministic.count) deterministic"
                        + (shown.isEmpty ? "" : " (\(shown.map { "\($0.rule) in \($0.schedules)" }.joined(separator: ", ")); reported by the checks above)")
                        + ", \(x.scheduleDependent.count) schedule-dependent")
        var findings: [String: Int] = [:]
        var first: [String: String] = [:]
        for f in failing {
            findings[f.rule.rawValue, default: 0] += f.schedules
            if first[f.rule.rawValue] == nil { first[f.rule.rawValue] = describe(f, of: x, seed: seed, replay: replay).replacingNewlines(with: " | ") }
        }
        let failedOn = Array(Set(failing.map(\.rule.rawValue))).sorted()
        if !failing.isEmpty {
            let detail = failing.map { describe($0, of: x, seed: seed, replay: replay) }.joined(separator: "\n")
            return Conformance.Result(check: check, verdict: .fail, detail: detail, evidence: evidence, findings: findings,
                                      firstFindings: first, failedOn: failedOn, hostPackets: x.hostReceived)
        }
        var why: String?
        if x.hostReceived == 0 {
            why = "no request reached the host in any of the \(x.schedules) schedules"
        } else if x.withInFlight == 0 {
            why = "in none of the \(x.schedules) schedules were requests in flight at the \(at) (it came in \(x.triggered))"
        } else if scenario == .removeDrain && x.withCompletionDuringRemove == 0 {
            why = "in none of the \(x.schedules) schedules did an ioctl return on its completion while remove ran"
        } else if scenario == .twoDevices && x.withOtherDeviceInFlight == 0 {
            why = "in none of the \(x.schedules) schedules was a request on the second device in flight at the rescind of the first"
        } else if scenario == .hostAccess && x.withHostAccessAfterRescind == 0 {
            why = "in none of the \(x.schedules) schedules did the host touch a held request's pages after the rescind"
        }
        if let why {
            return Conformance.Result(check: check, verdict: .inconclusive, detail: "the scenario did not happen: \(why)", evidence: evidence,
                                      findings: [:], firstFindings: [:], failedOn: [], hostPackets: x.hostReceived)
        }
        return Conformance.Result(check: check, verdict: .pass, detail: "", evidence: evidence, findings: [:], firstFindings: [:],
                                  failedOn: [], hostPackets: x.hostReceived)
    }

    static func direct(_ s: Explorer.Scenario) -> [String] {
        switch s {
        case .rescindInFlight: return ["guest.send-on-closed-channel"]
        case .removeDrain: return ["liveness.lost-wakeup"]
        case .hostAccess: return ["pin.released-before-close"]
        case .twoDevices: return ["guest.cross-device-interference"]
        }
    }

    /// "1,333 schedules: DFS at preemption bound 1, 1 client: 240 (exhaustive); PCT …: 1,093".
    public static func phasesLine(_ x: Explorer.Exploration) -> String {
        "\(x.schedules) schedules: " + x.phases.filter { $0.schedules > 0 }.map { p in
            var s = "\(p.phase.strategy) with \(p.phase.clients) client\(p.phase.clients == 1 ? "" : "s")\(x.scenario == .twoDevices ? " per device" : ""): \(p.schedules)"
            if case .dfs = p.phase.strategy { s += p.exhausted ? " (exhaustive)" : " (not exhaustive: its share of the budget ran out)" }
            return s
        }.joined(separator: "; ")
    }
}

extension String {
    func replacingNewlines(with s: String) -> String {
        split(separator: "\n", omittingEmptySubsequences: false).joined(separator: s)
    }
}
