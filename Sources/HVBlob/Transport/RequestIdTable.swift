// SPDX-License-Identifier: Apache-2.0

/// The per-channel request-id table (Linux's `struct vmbus_requestor`): `size` slots, a LIFO
/// free list threaded through the slots, a bitmap of outstanding ids. Ids are slot + 1; id 0 is
/// reserved for unsolicited host packets.
public struct RequestIdTable: Sendable {
    public let size: Int
    private var slots: [UInt64]
    private var outstanding: [Bool]
    private var nextFree: Int
    public private(set) var outstandingCount = 0
    /// Lookup of id 0: returned 0 (not an error) before Linux 5.18.
    public let zeroIdIsError: Bool

    public init(size: Int, zeroIdIsError: Bool = true) {
        self.size = size
        // req_arr[i] = i + 1 initially: slot i's successor on the free list.
        slots = (0..<size).map { UInt64($0 + 1) }
        outstanding = [Bool](repeating: false, count: size)
        nextFree = 0
        self.zeroIdIsError = zeroIdIsError
    }

    /// vmbus_next_request_id(): the id for `cookie`, or nil when every slot is taken
    /// (VMBUS_RQST_ERROR, which makes the send fail with EAGAIN).
    public mutating func allocate(_ cookie: UInt64) -> UInt64? {
        let current = nextFree
        if current >= size { return nil }
        nextFree = Int(truncatingIfNeeded: slots[current])
        slots[current] = cookie
        outstanding[current] = true
        outstandingCount += 1
        return UInt64(current + 1)
    }

    public enum Lookup: Equatable, Sendable {
        /// The cookie stored for the id; the slot is now free.
        case found(UInt64)
        /// VMBUS_RQST_ERROR: out of range, not outstanding (stale), or 0 on ≥ 5.18.
        case error
        /// Id 0 on < 5.18: the lookup returns 0 and a driver that does not check dereferences it.
        case zero
    }

    /// __vmbus_request_addr_match(channel, id, VMBUS_RQST_ADDR_ANY): looking an id up frees it.
    public mutating func lookup(_ id: UInt64) -> Lookup {
        if id == 0 { return zeroIdIsError ? .error : .zero }
        let slot = id &- 1
        if slot >= UInt64(size) || !outstanding[Int(slot)] { return .error }
        let i = Int(slot)
        let cookie = slots[i]
        slots[i] = UInt64(nextFree)
        nextFree = i
        outstanding[i] = false
        outstandingCount -= 1
        return .found(cookie)
    }

    /// Whether `id` is currently outstanding (without freeing it).
    public func isOutstanding(_ id: UInt64) -> Bool {
        id != 0 && id <= UInt64(size) && outstanding[Int(id - 1)]
    }

    /// The id the next allocation will hand out (LIFO reuse), or nil when full.
    public var nextId: UInt64? { nextFree < size ? UInt64(nextFree + 1) : nil }
}

extension RequestIdTable {
    /// Every slot, the outstanding bitmap and the free list's head, for the explorer's digest.
    func stateDigest(into h: inout Hasher64) {
        h.add(nextFree); h.add(outstandingCount); h.add(zeroIdIsError)
        for s in slots { h.add(s) }
        for o in outstanding { h.add(o) }
    }
}
