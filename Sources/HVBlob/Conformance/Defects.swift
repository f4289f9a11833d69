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
        /// For C code: where the harm happened, `function (file.c:line)`, read from the evidence
        /// once its code addresses are resolved (`symbolized`); nil when the evidence names none.
        public var site: String? = nil
        /// The finding behind the evidence, where a site may be named when the evidence names none.
        var finding: String = ""
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
        // A check that failed on its own terms because other checks fail (a boundary pair
        // answered by the wrong rule when the rule that should win fails its own check) has
        // their causes; what no failing check explains keeps the check itself as a cause.
        let failingIds = Set(failing.map(\.check.id))
        for r in failing where own[r.check.id] == true && !r.becauseOf.isEmpty {
            var c: [String] = []
            for other in r.becauseOf where other != r.check.id {
                guard failingIds.contains(other) else { c.append(r.check.id); continue }
                for k in causes[other] ?? [other] where !c.contains(k) { c.append(k) }
            }
            if c.isEmpty { c = [r.check.id] }
            causes[r.check.id] = c.contains(r.check.id) ? [r.check.id] + c.filter { $0 != r.check.id } : c
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
            let evidence = own[best.check.id] == true ? DefectReport.headline(best.detail) : best.firstFindings[rule] ?? best.detail
            defects.append(Defect(rule: rule, shownBy: best.check.id, evidence: evidence, alsoFailing: [],
                                  finding: best.firstFindings[rule] ?? candidates.lazy.compactMap { $0.firstFindings[rule] }.first ?? ""))
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

    /// A check's failure in one line: its first line, and when that only introduces what follows
    /// ("84 of 300 requests differ:"), the first thing it introduces.
    static func headline(_ detail: String) -> String {
        let lines = detail.split(separator: "\n").map { $0.defectTrimmed }.filter { !$0.isEmpty }
        guard let first = lines.first else { return detail }
        if first.hasSuffix(":") { return lines.count > 1 ? first + " " + lines[1] : first + " (empty)" }
        return first
    }

    /// The same report with `resolve` applied to every evidence text (code addresses become
    /// `function (file:line)`), in one call so that a resolver that runs a tool runs it once;
    /// each defect's site is then read from its evidence.
    public func symbolized(_ resolve: ([String]) -> [String]) -> DefectReport {
        var copy = self
        let texts = resolve(defects.map(\.evidence) + defects.map(\.finding))
        let n = defects.count
        for k in copy.defects.indices {
            let d = copy.defects[k]
            let e = texts.count == 2 * n ? texts[k] : d.evidence
            let f = texts.count == 2 * n ? texts[n + k] : d.finding
            copy.defects[k] = Defect(rule: d.rule, shownBy: d.shownBy, evidence: e, alsoFailing: d.alsoFailing,
                                     site: d.site ?? DefectReport.site(in: e) ?? DefectReport.site(in: f), finding: f)
        }
        return copy
    }

    /// The first `function (file.c:line)` (or `.h`) in `text`, as written there.
    public static func site(in text: String) -> String? {
        let chars = Array(text)
        var i = 0
        while i < chars.count {
            guard chars[i] == "(" else { i += 1; continue }
            // "name (file.c:123)": a file name ending in .c or .h, a colon, digits, ")".
            var j = i + 1
            while j < chars.count, chars[j] != ")", chars[j] != "(", chars[j] != " " { j += 1 }
            let inner = String(chars[(i + 1)..<j])
            if j < chars.count, chars[j] == ")", let colon = inner.lastIndex(of: ":") {
                let file = inner[..<colon], line = inner[inner.index(after: colon)...]
                if (file.hasSuffix(".c") || file.hasSuffix(".h")), !line.isEmpty, line.allSatisfy(\.isNumber) {
                    var k = i - 1
                    while k >= 0, chars[k] == " " { k -= 1 }
                    var start = k
                    while start >= 0, chars[start].isLetter || chars[start].isNumber || chars[start] == "_" || chars[start] == "." { start -= 1 }
                    let name = k > start ? String(chars[(start + 1)...k]) : ""
                    return name.isEmpty ? inner : "\(name) (\(inner))"
                }
            }
            i = j
        }
        return nil
    }

    /// The defects that explain `check` (empty when it is the primary evidence of one, passes,
    /// or stands on its own).
    public func explanation(of check: String) -> [String] {
        explained.first { $0.check == check }?.by ?? []
    }

    /// The defect `check` is the most direct evidence of, if any.
    public func defect(shownBy check: String) -> [Defect] {
        defects.filter { $0.shownBy == check }
    }

    /// Failing checks explained only by reported defects (the "K of them only through these").
    public var explainedCount: Int { explained.count }

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
            if let site = d.site, !d.evidence.contains(site) { s += "     at \(site)\n" }
            if !d.alsoFailing.isEmpty { s += "     also fails because of it: \(d.alsoFailing.joined(separator: ", "))\n" }
        }
        return s
    }
}

fileprivate extension Substring {
    var defectTrimmed: String {
        var s = self
        while s.first == " " || s.first == "\t" { s.removeFirst() }
        while s.last == " " || s.last == "\t" { s.removeLast() }
        return String(s)
    }
}
