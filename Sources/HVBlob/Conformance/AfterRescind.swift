// SPDX-License-Identifier: Apache-2.0

extension Conformance {
    /// A process that holds /dev/azure_blob open across a rescind keeps calling it: misc_deregister
    /// does not close open files, so the driver's ioctl runs after (or while) remove tears the
    /// device down. It must see that the device is gone — not send on the closed channel, not
    /// use the freed device — and the last close must let a waiting remove finish.
    static var afterRescindChecks: [(Check, Body)] {
        [
            check("lifecycle.ioctl-after-rescind", .must,
                  "a file held open across rescind and remove: its ioctl returns ENODEV and sends nothing; the last close lets remove finish",
                  needs: [.executed(1), .rescindInFlight(0)],
                  direct: ["guest.send-on-closed-channel", "guest.use-after-free"]) { f, v, s in
                let rig = try DriverRig(factory: f, version: v, seed: s)
                let (before, _) = rig.argument()
                if let e = expect(rig.ioctl(before), .success, "a valid request before the rescind") {
                    throw Inconclusive(description: e + ": the file was never shown to work")
                }
                rig.machine.host.noteRescind()
                rig.machine.channel.rescind()
                let remove = rig.driver.remove()
                // Remove runs until it returns or waits (for the open file, say).
                let removing = remove.runUntilBlocked()
                let sent = rig.packets.count
                let (after, _) = rig.argument()
                let e = rig.ioctl(after)
                var problems: [String] = []
                let when = removing == .returned(.success) || { if case .returned = removing { return true }; return false }()
                    ? "after remove returned" : "while remove waits (\(remove.waitDescription))"
                if e != .ENODEV {
                    problems.append("the ioctl \(when) returned \(e.map { "\($0)" } ?? "never (hang)"), expected ENODEV")
                }
                if rig.packets.count > sent {
                    problems.append("the ioctl \(when) sent \(rig.packets.count - sent) packet(s) to a host that rescinded the channel")
                }
                rig.driver.release(rig.file)
                if rig.finish(remove) == nil {
                    problems.append("remove never finished after the last close: \(remove.waitDescription)")
                } else {
                    rig.driver.finish(removed: true)
                }
                if let u = unexpected(rig.log) { problems.append(u) }
                return problems.isEmpty ? nil : problems.joined(separator: "; ")
            },
        ]
    }
}
