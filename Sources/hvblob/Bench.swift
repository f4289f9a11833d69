// SPDX-License-Identifier: Apache-2.0
import ArgumentParser
import Foundation
import HVBlob
import HVBlobBridge

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure hvblob's speed: every figure next to a baseline measured in the same run.",
        discussion: """
            Build with -c release for figures worth quoting: swift run -c release hvblob bench. \
            Rows: 4 KiB round trips (model; the in-tree C driver through the bridge), allocations per \
            round trip (counted by a malloc interposer the bench compiles and preloads into a child \
            run of itself), explore schedules/s (model and C, a fixed schedule count), replay ring \
            packets/s (model and C), machine resets/s against fresh machines/s (idle, and with one 4 KiB \
            round trip per input), fuzz-target execs/s in process against a trivial target, ring \
            packets, 32 MiB requests. --json prints the same figures for tracking.
            """
    )

    @Option(help: "Round trips to time (4 KiB).")
    var roundTrips: Int = 200_000
    @Option(help: "32 MiB requests to time.")
    var large: Int = 20
    @Option(help: "Ring packets to time.")
    var packets: Int = 2_000_000
    @Option(help: "Times to replay the recorded capture.")
    var replays: Int = 20
    @Option(help: "Schedules each explore figure runs (depth-first, preemption bound 2).")
    var schedules: Int = 2_000
    @Option(help: "Inputs each fuzz target runs (each target stops after 3 s at the latest).")
    var fuzzExecs: Int = 20_000
    @Flag(help: "Print the figures as JSON (for tracking) instead of the table.")
    var json = false
    @Flag(help: .hidden)
    var allocationsChild = false

    @Option(help: "4 KiB reads through the preload path (hvblob serve) per client; 0 skips those rows.")
    var preloadRequests: Int = 20_000
    @Flag(name: .customLong("serve-only"), help: "Only the rows of hvblob serve (preload path, FUSE file) beside their /dev/null baseline.")
    var serveOnly = false

    func progress(_ s: String) { Out.standardError.write("bench: \(s)\n") }

    func run() throws {
        for (name, value, least) in [("--round-trips", roundTrips, 10), ("--large", large, 1), ("--packets", packets, 10),
                                     ("--replays", replays, 1), ("--schedules", schedules, 1), ("--fuzz-execs", fuzzExecs, 1)]
        where value < least {
            fail("\(name): \(value) is less than \(least)")
        }
        do {
            if allocationsChild { try runAllocationsChild(); return }
            var figures: [HVBlob.Bench.Figure] = []
            if serveOnly {
                figures = try serveFigures()
                Out.standardOutput.write(json ? HVBlob.Bench.json(figures, context: [("build", Bench.buildKind)]) : HVBlob.Bench.render(figures))
                return
            }
            progress("4 KiB round trips, model")
            let models = try HVBlob.Bench.roundTrips(count: roundTrips)
            figures.append(models[0])
            progress("building the in-tree C driver")
            let built = try DriverBuild.build(driver: DriverBuild.inTreeDriver)
            let bridged: DriverRig.Factory = { try BridgedDriver(built, machine: $0) }
            progress("4 KiB round trips, C driver through the bridge")
            figures.append(try HVBlob.Bench.driverRoundTrips(count: roundTrips, factory: bridged, version: built.version,
                                                             label: "C driver through the bridge"))
            progress("machine resets against fresh machines")
            figures += try HVBlob.Bench.resets(count: max(100, roundTrips / 20))
            progress("C machine resets against fresh C machines (persistent mode)")
            figures += try BenchPersist.figures(built, count: max(100, roundTrips / 20), fuzzExecs: fuzzExecs) {
                HVBlob.Bench.fuzzInputs(corpus: Bench.corpus($0), count: 256)
            }
            progress("fuzz targets, in process")
            figures += try fuzzFigures()
            progress("explore, \(schedules) schedules each")
            figures += try HVBlob.Bench.explore(driver: BridgedDriver.explorerFactory(built), version: built.version, schedules: schedules)
            progress("explore, pruned against unpruned (1 client, no preemption bound)")
            figures += try HVBlob.Bench.explorePruned(driver: nil, version: built.version, label: "model", key: "explore.model",
                                                     budget: schedules * 5)
            figures += try HVBlob.Bench.explorePruned(driver: BridgedDriver.explorerFactory(built), version: built.version, label: "C driver", key: "explore.c",
                                                     budget: schedules * 5)
            progress("replay")
            let replayModel = try HVBlob.Bench.replay(repeats: replays)
            figures.append(replayModel[0])
            figures += try HVBlob.Bench.replay(repeats: replays, factory: bridged, version: built.version, label: "C driver").prefix(1)
            progress("allocations per round trip (a child run with a counting malloc)")
            figures += allocationFigures()
            figures += try serveFigures()
            progress("round trips against an out-of-process host (the C reference host, hvblob host --attach)")
            figures += try BenchHost.rows(count: max(200, roundTrips / 100))
            progress("ring packets, 32 MiB requests, capture parsing, Blob store backend")
            figures.append(HVBlob.Bench.ringPackets(count: packets))
            figures.append(try HVBlob.Bench.largeRequests(count: large))
            figures.append(replayModel[1])
            figures.append(models[1])
            if json {
                Out.standardOutput.write(HVBlob.Bench.json(figures, context: [("build", Bench.buildKind)]))
            } else {
                Out.standardOutput.write(HVBlob.Bench.render(figures))
                if Bench.buildKind == "debug" { Out.standardOutput.write("note: a debug build; quote figures from swift run -c release hvblob bench\n") }
            }
        } catch {
            Out.standardError.write("hvblob: \(error)\n")
            throw ExitCode(1)
        }
    }

    func serveFigures() throws -> [HVBlob.Bench.Figure] {
        guard preloadRequests > 0 else { return [] }
        progress("ioctls through the preload path (hvblob serve)")
        let (rows, memory) = try ServeBench.run(requests: preloadRequests, progress: progress)
        var out = rows.map {
            HVBlob.Bench.Figure(name: "ioctls through \($0.label)",
                                value: $0.perSecond, unit: "/s",
                                baselineName: "a plain ioctl on /dev/null", baseline: $0.baseline,
                                goal: $0.clients == 1 ? ">= 100,000/s for one client" : "—",
                                key: $0.clients == 0 ? "serve.fuse.1" : "serve.preload.\($0.clients)")
        }
        if let m = memory {
            // What the calls that reach the caller's memory cost alone: 1e6 / that is the most
            // ioctls/s one daemon thread could serve if all else were free.
            out.insert(HVBlob.Bench.Figure(name: "daemon us per ioctl in process_vm_readv/writev + PROCMAP_QUERY (preload rows; ceiling \(HVBlob.Bench.number(1e6 / m.inCalls)) ioctls/s)",
                                           value: m.inCalls, unit: "us", baselineName: "the daemon's CPU per ioctl", baseline: m.cpu,
                                           goal: "—", key: "serve.caller-memory-us"), at: min(2, out.count))
        } else {
            progress("no caller-memory figure: the daemon's summary had no caller memory line")
        }
        return out
    }

    #if DEBUG
    static let buildKind = "debug"
    #else
    static let buildKind = "release"
    #endif

    // MARK: fuzz targets

    /// The committed corpus of a target, every file in Fixtures/corpus/NAME.
    static func corpus(_ name: String) -> [[UInt8]] {
        let dir = DriverBuild.repositoryRoot.appendingPathComponent("Fixtures/corpus/\(name)")
        let files = ((try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []).sorted()
        return files.compactMap { FileManager.default.contents(atPath: dir.appendingPathComponent($0).path).map { Array($0) } }
    }

    func fuzzFigures() throws -> [HVBlob.Bench.Figure] {
        typealias T = (name: String, key: String, now: String, goal: String, run: HVBlob.Bench.FuzzBody, inputs: [[UInt8]])
        func inputs(_ name: String) -> [[UInt8]] { HVBlob.Bench.fuzzInputs(corpus: Bench.corpus(name), count: 256) }
        let e2e = "57 – 3,050 (the four end-to-end targets)"
        let targets: [T] = [
            ("validation", "validation", "7,277 (libFuzzer + ASan, Scripts/fuzz.sh)", ">= 1/3 of trivial (fuzz.sh)", { FuzzTargets.validation($0) }, inputs("validation")),
            ("hostile-host", "hostile-host", e2e, ">= 100,000 /s", { FuzzTargets.hostileHost($0) }, inputs("hostile-host")),
            ("validation-c", "validation-c", e2e, ">= 20,000 /s", { BridgeFuzzTargets.run("validation-c", $0) }, inputs("validation-c")),
            ("differential", "differential", e2e, ">= 20,000 /s", { BridgeFuzzTargets.run("differential", $0) }, inputs("differential")),
            ("hostile-host-c", "hostile-host-c", e2e, ">= 20,000 /s", { BridgeFuzzTargets.run("hostile-host-c", $0) }, inputs("hostile-host-c")),
        ]
        return try HVBlob.Bench.fuzzTargets(targets, execs: fuzzExecs)
    }

    // MARK: allocations: a child run of the bench under a counting malloc

    /// A malloc interposer: every allocation entry point counts and forwards to glibc's own.
    static let interposerSource = """
        // SPDX-License-Identifier: Apache-2.0
        // Written by hvblob bench: counts heap allocations of the process it is preloaded into.
        #include <stddef.h>
        extern void *__libc_malloc(size_t);
        extern void *__libc_calloc(size_t, size_t);
        extern void *__libc_realloc(void *, size_t);
        extern void *__libc_memalign(size_t, size_t);
        static unsigned long calls;
        #define COUNT() __atomic_add_fetch(&calls, 1, __ATOMIC_RELAXED)
        void *malloc(size_t n) { COUNT(); return __libc_malloc(n); }
        void *calloc(size_t a, size_t b) { COUNT(); return __libc_calloc(a, b); }
        void *realloc(void *p, size_t n) { COUNT(); return __libc_realloc(p, n); }
        void *memalign(size_t a, size_t n) { COUNT(); return __libc_memalign(a, n); }
        void *aligned_alloc(size_t a, size_t n) { COUNT(); return __libc_memalign(a, n); }
        int posix_memalign(void **out, size_t a, size_t n) {
            COUNT();
            void *p = __libc_memalign(a, n);
            if (!p) return 12;
            *out = p;
            return 0;
        }
        unsigned long hvblob_alloc_calls(void) { return __atomic_load_n(&calls, __ATOMIC_RELAXED); }

        """

    /// Compiles the interposer once (cached by content); the path of the shared object, or why not.
    static func interposer() -> Result<String, BenchFailure> {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("hvblob-bench")
        let hash = String(FNV1a.hash(Array(interposerSource.utf8)), radix: 16)
        let lib = dir.appendingPathComponent("alloc-counter-\(hash).so").path
        if FileManager.default.fileExists(atPath: lib) { return .success(lib) }
        do { try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true) } catch {
            return .failure(BenchFailure("cannot create \(dir.path): \(error)"))
        }
        let src = dir.appendingPathComponent("alloc-counter-\(hash).c").path
        guard FileManager.default.createFile(atPath: src, contents: Data(interposerSource.utf8)) else {
            return .failure(BenchFailure("cannot write \(src)"))
        }
        let dirs = (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin").split(separator: ":").map(String.init)
        guard let cc = ["clang", "cc", "gcc"].lazy.compactMap({ n in dirs.map { "\($0)/\(n)" }.first { FileManager.default.isExecutableFile(atPath: $0) } }).first else {
            return .failure(BenchFailure("no C compiler (clang, cc, gcc) on PATH"))
        }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: cc)
        p.arguments = ["-shared", "-fPIC", "-O2", src, "-o", lib + ".tmp"]
        let pipe = Pipe()
        p.standardOutput = pipe
        p.standardError = pipe
        do { try p.run() } catch { return .failure(BenchFailure("cannot run \(cc): \(error)")) }
        let out = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        guard p.terminationStatus == 0, rename(lib + ".tmp", lib) == 0 else { return .failure(BenchFailure("\(cc) failed: \(out.prefix(500))")) }
        return .success(lib)
    }

    struct BenchFailure: Error, CustomStringConvertible {
        let description: String
        init(_ d: String) { description = d }
    }

    /// Runs `hvblob bench --allocations-child` with the interposer preloaded and reads its figures;
    /// on any failure, the rows are there with no value and the reason in their name.
    func allocationFigures() -> [HVBlob.Bench.Figure] {
        func unavailable(_ why: String) -> [HVBlob.Bench.Figure] {
            ["model", "C driver through the bridge"].map { which in
                HVBlob.Bench.Figure(name: "allocations per 4 KiB round trip, \(which) (not measured: \(why))", value: .nan, unit: "allocs",
                                    baselineName: "one 4 KiB array", baseline: 0, goal: "0",
                                    key: which == "model" ? "allocations.model" : "allocations.c")
            }
        }
        let lib: String
        switch Bench.interposer() {
        case .success(let l): lib = l
        case .failure(let e): return unavailable(e.description)
        }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: CommandLine.arguments[0]).standardizedFileURL
        if !FileManager.default.isExecutableFile(atPath: p.executableURL!.path) {
            p.executableURL = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        }
        p.arguments = ["bench", "--allocations-child", "--round-trips", String(min(roundTrips, 20_000))]
        var env = ProcessInfo.processInfo.environment
        env["LD_PRELOAD"] = lib + (env["LD_PRELOAD"].map { ":" + $0 } ?? "")
        p.environment = env
        let pipe = Pipe()
        p.standardOutput = pipe
        do { try p.run() } catch { return unavailable("cannot run the child: \(error)") }
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        guard p.terminationStatus == 0, let v = try? JSONParser.parse(Array(data)), let items = v["figures"]?.array else {
            return unavailable("the child run exited \(p.terminationStatus)")
        }
        return items.map { f in
            func num(_ n: JSONNode?) -> Double {
                if case .number(let t)? = n?.value { return Double(t) ?? .nan }
                return .nan
            }
            return HVBlob.Bench.Figure(name: f["name"]?.string ?? "", value: num(f["value"]), unit: f["unit"]?.string ?? "",
                                       baselineName: f["baseline_name"]?.string ?? "", baseline: num(f["baseline"]), goal: f["goal"]?.string ?? "",
                                       key: f["key"]?.string ?? "", now: f["now"]?.string ?? "")
        }
    }

    /// In the child: the counter the preloaded interposer exports, and the allocation figures as JSON.
    func runAllocationsChild() throws {
        typealias Calls = @convention(c) () -> UInt
        guard let sym = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "hvblob_alloc_calls") else {
            fail("--allocations-child: no allocation counter preloaded (hvblob bench runs this itself)")
        }
        let calls = unsafeBitCast(sym, to: Calls.self)
        let built = try DriverBuild.build(driver: DriverBuild.inTreeDriver)
        let figures = try HVBlob.Bench.allocations(count: roundTrips, counter: { Int(calls()) },
                                                   factory: { try BridgedDriver(built, machine: $0) }, version: built.version,
                                                   label: "C driver through the bridge")
        Out.standardOutput.write(HVBlob.Bench.json(figures))
    }
}
