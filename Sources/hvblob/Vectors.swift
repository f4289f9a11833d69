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
        static let configuration = CommandConfiguration(
            abstract: "Write every group's vector file and the schema into a directory (deterministic for a seed).",
            discussion: "-o is required: 'vectors generate -o Fixtures/vectors' rewrites the committed vectors (review the diff); any other directory leaves them alone.")
        @Option(help: "Seed (decimal or 0x hex).")
        var seed: String = "0x" + String(VectorGenerator.defaultSeed, radix: 16)
        @Option(name: .short, help: "Directory to write the <group>.json files and vectors.schema.json into (created if missing).")
        var output: String

        func run() throws {
            guard let s = parseSeed(seed) else { fail("--seed: '\(seed)' is not a number (decimal or 0x hex)") }
            if !isDirectory(output) {
                if FileManager.default.fileExists(atPath: output) { fail("-o: \(output) is a file; give a directory") }
                do { try FileManager.default.createDirectory(atPath: output, withIntermediateDirectories: false) } catch {
                    fail("-o: cannot create the directory \(output) (does \(URL(fileURLWithPath: output).deletingLastPathComponent().path) exist?)")
                }
            }
            checkOutputFile("\(output)/vectors.schema.json", option: "-o")
            for f in VectorGenerator.generate(seed: s) {
                let path = "\(output)/\(f.group).json"
                writeFile(path, Array(f.text.utf8), what: "-o")
                Out.standardOutput.write("\(path): \(f.vectors.count) vectors\n")
            }
            writeFile("\(output)/vectors.schema.json", Array((builtinVectorSchema + "\n").utf8), what: "-o")
            Out.standardOutput.write("\(output)/vectors.schema.json: the schema\n")
        }
    }

    struct Check: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Validate vector files against the schema (and ids, counts, hand-written reasons).",
            discussion: "Exit status: 0 all valid, 2 a file is unreadable or invalid (each problem named by file and byte offset).")
        @Argument(help: "Vector files (<group>.json) or directories holding them (default: Fixtures/vectors).")
        var paths: [String] = []
        @Option(help: "The schema (default: vectors.schema.json beside the first file, else the built-in one).")
        var schema: String?

        func run() throws {
            let files = vectorFiles(paths)
            let s = loadSchema(schema, for: files)
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
        @Option(name: .customLong("kernel-version"), help: "Kernel API era, \(KernelVersion.supported.lowerBound) to \(KernelVersion.supported.upperBound) (default: 6.1 for the model; for --driver the newest the driver builds for).")
        var kernelVersion: String?
        @Option(help: "The schema (default: vectors.schema.json beside the first file, else the built-in one).")
        var schema: String?
        @Flag(help: "Print every vector, not only failures.")
        var verbose = false

        func run() throws {
            let files = loadVectorFiles(paths, schema: schema)
            let (factory, version, name) = try driverSelection(model: model, driver: driver, kernelVersion: kernelVersion)
            Out.standardOutput.write("target: \(name)\n")
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

/// The <group>.json files named, or found in the directories named (schema excluded). A file
/// that is not JSON is not a vector file: exit 2 saying so, before any schema is read.
func vectorFiles(_ paths: [String]) -> [String] {
    var out: [String] = []
    for p in paths.isEmpty ? [defaultVectorDir] : paths {
        if isDirectory(p) {
            let names = ((try? FileManager.default.contentsOfDirectory(atPath: p)) ?? []).filter { $0.hasSuffix(".json") && $0 != "vectors.schema.json" }.sorted()
            if names.isEmpty { fail("\(p): no vector files (<group>.json) in this directory") }
            out += names.map { "\(p)/\($0)" }
        } else {
            guard FileManager.default.fileExists(atPath: p) else { fail("\(p): no such file or directory") }
            let bytes = readFile(p, what: "vectors")
            let first = bytes.first { ![0x20, 0x09, 0x0a, 0x0d].contains($0) }
            if !p.hasSuffix(".json") && first != UInt8(ascii: "{") {
                fail("\(p): not a vector file (a vector file is a <group>.json holding one JSON object, as 'hvblob vectors generate' writes)")
            }
            out.append(p)
        }
    }
    return out
}

/// The schema: the one given, else vectors.schema.json beside the first file, else the
/// built-in one (the committed Fixtures/vectors/vectors.schema.json). Exit 2 naming the file.
func loadSchema(_ given: String?, for files: [String]) -> JSONSchema {
    if let g = given, !FileManager.default.fileExists(atPath: g) { fail("--schema: \(g): no such file") }
    let beside = files.first.map { URL(fileURLWithPath: $0).deletingLastPathComponent().appendingPathComponent("vectors.schema.json").path }
    let path = given ?? beside.flatMap { FileManager.default.fileExists(atPath: $0) ? $0 : nil }
    let bytes = path.map { readFile($0, what: given != nil ? "--schema" : "schema") } ?? Array(builtinVectorSchema.utf8)
    do { return try VectorSuite.schema(bytes) } catch { fail("\(path ?? "the built-in schema"): \(error)") }
}

/// Loads and validates every vector file; exit 2 naming file and byte on the first bad one.
func loadVectorFiles(_ paths: [String], schema given: String? = nil) -> [VectorFile] {
    let files = vectorFiles(paths)
    let schema = loadSchema(given, for: files)
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
    return ({ machine in try BridgedDriver(built, machine: machine) }, built.version, "\(shown(built.source)) (API era \(built.version))")
}
