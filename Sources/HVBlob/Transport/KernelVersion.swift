// SPDX-License-Identifier: Apache-2.0

/// A Linux version, which picks the VMBus API era (PROTOCOL.md §4).
public struct KernelVersion: Hashable, Sendable, Comparable, CustomStringConvertible {
    public let major: Int
    public let minor: Int
    public init(_ major: Int, _ minor: Int) {
        self.major = major
        self.minor = minor
    }

    public static let supported = KernelVersion(5, 10)...KernelVersion(6, 3)
    public static let `default` = KernelVersion(6, 1)

    /// Parses "6.1"; nil for anything else.
    public init?(_ text: String) {
        let parts = text.split(separator: ".")
        guard parts.count == 2, let a = Int(parts[0]), let b = Int(parts[1]), a >= 0, b >= 0 else { return nil }
        self.init(a, b)
    }

    public var description: String { "\(major).\(minor)" }
    public static func < (a: KernelVersion, b: KernelVersion) -> Bool { (a.major, a.minor) < (b.major, b.minor) }

    /// ≤ 5.13: the send path allocates the request id itself; lookup takes the requestor.
    public var sendAllocatesRequestId: Bool { self < KernelVersion(5, 14) }
    /// ≥ 5.14: inbound packets are copied out of the ring (≤ 4096 bytes, len8/offset8 clamped)
    /// before a driver sees them; before, the iterator returned a pointer into shared memory.
    public var copiesInboundPackets: Bool { self >= KernelVersion(5, 14) }
    /// Looking up request id 0 returned 0 (not VMBUS_RQST_ERROR) until the 2022 fix (5.18).
    public var zeroIdLookupIsError: Bool { self >= KernelVersion(5, 18) }
}
