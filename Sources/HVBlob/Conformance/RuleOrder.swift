// SPDX-License-Identifier: Apache-2.0

extension Conformance {
    /// The boundary vectors of the ioctl group — one request breaking two rules whose order
    /// decides the errno (PROTOCOL.md §1) — generated from the rules' own oracles, not read from
    /// a file, so `verify` judges every driver on the same pairs `vectors run` does.
    static let orderVectors: [Vector] = VectorGenerator.generate()
        .first { $0.group == "ioctl" }?.vectors
        .filter { $0.comment.hasPrefix("order: ") } ?? []

    /// The two rules a boundary vector's comment names: "order: A before B: what".
    static func rules(of v: Vector) -> (String, String) {
        // Rule ids have no spaces: the first two words around "before".
        let words = v.comment.dropFirst("order: ".count).split(separator: " ")
        guard words.count >= 3, words[1] == "before" else { return (v.rule, "") }
        var second = words[2]
        if second.last == ":" { second.removeLast() }
        return (String(words[0]), String(second))
    }

    static var ruleOrderChecks: [(Check, Body)] {
        [
            check("ioctl.rule-order", .must,
                  "a request breaking two rules gets the errno of the rule checked first (every pair of PROTOCOL.md §1 whose order decides the answer)") { f, v, s in
                try control(f, v, s)
                guard !orderVectors.isEmpty else { throw Inconclusive(description: "no boundary vector was generated") }
                let layout = try DriverRig(factory: f, version: v, seed: s).driver.abi.layout
                var wrong: [String] = [], skipped: [String] = []
                for vec in orderVectors {
                    let (first, second) = rules(of: vec)
                    // A rule about a field the driver's struct does not have cannot be broken
                    // through it: the pair does not apply (ioctl.data-valid says so on its own).
                    if layout.dataValid == nil, [first, second].contains("ioctl.data-valid") {
                        skipped.append(vec.id)
                        continue
                    }
                    let why = try VectorRunner.ioctl(JSONNode(vec.inputs), JSONNode(vec.expected), f, v)
                    guard let why else { continue }
                    wrong.append("\(vec.id) \(vec.comment.dropFirst("order: ".count)): \(why)")
                    // The rule that should have answered: when its own check fails, that
                    // defect explains this pair.
                    if checks.contains(where: { $0.id == first }) { Scope.current?.becauseOf.insert(first) } else { Scope.current?.becauseOf.insert("ioctl.rule-order") }
                }
                let ran = orderVectors.count - skipped.count
                guard ran > 0 else { throw NotApplicable(description: "every boundary pair involves a field struct \(layout.structName) lacks") }
                Scope.current?.notes.append("\(ran) boundary pairs run, each on a fresh machine"
                    + (skipped.isEmpty ? "" : "; \(skipped.count) not applicable (struct \(layout.structName) has no data_valid): \(skipped.joined(separator: ", "))"))
                guard !wrong.isEmpty else { return nil }
                return "\(wrong.count) of \(ran) boundary pairs answered out of order:\n" + wrong.joined(separator: "\n")
            },
        ]
    }
}
