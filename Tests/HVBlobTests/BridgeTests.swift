// SPDX-License-Identifier: Apache-2.0
import Foundation
import HVBlob
import HVBlobBridge
import Testing

/// The in-tree driver's real C code through the bridge. Serialized: the kernel shim keeps
/// process-wide state, one bridged driver at a time.
@Suite("Bridge: C driver code on the simulated host", .serialized)
struct BridgeTests {
    static let inTree = DriverBuild.inTreeDriver
    static let oops = repoRoot.appendingPathComponent("Fixtures/drivers/oops_driver.c")

    @Test("bridge.build: the in-tree driver builds for the newest era it fits (6.0: its remove returns int, 6.3 wants void)")
    func build() throws {
        let b = try DriverBuild.build(driver: BridgeTests.inTree)
        #expect(b.version == KernelVersion(6, 0))
        #expect(b.skipped.count == 1 && b.skipped[0].hasPrefix("6.3:"))
        #expect(b.uapiHeader.hasSuffix("kernel/include/uapi/misc/hv_azure_blob.h"))
        let again = try DriverBuild.build(driver: BridgeTests.inTree)
        #expect(again.cached && again.library == b.library)
        // Under `swift test --sanitize=address` the driver is built with ASan and UBSan too.
        let image = try #require(FileManager.default.contents(atPath: b.library))
        let instrumented = image.range(of: Data("__asan_report_".utf8)) != nil && image.range(of: Data("__ubsan_handle_".utf8)) != nil
        #expect(instrumented == DriverBuild.processHasASan)
        // Asked for an era it was not written for, it does not build.
        #expect(throws: DriverBuild.Failure.self) { try DriverBuild.build(driver: BridgeTests.inTree, version: KernelVersion(6, 3)) }
    }

    @Test("bridge.replay: every fixture capture replays clean against the in-tree C driver")
    func replayFixtures() throws {
        let b = try DriverBuild.build(driver: BridgeTests.inTree)
        for name in captureFixtures {
            let cap = try fixtureCapture(name)
            let report = Replayer(capture: cap, version: b.version) { m in try BridgedDriver(b, machine: m) }.run()
            #expect(report.clean, "\(name): \(report.render(driver: "C"))")
            #expect(report.guestPacketsMatched == cap.records.filter { $0.kind == .ringPacket && $0.direction == .guestToHost }.count)
        }
        // A capture it cannot reproduce is caught: with the first completion's response_len
        // changed, what the ioctl returns no longer matches the captured return.
        var cap = try fixtureCapture("plain")
        let i = try #require(cap.records.firstIndex { $0.kind == .ringPacket && $0.direction == .hostToGuest })
        cap.records[i].body[24] ^= 1  // response_len of the first completion
        let report = Replayer(capture: cap, version: b.version) { m in try BridgedDriver(b, machine: m) }.run()
        #expect(report.divergence != nil)
    }

    @Test("bridge.vectors: every vector that applies to a driver passes against the in-tree C driver")
    func vectors() throws {
        let b = try DriverBuild.build(driver: BridgeTests.inTree)
        var ran = 0
        for f in try vectorFiles() {
            let results = VectorRunner.run(f, factory: { m in try BridgedDriver(b, machine: m) }, version: b.version)
            let failed = results.filter { $0.verdict == .fail }
            #expect(failed.isEmpty, "\(f.group): \(failed.prefix(5).map { "\($0.vector.id): \($0.detail)" })")
            ran += results.filter { $0.verdict != .notApplicable }.count
        }
        #expect(ran >= 200)
    }

    @Test("bridge.build.missing-api: a driver using kernel API the shim lacks fails and names it")
    func missingAPI() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("hvblob-missing-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let src = dir.appendingPathComponent("d.c")
        try "#include <linux/module.h>\nstatic int __init i(void) { return frobnicate_kthread(3); }\nmodule_init(i);\n"
            .write(to: src, atomically: true, encoding: .utf8)
        let failure = try #require(throws: DriverBuild.Failure.self) { try DriverBuild.build(driver: src) }
        #expect(failure.missingAPIs == ["frobnicate_kthread"])
        #expect(failure.attempts.count == DriverBuild.eras.count)
    }

    @Test("bridge.oops: a NULL dereference in driver code is a guest.crash finding, and the run goes on")
    func oops() throws {
        let built = try DriverBuild.build(driver: BridgeTests.oops)
        let factory: DriverRig.Factory = { machine in try BridgedDriver(built, machine: machine) }
        let rig = try DriverRig(factory: factory, version: built.version)
        let (arg, _) = rig.argument()
        #expect(rig.ioctl(arg, command: IoctlCommand(rawValue: 0x4e55)) == .EFAULT)
        #expect(rig.log.count("guest.crash") == 1)
        #expect(rig.log.violations.first { $0.rule == "guest.crash" }?.detail.contains("SIGSEGV at address (nil)") == true
                || rig.log.violations.first { $0.rule == "guest.crash" }?.detail.contains("SIGSEGV at address 0x0") == true)
        // The process survived: other calls still work.
        #expect(rig.ioctl(arg, command: IoctlCommand(rawValue: 1)) == .EINVAL)
    }

    @Test("bridge.conformance: the in-tree C driver passes every check, the differential run against the model included")
    func conformance() throws {
        let built = try DriverBuild.build(driver: BridgeTests.inTree)
        let factory: DriverRig.Factory = { machine in try BridgedDriver(built, machine: machine) }
        let results = Conformance.run(factory: factory, version: built.version, seed: 3)
        #expect(results.count == Conformance.checks.count)
        for r in results where !r.passed { Issue.record("\(r.check.id): \(r.detail)") }
    }

    @Test("bridge.differential: 1000 seeded requests, the C driver and the model agree byte for byte")
    func differential() throws {
        let built = try DriverBuild.build(driver: BridgeTests.inTree)
        let factory: DriverRig.Factory = { machine in try BridgedDriver(built, machine: machine) }
        let o = try Differential.run(factory: factory, version: built.version, seed: 77, count: 1000)
        #expect(o.divergence == nil, "\(o.divergence ?? "")")
        #expect(o.requests == 1000)
        #expect(o.packets > 50)  // a share of the requests is valid and reaches the host
        #expect(o.byErrno.count >= 4, "\(o.byErrno)")  // and the invalid ones cover several rules
    }

    @Test("bridge.simulate: 20 clients through the C driver, data verified, same seed same trace")
    func simulate() throws {
        let built = try DriverBuild.build(driver: BridgeTests.inTree)
        var c = SimulationConfig()
        c.clients = 20
        c.requestsPerClient = 8
        c.sizes = [1, 4096, 70000]
        c.version = built.version
        c.keepTrace = true
        func once() -> SimulationReport {
            let make: (Machine) -> GuestDriver = { machine in (try? BridgedDriver(built, machine: machine)) ?? machine.vsc }
            return Simulation(c, driver: make).run()
        }
        let a = once()
        #expect(a.clean, "\(a.render())")
        #expect(a.results == [.success: 160] && a.blobsVerified == 60 && a.removeFinished)
        #expect(a.trace.first?.contains("hv_azure_blob.c") == true)
        let b = once()
        #expect(a.trace == b.trace)
    }

    @Test("explore.c-driver: the in-tree C driver, every kernel primitive a scheduling point, exhaustive at bound 1")
    func cDriver() throws {
        let built = try DriverBuild.build(driver: DriverBuild.inTreeDriver)
        let s = try Explorer(clients: 2, factory: BridgedDriver.explorerFactory(built), version: built.version).dfs(bound: 1, budget: 200_000)
        #expect(s.failing == nil, "\(s.failing.map { "\($0.schedule) \($0.findings)" } ?? "")")
        #expect(s.exhausted && s.schedules > 100)
    }
}
