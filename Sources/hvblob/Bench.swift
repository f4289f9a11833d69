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
        guard roundTrips >= 10, large >= 1, packets >= 10, replays >= 1 else { fail("bench: counts must be at least 10, 1, 10 and 1") }
        do {
            for f in try HVBlob.Bench.roundTrips(count: roundTrips) { Out.standardOutput.write("\(f)\n") }
            Out.standardOutput.write("\(try HVBlob.Bench.largeRequests(count: large))\n")
            Out.standardOutput.write("\(HVBlob.Bench.ringPackets(count: packets))\n")
            for f in try HVBlob.Bench.replay(repeats: replays) { Out.standardOutput.write("\(f)\n") }
            let built = try DriverBuild.build(driver: DriverBuild.inTreeDriver)
            for f in try HVBlob.Bench.replay(repeats: replays, factory: { try BridgedDriver(built, machine: $0) }, version: built.version,
                                             label: "the C driver (bridge)").prefix(1) {
                Out.standardOutput.write("\(f)\n")
            }
            let f = try HVBlob.Bench.driverRoundTrips(count: roundTrips, factory: { try BridgedDriver(built, machine: $0) },
                                                      version: built.version, label: "the C driver (bridge)")
            Out.standardOutput.write("\(f)\n")
            for e in try HVBlob.Bench.explore(driver: BridgedDriver.explorerFactory(built), version: built.version) { Out.standardOutput.write("\(e)\n") }
        } catch {
            Out.standardError.write("hvblob: \(error)\n")
            throw ExitCode(1)
        }
    }
}
