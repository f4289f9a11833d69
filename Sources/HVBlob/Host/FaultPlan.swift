// SPDX-License-Identifier: Apache-2.0

/// How the simulated host misbehaves in one run: a plain value, drawn from the seed or given on
/// the command line, printed on the first line of every run. Each probability is per request
/// (or per host poll for `ringFull`); 0 disables a mode without consuming randomness.
public struct FaultPlan: Hashable, Sendable, CustomStringConvertible {
    /// Completion delay in virtual ticks, drawn uniformly per request.
    public var delay: ClosedRange<UInt64> = 1...4
    /// A completion is held back a further 20-100 ticks, so later requests overtake it.
    public var reorder: Double = 0
    /// The host executes the request (writes its pages) but the completion is lost.
    public var drop: Double = 0
    /// The completion is posted twice, the copy 1-10 ticks later (its id may be reused by then).
    public var duplicate: Double = 0
    /// An extra completion with an id that was never handed out (beyond the table).
    public var unknownId: Double = 0
    /// An extra completion with the id of another request still in flight (forged).
    public var forgedId: Double = 0
    /// An extra completion with request id 0.
    public var zeroId: Double = 0
    /// The completion's payload is 4 bytes instead of 12.
    public var shortCompletion: Double = 0
    /// The completion's response_len is larger than the response buffer.
    public var oversizedResponseLen: Double = 0
    /// The host refuses the request: error status, nothing executed.
    public var errorStatus: Double = 0
    /// The host never completes the request and never touches its pages.
    public var neverComplete: Double = 0
    /// Before the real completion, an in-band (type 6) packet carrying the same request id.
    public var wrongType: Double = 0
    /// Per host poll: the host stops reading the guest->host ring for `stallTicks`, so the ring
    /// fills and sends fail with EAGAIN.
    public var ringFull: Double = 0
    public var stallTicks: UInt64 = 200
    /// The host rescinds the channel at this virtual time, requests possibly in flight.
    public var rescindAt: UInt64? = nil
    /// After the guest's first read of a completion, the host rewrites its len8 (observable only
    /// where the guest reads the ring in place: Linux ≤ 5.13).
    public var doubleFetch: Double = 0

    public init() {}

    public static let none = FaultPlan()

    /// Every probability field: (spec name, key path). The order is the printing order.
    static var probabilities: [(String, WritableKeyPath<FaultPlan, Double>)] { [
        ("reorder", \.reorder), ("drop", \.drop), ("duplicate", \.duplicate), ("unknown-id", \.unknownId),
        ("forged-id", \.forgedId), ("zero-id", \.zeroId), ("short-completion", \.shortCompletion),
        ("oversized-response-len", \.oversizedResponseLen), ("error-status", \.errorStatus),
        ("never-complete", \.neverComplete), ("wrong-type", \.wrongType), ("ring-full", \.ringFull),
        ("double-fetch", \.doubleFetch),
    ] }

    /// Names of every fault mode the spec accepts.
    public static var modeNames: [String] { ["delay", "stall-ticks", "rescind"] + probabilities.map(\.0) }

    public enum ParseError: Error, Equatable, CustomStringConvertible {
        case unknownField(String, offset: Int)
        case badValue(field: String, value: String, offset: Int)
        public var description: String {
            switch self {
            case .unknownField(let f, let o):
                return "fault spec at character \(o): unknown fault '\(f)' (known: \(FaultPlan.modeNames.joined(separator: ", ")))"
            case .badValue(let f, let v, let o):
                return "fault spec at character \(o): '\(v)' is not a valid value for \(f)"
            }
        }
    }

    /// Parses `drop=0.01,delay=1-8,rescind=500`; `none` or "" is the empty plan. A bare name
    /// (`drop`) means probability 1 for probabilities and is an error for the others.
    public init(spec: String) throws(ParseError) {
        self.init()
        if spec.isEmpty || spec == "none" { return }
        var offset = 0
        for item in spec.split(separator: ",", omittingEmptySubsequences: false) {
            defer { offset += item.count + 1 }
            // Empty pieces are kept: "=drop" has an empty name and is refused, not read as "drop".
            let kv = item.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
            let key = kv.first ?? ""
            let value = kv.count > 1 ? kv[1] : nil
            switch key {
            case "delay":
                guard let value, let r = FaultPlan.parseRange(value) else {
                    throw .badValue(field: key, value: value ?? "", offset: offset)
                }
                delay = r
            case "stall-ticks":
                guard let value, let v = UInt64(value) else { throw .badValue(field: key, value: value ?? "", offset: offset) }
                stallTicks = v
            case "rescind":
                guard let value, let v = UInt64(value) else { throw .badValue(field: key, value: value ?? "", offset: offset) }
                rescindAt = v
            default:
                guard let kp = FaultPlan.probabilities.first(where: { $0.0 == key })?.1 else {
                    throw .unknownField(key, offset: offset)
                }
                let p: Double
                if let value {
                    guard let v = Double(value), v >= 0, v <= 1 else { throw .badValue(field: key, value: value, offset: offset) }
                    p = v
                } else {
                    p = 1
                }
                self[keyPath: kp] = p
            }
        }
    }

    static func parseRange(_ s: String) -> ClosedRange<UInt64>? {
        let parts = s.split(separator: "-").map { UInt64($0) }
        if parts.count == 1, let a = parts[0] { return a...a }
        if parts.count == 2, let a = parts[0], let b = parts[1], a <= b { return a...b }
        return nil
    }

    /// Swarm testing: each mode on with probability 1/3, at a small rate, drawn from `rng`.
    public static func random(_ rng: inout SeededRandom, maxTime: UInt64) -> FaultPlan {
        var f = FaultPlan()
        let lo = UInt64(rng.int(in: 0...4))
        f.delay = lo...(lo + UInt64(rng.int(in: 0...20)))
        for (_, kp) in probabilities where rng.chance(1.0 / 3) {
            f[keyPath: kp] = [0.001, 0.01, 0.05][rng.int(in: 0...2)]
        }
        if rng.chance(1.0 / 3) { f.rescindAt = UInt64(rng.int(in: 1...Int(max(2, maxTime)))) }
        return f
    }

    /// The canonical spec: parses back to an equal plan.
    public var description: String {
        var parts = ["delay=\(delay.lowerBound)-\(delay.upperBound)"]
        for (name, kp) in FaultPlan.probabilities where self[keyPath: kp] > 0 {
            parts.append("\(name)=\(self[keyPath: kp])")
        }
        if ringFull > 0 || stallTicks != FaultPlan().stallTicks { parts.append("stall-ticks=\(stallTicks)") }
        if let r = rescindAt { parts.append("rescind=\(r)") }
        return parts.joined(separator: ",")
    }

    /// Modes in which the host sends completion packets carrying request ids it does not own:
    /// a request ended by one of those is the host's fault, not the guest's.
    public var sendsForeignCompletions: Bool { duplicate > 0 || forgedId > 0 || unknownId > 0 || zeroId > 0 }

    /// Modes that make at least one request never return, by design (a correct guest waits).
    public var canHang: Bool { drop > 0 || neverComplete > 0 || forgedId > 0 || doubleFetch > 0 }
}
