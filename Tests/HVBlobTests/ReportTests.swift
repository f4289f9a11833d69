// SPDX-License-Identifier: Apache-2.0
import Foundation
import FoundationXML
@testable import HVBlob
import Testing

/// The conformance report in each format: on a target that fails some rules (v5's behaviour in
/// the model) so that every format has both verdicts to carry; on a small synthetic set of
/// results with a defect that explains another check, a check failing on its own, an
/// inconclusive check and a pass, so that each format's grouping and verdicts can be checked
/// exactly; and on one real `verify --patch v5.eml` run of the posted C driver.
@Suite("Conformance report", .serialized)
struct ReportTests {
    static func report() throws -> ConformanceReport {
        let v5: DriverRig.Factory = { m in BlobVSC(channel: m.channel, memory: m.memory, log: m.log, behavior: .v5) }
        let version = KernelVersion(5, 13)
        let checks = Conformance.run(factory: v5, version: version, only: ["ioctl.ok", "ioctl.len.zero", "ioctl.pin.write-intent", "ioctl.response-len.bound"])
        let outcomes = try vectorFiles().flatMap { VectorRunner.run($0, factory: v5, version: version) }
        return ConformanceReport(target: "model v5 <5.13> & \"quotes\"", checks: checks, vectors: outcomes)
    }

    // MARK: the synthetic set

    static func result(_ id: String, _ verdict: Conformance.Verdict, detail: String = "", evidence: [String],
                       findings: [String: String] = [:], direct: [String] = [], level: Conformance.Level = .must) -> Conformance.Result {
        Conformance.Result(check: Conformance.Check(id: id, level: level, summary: "summary of \(id)", needs: [], direct: direct),
                           verdict: verdict, detail: detail, evidence: evidence, findings: findings.mapValues { _ in 1 },
                           firstFindings: findings, failedOn: verdict == .fail ? findings.keys.sorted() : [], hostPackets: 3)
    }

    /// pin.write shows the pin defect directly (with a C source line in its finding); mpb.shape
    /// fails only through it; own.errno fails on its own; none.reached is inconclusive; ok.one passes.
    static let synthetic: [Conformance.Result] = [
        result("s.pin-write", .fail, detail: "pin.bad x2 — pin.bad: host wrote to a read-only pin",
               evidence: ["3 packet(s) reached the host"],
               findings: ["pin.bad": "host wrote to a page pinned read-only, pinned in az_blob_get_pages (hv_azure_blob.c:211)"],
               direct: ["pin.bad"]),
        result("s.mpb-shape", .fail, detail: "pin.bad x1 — pin.bad: host wrote to a read-only pin", evidence: ["9 packet(s) reached the host (needs 9)"],
               findings: ["pin.bad": "host wrote to a page pinned read-only"]),
        result("s.own-errno", .fail, detail: "pending_requests while in flight: \n\n", evidence: ["1 request(s) executed by the host (needs 1)"], level: .should),
        result("s.none-reached", .inconclusive, detail: "no request reached the host: every ioctl returned EINVAL",
               evidence: ["0 packet(s) reached the host (needs 1)"]),
        result("s.ok-one", .pass, evidence: ["4 packet(s) reached the host", "fault injected 2 time(s) (needs 1)"]),
    ]

    static var syntheticReport: ConformanceReport {
        ConformanceReport(target: "synthetic", checks: synthetic, vectors: [],
                          header: .init(driver: "synthetic.c", hash: "fnv1a64:0123456789abcdef", era: "6.1", seed: "0x5eed"))
    }

    @Test("report.defects: the synthetic set groups into 2 defects, one explaining another check; the site is read from the finding")
    func defects() throws {
        let d = try #require(ReportTests.syntheticReport.defects)
        #expect(d.defects.map(\.rule) == ["pin.bad", "s.own-errno"])
        #expect(d.defects.first?.shownBy == "s.pin-write")
        #expect(d.defects.first?.alsoFailing == ["s.mpb-shape"])
        #expect(d.defects.first?.site == "az_blob_get_pages (hv_azure_blob.c:211)")
        #expect(d.defects.last?.site == nil)
        #expect(d.countsLine == "2 defects; 3 checks fail, 1 of them only through these; 1 inconclusive")
        #expect(d.explanation(of: "s.mpb-shape") == ["pin.bad"])
        #expect(DefectReport.site(in: "SIGSEGV at 0x48, in az_blob_on_channel_callback (hv_azure_blob.c:119)") == "az_blob_on_channel_callback (hv_azure_blob.c:119)")
        #expect(DefectReport.site(in: "request 4 (seed 1): range.pfn_array[3] (byte 56)") == nil)
    }

    @Test("report.synthetic.json: defects with rule, direct check, evidence, site and explained checks; every check's verdict, reason and counts")
    func syntheticJSON() throws {
        let r = ReportTests.syntheticReport
        let v = try JSONParser.parse(Array(r.json.utf8))
        try ReportTests.checkJSON(v, defects: ["pin.bad", "s.own-errno"], inconclusive: ["s.none-reached"])
        let d = try #require(v["defects"]?.array)
        #expect(d[0]["check"]?.string == "s.pin-write")
        #expect(d[0]["site"]?.string == "az_blob_get_pages (hv_azure_blob.c:211)")
        #expect(d[0]["explains"]?.array?.compactMap(\.string) == ["s.mpb-shape"])
        #expect(d[1]["site"]?.value == JSON.null)
        let checks = try #require(v["checks"]?.array)
        let inc = try #require(checks.first { $0["id"]?.string == "s.none-reached" })
        #expect(inc["verdict"]?.string == "INCONCLUSIVE")
        #expect(inc["reason"]?.string == "no request reached the host: every ioctl returned EINVAL")
        #expect(inc["counts"]?.array?.compactMap(\.string) == ["0 packet(s) reached the host (needs 1)"])
        #expect(checks.first { $0["id"]?.string == "s.ok-one" }?["counts"]?.array?.count == 2)
        #expect(checks.first { $0["id"]?.string == "s.mpb-shape" }?["explained_by"]?.array?.compactMap(\.string) == ["pin.bad"])
        #expect(v["header"]?["seed"]?.string == "0x5eed", "the seed as it was typed")
        #expect(v["conforms"]?.bool == false)
        #expect(v["defect_counts"]?["only_through_defects"]?.int == 1)
    }

    @Test("report.synthetic.junit: inconclusive is an <error> (CI reads it as not green), n/a stays skipped; the defects suite")
    func syntheticJUnit() throws {
        let r = ReportTests.syntheticReport
        let root = try ReportTests.checkJUnit(r.junit, defects: 2, inconclusive: 1)
        let cases = root.elements(forName: "testsuite").flatMap { $0.elements(forName: "testcase") }
        let inc = try #require(cases.first { $0.attribute(forName: "name")?.stringValue?.contains("s.none-reached") == true })
        #expect(inc.elements(forName: "skipped").isEmpty)
        #expect(inc.elements(forName: "error").first?.attribute(forName: "type")?.stringValue == "inconclusive")
        #expect(inc.elements(forName: "error").first?.stringValue?.contains("0 packet(s) reached the host (needs 1)") == true)
        let explained = try #require(cases.first { $0.attribute(forName: "name")?.stringValue?.contains("s.mpb-shape") == true })
        #expect(explained.elements(forName: "failure").first?.stringValue?.contains("also fails because of pin.bad") == true)
    }

    @Test("report.synthetic.ktap: inconclusive is 'not ok' with its reason (never # SKIP); the grouping as '# defect N:' lines")
    func syntheticKTAP() throws {
        let r = ReportTests.syntheticReport
        let lines = try ReportTests.checkKTAP(r.ktap, defects: 2)
        let at = try #require(lines.firstIndex { $0.hasSuffix(" check-s.none-reached") })
        #expect(lines[at].hasPrefix("    not ok "), "\(lines[at])")
        #expect(!lines[at].contains("# SKIP"))
        #expect(lines[..<at].contains { $0 == "    # inconclusive: no request reached the host: every ioctl returned EINVAL" })
        #expect(lines.contains { $0.hasPrefix("not ok ") && $0.hasSuffix(" s.none-reached") })
        #expect(lines.contains("# defect 1: pin.bad — shown by s.pin-write: host wrote to a page pinned read-only, pinned in az_blob_get_pages (hv_azure_blob.c:211)"))
        #expect(lines.contains("# defect 1 also explains: s.mpb-shape"))
        #expect(lines.contains("# seed: 0x5eed"))
    }

    @Test("report.synthetic.html: header, the defect list on top, failures first, rule text beside the id, no empty evidence line")
    func syntheticHTML() throws {
        let r = ReportTests.syntheticReport
        let h = r.html
        try ReportTests.checkHTML(h, report: r)
        for field in ["synthetic.c", "fnv1a64:0123456789abcdef", "6.1", ConformanceReport.hvblobVersion, "0x5eed"] {
            #expect(h.contains("<td><code>\(field)</code></td>"), "header field \(field)")
        }
        let ids = h.components(separatedBy: "<tr id=\"").dropFirst().map { String($0.prefix { $0 != "\"" }) }
        #expect(ids == ["s.mpb-shape", "s.own-errno", "s.pin-write", "s.none-reached", "s.ok-one"], "failures, then inconclusive, then passes")
        #expect(h.contains("<code>s.pin-write</code><br><span class=\"ruletext\">summary of s.pin-write</span>"))
        #expect(h.contains("pending_requests while in flight: (empty)"))
        #expect(h.contains("class=\"inconclusive\">inconclusive</td>"))
    }

    // MARK: shared well-formedness checks

    /// JSON: the defect list and every check's verdict (the inconclusive ones with a reason).
    static func checkJSON(_ v: JSONNode, defects: [String], inconclusive: [String]) throws {
        let d = try #require(v["defects"]?.array)
        #expect(d.compactMap { $0["rule"]?.string } == defects)
        for x in d {
            #expect(x["check"]?.string?.isEmpty == false && x["evidence"]?.string?.isEmpty == false && x["explains"]?.array != nil)
            #expect(x.members?.contains { $0.key == "site" } == true)
        }
        #expect(v["defect_counts"]?["defects"]?.int == Int64(defects.count))
        let checks = try #require(v["checks"]?.array)
        #expect(Set(checks.filter { $0["verdict"]?.string == "INCONCLUSIVE" }.compactMap { $0["id"]?.string }) == Set(inconclusive))
        for c in checks {
            #expect(c["counts"]?.array?.isEmpty == false, "\(c["id"]?.string ?? "?") has no counts")
            if c["verdict"]?.string == "INCONCLUSIVE" { #expect(c["reason"]?.string?.isEmpty == false) }
        }
    }

    /// JUnit: parses; totals add up (inconclusive counted as errors); the defects suite carries one property per defect.
    @discardableResult
    static func checkJUnit(_ text: String, defects: Int, inconclusive: Int) throws -> XMLElement {
        let doc = try XMLDocument(data: Data(text.utf8))
        let root = try #require(doc.rootElement())
        #expect(root.name == "testsuites")
        let suites = root.elements(forName: "testsuite")
        let cases = suites.flatMap { $0.elements(forName: "testcase") }
        let failures = cases.filter { !$0.elements(forName: "failure").isEmpty }.count
        let errors = cases.filter { !$0.elements(forName: "error").isEmpty }.count
        #expect(root.attribute(forName: "failures")?.stringValue == String(failures))
        #expect(root.attribute(forName: "errors")?.stringValue == String(errors))
        #expect(root.attribute(forName: "tests")?.stringValue == String(cases.count))
        #expect(errors == inconclusive)
        let grouping = try #require(suites.first { $0.attribute(forName: "name")?.stringValue == "hvblob defects" })
        let props = grouping.elements(forName: "properties").first?.elements(forName: "property") ?? []
        let defectProps = props.filter { $0.attribute(forName: "name")?.stringValue?.range(of: "^defect\\.[0-9]+$", options: .regularExpression) != nil }
        #expect(defectProps.count == defects)
        #expect(grouping.elements(forName: "system-out").first?.stringValue?.contains("defect 1: ") == (defects > 0))
        return root
    }

    /// KTAP v1: the version line, plans that match at both levels, results numbered in order, no
    /// '#' in a name, no inconclusive written as a skip; `defects` '# defect N:' lines before the plan.
    @discardableResult
    static func checkKTAP(_ text: String, defects: Int) throws -> [String] {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).dropLast().map(String.init)
        #expect(lines.first == "KTAP version 1")
        var top = 0, plan = -1, subPlan = 0, subCount = 0
        for line in lines.dropFirst() {
            if line.hasPrefix("#") { continue }
            if line.hasPrefix("1..") { plan = Int(line.dropFirst(3)) ?? -1; continue }
            if line.hasPrefix("    ") {
                let l = line.dropFirst(4)
                if l == "KTAP version 1" { subPlan = 0; subCount = 0; continue }
                if l.hasPrefix("#") { continue }
                if l.hasPrefix("1..") { subPlan = Int(l.dropFirst(3)) ?? -1; continue }
                subCount += 1
                #expect(l.hasPrefix("ok \(subCount) ") || l.hasPrefix("not ok \(subCount) "), "\(line)")
                #expect(!(l.hasPrefix("not ok") && l.contains("# SKIP")), "\(line)")
                continue
            }
            top += 1
            #expect(subCount == subPlan, "subtest plan \(subPlan), \(subCount) results before \(line)")
            #expect(line.hasPrefix("ok \(top) ") || line.hasPrefix("not ok \(top) "), "\(line)")
            #expect(!line.dropFirst(3).contains("#") || line.contains(" # SKIP "), "a '#' in a name would start a directive: \(line)")
        }
        #expect(plan >= 0 && top == plan)
        let planAt = lines.firstIndex { $0.hasPrefix("1..") } ?? 0
        let defectLines = lines[..<planAt].filter { $0.range(of: "^# defect [0-9]+: ", options: .regularExpression) != nil }
        #expect(defectLines.count == defects)
        #expect(lines[..<planAt].contains { $0.range(of: "^# [0-9]+ defects?; ", options: .regularExpression) != nil })
        return lines
    }

    /// HTML: one self-contained page, a row per rule, the defects section before the rules, no
    /// empty evidence line (a trailing label with nothing after it, or an empty code line).
    static func checkHTML(_ h: String, report r: ConformanceReport) throws {
        #expect(h.hasPrefix("<!DOCTYPE html>"))
        #expect(!h.contains("src=") && !h.contains("href=\"http") && !h.contains("@import"))
        #expect(h.components(separatedBy: "<tr id=").count - 1 == r.rows.count)
        #expect(h.components(separatedBy: "class=\"fail\">fail</td>").count - 1 == r.failedRules.count)
        let defectsAt = try #require(h.range(of: "<h2>Defects</h2>"))
        let rulesAt = try #require(h.range(of: "<h2>Rules</h2>"))
        #expect(defectsAt.lowerBound < rulesAt.lowerBound)
        #expect(!h.contains("<code></code>"))
        for end in ["</li>", "<br><small>", "<br><em>"] {
            #expect(!h.contains(":</code>" + end) && !h.contains(": </code>" + end), "an evidence line that ends in a bare label")
        }
        #expect(!h.contains(":<br>") && !h.contains(":</li>"), "a defect whose evidence ends in a bare label")
        if let first = r.rowsFailuresFirst.first, r.failedRules.count > 0 { #expect(first.verdict == "fail") }
    }

    // MARK: the model v5 report

    @Test("report.rows: one row per rule, failing where v5 fails, n/a evidence where a vector does not apply")
    func rows() throws {
        let r = try ReportTests.report()
        #expect(Set(r.rows.map(\.rule)).count == r.rows.count)
        let failing = Set(r.failedRules.map(\.rule))
        #expect(failing.contains("ioctl.pin.write-intent") && failing.contains("ioctl.response-len.bound"))
        #expect(!failing.contains("ioctl.len.zero"))
        #expect(r.rows.first { $0.rule == "ring.full" }?.verdict == "n/a", "ring vectors apply to the model transport only")
        #expect(r.rows.allSatisfy { !$0.text.isEmpty }, "every rule has its text: \(r.rows.filter { $0.text.isEmpty }.map(\.rule))")
        #expect(!r.clean)
    }

    @Test("report.json: parses, and its counts are the report's")
    func json() throws {
        let r = try ReportTests.report()
        let v = try JSONParser.parse(Array(r.json.utf8))
        #expect(v["rules"]?.int == Int64(r.rows.count))
        #expect(v["failed"]?.int == Int64(r.failedRules.count))
        let results = try #require(v["results"]?.array)
        #expect(results.filter { $0["verdict"]?.string == "fail" }.count == r.failedRules.count)
        try ReportTests.checkJSON(v, defects: r.defects?.defects.map(\.rule) ?? [], inconclusive: [])
    }

    @Test("report.junit: well-formed XML; suites, tests and failures add up")
    func junit() throws {
        let r = try ReportTests.report()
        let root = try ReportTests.checkJUnit(r.junit, defects: r.defects?.defects.count ?? 0, inconclusive: 0)
        let suites = root.elements(forName: "testsuite").filter { $0.attribute(forName: "name")?.stringValue != "hvblob defects" }
        #expect(suites.count == r.rows.count)
        #expect(suites.first?.elements(forName: "properties").first?.elements(forName: "property").first { $0.attribute(forName: "name")?.stringValue == "target" }?
            .attribute(forName: "value")?.stringValue == "model v5 <5.13> & \"quotes\"")
    }

    @Test("report.ktap: version line, plans that match, one result line per test, subtests indented (KTAP v1)")
    func ktap() throws {
        let r = try ReportTests.report()
        let lines = try ReportTests.checkKTAP(r.ktap, defects: r.defects?.defects.count ?? 0)
        #expect(lines.filter { $0.hasPrefix("not ok") }.count == r.failedRules.count)
    }

    @Test("report.html: one self-contained page (no external resources), a row per rule, text escaped")
    func html() throws {
        let r = try ReportTests.report()
        try ReportTests.checkHTML(r.html, report: r)
        #expect(r.html.contains("model v5 &lt;5.13&gt; &amp; &quot;quotes&quot;"))
    }

    // MARK: through the command

    /// Runs hvblob with standard output and standard error apart (a report on standard output
    /// must be nothing but the report).
    static func run(_ args: [String]) throws -> (status: Int32, out: String, err: String) {
        let errFile = FileManager.default.temporaryDirectory.appendingPathComponent("hvblob-report-err-\(getpid())-\(UInt64.random(in: 0...UInt64.max))")
        _ = FileManager.default.createFile(atPath: errFile.path, contents: nil)
        defer { try? FileManager.default.removeItem(at: errFile) }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: CLITests.binary)
        p.arguments = args
        let out = Pipe()
        p.standardOutput = out
        p.standardError = try FileHandle(forWritingTo: errFile)
        try p.run()
        let o = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        let e = (try? Data(contentsOf: errFile)) ?? Data()
        return (p.terminationStatus, String(decoding: o, as: UTF8.self), String(decoding: e, as: UTF8.self))
    }

    @Test("report.cli: every format through the command; a bad format or report name exits 2 before anything runs")
    func cli() throws {
        let full = try runProcess([CLITests.binary, "conformance", "--vectors", vectorDir.path])
        #expect(full.status == 0 && full.output.contains("verdict: 71 rules: 68 pass, 0 fail (0 MUST, 0 SHOULD), 0 inconclusive, 3 not applicable"), "\(full.output.suffix(400))")
        #expect(full.output.contains("0 defects; 0 checks fail; 0 inconclusive"))
        for f in ConformanceReport.formats {
            let out = try runProcess([CLITests.binary, "conformance", "--vectors-only", "--format", f, "--vectors", vectorDir.path])
            #expect(out.status == 0, "\(f): \(out.output.suffix(400))")
        }
        let bad = try runProcess([CLITests.binary, "conformance", "--format", "pdf"])
        #expect(bad.status == 2 && bad.output.contains("--format"))
        let badName = try runProcess([CLITests.binary, "verify", "--model", "--report", "x.pdf"])
        #expect(badName.status == 2 && badName.output.contains("--report: 'x.pdf'"), "\(badName.output)")
        let noDir = try runProcess([CLITests.binary, "verify", "--model", "--report", "/nodir/x.json"])
        #expect(noDir.status == 2 && noDir.output.contains("--report: /nodir/x.json"), "\(noDir.output)")
        // --format on standard output: the report alone there, the running text on standard error.
        let json = try ReportTests.run(["verify", "--model", "--only", "ioctl.ok,ioctl.len.zero", "--format", "json"])
        #expect(json.status == 0, "\(json.err.suffix(500))")
        let v = try JSONParser.parse(Array(json.out.utf8))
        #expect(v["checks"]?.array?.count == 2 && v["conforms"]?.bool == true)
        #expect(json.err.contains("verdict: conforms"))
    }

    @Test("report.verify-v5: one verify --patch run of the posted v5 writes every format, each with the same defects as the verdict")
    func verifyV5() throws {
        guard let mail = RevisionTests.mail("v5.eml") else { return }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("hvblob-report-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let files = ["json", "xml", "ktap", "html"].map { dir.appendingPathComponent("v5.\($0)").path }
        let out = try ReportTests.run(["verify", "--patch", mail] + files.flatMap { ["--report", $0] })
        #expect(out.status == 1, "\(out.out.suffix(1500))\n\(out.err.suffix(1500))")
        guard out.status == 1 else { return }
        // The verdict as verify prints it: its defects, in order, and its counts line.
        let lines = out.out.split(separator: "\n").map(String.init)
        let printed = lines.compactMap { l -> String? in
            guard let m = l.range(of: "^  [0-9]+\\. [^ ]+ — shown by", options: .regularExpression) else { return nil }
            return String(l[m].split(separator: " ")[1])
        }
        #expect(printed.count >= 4, "\(out.out.suffix(2000))")
        let verdict = try #require(lines.first { $0.hasPrefix("verdict: does not conform: ") })
        let countsLine = String(verdict.dropFirst("verdict: does not conform: ".count).prefix { $0 != "(" }.dropLast())
        let read = { (p: String) in try String(contentsOfFile: p, encoding: .utf8) }

        let v = try JSONParser.parse(Array(try read(files[0]).utf8))
        let inconclusive = (v["checks"]?.array ?? []).filter { $0["verdict"]?.string == "INCONCLUSIVE" }.compactMap { $0["id"]?.string }
        try ReportTests.checkJSON(v, defects: printed, inconclusive: inconclusive)
        #expect(v["defect_counts"]?["line"]?.string == countsLine)
        #expect(v["header"]?["era"]?.string?.isEmpty == false && v["header"]?["hash"]?.string?.hasPrefix("fnv1a64:") == true)
        let crash = (v["defects"]?.array ?? []).first { $0["rule"]?.string == "guest.crash" }
        #expect(crash?["site"]?.string?.contains("hv_azure_blob.c:") == true, "the crash's source line: \(String(describing: crash))")

        try ReportTests.checkJUnit(try read(files[1]), defects: printed.count, inconclusive: inconclusive.count)
        let ktap = try ReportTests.checkKTAP(try read(files[2]), defects: printed.count)
        #expect(ktap.contains("# \(countsLine)"))
        let html = try read(files[3])
        #expect(html.contains("<p>\(ConformanceReport.xml(countsLine))</p>"))
        for d in printed { #expect(html.contains("<li><code class=\"fail\">\(d)</code>"), "\(d) in the HTML defect list") }
    }
}
