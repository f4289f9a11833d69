// SPDX-License-Identifier: Apache-2.0

/// The conformance set: every rule a driver for this device must keep, as checks that run
/// against any `GuestDriver` (the Swift model or a bridged C driver) on the simulated host.
public enum Conformance {
    /// The backend the fault and lifecycle checks' simulations run against (`verify --backend`),
    /// and what the Blob service answered in them.
    public final class BackendChoice: @unchecked Sendable {
        public let backend: SimulationBackend
        public let blobs: [String: [UInt8]]?
        public private(set) var statuses: [Int: Int] = [:]
        public private(set) var simulations = 0
        public init(_ backend: SimulationBackend, blobs: [String: [UInt8]]? = nil) {
            self.backend = backend
            self.blobs = blobs
        }
        func note(_ r: SimulationReport) {
            simulations += 1
            for (k, v) in r.blobStatuses { statuses[k, default: 0] += v }
        }
    }
    @TaskLocal public static var backendChoice: BackendChoice?
    public enum Level: String, Sendable { case must = "MUST", should = "SHOULD" }

    /// What must have happened in a check's machines for its verdict to mean anything.
    public enum Need: Sendable, Hashable {
        /// At least this many packets reached a host.
        case hostReceived(Int)
        /// At least this many requests were executed by a host.
        case executed(Int)
        /// The fault plan injected this mode at least this many times.
        case injected(String, Int)
        /// The host rescinded the channel with at least this many requests in flight.
        case rescindInFlight(Int)
        /// At least this many devices of one machine had requests executed by their own host.
        case devicesServed(Int)
    }

    public struct Check: Sendable {
        public let id: String
        public let level: Level
        public let summary: String
        /// What must have happened for a pass to mean anything.
        public let needs: [Need]
        /// The finding rules this check is the most direct test of: when it fails on its own
        /// terms (an errno), it is evidence of those defects.
        public let direct: [String]
    }

    public enum Verdict: String, Sendable {
        case pass = "PASS", fail = "FAIL", inconclusive = "INCONCLUSIVE", notApplicable = "N/A"
    }

    public struct Result: Sendable {
        public let check: Check
        public let verdict: Verdict
        /// Why it failed, why it is inconclusive or not applicable.
        public let detail: String
        /// The counts behind the verdict (requests that reached the host, faults injected, ...).
        public let evidence: [String]
        /// Every finding of every machine the check ran, by rule.
        public let findings: [String: Int]
        /// The first finding of each rule, as text.
        public let firstFindings: [String: String]
        /// The finding rules that made it fail (empty when it failed on its own terms: an errno,
        /// a value user space sees).
        public let failedOn: [String]
        /// Packets that reached a host in the check's machines.
        public let hostPackets: Int
        /// Other checks whose failure explains this one's failure on its own terms (e.g. a
        /// boundary pair answered by the wrong rule because the rule that should win is not
        /// checked at all): the defect report lists it under their defects.
        public var becauseOf: [String] = []
        public var passed: Bool { verdict == .pass }
        /// Counts against conformance: failed or inconclusive.
        public var counts: Bool { verdict == .fail || verdict == .inconclusive }
    }

    /// A check whose scenario cannot be built for this driver (its struct lacks the field the
    /// rule is about): not applicable, with the reason.
    struct NotApplicable: Error, CustomStringConvertible { let description: String }
    /// What the check needs before it can judge did not happen (no request reached the host).
    struct Inconclusive: Error, CustomStringConvertible { let description: String }

    /// What the running check saw fail on findings (set by `unexpected`/`summary`).
    final class Scope: @unchecked Sendable {
        @TaskLocal static var current: Scope?
        var failedOn: Set<String> = []
        /// What the check's scenario left behind (pins, allocations, debugfs entries), found
        /// when its rigs were settled: fails a check that otherwise passed.
        var balance: [String] = []
        /// What remove and module exit left behind when its rigs were settled.
        var teardown: [String] = []
        /// What the check's body did that the machine counts do not show (e.g. "11 boundary
        /// pairs run"): added to its evidence.
        var notes: [String] = []
        /// Checks whose failure explains this check's failure (see Result.becauseOf).
        var becauseOf: Set<String> = []
    }

    /// The finding rules a leak left behind by a scenario is reported under.
    static let balanceRules = ["pin.leak", "guest.memory-leak", "guest.debugfs-leak", "guest.dentry-leak"]

    /// One check's body: nil when the rule holds, else what broke it.
    typealias Body = (_ factory: DriverRig.Factory?, _ version: KernelVersion, _ seed: UInt64) throws -> String?

    static func check(_ id: String, _ level: Level, _ summary: String, needs: [Need] = [], direct: [String] = [],
                      _ body: @escaping Body) -> (Check, Body) {
        (Check(id: id, level: level, summary: summary, needs: needs, direct: direct), body)
    }

    /// Findings other than `allowed`, summarised: every rule with its count, then the detail
    /// of the rarest (the most specific) one. nil when none.
    static func summary(_ counts: [Rule: Int], _ violations: [Violation], allowed: Set<String>) -> String? {
        let extra = counts.filter { !allowed.contains($0.key.rawValue) }
        guard !extra.isEmpty else { return nil }
        Scope.current?.failedOn.formUnion(extra.keys.map(\.rawValue))
        let sorted = extra.sorted { ($0.value, $0.key) < ($1.value, $1.key) }
        var s = sorted.map { "\($0.key) x\($0.value)" }.joined(separator: ", ")
        if let rarest = sorted.first?.key, let v = violations.first(where: { $0.rule == rarest }) {
            s += " — \(rarest): \(v.detail)"
        }
        return s
    }

    static func unexpected(_ log: ViolationLog, allowed: Set<String> = []) -> String? {
        summary(log.counts, log.violations, allowed: allowed)
    }

    /// A valid request through the driver's own command, on a machine of its own: it must
    /// return 0 and reach the host, or nothing the check then sees can be judged (a driver that
    /// refuses everything refuses the invalid requests too). Its findings are kept with the
    /// check's (every finding is reported) but do not decide the check's own rule.
    static func control(_ f: DriverRig.Factory?, _ v: KernelVersion, _ s: UInt64) throws {
        let rig = try DriverRig(factory: f, version: v, seed: s)
        let (arg, _) = rig.argument()
        let e = rig.ioctl(arg)
        guard e == .success, !rig.packets.isEmpty else {
            throw Inconclusive(description: "a valid request through \(rig.driver.abi.request.name) (0x\(String(rig.driver.abi.command.rawValue, radix: 16, uppercase: true))) returned \(e.map { "\($0)" } ?? "never (hang)") and \(rig.packets.isEmpty ? "never reached" : "reached") the host: what this check sees of invalid requests cannot be told apart from a driver that refuses everything")
        }
    }

    static func expect(_ got: Errno?, _ want: Errno, _ what: String) -> String? {
        got == want ? nil : "\(what): returned \(got.map { "\($0)" } ?? "never (hang)"), expected \(want)"
    }

    static let limit = AzBlob.pageSize * AzBlob.maxPages

    // MARK: the ABI, as the driver's own headers define it

    static var uapiChecks: [(Check, Body)] {
        [
            check("uapi.ioctl-number", .must, "the request ioctl is _IOWR('R', 0xf0, 72-byte struct) = 0xC04852F0: user space built against the reference header reaches it") { f, v, s in
                let abi = try DriverRig(factory: f, version: v, seed: s).driver.abi
                let want = DriverABI.reference.command
                if let why = abi.unread { return "the driver's ABI could not be read from its headers (\(why)); requests were sent in the reference ABI" }
                guard abi.command == want else {
                    return "\(abi.request.name) is \(abi.command) in \(abi.header), the reference is \(want): a program built against the reference header gets EINVAL on every request"
                }
                return nil
            },
            check("uapi.header", .must, "the request command and struct come from a uapi header that user space can include on its own") { f, v, s in
                let abi = try DriverRig(factory: f, version: v, seed: s).driver.abi
                guard let h = abi.userHeader else {
                    throw NotApplicable(description: abi.unread != nil ? "the driver's ABI was not read from a header" : "no C header to compile (the Swift model speaks PROTOCOL.md's ABI)")
                }
                switch h {
                case .selfContained: return nil
                case .kernelInternal:
                    return "\(abi.request.name) and struct \(abi.layout.structName) are defined in \(abi.header), outside include/uapi: headers_install does not install it, so user space has no header for the ioctl"
                case .broken(let errors):
                    return "\(abi.header) does not compile on its own in user space (it relies on includes it does not make): " + errors.joined(separator: "; ")
                }
            },
            check("uapi.ioctl-number.free", .should, "the request ioctl's type and number lie in no range the kernel's ioctl-number table assigns to another interface") { f, v, s in
                let abi = try DriverRig(factory: f, version: v, seed: s).driver.abi
                let c = abi.command.rawValue
                let type = UInt8((c >> 8) & 0xff), number = UInt8(c & 0xff)
                let owners = IoctlRegistry.owners(type: type, number: number)
                guard owners.isEmpty else {
                    let t = (0x20..<0x7f).contains(type) ? "'\(Character(Unicode.Scalar(type)))'" : "0x" + String(type, radix: 16)
                    return "\(abi.request.name) is type \(t) number 0x\(String(number, radix: 16)), inside "
                        + owners.map { "\(t) \(String(format2($0.numbers.lowerBound)))-\(String(format2($0.numbers.upperBound))) (\($0.owner))" }.joined(separator: ", ")
                        + " of Documentation/userspace-api/ioctl/ioctl-number.rst"
                }
                return nil
            },
            check("uapi.layout", .must, "struct az_blob_request_sync has the reference layout (72 bytes; every field at its offset)") { f, v, s in
                let abi = try DriverRig(factory: f, version: v, seed: s).driver.abi
                let diff = abi.layout.differences(from: .reference)
                guard diff.isEmpty else {
                    return "struct \(abi.layout.structName) in \(abi.header): " + diff.joined(separator: ", ")
                }
                return nil
            },
        ]
    }

    // MARK: the ioctl rules

    static var ioctlChecks: [(Check, Body)] {
        [
            check("ioctl.ok", .must, "a valid request returns 0 and writes status and response_len back", needs: [.executed(1)]) { f, v, s in
                let rig = try DriverRig(factory: f, version: v, seed: s)
                let (arg, _) = rig.argument()
                if let e = expect(rig.ioctl(arg), .success, "valid request") { return e }
                guard let r = rig.response(arg), r.status == 0, r.length == 4 else {
                    return "response written back: \(String(describing: rig.response(arg))), expected status 0, response_len 4"
                }
                if rig.machine.memory.pinnedFrames != 0 { return "\(rig.machine.memory.pinnedFrames) page(s) still pinned" }
                return unexpected(rig.log)
            },
            check("ioctl.command.unknown", .must, "any other ioctl command returns EINVAL") { f, v, s in
                try control(f, v, s)
                let rig = try DriverRig(factory: f, version: v, seed: s)
                let sent = rig.packets.count
                let (arg, _) = rig.argument()
                for c in rig.driver.abi.unknownCommands {
                    if let e = expect(rig.ioctl(arg, command: c), .EINVAL, "command 0x\(String(c.rawValue, radix: 16))") { return e }
                }
                return rig.packets.count == sent ? unexpected(rig.log) : "an unknown command sent a packet"
            },
            check("ioctl.cred.changed", .must, "credentials changed since open: EACCES, checked first") { f, v, s in
                try control(f, v, s)
                let rig = try DriverRig(factory: f, version: v, seed: s)
                rig.space.credentials = 4242
                return expect(rig.ioctl(rig.argument(AzBlobRequestSync(requestLen: 0))), .EACCES, "changed credentials")
                    ?? unexpected(rig.log)
            },
            check("ioctl.copy-in.fault", .must, "an argument not fully readable: EFAULT") { f, v, s in
                try control(f, v, s)
                let rig = try DriverRig(factory: f, version: v, seed: s)
                if let e = expect(rig.ioctl(0x10_0000), .EFAULT, "unmapped argument") { return e }
                let a = rig.space.map(length: 4096, kind: .populated)
                // The driver's own struct, its last 8 bytes on the next (unmapped) page.
                let size = UInt64(rig.driver.abi.layout.size)
                return expect(rig.ioctl(a + 4096 - size + 8), .EFAULT, "argument running into an unmapped page") ?? unexpected(rig.log)
            },
            check("ioctl.len.zero", .must, "request_len or response_len 0: EINVAL before any page is pinned") { f, v, s in
                try control(f, v, s)
                let rig = try DriverRig(factory: f, version: v, seed: s)
                let pinsBefore = rig.machine.memory.pinCalls
                for (rq, rs) in [(0, 64), (32, 0)] {
                    let (_, good) = rig.argument()
                    var r = good
                    r.requestLen = UInt32(rq)
                    r.responseLen = UInt32(rs)
                    if let e = expect(rig.ioctl(rig.argument(r)), .EINVAL, "request_len \(rq) response_len \(rs)") { return e }
                }
                return rig.machine.memory.pinCalls == pinsBefore ? unexpected(rig.log) : "pages were pinned before the lengths were checked"
            },
            check("ioctl.data-valid", .must, "data_len != 0 and data_len < data_valid: EINVAL; data_valid ignored when data_len is 0") { f, v, s in
                try control(f, v, s)
                let rig = try DriverRig(factory: f, version: v, seed: s)
                guard rig.driver.abi.layout.dataValid != nil else {
                    throw NotApplicable(description: "struct \(rig.driver.abi.layout.structName) has no data_valid: user space cannot say how much of the data buffer is valid (see uapi.layout)")
                }
                let (_, good) = rig.argument(dataLen: 100, dataValid: 100)
                var r = good
                r.dataValid = 101
                if let e = expect(rig.ioctl(rig.argument(r)), .EINVAL, "data_valid > data_len") { return e }
                var n = good
                n.dataLen = 0
                n.dataValid = 5000
                return expect(rig.ioctl(rig.argument(n)), .success, "data_len 0 with data_valid 5000") ?? unexpected(rig.log)
            },
            check("ioctl.len.max", .must, "a length above 8192 pages: EINVAL before any page is pinned") { f, v, s in
                try control(f, v, s)
                let rig = try DriverRig(factory: f, version: v, seed: s)
                let pinsBefore = rig.machine.memory.pinCalls
                for which in 0..<3 {
                    let (_, good) = rig.argument()
                    var r = good
                    switch which {
                    case 0: r.requestLen = UInt32(limit + 1)
                    case 1: r.responseLen = UInt32(limit + 1)
                    default: r.dataLen = UInt32(limit + 1)
                    }
                    if let e = expect(rig.ioctl(rig.argument(r)), .EINVAL, ["request", "response", "data"][which] + " length 8192 pages + 1") { return e }
                }
                return rig.machine.memory.pinCalls == pinsBefore ? unexpected(rig.log) : "pages were pinned before the length limit was checked"
            },
            check("ioctl.pin.fault", .must, "a buffer page that is not mapped: EFAULT, every pin released", direct: ["pin.leak"]) { f, v, s in
                try control(f, v, s)
                let rig = try DriverRig(factory: f, version: v, seed: s)
                for which in 0..<3 {
                    let (_, good) = rig.argument(responseLen: 5000, dataLen: 9000)
                    var r = good
                    switch which {
                    case 0: r.requestBuffer = 0x100
                    case 1: r.responseLen = 9000
                    default: r.dataLen = 20000
                    }
                    if let e = expect(rig.ioctl(rig.argument(r)), .EFAULT, ["request", "response", "data"][which] + " buffer unmapped") { return e }
                }
                let left = rig.machine.memory.pinnedFrames
                // A finding under pin.leak, so this and ioctl.error-paths.balance name one defect.
                if left > 0 { rig.log.report("pin.leak", "\(left) page(s) left pinned after EFAULT on an unmapped buffer") }
                return unexpected(rig.log)
            },
            check("ioctl.pin.request-read-only", .must, "the request buffer is only read: read-only memory works", needs: [.executed(1)], direct: ["pin.request-write-intent"]) { f, v, s in
                let rig = try DriverRig(factory: f, version: v, seed: s)
                let (arg, _) = rig.argument(requestKind: .readOnly)
                return expect(rig.ioctl(arg), .success, "request buffer in read-only memory") ?? unexpected(rig.log)
            },
            check("ioctl.pin.write-intent", .must, "response and data pages are pinned for writing: the host never writes a page pinned without write intent", needs: [.executed(1)], direct: ["pin.host-write-without-write-intent"]) { f, v, s in
                let rig = try DriverRig(factory: f, version: v, seed: s)
                let (arg, _) = rig.argument(responseKind: .untouched, dataLen: 4096, dataKind: .untouched)
                if let e = expect(rig.ioctl(arg), .success, "fresh response and data buffers") { return e }
                let (ro, _) = rig.argument(responseKind: .readOnly)
                return expect(rig.ioctl(ro), .EFAULT, "response buffer in read-only memory") ?? unexpected(rig.log)
            },
            check("ioctl.pages.total", .must, "8192 pages in all are sent; 8193 return EINVAL", needs: [.executed(1)]) { f, v, s in
                let rig = try DriverRig(factory: f, version: v, seed: s)
                let dataLen = (AzBlob.maxPages - 2) * AzBlob.pageSize
                let (a, _) = rig.argument(dataLen: dataLen, dataKind: .populated)
                if let e = expect(rig.ioctl(a), .success, "8192 pages") { return e }
                let (b, _) = rig.argument(dataLen: dataLen, dataOffset: 1, dataKind: .populated)
                if let e = expect(rig.ioctl(b), .EINVAL, "8193 pages") { return e }
                return rig.machine.memory.pinnedFrames == 0 ? unexpected(rig.log) : "pages left pinned"
            },
            check("ioctl.alloc", .should, "an allocation failure returns ENOMEM and releases every pin") { f, v, s in
                try control(f, v, s)
                let rig = try DriverRig(factory: f, version: v, seed: s)
                let (arg, _) = rig.argument(dataLen: 100)
                rig.driver.failAllocation(after: 1)
                if let e = expect(rig.ioctl(arg), .ENOMEM, "first allocation fails") { return e }
                return rig.machine.memory.pinnedFrames == 0 ? unexpected(rig.log) : "pages left pinned after ENOMEM"
            },
            check("ioctl.copy-out.fault", .must, "the response cannot be written back: EFAULT, pins released") { f, v, s in
                try control(f, v, s)
                let rig = try DriverRig(factory: f, version: v, seed: s)
                let (_, r) = rig.argument()
                let ro = rig.space.map(length: rig.driver.abi.layout.size, kind: .readOnly, contents: rig.driver.abi.layout.encode(r))
                if let e = expect(rig.ioctl(ro), .EFAULT, "read-only argument") { return e }
                return rig.machine.memory.pinnedFrames == 0 ? unexpected(rig.log) : "pages left pinned"
            },
            check("ioctl.response-len.bound", .must, "the host's response_len never exceeds the caller's", needs: [.injected("oversized-response-len", 1)], direct: ["guest.response-len-unbounded"]) { f, v, s in
                let rig = try DriverRig(factory: f, version: v, faults: try FaultPlan(spec: "oversized-response-len=1"), seed: s)
                let (arg, _) = rig.argument(responseLen: 64)
                if let e = expect(rig.ioctl(arg), .success, "oversized response_len") { return e }
                guard let r = rig.response(arg), r.length <= 64 else {
                    return "user space sees response_len \(rig.response(arg)?.length ?? 0) for a 64-byte buffer"
                }
                return unexpected(rig.log)
            },
        ]
    }

    // MARK: the packet

    static var mpbChecks: [(Check, Body)] {
        [
            check("mpb.layout", .must, "one GPA-direct range: data, request, response pages; offsets, range.len, dataoffset8, length8", needs: [.hostReceived(9)]) { f, v, s in
                for off in [0, 1, 4095] {
                    for pages in [1, 2, 3] {
                        let rig = try DriverRig(factory: f, version: v, seed: s)
                        let len = max(pages * AzBlob.pageSize - (off == 0 ? 0 : 4095), 1)
                        let (arg, r) = rig.argument(requestLen: len, requestOffset: off, responseOffset: 4095 - off,
                                                    dataLen: len, dataValid: len, dataOffset: off, dataKind: .populated)
                        if let e = expect(rig.ioctl(arg), .success, "offset \(off) span \(pages)") { return e }
                        guard let bytes = rig.packets.first else { return "no packet reached the host" }
                        let p = try GPADirectPacket.decode(bytes)
                        func pfns(_ a: UInt64, _ l: Int) -> [UInt64] {
                            (0..<AzBlob.pagesSpanned(offset: Int(a & 0xfff), length: l)).compactMap {
                                rig.space.pfn(of: (a & ~0xfff) + UInt64($0 * AzBlob.pageSize))
                            }
                        }
                        let d = pfns(r.dataBuffer, len), q = pfns(r.requestBuffer, len), o = pfns(r.responseBuffer, 64)
                        var want = GPADirectPacket(pfns: d + q + o, request: VSPRequest(
                            timeoutMs: 500, dataBufferOffset: UInt32(off), dataBufferLength: UInt32(len), dataBufferValid: UInt32(len),
                            requestBufferOffset: UInt32(off + d.count * 4096), requestBufferLength: UInt32(len),
                            responseBufferOffset: UInt32(4095 - off + (d.count + q.count) * 4096), responseBufferLength: 64,
                            transactionId: r.guid))
                        want.transactionId = p.transactionId
                        if p != want {
                            let diff = zip(want.fieldLines, p.fieldLines).first { $0.0.1 != $0.1.1 }
                            return "offset \(off) span \(pages): \(diff.map { "\($0.0.0.name) is \($0.1.1), expected \($0.0.1)" } ?? "PFN count differs")"
                        }
                        if let u = unexpected(rig.log) { return u }
                    }
                }
                return nil
            },
        ]
    }

    // MARK: hostile host and lifecycle, as whole simulations

    struct Mode {
        let id: String
        let spec: String
        let allowed: Set<String>
        let summary: String
        var errno: Errno? = nil
        var sizes = [4096, 20000]
        var clients = 6
        var requests = 12
        var direct: [String] = []

        /// What must have happened: a request reached the host, each fault of the plan was
        /// injected, the rescind came (with requests in flight where the mode says so).
        var needs: [Need] {
            var n: [Need] = [.hostReceived(1)]
            for part in spec.split(separator: ",") {
                let name = String(part.split(separator: "=").first ?? "")
                if FaultPlan.probabilities.contains(where: { $0.0 == name }) { n.append(.injected(name, 1)) }
            }
            if spec.contains("rescind=") { n.append(.rescindInFlight(id == "lifecycle.rescind-in-flight" ? 1 : 0)) }
            if spec == "none" { n.append(.executed(1)) }
            return n
        }
    }

    static let misdelivery: Set<String> = ["integrity.completion-misdelivered", "integrity.host-access-after-misdelivery",
                                           "integrity.response", "integrity.data", "integrity.list"]

    static var modes: [Mode] {
        [
            Mode(id: "fault.delay-reorder", spec: "delay=0-60,reorder=0.3", allowed: [], summary: "completions late and out of order"),
            Mode(id: "fault.unknown-id", spec: "unknown-id=0.5", allowed: misdelivery, summary: "completions with ids never handed out are ignored"),
            Mode(id: "fault.zero-id", spec: "zero-id=0.5", allowed: misdelivery, summary: "completions with request id 0 are ignored", direct: ["guest.null-deref", "guest.crash"]),
            Mode(id: "fault.short-completion", spec: "short-completion=0.5", allowed: [], summary: "a completion shorter than the response is not read past its end", errno: .EIO, direct: ["guest.read-past-packet"]),
            Mode(id: "fault.oversized-response-len", spec: "oversized-response-len=0.5", allowed: [], summary: "response_len larger than the buffer is bounded", direct: ["guest.response-len-unbounded"]),
            Mode(id: "fault.error-status", spec: "error-status=0.5", allowed: [], summary: "an error status reaches user space"),
            Mode(id: "fault.wrong-type", spec: "wrong-type=0.5", allowed: [], summary: "a packet that is not a completion completes nothing", direct: ["guest.completion-from-non-completion-packet"]),
            Mode(id: "fault.duplicate", spec: "duplicate=0.5", allowed: misdelivery, summary: "duplicate completions harm nothing the guest controls"),
            Mode(id: "fault.forged-id", spec: "forged-id=0.3", allowed: misdelivery.union(["liveness.ioctl-hang"]), summary: "forged ids harm nothing the guest controls"),
            Mode(id: "fault.drop", spec: "drop=0.2", allowed: ["liveness.ioctl-hang"], summary: "a lost completion leaves only that ioctl waiting"),
            Mode(id: "fault.never-complete", spec: "never-complete=0.2", allowed: ["liveness.ioctl-hang"], summary: "a request never completed leaves only that ioctl waiting"),
            Mode(id: "fault.ring-full", spec: "ring-full=0.5,stall-ticks=60", allowed: [], summary: "a full ring returns EAGAIN", errno: .EAGAIN,
                 sizes: [8 << 20], clients: 12, requests: 4),
            Mode(id: "lifecycle.rescind-in-flight", spec: "delay=5-20,rescind=40", allowed: [], summary: "rescind with requests in flight and files open: remove finishes, nothing leaks, no send on a closed channel", errno: .ENODEV, direct: ["liveness.remove-hang", "guest.send-on-closed-channel"]),
            Mode(id: "lifecycle.rescind-idle", spec: "delay=1-2,rescind=400", allowed: [], summary: "rescind with files open and no request in flight"),
            Mode(id: "lifecycle.unload", spec: "none", allowed: [], summary: "open, requests, close, unload: no allocation, dentry, pin or reference left", direct: ["guest.memory-leak", "guest.dentry-leak", "pin.leak"]),
        ]
    }

    static func modeChecks(replay: String) -> [(Check, Body)] {
        modes.map { m in
            check(m.id, .must, m.summary, needs: m.needs, direct: m.direct) { f, v, s in
                var c = SimulationConfig()
                c.seed = s
                c.faults = try FaultPlan(spec: m.spec)
                c.version = v
                c.sizes = m.sizes
                c.clients = m.clients
                c.requestsPerClient = m.requests
                if let b = Conformance.backendChoice {
                    c.backend = b.backend
                    c.blobs = b.blobs
                }
                var loadError: Error?
                let sim = Simulation(c, driver: f.map { factory in { machine in
                    do { return try factory(machine) } catch { loadError = error; return machine.vsc }
                } })
                if let e = loadError { return "could not load the driver: \(e)" }
                let r = sim.run()
                Conformance.backendChoice?.note(r)
                if let text = summary(r.counts, r.violations, allowed: m.allowed) {
                    return "\(text) | replay: hvblob simulate --seed \(s) --faults '\(c.faults)' --clients \(c.clients) --requests \(c.requestsPerClient) --sizes \(c.sizes.map(String.init).joined(separator: ",")) \(replay)\(c.backend == .store ? "" : " --backend \(c.backend)")"
                }
                if let e = m.errno, r.results[e, default: 0] + (e == .EAGAIN ? r.retriesAfterEAGAIN : 0) == 0 {
                    return "no request saw \(e)"
                }
                if m.allowed.isEmpty && !r.removeFinished { return "remove did not finish" }
                return nil
            }
        }
    }

    static var debugfsChecks: [(Check, Body)] {
        [
            check("debugfs.pending", .should, "debugfs pending_requests lists a request in flight, and not after", needs: [.executed(1)]) { f, v, s in
                let rig = try DriverRig(factory: f, version: v, faults: try FaultPlan(spec: "delay=10"), seed: s)
                let (arg, r) = rig.argument(dataLen: 300)
                let call = rig.driver.ioctl(rig.file, command: rig.driver.abi.command, argument: arg)
                _ = call.runUntilBlocked()
                // Either GUID byte order is fine (%pUl prints the canonical form, %pUb raw bytes).
                let forms = ["\(r.guid)", Hex.encode(Array(r.guid.bytes[0..<4])) + "-" + Hex.encode(Array(r.guid.bytes[4..<6]))]
                let during = rig.driver.debugfsPendingRequests
                if !forms.contains(where: during.contains) { return "pending_requests while in flight: \(during.prefix(200))" }
                if let e = expect(rig.finish(call), .success, "the request") { return e }
                if forms.contains(where: rig.driver.debugfsPendingRequests.contains) { return "still listed after it returned" }
                return unexpected(rig.log)
            },
        ]
    }

    // MARK: what each scenario leaves behind, lifecycle, capture

    static var missingChecks: [(Check, Body)] {
        [
            check("ioctl.error-paths.balance", .must, "every error path after pinning or allocating releases what it took: EFAULT after a partial pin, EINVAL after pinning, ENOMEM, a failed send, EFAULT on copy-back", needs: [.hostReceived(1)], direct: ["pin.leak", "guest.memory-leak"]) { f, v, s in
                try control(f, v, s)
                var paths: [String] = []
                // One machine for the paths ending in the ioctl's own errors, released before the next.
                if let failed = try { () throws -> String? in
                let rig = try DriverRig(factory: f, version: v, seed: s)
                func path(_ what: String, _ arg: UInt64, _ want: Errno, pinned: Bool = true) -> String? {
                    let before = rig.machine.memory.pinCalls
                    if let e = expect(rig.ioctl(arg), want, what) { return e }
                    if pinned && rig.machine.memory.pinCalls == before {
                        return "\(what): returned \(want) without pinning anything, so the path after a pin was not taken"
                    }
                    paths.append(what)
                    return nil
                }
                // The response buffer's second page is unmapped: request and first response page pinned.
                var (_, r) = rig.argument(responseLen: 4096)
                r.responseLen = 8192
                if let e = path("EFAULT after a partial pin (response buffer's second page unmapped)", rig.argument(r), .EFAULT) { return e }
                (_, r) = rig.argument(dataLen: 100)
                r.dataBuffer = 0x100
                if let e = path("EFAULT on the data buffer after request and response were pinned", rig.argument(r), .EFAULT) { return e }
                let (big, _) = rig.argument(dataLen: (AzBlob.maxPages - 2) * AzBlob.pageSize, dataOffset: 1, dataKind: .populated)
                if let e = path("EINVAL after pinning 8193 pages", big, .EINVAL) { return e }
                // The first allocation the ioctl makes after it has pinned: fail the 1st, 2nd, ...
                // allocation from now until one fails after a pin (each path must balance).
                var enomem = false
                for n in 1...8 {
                    let (alloc, _) = rig.argument(dataLen: 100)
                    let before = rig.machine.memory.pinCalls
                    rig.driver.failAllocation(after: n)
                    let e = rig.ioctl(alloc)
                    if e == .ENOMEM && rig.machine.memory.pinCalls > before {
                        paths.append("ENOMEM after pinning (allocation \(n) of the ioctl failed)")
                        enomem = true
                        break
                    }
                    if e == .success { break }
                    if e != .ENOMEM { return "allocation \(n) of the ioctl failed: returned \(e.map { "\($0)" } ?? "never (hang)"), expected ENOMEM" }
                }
                if !enomem { throw Inconclusive(description: "no allocation the ioctl makes after pinning could be failed: the ENOMEM path after a pin was not taken") }
                let (ro, ok) = rig.argument()
                let roArg = rig.space.map(length: rig.driver.abi.layout.size, kind: .readOnly, contents: rig.driver.abi.layout.encode(ok))
                _ = ro
                if let e = path("EFAULT writing the response back into a read-only argument", roArg, .EFAULT) { return e }
                return unexpected(rig.log)
                }() { return failed }
                // A failed send: the host stops reading its ring; requests fill it until a send fails.
                let full = try DriverRig(factory: f, version: v, faults: try FaultPlan(spec: "ring-full=1,stall-ticks=1000000"), seed: s)
                var sent: [TrackedCall] = []
                var failed: Errno?
                for _ in 0..<40 {
                    let (a, _) = full.argument(dataLen: 1024 * AzBlob.pageSize, dataKind: .untouched)
                    let mark = full.resources?.allocationMark
                    let pinned = full.machine.memory.pinnedFrames
                    let c = full.start(a)
                    c.advance()
                    if let e = c.result {
                        full.balance(after: "a failed send (the ioctl returned \(e))", mark: mark, pinned: pinned)
                        _ = full.finish(c)
                        failed = e
                        break
                    }
                    sent.append(c)
                }
                // The host never reads again: the requests it holds stay in flight (not settled).
                guard let failed else {
                    throw Inconclusive(description: "\(sent.count) requests of 1024 pages each were sent while the host did not read its ring, and no send failed")
                }
                if failed != .EAGAIN { return "a send into a full ring returned \(failed), expected EAGAIN" }
                paths.append("EAGAIN from a failed send")
                return unexpected(full.log)
            },
            check("debugfs.after-remove", .must, "a removed device's debugfs entries are gone: reading them is ENOENT, never a read of freed memory", needs: [.executed(1)], direct: ["guest.debugfs-leak"]) { f, v, s in
                let rig = try DriverRig(factory: f, version: v, seed: s)
                guard let res = rig.resources else { throw NotApplicable(description: "the driver keeps no account of its debugfs entries") }
                guard res.debugfsFileExists("pending_requests") else {
                    throw Inconclusive(description: "the driver created no debugfs file pending_requests: there was nothing to outlive the device")
                }
                let (arg, _) = rig.argument()
                if let e = expect(rig.ioctl(arg), .success, "a request before remove") { return e }
                // A remove that waits for user space to close its files (a defect lifecycle.remove-drain
                // shows) gets the last close first: what is judged here is what remove leaves.
                let remove = DriverRig.Activity("remove", rig.startRemove())
                var found: [String] = []
                if rig.runUntilIdle([remove]) {
                    if let text = res.debugfsRead(file: "pending_requests") {
                        found.append("pending_requests still readable after remove, with the file still open (\(text.count) bytes)")
                    }
                    rig.close()
                } else {
                    rig.close()
                    if !rig.runUntilIdle([remove]) {
                        throw Inconclusive(description: "remove never returned, not even after the last close: \(remove.call.call.waitDescription)")
                    }
                }
                // After the last close the last reference is gone: the device is freed now.
                if let text = res.debugfsRead(file: "pending_requests") {
                    rig.log.report("guest.debugfs-leak", "debugfs pending_requests of a removed device still readable after its last close (\(text.count) bytes read)")
                    found.append("still readable after the last close, when the device is freed (\(text.count) bytes read)")
                }
                if found.isEmpty { return unexpected(rig.log) }
                return found.joined(separator: "; ") + (unexpected(rig.log).map { " — \($0)" } ?? "")
            },
            check("lifecycle.remove-drain", .must, "remove without a rescind while requests are in flight: the host completes them during the drain, they return 0, and remove returns as soon as the last completes (no lost wake-up)", needs: [.executed(2)], direct: ["liveness.lost-wakeup"]) { f, v, s in
                let rig = try DriverRig(factory: f, version: v, faults: try FaultPlan(spec: "delay=40-80"), seed: s)
                var acts: [DriverRig.Activity] = []
                for k in 0..<2 {
                    let (a, _) = rig.argument(dataLen: 100 * (k + 1))
                    let c = rig.start(a)
                    c.advance()
                    if let e = c.result { return "request \(k + 1) returned \(e) before remove began, expected it in flight" }
                    acts.append(DriverRig.Activity("ioctl \(k + 1)", c))
                }
                rig.machine.run(until: rig.machine.now)
                let inFlight = rig.machine.host.inFlight.count
                guard inFlight >= 1 else {
                    throw Inconclusive(description: "no request was in flight at the host when remove began")
                }
                let started = rig.machine.now
                let remove = DriverRig.Activity("remove", rig.startRemove())
                acts.append(remove)
                if !rig.runUntilIdle(acts) {
                    let stuck = acts.filter { $0.returnedAt == nil }.map { "\($0.name): \($0.call.call.waitDescription)" }
                    let text = "with a file still open, never returned: " + stuck.joined(separator: "; ")
                    rig.log.report("liveness.remove-hang", "remove without a rescind, " + text)
                    _ = unexpected(rig.log)
                    return text
                }
                for a in acts.dropLast() where a.call.result != .success {
                    return "\(a.name) returned \(a.call.result.map { "\($0)" } ?? "nothing"), expected 0: the host completed it during the drain"
                }
                let last = acts.dropLast().compactMap(\.returnedAt).max() ?? started
                let ended = remove.returnedAt ?? 0
                if ended > last {
                    let detail = "remove began at t=\(started) with \(inFlight) request(s) in flight; the last returned at t=\(last), remove only at t=\(ended)" + (remove.call.deadline == ended ? ", its drain's timeout: the waiter whose condition became true was never woken (lost wake-up)" : "")
                    rig.log.report("liveness.lost-wakeup", detail)
                    _ = unexpected(rig.log)
                    return detail
                }
                return unexpected(rig.log)
            },
            check("capture.equality", .should, "with capture enabled, what the driver's own capture says it sent is what the host received, packet for packet (request id aside)", needs: [.hostReceived(3)]) { f, v, s in
                var capturing = false
                let rig = try DriverRig(factory: f, version: v, seed: s) { d in
                    if let c = d as? DriverCapture { capturing = c.enableCapture(kib: 256) }
                }
                // The model's capture is what hvblob's recorder sees at its channel.
                let recorder: CaptureRecorder? = capturing ? nil : rig.machine.startRecording()
                if !capturing && f != nil {
                    throw NotApplicable(description: "the driver has no capture_kib parameter: it keeps no capture of its own")
                }
                for k in 0..<3 {
                    let (a, _) = rig.argument(requestLen: 40 + k, dataLen: k == 0 ? 0 : 5000, dataValid: k == 2 ? 5000 : 0, dataOffset: 100 * k, dataKind: .populated)
                    if let e = expect(rig.ioctl(a), .success, "request \(k + 1)") { return e }
                }
                let records: [CaptureRecord]
                if let recorder {
                    records = recorder.capture.records
                } else {
                    guard let bytes = (rig.driver as? DriverCapture)?.captureBytes() else { return "capture enabled, but the driver serves no capture file" }
                    do { records = try Capture.parse(bytes).records } catch { return "the driver's capture does not parse: \(error)" }
                }
                let said = records.filter { $0.kind == .ringPacket && $0.direction == .guestToHost }.map(\.body)
                let got = rig.packets
                if said.count != got.count {
                    return "the capture says \(said.count) packet(s) were sent, the host received \(got.count)"
                }
                for (k, (x, y)) in zip(said, got).enumerated() {
                    // Bytes 8..<16 are the request id, which the send assigns out of the driver's sight.
                    func masked(_ b: [UInt8]) -> [UInt8] { b.count >= 16 ? Array(b[0..<8]) + Array(b[16...]) : b }
                    let a = masked(x), b = masked(y)
                    if a != b {
                        let at = zip(a, b).enumerated().first { $0.element.0 != $0.element.1 }.map { $0.offset < 8 ? $0.offset : $0.offset + 8 }
                        return "packet \(k + 1): the capture has \(x.count) bytes, the host received \(y.count)" + (at.map { "; they differ first at byte \($0)" } ?? "")
                    }
                }
                return unexpected(rig.log)
            },
        ]
    }

    static var differentialChecks: [(Check, Body)] {
        [
            check("differential.model", .must, "on 300 seeded random requests the driver and the model agree on errno, packet bytes and user memory") { f, v, s in
                let o = try Differential.run(factory: f, version: v, seed: s, count: 300)
                if o.divergence == nil && o.packets == 0 {
                    throw Inconclusive(description: "none of the 300 requests reached the host through the driver (\(o.byErrno.map { "\($0.key)=\($0.value)" }.sorted().joined(separator: " "))): there was nothing to compare")
                }
                return o.divergence
            },
        ]
    }

    /// Every check, in report order. `replay`: the simulate arguments that select the driver.
    static func all(replay: String = "") -> [(Check, Body)] {
        buildChecks + uapiChecks + ioctlChecks + ruleOrderChecks + mpbChecks + debugfsChecks + modeChecks(replay: replay) + afterRescindChecks + missingChecks + waitChecks + twoDeviceChecks + differentialChecks
    }

    public static var checks: [Check] { all().map(\.0) }

    /// The same lines once each, in first-seen order, with "(in N rigs)" where one repeats.
    static func tally(_ lines: [String]) -> [String] {
        var order: [String] = [], count: [String: Int] = [:]
        for l in lines {
            if count[l] == nil { order.append(l) }
            count[l, default: 0] += 1
        }
        return order.map { count[$0]! > 1 ? "\($0) (in \(count[$0]!) rigs)" : $0 }
    }

    /// Whether `need` held in what `w` saw, and the evidence line either way.
    static func judge(_ need: Need, _ w: MachineWitness) -> (ok: Bool, evidence: String) {
        switch need {
        case .hostReceived(let n):
            let got = w.received
            return (got >= n, "\(got) packet(s) reached the host (needs \(n))")
        case .executed(let n):
            let got = w.executed
            return (got >= n, "\(got) request(s) executed by the host (needs \(n))")
        case .injected(let mode, let n):
            let got = w.injected(mode)
            return (got >= n, "\(mode) injected \(got) time(s) (needs \(n))")
        case .rescindInFlight(let n):
            guard let got = w.inFlightAtRescind else { return (false, "the host never rescinded the channel") }
            return (got >= n, "rescind with \(got) request(s) in flight (needs \(n))")
        case .devicesServed(let n):
            let got = w.devicesServed(atLeast: 1)
            return (got >= n, "\(got) device(s) of one machine had requests executed by their own host (needs \(n))")
        }
    }

    /// Runs every check against the driver `factory` builds (nil: the Swift model). `replay`
    /// is what `hvblob simulate` needs to select the same driver (e.g. `--c-driver PATH`).
    public static func run(factory: DriverRig.Factory?, version: KernelVersion, seed: UInt64 = 1, replay: String = "",
                           only: Set<String>? = nil, progress: ((Result) -> Void)? = nil) -> [Result] {
        var out: [Result] = []
        for (check, body) in all(replay: replay) where only?.contains(check.id) ?? true {
            let witness = MachineWitness()
            let scope = Scope()
            var detail: String?
            var verdict = Verdict.pass
            var teardownNote: String?
            do {
                detail = try MachineWitness.$current.withValue(witness) {
                    try Scope.$current.withValue(scope) { try body(factory, version, seed) }
                }
                if detail != nil { verdict = .fail }
            } catch let e as NotApplicable {
                verdict = .notApplicable
                detail = e.description
            } catch let e as Inconclusive {
                verdict = .inconclusive
                detail = e.description
            } catch {
                verdict = .inconclusive
                detail = "could not run: \(error)"
            }
            // What remove and module exit leave behind is the same for every check of a driver:
            // the lifecycle and debugfs checks judge it; the others name it in their evidence.
            if !scope.teardown.isEmpty {
                if check.id.hasPrefix("lifecycle.") || check.id.hasPrefix("debugfs.") {
                    scope.balance += scope.teardown
                } else {
                    teardownNote = "left after remove and module exit (judged by the lifecycle checks): " + Conformance.tally(scope.teardown).joined(separator: "; ")
                }
            }
            if verdict == .pass, !scope.balance.isEmpty {
                verdict = .fail
                detail = "the scenario left resources behind: " + scope.balance.joined(separator: "; ")
                scope.failedOn.formUnion(balanceRules.filter { witness.counts[Rule($0)] != nil })
            }
            var evidence = check.needs.map { judge($0, witness) } + scope.notes.map { (ok: true, evidence: $0) }
            if let t = teardownNote { evidence.append((true, t)) }
            if !check.needs.contains(where: { if case .hostReceived = $0 { return true } else { return false } }) {
                evidence.insert((true, "\(witness.received) packet(s) reached the host"), at: 0)
            }
            if verdict == .pass, let unmet = evidence.first(where: { !$0.ok }) {
                verdict = .inconclusive
                detail = "the scenario did not happen: \(unmet.evidence)"
            }
            let findings = Dictionary(uniqueKeysWithValues: witness.counts.map { ($0.key.rawValue, $0.value) })
            let first = Dictionary(uniqueKeysWithValues: witness.firstViolations.map { ($0.key.rawValue, $0.value.detail) })
            let r = Result(check: check, verdict: verdict, detail: detail ?? "", evidence: evidence.map(\.evidence),
                           findings: findings, firstFindings: first,
                           failedOn: verdict == .fail ? scope.failedOn.sorted() : [], hostPackets: witness.received,
                           becauseOf: verdict == .fail ? scope.becauseOf.sorted() : [])
            progress?(r)
            out.append(r)
        }
        return out
    }
}

private func format2(_ v: UInt8) -> String {
    let h = String(v, radix: 16, uppercase: true)
    return h.count == 1 ? "0" + h : h
}
