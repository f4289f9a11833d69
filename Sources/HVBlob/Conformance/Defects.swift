// SPDX-License-Identifier: Apache-2.0

/// A verdict read as defects, not symptoms: each violated rule once, with the check that shows
/// it most directly and its evidence, and every other failing check listed under the defects
/// that explain it. A user fixes defects; fifteen failing checks that all come from one wrong
/// pin flag are one line of work, and the report should say so.
public struct DefectReport: Sendable {
    public struct Defect: Sendable {
        /// The rule broken: a finding rule (`pin.host-write-without-write-intent`) or, for a check
        /// that fails on its own terms (an errno) with no finding behind it, the check's id.
        public let rule: String
        /// The check that shows it most directly.
        public let shownBy: String
        /// What that check saw (the first finding of the rule, or the check's failure).
        public let evidence: String
        /// Other failing checks that fail (also) because of this defect.
        public var alsoFailing: [String]
    }

    public private(set) var defects: [Defect] = []
    /// Failing checks that are not the primary evidence of any defect, with the defects that
    /// explain them.
    public private(set) var explained: [(check: String, by: [String])] = []
    public let failing: Int
    public let inconclusive: Int

    /// Findings that are consequences when a guest defect is present in the same check: data
    /// and responses that differ from the store (the zero page written), ioctls that hang after
    /// the thread that should complete them crashed.
    static func isSymptom(_ rule: String, among rules: Set<String>) -> Bool {
        if rule.hasPrefix("integrity.") && rule != "integrity.completion-misdelivered" {
            return rules.contains { !$0.hasPrefix("integrity.") }
        }
        if rule == "liveness.ioctl-hang" || rule == "liveness.remove-hang" {
            return rules.contains("guest.crash")
        }
        return false
    }

    public init(_ results: [Conformance.Result]) {
        let failing = results.filter { $0.verdict == .fail }
        self.failing = failing.count
        inconclusive = results.filter { $0.verdict == .inconclusive }.count
        let seen = Set(results.flatMap { $0.findings.keys })
        // What each failing check fails on: its finding rules without their symptoms, or, when
        // it failed on its own terms, the rules it is the direct test of (if they were seen),
        // else itself.
        var causes: [String: [String]] = [:]
        var own: [String: Bool] = [:]
        for r in failing {
            let rules = Set(r.failedOn)
            var c = rules.filter { !DefectReport.isSymptom($0, among: rules) }.sorted()
            if c.isEmpty && !rules.isEmpty { c = rules.sorted() }
            if rules.isEmpty {
                own[r.check.id] = true
                let direct = r.check.direct.filter(seen.contains)
                c = direct.isEmpty ? [r.check.id] : direct
            }
            causes[r.check.id] = c
        }
        // Each rule once, shown by its most direct failing check: one that tests it directly,
        // else the one with the fewest other causes, else the first in report order.
        var order: [String] = []
        for r in failing { for c in causes[r.check.id] ?? [] where !order.contains(c) { order.append(c) } }
        var primaryOf: [String: String] = [:]
        for rule in order {
            let candidates = failing.filter { causes[$0.check.id]?.contains(rule) ?? false }
            let best = candidates.first { $0.check.direct.contains(rule) || $0.check.id == rule }
                ?? candidates.min { (causes[$0.check.id]?.count ?? 0) < (causes[$1.check.id]?.count ?? 0) }
            guard let best else { continue }
            primaryOf[rule] = best.check.id
            let evidence = own[best.check.id] == true ? best.detail.split(separator: "\n").first.map(String.init) ?? best.detail
                : best.firstFindings[rule] ?? best.detail
            defects.append(Defect(rule: rule, shownBy: best.check.id, evidence: evidence, alsoFailing: []))
        }
        let primaries = Set(primaryOf.values)
        for r in failing where !primaries.contains(r.check.id) {
            let by = causes[r.check.id] ?? []
            explained.append((r.check.id, by))
            for rule in by {
                if let k = defects.firstIndex(where: { $0.rule == rule }) { defects[k].alsoFailing.append(r.check.id) }
            }
        }
    }

    /// "3 defects; 25 checks fail, 19 of them only through these; 0 inconclusive".
    public var countsLine: String {
        "\(defects.count) defect\(defects.count == 1 ? "" : "s"); \(failing) check\(failing == 1 ? "" : "s") fail"
            + (explained.isEmpty ? "" : ", \(explained.count) of them only through these")
            + "; \(inconclusive) inconclusive"
    }

    /// The defects as text, one block each.
    public var text: String {
        var s = ""
        for (k, d) in defects.enumerated() {
            s += "  \(k + 1). \(d.rule) — shown by \(d.shownBy): \(d.evidence)\n"
            if !d.alsoFailing.isEmpty { s += "     also fails because of it: \(d.alsoFailing.joined(separator: ", "))\n" }
        }
        return s
    }
}
