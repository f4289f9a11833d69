// SPDX-License-Identifier: Apache-2.0

/// Waits that a signal must be able to end: a process killed while its ioctl waits for a host
/// that never answers must be able to exit, and what the host may still touch must stay
/// pinned until the host lets go of it.
extension Conformance {
    static var waitChecks: [(Check, Body)] {
        [
            check("ioctl.wait.killable", .should,
                  "a caller killed (SIGKILL) while it waits for a request the host never answers returns; the request's pages stay pinned until the host completes it or the channel is closed, and a late completion of its request id touches no freed memory",
                  needs: [.hostReceived(2)], direct: ["liveness.unkillable-wait"]) { f, v, s in
                var found: [String] = []
                // Once answered late by the host, once let go by remove closing the channel.
                for late in [true, false] {
                    if let e = try killedWaiter(f, v, s, lateCompletion: late) {
                        found.append(e)
                        // An uninterruptible wait shows the same in both; once is enough.
                        if Scope.current?.failedOn.contains("liveness.unkillable-wait") ?? false { break }
                    }
                }
                return found.isEmpty ? nil : found.joined(separator: "; ")
            },
        ]
    }

    /// One client's ioctl waits for a request the host holds without answering; SIGKILL is
    /// delivered to it while it sleeps. Then either the host completes the request late or
    /// remove closes the channel. nil when every rule held.
    static func killedWaiter(_ f: DriverRig.Factory?, _ v: KernelVersion, _ s: UInt64, lateCompletion: Bool) throws -> String? {
        let how = lateCompletion ? "the host's late completion" : "remove closing the channel"
        let rig = try DriverRig(factory: f, version: v, faults: try FaultPlan(spec: "never-complete=1"), seed: s)
        guard let signals = rig.driver as? DriverSignals else {
            throw NotApplicable(description: "the driver's threads cannot be signalled")
        }
        let (arg, r) = rig.argument(responseLen: 200, dataLen: 3 * AzBlob.pageSize, dataOffset: 100)
        let call = rig.start(arg)
        call.advance()
        rig.machine.run(until: rig.machine.now)
        if let e = call.result {
            throw Inconclusive(description: "the ioctl returned \(e) before the kill: no task waited for the host")
        }
        guard rig.machine.host.heldCount > 0, let sent = rig.packets.last, let pkt = try? GPADirectPacket.decode(sent) else {
            throw Inconclusive(description: "no request reached the host before the kill (\(rig.packets.count) packet(s) received)")
        }
        guard let kind = signals.sleepKind(of: call.call) else {
            throw Inconclusive(description: "the kill was never delivered to a waiting task: the ioctl was not asleep (\(call.call.waitDescription))")
        }
        let waitingIn = call.call.waitDescription
        let woke = signals.deliverSignal(to: call.call, fatal: true)
        let e = rig.finish(call)
        Scope.current?.notes.append("\(how): SIGKILL delivered to the ioctl asleep \(kind) in \(waitingIn)\(woke ? "" : " (it did not wake)"); the ioctl \(e.map { "returned \($0)" } ?? "never returned")")
        guard let e else {
            let text = "SIGKILL delivered while the ioctl slept \(kind) (\(waitingIn)) for request id \(pkt.transactionId) (transaction GUID \(r.guid)), which the host never answers: the wait did not end\(woke ? " (the kill woke it, and it slept again)" : ""), so the process can never exit"
            rig.log.report("liveness.unkillable-wait", text)
            _ = unexpected(rig.log, allowed: [])
            // The waiter stays asleep: let the host answer so the rig can be torn down.
            rig.machine.host.completeHeld()
            _ = rig.finish(call)
            return text
        }
        // The host still holds the request: every page it was handed must stay pinned.
        func unpinned() -> [UInt64] { pkt.pfns.filter { rig.machine.memory.pinCount($0) == 0 } }
        var problems: [String] = []
        let early = unpinned()
        if !early.isEmpty {
            let text = "request id \(pkt.transactionId) (transaction GUID \(r.guid)): the killed ioctl returned \(e) while the host still holds the request (no completion sent, the channel open), and \(early.count) of its \(pkt.pfns.count) page(s) are no longer pinned"
            rig.log.report("pin.released-before-close", text)
            problems.append(text)
        }
        if lateCompletion {
            let completions = rig.machine.host.stats.completionsSent
            rig.machine.host.completeHeld()
            rig.machine.run()
            if rig.machine.host.stats.completionsSent == completions {
                throw Inconclusive(description: "the host's late completion of request id \(pkt.transactionId) was never sent")
            }
        } else {
            if rig.finish(rig.startRemove()) == nil {
                let text = "remove after the killed ioctl returned never finished"
                rig.log.report("liveness.remove-hang", text)
                problems.append(text)
            }
        }
        Scope.current?.notes.append("\(how): \(pkt.pfns.count - early.count) of \(pkt.pfns.count) page(s) still pinned after the kill, \(pkt.pfns.count - unpinned().count) after \(how)")
        let left = pkt.pfns.count - unpinned().count
        if left > 0 {
            let text = "\(left) page(s) of the killed ioctl's request still pinned after \(how)"
            rig.log.report("pin.leak", text)
            problems.append(text)
        }
        // Every finding counts; its text is added when the rules above said nothing.
        if let u = unexpected(rig.log, allowed: []), problems.isEmpty { problems.append("after \(how): \(u)") }
        return problems.isEmpty ? nil : problems.joined(separator: "; ")
    }
}
