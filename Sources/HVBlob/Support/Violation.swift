// SPDX-License-Identifier: Apache-2.0

/// What kind of finding a violation is; each class has its own exit wording.
public enum FindingClass: String, Sendable, CaseIterable {
    /// The guest (VSC) broke a rule: a defect of the driver under test.
    case guest
    /// The simulated host refused a packet the guest sent (the guest broke the wire protocol).
    case hostCheck = "host-check"
    /// Something that should finish never does: an ioctl or remove waits forever.
    case liveness
    /// End-to-end data differs from what the store model says it must be.
    case integrity
}

/// A rule id, in the protocol's words: `pin.double-release`, `host.mpb.rangecount`, ...
public struct Rule: RawRepresentable, Hashable, Sendable, Comparable, CustomStringConvertible, ExpressibleByStringLiteral {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    public init(stringLiteral value: String) { self.rawValue = value }
    public init(_ raw: String) { self.rawValue = raw }
    public var description: String { rawValue }
    public static func < (a: Rule, b: Rule) -> Bool { a.rawValue < b.rawValue }

    public var findingClass: FindingClass {
        if rawValue.hasPrefix("host.") { return .hostCheck }
        if rawValue.hasPrefix("liveness.") { return .liveness }
        if rawValue.hasPrefix("integrity.") { return .integrity }
        return .guest
    }
}

/// One finding, with the virtual time it happened at and the numbers that reproduce it.
public struct Violation: Hashable, Sendable, CustomStringConvertible {
    public let rule: Rule
    public let time: UInt64
    public let detail: String
    public var description: String { "t=\(time) \(rule): \(detail)" }
}

/// Shared by every part of one simulated machine: the memory, the rings, the VSC and the VSP
/// report into it. A class because all of them append to the same log during one run.
public final class ViolationLog {
    /// The first `detailsPerRule` findings of each rule, in the order they happened.
    public private(set) var violations: [Violation] = []
    /// How often each rule fired (all of them, also past the detail limit).
    public private(set) var counts: [Rule: Int] = [:]
    public let detailsPerRule: Int
    /// Virtual time, set by the simulator; 0 outside one.
    public var now: UInt64 = 0
    public init(detailsPerRule: Int = 20) { self.detailsPerRule = detailsPerRule }

    /// Sees every finding as it is reported (an out-of-process host forwards its own to the
    /// guest this way, so both runs end with the same log).
    public var onReport: ((Rule, String) -> Void)?

    public func report(_ rule: Rule, _ detail: @autoclosure () -> String) {
        let n = counts[rule, default: 0] + 1
        counts[rule] = n
        if n <= detailsPerRule || onReport != nil {
            let d = detail()
            if n <= detailsPerRule { violations.append(Violation(rule: rule, time: now, detail: d)) }
            onReport?(rule, d)
        }
    }

    /// The log as it is now, and back to it (`Machine.reset(to:)`).
    struct Checkpoint {
        let violations: [Violation]
        let counts: [Rule: Int]
        let now: UInt64
        let onReport: ((Rule, String) -> Void)?
    }
    func checkpoint() -> Checkpoint { Checkpoint(violations: violations, counts: counts, now: now, onReport: onReport) }
    func restore(_ c: Checkpoint) {
        // Keep the storage when the checkpoint's log was empty (the usual case).
        if c.violations.isEmpty { violations.removeAll(keepingCapacity: true) } else { violations = c.violations }
        if c.counts.isEmpty { counts.removeAll(keepingCapacity: true) } else { counts = c.counts }
        now = c.now
        onReport = c.onReport
    }

    public var rules: Set<Rule> { Set(counts.keys) }
    public func count(_ rule: Rule) -> Int { counts[rule, default: 0] }
    public var total: Int { counts.values.reduce(0, +) }
}
