// SPDX-License-Identifier: Apache-2.0
import ArgumentParser
import HVBlob

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Measure the model's speed; figures as ratios to baselines from the same run.")
    func run() throws {
        FileHandle.standardOutput.write("bench: not yet\n")
    }
}
