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

    @Test("bridge.capture: the driver's own debugfs capture (capture_kib) matches hvblob's recording and replays clean on the model")
    func driverCapture() throws {
        let b = try DriverBuild.build(driver: BridgeTests.inTree)
        // Off by default: no capture file.
        do {
            let m = Machine(behavior: .fixed, version: b.version, faults: .none, seed: 3)
            let d = try BridgedDriver(b, machine: m)
            m.driver = d
            try d.probe()
            #expect(d.debugfsRead("capture") == nil)
            _ = m.drive(d.remove())
        }
        let m = Machine(behavior: .fixed, version: b.version, faults: .none, seed: 3)
        let d = try BridgedDriver(b, machine: m)
        #expect(d.setParameter("capture_kib", 256))
        m.driver = d
        let recorder = m.startRecording()
        try d.probe()
        let space = AddressSpace(pid: 42, memory: m.memory)
        let file = try d.open(space)
        var results: [Errno?] = []
        for k in 0..<6 {
            let text = BlobStore.request(k % 2 == 0 ? "PUT" : "GET", "blob\(k / 2)")
            let req = space.map(length: text.count, pageOffset: 100 * k, kind: .populated, contents: text)
            let resp = space.map(length: 64, pageOffset: 7, kind: .untouched)
            let data = space.map(length: 5000, pageOffset: 4000, kind: k % 2 == 0 ? .populated : .untouched, contents: [UInt8](repeating: 0x41, count: 5000))
            let r = AzBlobRequestSync(guid: GUID(UInt32(k), 1, 2, [1, 2, 3, 4, 5, 6, 7, 8]), timeout: 100, requestLen: UInt32(text.count), responseLen: 64,
                                      dataLen: 5000, dataValid: k % 2 == 0 ? 5000 : 0, requestBuffer: req, responseBuffer: resp, dataBuffer: data)
            let arg = space.map(length: 72, kind: .populated, contents: r.encoded())
            recorder.ioctlCall(space, command: .azBlobUserRequest, argument: arg)
            let e = m.drive(d.ioctl(file, command: .azBlobUserRequest, argument: arg))
            if let e { recorder.ioctlReturn(space, argument: arg, result: e) }
            results.append(e)
        }
        #expect(results.allSatisfy { $0 == .success })
        let bytes = try #require(d.debugfsRead("capture"))
        let cap = try Capture.parse(bytes)
        #expect(cap.application == "hv_azure_blob")
        let mine = recorder.capture.records
        func packets(_ rs: [CaptureRecord], _ dir: CaptureRecord.Direction) -> [[UInt8]] {
            rs.filter { $0.kind == .ringPacket && $0.direction == dir }.map(\.body)
        }
        let g2h = packets(cap.records, .guestToHost), myG2h = packets(mine, .guestToHost)
        #expect(g2h.count == 6 && g2h.count == myG2h.count)
        for (x, y) in zip(g2h, myG2h) {
            // Byte for byte, but for the request id, which the send assigns out of the driver's sight.
            #expect(Array(x[0..<8]) == Array(y[0..<8]) && Array(x[16...]) == Array(y[16...]))
        }
        let idsUnknown = cap.records.filter { $0.kind == .ringPacket && $0.direction == .guestToHost }.allSatisfy { $0.requestIdUnknown }
        #expect(idsUnknown)
        #expect(packets(cap.records, .hostToGuest) == packets(mine, .hostToGuest))
        #expect(cap.records.compactMap(\.ioctlCall).map(\.request) == mine.compactMap(\.ioctlCall).map(\.request))
        #expect(cap.records.compactMap(\.ioctlReturn) == mine.compactMap(\.ioctlReturn))
        #expect(cap.records.first?.kind == .open)
        // What a real VM's capture would be: replayed against the model, clean.
        let report = Replayer(capture: cap).run()
        #expect(report.clean, "\(report.render(driver: "model"))")
        #expect(report.guestPacketsMatched == 6 && report.ioctlReturnsMatched == 6)
        d.release(file)
        _ = m.drive(d.remove())
    }

    @Test("bridge.fuzz: validation-c, differential and hostile-host-c hold on their corpus and 100 seeded random inputs each")
    func fuzzTargets() throws {
        for name in BridgeFuzzTargets.names {
            let seeds = FuzzTests.corpus(name)
            #expect(seeds.count >= 3)
            for (file, bytes) in seeds {
                let r = BridgeFuzzTargets.run(name, bytes)
                #expect(r == nil, "\(name) on corpus file \(file): \(r ?? "")")
            }
            var rng = SeededRandom(seed: 0xF022).split(name)
            for i in 0..<100 {
                let bytes = (0..<rng.int(in: 0...80)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
                let r = BridgeFuzzTargets.run(name, bytes)
                #expect(r == nil, "\(name) on random input \(i) (seed 0xF022), \(Hex.encode(bytes)): \(r ?? "")")
            }
        }
    }

    @Test("bridge.build.missing-api: kernel API the shim lacks is named as such; a name no kernel has is the driver's own error")
    func missingAPI() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("hvblob-missing-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let src = dir.appendingPathComponent("d.c")
        try "#include <linux/module.h>\nstatic int __init i(void) { kthread_stop(0); return frobnicate_kthread(3); }\nmodule_init(i);\n"
            .write(to: src, atomically: true, encoding: .utf8)
        let failure = try #require(throws: DriverBuild.Failure.self) { try DriverBuild.build(driver: src) }
        if RealKernel.buildTree != nil {
            // The real headers declare kthread_stop; nothing declares frobnicate_kthread.
            #expect(failure.missingAPIs == ["kthread_stop"], "\(failure)")
            #expect(failure.driverErrors == ["frobnicate_kthread"], "\(failure)")
            #expect(failure.description.contains("would not build in a real kernel either"))
        } else {
            #expect(failure.unclassified.contains("frobnicate_kthread"), "\(failure)")
        }
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
        for r in results where !r.passed && r.verdict != .notApplicable { Issue.record("\(r.check.id): \(r.detail)") }
        // Only what cannot apply to this driver: it tests no kernel option hvblob can turn off.
        #expect(results.filter { $0.verdict == .notApplicable }.map(\.check.id) == ["build.config-off"])
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
