// SPDX-License-Identifier: Apache-2.0

extension Bench {
    /// The pruned exhaustive search against the unpruned one on the same tree (1 client,
    /// rescind-in-flight, no preemption bound): schedules/s and states/s of the pruned walk
    /// beside the unpruned walk's, and the pruning ratio (schedules the unpruned search runs
    /// per schedule the pruned one runs, both exhaustive, the same machine states and end states).
    /// `factory` nil: the model; the C rows need the driver.
    public static func explorePruned(driver: DriverRig.Factory?, version: KernelVersion, label: String, key: String,
                                     budget: Int = 100_000) throws -> [Figure] {
        let e = Explorer(clients: 1, factory: driver, behavior: .fixed, version: driver == nil ? .default : version)
        func walk(_ prune: Bool) throws -> (Explorer.Exploration, Explorer.WalkStats) {
            let x = try e.search([Explorer.Phase(.exhaustive(prune: prune), clients: 1, budget: budget)], minimiseAttempts: 0)
            return (x, x.walk ?? Explorer.WalkStats())
        }
        let (full, fw) = try walk(false)
        let (pruned, pw) = try walk(true)
        let fullRate = Double(full.schedules) / max(full.seconds, 1e-9)
        let prunedRate = Double(pruned.schedules) / max(pruned.seconds, 1e-9)
        let same = pw.finalStates == fw.finalStates && pw.machineStates == fw.machineStates && full.exhaustive && pruned.exhaustive
        return [
            Figure(name: "explore pruned, \(label), 1 client, no bound: schedules/s (\(number(Double(pruned.schedules))) schedules, \(number(Double(pw.cutBySleep + pw.cutBySeen))) cut)",
                   value: prunedRate, unit: "/s", baselineName: "the unpruned walk's rate", baseline: fullRate, goal: "—", key: "\(key).pruned.schedules"),
            Figure(name: "explore pruned, \(label): states/s (\(number(Double(pw.states))) distinct states)",
                   value: Double(pw.states) / max(pruned.seconds, 1e-9), unit: "/s", baselineName: "the unpruned walk's states/s",
                   baseline: Double(fw.states) / max(full.seconds, 1e-9), goal: "—", key: "\(key).pruned.states"),
            Figure(name: "explore pruned, \(label): pruning ratio (\(number(Double(full.schedules))) unpruned schedules per \(number(Double(pruned.schedules))); "
                       + (full.exhaustive && pruned.exhaustive ? "machine states and end states \(same ? "equal" : "DIFFER")" : "a budget of \(number(Double(budget))) stopped a walk: not comparable") + ")",
                   value: Double(full.schedules) / Double(max(pruned.schedules, 1)), unit: "x", baselineName: "no pruning", baseline: 1,
                   goal: "—", key: "\(key).pruned.ratio"),
        ]
    }
}
