// SPDX-License-Identifier: Apache-2.0

/// A loaded driver the host can offer another device to (a second channel of the same class),
/// as VMBus does when a VM has two such devices: the model and the bridge.
public protocol MultiDeviceDriver: AnyObject {
    /// The host offers `device`; the loaded driver probes it. Returns the driver's view of that
    /// device (open, ioctl and remove act on it), or the errno its probe returned.
    func offer(_ device: Machine.Device) throws(Errno) -> GuestDriver
    /// The misc devices (/dev/<name>) the probe of the machine's device `index` registered and
    /// that are registered now.
    func miscNames(ofDevice index: Int) -> [String]
    /// The debugfs directories and files the probe of device `index` created that are live now.
    func debugfsEntries(ofDevice index: Int) -> (dirs: Int, files: Int)
}

extension BlobVSC: MultiDeviceDriver {
    public func offer(_ device: Machine.Device) throws(Errno) -> GuestDriver {
        let peer = BlobVSC(channel: device.channel, memory: memory, log: log, behavior: behavior)
        // dev->id from an IDA: the lowest number no live device holds.
        let taken = Set(([self] + peers.values).filter(\.miscRegistered).map(\.miscName))
        let id = (0...).first { !taken.contains($0 == 0 ? "azure_blob" : "azure_blob\($0)") }!
        peer.miscName = id == 0 ? "azure_blob" : "azure_blob\(id)"
        try peer.probe()
        peers[device.index] = peer
        return peer
    }

    func device(_ index: Int) -> BlobVSC? {
        index == 0 ? self : peers[index]
    }

    public func miscNames(ofDevice index: Int) -> [String] {
        guard let d = device(index), d.miscRegistered else { return [] }
        return [d.miscName]
    }

    /// Each device's directory (named by its instance) and its pending_requests file.
    public func debugfsEntries(ofDevice index: Int) -> (dirs: Int, files: Int) {
        guard let d = device(index), d.miscRegistered else { return (0, 0) }
        return (1, 1)
    }
}

extension Conformance {
    /// Two devices of the class at once: a driver whose device state is one static instance,
    /// one misc name or one debugfs directory for all serves the second badly or not at all.
    static var twoDeviceChecks: [(Check, Body)] {
        [
            check("lifecycle.two-devices", .must,
                  "two devices offered at once: each gets its own misc name and debugfs directory, both serve requests concurrently, one is rescinded and removed while the other keeps serving; balanced after",
                  needs: [.devicesServed(2)],
                  direct: ["guest.misc-name-clash", "guest.debugfs-name-clash", "guest.misc-minor-clash", "guest.bad-channel"]) { f, v, s in
                let rig = try DriverRig(factory: f, version: v, faults: try FaultPlan(spec: "delay=20-40"), seed: s)
                guard let multi = rig.driver as? MultiDeviceDriver else {
                    throw NotApplicable(description: "the driver cannot be offered a second device")
                }
                let (first, _) = rig.argument()
                if let e = expect(rig.ioctl(first), .success, "a request on the first device alone") {
                    throw Inconclusive(description: e + ": the first device was never shown to work")
                }
                let names0 = multi.miscNames(ofDevice: 0)
                let fs0 = multi.debugfsEntries(ofDevice: 0)
                // The host offers a second device while the first serves.
                let endpoint = rig.machine.offerDevice()
                let second: GuestDriver
                do {
                    second = try multi.offer(endpoint)
                } catch {
                    return "the second device's probe returned \(error)" + (unexpected(rig.log).map { " — \($0)" } ?? "")
                }
                var problems: [String] = []
                let names1 = multi.miscNames(ofDevice: endpoint.index)
                let fs1 = multi.debugfsEntries(ofDevice: endpoint.index)
                Scope.current?.notes.append("misc devices: \(names0.map { "/dev/" + $0 }.joined(separator: ", ")) (first), \(names1.map { "/dev/" + $0 }.joined(separator: ", ")) (second); debugfs directories: \(fs0.dirs) and \(fs1.dirs)")
                if names1.isEmpty {
                    problems.append("the second device's probe succeeded but registered no misc device of its own (names now: \(names0.joined(separator: ", ")))")
                } else if !Set(names0).isDisjoint(with: names1) {
                    problems.append("both devices are /dev/\(names1[0])")
                }
                if fs0.dirs > 0 && fs1.dirs == 0 {
                    problems.append("the first device has a debugfs directory, the second got none of its own")
                }
                guard !names1.isEmpty, let file1 = try? second.open(rig.space) else {
                    problems.append("the second device could not be opened")
                    return problems.joined(separator: "; ") + (unexpected(rig.log).map { " — \($0)" } ?? "")
                }
                // Both serve at once: one request on each, both in flight at their hosts together.
                let (a0, _) = rig.argument(dataLen: 100)
                let (a1, _) = rig.argument(dataLen: 200)
                let c0 = DriverRig.Activity("request on the first device", rig.start(a0))
                let c1 = DriverRig.Activity("request on the second device", TrackedCall(second.ioctl(file1, command: second.abi.command, argument: a1)))
                c0.call.advance()
                c1.call.advance()
                rig.machine.run(until: rig.machine.now)
                let together = (rig.machine.host.inFlight.count, endpoint.host.inFlight.count)
                if !rig.runUntilIdle([c0, c1]) {
                    let stuck = [c0, c1].filter { $0.returnedAt == nil }.map { "\($0.name): \($0.call.call.waitDescription)" }
                    return (problems + ["never returned: " + stuck.joined(separator: "; ")]).joined(separator: "; ")
                }
                for c in [c0, c1] where c.call.result != .success {
                    problems.append("the \(c.name) returned \(c.call.result.map { "\($0)" } ?? "nothing"), expected 0")
                }
                let before = (rig.machine.host.stats.executed, endpoint.host.stats.executed)
                Scope.current?.notes.append("requests in flight together: \(together.0) at the first device's host, \(together.1) at the second's; executed: \(before.0) and \(before.1)")
                if together.0 < 1 || together.1 < 1 {
                    throw Inconclusive(description: "the two requests were not in flight together (\(together.0) at the first host, \(together.1) at the second)" + (problems.isEmpty ? "" : "; " + problems.joined(separator: "; ")))
                }
                // The first device is rescinded and removed; the second keeps serving.
                rig.machine.host.noteRescind()
                rig.machine.channel.rescind()
                let remove = DriverRig.Activity("remove of the first device", rig.startRemove())
                if !rig.runUntilIdle([remove]) {
                    rig.close()
                    if !rig.runUntilIdle([remove]) {
                        return (problems + ["the first device's remove never returned, not even after its file was closed: \(remove.call.call.waitDescription)"]).joined(separator: "; ")
                    }
                }
                let (a2, _) = rig.argument()
                let afterRemove = rig.finish(second.ioctl(file1, command: second.abi.command, argument: a2))
                let executedAfter = endpoint.host.stats.executed - before.1
                Scope.current?.notes.append("after the first device was rescinded and removed: the second's request returned \(afterRemove.map { "\($0)" } ?? "never (hang)"), \(executedAfter) more executed by its host")
                if afterRemove != .success {
                    problems.append("after the first device was rescinded and removed, a request on the second returned \(afterRemove.map { "\($0)" } ?? "never (hang)"), expected 0")
                } else if executedAfter < 1 {
                    problems.append("after the first device was removed, a request on the second returned 0 without reaching its host")
                }
                if multi.miscNames(ofDevice: endpoint.index).isEmpty {
                    problems.append("the second device's misc device is gone after the first device's remove")
                }
                // Then the second goes too (module unload): what is left is the rig's to judge.
                second.release(file1)
                rig.close()
                if rig.finish(second.remove()) == nil {
                    problems.append("the second device's remove never returned")
                }
                if let u = unexpected(rig.log) { problems.append(u) }
                return problems.isEmpty ? nil : problems.joined(separator: "; ")
            },
        ]
    }
}
