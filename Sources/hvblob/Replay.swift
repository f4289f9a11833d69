// SPDX-License-Identifier: Apache-2.0
import ArgumentParser
import Foundation
import HVBlob
import HVBlobBridge

struct Replay: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Re-drive a guest from the host side of a pcapng capture and check it does what the capture shows.",
        discussion: """
            The capture's ioctls, host packets, host memory writes and rescind are replayed; the guest's \
            packets must match byte for byte (PFNs up to a consistent renaming), its channel open/close \
            and every ioctl's result too. The first divergence is reported field by field. \
            Exit status: 0 clean, 1 divergence or findings, 2 the capture cannot be read.
            """
    )

    @Argument(help: "The capture (pcapng, link type 147, as 'hvblob record' or the driver's debugfs capture file writes it).")
    var file: String
    @Flag(help: "Replay against the Swift model (the default).")
    var model = false
    @Option(help: "Replay against this driver's C source through the kernel bridge.")
    var driver: String?
    @Option(name: .customLong("kernel-version"), help: "Kernel API era, \(KernelVersion.supported.lowerBound) to \(KernelVersion.supported.upperBound) (default: 6.1 for the model; for --driver the newest the driver builds for).")
    var kernelVersion: String?
    @Flag(help: "List the capture's records instead of replaying.")
    var list = false

    func run() throws {
        if list && (driver != nil || model || kernelVersion != nil) {
            fail("--list and \([driver.map { _ in "--driver" }, model ? "--model" : nil, kernelVersion.map { _ in "--kernel-version" }].compactMap { $0 }.joined(separator: ", ")) exclude each other: --list replays nothing")
        }
        if isDirectory(file) { fail("\(file): is a directory; give a capture file (pcapng)") }
        let bytes = readFile(file, what: "replay")
        let capture: Capture
        do { capture = try Capture.parse(bytes) } catch {
            var e = error
            e.file = file
            fail("\(e)")
        }
        if list {
            for (i, r) in capture.records.enumerated() {
                Out.standardOutput.write("\(String(i).leftPad(6)) @\(String(capture.offsets[i]).leftPad(8))  \(r.summary)\n")
            }
            return
        }
        let (factory, version, name) = try driverSelection(model: model, driver: driver, kernelVersion: kernelVersion)
        let report = Replayer(capture: capture, version: version, factory: factory).run()
        Out.standardOutput.write(report.render(driver: name))
        if !report.clean { throw ExitCode(1) }
    }
}
