// SPDX-License-Identifier: Apache-2.0

/// One row per rule: its level, the verdict, and what stands behind it — the conformance
/// checks (simulated scenarios) and the vectors (data) — rendered for people (text, HTML),
/// for CI systems (JUnit XML), for kernel tooling (KTAP, as KUnit prints it) and for programs
/// (JSON).
public struct ConformanceReport: Sendable {
    public struct Evidence: Sendable {
        public enum Kind: String, Sendable { case check, vector }
        public let kind: Kind
        public let id: String
        public let summary: String
        /// nil: not applicable to this target.
        public let passed: Bool?
        public let detail: String
    }

    public struct Row: Sendable {
        public let rule: String
        public let level: Conformance.Level
        public var evidence: [Evidence]
        public var failed: Int { evidence.filter { $0.passed == false }.count }
        public var passed: Int { evidence.filter { $0.passed == true }.count }
        public var verdict: String { failed > 0 ? "fail" : passed > 0 ? "pass" : "n/a" }
    }

    public let target: String
    public var rows: [Row]

    public init(target: String, checks: [Conformance.Result], vectors: [VectorOutcome]) {
        self.target = target
        var rows: [String: Row] = [:]
        for c in checks {
            rows[c.check.id, default: Row(rule: c.check.id, level: c.check.level, evidence: [])].evidence.append(
                Evidence(kind: .check, id: c.check.id, summary: c.check.summary, passed: c.verdict == .notApplicable ? nil : c.passed, detail: c.detail))
        }
        for v in vectors {
            let e = Evidence(kind: .vector, id: v.vector.id, summary: v.vector.comment,
                             passed: v.verdict == .notApplicable ? nil : v.verdict == .pass, detail: v.detail)
            rows[v.vector.rule, default: Row(rule: v.vector.rule, level: v.vector.level, evidence: [])].evidence.append(e)
        }
        self.rows = rows.values.sorted { $0.rule < $1.rule }
    }

    public var failedRules: [Row] { rows.filter { $0.verdict == "fail" } }
    public var clean: Bool { failedRules.isEmpty }

    public func render(_ format: String) -> String? {
        switch format {
        case "text": return text
        case "json": return json
        case "junit": return junit
        case "ktap": return ktap
        case "html": return html
        default: return nil
        }
    }

    public static let formats = ["text", "json", "junit", "ktap", "html"]

    var counts: String {
        let must = failedRules.filter { $0.level == .must }.count
        return "\(rows.count) rules: \(rows.filter { $0.verdict == "pass" }.count) pass, \(failedRules.count) fail (\(must) MUST, \(failedRules.count - must) SHOULD), \(rows.filter { $0.verdict == "n/a" }.count) not applicable"
    }

    // MARK: text

    public var text: String {
        var s = "conformance of \(target)\n"
        for r in rows {
            let checks = r.evidence.filter { $0.kind == .check }.count
            let vectors = r.evidence.filter { $0.kind == .vector && $0.passed != nil }.count
            s += "\(r.verdict.uppercased().padding(4)) \(r.level.rawValue.padding(6)) \(r.rule.padding(32)) \(checks) check(s), \(vectors) vector(s)\n"
            for e in r.evidence where e.passed == false {
                s += "      \(e.kind.rawValue) \(e.id): \(e.detail)\n"
            }
        }
        s += "verdict: \(counts)\n"
        return s
    }

    // MARK: JSON

    public var json: String {
        let ruleObjects: [JSON] = rows.map { r in
            obj(["rule": .string(r.rule), "level": .string(r.level.rawValue), "verdict": .string(r.verdict),
                 "evidence": arr(r.evidence.map { e in
                     obj(["kind": .string(e.kind.rawValue), "id": .string(e.id), "summary": .string(e.summary),
                          "verdict": .string(e.passed.map { $0 ? "pass" : "fail" } ?? "n/a"), "detail": .string(e.detail)])
                 })])
        }
        return obj(["target": .string(target), "rules": .int(rows.count), "failed": .int(failedRules.count),
                    "results": arr(ruleObjects)]).serialized() + "\n"
    }

    // MARK: JUnit XML

    static func xml(_ s: String) -> String {
        var out = ""
        for c in s.unicodeScalars {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&apos;"
            default:
                // XML 1.0 forbids most control characters even escaped.
                if c.value < 0x20 && c != "\n" && c != "\t" && c != "\r" { out += "?" } else { out.unicodeScalars.append(c) }
            }
        }
        return out
    }

    public var junit: String {
        let total = rows.reduce(0) { $0 + $1.evidence.count }
        let failures = rows.reduce(0) { $0 + $1.failed }
        let skipped = rows.reduce(0) { $0 + $1.evidence.filter { $0.passed == nil }.count }
        var s = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
        s += "<testsuites name=\"hvblob conformance\" tests=\"\(total)\" failures=\"\(failures)\" skipped=\"\(skipped)\">\n"
        for r in rows {
            s += "  <testsuite name=\"\(ConformanceReport.xml(r.rule))\" tests=\"\(r.evidence.count)\" failures=\"\(r.failed)\" skipped=\"\(r.evidence.filter { $0.passed == nil }.count)\">\n"
            s += "    <properties><property name=\"level\" value=\"\(r.level.rawValue)\"/><property name=\"target\" value=\"\(ConformanceReport.xml(target))\"/></properties>\n"
            for e in r.evidence {
                s += "    <testcase classname=\"\(ConformanceReport.xml(r.rule))\" name=\"\(ConformanceReport.xml(e.kind.rawValue + " " + e.id + ": " + e.summary))\""
                switch e.passed {
                case .some(true): s += "/>\n"
                case .some(false): s += "><failure message=\"\(ConformanceReport.xml(e.detail))\">\(ConformanceReport.xml(e.detail))</failure></testcase>\n"
                case .none: s += "><skipped message=\"\(ConformanceReport.xml(e.detail))\"/></testcase>\n"
                }
            }
            s += "  </testsuite>\n"
        }
        s += "</testsuites>\n"
        return s
    }

    // MARK: KTAP (Documentation/dev-tools/ktap.rst, as KUnit prints it)

    static func ktapName(_ s: String) -> String {
        // A test name must not contain '#' (it starts a directive) or a line break.
        String(s.map { $0 == "#" || $0 == "\n" ? "_" : $0 })
    }

    public var ktap: String {
        let ktapName = ConformanceReport.ktapName
        var s = "KTAP version 1\n# hvblob conformance of \(ktapName(target))\n1..\(rows.count)\n"
        for (i, r) in rows.enumerated() {
            s += "    KTAP version 1\n    # Subtest: \(ktapName(r.rule))\n    # level: \(r.level.rawValue)\n    1..\(r.evidence.count)\n"
            for (k, e) in r.evidence.enumerated() {
                let name = ktapName("\(e.kind.rawValue)-\(e.id)")
                switch e.passed {
                case .some(true): s += "    ok \(k + 1) \(name)\n"
                case .some(false):
                    for line in e.detail.split(separator: "\n") { s += "    # \(ktapName(String(line)))\n" }
                    s += "    not ok \(k + 1) \(name)\n"
                case .none: s += "    ok \(k + 1) \(name) # SKIP \(ktapName(e.detail))\n"
                }
            }
            switch r.verdict {
            case "fail": s += "not ok \(i + 1) \(ktapName(r.rule))\n"
            case "pass": s += "ok \(i + 1) \(ktapName(r.rule))\n"
            default: s += "ok \(i + 1) \(ktapName(r.rule)) # SKIP not applicable to this target\n"
            }
        }
        s += "# \(counts)\n"
        return s
    }

    // MARK: HTML (one self-contained page)

    public var html: String {
        let h = ConformanceReport.xml
        var s = """
            <!DOCTYPE html>
            <html lang="en"><head><meta charset="utf-8"><title>hvblob conformance: \(h(target))</title>
            <style>
            body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#222}
            table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #ddd;padding:4px 8px;text-align:left;vertical-align:top}
            .pass{color:#176f2c;font-weight:600}.fail{color:#b00020;font-weight:600}.na{color:#777}
            details summary{cursor:pointer}code{font-family:ui-monospace,monospace;font-size:13px}
            </style></head><body>
            <h1>hvblob conformance</h1>
            <p>Target: <code>\(h(target))</code></p>
            <p>\(h(counts))</p>
            <table><thead><tr><th>Rule</th><th>Level</th><th>Verdict</th><th>Evidence</th></tr></thead><tbody>

            """
        for r in rows {
            let cls = r.verdict == "pass" ? "pass" : r.verdict == "fail" ? "fail" : "na"
            s += "<tr id=\"\(h(r.rule))\"><td><code>\(h(r.rule))</code></td><td>\(r.level.rawValue)</td><td class=\"\(cls)\">\(r.verdict)</td><td><details\(r.failed > 0 ? " open" : "")><summary>\(r.passed) passed, \(r.failed) failed, \(r.evidence.count - r.passed - r.failed) n/a</summary><ul>"
            for e in r.evidence {
                let ec = e.passed == true ? "pass" : e.passed == false ? "fail" : "na"
                s += "<li><span class=\"\(ec)\">\(e.passed.map { $0 ? "pass" : "fail" } ?? "n/a")</span> \(e.kind.rawValue) <code>\(h(e.id))</code>: \(h(e.summary))"
                if e.passed == false { s += "<br><code>\(h(e.detail))</code>" }
                s += "</li>"
            }
            s += "</ul></details></td></tr>\n"
        }
        s += "</tbody></table></body></html>\n"
        return s
    }
}

extension String {
    func padding(_ n: Int) -> String { count >= n ? self : self + String(repeating: " ", count: n - count) }
}
