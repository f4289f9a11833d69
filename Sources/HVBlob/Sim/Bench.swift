// SPDX-License-Identifier: Apache-2.0

/// The speed goals, measured (`hvblob bench`). Every figure comes with a baseline measured in the
/// same run on the same machine, so a ratio means something on any machine.
public enum Bench {
    public struct Figure: Sendable, CustomStringConvertible {
        public let name: String
        public let value: Double
        public let unit: String
        public let baselineName: String
        public let baseline: Double
        public let goal: String
        public var ratio: Double { baseline > 0 ? value / baseline : 0 }
        public var description: String {
            let v = fmt(value, value < 10 ? 3 : 1)
            if baseline == 0 { return "\(name): \(v) \(unit) | goal \(goal)" }
            return "\(name): \(v) \(unit) | baseline \(baselineName): \(fmt(baseline)) \(unit) | ratio \(fmt(ratio, 3)) | goal \(goal)"
        }
    }

    static func seconds(_ d: Duration) -> Double {
        Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18
    }

    static func time(_ body: () -> Void) -> Double {
        let clock = ContinuousClock()
        let start = clock.now
        body()
        return seconds(clock.now - start)
    }

    /// A backend that answers every request with a fixed status line and fills the data buffer
    /// from a fixed pattern: the transport's own cost, without the store's text parsing.
    public struct FillBackend: BlobBackend {
        let pattern: [UInt8]
        public init(size: Int) { pattern = (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 31) } }
        public mutating func execute(request: [UInt8], data: GuestBuffer) -> BlobResult {
            let n = min(pattern.count, data.count)
            data.write(pattern[0..<n])
            return BlobResult(response: [79, 75, 32, 48], dataWritten: n)
        }
    }

    /// One guest process + the simulated host, with buffers laid out once and reused.
    final class Loop {
        let machine: Machine
        let space: AddressSpace
        let file: OpenFile
        let arg: UInt64
        init(dataLen: Int, backend: BlobBackend, request: [UInt8], factory: DriverRig.Factory? = nil,
             version: KernelVersion = .default) throws {
            machine = Machine(behavior: .fixed, version: version, faults: FaultPlan(), seed: 1, backend: backend)
            if let factory { machine.driver = try factory(machine) }
            try machine.driver.probe()
            space = AddressSpace(pid: 1, memory: machine.memory)
            file = try machine.driver.open(space)
            let req = space.map(length: request.count, kind: .populated, contents: request)
            let resp = space.map(length: 64, kind: .populated)
            let data = space.map(length: dataLen, kind: .populated)
            let r = AzBlobRequestSync(guid: .zero, requestLen: UInt32(request.count), responseLen: 64, dataLen: UInt32(dataLen),
                                      requestBuffer: req, responseBuffer: resp, dataBuffer: data)
            arg = space.map(length: machine.driver.abi.layout.size, kind: .populated, contents: machine.driver.abi.layout.encode(r))
        }

        /// One ioctl, start to finish; returns its errno.
        @inline(__always)
        func roundTrip() -> Errno {
            machine.drive(machine.driver.ioctl(file, command: machine.driver.abi.command, argument: arg)) ?? .EIO
        }
    }

    /// Round trips per second for a 4 KiB download on one core, with the transport-only
    /// backend and with the default Blob store. Baseline: 4 KiB memcpys per second.
    public static func roundTrips(count: Int) throws -> [Figure] {
        let fill = try Loop(dataLen: 4096, backend: FillBackend(size: 4096), request: Array("GET b 0 4096\n".utf8))
        var store = BlobStore()
        var seedData = [UInt8](repeating: 7, count: 4096)
        seedData.withUnsafeMutableBytes { raw in
            _ = store.execute(request: Array("PUT b\n".utf8), data: GuestBuffer(local: raw, valid: 4096))
        }
        let real = try Loop(dataLen: 4096, backend: store, request: Array("GET b 0 4096\n".utf8))
        for _ in 0..<min(count / 10, 1000) { _ = fill.roundTrip(); _ = real.roundTrip() }
        var bad = 0
        let tFill = time { for _ in 0..<count where fill.roundTrip() != .success { bad += 1 } }
        let tReal = time { for _ in 0..<count / 2 where real.roundTrip() != .success { bad += 1 } }
        if bad > 0 || fill.machine.log.total > 0 || real.machine.log.total > 0 {
            throw BenchError.failed("round trips returned \(bad) errors, \(fill.machine.log.total + real.machine.log.total) findings")
        }
        let copies = memcpyRate(bytes: 4096, count: count * 4)
        return [
            Figure(name: "round trips/s (4 KiB GET, transport-only backend)", value: Double(count) / tFill, unit: "/s",
                   baselineName: "4 KiB memcpy", baseline: copies, goal: ">= 1,000,000/s"),
            Figure(name: "round trips/s (4 KiB GET, Blob store backend)", value: Double(count / 2) / tReal, unit: "/s",
                   baselineName: "4 KiB memcpy", baseline: copies, goal: "(reported)"),
        ]
    }

    /// Round trips per second through another driver implementation (the bridged C driver),
    /// next to the model's in the same run.
    public static func driverRoundTrips(count: Int, factory: @escaping DriverRig.Factory, version: KernelVersion,
                                        label: String) throws -> Figure {
        let request = Array("GET b 0 4096\n".utf8)
        let model = try Loop(dataLen: 4096, backend: FillBackend(size: 4096), request: request)
        var bad = 0
        for _ in 0..<min(count / 10, 1000) { _ = model.roundTrip() }
        let tModel = time { for _ in 0..<count where model.roundTrip() != .success { bad += 1 } }
        var tDriver = 0.0
        do {
            let driver = try Loop(dataLen: 4096, backend: FillBackend(size: 4096), request: request, factory: factory, version: version)
            for _ in 0..<min(count / 10, 1000) { _ = driver.roundTrip() }
            tDriver = time { for _ in 0..<count where driver.roundTrip() != .success { bad += 1 } }
            if driver.machine.log.total > 0 { throw BenchError.failed("findings in the \(label) loop: \(driver.machine.log.violations.first.map { "\($0)" } ?? "")") }
        }
        if bad > 0 { throw BenchError.failed("\(bad) round trips did not return 0") }
        return Figure(name: "round trips/s through \(label) (4 KiB GET)", value: Double(count) / tDriver, unit: "/s",
                      baselineName: "the Swift model, same loop", baseline: Double(count) / tModel, goal: ">= 300,000/s")
    }

    /// Explorer speed: schedules/s of the bound-2 exhaustive check, and time to the review's
    /// race on the v5 model; `driver` adds the same check through another implementation.
    public static func explore(driver: DriverRig.Factory?, version: KernelVersion) throws -> [Figure] {
        let model = try Explorer(clients: 2, factory: nil).dfs(bound: 2, budget: 1_000_000)
        let modelRate = Double(model.schedules) / model.seconds
        var v5 = Explorer(clients: 2, factory: nil, behavior: .v5, version: KernelVersion(5, 13))
        v5.rules = ["guest.send-on-closed-channel"]
        let race = try v5.dfs(bound: 2, budget: 1_000_000)
        var out = [
            Figure(name: "explore: schedules/s, model, 2 clients + rescind, bound 2 exhaustive (\(model.schedules) schedules in \(fmt(model.seconds, 2)) s)",
                   value: modelRate, unit: "/s", baselineName: "(none)", baseline: 0, goal: ">= 100,000/s; exhaustive < 60 s"),
            Figure(name: "explore: time to the review's race on the v5 model (\(race.schedules) schedules)", value: race.seconds, unit: "s",
                   baselineName: "(none)", baseline: 0, goal: "< 1 s"),
        ]
        if let driver {
            let c = try Explorer(clients: 2, factory: driver, version: version).dfs(bound: 2, budget: 1_000_000)
            out.append(Figure(name: "explore: schedules/s, C driver, bound 2 exhaustive (\(c.schedules) schedules in \(fmt(c.seconds, 2)) s)",
                              value: Double(c.schedules) / c.seconds, unit: "/s", baselineName: "the model's explore rate", baseline: modelRate,
                              goal: ">= 10,000/s"))
        }
        return out
    }

    /// memcpys of `bytes` per second between two buffers.
    static func memcpyRate(bytes: Int, count: Int) -> Double {
        let a = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 4096)
        let b = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 4096)
        defer { a.deallocate(); b.deallocate() }
        a.initializeMemory(as: UInt8.self, repeating: 1, count: bytes)
        b.initializeMemory(as: UInt8.self, repeating: 0, count: bytes)
        var sink: UInt8 = 0
        let t = time {
            for i in 0..<count {
                b.copyMemory(from: a, byteCount: bytes)
                a.storeBytes(of: UInt8(truncatingIfNeeded: i), toByteOffset: 0, as: UInt8.self)
                sink &+= b.load(fromByteOffset: bytes - 1, as: UInt8.self)
            }
        }
        blackHole(sink)
        return Double(count) / t
    }

    /// GB/s moving 32 MiB requests through the MPB path (8,190 data pages + request + response
    /// = 8,192 pages), next to copying the same pages one 4 KiB memcpy at a time.
    public static func largeRequests(count: Int) throws -> Figure {
        let dataLen = (AzBlob.maxPages - 2) * AzBlob.pageSize
        let loop = try Loop(dataLen: dataLen, backend: FillBackend(size: dataLen), request: Array("GET big 0 \(dataLen)\n".utf8))
        _ = loop.roundTrip()
        var bad = 0
        let t = time { for _ in 0..<count where loop.roundTrip() != .success { bad += 1 } }
        if bad > 0 || loop.machine.log.total > 0 { throw BenchError.failed("32 MiB round trips failed: \(loop.machine.log.violations.first.map { "\($0)" } ?? "errno")") }
        let gbps = Double(dataLen) * Double(count) / t / 1e9
        // Baseline: page-wise copy of the same number of pages between two 32 MiB areas.
        let pages = AzBlob.maxPages - 2
        let src = UnsafeMutableRawPointer.allocate(byteCount: dataLen, alignment: 4096)
        let dst = UnsafeMutableRawPointer.allocate(byteCount: dataLen, alignment: 4096)
        defer { src.deallocate(); dst.deallocate() }
        src.initializeMemory(as: UInt8.self, repeating: 3, count: dataLen)
        dst.initializeMemory(as: UInt8.self, repeating: 0, count: dataLen)
        let reps = max(count, 4)
        let tc = time {
            for _ in 0..<reps {
                for p in 0..<pages { (dst + p * 4096).copyMemory(from: src + p * 4096, byteCount: 4096) }
            }
        }
        blackHole(dst.load(fromByteOffset: dataLen - 1, as: UInt8.self))
        let base = Double(dataLen) * Double(reps) / tc / 1e9
        return Figure(name: "32 MiB requests through the MPB path", value: gbps, unit: "GB/s",
                      baselineName: "page-wise memcpy", baseline: base, goal: ">= 0.5 of memcpy")
    }

    /// Ring packets per second: a 3-PFN MPB packet written and read back through the real layout.
    public static func ringPackets(count: Int) -> Figure {
        let ring = RingBuffer(size: AzBlob.ringSize)
        let pkt = GPADirectPacket(pfns: [0x1001, 0x1002, 0x1003], request: VSPRequest(requestBufferLength: 1)).encoded()
        var reader = RingReader(ring: ring)
        var id: UInt64 = 0
        let t = time {
            pkt.withUnsafeBytes { raw in
                for _ in 0..<count {
                    id &+= 1
                    _ = ring.write(raw) { id }
                    if let p = reader.copyFirst(ring) {
                        _ = reader.advance(ring, len8: UInt16(p.count / 8))
                        _ = reader.close(ring)
                    }
                }
            }
        }
        let copies = memcpyRate(bytes: pkt.count, count: count)
        return Figure(name: "ring packets/s (112-byte MPB packet, write + read)", value: Double(count) / t, unit: "/s",
                      baselineName: "112-byte memcpy", baseline: copies, goal: "(reported)")
    }

    /// Replay: a recorded capture (8 clients x 64 requests, 4 KiB) re-driven against a guest,
    /// ring packets (both directions) per second; baseline: the same packets through a bare
    /// ring (write + read), which is the floor any replay pays.
    public static func replay(repeats: Int, factory: DriverRig.Factory? = nil, version: KernelVersion = .default,
                              label: String = "the model") throws -> [Figure] {
        var c = SimulationConfig()
        c.clients = 8
        c.requestsPerClient = 64
        c.sizes = [4096]
        let sim = Simulation(c)
        let rec = sim.machine.startRecording()
        _ = sim.run()
        let capture = rec.capture
        let packets = capture.records.filter { $0.kind == .ringPacket }
        var report = ReplayReport()
        let t = time {
            for _ in 0..<repeats { report = Replayer(capture: capture, version: version, factory: factory).run() }
        }
        guard report.clean else { throw BenchError.failed("the replay diverged: \(report.render(driver: label))") }
        let rate = Double(packets.count * repeats) / t
        let bytes = capture.pcapng()
        var parsed = 0
        let tp = time {
            for _ in 0..<repeats { parsed += (try? Capture.parse(bytes))?.records.count ?? 0 }
        }
        let ring = RingBuffer(size: AzBlob.ringSize)
        var reader = RingReader(ring: ring)
        let tr = time {
            for _ in 0..<repeats {
                for p in packets {
                    _ = ring.write(p.body) { 1 }
                    if let q = reader.copyFirst(ring) {
                        _ = reader.advance(ring, len8: UInt16(q.count / 8))
                        _ = reader.close(ring)
                    }
                }
            }
        }
        let floor = Double(packets.count * repeats) / tr
        return [
            Figure(name: "replay packets/s against \(label) (\(packets.count) ring packets, \(capture.records.count) records per capture)",
                   value: rate, unit: "/s", baselineName: "the same packets through a bare ring", baseline: floor, goal: ">= 1,000,000/s"),
            Figure(name: "capture parsing, records/s (\(bytes.count) bytes of pcapng)", value: Double(parsed) / tp, unit: "/s",
                   baselineName: "replay records/s", baseline: Double(capture.records.count * repeats) / t, goal: "(reported)"),
        ]
    }

    public enum BenchError: Error, CustomStringConvertible {
        case failed(String)
        public var description: String {
            switch self { case .failed(let s): return "bench failed: \(s)" }
        }
    }
}

@inline(never) func blackHole<T>(_ x: T) { _ = x }

func fmt(_ v: Double, _ digits: Int = 1) -> String {
    if v >= 1e6 { return "\(Int(v.rounded()))".reversed().enumerated().map { $0.offset > 0 && $0.offset % 3 == 0 ? "\($0.element)," : "\($0.element)" }.reversed().joined() }
    var p = 1.0
    for _ in 0..<digits { p *= 10 }
    let r = (v * p).rounded() / p
    return "\(r)"
}
