// SPDX-License-Identifier: Apache-2.0

/// A schedule: at each step, which of the runnable activities ran, as its index in the
/// runnable list (activities listed in a fixed order: clients, host, host-access, rescind,
/// remove — each only in the scenarios that have it).
///
/// Printed form, version 1: `v1.<clients>[<scenario>].<choices>` where each choice is one
/// base-36 digit (`0`-`9`, `a`-`z`) and the scenario is one letter after the client count:
/// none or `r` rescind-in-flight, `d` remove-drain, `h` host-access-until-close (see
/// `Explorer.Scenario`). E.g. `v1.2.0010211` (rescind, 2 clients), `v1.1d.00102`. Short enough
/// to paste into an issue; decoding is an input path and throws with the offending
/// character's offset.
public struct Schedule: Hashable, Sendable, CustomStringConvertible {
    public var clients: Int
    public var choices: [Int]
    public var scenario: Explorer.Scenario

    public init(clients: Int, choices: [Int], scenario: Explorer.Scenario = .rescindInFlight) {
        self.clients = clients
        self.choices = choices
        self.scenario = scenario
    }

    static let digits = Array("0123456789abcdefghijklmnopqrstuvwxyz")

    public var description: String {
        "v1.\(clients)\(scenario == .rescindInFlight ? "" : String(scenario.letter))."
            + String(choices.map { Schedule.digits[min($0, 35)] })
    }

    public enum ParseError: Error, Equatable, CustomStringConvertible {
        case version(String)
        case malformed(offset: Int, why: String)
        public var description: String {
            switch self {
            case .version(let v): return "schedule: version '\(v)' is not v1"
            case .malformed(let o, let why): return "schedule at character \(o): \(why)"
            }
        }
    }

    public init(parsing text: String) throws(ParseError) {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard let v = parts.first, v == "v1" else { throw .version(String(parts.first ?? "")) }
        guard parts.count == 3 else { throw .malformed(offset: text.count, why: "expected v1.<clients>.<choices>") }
        var head = Substring(parts[1])
        var scenario = Explorer.Scenario.rescindInFlight
        if let last = head.last, !last.isNumber {
            guard let s = Explorer.Scenario(letter: last) else {
                throw .malformed(offset: 3 + head.count - 1, why: "'\(last)' is not a scenario (r, d, h or t)")
            }
            scenario = s
            head = head.dropLast()
        }
        guard let n = Int(head), n >= 1, n <= 8 else {
            throw .malformed(offset: 3, why: "'\(parts[1])' is not a client count in 1...8")
        }
        var choices: [Int] = []
        let base = parts[0].count + parts[1].count + 2
        for (i, ch) in parts[2].enumerated() {
            guard let d = Schedule.digits.firstIndex(of: ch) else {
                throw .malformed(offset: base + i, why: "'\(ch)' is not a base-36 digit")
            }
            choices.append(d)
        }
        self.init(clients: n, choices: choices, scenario: scenario)
    }
}
