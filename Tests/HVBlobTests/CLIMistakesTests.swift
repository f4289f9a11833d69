// SPDX-License-Identifier: Apache-2.0
import Foundation
import HVBlob
import Testing

/// The mistakes a new user makes, one class per test: each is one line naming what is wrong
/// (the option as typed, the file), exit status 2, and — where a run or a build would follow —
/// it comes before the run or the build.
@Suite("hvblob mistakes")
struct CLIMistakesTests {
    func hvblob(_ args: [String]) throws -> (status: Int32, output: String) {
        try #require(FileManager.default.isExecutableFile(atPath: CLITests.binary), "no hvblob binary at \(CLITests.binary): run swift build first")
        return try runProcess([CLITests.binary] + args, cwd: repoRoot)
    }

    /// Exit 2, one line starting "hvblob: " that holds every needle.
    func expectMistake(_ args: [String], _ needles: [String], sourceLocation: SourceLocation = #_sourceLocation) throws {
        let out = try hvblob(args)
        #expect(out.status == 2, "\(args): exit \(out.status)\n\(out.output)", sourceLocation: sourceLocation)
        let lines = out.output.split(separator: "\n")
        #expect(lines.count == 1 && lines[0].hasPrefix("hvblob: "), "\(args): not one line:\n\(out.output)", sourceLocation: sourceLocation)
        for n in needles { #expect(out.output.contains(n), "\(args): no '\(n)' in: \(out.output)", sourceLocation: sourceLocation) }
    }

    @Test("mistakes.subcommand: an unknown subcommand is named, with the list of subcommands and the closest one")
    func unknownSubcommand() throws {
        try expectMistake(["frobnicate"], ["unknown subcommand 'frobnicate'", "simulate, verify, explore"])
        try expectMistake(["simulte", "--clients", "2"], ["unknown subcommand 'simulte'", "did you mean simulate?"])
        try expectMistake(["vectors", "chek", "x"], ["unknown subcommand 'vectors chek'", "did you mean vectors check?", "generate, check, run"])
        // The default subcommand still runs on options alone.
        let ok = try hvblob(["--clients", "1", "--requests", "1"])
        #expect(ok.status == 0 && ok.output.hasPrefix("seed=24301 "), "\(ok.output)")
    }

    @Test("mistakes.backend: an unknown --backend is named as typed with the backends; --blobs without the Blob service is refused")
    func unknownBackend() throws {
        try expectMistake(["simulate", "--backend", "blobb"], ["--backend: 'blobb' is not a backend", "store, blob"])
        try expectMistake(["verify", "--model", "--backend", "Blob"], ["--backend: 'Blob' is not a backend", "store, blob"])
        try expectMistake(["simulate", "--blobs", "/tmp"], ["--blobs /tmp needs --backend blob"])
        try expectMistake(["explore", "--backend", "Blob"], ["--backend: 'Blob' is not a backend", "store, blob"])
        try expectMistake(["explore", "--blobs", "/tmp"], ["--blobs /tmp needs --backend blob"])
        try expectMistake(["simulate", "--backend", "blob", "--blobs", "/nonexistent-hvblob-dir"], ["--blobs: /nonexistent-hvblob-dir is not a directory"])
    }

    @Test("mistakes.negative: a negative number says it is negative and what the option takes")
    func negativeNumbers() throws {
        try expectMistake(["simulate", "--seed", "-1"], ["--seed: '-1' is negative", "0 or more"])
        try expectMistake(["simulate", "--clients", "-3"], ["--clients: '-3' is negative", "1 or more"])
        try expectMistake(["bench", "--round-trips", "-5"], ["--round-trips: '-5' is negative"])
        try expectMistake(["explore", "--bound=-2"], ["--bound: '-2' is negative", "preemption bound"])
        try expectMistake(["record", "-o", "/tmp/hvblob-neg.pcapng", "--requests", "-4"], ["--requests: '-4' is negative"])
    }

    @Test("mistakes.names: rule and check names that match nothing are errors, with close matches, in --rules, --ignore and --only")
    func unknownNames() throws {
        try expectMistake(["explore", "--rules", "nosuch.rule"], ["--rules: unknown rule 'nosuch.rule'", "--list-rules"])
        try expectMistake(["explore", "--rules", "guest.send-on-closd-channel"], ["did you mean guest.send-on-closed-channel?"])
        try expectMistake(["explore", "--ignore", "livenes.*"], ["--ignore: 'livenes.*' matches no rule", "liveness.*"])
        try expectMistake(["explore", "--rules", "guest.crash,"], ["--rules: an empty rule"])
        try expectMistake(["verify", "--only", "nosuch.check"], ["--only: unknown check 'nosuch.check'"])
        try expectMistake(["verify", "--only", "ioctl.okk"], ["did you mean ioctl.ok"])
        try expectMistake(["explore", "--strategy", "dsf"], ["--strategy: 'dsf'", "did you mean dfs?"])
        try expectMistake(["decode", "--as", "foo", "00"], ["--as: 'foo' is not one of"])
        try expectMistake(["replay-fuzz", "validaton", "/dev/null"], ["unknown target 'validaton'", "did you mean validation"])
        // A pattern that matches rules is accepted and expands: --only ioctl.len.* runs those checks.
        let only = try hvblob(["verify", "--model", "--only", "ioctl.len.*"])
        #expect(only.status == 0 && only.output.contains("ioctl.len.zero") && only.output.contains("ioctl.len.max"), "\(only.output)")
        #expect(!only.output.contains("ioctl.ok "), "\(only.output)")
    }

    @Test("mistakes.rule-list: every rule id in the sources is one explore --rules accepts")
    func ruleListComplete() throws {
        let listed = Set(try hvblob(["explore", "--list-rules"]).output.split(separator: "\n").map(String.init))
        #expect(listed.contains("guest.send-on-closed-channel") && listed.contains("host.mpb.rangecount"))
        var found = Set<String>()
        let literal = try NSRegularExpression(pattern: #""((?:guest|liveness|integrity|pin|host)\.[a-z0-9.-]+)""#)
        let vsp = try NSRegularExpression(pattern: #"rule\("([a-z0-9.-]+)""#)
        for dir in ["Sources/HVBlob", "Sources/HVBlobBridge", "Sources/CKernelShim"] {
            let root = repoRoot.appendingPathComponent(dir)
            let files = FileManager.default.enumerator(atPath: root.path)?.compactMap { $0 as? String } ?? []
            for f in files where f.hasSuffix(".swift") || f.hasSuffix(".c") || f.hasSuffix(".h") {
                let text = (try? String(contentsOf: root.appendingPathComponent(f), encoding: .utf8)) ?? ""
                let ns = text as NSString
                for m in literal.matches(in: text, range: NSRange(location: 0, length: ns.length)) { found.insert(ns.substring(with: m.range(at: 1))) }
                if f.hasSuffix("SimulatedVSP.swift") {
                    for m in vsp.matches(in: text, range: NSRange(location: 0, length: ns.length)) { found.insert("host." + ns.substring(with: m.range(at: 1))) }
                }
            }
        }
        #expect(found.count > 50, "the scan found only \(found.count) rule ids")
        let missing = found.subtracting(listed).sorted()
        #expect(missing.isEmpty, "rules reported in the sources but unknown to --rules (add them to Sources/hvblob/Rules.swift): \(missing)")
    }

    @Test("mistakes.conflicts: options that exclude each other are errors, not silently ignored")
    func conflicts() throws {
        try expectMistake(["explore", "--v5", "--driver", "kernel/hv_azure_blob.c"], ["--v5 and --driver exclude each other"])
        try expectMistake(["explore", "--model", "--driver", "kernel/hv_azure_blob.c"], ["--model and --driver exclude each other"])
        try expectMistake(["explore", "--replay", "v1.2.0", "--bound", "1"], ["--bound and --replay exclude each other"])
        try expectMistake(["explore", "--dpor", "--shard", "1/2", "--result", "/tmp/hvblob-dpor.json"], ["--dpor and --shard exclude each other"])
        try expectMistake(["explore", "--dpor", "--bound", "2"], ["--dpor and --bound 2 exclude each other"])
        try expectMistake(["explore", "--dpor", "--strategy", "pct"], ["--dpor is for the exhaustive dfs strategy"])
        try expectMistake(["explore", "--strategy", "random", "--bound", "1"], ["--bound is the dfs strategy's"])
        try expectMistake(["explore", "--seed", "3"], ["--seed is for --strategy pct or random"])
        try expectMistake(["verify", "--model", "--driver", "kernel/hv_azure_blob.c"], ["--model and --driver exclude each other"])
        try expectMistake(["conformance", "--no-explore", "--explore-schedules", "9"], ["--no-explore and --explore-schedules exclude each other"])
        try expectMistake(["conformance", "--vectors-only", "--no-explore"], ["--vectors-only and --no-explore exclude each other"])
        try expectMistake(["conformance", "--explore-schedules", "2"], ["--explore-schedules: 2 is fewer than one schedule per scenario"])
        try expectMistake(["verify", "--model", "--include", "kernel"], ["--model and --include exclude each other"])
        try expectMistake(["verify", "--driver", "kernel/hv_azure_blob.c", "--tree", "kernel"], ["--driver and --tree exclude each other"])
        try expectMistake(["simulate", "--driver", "v5", "--c-driver", "kernel/hv_azure_blob.c"], ["--driver v5 and --c-driver exclude each other"])
        try expectMistake(["vectors", "run", "--model", "--driver", "kernel/hv_azure_blob.c"], ["--model and --driver exclude each other"])
        try expectMistake(["replay", "Fixtures/captures/plain.pcapng", "--list", "--driver", "kernel/hv_azure_blob.c"], ["--list and --driver exclude each other"])
        try expectMistake(["record", "-o", "/tmp/hvblob-x.pcapng", "--record", "/tmp/hvblob-y.pcapng"], ["-o and --record"])
        try expectMistake(["decode", "--file", "/dev/null", "00"], ["--file and hex bytes"])
        try expectMistake(["conformance", "--vectors-only", "--seed", "2"], ["--seed and --vectors-only exclude each other"])
    }

    @Test("mistakes.input-kind: the wrong kind of file is named before anything is compiled or read as something else")
    func wrongKindOfInput() throws {
        try expectMistake(["verify", "--driver", "kernel"], ["--driver: kernel is a directory", "--tree kernel"])
        try expectMistake(["verify", "--driver", "README.md"], ["README.md: not a C source file"])
        try expectMistake(["verify", "--driver", CLITests.binary], ["not a C source file (binary)"])
        try expectMistake(["explore", "--driver", "README.md"], ["--driver", "README.md: not a C source file"])
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("hvblob-mistakes-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let c = dir.appendingPathComponent("helper.c")
        try "// SPDX-License-Identifier: GPL-2.0-only\n#include <linux/module.h>\n\nstatic int counter;\n\nint helper(int a)\n{\n\tcounter += a;\n\treturn counter;\n}\n"
            .write(to: c, atomically: true, encoding: .utf8)
        try expectMistake(["verify", "--driver", c.path], ["no module_init in \(c.path)"])
        try expectMistake(["vectors", "check", "README.md"], ["README.md: not a vector file"])
        try expectMistake(["vectors", "run", "README.md"], ["README.md: not a vector file"])
        try expectMistake(["replay", "Fixtures"], ["Fixtures: is a directory"])
        try expectMistake(["decode", "--file", "Fixtures"], ["--file: Fixtures is a directory"])
        try expectMistake(["vectors", "check", "--schema", "/nonexistent/s.json"], ["--schema: /nonexistent/s.json: no such file"])
    }

    @Test("mistakes.output: an output path that cannot be written is refused before the run, naming the option as typed")
    func unwritableOutput() throws {
        try expectMistake(["record", "-o", "/nonexistent-dir/x.pcapng"], ["-o: /nonexistent-dir/x.pcapng", "does not exist"])
        let rec = try hvblob(["record", "-o", "/nonexistent-dir/x.pcapng"])
        #expect(!rec.output.contains("--record") && !rec.output.contains("seed="), "named --record or ran first: \(rec.output)")
        try expectMistake(["simulate", "--trace", "/nonexistent-dir/t.txt"], ["--trace: /nonexistent-dir/t.txt"])
        try expectMistake(["simulate", "--record", "/tmp"], ["--record: /tmp is a directory"])
        try expectMistake(["verify", "--model", "--record", "/nonexistent-dir/v.pcapng"], ["--record: /nonexistent-dir/v.pcapng"])
        try expectMistake(["conformance", "--vectors-only", "-o", "/nonexistent-dir/r.html"], ["-o: /nonexistent-dir/r.html"])
        try expectMistake(["explore", "--diagram", "/nonexistent-dir/d.mmd"], ["--diagram: /nonexistent-dir/d.mmd"])
        try expectMistake(["vectors", "generate", "-o", "/nonexistent-dir/v"], ["-o: cannot create the directory /nonexistent-dir/v"])
    }

    @Test("mistakes.vectors: generate writes the schema with the vectors, and check and run work on what it wrote")
    func vectorsRoundTrip() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("hvblob-gen-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let gen = try hvblob(["vectors", "generate", "-o", dir])
        #expect(gen.status == 0, "\(gen.output)")
        // The built-in schema is the committed one, byte for byte.
        let written = FileManager.default.contents(atPath: dir + "/vectors.schema.json")
        let committed = FileManager.default.contents(atPath: repoRoot.appendingPathComponent("Fixtures/vectors/vectors.schema.json").path)
        #expect(written != nil && written == committed, "the built-in schema differs from Fixtures/vectors/vectors.schema.json")
        let check = try hvblob(["vectors", "check", dir])
        #expect(check.status == 0 && check.output.contains("ioctl.json: valid"), "\(check.output)")
        // Without a schema beside them, the built-in one is used.
        try FileManager.default.removeItem(atPath: dir + "/vectors.schema.json")
        let run = try hvblob(["vectors", "run", dir + "/layouts.json"])
        #expect(run.status == 0 && run.output.contains("layouts: ") && run.output.contains(", 0 failed"), "\(run.output)")
        // generate needs -o: it never overwrites Fixtures/vectors by default.
        let noO = try hvblob(["vectors", "generate"])
        #expect(noO.status == 2 && noO.output.contains("-o"), "\(noO.output)")
    }

    @Test("mistakes.help: --help says what the command does: defaults as the run prints them, no option the command rejects")
    func helpTexts() throws {
        let sim = try hvblob(["simulate", "--help"]).output
        #expect(sim.contains("(default: 24301)") && !sim.contains("0x5eed"), "the seed's default is not shown as the run prints it")
        #expect(sim.contains("Not probabilities: delay=LO-HI") && sim.contains("faults=delay=1-4"))
        #expect(!sim.contains("see below"))
        let verify = try hvblob(["verify", "--help"]).output
        #expect(!verify.contains("--v5"), "verify --help mentions --v5, which verify rejects")
        let conf = try hvblob(["conformance", "--help"]).output
        #expect(conf.components(separatedBy: "default: Fixtures/vectors").count - 1 <= 1, "a default printed twice:\n\(conf)")
        let gen = try hvblob(["vectors", "generate", "--help"]).output
        #expect(gen.contains("Fixtures/vectors") && gen.contains("-o"))
    }

    @Test("mistakes.era: simulate --c-driver and verify say why an API era was chosen, and a skipped era in one quiet line")
    func eraChoice() throws {
        let sim = try hvblob(["simulate", "--c-driver", "kernel/hv_azure_blob.c", "--clients", "1", "--requests", "2"])
        #expect(sim.status == 0, "\(sim.output)")
        let lines = sim.output.split(separator: "\n").map(String.init)
        let era = try #require(lines.first { $0.hasPrefix("kernel=") && $0.contains("the newest API era this driver builds for") }, "\(sim.output)")
        // The era named is the one the first line ran.
        #expect(lines.first?.contains(" " + era.prefix { $0 != ":" } + " ") == true, "\(sim.output)")
        let verify = try hvblob(["verify", "--only", "ioctl.ok"])
        #expect(verify.output.contains("(the newest era it builds for; --kernel-version picks another)"), "\(verify.output)")
        for l in verify.output.split(separator: "\n") where l.hasPrefix("API era ") {
            #expect(l.contains(" skipped: ") && !l.contains("error:"), "a skipped era prints a compiler error: \(l)")
        }
        let pinned = try hvblob(["verify", "--only", "ioctl.ok", "--kernel-version", "5.14"])
        #expect(pinned.output.contains("builds against: the Linux 5.14 API era of the shim (as --kernel-version asks)"), "\(pinned.output)")
    }
}
