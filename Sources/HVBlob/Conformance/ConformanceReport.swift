// SPDX-License-Identifier: Apache-2.0

/// One row per rule: its level, the verdict, and what stands behind it — the conformance
/// checks (simulated scenarios) and the vectors (data) — rendered for people (text, HTML),
/// for CI systems (JUnit XML), for kernel tooling (KTAP, as KUnit prints it) and for programs
/// (JSON). Every format carries the same things `hvblob verify` prints: each check's verdict
/// (PASS, FAIL, INCONCLUSIVE with its reason, N/A) with the counts behind it, and the defect
/// grouping (each broken rule once, the check that shows it most directly, its evidence and
/// source line, and the other failing checks it explains).
public struct ConformanceReport: Sendable {
    /// What a piece of evidence concluded.
    public enum Outcome: String, Sendable {
        case pass, fail, inconclusive, notApplicable = "n/a"
        init(_ v: Conformance.Verdict) {
            switch v {
            case .pass: self = .pass
            case .fail: self = .fail
            case .inconclusive: self = .inconclusive
            case .notApplicable: self = .notApplicable
            }
        }
    }

    public struct Evidence: Sendable {
        public enum Kind: String, Sendable { case check, vector }
        public let kind: Kind
        public let id: String
        public let summary: String
        public let outcome: Outcome
        /// Why it failed, why it is inconclusive or not applicable (empty when it passed).
        public let detail: String
        /// The counts behind the verdict ("3 packet(s) reached the host (needs 1)").
        public let counts: [String]
        /// nil: not applicable to this target; false: failed or inconclusive.
        public var passed: Bool? { outcome == .notApplicable ? nil : outcome == .pass }
    }

    public struct Row: Sendable {
        public let rule: String
        public let level: Conformance.Level
        /// What the rule says (the check's summary, or the rule's text for rules only vectors test).
        public let text: String
        public var evidence: [Evidence]
        public var failed: Int { evidence.filter { $0.outcome == .fail }.count }
        public var inconclusive: Int { evidence.filter { $0.outcome == .inconclusive }.count }
        public var passed: Int { evidence.filter { $0.outcome == .pass }.count }
        public var notApplicable: Int { evidence.filter { $0.outcome == .notApplicable }.count }
        /// fail, inconclusive (nothing failed, but something could not be judged: the driver
        /// does not conform), pass, or n/a.
        public var verdict: String { failed > 0 ? "fail" : inconclusive > 0 ? "inconclusive" : passed > 0 ? "pass" : "n/a" }
    }

    /// Who and what was verified: printed at the top of every format.
    public struct Header: Sendable {
        public var driver: String
        /// A content hash of the driver's source (FNV-1a 64, hex), or nil for the model.
        public var hash: String?
        public var era: String
        public var hvblob: String
        public var seed: String
        /// What was verified: "driver" (verify), or "host" (verify-host: `driver` then names the host).
        public var subject = "driver"
        public init(driver: String, hash: String?, era: String, hvblob: String = ConformanceReport.hvblobVersion, seed: String) {
            self.driver = driver
            self.hash = hash
            self.era = era
            self.hvblob = hvblob
            self.seed = seed
        }
        var fields: [(String, String)] {
            [(subject, driver), ("hash", hash ?? (subject == "driver" ? "n/a (the Swift model)" : "n/a")), ("era", era), ("hvblob", hvblob), ("seed", seed)]
        }
    }

    /// The version reports name (bump with a release).
    public static let hvblobVersion = "0.4.0"

    public let target: String
    public var header: Header?
    public var rows: [Row]
    /// The defect grouping of the checks (nil when no check ran: a vectors-only report).
    public var defects: DefectReport?

    /// `symbolize` turns code addresses in evidence into `function (file:line)` (the CLI passes
    /// addr2line over the driver's library); it gets every text at once and returns them in order.
    public init(target: String, checks: [Conformance.Result], vectors: [VectorOutcome], header: Header? = nil,
                symbolize: (([String]) -> [String])? = nil) {
        self.target = target
        self.header = header
        var details = checks.map(\.detail)
        if let symbolize {
            let out = symbolize(details)
            if out.count == details.count { details = out }
        }
        var rows: [String: Row] = [:]
        for (k, c) in checks.enumerated() {
            rows[c.check.id, default: Row(rule: c.check.id, level: c.check.level, text: c.check.summary, evidence: [])].evidence.append(
                Evidence(kind: .check, id: c.check.id, summary: c.check.summary, outcome: Outcome(c.verdict),
                         detail: ConformanceReport.tidy(details[k]), counts: c.evidence))
        }
        for v in vectors {
            let outcome: Outcome = v.verdict == .notApplicable ? .notApplicable : v.verdict == .pass ? .pass : .fail
            let e = Evidence(kind: .vector, id: v.vector.id, summary: v.vector.comment, outcome: outcome,
                             detail: ConformanceReport.tidy(v.detail), counts: [])
            rows[v.vector.rule, default: Row(rule: v.vector.rule, level: v.vector.level, text: ConformanceReport.ruleText(v.vector.rule),
                                             evidence: [])].evidence.append(e)
        }
        self.rows = rows.values.sorted { $0.rule < $1.rule }
        if !checks.isEmpty {
            let d = DefectReport(checks)
            defects = symbolize.map { d.symbolized($0) } ?? d.symbolized { $0 }
        }
    }

    public var failedRules: [Row] { rows.filter { $0.verdict == "fail" } }
    public var inconclusiveRules: [Row] { rows.filter { $0.verdict == "inconclusive" } }
    /// Every rule holds: nothing failed and nothing was inconclusive.
    public var clean: Bool { failedRules.isEmpty && inconclusiveRules.isEmpty }

    /// Rows in reading order for people: failures first, then inconclusive, then passes, then
    /// rules that do not apply; by rule id within each.
    public var rowsFailuresFirst: [Row] {
        let rank = ["fail": 0, "inconclusive": 1, "pass": 2, "n/a": 3]
        return rows.enumerated().sorted { (rank[$0.element.verdict] ?? 4, $0.offset) < (rank[$1.element.verdict] ?? 4, $1.offset) }.map(\.element)
    }

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

    /// The format a report file's name asks for (`.json`, `.xml`, `.ktap`/`.tap`, `.html`, `.txt`).
    public static func format(forFile path: String) -> String? {
        let lower = path.lowercased()
        for (ext, f) in [(".json", "json"), (".xml", "junit"), (".ktap", "ktap"), (".tap", "ktap"), (".html", "html"), (".htm", "html"), (".txt", "text")]
        where lower.hasSuffix(ext) { return f }
        return nil
    }

    var counts: String {
        let must = failedRules.filter { $0.level == .must }.count
        return "\(rows.count) rules: \(rows.filter { $0.verdict == "pass" }.count) pass, \(failedRules.count) fail (\(must) MUST, \(failedRules.count - must) SHOULD), \(inconclusiveRules.count) inconclusive, \(rows.filter { $0.verdict == "n/a" }.count) not applicable"
    }

    /// Every check's evidence, in report order.
    var checkEvidence: [(row: Row, evidence: Evidence)] {
        rows.flatMap { r in r.evidence.filter { $0.kind == .check }.map { (r, $0) } }
    }

    // MARK: rule texts and evidence text

    /// What a rule says: the check's summary, or for rules only vectors test, their text here.
    public static func ruleText(_ rule: String) -> String {
        if let c = Conformance.checks.first(where: { $0.id == rule }) { return c.summary }
        return vectorRuleTexts[rule] ?? ""
    }

    /// The rules only vectors test (PROTOCOL.md §3–§5 and the layouts).
    static let vectorRuleTexts: [String: String] = [
        "layout.struct": "every wire and user struct has the reference size and field offsets",
        "ring.write": "a packet is written padded to 8 bytes with an 8-byte trailer (old write_index << 32), wrapping around the ring",
        "ring.full": "a packet that does not fit (free <= total) is refused with EAGAIN; the ring is never filled completely",
        "ring.signal": "the host is signalled only when interrupt_mask is 0 and the ring was empty before the packet",
        "ring.interrupt-mask": "no signal while the reader has masked interrupts",
        "ring.pending-send-size": "the reader signals the writer when pending_send_sz says it waits for room",
        "rqstor.lifo": "request ids are slot index + 1, reused last-freed first",
        "rqstor.exhausted": "a full request-id table fails the send with EAGAIN",
        "rqstor.stale": "an id already looked up (freed) or out of range is an error, never a request",
        "rqstor.zero-id": "request id 0 is reserved for unsolicited host packets and never names a request",
        "completion.ok": "a completion with a live request id completes that request with its status and response",
        "completion.wrong-type": "a packet that is not a completion completes nothing",
        "completion.short": "a completion shorter than the response is not read past its end",
        "completion.unknown-id": "a completion with an id never handed out completes nothing",
        "completion.offset8-invalid": "an offset8 outside the packet is clamped, never read past the packet",
        "completion.zero-id": "a completion with request id 0 completes nothing",
        "completion.duplicate": "a second completion for the same id completes nothing",
        "completion.error-status": "an error status from the host reaches user space",
        "lifecycle.orderly": "open, requests, close, remove: every resource released",
        "lifecycle.rescind": "after a rescind, sends fail with ENODEV and remove closes the channel",
        "lifecycle.open-after-remove": "a file held open across remove gets an error, never a freed device",
    ]

    /// Evidence as people read it: no blank lines, and a line that ends in a label with nothing
    /// after it ("pending_requests while in flight:") says that what it shows was empty.
    public static func tidy(_ detail: String) -> String {
        var lines: [String] = detail.split(separator: "\n", omittingEmptySubsequences: true).compactMap { raw in
            var line = String(raw)
            while line.last == " " || line.last == "\t" { line.removeLast() }
            return line.allSatisfy { $0 == " " || $0 == "\t" } ? nil : line
        }
        if let last = lines.last, last.hasSuffix(":") { lines[lines.count - 1] = last + " (empty)" }
        return lines.joined(separator: "\n")
    }

    /// The defect grouping as lines: "defect 1: RULE — shown by CHECK: EVIDENCE (at SITE)", its
    /// explained checks, and the counts line.
    var defectLines: [String] {
        guard let d = defects else { return [] }
        var out: [String] = []
        for (k, x) in d.defects.enumerated() {
            out.append("defect \(k + 1): \(x.rule) — shown by \(x.shownBy): \(x.evidence)\(x.site.map { x.evidence.contains($0) ? "" : " (at \($0))" } ?? "")")
            if !x.alsoFailing.isEmpty { out.append("defect \(k + 1) also explains: \(x.alsoFailing.joined(separator: ", "))") }
        }
        out.append(d.countsLine)
        return out
    }

    /// Why a failing check fails, in defect terms (empty when no check ran or it passed).
    func because(_ check: String) -> String? {
        guard let d = defects else { return nil }
        let by = d.explanation(of: check)
        if !by.isEmpty { return "also fails because of \(by.joined(separator: ", "))" }
        let own = d.defect(shownBy: check).map(\.rule)
        if !own.isEmpty { return "the most direct evidence of \(own.joined(separator: ", "))" }
        return nil
    }

    // MARK: text

    public var text: String {
        var s = "conformance of \(target)\n"
        if let h = header { s += h.fields.map { "\($0.0): \($0.1)" }.joined(separator: " | ") + "\n" }
        for r in rows {
            let checks = r.evidence.filter { $0.kind == .check }.count
            let vectors = r.evidence.filter { $0.kind == .vector && $0.passed != nil }.count
            s += "\(r.verdict.uppercased().padding(12)) \(r.level.rawValue.padding(6)) \(r.rule.padding(32)) \(checks) check(s), \(vectors) vector(s)\n"
            for e in r.evidence where e.outcome == .fail || e.outcome == .inconclusive {
                s += "      \(e.kind.rawValue) \(e.id)\(e.outcome == .inconclusive ? " (inconclusive)" : ""): \(e.detail)\n"
                if !e.counts.isEmpty { s += "        counts: \(e.counts.joined(separator: "; "))\n" }
                if let b = because(e.id), e.kind == .check { s += "        \(b)\n" }
            }
        }
        if defects?.defects.isEmpty == false {
            s += "defects:\n" + defectLines.dropLast().map { "  " + $0 + "\n" }.joined()
        }
        if let d = defects { s += "\(d.countsLine)\n" }
        s += "verdict: \(counts)\n"
        return s
    }

    // MARK: JSON

    public var json: String {
        func evidenceObject(_ e: Evidence) -> JSON {
            var m: [(key: String, value: JSONNode)] = [
                ("kind", JSONNode(.string(e.kind.rawValue))), ("id", JSONNode(.string(e.id))), ("summary", JSONNode(.string(e.summary))),
                ("verdict", JSONNode(.string(e.outcome.rawValue))), ("detail", JSONNode(.string(e.detail))),
            ]
            if e.outcome == .inconclusive { m.append(("reason", JSONNode(.string(e.detail)))) }
            if e.kind == .check {
                m.append(("counts", JSONNode(arr(e.counts.map { .string($0) }))))
                let by = defects?.explanation(of: e.id) ?? []
                m.append(("explained_by", JSONNode(arr(by.map { .string($0) }))))
            }
            return .object(m)
        }
        let ruleObjects: [JSON] = rows.map { r in
            obj(["rule": .string(r.rule), "text": .string(r.text), "level": .string(r.level.rawValue), "verdict": .string(r.verdict),
                 "evidence": arr(r.evidence.map(evidenceObject))])
        }
        let checkObjects: [JSON] = checkEvidence.map { r, e in
            var m: [(key: String, value: JSONNode)] = [
                ("id", JSONNode(.string(e.id))), ("level", JSONNode(.string(r.level.rawValue))),
                ("verdict", JSONNode(.string(e.outcome.rawValue.uppercased()))), ("detail", JSONNode(.string(e.detail))),
            ]
            if e.outcome == .inconclusive { m.append(("reason", JSONNode(.string(e.detail)))) }
            m.append(("counts", JSONNode(arr(e.counts.map { .string($0) }))))
            m.append(("explained_by", JSONNode(arr((defects?.explanation(of: e.id) ?? []).map { .string($0) }))))
            return .object(m)
        }
        var top: [(key: String, value: JSONNode)] = [("target", JSONNode(.string(target)))]
        if let h = header {
            top.append(("header", JSONNode(.object(h.fields.map { (key: $0.0, value: JSONNode(.string($0.1))) }))))
        }
        top += [
            ("rules", JSONNode(.int(rows.count))), ("failed", JSONNode(.int(failedRules.count))),
            ("inconclusive", JSONNode(.int(inconclusiveRules.count))), ("conforms", JSONNode(.bool(clean))),
        ]
        if let d = defects {
            top.append(("defects", JSONNode(arr(d.defects.map { x in
                obj(["rule": .string(x.rule), "check": .string(x.shownBy), "evidence": .string(x.evidence),
                     "site": x.site.map { .string($0) } ?? .null, "explains": arr(x.alsoFailing.map { .string($0) })])
            }))))
            top.append(("defect_counts", JSONNode(obj([
                "defects": .int(d.defects.count), "failing_checks": .int(d.failing), "only_through_defects": .int(d.explainedCount),
                "inconclusive": .int(d.inconclusive), "line": .string(d.countsLine),
            ]))))
            top.append(("checks", JSONNode(arr(checkObjects))))
        }
        top.append(("results", JSONNode(arr(ruleObjects))))
        return JSON.object(top).serialized() + "\n"
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

    /// Inconclusive evidence is an `<error type="inconclusive">`, not `<skipped>`: Jenkins,
    /// GitLab, Azure DevOps and the GitHub test-report actions all count skipped tests as not
    /// failing (the run stays green), while an error counts against the run like a failure —
    /// and an inconclusive check means the driver does not conform. `<skipped>` is kept for
    /// what really does not apply (n/a vectors). The defect grouping is a suite of its own,
    /// `hvblob defects` (no test cases; one property per defect and the grouping as its
    /// `<system-out>`), and each failing test case says which defect explains it.
    public var junit: String {
        let x = ConformanceReport.xml
        let total = rows.reduce(0) { $0 + $1.evidence.count }
        let failures = rows.reduce(0) { $0 + $1.failed }
        let errors = rows.reduce(0) { $0 + $1.inconclusive }
        let skipped = rows.reduce(0) { $0 + $1.notApplicable }
        var s = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
        s += "<testsuites name=\"hvblob conformance\" tests=\"\(total)\" failures=\"\(failures)\" errors=\"\(errors)\" skipped=\"\(skipped)\">\n"
        var common = "<property name=\"target\" value=\"\(x(target))\"/>"
        if let h = header { for (k, v) in h.fields { common += "<property name=\"\(k)\" value=\"\(x(v))\"/>" } }
        if let d = defects {
            s += "  <testsuite name=\"hvblob defects\" tests=\"0\" failures=\"0\" errors=\"0\" skipped=\"0\">\n"
            s += "    <properties>\(common)<property name=\"defects\" value=\"\(x(d.countsLine))\"/>"
            for (k, e) in d.defects.enumerated() {
                s += "<property name=\"defect.\(k + 1)\" value=\"\(x("\(e.rule) — shown by \(e.shownBy): \(e.evidence)"))\"/>"
                if let site = e.site { s += "<property name=\"defect.\(k + 1).site\" value=\"\(x(site))\"/>" }
                if !e.alsoFailing.isEmpty { s += "<property name=\"defect.\(k + 1).explains\" value=\"\(x(e.alsoFailing.joined(separator: ", ")))\"/>" }
            }
            s += "</properties>\n"
            s += "    <system-out>\(x(defectLines.joined(separator: "\n")))</system-out>\n"
            s += "  </testsuite>\n"
        }
        for r in rows {
            s += "  <testsuite name=\"\(x(r.rule))\" tests=\"\(r.evidence.count)\" failures=\"\(r.failed)\" errors=\"\(r.inconclusive)\" skipped=\"\(r.notApplicable)\">\n"
            s += "    <properties><property name=\"level\" value=\"\(r.level.rawValue)\"/><property name=\"text\" value=\"\(x(r.text))\"/>\(common)</properties>\n"
            for e in r.evidence {
                s += "    <testcase classname=\"\(x(r.rule))\" name=\"\(x(e.kind.rawValue + " " + e.id + ": " + e.summary))\""
                var body = e.detail
                if !e.counts.isEmpty { body += "\ncounts: " + e.counts.joined(separator: "; ") }
                if e.kind == .check, let b = because(e.id) { body += "\n" + b }
                switch e.outcome {
                case .pass:
                    s += e.counts.isEmpty ? "/>\n" : "><system-out>\(x("counts: " + e.counts.joined(separator: "; ")))</system-out></testcase>\n"
                case .fail: s += "><failure type=\"fail\" message=\"\(x(e.detail))\">\(x(body))</failure></testcase>\n"
                case .inconclusive: s += "><error type=\"inconclusive\" message=\"\(x("inconclusive: " + e.detail))\">\(x(body))</error></testcase>\n"
                case .notApplicable: s += "><skipped message=\"\(x(e.detail))\"/></testcase>\n"
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

    /// Inconclusive is `not ok` with `# inconclusive: …` diagnostics before it, never
    /// `# SKIP`: KTAP parsers (kunit.py, TAP harnesses) count a skip as success, and an
    /// inconclusive check means the driver does not conform. The defect grouping comes first,
    /// as `# defect N: …` diagnostic lines.
    public var ktap: String {
        let ktapName = ConformanceReport.ktapName
        var s = "KTAP version 1\n# hvblob conformance of \(ktapName(target))\n"
        if let h = header { for (k, v) in h.fields { s += "# \(k): \(ktapName(v))\n" } }
        for line in defectLines { s += "# \(ktapName(line))\n" }
        s += "1..\(rows.count)\n"
        for (i, r) in rows.enumerated() {
            s += "    KTAP version 1\n    # Subtest: \(ktapName(r.rule))\n    # level: \(r.level.rawValue)\n"
            if !r.text.isEmpty { s += "    # rule: \(ktapName(r.text))\n" }
            s += "    1..\(r.evidence.count)\n"
            for (k, e) in r.evidence.enumerated() {
                let name = ktapName("\(e.kind.rawValue)-\(e.id)")
                switch e.outcome {
                case .pass:
                    if !e.counts.isEmpty { s += "    # counts: \(ktapName(e.counts.joined(separator: "; ")))\n" }
                    s += "    ok \(k + 1) \(name)\n"
                case .fail, .inconclusive:
                    let prefix = e.outcome == .inconclusive ? "inconclusive: " : ""
                    for (n, line) in e.detail.split(separator: "\n").enumerated() { s += "    # \(n == 0 ? prefix : "")\(ktapName(String(line)))\n" }
                    if !e.counts.isEmpty { s += "    # counts: \(ktapName(e.counts.joined(separator: "; ")))\n" }
                    if e.kind == .check, let b = because(e.id) { s += "    # \(ktapName(b))\n" }
                    s += "    not ok \(k + 1) \(name)\n"
                case .notApplicable: s += "    ok \(k + 1) \(name) # SKIP \(ktapName(e.detail))\n"
                }
            }
            switch r.verdict {
            case "fail": s += "not ok \(i + 1) \(ktapName(r.rule))\n"
            case "inconclusive":
                s += "# \(ktapName(r.rule)): inconclusive (\(r.inconclusive) check(s) could not be judged)\n"
                s += "not ok \(i + 1) \(ktapName(r.rule))\n"
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
            .pass{color:#176f2c;font-weight:600}.fail{color:#b00020;font-weight:600}.inconclusive{color:#a15c00;font-weight:600}.na{color:#777}
            .ruletext{color:#555}.hdr th{width:8em}details summary{cursor:pointer}code{font-family:ui-monospace,monospace;font-size:13px}
            ol.defects li{margin-bottom:.5em}
            </style></head><body>
            <h1>hvblob conformance</h1>
            <table class="hdr"><tbody>
            <tr><th>Target</th><td><code>\(h(target))</code></td></tr>

            """
        if let hd = header {
            let labels = ["driver": "Driver", "host": "Host", "hash": "Source hash", "era": "API era", "hvblob": "hvblob version", "seed": "Seed"]
            for (k, v) in hd.fields { s += "<tr><th>\(labels[k] ?? k)</th><td><code>\(h(v))</code></td></tr>\n" }
        }
        s += "</tbody></table>\n"
        s += "<p class=\"\(clean ? "pass" : "fail")\">\(h(counts))</p>\n"
        if let d = defects {
            s += "<h2>Defects</h2>\n<p>\(h(d.countsLine))</p>\n"
            if !d.defects.isEmpty {
                s += "<ol class=\"defects\">\n"
                for x in d.defects {
                    s += "<li><code class=\"fail\">\(h(x.rule))</code> — shown by <a href=\"#\(h(x.shownBy))\"><code>\(h(x.shownBy))</code></a>: \(h(x.evidence))"
                    if let site = x.site { s += "<br>source: <code>\(h(site))</code>" }
                    if !x.alsoFailing.isEmpty {
                        s += "<br>also explains: " + x.alsoFailing.map { "<a href=\"#\(h($0))\"><code>\(h($0))</code></a>" }.joined(separator: ", ")
                    }
                    s += "</li>\n"
                }
                s += "</ol>\n"
            }
        }
        s += "<h2>Rules</h2>\n<table><thead><tr><th>Rule</th><th>Level</th><th>Verdict</th><th>Evidence</th></tr></thead><tbody>\n"
        for r in rowsFailuresFirst {
            let cls = r.verdict == "n/a" ? "na" : r.verdict
            s += "<tr id=\"\(h(r.rule))\"><td><code>\(h(r.rule))</code>"
            if !r.text.isEmpty { s += "<br><span class=\"ruletext\">\(h(r.text))</span>" }
            s += "</td><td>\(r.level.rawValue)</td><td class=\"\(cls)\">\(r.verdict)</td>"
            let bad = r.failed + r.inconclusive > 0
            s += "<td><details\(bad ? " open" : "")><summary>\(r.passed) passed, \(r.failed) failed, \(r.inconclusive) inconclusive, \(r.notApplicable) n/a</summary><ul>"
            for e in r.evidence {
                let ec = e.outcome == .notApplicable ? "na" : e.outcome.rawValue
                s += "<li><span class=\"\(ec)\">\(e.outcome.rawValue)</span> \(e.kind.rawValue) <code>\(h(e.id))</code>: \(h(e.summary))"
                if e.outcome == .fail || e.outcome == .inconclusive {
                    for line in e.detail.split(separator: "\n") { s += "<br><code>\(h(String(line)))</code>" }
                    if e.kind == .check, let b = because(e.id) { s += "<br><em>\(h(b))</em>" }
                }
                if !e.counts.isEmpty { s += "<br><small>counts: " + e.counts.map { h($0) }.joined(separator: "; ") + "</small>" }
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
