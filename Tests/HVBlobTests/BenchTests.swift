// SPDX-License-Identifier: Apache-2.0
import Foundation
import HVBlob
import Testing

/// `hvblob bench` with tiny counts: every row of issue 12's table is there, in the table and in
/// `--json` (which parses), and the allocation counter saw allocations. Nothing here is timed:
/// speed goals live in the bench's ratios, never in a test.
@Suite("bench", .serialized)
struct BenchTests {
    static let tiny = ["bench", "--round-trips", "200", "--large", "1", "--packets", "100", "--replays", "1",
                       "--schedules", "20", "--fuzz-execs", "20"]

    /// Every figure of issue 12's table, by its JSON key and the words of its table row.
    static let rows: [(key: String, row: String)] = [
        ("roundtrip.model", "4 KiB round trips/s, model"),
        ("roundtrip.c", "4 KiB round trips/s, C driver through the bridge"),
        ("fuzz.validation", "fuzz target validation, execs/s"),
        ("fuzz.hostile-host", "fuzz target hostile-host, execs/s"),
        ("fuzz.validation-c", "fuzz target validation-c, execs/s"),
        ("fuzz.differential", "fuzz target differential, execs/s"),
        ("fuzz.hostile-host-c", "fuzz target hostile-host-c, execs/s"),
        ("explore.model", "explore schedules/s, model"),
        ("explore.c", "explore schedules/s, C driver"),
        ("explore.model.pruned.schedules", "explore pruned, model, 1 client, no bound: schedules/s"),
        ("explore.model.pruned.ratio", "explore pruned, model: pruning ratio"),
        ("explore.c.pruned.states", "explore pruned, C driver: states/s"),
        ("replay.model", "replay, ring packets/s, the model"),
        ("replay.c", "replay, ring packets/s, C driver"),
        ("allocations.model", "allocations per 4 KiB round trip, model"),
        ("allocations.c", "allocations per 4 KiB round trip, C driver"),
        ("reset.idle", "machine resets/s"),
        ("reset.input", "inputs/s on a reset machine"),
    ]

    @Test("bench: the table has every row of issue 12 with its baseline, ratio and issue 12's figure")
    func table() throws {
        let out = try runProcess([CLITests.binary] + BenchTests.tiny)
        #expect(out.status == 0, "\(out.output.suffix(2000))")
        let lines = out.output.split(separator: "\n").map(String.init)
        #expect(lines.contains { $0.hasPrefix("figure ") && $0.contains("baseline") && $0.contains("ratio") && $0.contains("issue 12") })
        for r in BenchTests.rows {
            #expect(lines.contains { $0.hasPrefix(r.row) }, "no row '\(r.row)'\n\(out.output.suffix(3000))")
        }
        // One number format: no bare decimals of more than 3 significant digits, no ungrouped thousands.
        for l in lines where l.contains(" /s") {
            #expect(l.range(of: "[0-9]{4,} /s", options: .regularExpression) == nil, "ungrouped number: \(l)")
        }
    }

    @Test("bench --json: parses; every figure has a key, a value and its baseline; allocations were counted")
    func json() throws {
        let out = try ReportTests.run(BenchTests.tiny + ["--json"])
        #expect(out.status == 0, "\(out.err.suffix(2000))")
        let v = try JSONParser.parse(Array(out.out.utf8))
        let figures = try #require(v["figures"]?.array)
        let keys = figures.compactMap { $0["key"]?.string }
        #expect(Set(keys).count == keys.count, "keys are unique")
        for r in BenchTests.rows {
            let f = try #require(figures.first { $0["key"]?.string == r.key }, "no figure \(r.key)")
            #expect(f["value"].map { if case .number = $0.value { true } else { false } } == true, "\(r.key) has no value: \(f)")
            #expect(f["baseline_name"]?.string?.isEmpty == false)
        }
        // The counter's own calibration: one 4 KiB array per iteration is at least one allocation.
        let alloc = try #require(figures.first { $0["key"]?.string == "allocations.model" })
        if case .number(let t)? = alloc["baseline"]?.value { #expect((Double(t) ?? 0) >= 1, "the counter saw no allocation") }
        else { Issue.record("allocations.model has no baseline: \(alloc)") }
    }

    @Test("bench.number: one format — grouped whole numbers from 100 up, three significant digits below")
    func number() {
        #expect(HVBlob.Bench.number(16_947_280) == "16,947,280")
        #expect(HVBlob.Bench.number(131_262.2) == "131,262")
        #expect(HVBlob.Bench.number(100) == "100")
        #expect(HVBlob.Bench.number(24.83) == "24.8")
        #expect(HVBlob.Bench.number(3) == "3.00")
        #expect(HVBlob.Bench.number(0.7743) == "0.774")
        #expect(HVBlob.Bench.number(0.000455) == "0.000455")
        #expect(HVBlob.Bench.number(.nan) == "n/a")
    }
}
