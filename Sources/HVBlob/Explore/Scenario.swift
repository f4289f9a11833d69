// SPDX-License-Identifier: Apache-2.0

extension Explorer {
    /// The concurrency scenarios the explorer runs. In each, N processes hold /dev/azure_blob
    /// open and issue one ioctl each, and the host delivers its completions; what else may
    /// happen at any step is the scenario:
    ///
    ///     rescind-in-flight        the host rescinds the channel (remove then runs)
    ///     remove-drain             remove runs without a rescind (an unbind): the channel stays
    ///                              open, so the host completes what is in flight during the
    ///                              drain, and the drain must be woken when the last completes
    ///     host-access-until-close  as rescind-in-flight, and the host touches the pages of a
    ///                              request it holds (reads the request page, rewrites the
    ///                              response page) once, at any step before vmbus_close returns
    ///     two-devices              the host offers a second device of the class; each client
    ///                              count is per device (client 2k on the first, 2k+1 on the
    ///                              second); the host rescinds the first at any step (its remove
    ///                              then runs) while the second serves: every request on the
    ///                              second returns 0, and it still serves once the first is gone
    public enum Scenario: String, Sendable, CaseIterable, CustomStringConvertible {
        case rescindInFlight = "rescind-in-flight"
        case removeDrain = "remove-drain"
        case hostAccess = "host-access-until-close"
        case twoDevices = "two-devices"

        public var description: String { rawValue }

        /// Its letter in a printed schedule (`Schedule`).
        public var letter: Character {
            switch self {
            case .rescindInFlight: return "r"
            case .removeDrain: return "d"
            case .hostAccess: return "h"
            case .twoDevices: return "t"
            }
        }

        public init?(letter: Character) {
            guard let s = Scenario.allCases.first(where: { $0.letter == letter }) else { return nil }
            self = s
        }

        /// What it exercises, in one line.
        public var summary: String {
            switch self {
            case .rescindInFlight:
                return "rescind with files open and requests in flight, at every step: no send on a closed channel, remove and every ioctl finish, nothing leaks"
            case .removeDrain:
                return "remove without a rescind while the host completes what is in flight: the drain is woken by the last completion (no lost wake-up ended only by its timeout)"
            case .hostAccess:
                return "the host may touch a request's pages until vmbus_close returns: no page released and no request failed back to user space before that"
            case .twoDevices:
                return "two devices at once, the first rescinded and removed at every step while the second serves: each request on the second returns 0, the second keeps its misc device and serves after, nothing leaks"
            }
        }

        /// The verify result it becomes.
        public var checkId: String {
            switch self {
            case .rescindInFlight: return "race.rescind-in-flight"
            case .removeDrain: return "race.remove-drain"
            case .hostAccess: return "race.host-access-until-close"
            case .twoDevices: return "race.two-devices"
            }
        }

        /// Client activities for `clients` clients: two devices have that many each.
        public func activities(clients: Int) -> Int { self == .twoDevices ? 2 * clients : clients }

        /// The step that makes requests "in flight at" something.
        var trigger: String { self == .removeDrain ? "remove" : "rescind" }
    }
}
