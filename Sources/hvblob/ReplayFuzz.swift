// SPDX-License-Identifier: Apache-2.0
import ArgumentParser
import Foundation
import HVBlob
import HVBlobBridge

struct ReplayFuzz: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "replay-fuzz",
        abstract: "Decode a fuzz input into the scenario it stands for, rerun it, and give the verdict.",
        discussion: "Targets: \((FuzzTargets.names + BridgeFuzzTargets.names).joined(separator: ", ")). Exit status: 0 every invariant held, 1 one broke, 2 bad usage or input."
    )

    @Argument(help: "The fuzz target.")
    var target: String
    @Argument(help: "The input file (a crash artifact or a corpus entry).")
    var file: String

    func run() throws {
        let all = FuzzTargets.names + BridgeFuzzTargets.names
        guard all.contains(target) else {
            fail("replay-fuzz: unknown target '\(target)'\(closeMatches(target, all).map { " (did you mean \($0)?)" } ?? ""); the targets: \(all.joined(separator: ", "))")
        }
        if isDirectory(file) { fail("replay-fuzz: \(file): is a directory; give one input file") }
        guard let data = FileManager.default.contents(atPath: file) else { fail("replay-fuzz: \(file): cannot read") }
        Out.standardOutput.write("input: \(file), \(data.count) byte(s)\n")
        let describe: (String) -> Void = { Out.standardOutput.write($0 + "\n") }
        let verdict = BridgeFuzzTargets.names.contains(target)
            ? BridgeFuzzTargets.run(target, Array(data), describe: describe)
            : FuzzTargets.run(target, Array(data), describe: describe)
        if let v = verdict {
            Out.standardOutput.write("verdict: FAIL: \(v)\n")
            throw ExitCode(1)
        }
        Out.standardOutput.write("verdict: every invariant held\n")
    }
}
