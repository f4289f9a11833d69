// SPDX-License-Identifier: Apache-2.0
import ArgumentParser
import Foundation
import HVBlob

#if canImport(Glibc)
import Glibc
#endif

/// `hvblob fuzz-host`: mutated guest packets and ring states against an out-of-process host.
struct FuzzHost: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fuzz-host",
        abstract: "Feed an out-of-process host mutated GPA-direct packets and ring states; report crashes, hangs and broken host rules.",
        discussion: """
            Each case is drawn from its own seed (printed), runs on a fresh machine (ATTACH ... DETACH), and \
            ends clean, in a crash (the host closed the socket or died), a hang (no DONE within \
            --host-timeout-ms) or a broken vsp.* rule. After a crash or hang --host-exec starts the host \
            again. Replay one case with --case SEED. Exit 1 when any case was not clean.
            """
    )

    @OptionGroup var host: HostTarget
    @Option(help: "Seed the case seeds are drawn from.")
    var seed: String = "1"
    @Option(help: "Number of cases.")
    var runs: Int = 200
    @Option(name: .customLong("case"), help: "Replay the case with this seed only.")
    var caseSeed: String?
    @Option(help: "Write each finding's reproducer (a pcapng capture of the case: its packets, pages and ring states, with the seed) into this directory (default: $TMPDIR/hvblob-fuzz-host).")
    var reproducers: String?

    func run() throws {
        guard host.given else { fail("give the host: --host-exec CMD or --host-socket PATH") }
        guard let s = parseSeed(seed) else { fail("--seed: '\(seed)' is not a number") }
        guard runs > 0, runs <= 10_000_000 else { fail("--runs: \(runs) is outside 1...10000000") }
        var seeds: [UInt64]
        if let c = caseSeed {
            guard let v = parseSeed(c) else { fail("--case: '\(c)' is not a number") }
            seeds = [v]
        } else {
            seeds = (0..<runs).map { i in (s &* 0x9E37_79B9_7F4A_7C15) ^ (UInt64(i) &* 0xBF58_476D_1CE4_E5B9) }
        }
        let how = host.hostExec.map { "--host-exec '\($0)'" } ?? "--host-socket \(host.hostSocket ?? "")"
        let dir = reproducers ?? (NSTemporaryDirectory() + "hvblob-fuzz-host").replacingOccurrences(of: "//", with: "/")
        if reproducers != nil {
            if !isDirectory(dir) { fail("--reproducers: \(dir) is not a directory") }
            if access(dir, W_OK) != 0 { fail("--reproducers: \(dir) is not writable") }
        }
        var conn: HostTarget.Connected? = host.connect()
        Out.standardOutput.write("fuzz-host: \(conn!.session.offer.name) (\(how)), seed=\(s), \(seeds.count) case(s)\n")
        var tally: [String: Int] = [:]
        var firstBad: (UInt64, HostFuzz.Case)?
        for cs in seeds {
            if conn == nil {
                if host.hostSocket != nil { break }
                switch host.tryConnect() {
                case .success(let c): conn = c
                case .failure(let e): fail("restarting the host: \(e.what)")
                }
            }
            let c = HostFuzz.run(seed: cs, session: conn!.session)
            let kind: String
            switch c.outcome {
            case .clean: kind = "clean"
            case .crash: kind = "crash"
            case .hang: kind = "hang"
            case .rule: kind = "rule"
            }
            tally[kind, default: 0] += 1
            if kind != "clean" {
                if firstBad == nil { firstBad = (cs, c) }
                Out.standardOutput.write("case 0x\(String(cs, radix: 16)): \(c.outcome)\n  mutations: \(c.mutations.joined(separator: ", "))\n")
                Out.standardOutput.write("  reproduce: hvblob fuzz-host \(how) --case 0x\(String(cs, radix: 16))\n")
                var cap = c.capture
                cap.comment = "hvblob fuzz-host case 0x\(String(cs, radix: 16)) (--seed \(s)): \(c.outcome); mutations: \(c.mutations.joined(separator: ", "))"
                if !isDirectory(dir) { _ = try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true) }
                let file = "\(dir)/case-0x\(String(cs, radix: 16)).pcapng"
                writeFile(file, cap.pcapng(), what: "--reproducers")
                Out.standardOutput.write("  reproducer: \(file) (\(cap.records.count) records)\n  replay: hvblob guest --replay \(file) \(how)\n")
            }
            if kind == "crash" || kind == "hang" {
                _ = conn?.finish()
                conn = nil
            }
        }
        _ = conn?.finish()
        let summary = ["clean", "crash", "hang", "rule"].map { "\($0) \(tally[$0, default: 0])" }.joined(separator: ", ")
        Out.standardOutput.write("verdict: \(tally.values.reduce(0, +)) case(s): \(summary)\n")
        if firstBad != nil { throw ExitCode(1) }
    }
}
