// SPDX-License-Identifier: Apache-2.0
#if canImport(Glibc)
import Glibc
#endif

/// The speed goals, measured (`hvblob bench`). Every figure comes with a baseline measured in the
/// same run on the same machine, so a ratio means something on any machine.
public enum Bench {
    /// One row of the benchmark: a figure, the baseline it is read against (measured in the
    /// same run), the goal, and the figure issue 12 recorded before the work (`now`). A list of
    /// these is all `render` and `json` need: a new measurement is one more function that
    /// returns figures.
    public struct Figure: Sendable, CustomStringConvertible {
        public let name: String
        public let value: Double
        public let unit: String
        public let baselineName: String
        public let baseline: Double
        public let goal: String
        /// A stable id for tracking (`--json`): `roundtrip.model`, `explore.c`, ...
        public var key: String = ""
        /// What issue 12 measured before (text as it gives it), or "" for figures it has not.
        public var now: String = ""
        /// The baseline's unit when it differs from the figure's.
        public var baselineUnit: String? = nil
        public var ratio: Double { baseline > 0 ? value / baseline : 0 }
        public var description: String {
            let v = Bench.number(value)
            if baseline == 0 { return "\(name): \(v) \(unit) | goal \(goal)" }
            return "\(name): \(v) \(unit) | baseline \(baselineName): \(Bench.number(baseline)) \(baselineUnit ?? unit) | ratio \(Bench.number(ratio)) | goal \(goal)"
        }
        public init(name: String, value: Double, unit: String, baselineName: String, baseline: Double, goal: String,
                    key: String = "", now: String = "", baselineUnit: String? = nil) {
            self.name = name
            self.value = value
            self.unit = unit
            self.baselineName = baselineName
            self.baseline = baseline
            self.goal = goal
            self.key = key
            self.now = now
            self.baselineUnit = baselineUnit
        }
    }

    /// The one number format of the benchmark: from 100 up, whole numbers with thousands
    /// separators (16,947,280); below, three significant digits (0.774, 24.8, 3.00).
    public static func number(_ v: Double) -> String {
        guard v.isFinite else { return "n/a" }
        let a = abs(v)
        if a >= 99.95 {
            let digits = String(Int64(a.rounded()))
            var out = ""
            for (i, c) in digits.enumerated() {
                if i > 0 && (digits.count - i) % 3 == 0 { out.append(",") }
                out.append(c)
            }
            return (v < 0 ? "-" : "") + out
        }
        if a == 0 { return "0" }
        let decimals = a >= 9.995 ? 1 : a >= 0.9995 ? 2 : max(2, 2 - Int((log10(a)).rounded(.down)))
        var p = 1.0
        for _ in 0..<decimals { p *= 10 }
        let r = (a * p).rounded()
        var whole = String(Int64(r / p))
        var frac = String(Int64(r.truncatingRemainder(dividingBy: p)))
        while frac.count < decimals { frac = "0" + frac }
        if v < 0 { whole = "-" + whole }
        return whole + "." + frac
    }

    /// The figures as a table: figure, value, baseline (what and how much), ratio, goal, and
    /// issue 12's "now", columns aligned.
    public static func render(_ figures: [Figure]) -> String {
        let head = ["figure", "value", "baseline", "ratio", "goal", "issue 12 \"now\""]
        var rows: [[String]] = [head]
        for f in figures {
            let base = f.baseline > 0 ? "\(number(f.baseline)) \(f.baselineUnit ?? f.unit) (\(f.baselineName))" : "(none)"
            rows.append([f.name, "\(number(f.value)) \(f.unit)", base, f.baseline > 0 ? number(f.ratio) : "-", f.goal, f.now.isEmpty ? "-" : f.now])
        }
        var width = [Int](repeating: 0, count: head.count)
        for r in rows { for (i, c) in r.enumerated() { width[i] = max(width[i], c.count) } }
        var out = ""
        for (n, r) in rows.enumerated() {
            var line = ""
            for (i, c) in r.enumerated() {
                let pad = String(repeating: " ", count: width[i] - c.count)
                // Numbers right-aligned, text left-aligned.
                line += (i == 1 || i == 3 ? pad + c : c + pad) + (i + 1 < r.count ? "  " : "")
            }
            while line.last == " " { line.removeLast() }
            out += line + "\n"
            if n == 0 { out += width.map { String(repeating: "-", count: $0) }.joined(separator: "  ") + "\n" }
        }
        return out
    }

    /// The figures as JSON for tracking: one object per figure, numbers as numbers.
    public static func json(_ figures: [Figure], context: [(String, String)] = []) -> String {
        func num(_ v: Double) -> JSON {
            guard v.isFinite else { return .null }
            if v == v.rounded() && abs(v) < 1e15 { return .number(String(Int64(v))) }
            return .number("\(v)")
        }
        let items: [JSON] = figures.map { f in
            obj(["key": .string(f.key), "name": .string(f.name), "value": num(f.value), "unit": .string(f.unit),
                 "baseline_name": .string(f.baselineName), "baseline": num(f.baseline), "baseline_unit": .string(f.baselineUnit ?? f.unit),
                 "ratio": f.baseline > 0 ? num(f.ratio) : .null, "goal": .string(f.goal), "now": f.now.isEmpty ? .null : .string(f.now)])
        }
        var top: [(key: String, value: JSONNode)] = [("bench", JSONNode(.string("hvblob")))]
        for (k, v) in context { top.append((k, JSONNode(.string(v)))) }
        top.append(("figures", JSONNode(arr(items))))
        return JSON.object(top).serialized() + "\n"
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
        /// "OK 0", one array for every request (the backend's own allocation is not the transport's).
        static let ok: [UInt8] = [79, 75, 32, 48]
        public init(size: Int) { pattern = (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 31) } }
        public mutating func execute(request: [UInt8], data: GuestBuffer) -> BlobResult {
            let n = min(pattern.count, data.count)
            data.write(pattern[0..<n])
            return BlobResult(response: FillBackend.ok, dataWritten: n)
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
            Figure(name: "4 KiB round trips/s, model", value: Double(count) / tFill, unit: "/s",
                   baselineName: "4 KiB memcpy", baseline: copies, goal: ">= 1,000,000 /s", key: "roundtrip.model", now: "299,000"),
            Figure(name: "4 KiB round trips/s, model, Blob store backend", value: Double(count / 2) / tReal, unit: "/s",
                   baselineName: "4 KiB memcpy", baseline: copies, goal: "(reported)", key: "roundtrip.model-store"),
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
        return Figure(name: "4 KiB round trips/s, \(label)", value: Double(count) / tDriver, unit: "/s",
                      baselineName: "the model, same loop", baseline: Double(count) / tModel, goal: ">= 500,000 /s",
                      key: "roundtrip.c", now: "221,000 (0.77 of the model)")
    }

    /// Explorer speed on a fixed number of schedules (`schedules`, depth-first at preemption
    /// bound 2, 2 clients + rescind + remove): schedules/s of the model against what one fresh
    /// machine costs (build, probe, open — what every schedule pays today), and of the C driver
    /// against the model's rate in the same run; plus the time to the review's race on the v5 model.
    public static func explore(driver: DriverRig.Factory?, version: KernelVersion, schedules: Int = 2_000) throws -> [Figure] {
        let model = try Explorer(clients: 2, factory: nil).dfs(bound: 2, budget: schedules)
        let modelRate = Double(model.schedules) / model.seconds
        let builds = machineBuilds(count: max(schedules, 200))
        var v5 = Explorer(clients: 2, factory: nil, behavior: .v5, version: KernelVersion(5, 13))
        v5.rules = ["guest.send-on-closed-channel"]
        let race = try v5.dfs(bound: 2, budget: 1_000_000)
        var out = [
            Figure(name: "explore schedules/s, model (\(number(Double(model.schedules))) schedules, bound 2)", value: modelRate, unit: "/s",
                   baselineName: "fresh machine + probe + open", baseline: builds, goal: ">= 100,000 /s", key: "explore.model", now: "25,800"),
        ]
        if let driver {
            let c = try Explorer(clients: 2, factory: driver, version: version).dfs(bound: 2, budget: schedules)
            out.append(Figure(name: "explore schedules/s, C driver (\(number(Double(c.schedules))) schedules, bound 2)",
                              value: Double(c.schedules) / c.seconds, unit: "/s", baselineName: "the model's explore rate", baseline: modelRate,
                              goal: ">= 20,000 /s", key: "explore.c", now: "5,000"))
        }
        out.append(Figure(name: "explore: time to the review's race on the v5 model (\(race.schedules) schedules)", value: race.seconds, unit: "s",
                          baselineName: "one model schedule", baseline: 1 / modelRate, goal: "< 1 s", key: "explore.v5-race"))
        return out
    }

    /// Fresh machines per second: build, probe, open one file — the cost a schedule or a fuzz
    /// input pays before it does anything.
    public static func machineBuilds(count: Int) -> Double {
        var ok = 0
        let t = time {
            for _ in 0..<count {
                let m = Machine(behavior: .fixed, version: .default, faults: FaultPlan(), seed: 1)
                if (try? m.driver.probe()) != nil, (try? m.driver.open(AddressSpace(pid: 1, memory: m.memory))) != nil { ok += 1 }
            }
        }
        blackHole(ok)
        return Double(count) / t
    }

    // MARK: reset against rebuild

    /// Machines reset per second against machines built per second, each ready for the next
    /// input (probed, one file open): with nothing run since the checkpoint, and after one
    /// 4 KiB round trip (the reset then restores what the request wrote: its frames, the ring
    /// chunks, the request-id table). The second pair counts whole inputs (setup + round trip).
    public static func resets(count: Int) throws -> [Figure] {
        let request = Array("GET b 0 4096\n".utf8)
        func input(_ rig: DriverRig) -> Bool {
            let req = rig.space.map(length: request.count, kind: .populated, contents: request)
            let resp = rig.space.map(length: 64, kind: .populated)
            let data = rig.space.map(length: 4096, kind: .populated)
            let r = AzBlobRequestSync(guid: .zero, requestLen: UInt32(request.count), responseLen: 64, dataLen: 4096,
                                      requestBuffer: req, responseBuffer: resp, dataBuffer: data)
            return rig.ioctl(rig.argument(r)) == .success
        }
        func fresh() throws -> DriverRig {
            let rig = try DriverRig(factory: nil, version: .default)
            rig.machine.host.backend = FillBackend(size: 4096)
            return rig
        }
        let rig = try fresh()
        let start = try rig.checkpoint()
        var bad = 0
        for _ in 0..<min(count, 200) { rig.reset(to: start); if !input(rig) { bad += 1 } }
        let tReset = time { for _ in 0..<count { rig.reset(to: start) } }
        let tResetInput = time { for _ in 0..<count { rig.reset(to: start); if !input(rig) { bad += 1 } } }
        let builds = max(50, count / 10)
        var built = 0
        let tBuild = time { for _ in 0..<builds { if (try? fresh()) != nil { built += 1 } } }
        let tBuildInput = time { for _ in 0..<builds { if let r = try? fresh(), input(r) { built += 1 } else { bad += 1 } } }
        if bad > 0 || built != 2 * builds { throw BenchError.failed("reset loop: \(bad) inputs failed, \(built) of \(2 * builds) rigs built") }
        return [
            Figure(name: "machine resets/s (probed, file open, nothing run since)", value: Double(count) / tReset, unit: "/s",
                   baselineName: "fresh machine + probe + open", baseline: Double(builds) / tBuild, goal: "(reported)", key: "reset.idle"),
            Figure(name: "inputs/s on a reset machine (reset + one 4 KiB round trip)", value: Double(count) / tResetInput, unit: "/s",
                   baselineName: "fresh machine + probe + open + the same round trip", baseline: Double(builds) / tBuildInput,
                   goal: "(reported)", key: "reset.input"),
        ]
    }

    // MARK: fuzz targets, in process

    /// A fuzz target's body as the entry point calls it: bytes in, nil when every invariant held.
    public typealias FuzzBody = ([UInt8]) -> String?

    /// The trivial target every fuzz figure is read against: it reads every byte (so it pays
    /// for the input like a real target) and decides nothing.
    @inline(never)
    public static func trivialTarget(_ data: [UInt8]) -> String? {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in data { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
        return h == 1 ? "" : nil
    }

    /// Inputs for a fuzz loop: the committed corpus and, from `seed`, mutations of it (bytes
    /// flipped, inserted, cut) — laid out before timing, the same for the target and the trivial one.
    public static func fuzzInputs(corpus: [[UInt8]], count: Int, seed: UInt64 = 1) -> [[UInt8]] {
        var rng = SeededRandom(seed: seed).split("bench-fuzz")
        let base = corpus.isEmpty ? [[UInt8](repeating: 0, count: 64)] : corpus
        var out: [[UInt8]] = base
        while out.count < max(count, base.count) {
            var b = base[rng.int(in: 0...(base.count - 1))]
            for _ in 0..<rng.int(in: 1...4) {
                switch rng.int(in: 0...2) {
                case 0 where !b.isEmpty: b[rng.int(in: 0...(b.count - 1))] = UInt8(truncatingIfNeeded: rng.next())
                case 1: b.insert(UInt8(truncatingIfNeeded: rng.next()), at: rng.int(in: 0...b.count))
                default: if b.count > 1 { b.removeLast(rng.int(in: 1...min(8, b.count - 1))) }
                }
            }
            out.append(b)
        }
        return out
    }

    /// Execs per second of each fuzz target, called in a loop the way libFuzzer's entry point
    /// calls it (no sanitizer, no coverage: the target's own cost), over the same inputs, next to
    /// the trivial target in the same run. Each runs `execs` inputs or for `seconds`, whichever
    /// ends first; a target that reports a failure on an input is an error (the bench runs
    /// clean targets).
    public static func fuzzTargets(_ targets: [(name: String, key: String, now: String, goal: String, run: FuzzBody, inputs: [[UInt8]])],
                                   execs: Int, seconds: Double = 3) throws -> [Figure] {
        func rate(_ body: FuzzBody, _ inputs: [[UInt8]], limit: Int) -> (rate: Double, runs: Int, failed: Int) {
            let clock = ContinuousClock(), start = clock.now
            var n = 0, failed = 0
            while n < limit {
                if body(inputs[n % inputs.count]) != nil { failed += 1 }
                n += 1
                if n % 16 == 0, Bench.seconds(clock.now - start) > seconds { break }
            }
            return (Double(n) / Bench.seconds(clock.now - start), n, failed)
        }
        var out: [Figure] = []
        for t in targets {
            let r = rate(t.run, t.inputs, limit: execs)
            // The trivial target over the same inputs, with enough execs to time it.
            let trivial = rate(trivialTarget, t.inputs, limit: max(execs, 200_000))
            let note = r.failed > 0 ? ", \(r.failed) of \(r.runs) inputs reported a failure" : ""
            out.append(Figure(name: "fuzz target \(t.name), execs/s (in process, \(number(Double(r.runs))) inputs\(note))", value: r.rate, unit: "/s",
                              baselineName: "trivial target, same inputs", baseline: trivial.rate, goal: t.goal, key: "fuzz.\(t.key)", now: t.now))
        }
        return out
    }

    // MARK: allocations

    /// Heap allocations (malloc, calloc, realloc, memalign calls) per 4 KiB round trip, read
    /// from `counter` (a malloc interposition the caller installed; nil: none) around `count`
    /// round trips after a warm-up, for the model and, given `factory`, another driver. The
    /// baseline is the counter over one `[UInt8](repeating:count: 4096)` per iteration: exactly
    /// 1 when the counter sees every allocation, so the ratio is the figure in "array
    /// allocations".
    public static func allocations(count: Int, counter: () -> Int, factory: DriverRig.Factory? = nil,
                                   version: KernelVersion = .default, label: String = "C driver") throws -> [Figure] {
        var calibrate = 0
        let c0 = counter()
        for i in 0..<count {
            let a = [UInt8](repeating: UInt8(truncatingIfNeeded: i), count: 4096)
            calibrate &+= Int(a[i % 4096])
        }
        let perArray = Double(counter() - c0) / Double(count)
        blackHole(calibrate)
        func measure(_ loop: Loop) throws -> Double {
            for _ in 0..<min(count, 1000) { _ = loop.roundTrip() }
            var bad = 0
            let before = counter()
            for _ in 0..<count where loop.roundTrip() != .success { bad += 1 }
            let n = counter() - before
            if bad > 0 || loop.machine.log.total > 0 { throw BenchError.failed("allocation loop: \(bad) errors, \(loop.machine.log.total) findings") }
            return Double(n) / Double(count)
        }
        let request = Array("GET b 0 4096\n".utf8)
        var out = [Figure(name: "allocations per 4 KiB round trip, model", value: try measure(Loop(dataLen: 4096, backend: FillBackend(size: 4096), request: request)),
                          unit: "allocs", baselineName: "one 4 KiB array", baseline: perArray, goal: "0", key: "allocations.model",
                          now: "about 25 heap objects per request")]
        if let factory {
            out.append(Figure(name: "allocations per 4 KiB round trip, \(label)",
                              value: try measure(Loop(dataLen: 4096, backend: FillBackend(size: 4096), request: request, factory: factory, version: version)),
                              unit: "allocs", baselineName: "one 4 KiB array", baseline: perArray, goal: "0", key: "allocations.c"))
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
                      baselineName: "page-wise memcpy", baseline: base, goal: ">= 0.5 of memcpy", key: "large.model")
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
        return Figure(name: "ring packets/s, bare ring (112-byte MPB packet, write + read)", value: Double(count) / t, unit: "/s",
                      baselineName: "112-byte memcpy", baseline: copies, goal: "(reported)", key: "ring.bare")
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
            Figure(name: "replay, ring packets/s, \(label)",
                   value: rate, unit: "/s", baselineName: "the same \(number(Double(packets.count))) packets through a bare ring", baseline: floor, goal: ">= 1,000,000 /s",
                   key: factory == nil ? "replay.model" : "replay.c", now: factory == nil ? "203,000" : "150,000"),
            Figure(name: "capture parsing, records/s (\(number(Double(bytes.count))) bytes of pcapng)", value: Double(parsed) / tp, unit: "/s",
                   baselineName: "replay records/s", baseline: Double(capture.records.count * repeats) / t, goal: "(reported)",
                   key: factory == nil ? "capture.parse" : "capture.parse-c"),
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

