// SPDX-License-Identifier: Apache-2.0
import Foundation
import HVBlob
import HVBlobBridge
import Testing

/// Races as part of the verdict (issue 11): the explorer classifies findings as deterministic
/// (the unperturbed schedule shows them) or schedule-dependent and keeps searching past the
/// first; verify turns each scenario's exploration into one result. Nested in the bridge's
/// serialized suite: one bridged driver is live per process at a time.
extension BridgeTests {
    @Suite("Races in verify", .serialized)
    struct ExploreVerifyTests {
        static let share = RaceChecks.schedules(forSeconds: RaceChecks.defaultSeconds) / Explorer.Scenario.allCases.count

        /// The posted v5, through the path `verify --patch` takes; nil (a recorded issue under
        /// CI=true) when ../shared/revisions is missing.
        static func v5() throws -> DriverBuild.Built? {
            guard let mail = RevisionTests.mail("v5.eml") else { return nil }
            return try DriverBuild.build(DriverSource.resolve(URL(fileURLWithPath: mail)), version: nil)
        }

        /// A copy of the in-tree driver with `edits` (each text must be there) applied, built.
        static func mutant(_ name: String, _ edits: [(String, String)]) throws -> DriverBuild.Built {
            let root = DriverBuild.repositoryRoot.appendingPathComponent("kernel")
            let dir = FileManager.default.temporaryDirectory.appendingPathComponent("hvblob-race-\(name)-\(getpid())/kernel")
            let uapi = dir.appendingPathComponent("include/uapi/misc")
            try FileManager.default.createDirectory(at: uapi, withIntermediateDirectories: true)
            for f in ["hv_azure_blob_vsp.h", "include/uapi/misc/hv_azure_blob.h"] {
                let to = dir.appendingPathComponent(f)
                try? FileManager.default.removeItem(at: to)
                try FileManager.default.copyItem(at: root.appendingPathComponent(f), to: to)
            }
            var text = try String(contentsOf: root.appendingPathComponent("hv_azure_blob.c"), encoding: .utf8)
            for (from, to) in edits {
                try #require(text.contains(from), "kernel/hv_azure_blob.c no longer contains the text the \(name) mutant changes: \(from)")
                text = text.replacingOccurrences(of: from, with: to)
            }
            let file = dir.appendingPathComponent("hv_azure_blob.c")
            try text.write(to: file, atomically: true, encoding: .utf8)
            return try DriverBuild.build(driver: file)
        }

        static func explore(_ built: DriverBuild.Built, _ scenario: Explorer.Scenario, share: Int = share) throws -> Explorer.Exploration {
            try Explorer(clients: 1, factory: BridgedDriver.explorerFactory(built), version: built.version, scenario: scenario)
                .search(RaceChecks.phases(share: share, seed: 1, scenario: scenario), total: share, minimiseAttempts: 200)
        }

        /// The finding of `rule` is schedule-dependent, and its printed, minimised schedule replays to it.
        static func expectReplayable(_ x: Explorer.Exploration, _ rule: Rule, _ e: Explorer) throws {
            let f = try #require(x.scheduleDependent.first { $0.rule == rule },
                                 "no schedule-dependent \(rule): \(x.findings.map { "\($0.key) det=\($0.deterministic)" })")
            let m = try #require(f.minimised)
            #expect(f.replays == true)
            var again = e
            again.clients = m.schedule.clients
            let replayed = try again.replay(try Schedule(parsing: m.schedule.description))
            #expect(replayed.keys.contains(f.key), "\(m.schedule) replays to \(replayed.keys)")
            #expect(replayed.trace == m.trace)
        }

        @Test("race.in-tree: the in-tree C driver in the default budget: every scenario ran, 0 findings, every race result PASS")
        func inTree() throws {
            let built = try DriverBuild.build(driver: DriverBuild.inTreeDriver)
            let total = RaceChecks.schedules(forSeconds: RaceChecks.defaultSeconds)
            let runs = RaceChecks.explore(factory: BridgedDriver.explorerFactory(built), version: built.version, schedules: total, seed: 1)
            #expect(runs.map(\.0) == Explorer.Scenario.allCases)
            var ran = 0
            for (sc, run) in runs {
                let x = try run.get()
                ran += x.schedules
                #expect(x.findings.isEmpty, "\(sc): \(x.findings.map { "\($0.rule): \($0.detail)" })")
                #expect(x.withInFlight > 0, "\(sc): never a request in flight at the \(sc == .removeDrain ? "remove" : "rescind")")
                #expect(x.phases.first?.exhausted == true, "\(sc): 1-client DFS at bound 1 not exhaustive in its share")
                let r = RaceChecks.result(sc, run, known: [], seed: 1, replay: "--driver kernel/hv_azure_blob.c")
                #expect(r.verdict == .pass, "\(sc): \(r.verdict) \(r.detail) \(r.evidence)")
            }
            #expect(ran == total)
        }

        @Test("race.v5-c: posted v5 (as verify --patch builds it): the rescind race is schedule-dependent beside its deterministic pin defect, and replays")
        func v5C() throws {
            guard let built = try ExploreVerifyTests.v5() else { return }
            let e = Explorer(clients: 1, factory: BridgedDriver.explorerFactory(built), version: built.version, scenario: .rescindInFlight)
            let x = try ExploreVerifyTests.explore(built, .rescindInFlight)
            #expect(x.deterministic.contains { $0.rule == "pin.host-write-without-write-intent" },
                    "\(x.findings.map { "\($0.key) det=\($0.deterministic)" })")
            try ExploreVerifyTests.expectReplayable(x, "guest.send-on-closed-channel", e)
            // With the checks having reported the pin defect, the race result fails on the race only.
            let r = RaceChecks.result(.rescindInFlight, .success(x), known: ["pin.host-write-without-write-intent", "guest.dentry-leak"],
                                      seed: 1, replay: "--driver v5.eml")
            #expect(r.verdict == .fail)
            #expect(r.failedOn.contains("guest.send-on-closed-channel") && !r.failedOn.contains("pin.host-write-without-write-intent"), "\(r.failedOn)")
            #expect(r.detail.contains("replay: hvblob explore --driver v5.eml --replay v1.1."), "\(r.detail)")
        }

        @Test("race.defects: a deterministic finding a check reported stays one defect; the race is a defect of its own")
        func defects() throws {
            guard let built = try ExploreVerifyTests.v5() else { return }
            let checks = Conformance.run(factory: { machine in try BridgedDriver(built, machine: machine) }, version: built.version,
                                         only: ["ioctl.pin.write-intent"])
            #expect(checks.first?.verdict == .fail)
            let known = Set(checks.flatMap { $0.findings.keys })
            #expect(known.contains("pin.host-write-without-write-intent"))
            let x = try ExploreVerifyTests.explore(built, .rescindInFlight, share: 300)
            let race = RaceChecks.result(.rescindInFlight, .success(x), known: known, seed: 1, replay: "")
            let report = DefectReport(checks + [race])
            let rules = report.defects.map(\.rule)
            #expect(rules.filter { $0 == "pin.host-write-without-write-intent" }.count == 1, "\(rules)")
            #expect(report.defects.first { $0.rule == "pin.host-write-without-write-intent" }?.shownBy == "ioctl.pin.write-intent")
            #expect(report.defects.first { $0.rule == "guest.send-on-closed-channel" }?.shownBy == "race.rescind-in-flight", "\(report.text)")
        }

        @Test("race.v5-model: the Swift model with v5's behaviour: the same race, schedule-dependent beside deterministic findings; a deterministic finding no check reported fails the result")
        func v5Model() throws {
            let e = Explorer(clients: 1, factory: nil, behavior: .v5, version: KernelVersion(5, 13), scenario: .rescindInFlight)
            let x = try e.search(RaceChecks.phases(share: ExploreVerifyTests.share, seed: 1), total: ExploreVerifyTests.share)
            #expect(x.deterministic.map(\.rule) == ["pin.host-write-without-write-intent"], "\(x.findings.map { "\($0.key) det=\($0.deterministic)" })")
            #expect(x.schedules == ExploreVerifyTests.share)
            try ExploreVerifyTests.expectReplayable(x, "guest.send-on-closed-channel", e)
            #expect(x.scheduleDependent.contains { $0.rule == "liveness.remove-hang" })
            let alone = RaceChecks.result(.rescindInFlight, .success(x), known: [], seed: 1, replay: "--v5")
            #expect(alone.failedOn.contains("pin.host-write-without-write-intent"))
            let after = RaceChecks.result(.rescindInFlight, .success(x), known: ["pin.host-write-without-write-intent"], seed: 1, replay: "--v5")
            #expect(!after.failedOn.contains("pin.host-write-without-write-intent") && after.verdict == .fail)
        }

        @Test("race.fixed-model: the corrected model is clean in every scenario, each of which ran")
        func fixedModel() throws {
            for (sc, run) in RaceChecks.explore(factory: nil, version: .default, schedules: 1_500, seed: 3) {
                let x = try run.get()
                #expect(x.findings.isEmpty, "\(sc): \(x.findings.map { "\($0.rule): \($0.detail) \($0.minimised?.schedule.description ?? "")" })")
                #expect(RaceChecks.result(sc, run, known: [], seed: 3, replay: "").verdict == .pass)
            }
        }

        @Test("race.determinism: the same seed and budget give the same search and the same results, byte for byte")
        func determinism() throws {
            func once() -> [String] {
                RaceChecks.explore(factory: nil, behavior: .v5, version: KernelVersion(5, 13), schedules: 900, seed: 7).map { sc, run in
                    let r = RaceChecks.result(sc, run, known: [], seed: 7, replay: "--v5")
                    return "\(r.check.id) \(r.verdict) \(r.detail) \(r.evidence)"
                }
            }
            let a = once(), b = once()
            #expect(a == b)
            #expect(a.allSatisfy { $0.contains("schedule v1.") })
        }

        @Test("race.lost-wakeup: a copy of the in-tree driver whose dequeue never wakes remove's drain fails race.remove-drain")
        func lostWakeup() throws {
            let built = try ExploreVerifyTests.mutant("lost-wakeup", [("\tif (list_empty(&dev->pending_requests))\n\t\twake_up(&dev->waiting_to_drain);\n", "")])
            let x = try ExploreVerifyTests.explore(built, .removeDrain, share: 400)
            let e = Explorer(clients: 1, factory: BridgedDriver.explorerFactory(built), version: built.version, scenario: .removeDrain)
            try ExploreVerifyTests.expectReplayable(x, "liveness.lost-wakeup", e)
            let r = RaceChecks.result(.removeDrain, .success(x), known: [], seed: 1, replay: "")
            #expect(r.verdict == .fail && r.failedOn.contains("liveness.lost-wakeup"), "\(r.detail)")
        }

        @Test("race.released-before-close: a copy that fails pending requests before vmbus_close fails race.host-access-until-close")
        func releasedBeforeClose() throws {
            let built = try ExploreVerifyTests.mutant("fail-before-close", [(
                "\tvmbus_close(hdev->channel);\n\thv_set_drvdata(hdev, NULL);\n\taz_blob_cap_event(dev, AZ_BLOB_CAP_CLOSE);\n\taz_blob_fail_pending(dev);\n",
                "\taz_blob_fail_pending(dev);\n\tvmbus_close(hdev->channel);\n\thv_set_drvdata(hdev, NULL);\n\taz_blob_cap_event(dev, AZ_BLOB_CAP_CLOSE);\n")])
            let x = try ExploreVerifyTests.explore(built, .hostAccess, share: 600)
            let e = Explorer(clients: 1, factory: BridgedDriver.explorerFactory(built), version: built.version, scenario: .hostAccess)
            try ExploreVerifyTests.expectReplayable(x, "pin.released-before-close", e)
        }

        @Test("race.two-devices: a copy whose removing flag is one for the module, not one per device, fails race.two-devices: the second device refuses requests once the first is removed")
        func twoDevicesSharedFlag() throws {
            let built = try ExploreVerifyTests.mutant("shared-removing", [
                ("static struct dentry *az_blob_debugfs_root;\n", "static struct dentry *az_blob_debugfs_root;\nstatic bool az_blob_removing;\n"),
                ("READ_ONCE(dev->removing)", "READ_ONCE(az_blob_removing)"),
                ("WRITE_ONCE(dev->removing, true)", "WRITE_ONCE(az_blob_removing, true)")])
            let x = try ExploreVerifyTests.explore(built, .twoDevices, share: 200)
            #expect(x.withOtherDeviceInFlight > 0, "the scenario never had a request on the second device in flight at the rescind")
            let f = try #require(x.findings.first { $0.rule == "guest.cross-device-interference" }, "\(x.findings.map(\.key))")
            #expect(f.detail.contains("returned ENODEV"), "\(f.detail)")
            let r = RaceChecks.result(.twoDevices, .success(x), known: [], seed: 1, replay: "")
            #expect(r.verdict == .fail && r.failedOn == ["guest.cross-device-interference"], "\(r.verdict) \(r.detail)")
        }

        @Test("race.two-devices-unavailable: a driver whose second probe fails cannot run the scenario: INCONCLUSIVE with the probe's errno, never a pass")
        func twoDevicesUnavailable() throws {
            let built = try ExploreVerifyTests.mutant("one-name", [
                ("\tif (dev->id)\n\t\tsnprintf(dev->name, sizeof(dev->name), \"azure_blob%d\", dev->id);\n\telse\n\t\tstrscpy", "\tstrscpy")])
            let run = Result { try ExploreVerifyTests.explore(built, .twoDevices, share: 20) }
            let r = RaceChecks.result(.twoDevices, run, known: [], seed: 1, replay: "")
            #expect(r.verdict == .inconclusive && r.detail.contains("the second device's probe returned EEXIST"), "\(r.verdict) \(r.detail)")
        }

        @Test("race.inconclusive: a copy whose every ioctl returns EINVAL never has a request in flight: every race result INCONCLUSIVE, with the reason")
        func refusesEverything() throws {
            let built = try ExploreVerifyTests.mutant("einval", [("\tif (file->f_cred != current_cred())\n\t\treturn -EACCES;\n",
                                                                   "\tif (file->f_cred != current_cred() || file)\n\t\treturn -EINVAL;\n")])
            for (sc, run) in RaceChecks.explore(factory: BridgedDriver.explorerFactory(built), version: built.version, schedules: 300, seed: 1) {
                let r = RaceChecks.result(sc, run, known: [], seed: 1, replay: "")
                #expect(r.verdict == .inconclusive, "\(sc): \(r.verdict) \(r.detail)")
                #expect(r.detail.contains(sc == .twoDevices ? "a request on the second device alone returned EINVAL" : "no request reached the host"), "\(r.detail)")
            }
        }
        @Test("race.cli: bad race options are errors naming the option as typed, exit 2, before any check runs")
        func badOptions() throws {
            for (args, says) in [(["verify", "--model", "--explore-budget", "0x"], "--explore-budget: '0x'"),
                                 (["verify", "--model", "--explore-schedules", "2"], "--explore-schedules: 2"),
                                 (["verify", "--model", "--no-explore", "--explore-budget", "5"], "--no-explore and --explore-budget"),
                                 (["explore", "--scenario", "drain"], "--scenario: 'drain'"),
                                 (["explore", "--replay", "v1.1x.0"], "'x' is not a scenario")] {
                let out = try runProcess([CLITests.binary] + args)
                #expect(out.status == 2 && out.output.contains(says), "\(args): exit \(out.status): \(out.output)")
                #expect(!out.output.contains("PASS"), "\(args): checks ran before the error")
            }
        }
    }
}
