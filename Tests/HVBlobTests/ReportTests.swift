// SPDX-License-Identifier: Apache-2.0
import Foundation
import FoundationXML
import HVBlob
import Testing

/// The conformance report in each format, on a target that fails some rules (v5's behaviour)
/// so that every format has both verdicts to carry.
@Suite("Conformance report")
struct ReportTests {
    static func report() throws -> ConformanceReport {
        let v5: DriverRig.Factory = { m in BlobVSC(channel: m.channel, memory: m.memory, log: m.log, behavior: .v5) }
        let version = KernelVersion(5, 13)
        let checks = Conformance.run(factory: v5, version: version, only: ["ioctl.ok", "ioctl.len.zero", "ioctl.pin.write-intent", "ioctl.response-len.bound"])
        let outcomes = try vectorFiles().flatMap { VectorRunner.run($0, factory: v5, version: version) }
        return ConformanceReport(target: "model v5 <5.13> & \"quotes\"", checks: checks, vectors: outcomes)
    }

    @Test("report.rows: one row per rule, failing where v5 fails, n/a evidence where a vector does not apply")
    func rows() throws {
        let r = try ReportTests.report()
        #expect(Set(r.rows.map(\.rule)).count == r.rows.count)
        let failing = Set(r.failedRules.map(\.rule))
        #expect(failing.contains("ioctl.pin.write-intent") && failing.contains("ioctl.response-len.bound"))
        #expect(!failing.contains("ioctl.len.zero"))
        #expect(r.rows.first { $0.rule == "ring.full" }?.verdict == "n/a", "ring vectors apply to the model transport only")
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
    }

    @Test("report.junit: well-formed XML; suites, tests and failures add up")
    func junit() throws {
        let r = try ReportTests.report()
        let doc = try XMLDocument(data: Data(r.junit.utf8))
        let root = try #require(doc.rootElement())
        #expect(root.name == "testsuites")
        let suites = root.elements(forName: "testsuite")
        #expect(suites.count == r.rows.count)
        let failures = suites.flatMap { $0.elements(forName: "testcase") }.filter { !$0.elements(forName: "failure").isEmpty }.count
        #expect(failures == r.rows.reduce(0) { $0 + $1.failed })
        #expect(root.attribute(forName: "failures")?.stringValue == String(failures))
        #expect(suites.first?.elements(forName: "properties").first?.elements(forName: "property").first { $0.attribute(forName: "name")?.stringValue == "target" }?
            .attribute(forName: "value")?.stringValue == "model v5 <5.13> & \"quotes\"")
    }

    @Test("report.ktap: version line, plans that match, one result line per test, subtests indented (KTAP v1)")
    func ktap() throws {
        let r = try ReportTests.report()
        let lines = r.ktap.split(separator: "\n", omittingEmptySubsequences: false).dropLast().map(String.init)
        #expect(lines.first == "KTAP version 1")
        var top = 0, topNotOk = 0, plan = 0
        var subPlan = 0, subCount = 0
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
                continue
            }
            top += 1
            #expect(subCount == subPlan, "subtest plan \(subPlan), \(subCount) results before \(line)")
            #expect(line.hasPrefix("ok \(top) ") || line.hasPrefix("not ok \(top) "), "\(line)")
            if line.hasPrefix("not ok") { topNotOk += 1 }
            #expect(!line.dropFirst(3).contains("#") || line.contains(" # SKIP "), "a '#' in a name would start a directive: \(line)")
        }
        #expect(plan == r.rows.count && top == plan)
        #expect(topNotOk == r.failedRules.count)
    }

    @Test("report.html: one self-contained page (no external resources), a row per rule, text escaped")
    func html() throws {
        let r = try ReportTests.report()
        let h = r.html
        #expect(h.hasPrefix("<!DOCTYPE html>"))
        #expect(!h.contains("src=") && !h.contains("href=") && !h.contains("@import"))
        #expect(h.components(separatedBy: "<tr id=").count - 1 == r.rows.count)
        #expect(h.contains("model v5 &lt;5.13&gt; &amp; &quot;quotes&quot;"))
        #expect(h.components(separatedBy: "class=\"fail\">fail</td>").count - 1 == r.failedRules.count)
    }

    @Test("report.cli: every format through the command; a bad format exits 2")
    func cli() throws {
        let full = try runProcess([CLITests.binary, "conformance", "--vectors", vectorDir.path])
        #expect(full.status == 0 && full.output.contains("verdict: 59 rules: 59 pass"), "\(full.output.suffix(400))")
        for f in ConformanceReport.formats {
            let out = try runProcess([CLITests.binary, "conformance", "--vectors-only", "--format", f, "--vectors", vectorDir.path])
            #expect(out.status == 0, "\(f): \(out.output.suffix(400))")
        }
        let bad = try runProcess([CLITests.binary, "conformance", "--format", "pdf"])
        #expect(bad.status == 2 && bad.output.contains("--format"))
    }
}
