// SPDX-License-Identifier: Apache-2.0
import ArgumentParser
import Foundation
import HVBlob
import HVBlobBridge

let defaultVectorDir = "Fixtures/vectors"

struct Vectors: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Test vectors: generate them from a seed, check them against the schema, run them against the model or a driver.",
        subcommands: [Generate.self, Check.self, Run.self]
    )

    struct Generate: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Write every group's vector file (deterministic for a seed).")
        @Option(help: "Seed (decimal or 0x hex).")
        var seed: String = "0x" + String(VectorGenerator.defaultSeed, radix: 16)
        @Option(name: .short, help: "Directory to write the <group>.json files into.")
        var output: String = defaultVectorDir

        func run() throws {
            guard let s = parseSeed(seed) else { fail("--seed: '\(seed)' is not a number") }
            for f in VectorGenerator.generate(seed: s) {
                let path = "\(output)/\(f.group).json"
                writeFile(path, Array(f.text.utf8), what: "vectors generate")
                Out.standardOutput.write("\(path): \(f.vectors.count) vectors\n")
            }
        }
    }

    struct Check: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Validate vector files against vectors.schema.json (and ids, counts, hand-written reasons).",
            discussion: "Exit status: 0 all valid, 2 a file is unreadable or invalid (each problem named by file and byte offset).")
        @Argument(help: "Vector files or directories (default: Fixtures/vectors).")
        var paths: [String] = []
        @Option(help: "The schema (default: vectors.schema.json beside the first directory).")
        var schema: String?

        func run() throws {
            let files = vectorFiles(paths)
            let schemaPath = schema ?? "\(paths.first.map { isDirectory($0) ? $0 : URL(fileURLWithPath: $0).deletingLastPathComponent().path } ?? defaultVectorDir)/vectors.schema.json"
            let s: JSONSchema
            do { s = try VectorSuite.schema(readFile(schemaPath, what: "schema")) } catch { fail("\(schemaPath): \(error)") }
            var bad = 0
            for path in files {
                do {
                    let f = try VectorSuite.load(readFile(path, what: "vectors check"), file: path, schema: s)
                    Out.standardOutput.write("\(path): valid, \(f.vectors.count) vectors (\(f.vectors.filter { $0.why != nil }.count) hand-written)\n")
                } catch {
                    bad += 1
                    Out.standardError.write("\(error)\n")
                }
            }
            if bad > 0 { throw ExitCode(2) }
        }
    }

    struct Run: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run vectors against the Swift model (default) or a driver's C source through the bridge.",
            discussion: "Exit status: 0 every applicable vector passed, 1 a vector failed, 2 bad input.")
        @Argument(help: "Vector files or directories (default: Fixtures/vectors).")
        var paths: [String] = []
        @Flag(help: "Run against the Swift model (the default).")
        var model = false
        @Option(help: "Run against this driver's C source.")
        var driver: String?
        @Option(name: .customLong("kernel-version"), help: "Kernel API era, 5.13 to 6.3.")
        var kernelVersion: String?
        @Flag(help: "Print every vector, not only failures.")
        var verbose = false

        func run() throws {
            let (factory, version, name) = try driverSelection(model: model, driver: driver, kernelVersion: kernelVersion)
            Out.standardOutput.write("target: \(name)\n")
            let files = loadVectorFiles(paths)
            var failed = 0
            for f in files {
                let results = VectorRunner.run(f, factory: factory, version: version)
                let pass = results.filter { $0.verdict == .pass }.count
                let fail = results.filter { $0.verdict == .fail }
                let na = results.filter { $0.verdict == .notApplicable }.count
                failed += fail.count
                Out.standardOutput.write("\(f.group): \(pass) passed, \(fail.count) failed, \(na) not applicable\n")
                for r in results where r.verdict == .fail || verbose {
                    Out.standardOutput.write("  \(r.verdict.rawValue.uppercased()) \(r.vector.id) \(r.vector.rule) [\(r.vector.level.rawValue)] \(r.vector.comment)\(r.detail.isEmpty ? "" : "\n      -> \(r.detail)")\n")
                }
            }
            Out.standardOutput.write("verdict: \(failed == 0 ? "all applicable vectors pass" : "\(failed) vector(s) fail")\n")
            if failed > 0 { throw ExitCode(1) }
        }
    }
}

func isDirectory(_ path: String) -> Bool {
    var d: ObjCBool = false
    return FileManager.default.fileExists(atPath: path, isDirectory: &d) && d.boolValue
}

/// The <group>.json files named, or found in the directories named (schema excluded).
func vectorFiles(_ paths: [String]) -> [String] {
    var out: [String] = []
    for p in paths.isEmpty ? [defaultVectorDir] : paths {
        if isDirectory(p) {
            let names = ((try? FileManager.default.contentsOfDirectory(atPath: p)) ?? []).filter { $0.hasSuffix(".json") && $0 != "vectors.schema.json" }.sorted()
            if names.isEmpty { fail("\(p): no vector files (*.json) here") }
            out += names.map { "\(p)/\($0)" }
        } else {
            guard FileManager.default.fileExists(atPath: p) else { fail("\(p): no such file") }
            out.append(p)
        }
    }
    return out
}

/// Loads and validates every vector file; exit 2 naming file and byte on the first bad one.
func loadVectorFiles(_ paths: [String]) -> [VectorFile] {
    let files = vectorFiles(paths)
    let dir = files.first.map { URL(fileURLWithPath: $0).deletingLastPathComponent().path } ?? defaultVectorDir
    let schema: JSONSchema
    do { schema = try VectorSuite.schema(readFile("\(dir)/vectors.schema.json", what: "schema")) } catch { fail("\(error)") }
    var out: [VectorFile] = []
    for path in files {
        do { out.append(try VectorSuite.load(readFile(path, what: "vectors"), file: path, schema: schema)) } catch { fail("\(error)") }
    }
    return out
}

/// --model / --driver PATH / --kernel-version, as replay, vectors and conformance take them.
func driverSelection(model: Bool, driver: String?, kernelVersion: String?) throws -> (DriverRig.Factory?, KernelVersion, String) {
    if model && driver != nil { fail("--model and --driver exclude each other") }
    let version = kernelVersion.map(parseKernelVersion) ?? .default
    guard let path = driver else { return (nil, version, "the Swift model (fixed behaviour), API era \(version)") }
    let built = buildDriver(path, option: "--driver", version: kernelVersion == nil ? nil : version)
    return ({ machine in try BridgedDriver(built, machine: machine) }, built.version, "\(built.source) (API era \(built.version))")
}
