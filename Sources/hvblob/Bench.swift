// SPDX-License-Identifier: Apache-2.0
import ArgumentParser
import Foundation
import HVBlob
import HVBlobBridge

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure the model's speed; every figure next to a baseline measured in the same run.",
        discussion: "Build with -c release for figures worth quoting: swift run -c release hvblob bench"
    )

    @Option(help: "Round trips to time (4 KiB).")
    var roundTrips: Int = 200_000
    @Option(help: "32 MiB requests to time.")
    var large: Int = 20
    @Option(help: "Ring packets to time.")
    var packets: Int = 2_000_000
    @Option(help: "Times to replay the recorded capture.")
    var replays: Int = 20

    func run() throws {
        if roundTrips < 10 { fail("--round-trips: \(roundTrips) is below 10") }
        if large < 1 { fail("--large: \(large) is below 1") }
        if packets < 10 { fail("--packets: \(packets) is below 10") }
        if replays < 1 { fail("--replays: \(replays) is below 1") }
        do {
            for f in try HVBlob.Bench.roundTrips(count: roundTrips) { Out.standardOutput.write(Bench.line(f) + "\n") }
            Out.standardOutput.write(Bench.line(try HVBlob.Bench.largeRequests(count: large)) + "\n")
            Out.standardOutput.write(Bench.line(HVBlob.Bench.ringPackets(count: packets)) + "\n")
            for f in try HVBlob.Bench.replay(repeats: replays) { Out.standardOutput.write(Bench.line(f) + "\n") }
            let built = try DriverBuild.build(driver: DriverBuild.inTreeDriver)
            for f in try HVBlob.Bench.replay(repeats: replays, factory: { try BridgedDriver(built, machine: $0) }, version: built.version,
                                             label: "the C driver (bridge)").prefix(1) {
                Out.standardOutput.write(Bench.line(f) + "\n")
            }
            let f = try HVBlob.Bench.driverRoundTrips(count: roundTrips, factory: { try BridgedDriver(built, machine: $0) },
                                                      version: built.version, label: "the C driver (bridge)")
            Out.standardOutput.write(Bench.line(f) + "\n")
            for f in try BenchHost.rows(count: max(200, roundTrips / 100)) { Out.standardOutput.write(Bench.line(f) + "\n") }
            for e in try HVBlob.Bench.explore(driver: BridgedDriver.explorerFactory(built), version: built.version) { Out.standardOutput.write(Bench.line(e) + "\n") }
        } catch {
            Out.standardError.write("hvblob: \(error)\n")
            throw ExitCode(1)
        }
    }

    /// One figure in one number format: values of 100 and more as whole numbers with thousands
    /// separators, smaller ones to three significant digits; ratios to three decimals.
    static func line(_ f: HVBlob.Bench.Figure) -> String {
        let name = grouped(f.name), baselineName = grouped(f.baselineName)
        if f.baseline == 0 { return "\(name): \(number(f.value)) \(f.unit) | goal \(f.goal)" }
        return "\(name): \(number(f.value)) \(f.unit) | baseline \(baselineName): \(number(f.baseline)) \(f.unit)"
            + " | ratio \(String(format: "%.3f", f.ratio)) | goal \(f.goal)"
    }

    /// Whole numbers of four digits or more inside a figure's text, with thousands separators
    /// like the values ("1,024 ring packets", "7,537 schedules").
    static func grouped(_ text: String) -> String {
        guard let re = try? NSRegularExpression(pattern: #"(?<![\d.,])\d{4,}(?![\d.,])"#) else { return text }
        var out = text
        let ns = text as NSString
        for m in re.matches(in: text, range: NSRange(location: 0, length: ns.length)).reversed() {
            guard let v = Double(ns.substring(with: m.range)), let r = Range(m.range, in: out) else { continue }
            out.replaceSubrange(r, with: number(v))
        }
        return out
    }

    static func number(_ v: Double) -> String {
        guard v.isFinite else { return "\(v)" }
        if abs(v) >= 100 {
            let digits = String(Int(v.rounded()).magnitude)
            var out = ""
            for (i, c) in digits.enumerated() {
                if i > 0 && (digits.count - i) % 3 == 0 { out += "," }
                out.append(c)
            }
            return (v < 0 ? "-" : "") + out
        }
        if v == 0 { return "0" }
        let places = max(0, 2 - Int(floor(log10(abs(v)))))
        return String(format: "%.\(places)f", v)
    }
}
