// SPDX-License-Identifier: Apache-2.0

/// A list of page frame numbers (PFNs) that holds up to `inlineCapacity` of them in the value
/// itself and goes to the heap only past that: a pin of one buffer and the PFN list of a
/// request of a few pages (the common case: a request line, a response, a 4 KiB data buffer)
/// cost no allocation. Equal to another list when the PFNs are, wherever they are kept.
public struct PFNList: RandomAccessCollection, Hashable, Sendable, ExpressibleByArrayLiteral, CustomStringConvertible {
    public static let inlineCapacity = 4
    private var inline: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
    /// Every PFN once there are more than `inlineCapacity` (the inline ones are then unused).
    private var spill: [UInt64] = []
    public private(set) var count = 0

    public init() {}

    public init<S: Sequence>(_ pfns: S) where S.Element == UInt64 {
        for p in pfns { append(p) }
    }

    public init(arrayLiteral elements: UInt64...) {
        self.init(elements)
    }

    public var startIndex: Int { 0 }
    public var endIndex: Int { count }

    public subscript(i: Int) -> UInt64 {
        precondition(i >= 0 && i < count, "PFN index \(i) out of range 0..<\(count)")
        if count > PFNList.inlineCapacity { return spill[i] }
        return withUnsafeBytes(of: inline) { $0.load(fromByteOffset: i &* 8, as: UInt64.self) }
    }

    /// Room for `n` PFNs without another allocation (none while `n` fits inline).
    public mutating func reserveCapacity(_ n: Int) {
        if n > PFNList.inlineCapacity { spill.reserveCapacity(n) }
    }

    public mutating func append(_ pfn: UInt64) {
        if count < PFNList.inlineCapacity {
            withUnsafeMutableBytes(of: &inline) { $0.storeBytes(of: pfn, toByteOffset: count &* 8, as: UInt64.self) }
        } else {
            if count == PFNList.inlineCapacity {
                spill.reserveCapacity(2 * PFNList.inlineCapacity)
                withUnsafeBytes(of: inline) { raw in
                    for i in 0..<PFNList.inlineCapacity { spill.append(raw.load(fromByteOffset: i * 8, as: UInt64.self)) }
                }
            }
            spill.append(pfn)
        }
        count += 1
    }

    public static func == (a: PFNList, b: PFNList) -> Bool {
        a.count == b.count && a.elementsEqual(b)
    }

    public func hash(into h: inout Hasher) {
        h.combine(count)
        for p in self { h.combine(p) }
    }

    public var description: String { "[" + map(String.init).joined(separator: ", ") + "]" }
}
