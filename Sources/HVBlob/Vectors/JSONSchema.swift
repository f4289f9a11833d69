// SPDX-License-Identifier: Apache-2.0

/// A small JSON Schema (draft 2020-12) validator: the keywords the vector schema uses and no
/// others — a schema using one it does not know is refused rather than half-checked.
/// Supported: $ref (local "#/$defs/..."), type, properties, required, additionalProperties,
/// items, minItems, maxItems, enum, const, pattern, minimum, maximum, minLength, allOf, anyOf,
/// oneOf, if/then/else; annotations ($schema, $id, $defs, $comment, title, description) ignored.
public struct JSONSchema: Sendable {
    public struct Failure: Error, Sendable, Equatable, CustomStringConvertible {
        /// JSON pointer of the failing value, e.g. /vectors/17/inputs/request_len.
        public let path: String
        public let offset: Int
        public let detail: String
        public var description: String { "byte \(offset) (\(path.isEmpty ? "/" : path)): \(detail)" }
    }

    let root: JSONNode
    static let known: Set<String> = ["$ref", "type", "properties", "required", "additionalProperties", "items", "minItems",
                                     "maxItems", "enum", "const", "pattern", "minimum", "maximum", "minLength", "allOf",
                                     "anyOf", "oneOf", "if", "then", "else", "$schema", "$id", "$defs", "$comment",
                                     "title", "description"]

    public init(_ schema: JSONNode) throws(Failure) {
        root = schema
        try JSONSchema.checkKnown(schema, path: "")
    }

    static func checkKnown(_ s: JSONNode, path: String) throws(Failure) {
        guard let members = s.members else {
            if s.bool != nil { return }
            throw Failure(path: path, offset: s.offset, detail: "a schema must be an object or a boolean")
        }
        for (k, v) in members {
            guard known.contains(k) else { throw Failure(path: path, offset: v.offset, detail: "schema keyword '\(k)' is not supported") }
            switch k {
            case "properties", "$defs":
                for (name, sub) in v.members ?? [] { try checkKnown(sub, path: path + "/\(k)/\(name)") }
            case "items", "additionalProperties", "if", "then", "else":
                try checkKnown(v, path: path + "/\(k)")
            case "allOf", "anyOf", "oneOf":
                for (i, sub) in (v.array ?? []).enumerated() { try checkKnown(sub, path: path + "/\(k)/\(i)") }
            default:
                break
            }
        }
    }

    /// Every failure, in document order (empty: valid).
    public func validate(_ value: JSONNode) -> [Failure] {
        var out: [Failure] = []
        check(value, against: root, path: "", into: &out, depth: 0)
        return out
    }

    func resolve(_ ref: String) -> JSONNode? {
        guard ref.hasPrefix("#/") else { return nil }
        var node = root
        for part in ref.dropFirst(2).split(separator: "/") {
            guard let next = node[String(part)] else { return nil }
            node = next
        }
        return node
    }

    func check(_ v: JSONNode, against s: JSONNode, path: String, into out: inout [Failure], depth: Int) {
        func fail(_ d: String) { out.append(Failure(path: path, offset: v.offset, detail: d)) }
        if let b = s.bool {
            if !b { fail("no value is allowed here") }
            return
        }
        guard depth < 64 else { fail("schema recursion too deep"); return }
        if let ref = s["$ref"]?.string {
            guard let target = resolve(ref) else { fail("schema $ref \(ref) does not resolve"); return }
            check(v, against: target, path: path, into: &out, depth: depth + 1)
        }
        if let t = s["type"] {
            let allowed = t.string.map { [$0] } ?? (t.array ?? []).compactMap(\.string)
            let actual = v.value.typeName
            let ok = allowed.contains(actual) || (actual == "integer" && allowed.contains("number"))
            if !ok { fail("expected \(allowed.joined(separator: " or ")), found \(actual)"); return }
        }
        if let e = s["enum"]?.array, !e.contains(where: { $0.value == v.value }) {
            fail("\(v.value.serialized()) is not one of \(e.map { $0.value.serialized() }.joined(separator: ", "))")
        }
        if let c = s["const"], c.value != v.value { fail("must be \(c.value.serialized())") }
        if case .string(let str) = v.value {
            if let min = s["minLength"]?.int, str.count < min { fail("shorter than \(min) characters") }
            if let p = s["pattern"]?.string {
                if let re = try? Regex(p) {
                    if (try? re.firstMatch(in: str)) == nil { fail("\"\(str.prefix(80))\" does not match /\(p)/") }
                } else {
                    fail("schema pattern /\(p)/ does not compile")
                }
            }
        }
        if case .number(let text) = v.value {
            // Integers compare exactly (64-bit values would lose bits as doubles).
            if let min = s["minimum"]?.int {
                if let x = Int64(text) { if x < min { fail("\(text) is below the minimum \(min)") } }
                else if UInt64(text) == nil, let d = Double(text), d < Double(min) { fail("\(text) is below the minimum \(min)") }
            }
            if let max = s["maximum"] {
                if let m = max.uint, let x = UInt64(text), x > m { fail("\(text) is above the maximum \(m)") }
                else if let m = max.int, let x = Int64(text), x > m { fail("\(text) is above the maximum \(m)") }
            }
        }
        if let members = v.members {
            for r in s["required"]?.array ?? [] {
                if let name = r.string, !members.contains(where: { $0.key == name }) { fail("required member \"\(name)\" is missing") }
            }
            let props = s["properties"]?.members ?? []
            for (k, sub) in members {
                if let ps = props.first(where: { $0.key == k })?.value {
                    check(sub, against: ps, path: path + "/" + k, into: &out, depth: depth + 1)
                } else if let ap = s["additionalProperties"] {
                    if ap.bool == false {
                        out.append(Failure(path: path + "/" + k, offset: sub.offset, detail: "member \"\(k)\" is not allowed here"))
                    } else if ap.members != nil {
                        check(sub, against: ap, path: path + "/" + k, into: &out, depth: depth + 1)
                    }
                }
            }
        }
        if let items = v.array {
            if let min = s["minItems"]?.int, items.count < min { fail("\(items.count) item(s), at least \(min) required") }
            if let max = s["maxItems"]?.int, items.count > max { fail("\(items.count) item(s), at most \(max) allowed") }
            if let itemSchema = s["items"] {
                for (i, item) in items.enumerated() { check(item, against: itemSchema, path: path + "/\(i)", into: &out, depth: depth + 1) }
            }
        }
        for sub in s["allOf"]?.array ?? [] { check(v, against: sub, path: path, into: &out, depth: depth + 1) }
        if let any = s["anyOf"]?.array {
            let passing = any.filter { sub in var o: [Failure] = []; check(v, against: sub, path: path, into: &o, depth: depth + 1); return o.isEmpty }
            if passing.isEmpty { fail("matches none of the \(any.count) alternatives (anyOf)") }
        }
        if let one = s["oneOf"]?.array {
            var results: [[Failure]] = []
            for sub in one { var o: [Failure] = []; check(v, against: sub, path: path, into: &o, depth: depth + 1); results.append(o) }
            let n = results.filter(\.isEmpty).count
            if n != 1 {
                // With no match, the alternative that failed least says most.
                if n == 0, let best = results.min(by: { $0.count < $1.count }) { out += best } else { fail("matches \(n) of the oneOf alternatives, exactly one required") }
            }
        }
        if let cond = s["if"] {
            var o: [Failure] = []
            check(v, against: cond, path: path, into: &o, depth: depth + 1)
            if o.isEmpty, let t = s["then"] { check(v, against: t, path: path, into: &out, depth: depth + 1) }
            if !o.isEmpty, let e = s["else"] { check(v, against: e, path: path, into: &out, depth: depth + 1) }
        }
    }
}
