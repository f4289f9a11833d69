// SPDX-License-Identifier: Apache-2.0

/// One direction of a VMBus channel in the real layout (`struct hv_ring_buffer`): a 4 KiB header
/// page, then the data area. Indices are byte offsets into the data area.
///
///     off  field
///       0  write_index       u32
///       4  read_index        u32
///       8  interrupt_mask    u32
///      12  pending_send_sz   u32
///      16  reserved1[12]
///      64  feature_bits      u32 (bit 0: pending-send-size feature)
///    4096  data area (ring size - 4096 bytes)
///
/// The writer (`write`) follows hv_ringbuffer_write(): a packet padded to 8 plus an 8-byte
/// trailer holding the old write index << 32, never filling the ring completely (free <= total
/// is "full"), the request id stored into trans_id after the copy, the write index published
/// last, and a signal only when interrupt_mask is 0 and the ring was empty before the packet.
import Synchronization

/// Ring memory is reused: a fresh machine per explored schedule allocated two 128 KiB rings,
/// and mapping and faulting them in cost more than the schedule itself. Zeroed on reuse, so
/// a run's bytes do not depend on the previous run.
final class RingMemoryPool: Sendable {
    static let shared = RingMemoryPool()
    private let free = Mutex<[Int: [UInt]]>([:])

    func take(_ size: Int) -> UnsafeMutableRawPointer {
        let reused = free.withLock { pool -> UInt? in pool[size]?.popLast() }
        if let r = reused, let p = UnsafeMutableRawPointer(bitPattern: r) {
            p.initializeMemory(as: UInt8.self, repeating: 0, count: size)
            return p
        }
        let p = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: AzBlob.pageSize)
        p.initializeMemory(as: UInt8.self, repeating: 0, count: size)
        return p
    }

    func give(_ p: UnsafeMutableRawPointer, _ size: Int) {
        let kept = free.withLock { pool -> Bool in
            if pool[size, default: []].count >= 64 { return false }
            pool[size, default: []].append(UInt(bitPattern: p))
            return true
        }
        if !kept { p.deallocate() }
    }
}

public final class RingBuffer {
    public static let headerSize = 4096
    public static let trailerSize = 8
    public enum Header {
        public static let writeIndex = 0
        public static let readIndex = 4
        public static let interruptMask = 8
        public static let pendingSendSize = 12
        public static let featureBits = 64
    }
    /// hv_ring_buffer.feature_bits bit 0.
    public static let featurePendingSendSize: UInt32 = 1

    public let size: Int
    public let dataSize: Int
    let base: UnsafeMutableRawPointer
    /// false when the ring lives in memory someone else owns (shared guest memory).
    private let ownsMemory: Bool
    var data: UnsafeMutableRawPointer { base + RingBuffer.headerSize }

    /// Host mutations armed by the double-fetch fault: ring offset of a packet -> what to change
    /// right after the guest's first read of that packet's len8 straight from shared memory
    /// (possible only where the guest reads the ring in place, Linux ≤ 5.13).
    var mutateAfterFirstFetch: [UInt32: (RingBuffer) -> Void] = [:]

    /// The host changes bytes of the data area in place (hostile-host modes and tests).
    public func overwrite(at offset: Int, _ bytes: [UInt8]) {
        bytes.withUnsafeBytes { _ = copyIn(at: offset % dataSize, from: $0.baseAddress!, count: $0.count) }
    }

    /// Arms a host change to the packet at `packetOffset`, made right after the guest's first
    /// in-place read of its len8 (the double-fetch window of Linux ≤ 5.13).
    public func armMutation(atPacket packetOffset: UInt32, _ change: @escaping (RingBuffer) -> Void) {
        mutateAfterFirstFetch[packetOffset] = change
    }

    /// `size` is the whole ring including the header page (AZ_BLOB_RING_SIZE = 128 KiB).
    public init(size: Int, pendingSendSizeFeature: Bool = true) {
        // Real rings are page multiples; tests use small data areas. Sizes come from code, not input.
        precondition(size > RingBuffer.headerSize && size % 8 == 0,
                     "internal: a ring is a header page plus a data area that is a multiple of 8")
        self.size = size
        self.dataSize = size - RingBuffer.headerSize
        base = RingMemoryPool.shared.take(size)
        ownsMemory = true
        if pendingSendSizeFeature { featureBits = RingBuffer.featurePendingSendSize }
    }

    /// A ring over `size` bytes of memory that outlives it (pages of a shared guest-memory
    /// file, mapped by an out-of-process host too). `initialize` zeroes it and sets the feature
    /// bits, as the guest does before it hands the ring to the host; the host passes false.
    public init(mapping: UnsafeMutableRawPointer, size: Int, initialize: Bool, pendingSendSizeFeature: Bool = true) {
        precondition(size > RingBuffer.headerSize && size % 8 == 0,
                     "internal: a ring is a header page plus a data area that is a multiple of 8")
        self.size = size
        self.dataSize = size - RingBuffer.headerSize
        base = mapping
        ownsMemory = false
        if initialize {
            base.initializeMemory(as: UInt8.self, repeating: 0, count: size)
            if pendingSendSizeFeature { featureBits = RingBuffer.featurePendingSendSize }
        }
    }

    deinit { if ownsMemory { RingMemoryPool.shared.give(base, size) } }

    @inline(__always) func header(_ off: Int) -> UInt32 { UInt32(littleEndian: base.loadUnaligned(fromByteOffset: off, as: UInt32.self)) }
    @inline(__always) func setHeader(_ off: Int, _ v: UInt32) {
        dirty |= 1
        base.storeBytes(of: v.littleEndian, toByteOffset: off, as: UInt32.self)
    }

    // MARK: checkpoint and reset

    /// Chunks of the ring written since the last checkpoint, one bit each: bit 0 the header
    /// page, bit k (k >= 1) the data area's bytes [(k-1) * chunk, k * chunk).
    private var dirty: UInt64 = 0
    /// The data area in at most 63 chunks, each a multiple of 8 bytes.
    private lazy var chunk: Int = max(8, ((dataSize + 62) / 63 + 7) / 8 * 8)

    @inline(__always) private func markData(_ offset: Int, _ count: Int) {
        guard count > 0 else { return }
        let first = offset / chunk + 1, last = (offset + count - 1) / chunk + 1
        if last - first >= 63 { dirty = .max; return }
        // Bits first...last (last <= 63).
        let width = UInt64(last - first + 1)
        dirty |= (width >= 64 ? .max : ((1 << width) - 1)) << UInt64(first)
    }

    /// A ring's state at a checkpoint: its whole image (taken once) and the host's armed
    /// mutations; `restore` copies back only the chunks written since.
    final class Checkpoint {
        let image: UnsafeMutableRawPointer
        let mutations: [UInt32: (RingBuffer) -> Void]
        let onReadIndexPublished: ((UInt32, UInt32) -> Void)?
        init(_ ring: RingBuffer) {
            image = UnsafeMutableRawPointer.allocate(byteCount: ring.size, alignment: 64)
            image.copyMemory(from: ring.base, byteCount: ring.size)
            mutations = ring.mutateAfterFirstFetch
            onReadIndexPublished = ring.onReadIndexPublished
        }
        deinit { image.deallocate() }
    }

    /// The ring as it is now (one copy of its image, taken once per checkpoint).
    func checkpoint() -> Checkpoint {
        let c = Checkpoint(self)
        dirty = 0
        return c
    }

    /// Back to `c`: the header page and the data chunks written since, nothing else.
    func restore(_ c: Checkpoint) {
        var d = dirty
        while d != 0 {
            let bit = d.trailingZeroBitCount
            d &= d - 1
            if bit == 0 {
                base.copyMemory(from: c.image, byteCount: RingBuffer.headerSize)
            } else {
                let start = (bit - 1) * chunk
                guard start < dataSize else { continue }
                let n = min(chunk, dataSize - start)
                (data + start).copyMemory(from: c.image + RingBuffer.headerSize + start, byteCount: n)
            }
        }
        dirty = 0
        mutateAfterFirstFetch = c.mutations
        onReadIndexPublished = c.onReadIndexPublished
    }

    /// Bytes `restore` would copy now (tests: a reset costs what the run wrote).
    var bytesToRestore: Int {
        (dirty & 1 != 0 ? RingBuffer.headerSize : 0) + (dirty >> 1).nonzeroBitCount * chunk
    }

    /// Called when a reader publishes a new read index (before, after): capture records when
    /// the guest consumed host packets.
    public var onReadIndexPublished: ((UInt32, UInt32) -> Void)?
    public var writeIndex: UInt32 { get { header(Header.writeIndex) } set { setHeader(Header.writeIndex, newValue) } }
    public var readIndex: UInt32 { get { header(Header.readIndex) } set { setHeader(Header.readIndex, newValue) } }
    public var interruptMask: UInt32 { get { header(Header.interruptMask) } set { setHeader(Header.interruptMask, newValue) } }
    public var pendingSendSize: UInt32 { get { header(Header.pendingSendSize) } set { setHeader(Header.pendingSendSize, newValue) } }
    public var featureBits: UInt32 { get { header(Header.featureBits) } set { setHeader(Header.featureBits, newValue) } }

    /// The whole ring image, header page included.
    public var image: [UInt8] { Array(UnsafeRawBufferPointer(start: base, count: size)) }

    /// hv_get_bytes_to_write().
    public var bytesToWrite: Int {
        let w = Int(writeIndex), r = Int(readIndex)
        return w >= r ? dataSize - (w - r) : r - w
    }

    /// hv_get_bytes_to_read().
    public var bytesToRead: Int {
        let w = Int(writeIndex), r = Int(readIndex)
        return w >= r ? w - r : dataSize - r + w
    }

    /// Copies into the data area at `offset` with wrap-around; returns the next offset.
    @inline(__always)
    func copyIn(at offset: Int, from src: UnsafeRawPointer, count: Int) -> Int {
        let first = min(count, dataSize - offset)
        markData(offset, first)
        (data + offset).copyMemory(from: src, byteCount: first)
        if first < count {
            markData(0, count - first)
            data.copyMemory(from: src + first, byteCount: count - first)
        }
        let next = offset + count
        return next >= dataSize ? next - dataSize : next
    }

    /// Copies out of the data area at `offset` with wrap-around.
    @inline(__always)
    func copyOut(at offset: Int, into dst: UnsafeMutableRawPointer, count: Int) {
        var offset = offset % dataSize
        var done = 0
        while done < count {
            let n = min(count - done, dataSize - offset)
            dst.advanced(by: done).copyMemory(from: data + offset, byteCount: n)
            done += n
            offset = 0
        }
    }

    func loadU16(at offset: Int) -> UInt16 {
        var v: UInt16 = 0
        withUnsafeMutableBytes(of: &v) { copyOut(at: offset, into: $0.baseAddress!, count: 2) }
        return UInt16(littleEndian: v)
    }

    func loadU32(at offset: Int) -> UInt32 {
        var v: UInt32 = 0
        withUnsafeMutableBytes(of: &v) { copyOut(at: offset, into: $0.baseAddress!, count: 4) }
        return UInt32(littleEndian: v)
    }

    func loadU64(at offset: Int) -> UInt64 {
        var v: UInt64 = 0
        withUnsafeMutableBytes(of: &v) { copyOut(at: offset, into: $0.baseAddress!, count: 8) }
        return UInt64(littleEndian: v)
    }

    func store<T: FixedWidthInteger>(_ v: T, at offset: Int) {
        withUnsafeBytes(of: v.littleEndian) { _ = copyIn(at: offset % dataSize, from: $0.baseAddress!, count: $0.count) }
    }

    public enum WriteOutcome: Equatable, Sendable {
        /// Written; `transId` is what went into the packet, `signal` whether the reader must be
        /// interrupted (the ring was empty and interrupt_mask clear).
        case written(transId: UInt64, signal: Bool)
        /// Not enough room (free <= packet + trailer): EAGAIN.
        case full
        /// The request-id allocator had no free slot: EAGAIN (nothing published).
        case noRequestId
    }

    /// hv_ringbuffer_write() for one packet already padded to 8 bytes. `transId` is called after
    /// the copy (the id must not exist before the packet does) and returns nil when the
    /// request-id table is full.
    public func write(_ packet: UnsafeRawBufferPointer, transId: () -> UInt64?) -> WriteOutcome {
        let total = packet.count + RingBuffer.trailerSize
        if bytesToWrite <= total { return .full }
        let oldWrite = Int(writeIndex)
        var next = copyIn(at: oldWrite, from: packet.baseAddress!, count: packet.count)
        guard let id = transId() else { return .noRequestId }
        store(id, at: oldWrite + PacketDescriptor.transIdOffset)
        var trailer = UInt64(oldWrite) << 32
        next = withUnsafeBytes(of: &trailer) { copyIn(at: next, from: $0.baseAddress!, count: 8) }
        writeIndex = UInt32(next)
        // hv_signal_on_write(): only on the empty -> non-empty transition, and never when masked.
        let signal = interruptMask == 0 && UInt32(oldWrite) == readIndex
        return .written(transId: id, signal: signal)
    }

    public func write(_ packet: [UInt8], transId: () -> UInt64?) -> WriteOutcome {
        packet.withUnsafeBytes { write($0, transId: transId) }
    }
}

/// The reading side of a ring (hv_pkt_iter_first / __hv_pkt_iter_next / hv_pkt_iter_close),
/// used by the guest on the host->guest ring and by the simulated host on the guest->host ring.
public struct RingReader {
    /// The private read index: advanced per packet, published by `close()`.
    public private(set) var privReadIndex: UInt32
    private var startReadIndex: UInt32
    /// pkt_buffer_size: the most a packet copy holds (VMBUS_DEFAULT_MAX_PKT_SIZE).
    public static let packetBufferSize = 4096

    public init(ring: RingBuffer) {
        privReadIndex = ring.readIndex
        startReadIndex = privReadIndex
    }

    /// hv_pkt_iter_avail().
    public func available(_ ring: RingBuffer) -> Int {
        let w = Int(ring.writeIndex), p = Int(privReadIndex)
        return w >= p ? w - p : ring.dataSize - p + w
    }

    /// Linux ≥ 5.14: copies the next packet out of the ring into a buffer of at most 4096 bytes,
    /// reading len8 and offset8 once and clamping them (len < 16 or beyond what is available ->
    /// what is available; offset < 16 or > len -> 16). nil when fewer than 16 bytes are there.
    public func copyFirst(_ ring: RingBuffer) -> [UInt8]? {
        var buffer = [UInt8](repeating: 0, count: RingReader.packetBufferSize)
        guard let n = copyFirst(ring, into: &buffer) else { return nil }
        return Array(buffer[0..<n])
    }

    /// The same copy into `buffer` (at least `packetBufferSize` bytes, kept from one packet to
    /// the next as the channel's own packet buffer is); returns the packet's length.
    public func copyFirst(_ ring: RingBuffer, into buffer: inout [UInt8]) -> Int? {
        var avail = available(ring)
        if avail < PacketDescriptor.wireSize { return nil }
        avail = min(RingReader.packetBufferSize, avail, buffer.count)
        let p = Int(privReadIndex)
        var len = Int(ring.loadU16(at: p + 4)) << 3
        var off = Int(ring.loadU16(at: p + 2)) << 3
        if len < PacketDescriptor.wireSize || len > avail { len = avail }
        if off < PacketDescriptor.wireSize || off > len { off = PacketDescriptor.wireSize }
        buffer.withUnsafeMutableBytes { ring.copyOut(at: p, into: $0.baseAddress!, count: len) }
        buffer[2] = UInt8(truncatingIfNeeded: off >> 3); buffer[3] = UInt8(truncatingIfNeeded: off >> 11)
        buffer[4] = UInt8(truncatingIfNeeded: len >> 3); buffer[5] = UInt8(truncatingIfNeeded: len >> 11)
        return len
    }

    /// Linux ≤ 5.13: the packet stays in shared memory; every field read goes to the ring.
    public func sharedFirst(_ ring: RingBuffer) -> SharedPacket? {
        if available(ring) < PacketDescriptor.wireSize { return nil }
        return SharedPacket(ring: ring, start: privReadIndex)
    }

    /// __hv_pkt_iter_next(): advance by len8*8 + trailer, as read now. Returns false when the
    /// new private index lies outside the data area (a hostile len8 on Linux ≤ 5.13, where the
    /// value is not clamped): the next read would leave the ring mapping.
    public mutating func advance(_ ring: RingBuffer, len8: UInt16) -> Bool {
        var next = Int(privReadIndex) + Int(len8) * 8 + RingBuffer.trailerSize
        if next >= ring.dataSize { next -= ring.dataSize }
        if next >= ring.dataSize { return false }
        privReadIndex = UInt32(next)
        return true
    }

    /// hv_pkt_iter_close(): publish the read index; true when the writer must be signalled
    /// (pending_send_sz set, and this read moved free space from "not enough" to "enough").
    public mutating func close(_ ring: RingBuffer) -> Bool {
        let start = ring.readIndex
        ring.readIndex = privReadIndex
        if start != privReadIndex { ring.onReadIndexPublished?(start, privReadIndex) }
        defer { startReadIndex = privReadIndex }
        if ring.featureBits & RingBuffer.featurePendingSendSize == 0 { return false }
        let pending = Int(ring.pendingSendSize)
        if pending == 0 { return false }
        let current = ring.bytesToWrite
        let p = Int(privReadIndex), s = Int(start)
        let bytesRead = p >= s ? p - s : ring.dataSize - s + p
        if current - bytesRead > pending { return false }
        if current <= pending { return false }
        return true
    }
}

/// A packet read in place from shared ring memory (Linux ≤ 5.13). Each field read fetches from
/// the ring again; the first fetch fires any host mutation armed for this packet, and a field
/// whose second fetch differs from its first is a double fetch.
public final class SharedPacket {
    let ring: RingBuffer
    public let start: UInt32
    private var firstValues: [Int: UInt64] = [:]
    public private(set) var doubleFetches: [(field: String, first: UInt64, second: UInt64)] = []

    init(ring: RingBuffer, start: UInt32) {
        self.ring = ring
        self.start = start
    }

    private func fetch(_ rel: Int, width: Int, name: String) -> UInt64 {
        let at = Int(start) + rel
        let v: UInt64
        switch width {
        case 2: v = UInt64(ring.loadU16(at: at))
        case 4: v = UInt64(ring.loadU32(at: at))
        default: v = ring.loadU64(at: at)
        }
        if rel == 4, firstValues[rel] == nil, let m = ring.mutateAfterFirstFetch.removeValue(forKey: start) { m(ring) }
        if let old = firstValues[rel] {
            if old != v { doubleFetches.append((name, old, v)) }
        } else {
            firstValues[rel] = v
        }
        return v
    }

    public var type: PacketType { PacketType(rawValue: UInt16(fetch(0, width: 2, name: "type"))) }
    public var offset8: UInt16 { UInt16(fetch(2, width: 2, name: "offset8")) }
    public var len8: UInt16 { UInt16(fetch(4, width: 2, name: "len8")) }
    /// len8 as it is now, for the checker's own bookkeeping: not a guest read.
    public var peekLen8: UInt16 { ring.loadU16(at: Int(start) + 4) }
    public var transId: UInt64 { fetch(8, width: 8, name: "trans_id") }
    /// A u32 of the payload at `offset` bytes from the packet start (hv_pkt_data(desc) + ...).
    public func payloadU32(at offset: Int, name: String) -> UInt32 { UInt32(fetch(offset, width: 4, name: name)) }
}

extension RingBuffer {
    /// The header fields and the bytes between the read and the write index (what a reader
    /// can still read; bytes outside are written before they are read again), for the
    /// explorer's state digest. False while a fault mutates the ring under its reader.
    func stateDigest(into h: inout Hasher64) -> Bool {
        guard mutateAfterFirstFetch.isEmpty else { return false }
        let w = Int(writeIndex), r = Int(readIndex)
        for x in [writeIndex, readIndex, interruptMask, pendingSendSize, featureBits] { h.add(x) }
        guard w < dataSize, r < dataSize else { return false }
        if w >= r {
            h.add(bytes: UnsafeRawBufferPointer(start: data + r, count: w - r))
        } else {
            h.add(bytes: UnsafeRawBufferPointer(start: data + r, count: dataSize - r))
            h.add(bytes: UnsafeRawBufferPointer(start: data, count: w))
        }
        return true
    }
}
