// SPDX-License-Identifier: Apache-2.0
import Foundation
import HVBlob
import Testing

let vectorDir = repoRoot.appendingPathComponent("Fixtures/vectors")

func vectorSchema() throws -> JSONSchema {
    try VectorSuite.schema(Array(try Data(contentsOf: vectorDir.appendingPathComponent("vectors.schema.json"))))
}

func vectorFiles() throws -> [VectorFile] {
    let schema = try vectorSchema()
    return try VectorFile.groups.map { g in
        let url = vectorDir.appendingPathComponent("\(g).json")
        return try VectorSuite.load(Array(try Data(contentsOf: url)), file: url.path, schema: schema)
    }
}

@Suite("Test vectors")
struct VectorTests {
    @Test("vectors.schema: every group file validates against vectors.schema.json and decodes")
    func schemaValid() throws {
        let files = try vectorFiles()
        #expect(files.map(\.group) == VectorFile.groups)
        for f in files {
            #expect(f.vectors.count >= 7, "\(f.group)")
            #expect(Set(f.vectors.map(\.id)).count == f.vectors.count)
            #expect(f.vectors.allSatisfy { $0.id.hasPrefix(f.group + "-") })
        }
    }

    @Test("vectors.current: the files are exactly what the seeded generator writes today")
    func current() throws {
        for f in VectorGenerator.generate() {
            let disk = try String(contentsOf: vectorDir.appendingPathComponent("\(f.group).json"), encoding: .utf8)
            #expect(disk == f.text, "\(f.group).json is stale: run 'swift run hvblob vectors generate -o Fixtures/vectors' and review the diff")
        }
        // Another seed gives other generated vectors, the same hand-written ones.
        let other = VectorGenerator.generate(seed: 7)
        let ioctl = try #require(other.first { $0.group == "ioctl" })
        #expect(ioctl.text != VectorGenerator.generate().first { $0.group == "ioctl" }?.text)
        let same = other.first { $0.group == "lifecycle" }?.vectors == VectorGenerator.generate().first { $0.group == "lifecycle" }?.vectors
        #expect(same, "hand-written vectors do not depend on the seed")
    }

    @Test("vectors.model: every vector passes against the Swift model", arguments: VectorFile.groups)
    func model(_ group: String) throws {
        let f = try #require(try vectorFiles().first { $0.group == group })
        let results = VectorRunner.run(f, factory: nil)
        let failed = results.filter { $0.verdict == .fail }
        #expect(failed.isEmpty, "\(failed.prefix(5).map { "\($0.vector.id): \($0.detail)" })")
        #expect(results.filter { $0.verdict == .pass }.count == f.vectors.count)
    }

    @Test("vectors.v5: the posted v5 behaviour fails the vectors of the rules the review found broken")
    func v5() throws {
        let files = try vectorFiles()
        let v5: DriverRig.Factory = { m in BlobVSC(channel: m.channel, memory: m.memory, log: m.log, behavior: .v5) }
        var failedRules: Set<String> = []
        for f in files where ["ioctl", "completions", "lifecycle"].contains(f.group) {
            for r in VectorRunner.run(f, factory: v5, version: KernelVersion(5, 13)) where r.verdict == .fail {
                failedRules.insert(r.vector.rule)
            }
        }
        #expect(failedRules.contains("ioctl.pin.write-intent"), "\(failedRules.sorted())")
        #expect(failedRules.contains("ioctl.pin.request-read-only"))
        #expect(failedRules.contains("ioctl.response-len.bound"))
        #expect(failedRules.contains("lifecycle.rescind-in-flight"))
        #expect(failedRules.contains("completion.zero-id"))
        #expect(!failedRules.contains("ioctl.len.zero"), "v5 does check zero lengths")
    }

    @Test("vectors.runner: a vector whose expectation is wrong fails (the runner checks, it does not echo)")
    func runnerChecks() throws {
        var f = try #require(try vectorFiles().first { $0.group == "ioctl" })
        f.vectors = Array(f.vectors.prefix(3))
        for k in f.vectors.indices {
            let want = JSONNode(f.vectors[k].expected)["errno"]?.string
            f.vectors[k].expected = obj(["errno": .string(want == "0" ? "EINVAL" : "0"), "packets": .int(0)])
        }
        #expect(VectorRunner.run(f, factory: nil).allSatisfy { $0.verdict == .fail })
        var m = try #require(try vectorFiles().first { $0.group == "mpb" })
        m.vectors = [m.vectors[1]]
        var e = m.vectors[0].expected
        if case .object(var members) = e, let k = members.firstIndex(where: { $0.key == "request_buffer_offset" }) {
            members[k].value = JSONNode(.int(123_456))
            e = .object(members)
        }
        m.vectors[0].expected = e
        let r = VectorRunner.run(m, factory: nil)
        #expect(r.first?.verdict == .fail && r.first?.detail.contains("request_buffer_offset") == true)
    }

    // MARK: robust input

    @Test("vectors.robust: every truncation of a vector file is an error with a byte offset inside it, never a trap")
    func truncations() throws {
        let schema = try vectorSchema()
        let text = Array(try Data(contentsOf: vectorDir.appendingPathComponent("lifecycle.json")))
        var n = 0
        for cut in stride(from: 0, to: text.count - 1, by: 7) {
            do {
                _ = try VectorSuite.load(Array(text[0..<cut]), file: "lifecycle.json", schema: schema)
                Issue.record("a cut at \(cut) parsed")
            } catch {
                n += 1
                #expect(error.problems.allSatisfy { $0.offset <= cut }, "\(error)")
            }
        }
        #expect(n > 100)
    }

    @Test("vectors.robust: schema and semantic errors name the byte and the path")
    func semanticErrors() throws {
        let schema = try vectorSchema()
        let text = try String(contentsOf: vectorDir.appendingPathComponent("completions.json"), encoding: .utf8)
        func load(_ t: String) -> VectorFileError? {
            do { _ = try VectorSuite.load(Array(t.utf8), file: "c.json", schema: schema); return nil } catch { return error }
        }
        func offset(of needle: String, in t: String) -> Int { t.utf8.count - (t.range(of: needle).map { t[$0.lowerBound...].utf8.count } ?? 0) }
        // A string where the schema wants an integer.
        var t = text.replacingOccurrences(of: "\"response_buffer_len\": 64", with: "\"response_buffer_len\": \"64\"")
        var e = try #require(load(t))
        #expect(e.problems.contains { $0.detail.contains("/vectors/0/inputs/response_buffer_len") && $0.offset == offset(of: "\"64\"", in: t) }, "\(e)")
        // A duplicate id.
        t = text.replacingOccurrences(of: "\"id\": \"completions-0002\"", with: "\"id\": \"completions-0001\"")
        e = try #require(load(t))
        #expect(e.problems.first?.detail.contains("duplicate vector id completions-0001") == true)
        // A hand-written vector without its reason.
        t = text.replacingOccurrences(of: "\"why\": \"the v5 review", with: "\"why_not\": \"the v5 review")
        e = try #require(load(t))
        #expect(!e.problems.isEmpty)
        // The count disagrees.
        t = text.replacingOccurrences(of: "\"numberOfVectors\": 13", with: "\"numberOfVectors\": 14")
        e = try #require(load(t))
        #expect(e.problems.first?.detail.contains("numberOfVectors") == true)
        // An unknown member.
        t = text.replacingOccurrences(of: "\"then_real_completion\"", with: "\"then_fake_completion\"")
        e = try #require(load(t))
        #expect(e.problems.contains { $0.detail.contains("not allowed") })
    }

    @Test("json.parser: escapes, surrogates, numbers, limits — and errors with offsets")
    func jsonParser() throws {
        let v = try JSONParser.parse(Array(#"{"a": [1, -2, 3.5e2, "x\u00e9\ud83d\ude00\n"], "b": {"c": null, "d": true}}"#.utf8))
        #expect(v["a"]?.array?.count == 4)
        #expect(v["a"]?.array?[3].string == "xé😀\n")
        #expect(v["a"]?.array?[1].int == -2)
        #expect(v["a"]?.array?[2].value.typeName == "number")
        #expect(v["b"]?["d"]?.bool == true)
        #expect(v["a"]?.offset == 6)
        let u = try JSONParser.parse(Array("18446744073709551615".utf8))
        #expect(u.uint == UInt64.max)
        let cases: [(String, Int)] = [("{", 1), ("[1,]", 3), ("01", 0), ("\"abc", 0), ("{\"a\":1,\"a\":2}", 7), ("[1] x", 4),
                                      ("\"\\ud800\"", 1), ("tru", 3), ("{\"a\" 1}", 5), ("\"\u{1}\"", 1), ("-", 1), ("1.", 2)]
        for (text, at) in cases {
            #expect(throws: JSONError.self, "\(text)") { try JSONParser.parse(Array(text.utf8)) }
            do { _ = try JSONParser.parse(Array(text.utf8)) } catch { #expect(error.offset == at, "\(text): \(error)") }
        }
        let deep = String(repeating: "[", count: 100) + String(repeating: "]", count: 100)
        #expect(throws: JSONError.self) { try JSONParser.parse(Array(deep.utf8)) }
        // What the serializer writes parses back to the same value.
        let back = try JSONParser.parse(Array(v.value.serialized().utf8))
        #expect(back.value == v.value)
    }

    @Test("vectors.cli: check passes on the fixtures and exits 2 on a corrupt file, naming file and byte")
    func cli() throws {
        let ok = try runProcess([CLITests.binary, "vectors", "check", vectorDir.path])
        #expect(ok.status == 0, "\(ok.output)")
        #expect(ok.output.contains("ioctl.json: valid"))
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("hvblob-vectors-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        try FileManager.default.copyItem(at: vectorDir.appendingPathComponent("vectors.schema.json"), to: dir.appendingPathComponent("vectors.schema.json"))
        let bad = "{\"group\": \"ring\", \"vectors\": [1, 2,, 3]}"
        try bad.write(to: dir.appendingPathComponent("ring.json"), atomically: true, encoding: .utf8)
        let out = try runProcess([CLITests.binary, "vectors", "check", dir.path])
        #expect(out.status == 2)
        #expect(out.output.contains("ring.json: byte 35"), "\(out.output)")
        let run = try runProcess([CLITests.binary, "vectors", "run", dir.path])
        #expect(run.status == 2)
    }
}
