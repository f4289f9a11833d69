// SPDX-License-Identifier: Apache-2.0

/// One test vector, the Wycheproof way: an id, the rule it tests (MUST or SHOULD), a comment,
/// where it came from (generated from a seed, or hand-written and why), the targets it applies
/// to, its inputs and the expected result.
public struct Vector: Sendable, Equatable {
    public var id: String
    public var rule: String
    public var level: Conformance.Level
    public var comment: String
    /// nil: generated; else why a person wrote it.
    public var why: String?
    public var targets: [String]
    public var inputs: JSON
    public var expected: JSON
    /// Where the vector starts in its file (0 when built in code).
    public var offset = 0

    public init(id: String, rule: String, level: Conformance.Level, comment: String, why: String? = nil,
                targets: [String] = ["model", "driver"], inputs: JSON, expected: JSON) {
        self.id = id
        self.rule = rule
        self.level = level
        self.comment = comment
        self.why = why
        self.targets = targets
        self.inputs = inputs
        self.expected = expected
    }

    public static func == (a: Vector, b: Vector) -> Bool {
        a.id == b.id && a.rule == b.rule && a.level == b.level && a.comment == b.comment && a.why == b.why
            && a.targets == b.targets && a.inputs == b.inputs && a.expected == b.expected
    }

    var json: JSON {
        var m: [(key: String, value: JSONNode)] = [
            ("id", JSONNode(.string(id))), ("rule", JSONNode(.string(rule))), ("level", JSONNode(.string(level.rawValue))),
            ("comment", JSONNode(.string(comment))), ("origin", JSONNode(.string(why == nil ? "generated" : "hand-written"))),
        ]
        if let why { m.append(("why", JSONNode(.string(why)))) }
        m.append(("targets", JSONNode(arr(targets.map { .string($0) }))))
        m.append(("inputs", JSONNode(inputs)))
        m.append(("expected", JSONNode(expected)))
        return .object(m)
    }
}

/// One group's file: `Fixtures/vectors/<group>.json`.
public struct VectorFile: Sendable, Equatable {
    public static let groups = ["ioctl", "layouts", "mpb", "ring", "request-ids", "completions", "lifecycle"]

    public var group: String
    public var description: String
    /// How the generated vectors were made (the command and seed).
    public var generator: String
    public var vectors: [Vector]

    public init(group: String, description: String, generator: String, vectors: [Vector]) {
        self.group = group
        self.description = description
        self.generator = generator
        self.vectors = vectors
    }

    public var json: JSON {
        obj([
            "$schema": .string("./vectors.schema.json"),
            "group": .string(group),
            "description": .string(description),
            "generator": .string(generator),
            "numberOfVectors": .int(vectors.count),
            "vectors": arr(vectors.map(\.json)),
        ])
    }

    public var text: String { json.serialized() + "\n" }

    /// Reads a file that already passed the schema; anything the schema cannot say (unique
    /// ids, the count) is checked here. Errors name the byte offset.
    public static func decode(_ root: JSONNode) throws(JSONError) -> VectorFile {
        func str(_ n: JSONNode?, _ what: String, at: Int) throws(JSONError) -> String {
            guard let s = n?.string else { throw JSONError(n?.offset ?? at, "\(what): expected a string") }
            return s
        }
        let group = try str(root["group"], "group", at: root.offset)
        guard groups.contains(group) else { throw JSONError(root["group"]?.offset ?? 0, "group \"\(group)\" is not one of \(groups.joined(separator: ", "))") }
        guard let items = root["vectors"]?.array else { throw JSONError(root.offset, "vectors: expected an array") }
        var out: [Vector] = []
        var ids: Set<String> = []
        for item in items {
            let id = try str(item["id"], "vector id", at: item.offset)
            guard ids.insert(id).inserted else { throw JSONError(item["id"]?.offset ?? item.offset, "duplicate vector id \(id)") }
            let levelText = try str(item["level"], "\(id).level", at: item.offset)
            guard let level = Conformance.Level(rawValue: levelText) else { throw JSONError(item["level"]?.offset ?? item.offset, "\(id).level: \(levelText) is not MUST or SHOULD") }
            let origin = try str(item["origin"], "\(id).origin", at: item.offset)
            let why = item["why"]?.string
            if origin == "hand-written" && (why ?? "").isEmpty {
                throw JSONError(item.offset, "\(id): a hand-written vector must say why it exists")
            }
            guard let inputs = item["inputs"], let expected = item["expected"] else { throw JSONError(item.offset, "\(id): inputs and expected are required") }
            var v = Vector(id: id, rule: try str(item["rule"], "\(id).rule", at: item.offset), level: level,
                           comment: try str(item["comment"], "\(id).comment", at: item.offset), why: origin == "hand-written" ? why : nil,
                           targets: (item["targets"]?.array ?? []).compactMap(\.string), inputs: inputs.value, expected: expected.value)
            v.offset = item.offset
            out.append(v)
        }
        if let n = root["numberOfVectors"], n.int != Int64(out.count) {
            throw JSONError(n.offset, "numberOfVectors says \(n.value.serialized()), the file has \(out.count)")
        }
        return VectorFile(group: group, description: root["description"]?.string ?? "", generator: root["generator"]?.string ?? "", vectors: out)
    }
}

/// A vector file as read from disk: parsed, validated against the schema, decoded. Every
/// problem is a `VectorFileError` naming the file and the byte offset.
public struct VectorFileError: Error, Sendable, CustomStringConvertible {
    public let file: String
    public let problems: [(offset: Int, detail: String)]
    public var description: String {
        problems.prefix(20).map { "\(file): byte \($0.offset): \($0.detail)" }.joined(separator: "\n")
            + (problems.count > 20 ? "\n\(file): ... \(problems.count - 20) more" : "")
    }
}

public enum VectorSuite {
    public static func load(_ bytes: [UInt8], file: String, schema: JSONSchema) throws(VectorFileError) -> VectorFile {
        let root: JSONNode
        do { root = try JSONParser.parse(bytes) } catch { throw VectorFileError(file: file, problems: [(error.offset, error.detail)]) }
        let failures = schema.validate(root)
        if !failures.isEmpty {
            throw VectorFileError(file: file, problems: failures.map { ($0.offset, "\($0.path.isEmpty ? "/" : $0.path): \($0.detail)") })
        }
        do { return try VectorFile.decode(root) } catch { throw VectorFileError(file: file, problems: [(error.offset, error.detail)]) }
    }

    public static func schema(_ bytes: [UInt8]) throws(VectorFileError) -> JSONSchema {
        do {
            let node = try JSONParser.parse(bytes)
            do { return try JSONSchema(node) } catch { throw VectorFileError(file: "vectors.schema.json", problems: [(error.offset, error.detail)]) }
        } catch let e as JSONError {
            throw VectorFileError(file: "vectors.schema.json", problems: [(e.offset, e.detail)])
        } catch let e as VectorFileError {
            throw e
        } catch {
            throw VectorFileError(file: "vectors.schema.json", problems: [(0, "\(error)")])
        }
    }
}
