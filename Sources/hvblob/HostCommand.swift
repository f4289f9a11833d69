// SPDX-License-Identifier: Apache-2.0
import ArgumentParser
import HVBlob

/// `hvblob host --attach PATH`: hvblob's simulated VSP as an out-of-process host.
struct HostCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "host",
        abstract: "Run hvblob's simulated VSP as an out-of-process host attached to a guest's control socket.",
        discussion: """
            Connects to the socket 'hvblob guest --host-socket PATH' (or verify-host) listens on, maps the \
            guest's memory file and rings, and serves until the guest closes the socket. It runs in the \
            guest's virtual time (TIMER/RUN), so a run against it is the same run as 'hvblob simulate'. \
            Interface: Docs/host-interface.md.
            """
    )

    @Option(help: "The guest's control socket.")
    var attach: String
    @Option(help: "The host's fault plan (as simulate takes it).")
    var faults: String = "none"

    func run() throws {
        let plan: FaultPlan
        do { plan = try FaultPlan(spec: faults) } catch { fail("--faults: \(error)") }
        let host: AttachedVSP
        do { host = try AttachedVSP(connectingTo: attach, faults: plan) } catch { fail("--attach: \(error)") }
        if let why = host.serve() { fail(why) }
    }
}
