// SPDX-License-Identifier: Apache-2.0

/// One user process of a simulation: its own address space, one open file, and a script of
/// requests (PUT a blob, GET it back and compare, a LIST at the end). It checks what user space
/// can see — errno, response.status, response.response_len, the response and data buffers —
/// so the same checks hold for any driver implementation. With the Blob service as the backend
/// (`SimulationBackend.blob`) the script is the fast-path client's instead: write a blob, open
/// it (a session), read it back and compare, getProperties at the end, all in JSON.
final class SimClient {
    enum Op {
        case put(String, [UInt8]), get(String, Int), list(String)
        // The Blob service's operations.
        case write(String, [UInt8]), open(String), read(String, Int), properties(String)
    }

    /// An open fast-path session of the Blob service.
    struct Session { var handle: String, token: String, eTag: String }
    var sessions: [String: Session] = [:]
    var blobBackend: Bool { sim.config.backend == .blob }
    /// The blob-backend script: the service's own blobs read back first, then per blob of its
    /// own write, open, read.
    lazy var blobScript: [Op] = {
        var ops: [Op] = []
        let given = (sim.config.blobs ?? [:]).keys.sorted()
        if !given.isEmpty {
            let name = given[index % given.count]
            let bytes = sim.config.blobs![name]!
            expected[name] = .some(bytes)
            ops += [.open(name), .read(name, max(1, min(bytes.count, 1 << 20)))]
        }
        return ops
    }()

    struct Buffers {
        var arg: UInt64 = 0
        var request: UInt64 = 0
        var requestLen = 0
        var response: UInt64 = 0
        var responseLen = 0
        var data: UInt64 = 0
        var dataLen = 0
        var mapped: [(UInt64, Int)] = []
        var transaction = GUID.zero
    }

    let index: Int
    unowned let sim: Simulation
    var rng: SeededRandom
    let space: AddressSpace
    var file: OpenFile?
    var opIndex = 0
    var op: Op?
    var buffers = Buffers()
    var call: DriverCall?
    var traced = false
    var isBlocked = false
    var done = false
    var stepScheduled = false
    /// What the store must hold for this client's blobs (nil value: unknown after an error).
    var expected: [String: [UInt8]?] = [:]
    static let responseBufferLen = 64
    /// The Blob service answers in JSON (an open's answer is about 200 bytes).
    static let blobResponseBufferLen = 512

    init(index: Int, sim: Simulation, rng: SeededRandom) {
        self.index = index
        self.sim = sim
        self.rng = rng
        space = AddressSpace(pid: 100 + index, memory: sim.machine.memory)
    }

    var m: Machine { sim.machine }

    func start() {
        do {
            file = try m.driver.open(space)
            sim.trace("pid \(space.pid) open")
            scheduleStep(after: 0)
        } catch {
            sim.trace("pid \(space.pid) open -> \(error)")
            finishClient()
        }
    }

    func scheduleStep(after delay: UInt64) {
        if stepScheduled { return }
        stepScheduled = true
        isBlocked = false
        m.queue.schedule(at: m.now + delay) { [unowned self] in
            self.stepScheduled = false
            self.step()
        }
    }

    /// A page offset for a buffer: the boundary cases more often than chance would give them.
    func placement() -> Int {
        switch rng.int(in: 0...5) {
        case 0: return 0
        case 1: return 1
        case 2: return 4095
        default: return rng.int(in: 0...4095)
        }
    }

    func payload(_ size: Int) -> [UInt8] {
        var payload = [UInt8](repeating: 0, count: size)
        var x = rng.next()
        for i in 0..<size {
            if i & 7 == 0 { x = x &* 6364136223846793005 &+ 1442695040888963407 }
            payload[i] = UInt8(truncatingIfNeeded: x >> ((i & 7) * 8))
        }
        return payload
    }

    /// The Blob service's script: `requestsPerClient` requests in all.
    func nextBlobOp() -> Op? {
        let n = sim.config.requestsPerClient
        guard opIndex < n else { return nil }
        defer { opIndex += 1 }
        if opIndex < blobScript.count { return blobScript[opIndex] }
        let k = opIndex - blobScript.count
        let name = "c\(index)-\(k / 3)"
        if opIndex == n - 1 && n > 3 { return .properties("c\(index)-0") }
        switch k % 3 {
        case 0: return .write(name, payload(sim.config.sizes[rng.int(in: 0...(sim.config.sizes.count - 1))]))
        case 1: return .open(name)
        default:
            let size = expected[name].flatMap { $0?.count } ?? sim.config.sizes[0]
            return .read(name, max(size, 1))
        }
    }

    func nextOp() -> Op? {
        if blobBackend { return nextBlobOp() }
        let n = sim.config.requestsPerClient
        guard opIndex < n else { return nil }
        defer { opIndex += 1 }
        let name = "c\(index)-\(opIndex / 2)"
        if opIndex == n - 1 && n > 2 { return .list("c\(index)-") }
        if opIndex % 2 == 0 {
            let size = sim.config.sizes[rng.int(in: 0...(sim.config.sizes.count - 1))]
            return .put(name, payload(size))
        }
        let size = expected[name].flatMap { $0?.count } ?? sim.config.sizes[0]
        return .get(name, max(size, 1))
    }

    func map(_ len: Int, _ kind: MappingKind, _ contents: [UInt8] = []) -> UInt64 {
        let off = placement()
        let a = space.map(length: len, pageOffset: off, kind: kind, contents: contents)
        buffers.mapped.append((a, len))
        return a
    }

    /// Lays out the three buffers and the ioctl argument for `op` in this process's memory.
    func prepare(_ op: Op) {
        buffers = Buffers()
        let text: [UInt8]
        switch op {
        case .put(let name, let payload):
            text = BlobStore.request("PUT", name)
            buffers.dataLen = payload.count
            buffers.data = map(payload.count, .populated, payload)
        case .get(let name, let size):
            text = BlobStore.request("GET", name, [0, size])
            buffers.dataLen = size
            buffers.data = map(size, .untouched)
        case .list(let prefix):
            text = BlobStore.request("LIST", prefix)
            buffers.dataLen = 4096
            buffers.data = map(4096, .untouched)
        case .write(let name, let payload):
            text = Array("{\"operation\":\"write\",\"path\":\(JSON.quote(name)),\"position\":0}".utf8)
            buffers.dataLen = payload.count
            buffers.data = map(payload.count, .populated, payload)
        case .open(let name):
            text = Array("{\"operation\":\"open\",\"path\":\(JSON.quote(name))}".utf8)
        case .read(let name, let size):
            let s = sessions[name] ?? Session(handle: "none", token: "none", eTag: "none")
            text = Array(("{\"operation\":\"read\",\"fastpathFileHandle\":\(JSON.quote(s.handle)),\"fastpathSessionToken\":\(JSON.quote(s.token)),"
                + "\"eTag\":\(JSON.quote(s.eTag)),\"storeFilePosition\":0,\"bufferOffset\":0,\"readLength\":\(size)}").utf8)
            buffers.dataLen = size
            buffers.data = map(size, .untouched)
        case .properties(let name):
            text = Array("{\"operation\":\"getProperties\",\"path\":\(JSON.quote(name))}".utf8)
        }
        buffers.requestLen = text.count
        buffers.request = map(text.count, .populated, text)
        buffers.responseLen = blobBackend ? SimClient.blobResponseBufferLen : SimClient.responseBufferLen
        buffers.response = map(buffers.responseLen, .untouched)
        var guid = [UInt8](repeating: 0, count: 16)
        var g = rng.next()
        for i in 0..<16 {
            if i == 8 { g = rng.next() }
            guid[i] = UInt8(truncatingIfNeeded: g >> ((i & 7) * 8))
        }
        var valid = 0
        if case .put(_, let p) = op { valid = p.count }
        if case .write(_, let p) = op { valid = p.count }
        buffers.transaction = GUID(bytes: guid)
        let arg = AzBlobRequestSync(guid: GUID(bytes: guid), timeout: 30_000, requestLen: UInt32(buffers.requestLen),
                                    responseLen: UInt32(buffers.responseLen), dataLen: UInt32(buffers.dataLen),
                                    dataValid: UInt32(valid), requestBuffer: buffers.request,
                                    responseBuffer: buffers.response, dataBuffer: buffers.data)
        buffers.arg = map(m.driver.abi.layout.size, .populated, m.driver.abi.layout.encode(arg))
    }

    func release() {
        for (a, l) in buffers.mapped { space.unmap(a, length: l) }
        buffers.mapped = []
    }

    func step() {
        guard !done, let file else { return }
        if call == nil {
            if op == nil { op = nextOp() }
            guard let op else {
                finishClient()
                return
            }
            prepare(op)
            m.recorder?.ioctlCall(space, command: m.driver.abi.command, argument: buffers.arg)
            call = m.driver.ioctl(file, command: m.driver.abi.command, argument: buffers.arg)
            traced = false
            sim.report.requestsIssued += 1
        }
        guard let call else { return }
        // One phase per event: other clients, the host and the callback interleave between.
        switch call.step() {
        case .running:
            traceSend(call)
            scheduleStep(after: UInt64(rng.int(in: 0...2)))
        case .blocked(let until):
            traceSend(call)
            isBlocked = true
            if let until { scheduleStep(after: until > m.now ? until - m.now : 0) }
        case .returned(let e):
            returned(e)
        }
    }

    func traceSend(_ call: DriverCall) {
        if !traced, let id = call.sentRequestId {
            traced = true
            sim.trace("pid \(space.pid) sent request id \(id) \(opName)")
        }
    }

    var opName: String {
        switch op {
        case .put(let n, let p): return "PUT \(n) \(p.count)B"
        case .get(let n, let s): return "GET \(n) \(s)B"
        case .list(let p): return "LIST \(p)"
        case .write(let n, let p): return "write \(n) \(p.count)B"
        case .open(let n): return "open \(n)"
        case .read(let n, let s): return "read \(n) \(s)B"
        case .properties(let n): return "getProperties \(n)"
        case nil: return "-"
        }
    }

    func returned(_ e: Errno) {
        m.recorder?.ioctlReturn(space, argument: buffers.arg, result: e)
        sim.trace("pid \(space.pid) \(opName) -> \(e)")
        if let c = call { traceSend(c) }
        call = nil
        if traced { m.noteReturned(transaction: buffers.transaction, result: e) }
        if e == .EAGAIN {
            // A real library retries a full ring; the request is not consumed.
            sim.report.retriesAfterEAGAIN += 1
            release()
            scheduleStep(after: UInt64(rng.int(in: 5...20)))
            return
        }
        sim.report.requestsReturned += 1
        sim.report.results[e, default: 0] += 1
        sim.requestReturned(sim.report.requestsReturned)
        if e == .success {
            check()
        } else if case .put(let name, _) = op {
            expected[name] = .some(nil)
        } else if case .write(let name, _) = op {
            expected[name] = .some(nil)
        }
        release()
        op = nil
        if e == .ENODEV {
            finishClient()
            return
        }
        scheduleStep(after: UInt64(rng.int(in: 0...2)))
    }

    /// What user space can check after a successful ioctl.
    func check() {
        guard let op else { return }
        let log = m.log
        guard let (status, length) = space.readResponse(at: buffers.arg, layout: m.driver.abi.layout) else { return }
        let rlen = Int(length)
        // Values the host never sent as this request's response (SimulatedVSP.poison,
        // .inBandStatus): the driver read them from past the completion, or from a packet that
        // was not a completion.
        if status == SimulatedVSP.poisonWord || length == SimulatedVSP.poisonWord {
            log.report("guest.read-past-packet",
                       "pid \(space.pid): response.\(status == SimulatedVSP.poisonWord ? "status" : "response_len") is 0xa5a5a5a5, bytes the completion did not carry as its response (its padding, or past its end): the driver does not check the completion's length (len8, offset8) against the response it reads")
        }
        if status == SimulatedVSP.inBandStatus.rawValue {
            log.report("guest.completion-from-non-completion-packet",
                       "pid \(space.pid): response.status is 0x5a5a0b0b, the status of an in-band data packet the host sent with this request's id: the driver completed the request from a packet that is not a completion (desc->type not checked)")
        }
        if rlen > buffers.responseLen {
            log.report("guest.response-len-unbounded",
                       "pid \(space.pid): response.response_len \(rlen) exceeds the \(buffers.responseLen)-byte response buffer")
        }
        if status != 0 {
            sim.report.hostErrorStatus += 1
            if case .put(let name, _) = op { expected[name] = .some(nil) }
            if case .write(let name, _) = op { expected[name] = .some(nil) }
            return
        }
        if blobBackend {
            checkBlob(op, (try? space.read(buffers.response, count: min(rlen, buffers.responseLen))) ?? [])
            return
        }
        let text = (try? space.read(buffers.response, count: min(rlen, buffers.responseLen))).map(printable) ?? ""
        // The status line ends at the first byte that is not part of it (the host may report
        // more than it wrote; a correct driver clamps to the buffer, whose tail is zeros).
        func okCount() -> Int? {
            guard text.hasPrefix("OK ") else { return nil }
            return Int(text.dropFirst(3).prefix { $0.isNumber })
        }
        switch op {
        case .put(let name, let payload):
            sim.report.dataBytesUp += payload.count
            if okCount() == payload.count {
                expected[name] = .some(payload)
            } else {
                expected[name] = .some(nil)
                log.report("integrity.response", "pid \(space.pid) PUT \(name): response '\(text)', expected 'OK \(payload.count)'")
            }
        case .get(let name, let size):
            guard let want = expected[name], let want else { return }
            guard let n = okCount() else {
                log.report("integrity.response", "pid \(space.pid) GET \(name): response '\(text)', expected 'OK \(min(size, want.count))'")
                return
            }
            sim.report.dataBytesDown += n
            let got = (try? space.read(buffers.data, count: n)) ?? []
            if n != min(size, want.count) || got != Array(want.prefix(n)) {
                let firstDiff = zip(got, want).enumerated().first { $0.element.0 != $0.element.1 }?.offset ?? min(got.count, want.count)
                log.report("integrity.data", "pid \(space.pid) GET \(name): \(n) bytes, first difference at byte \(firstDiff) (expected \(want.count) bytes)")
            } else {
                sim.report.blobsVerified += 1
            }
        case .write, .open, .read, .properties:
            return
        case .list(let prefix):
            guard let n = okCount() else { return }
            let names = (try? space.read(buffers.data, count: n)).map { String(decoding: $0, as: UTF8.self) } ?? ""
            let listed = Set(names.split(separator: "\n").map(String.init))
            for (name, v) in expected where v != nil && name.hasPrefix(prefix) && !listed.contains(name) && names.utf8.count < 4096 {
                log.report("integrity.list", "pid \(space.pid) LIST \(prefix): \(name) missing")
            }
        }
    }

    /// What a fast-path client can check in the Blob service's answer (JSON in the response
    /// buffer, the bytes in the data buffer).
    func checkBlob(_ op: Op, _ response: [UInt8]) {
        let log = m.log
        var text = response
        while let last = text.last, last == 0 { text.removeLast() }
        guard let node = try? JSONParser.parse(text), node.members != nil, let http = node["status"]?.int else {
            log.report("integrity.response", "pid \(space.pid) \(opName): the answer is not the Blob service's JSON: '\(printable(Array(text.prefix(120))))'")
            return
        }
        func expect(_ want: Int64) -> Bool {
            if http == want { return true }
            // A blob whose write failed (under faults) may not be there: only what is known is judged.
            if case .open(let n) = op, expected[n] == .some(nil) || expected[n] == nil { return false }
            if case .read(let n, _) = op, expected[n] == .some(nil) || expected[n] == nil || sessions[n] == nil { return false }
            log.report("integrity.response", "pid \(space.pid) \(opName): HTTP \(http) \(node["errorCode"]?.string ?? ""), expected \(want): '\(printable(Array(text.prefix(160))))'")
            return false
        }
        if node["clientRequestId"]?.string != buffers.transaction.description {
            log.report("integrity.response", "pid \(space.pid) \(opName): clientRequestId \(node["clientRequestId"]?.string ?? "none"), the ioctl's transaction GUID is \(buffers.transaction)")
        }
        switch op {
        case .write(let name, let payload):
            sim.report.dataBytesUp += payload.count
            guard expect(201) else { expected[name] = .some(nil); return }
            if node["contentLength"]?.int == Int64(payload.count) {
                expected[name] = .some(payload)
            } else {
                expected[name] = .some(nil)
                log.report("integrity.response", "pid \(space.pid) \(opName): contentLength \(node["contentLength"]?.int ?? -1), expected \(payload.count)")
            }
        case .open(let name):
            sessions[name] = nil
            guard expect(200), let h = node["fastpathFileHandle"]?.string, let t = node["fastpathSessionToken"]?.string,
                  let e = node["eTag"]?.string else { return }
            sessions[name] = Session(handle: h, token: t, eTag: e)
            if let want = expected[name], let want, node["contentLength"]?.int != Int64(want.count) {
                log.report("integrity.response", "pid \(space.pid) \(opName): contentLength \(node["contentLength"]?.int ?? -1), expected \(want.count)")
            }
        case .read(let name, let size):
            guard expect(206), let want = expected[name], let want else { return }
            let n = Int(node["bytesRead"]?.int ?? -1)
            sim.report.dataBytesDown += max(n, 0)
            let got = n >= 0 ? ((try? space.read(buffers.data, count: min(n, size))) ?? []) : []
            if n != min(size, want.count) || got != Array(want.prefix(n)) {
                let firstDiff = zip(got, want).enumerated().first { $0.element.0 != $0.element.1 }?.offset ?? min(got.count, want.count)
                log.report("integrity.data", "pid \(space.pid) read \(name): bytesRead \(n), first difference at byte \(firstDiff) (expected \(want.count) bytes)")
            } else {
                sim.report.blobsVerified += 1
            }
        case .properties(let name):
            guard let want = expected[name], let want else { return }
            if expect(200), node["contentLength"]?.int != Int64(want.count) {
                log.report("integrity.response", "pid \(space.pid) \(opName): contentLength \(node["contentLength"]?.int ?? -1), expected \(want.count)")
            }
        case .put, .get, .list:
            return
        }
    }

    func finishClient() {
        if done { return }
        done = true
        if let f = file {
            m.recorder?.release(pid: space.pid)
            m.driver.release(f)
            sim.trace("pid \(space.pid) close")
        }
        sim.clientFinished()
    }
}

/// Bytes as text for a report: printable ASCII kept, everything else as \xNN.
func printable(_ bytes: [UInt8]) -> String {
    var s = ""
    for b in bytes {
        if b >= 0x20 && b < 0x7f { s.unicodeScalars.append(Unicode.Scalar(b)) } else { s += "\\x" + (b < 16 ? "0" : "") + String(b, radix: 16) }
    }
    return s
}
