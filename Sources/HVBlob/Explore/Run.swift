// SPDX-License-Identifier: Apache-2.0

extension Explorer {
    /// One schedule in progress: a machine with the scenario's activities, stepped one choice
    /// at a time (`take`), saying after each step what it touched (`Footprint`) and keeping
    /// the digest of the schedule's trace so far (`stateKey`). `Explorer.run` drives it with a
    /// chooser; the pruned search (`Prune.swift`) drives it choice by choice.
    final class Run {
        let explorer: Explorer
        let machine: Machine
        let driver: GuestDriver
        let tracing: Bool
        let isModel: Bool
        var facts = Facts()
        var held: [UInt64: Held] = [:]
        var trace: [String] = []
        var files: [OpenFile] = []
        var args: [UInt64] = []
        var guids: [GUID] = []
        let clientActs: [Activity]
        let host = Activity("host")
        let access = Activity("host-access")
        let rescind = Activity("rescind")
        let remove = Activity("remove")
        let hasAccess: Bool
        let hasRescind: Bool
        var removeStarted = false
        var removeFinishedAt: UInt64?
        var lostWakeupReported = false
        var choices: [Int] = []
        var runnableLog: [[String]] = []
        var ranLog: [String] = []
        var previous: String?
        var steps = 0
        /// The runnable activities at this choice point (`enabledNames` computes them).
        private(set) var list: [Activity] = []
        /// Clients whose request reached the wire at some point (the host may write their pages).
        var sent = Set<Int>()
        /// Set by the machine's callback hook: guest code ran inside a host event.
        var guestRan = false
        /// The trace digest (see `TraceKey`).
        var key: TraceKey
        /// Two devices: the second device and the driver's view of it; the driver each
        /// client's file belongs to, and whether it is the second's; the process and request
        /// the second serves once the first is gone.
        var second: (device: Machine.Device, driver: GuestDriver)?
        var driverOf: [GuestDriver] = []
        var onSecond: [Bool] = []
        var afterSpace: AddressSpace?
        var afterArg: UInt64 = 0
        /// The Blob service backend (`Explorer.blobs`): the blob the clients read and its
        /// eTag; per client, its address space, response and data buffers and the bytes its
        /// read must return.
        var blobRead: (path: String, eTag: String, bytes: [UInt8])?
        var blobChecks: [Int: (space: AddressSpace, response: UInt64, data: UInt64, expected: [UInt8])] = [:]

        init(_ e: Explorer, tracing: Bool) throws {
            explorer = e
            self.tracing = tracing
            var service: BlobService?
            if let blobs = e.blobs {
                // The session the clients read in: opened at the service, not through the
                // driver (what the explorer races is the reads).
                let s = BlobService(blobs: blobs)
                let path = blobs.keys.sorted { (blobs[$0]!.count, $1) > (blobs[$1]!.count, $0) }.first ?? ""
                if let tag = s.state.eTag(path) {
                    s.state.sessions["fh-explore"] = BlobServiceState.Session(path: path, token: Array("explore".utf8), eTag: Array(tag.utf8), expires: .max)
                    blobRead = (path, tag, blobs[path]!)
                }
                service = s
            }
            let machine = Machine(behavior: e.behavior, version: e.version, faults: FaultPlan(), seed: 1,
                                  backend: service ?? BlobStore())
            if let factory = e.factory { machine.driver = try factory(machine) }
            // The state digest covers the queued events, which it knows by their tags.
            machine.host.tagsEvents = true
            self.machine = machine
            driver = machine.driver
            isModel = driver is BlobVSC
            try driver.probe()
            let n = e.scenario.activities(clients: e.clients)
            clientActs = (0..<n).map { Activity("client\($0)") }
            hasAccess = e.scenario == .hostAccess
            hasRescind = e.scenario != .removeDrain
            key = TraceKey(activities: n + 4)
            if e.scenario == .twoDevices {
                guard let multi = driver as? MultiDeviceDriver else {
                    throw ScenarioUnavailable(description: "the driver cannot be offered a second device")
                }
                let device = machine.offerDevice()
                // One Blob service behind both devices' hosts.
                if service != nil { device.host.backend = machine.host.backend }
                do {
                    second = (device, try multi.offer(device))
                } catch {
                    let found = machine.log.violations.map { "\($0.rule)" }
                    throw ScenarioUnavailable(description: "the second device's probe returned \(error)"
                                              + (found.isEmpty ? "" : " (\(Set(found).sorted().joined(separator: ", ")))"))
                }
            }
            machine.host.onReceive = { [unowned self, unowned machine] bytes in
                self.facts.hostReceived += 1
                guard bytes.count >= 16, let p = try? GPADirectPacket.decode(bytes) else { return }
                let id = bytes.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(fromByteOffset: 8, as: UInt64.self)) }
                self.held[id] = Held(packet: p, at: machine.now)
            }
            let chained = machine.afterCallback
            machine.afterCallback = { [unowned self] in self.guestRan = true; chained() }
            for i in 0..<n {
                let space = AddressSpace(pid: 100 + i, memory: machine.memory)
                let mine = i % 2 == 1 ? second?.driver ?? driver : driver
                driverOf.append(mine)
                onSecond.append(mine !== driver)
                let file: OpenFile
                do {
                    file = try mine.open(space)
                } catch {
                    if mine === driver { throw error }
                    throw ScenarioUnavailable(description: "the second device could not be opened: \(error)")
                }
                files.append(file)
                guids.append(GUID(UInt32(i), 0, 0, [0, 0, 0, 0, 0, 0, 0, 1]))
                let req: AzBlobRequestSync
                if let (_, tag, bytes) = blobRead {
                    // A 4 KiB range of the blob, a different one per client where it is long enough.
                    let pos = bytes.count > 4096 ? (i * 4096) % (bytes.count - 4095) : 0
                    let text = Json.object([("operation", .str("read")), ("fastpathFileHandle", .str("fh-explore")),
                                            ("fastpathSessionToken", .str("explore")), ("eTag", .str(tag)),
                                            ("storeFilePosition", .int(pos)), ("readLength", .int(4096)), ("bufferOffset", .int(0))]).bytes
                    let q = space.map(length: text.count, kind: .populated, contents: text)
                    let r = space.map(length: 512, kind: .untouched)
                    let d = space.map(length: 4096, kind: .untouched)
                    blobChecks[i] = (space, r, d, Array(bytes[pos..<min(pos + 4096, bytes.count)]))
                    req = AzBlobRequestSync(guid: guids[i], requestLen: UInt32(text.count), responseLen: 512, dataLen: 4096,
                                            requestBuffer: q, responseBuffer: r, dataBuffer: d)
                } else {
                    let text = BlobStore.request("LIST", "c\(i)")
                    let q = space.map(length: text.count, kind: .populated, contents: text)
                    let r = space.map(length: 64, kind: .untouched)
                    req = AzBlobRequestSync(guid: guids[i], requestLen: UInt32(text.count),
                                            responseLen: 64, requestBuffer: q, responseBuffer: r)
                }
                args.append(space.map(length: driver.abi.layout.size, kind: .populated, contents: driver.abi.layout.encode(req)))
            }
            if second != nil {
                // The request the second device serves alone (before anything else runs) and
                // again after the first's rescind and remove.
                let space = AddressSpace(pid: 100 + n, memory: machine.memory)
                let text = blobRead.map { Json.object([("operation", .str("getProperties")), ("path", .str($0.path))]).bytes } ?? BlobStore.request("LIST", "after")
                let q = space.map(length: text.count, kind: .populated, contents: text)
                let r = space.map(length: 64, kind: .untouched)
                let req = AzBlobRequestSync(guid: GUID(UInt32(n), 0, 0, [0, 0, 0, 0, 0, 0, 0, 2]), requestLen: UInt32(text.count),
                                            responseLen: 64, requestBuffer: q, responseBuffer: r)
                afterArg = space.map(length: driver.abi.layout.size, kind: .populated, contents: driver.abi.layout.encode(req))
                afterSpace = space
                try serveAlone()
            }
        }

        /// Two devices: one request on the second device before any client runs must reach
        /// its host and return 0; a driver that fails it was never shown to serve a second
        /// device, so what its clients return later says nothing about interference.
        func serveAlone() throws {
            guard let second, let space = afterSpace else { return }
            let executed = second.device.host.stats.executed
            let file: OpenFile
            do { file = try second.driver.open(space) } catch {
                throw ScenarioUnavailable(description: "the second device could not be opened: \(error)")
            }
            let r = machine.drive(second.driver.ioctl(file, command: driver.abi.command, argument: afterArg))
            second.driver.release(file)
            guard r == .success, second.device.host.stats.executed > executed else {
                let what = r.map { "returned \($0)" + ($0 == .success ? " without reaching its host" : "") } ?? "never returned"
                throw ScenarioUnavailable(description: "a request on the second device alone \(what): it was never shown to serve")
            }
        }

        func say(_ line: @autoclosure () -> String) { if tracing { trace.append(line()) } }

        /// The request the host may touch now: the oldest it holds (received, not completed),
        /// while the channel is open (until vmbus_close returns).
        func heldRequest() -> (UInt64, Held)? {
            guard machine.channel.state == .open else { return nil }
            let ids = held.keys.filter { machine.host.inFlight[$0] != nil }.sorted()
            guard let id = ids.first, let h = held[id] else { return nil }
            return (id, h)
        }

        func activities() -> [Activity] {
            var list = clientActs.filter(\.runnable)
            if !machine.queue.isEmpty { list.append(host) }
            if hasAccess && !access.done && heldRequest() != nil { list.append(access) }
            if hasRescind && !rescind.done { list.append(rescind) }
            if (removeStarted || !hasRescind) && remove.runnable { list.append(remove) }
            return list
        }

        /// The names of the runnable activities at this choice point, in the fixed order;
        /// nil at the end of the schedule (nothing runnable, or the step limit).
        func enabledNames() -> [String]? {
            guard steps < 10_000 else { return nil }
            list = activities()
            return list.isEmpty ? nil : list.map(\.name)
        }

        /// The index of an activity in `activityNames` order (clients, host, host-access,
        /// rescind, remove), for footprints.
        func index(_ a: Activity) -> Int {
            if let i = clientActs.firstIndex(where: { $0 === a }) { return i }
            if a === host { return clientActs.count }
            if a === access { return clientActs.count + 1 }
            if a === rescind { return clientActs.count + 2 }
            return clientActs.count + 3
        }

        /// The host reads the request page and rewrites the response page (same bytes) of
        /// the request it holds: allowed until vmbus_close returns, so every page must still
        /// be pinned and its ioctl must not have returned. Returns the owner's client index.
        func touchPages() -> Int? {
            access.done = true
            guard let (id, h) = heldRequest() else { return nil }
            facts.hostAccesses += 1
            if machine.channel.rescinded { facts.hostAccessesAfterRescind += 1 }
            let r = h.packet.request, pfns = h.packet.pfns
            func pages(_ offset: UInt32, _ length: UInt32) -> [UInt64] {
                guard length > 0 else { return [] }
                let first = Int(offset) / AzBlob.pageSize, last = (Int(offset) + Int(length) - 1) / AzBlob.pageSize
                return (first...last).compactMap { $0 < pfns.count ? pfns[$0] : nil }
            }
            let request = pages(r.requestBufferOffset, r.requestBufferLength)
            let response = pages(r.responseBufferOffset, r.responseBufferLength)
            // Request ids are reused; the transaction GUID says whose request this is.
            let ownerIndex = guids.firstIndex(of: r.transactionId)
            let owner = ownerIndex.map { clientActs[$0] }
            let released = (request + response).filter { machine.memory.pinCount($0) == 0 }
            say("host-access: the host touches the pages of request id \(id) (held since t=\(h.at))")
            if owner?.done == true || !released.isEmpty {
                var why: [String] = []
                if let o = owner, o.done { why.append("\(o.name)'s ioctl already returned \(o.result.map { "\($0)" } ?? "") to user space") }
                if !released.isEmpty { why.append("PFN(s) \(released.map { hex64($0) }.joined(separator: ", ")) no longer pinned") }
                machine.log.report("pin.released-before-close",
                                   "request id \(id) (transaction GUID \(r.transactionId)): the host still holds it (no completion sent, vmbus_close not returned\(machine.channel.rescinded ? ", channel rescinded" : "")) and may write its pages, but \(why.joined(separator: " and "))")
            }
            var byte: UInt8 = 0
            for p in request where machine.memory.pinCount(p) > 0 { _ = machine.memory.hostRead(p, offset: 0, into: &byte, count: 1) }
            for p in response where machine.memory.pinCount(p) > 0 {
                _ = machine.memory.hostRead(p, offset: 0, into: &byte, count: 1)
                _ = machine.memory.hostWrite(p, offset: 0, from: &byte, count: 1)
            }
            return ownerIndex
        }

        /// Steps a client (`i`) or remove (`i` nil). Returns whether time moved.
        func step(_ a: Activity, _ i: Int?) -> Bool {
            if !a.started {
                a.started = true
                if let i {
                    a.call = driverOf[i].ioctl(files[i], command: driver.abi.command, argument: args[i])
                } else if a === remove {
                    facts.inFlightAtTrigger = clientActs.filter(\.inFlight).count
                    a.call = driver.remove()
                    removeStarted = true
                    say("remove: remove runs (no rescind; the channel stays open)")
                }
            }
            guard let call = a.call else { return false }
            var moved = false
            if case .blocked(let until?) = a.last, !call.isReady {
                // Time passes to the deadline. A drain whose condition already holds (every
                // ioctl returned, nothing pending) should have been woken by the last one.
                if a === remove, !lostWakeupReported, clientActs.allSatisfy(\.done), Explorer.waitsOnCondition(call.waitDescription) {
                    lostWakeupReported = true
                    machine.log.report("liveness.lost-wakeup",
                                       "\(call.waitDescription) at t=\(machine.now) although every ioctl has returned and no request is pending: nothing woke it when the last completed, only its timeout at t=\(until) ends the wait")
                }
                moved = until > machine.now
                machine.now = max(machine.now, until)
            }
            a.last = call.step()
            if let i, call.sentRequestId != nil { sent.insert(i) }
            switch a.last {
            case .returned(let e):
                a.done = true
                if let i {
                    a.result = e
                    if e == .success, removeStarted, removeFinishedAt == nil {
                        if onSecond[i] { facts.otherDeviceCompletedDuringRemove += 1 } else { facts.completedDuringRemove += 1 }
                    }
                    say("\(a.name): ioctl returned \(e)" + (onSecond[i] ? " (second device)" : ""))
                    if e == .success { checkBlobRead(i) }
                    if onSecond[i], e != .success {
                        machine.log.report("guest.cross-device-interference",
                                           "\(a.name)'s request on the second device returned \(e)\(machine.channel.rescinded ? " after the first device was rescinded" : "")\(removeStarted ? (removeFinishedAt == nil ? " while the first's remove ran" : " after the first was removed") : ""): the second device was neither rescinded nor removed, so it must return 0")
                    }
                    driverOf[i].release(files[i])
                } else {
                    if a === remove { removeFinishedAt = machine.now }
                    say("\(a.name): finished")
                }
            case .blocked:
                say("\(a.name): blocked (\(call.waitDescription))")
            case .running:
                if let id = call.sentRequestId, tracing, !(trace.last?.contains("sent request id \(id)") ?? false),
                   !trace.contains("\(a.name): sent request id \(id)") {
                    say("\(a.name): sent request id \(id)")
                } else {
                    say("\(a.name): \(call.lastPoint ?? "step")")
                }
            }
            return moved
        }

        /// Runs the activity at `pick` in the list `enabledNames` returned, and says what the
        /// step touched.
        func take(_ pick: Int) -> Footprint {
            choices.append(pick)
            runnableLog.append(list.map(\.name))
            let a = list[pick]
            ranLog.append(a.name)
            previous = a.name
            let me = index(a)
            let n = clientActs.count
            var f: Footprint
            if a === host {
                guestRan = false
                let before = machine.now
                if let (t, action) = machine.queue.pop() {
                    machine.now = max(machine.now, t)
                    action()
                    say("host: event at t=\(t)")
                }
                let moved = machine.now != before
                f = !isModel ? .everything : guestRan ? Footprint.modelCallback(timeMoved: moved) : Footprint.hostOnly(sent: sent, timeMoved: moved)
            } else if a === access {
                let owner = touchPages()
                f = Footprint.hostAccess(owner: owner)
            } else if a === rescind {
                rescind.done = true
                facts.inFlightAtTrigger = clientActs.filter(\.inFlight).count
                if second != nil { facts.otherDeviceInFlightAtTrigger = clientActs.indices.filter { onSecond[$0] && clientActs[$0].inFlight }.count }
                machine.host.noteRescind()
                machine.channel.rescind()
                remove.call = driver.remove()
                remove.started = true
                removeStarted = true
                say("rescind: host rescinds the channel; remove is queued")
                // The channel's state and callback, the host's note of what was in flight,
                // which clients were in flight; creating the remove call runs no driver code
                // in the model (C: it may, so everything).
                f = isModel ? Footprint(read: Footprint.channel | Footprint.hostState | Footprint.allActivities,
                                        write: Footprint.channel | Footprint.hostState | Footprint.activity(clientActs.count + 3)) : .everything
            } else if let i = clientActs.firstIndex(where: { $0 === a }) {
                let phase = (a.call as? IoctlCall)?.phase ?? .validate
                let wasInFlight = a.inFlight
                let moved = step(a, i)
                f = isModel ? Footprint.modelClient(i, clients: n, phase: phase, behavior: explorer.behavior, returned: a.done, timeMoved: moved) : .everything
                // Others read whether it is in flight or returned (rescind, remove, host-access).
                if a.inFlight != wasInFlight || a.done { f.write |= Footprint.activity(me) }
            } else {
                let phase = (a.call as? RemoveWork)?.phase ?? .deregister
                let first = !removeStarted
                let moved = step(a, nil)
                f = isModel ? Footprint.modelRemove(phase: phase, clients: n, first: first, timeMoved: moved) : .everything
                // Clients read whether remove started and finished (the facts).
                if first || a.done { f.write |= Footprint.activity(me) }
            }
            // Two devices: no footprint tells which device's ring, channel or driver state a
            // step touched, so every step depends on every other (no pruning, still sound).
            if second != nil { f = .everything }
            key.note(activity: me, f)
            steps += 1
            return f
        }

        /// The finding keys that count, so far (sorted), and how many violations they are from.
        private var keysSoFar: [String] = []
        private var violationsSeen = 0

        /// A digest of the whole state this choice point is in: the machine (`Machine.stateDigest`),
        /// each activity (started, returned, what its call did so far, its wait), the requests
        /// the host holds, which clients sent one, whether remove began and ended, each file and
        /// address space, and the finding keys so far. Two prefixes with the same digest have the
        /// same runnable activities, the same futures and the same findings. nil when part of
        /// the state has no digest (C code: the driver's memory is not the simulator's).
        /// Left out: what only the trace and the facts (the statistics of `Exploration`) show.
        func stateDigest() -> UInt64? {
            // Two devices: the digest covers one channel, one host and one driver instance, so
            // two states that differ only on the second device would hash alike: no digest.
            guard isModel, second == nil else { return nil }
            var h = Hasher64()
            guard machine.stateDigest(into: &h) else { return nil }
            for a in clientActs + [access, rescind, remove] {
                h.add(a.started); h.add(a.done)
                h.add(a.result.map { UInt64(bitPattern: Int64($0.rawValue)) })
                switch a.last {
                case .running: h.add(0)
                case .blocked(let until): h.add(1); h.add(until)
                case .returned(let e): h.add(2); h.add(Int(e.rawValue))
                }
                if let c = a.call as? IoctlCall {
                    h.add(1); c.stateDigest(into: &h)
                } else if let r = a.call as? RemoveWork {
                    h.add(2); r.stateDigest(into: &h)
                } else if a.call != nil {
                    return nil
                } else {
                    h.add(0)
                }
            }
            h.add(held.count)
            for id in held.keys.sorted() { h.add(id); h.add(bytes: held[id]!.packet.encoded()) }
            h.add(sent.count)
            for i in sent.sorted() { h.add(i) }
            h.add(removeStarted); h.add(removeFinishedAt != nil); h.add(lostWakeupReported)
            for f in files { h.add(f.released); f.process.stateDigest(into: &h) }
            // The step limit ends a schedule (`enabledNames`): far beyond the model's schedules,
            // but a state that close to it is told apart by its step count.
            h.add(steps > 5_000 ? steps : 0)
            let log = machine.log.violations
            if log.count != violationsSeen {
                violationsSeen = log.count
                keysSoFar = Set(log.filter(explorer.counts).map(Explorer.key)).sorted()
            }
            h.add(keysSoFar.count)
            for k in keysSoFar { h.add(k) }
            return h.value
        }

        /// The Blob service backend: a read that returned 0 has the service's answer in its
        /// response buffer (status 206, the bytes read) and the blob's bytes in its data buffer.
        func checkBlobRead(_ i: Int) {
            guard let c = blobChecks[i] else { return }
            let name = clientActs[i].name
            let response = (try? c.space.read(c.response, count: 512)) ?? []
            let text = Array(response.prefix { $0 != 0 })
            guard let node = try? JSONParser.parse(text), let status = node["status"]?.int else {
                machine.log.report("integrity.response", "\(name)'s read returned 0 but its response buffer holds no Blob service answer: \(String(decoding: text.prefix(80), as: UTF8.self))")
                return
            }
            guard status == 206, node["bytesRead"]?.int == Int64(c.expected.count) else {
                machine.log.report("integrity.response", "\(name)'s read returned 0 with Blob status \(status), \(node["errorCode"]?.string.map { "\($0): \(node["message"]?.string ?? "")" } ?? "bytesRead \(node["bytesRead"]?.int.map(String.init) ?? "none")"), expected 206 and \(c.expected.count) bytes")
                return
            }
            let data = (try? c.space.read(c.data, count: c.expected.count)) ?? []
            if let k = data.indices.first(where: { data[$0] != c.expected[$0] }) ?? (data.count == c.expected.count ? nil : data.count) {
                machine.log.report("integrity.data", "\(name)'s read of \(blobRead?.path ?? "the blob") returned 0 and status 206, but data byte \(k) differs from the blob's")
                return
            }
            facts.blobReadsChecked += 1
        }

        /// Ends the schedule: whoever still waits can never be woken.
        func finish() -> Outcome {
            let log = machine.log
            for a in clientActs where !a.done {
                log.report("liveness.ioctl-hang", "\(a.name) waits forever: \(a.call?.waitDescription ?? "never ran")")
            }
            if removeStarted && !remove.done {
                log.report("liveness.remove-hang", "remove waits forever: \(remove.call?.waitDescription ?? "")")
            }
            let allDone = clientActs.allSatisfy(\.done) && remove.done
            if allDone, let second { serveAfterRemove(second.driver) }
            if allDone {
                machine.memory.reportLeakedPins()
                driver.finish(removed: true)
            }
            var o = Outcome(schedule: Schedule(clients: explorer.clients, choices: choices, scenario: explorer.scenario),
                            runnable: runnableLog, ran: ranLog, trace: trace, findings: log.violations.filter(explorer.counts), facts: facts)
            o.finalState = finalDigest(o)
            return o
        }

        /// Two devices, once the first is rescinded and removed and every client returned: the
        /// second still has its misc device and serves a request (it reaches its host and
        /// returns 0); then it is removed too, so what is left is the module's to answer for.
        func serveAfterRemove(_ d: GuestDriver) {
            guard let second, let space = afterSpace else { return }
            let log = machine.log
            let names = (driver as? MultiDeviceDriver)?.miscNames(ofDevice: second.device.index) ?? []
            if names.isEmpty {
                log.report("guest.cross-device-interference", "the second device has no misc device after the first device's rescind and remove")
            }
            let executed = second.device.host.stats.executed
            if let file = try? d.open(space) {
                let r = machine.drive(d.ioctl(file, command: driver.abi.command, argument: afterArg))
                d.release(file)
                let what = r.map { "returned \($0)" } ?? "never returned (a hang)"
                if r != .success {
                    log.report("guest.cross-device-interference",
                               "after the first device's rescind and remove, a request on the second \(what), expected 0")
                } else if second.device.host.stats.executed == executed {
                    log.report("guest.cross-device-interference", "after the first device's rescind and remove, a request on the second returned 0 without reaching its host")
                }
                say("second device: a request after the first's remove \(what)")
            } else if !names.isEmpty {
                log.report("guest.cross-device-interference", "after the first device's rescind and remove, /dev/\(names[0]) of the second could not be opened")
            }
            if machine.drive(d.remove()) == nil {
                log.report("liveness.remove-hang", "the second device's remove never returned")
            }
        }

        /// What the schedule ended in: each ioctl's result, whether remove finished, the
        /// channel's state, pages still pinned, packets the host received and completed, the
        /// virtual time, and the finding keys. Two schedules that differ only in the order of
        /// independent steps end in the same one.
        func finalDigest(_ o: Outcome) -> UInt64 {
            var h = Hasher64()
            for a in clientActs { h.add(a.done ? UInt64(bitPattern: Int64(a.result?.rawValue ?? -1)) : 0xdead) }
            h.add(remove.done ? 1 : 0)
            h.add(removeStarted ? 1 : 0)
            h.add(machine.channel.state == .open ? 1 : machine.channel.state == .closed ? 2 : 3)
            h.add(machine.channel.rescinded ? 1 : 0)
            h.add(UInt64(machine.memory.pinnedFrames))
            h.add(UInt64(machine.host.stats.received))
            h.add(UInt64(machine.host.stats.completionsSent))
            h.add(machine.now)
            for k in Set(o.keys).sorted() { h.add(k) }
            return h.value
        }
    }
}

/// What one step read and wrote, as sets of shared objects (bits). Two steps are dependent
/// when one writes what the other reads or writes; independent steps commute (running them
/// in either order reaches the same state, and neither enables or disables the other), which
/// is what the partial-order reduction relies on.
///
///     bit 0   the driver's pending-request list and context table (for C code: all of the
///             driver's memory; C steps touch everything)
///     bit 7   the driver's request contexts: completed, failure, status (and `crashed`)
///     bit 28  the driver's `removing` flag; bit 29 its misc registration; bit 30 its
///             reference count and freed flag
///     bit 1   virtual time
///     bit 2   the guest->host ring and the request-id table
///     bit 3   the host->guest ring
///     bit 4   the channel's state (open, closed, rescinded)
///     bit 5   the host: what it holds, its random stream, its event queue
///     bit 6   guest memory's frame allocator (a page faulted in gets the next free PFN)
///     8+i     client i's memory: its pages, their contents and pins
///     16+k    activity k's own state (started, returned, in flight; k in `activityNames` order)
///
/// Only the Swift model's steps get a footprint narrower than `everything`, from what its
/// phase does (`IoctlCall`, `RemoveWork`): validate reads the caller's own memory, pin pins
/// its own pages, queue/send/finish touch the driver's state, the rings and the host. A step
/// of C code, a host event that ran guest code (the channel callback), a rescind and a
/// remove's close touch everything. Counters that are only incremented and read after the
/// run (the model's `ioctlsStarted`, pin-call counts, the explorer's facts) and the violation
/// log (findings are compared as sets) are left out: their increments commute. Nothing outside the driver's memory tells what C code
/// read, so every two C steps are dependent (conservative: no pruning is lost to a wrong
/// guess; state hashing of the driver's memory would be needed to prune there).
struct Footprint: Sendable, Equatable {
    var read: UInt64
    var write: UInt64

    static let driver: UInt64 = 1 << 0
    static let time: UInt64 = 1 << 1
    static let outRing: UInt64 = 1 << 2
    static let inRing: UInt64 = 1 << 3
    static let channel: UInt64 = 1 << 4
    static let hostState: UInt64 = 1 << 5
    static let frames: UInt64 = 1 << 6
    static let contexts: UInt64 = 1 << 7
    static let removing: UInt64 = 1 << 28
    static let misc: UInt64 = 1 << 29
    static let refs: UInt64 = 1 << 30
    static func memory(_ i: Int) -> UInt64 { 1 << UInt64(8 + i) }
    static func activity(_ k: Int) -> UInt64 { 1 << UInt64(16 + k) }
    static let allMemory: UInt64 = 0xff << 8
    static let allActivities: UInt64 = 0xfff << 16
    static let everything = Footprint(read: .max, write: .max)

    func independent(of o: Footprint) -> Bool {
        write & (o.read | o.write) == 0 && o.write & read == 0
    }

    static func clients(_ n: Int) -> UInt64 { (0..<n).reduce(0) { $0 | activity($1) } }

    /// A host event that ran no guest code: it read the guest->host ring and the channel's
    /// state, wrote the host->guest ring and the pages of requests it completed (those of
    /// clients that sent one), its own state and queue, and maybe moved time.
    static func hostOnly(sent: Set<Int>, timeMoved: Bool) -> Footprint {
        var w = outRing | inRing | hostState
        for i in sent { w |= memory(i) }
        if timeMoved { w |= time }
        return Footprint(read: w | channel | time, write: w)
    }

    /// The host touching a held request's pages: the channel's state, what the host holds,
    /// the owner's pages and whether its ioctl returned.
    static func hostAccess(owner: Int?) -> Footprint {
        var r = channel | hostState
        var w: UInt64 = 0
        if let o = owner {
            r |= memory(o) | activity(o)
            w |= memory(o)
        } else {
            r |= allMemory | allActivities
            w |= allMemory
        }
        return Footprint(read: r | w, write: w)
    }

    /// The model's channel callback (a host event that ran guest code): it reads the
    /// host->guest ring, looks request ids up and frees them, completes contexts, wakes
    /// waiters, may signal the host (room in the ring) and checks what the host meant.
    static func modelCallback(timeMoved: Bool) -> Footprint {
        let w = inRing | outRing | driver | contexts | hostState | (timeMoved ? time : 0)
        return Footprint(read: w | time | channel, write: w)
    }

    /// One step of the model's ioctl, by the phase it ran (see `IoctlCall`).
    static func modelClient(_ i: Int, clients: Int, phase: IoctlCall.Phase, behavior: DriverBehavior, returned: Bool, timeMoved: Bool) -> Footprint {
        let mine = memory(i)
        // What a send touches: the ring and request-id table, the channel's state, the time
        // it is stamped with, the host it signals, its own context; on failure the request is
        // unqueued and its pages released.
        let send = Footprint(read: driver | outRing | channel | time | hostState | contexts | refs | mine,
                             write: driver | outRing | hostState | contexts | mine)
        var f: Footprint
        switch phase {
        case .validate: f = Footprint(read: mine, write: 0)
        // Pinning faults in untouched pages: which PFN a page gets depends on the order.
        case .pin: f = Footprint(read: mine | frames, write: mine | frames)
        case .queue:
            f = Footprint(read: driver | refs | mine | (behavior.removingFlag ? removing : 0), write: driver | contexts | mine)
            if behavior.removingFlag { f = f.union(send) }
        case .send: f = send
        case .wait: f = Footprint(read: contexts, write: 0)
        case .finish: f = Footprint(read: driver | contexts | refs | mine, write: driver | mine)
        case .done: f = Footprint(read: 0, write: 0)
        }
        if returned {
            // The release of the file, and whether remove runs (for the facts; rescind
            // starts remove too, and writes remove's bit).
            f = f.union(Footprint(read: refs | activity(clients + 3), write: refs))
        }
        if timeMoved { f = f.union(Footprint(read: time, write: time)) }
        return f
    }

    /// One step of the model's remove, by the phase it ran (see `RemoveWork`); its first
    /// step reads which clients are in flight (the facts), a step that lets time pass reads
    /// whether they all returned (the lost wake-up check).
    static func modelRemove(phase: RemoveWork.Phase, clients: Int, first: Bool, timeMoved: Bool) -> Footprint {
        var f: Footprint
        switch phase {
        case .deregister: f = Footprint(read: 0, write: misc)
        case .flag: f = Footprint(read: 0, write: removing)
        case .drain: f = Footprint(read: driver | time, write: 0)
        case .close: f = Footprint(read: driver | channel, write: channel | contexts)
        case .put: f = Footprint(read: refs, write: refs)
        case .done: f = Footprint(read: 0, write: 0)
        }
        if first || timeMoved { f.read |= Footprint.clients(clients) }
        if timeMoved { f = f.union(Footprint(read: time, write: time)) }
        return f
    }

    func union(_ o: Footprint) -> Footprint { Footprint(read: read | o.read, write: write | o.write) }
}

/// A 64-bit FNV-1a style hash, stable across runs and processes (Swift's `Hasher` is seeded
/// per process).
struct Hasher64 {
    private(set) var value: UInt64 = 0xcbf2_9ce4_8422_2325
    mutating func add(_ x: UInt64) {
        var v = x
        for _ in 0..<8 {
            value ^= v & 0xff
            value &*= 0x100_0000_01b3
            v >>= 8
        }
    }
    mutating func add(_ s: String) {
        for b in s.utf8 { value ^= UInt64(b); value &*= 0x100_0000_01b3 }
        add(0xff)
    }
    mutating func add(_ b: Bool) { add(b ? 1 : 0) }
    mutating func add(_ x: Int) { add(UInt64(bitPattern: Int64(x))) }
    mutating func add(_ x: UInt32) { add(UInt64(x)) }
    mutating func add(_ x: UInt64?) { if let x { add(1); add(x) } else { add(0) } }
    /// Bytes, eight at a time (the state digest hashes guest pages and ring bytes).
    mutating func add(bytes p: UnsafeRawBufferPointer) {
        add(p.count)
        var i = 0
        while i + 8 <= p.count {
            value = TraceKey.mix(value ^ p.loadUnaligned(fromByteOffset: i, as: UInt64.self))
            i += 8
        }
        while i < p.count { value ^= UInt64(p[i]); value &*= 0x100_0000_01b3; i += 1 }
    }
    mutating func add(bytes a: [UInt8]) { a.withUnsafeBytes { add(bytes: $0) } }
}

/// The state a schedule prefix reached, as its Mazurkiewicz trace: for every shared object,
/// the order of the steps that wrote it, and for every step, how many writes of each object
/// it read came before it; plus each activity's step count. Two prefixes with the same key
/// differ only in the order of independent steps (`Footprint`), so they reached the same
/// machine state with the same runnable activities: the same remaining choices. The key is
/// what the pruned search hashes at every choice point.
struct TraceKey {
    private var writers: [UInt64]
    private var writeCount: [UInt32]
    private var reads: UInt64 = 0
    private var stepsOf: [UInt32]

    init(activities: Int) {
        writers = Array(repeating: 0x9e37_79b9_7f4a_7c15, count: 64)
        writeCount = Array(repeating: 0, count: 64)
        stepsOf = Array(repeating: 0, count: activities)
    }

    static func mix(_ x: UInt64) -> UInt64 {
        var z = x &+ 0x9e37_79b9_7f4a_7c15
        z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
        z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
        return z ^ (z >> 31)
    }

    mutating func note(activity a: Int, _ f: Footprint) {
        let event = UInt64(a) << 32 | UInt64(stepsOf[a])
        stepsOf[a] += 1
        var r = f.read & ~f.write
        while r != 0 {
            let o = r.trailingZeroBitCount
            r &= r - 1
            // Commutative over steps: reads of the same object between two writes commute.
            reads = reads &+ TraceKey.mix(event ^ UInt64(o) << 56 ^ UInt64(writeCount[o]) << 40)
        }
        var w = f.write
        while w != 0 {
            let o = w.trailingZeroBitCount
            w &= w - 1
            writers[o] = TraceKey.mix(writers[o] ^ event)
            writeCount[o] += 1
        }
    }

    var value: UInt64 {
        var h = Hasher64()
        for x in writers { h.add(x) }
        h.add(reads)
        for s in stepsOf { h.add(UInt64(s)) }
        return h.value
    }
}
