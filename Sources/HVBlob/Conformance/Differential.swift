// SPDX-License-Identifier: Apache-2.0

/// The driver under test and the Swift model, side by side on two identical machines: the
/// same seeded requests must give the same errno, the same packet bytes (each PFN compared by
/// the user page it stands for) and the same bytes in user memory.
public enum Differential {
    public struct Outcome: Sendable {
        public let requests: Int
        public let packets: Int
        public let byErrno: [Errno: Int]
        /// The first disagreement, with the request that shows it.
        public let divergence: String?
    }

    struct Request: CustomStringConvertible {
        /// nil: the command each side's ABI defines for a request; else a random number.
        var command: UInt32?
        var credentialsChange: Bool
        var lengths: (request: Int, response: Int, data: Int, valid: Int)
        var offsets: (request: Int, response: Int, data: Int)
        var kinds: (request: MappingKind?, response: MappingKind?, data: MappingKind?)
        var description: String {
            "command \(command.map { "0x" + String($0, radix: 16) } ?? "(the driver's request command)")\(credentialsChange ? " (credentials changed)" : "") request \(lengths.request)@\(offsets.request) \(kinds.request.map(\.rawValue) ?? "unmapped"), response \(lengths.response)@\(offsets.response) \(kinds.response.map(\.rawValue) ?? "unmapped"), data \(lengths.data)/\(lengths.valid)@\(offsets.data) \(kinds.data.map(\.rawValue) ?? "unmapped")"
        }
    }

    static func draw(_ rng: inout SeededRandom) -> Request {
        let limit = AzBlob.pageSize * AzBlob.maxPages
        func len(_ choices: [Int]) -> Int { choices[rng.int(in: 0...(choices.count - 1))] }
        func offset() -> Int { [0, 1, 4095, rng.int(in: 0...4095)][rng.int(in: 0...3)] }
        func kind(_ options: [MappingKind?]) -> MappingKind? { options[rng.int(in: 0...(options.count - 1))] }
        let data = len([0, 0, rng.int(in: 1...20000), 4096, limit + 1])
        return Request(
            command: rng.chance(0.05) ? UInt32(truncatingIfNeeded: rng.next()) : nil,
            credentialsChange: rng.chance(0.03),
            lengths: (len([0, 1, rng.int(in: 1...9000), 4096, limit + 1]), len([0, 1, 64, rng.int(in: 1...9000), limit + 1]),
                      data, rng.chance(0.1) ? data + 1 : rng.int(in: 0...max(0, min(data, 20000)))),
            offsets: (offset(), offset(), offset()),
            kinds: (kind([.populated, .populated, .readOnly, .untouched, nil]), kind([.untouched, .populated, .readOnly, nil]),
                    kind([.untouched, .populated, .readOnly, nil])))
    }

    struct Seen {
        var errno: Errno?
        var packets: [[UInt8]]
        var response: (status: UInt32, length: UInt32)?
        var user: [UInt8]
        var rules: [Rule]
        /// Each frame of a user buffer by what it is ("request page 0"): the two machines'
        /// frame numbers drift apart once an earlier request went differently, so PFNs are
        /// compared by the page they stand for, not by number.
        var frames: [UInt64: String]
    }

    static func run(_ req: Request, on rig: DriverRig) -> Seen {
        let before = rig.packets.count
        let beforeRules = rig.log.rules
        func buffer(_ l: Int, _ off: Int, _ k: MappingKind?) -> UInt64 {
            guard let k, l <= 64 * 1024 else { return k == nil ? 0x2000 + UInt64(off) : 0x7e00_0000_0000 }
            return rig.space.map(length: max(l, 1), pageOffset: off, kind: k, contents: k == .untouched ? [] : [UInt8](repeating: 0x41, count: min(l, 64)))
        }
        let q = buffer(req.lengths.request, req.offsets.request, req.kinds.request)
        let p = buffer(req.lengths.response, req.offsets.response, req.kinds.response)
        let d = buffer(req.lengths.data, req.offsets.data, req.kinds.data)
        let r = AzBlobRequestSync(guid: GUID(UInt32(truncatingIfNeeded: q), 1, 2, [3, 4, 5, 6, 7, 8, 9, 10]), timeout: 7,
                                  requestLen: UInt32(req.lengths.request), responseLen: UInt32(req.lengths.response),
                                  dataLen: UInt32(req.lengths.data), dataValid: UInt32(req.lengths.valid),
                                  requestBuffer: q, responseBuffer: p, dataBuffer: d)
        let arg = rig.argument(r)
        let creds = rig.space.credentials
        if req.credentialsChange { rig.space.credentials = creds + 1 }
        let e = rig.ioctl(arg, command: req.command.map(IoctlCommand.init(rawValue:)))
        rig.space.credentials = creds
        var user: [UInt8] = []
        for (a, l) in [(p, req.lengths.response), (d, req.lengths.data)] where l <= 64 * 1024 {
            user += (try? rig.space.read(a, count: l)) ?? []
        }
        var frames: [UInt64: String] = [:]
        for (name, a, l) in [("data", d, req.lengths.data), ("request", q, req.lengths.request), ("response", p, req.lengths.response)]
        where l > 0 && l <= 64 * 1024 {
            let first = a & ~0xfff, last = (a + UInt64(l) - 1) & ~0xfff
            for (k, page) in stride(from: first, through: last, by: 4096).enumerated() {
                guard let f = rig.space.pfn(of: page) else { continue }
                if f == rig.machine.memory.zeroPFN { frames[f] = "the shared zero page" } else if frames[f] == nil { frames[f] = "\(name) page \(k)" }
            }
        }
        return Seen(errno: e, packets: Array(rig.packets[before...]), response: rig.response(arg), user: user,
                    rules: rig.log.rules.subtracting(beforeRules).sorted(), frames: frames)
    }

    /// Whether the driver itself chooses the trans_id on the wire: the 5.14 API era without
    /// request-id callbacks puts the driver's own 64-bit value (often a pointer) there, so the
    /// model and the driver are compared modulo that field.
    static func driverChoosesTransId(_ rig: DriverRig) -> Bool {
        !rig.machine.version.sendAllocatesRequestId && !rig.machine.channel.usesRequestIdCallbacks
    }

    /// Every way `b` (the driver) differs from `a` (the model) on one request.
    static func differences(_ a: Seen, _ b: Seen, ignoreTransId: Bool) -> [String] {
        var out: [String] = []
        if a.errno != b.errno {
            out.append("errno: driver \(b.errno.map { "\($0)" } ?? "hang"), model \(a.errno.map { "\($0)" } ?? "hang")")
        }
        if a.packets.count != b.packets.count {
            out.append("packets: driver sent \(b.packets.count), model \(a.packets.count)")
        }
        for (k, (pa, pb)) in zip(a.packets, b.packets).enumerated() where pa != pb {
            let prefix = a.packets.count > 1 ? "packet \(k + 1): " : "packet: "
            guard let da = try? GPADirectPacket.decode(pa), let db = try? GPADirectPacket.decode(pb) else {
                let at = zip(pa, pb).enumerated().first { $0.element.0 != $0.element.1 }?.offset ?? min(pa.count, pb.count)
                out.append(prefix + "bytes differ at byte \(at) (driver \(pb.count) bytes, model \(pa.count))")
                continue
            }
            let fa = da.fieldLines, fb = db.fieldLines
            var fields: [String] = []
            func frame(_ pfn: UInt64, _ seen: Seen) -> String { seen.frames[pfn] ?? "a frame of no buffer" }
            var k = 0
            for (x, y) in zip(fa, fb) {
                if x.0.name.hasPrefix("range.pfn_array[") {
                    defer { k += 1 }
                    let na = frame(da.pfns[k], a), nb = frame(db.pfns[k], b)
                    if na != nb { fields.append("\(x.0.name) (byte \(x.0.offset)): driver \(nb) (\(y.1)), model \(na) (\(x.1))") }
                    continue
                }
                if x.1 == y.1 || (ignoreTransId && x.0.name == "transactionid") { continue }
                fields.append("\(x.0.name) (byte \(x.0.offset)): driver \(y.1), model \(x.1)")
            }
            if fa.count != fb.count { fields.append("PFN count: driver \(db.pfns.count), model \(da.pfns.count)") }
            if !fields.isEmpty { out.append(prefix + fields.joined(separator: "; ")) }
        }
        if a.errno == .success || b.errno == .success, let ra = a.response, let rb = b.response, ra != rb {
            out.append("response written back: driver status \(rb.status) response_len \(rb.length), model status \(ra.status) response_len \(ra.length)")
        }
        if a.user != b.user {
            let at = zip(a.user, b.user).enumerated().first { $0.element.0 != $0.element.1 }?.offset ?? min(a.user.count, b.user.count)
            out.append("user memory differs at byte \(at) of response+data")
        }
        if a.rules != b.rules { out.append("findings: driver \(b.rules), model \(a.rules)") }
        return out
    }

    /// Runs `count` seeded requests against the driver and against the model, and reports
    /// every difference of every request (at most `maxReported` lines).
    public static func run(factory: DriverRig.Factory?, version: KernelVersion, seed: UInt64, count: Int,
                           maxReported: Int = 20) throws -> Outcome {
        let model = try DriverRig(factory: nil, version: version, seed: seed)
        let driver = try DriverRig(factory: factory, version: version, seed: seed)
        var rng = SeededRandom(seed: seed).split("differential")
        var byErrno: [Errno: Int] = [:]
        var packets = 0
        var lines: [String] = []
        var differing = 0
        let ignoreTransId = driverChoosesTransId(driver)
        for i in 0..<count {
            let req = draw(&rng)
            let a = run(req, on: model)
            let b = run(req, on: driver)
            packets += b.packets.count
            if let e = b.errno { byErrno[e, default: 0] += 1 }
            let diffs = differences(a, b, ignoreTransId: ignoreTransId)
            if !diffs.isEmpty {
                differing += 1
                if lines.count < maxReported { lines.append("request \(i) (seed \(seed)): \(req): " + diffs.joined(separator: " | ")) }
            }
        }
        let divergence = differing == 0 ? nil
            : "\(differing) of \(count) requests differ\(ignoreTransId ? " (trans_id not compared: the driver chooses it in this API era)" : ""):\n" + lines.joined(separator: "\n")
                + (differing > lines.count ? "\n(+\(differing - lines.count) more)" : "")
        return Outcome(requests: count, packets: packets, byErrno: byErrno, divergence: divergence)
    }
}
