// SPDX-License-Identifier: Apache-2.0
import HVBlob
import Testing

/// A padded packet of `len` bytes (a multiple of 8) with a recognisable body.
func packet(_ len: Int, type: PacketType = .dataInBand, flags: UInt16 = 0, fill: UInt8 = 0xAB) -> [UInt8] {
    var p = PacketDescriptor(type: type, offset8: 2, len8: UInt16(len / 8), flags: flags, transId: 0).encoded()
    p += [UInt8](repeating: fill, count: len - 16)
    return p
}

@Suite("Ring buffer")
struct RingTests {
    @Test("ring.layout: header fields at 0/4/8/12/64, data after 4 KiB, pending-send-size feature bit set")
    func layout() {
        let r = RingBuffer(size: 8192)
        r.writeIndex = 0x11; r.readIndex = 0x22; r.interruptMask = 0x33; r.pendingSendSize = 0x44
        let img = r.image
        #expect(img.count == 8192 && r.dataSize == 4096)
        #expect(img[0] == 0x11 && img[4] == 0x22 && img[8] == 0x33 && img[12] == 0x44 && img[64] == 1)
    }

    @Test("ring.write: packet, request id in trans_id, trailer = old write index << 32, index published")
    func writeOne() {
        let r = RingBuffer(size: 8192)
        let p = packet(32)
        guard case .written(let id, let signal) = r.write(p, transId: { 77 }) else { Issue.record("not written"); return }
        #expect(id == 77 && signal)
        #expect(r.writeIndex == 40)
        let data = Array(r.image[4096..<4096 + 40])
        #expect(Array(data[8..<16]) == [77, 0, 0, 0, 0, 0, 0, 0])
        #expect(Array(data[16..<32]) == Array(p[16..<32]))
        #expect(Array(data[32..<40]) == [0, 0, 0, 0, 0, 0, 0, 0])  // old write index 0 << 32
        _ = r.write(p, transId: { 78 })
        let trailer = Array(r.image[4096 + 72..<4096 + 80])
        #expect(trailer == [0, 0, 0, 0, 40, 0, 0, 0])  // old write index 40 << 32
    }

    @Test("ring.full: free <= packet + trailer is full (EAGAIN); the ring never fills completely")
    func full() {
        let r = RingBuffer(size: 4096 + 256)
        // 256 data bytes: three 72-byte entries (64 + trailer) fit, leaving 40; a fourth does not.
        for i in 0..<3 { #expect(r.write(packet(64), transId: { UInt64(i) }) != .full) }
        #expect(r.bytesToWrite == 256 - 216)
        #expect(r.write(packet(32), transId: { 9 }) == .full)  // 40 free, 40 needed: full
        #expect(r.write(packet(24), transId: { 9 }) != .full)  // 32 needed < 40
        #expect(r.bytesToWrite == 8)
        #expect(r.writeIndex != r.readIndex)
    }

    @Test("ring.wrap: a packet split across the end is copied around and read back whole")
    func wrap() {
        let r = RingBuffer(size: 4096 + 128)
        var reader = RingReader(ring: r)
        _ = r.write(packet(80, fill: 1), transId: { 1 })
        _ = reader.copyFirst(r).map { _ = reader.advance(r, len8: UInt16($0.count / 8)) }
        _ = reader.close(r)
        #expect(r.readIndex == 88)
        let p = packet(64, fill: 2)
        guard case .written = r.write(p, transId: { 5 }) else { Issue.record("not written"); return }
        #expect(r.writeIndex == (88 + 72) % 128)
        let got = reader.copyFirst(r)
        var expected = p
        expected[8] = 5
        #expect(got == expected)
        let advanced = reader.advance(r, len8: 8)
        #expect(advanced)
        #expect(reader.privReadIndex == r.writeIndex)
    }

    @Test("ring.signal.write: signal only on empty -> non-empty, and never while interrupt_mask is set")
    func writerSignal() {
        let r = RingBuffer(size: 8192)
        guard case .written(_, let s1) = r.write(packet(32), transId: { 1 }) else { return }
        guard case .written(_, let s2) = r.write(packet(32), transId: { 2 }) else { return }
        #expect(s1 && !s2)
        var reader = RingReader(ring: r)
        while let p = reader.copyFirst(r) { _ = reader.advance(r, len8: UInt16(p.count / 8)) }
        _ = reader.close(r)
        r.interruptMask = 1
        guard case .written(_, let s3) = r.write(packet(32), transId: { 3 }) else { return }
        #expect(!s3)
    }

    @Test("ring.signal.read: the reader signals only when pending_send_sz goes from not-enough to enough room")
    func readerSignal() {
        let r = RingBuffer(size: 4096 + 256)
        for i in 0..<3 { _ = r.write(packet(64), transId: { UInt64(i) }) }
        // Writer waits for 100 bytes; 40 are free.
        r.pendingSendSize = 100
        var reader = RingReader(ring: r)
        _ = reader.copyFirst(r)
        _ = reader.advance(r, len8: 8)
        let first = reader.close(r)
        #expect(first)  // 40 -> 112 free: crosses 100
        _ = reader.copyFirst(r)
        _ = reader.advance(r, len8: 8)
        let second = reader.close(r)
        #expect(!second)  // 112 -> 184: it had room already
        r.featureBits = 0
        _ = reader.copyFirst(r)
        _ = reader.advance(r, len8: 8)
        let third = reader.close(r)
        #expect(!third)  // no pending-send-size feature: never
    }

    @Test("ring.read.clamp: ≥ 5.14 copies at most 4096 bytes with len8/offset8 clamped")
    func clamp() {
        let r = RingBuffer(size: 16384)
        var p = packet(32)
        p[4] = 0xff; p[5] = 0xff  // len8 claims 512 KiB
        p[2] = 1                  // offset8 8 < 16
        _ = r.write(p, transId: { 1 })
        let reader = RingReader(ring: r)
        let c = reader.copyFirst(r)!
        #expect(c.count == 40)     // what is available (packet + trailer)
        #expect(c[4] == 5 && c[5] == 0)  // len8 rewritten to 40 / 8
        #expect(c[2] == 2)         // offset8 rewritten to 16 / 8
    }

    @Test("ring.read.in-place: ≤ 5.13 reads shared memory; a len8 change between two reads is a double fetch")
    func doubleFetch() {
        let r = RingBuffer(size: 8192)
        _ = r.write(packet(32), transId: { 1 })
        r.armMutation(atPacket: 0) { ring in ring.overwrite(at: 4, [0xff, 0xff]) }
        let reader = RingReader(ring: r)
        let s = reader.sharedFirst(r)!
        #expect(s.doubleFetches.isEmpty)
        #expect(s.len8 == 4)       // first read, then the host rewrites it
        #expect(s.len8 == 0xffff)  // the second read sees the host's value
        #expect(s.doubleFetches.count == 1 && s.doubleFetches[0].field == "len8")
        // Advancing by the hostile len8 leaves the ring: the ≤ 5.13 iterator does not clamp.
        var rd = reader
        let inside = rd.advance(r, len8: 0xffff)
        #expect(!inside)
        // The same packet copied out (≥ 5.14) is immune: one read, then a private copy.
        let r2 = RingBuffer(size: 8192)
        _ = r2.write(packet(32), transId: { 1 })
        let copy = RingReader(ring: r2).copyFirst(r2)!
        r2.overwrite(at: 4, [0xff, 0xff])
        #expect(copy[4] == 4)
    }
}

@Suite("Request-id table")
struct RequestIdTests {
    @Test("rqstor.ids: ids are slot + 1, 1024 slots, the 1025th allocation fails")
    func exhaustion() {
        var t = RequestIdTable(size: AzBlob.queueDepth)
        for i in 0..<1024 { #expect(t.allocate(UInt64(1000 + i)) == UInt64(i + 1)) }
        #expect(t.allocate(5) == nil)
        #expect(t.outstandingCount == 1024)
    }

    @Test("rqstor.lifo: lookup frees the slot and the next allocation reuses the last freed id")
    func lifo() {
        var t = RequestIdTable(size: 8)
        for i in 0..<4 { _ = t.allocate(UInt64(100 + i)) }
        #expect(t.lookup(2) == .found(101))
        #expect(t.lookup(4) == .found(103))
        #expect(t.allocate(200) == 4)
        #expect(t.allocate(201) == 2)
        #expect(t.allocate(202) == 5)
    }

    @Test("rqstor.stale-forged-range: freed, never-issued and out-of-range ids are VMBUS_RQST_ERROR")
    func errors() {
        var t = RequestIdTable(size: 8)
        _ = t.allocate(1)
        #expect(t.lookup(1) == .found(1))
        #expect(t.lookup(1) == .error)      // stale: already freed
        #expect(t.lookup(3) == .error)      // forged: never handed out
        #expect(t.lookup(9) == .error)      // beyond the table
        #expect(t.lookup(.max) == .error)
    }

    @Test("rqstor.zero: id 0 returns 0 before 5.18 and VMBUS_RQST_ERROR from 5.18")
    func zero() {
        #expect(KernelVersion(5, 17).zeroIdLookupIsError == false)
        #expect(KernelVersion(5, 18).zeroIdLookupIsError)
        var old = RequestIdTable(size: 4, zeroIdIsError: false)
        var new = RequestIdTable(size: 4, zeroIdIsError: true)
        #expect(old.lookup(0) == .zero)
        #expect(new.lookup(0) == .error)
    }

    @Test("rqstor.era: ≤ 5.13 the send allocates ids; ≥ 5.14 only with callbacks, else the raw value goes out")
    func eras() throws {
        for (version, callbacks, expectTable) in [(KernelVersion(5, 13), false, true), (KernelVersion(5, 14), false, false),
                                                  (KernelVersion(5, 14), true, true), (KernelVersion(6, 3), true, true)] {
            let log = ViolationLog()
            let c = Channel(version: version, log: log)
            c.requestorSize = 16
            c.usesRequestIdCallbacks = callbacks
            try c.open(ringSize: 8192) {}
            let id = try c.send(packet(32, flags: PacketFlags.completionRequested), cookie: 0xdead_beef)
            #expect(id == (expectTable ? 1 : 0xdead_beef), "kernel \(version) callbacks \(callbacks)")
        }
    }
}

@Suite("Channel")
struct ChannelTests {
    @Test("channel.rescind: the callback is reset, then sends fail with ENODEV")
    func rescind() throws {
        let log = ViolationLog()
        let c = Channel(version: .default, log: log)
        try c.open(ringSize: 8192) {}
        #expect(c.callback != nil)
        c.rescind()
        #expect(c.callback == nil && c.rescinded)
        #expect(throws: Errno.ENODEV) { try c.send(packet(32), cookie: 1) }
        #expect(log.total == 0)  // a send after rescind is the expected ENODEV, not a defect
    }

    @Test("channel.closed: a send after vmbus_close() is a guest defect")
    func sendAfterClose() throws {
        let log = ViolationLog()
        let c = Channel(version: .default, log: log)
        try c.open(ringSize: 8192) {}
        c.close()
        #expect(throws: Errno.ENODEV) { try c.send(packet(32), cookie: 1) }
        #expect(log.count("guest.send-on-closed-channel") == 1)
        c.close()
        #expect(log.count("guest.close-twice") == 1)
    }

    @Test("channel.full: ring full and request ids exhausted are both EAGAIN; nothing is published")
    func eagain() throws {
        let c = Channel(version: .default, log: ViolationLog())
        c.requestorSize = 2
        c.usesRequestIdCallbacks = true
        try c.open(ringSize: 4096 + 4096) {}
        _ = try c.send(packet(32, flags: 1), cookie: 1)
        _ = try c.send(packet(32, flags: 1), cookie: 2)
        let before = c.outbound!.writeIndex
        #expect(throws: Errno.EAGAIN) { try c.send(packet(32, flags: 1), cookie: 3) }
        #expect(c.outbound!.writeIndex == before)
        let c2 = Channel(version: .default, log: ViolationLog())
        try c2.open(ringSize: 4096 + 4096) {}
        _ = try c2.send(packet(4072), cookie: 1)
        #expect(throws: Errno.EAGAIN) { try c2.send(packet(16), cookie: 2) }
        #expect(c2.outFullTotal == 1)
    }
}

@Suite("Guest memory")
struct MemoryTests {
    @Test("mem.zero-page: an untouched page pins as the shared zero page without write intent, a fresh page with it")
    func zeroPage() throws {
        let log = ViolationLog()
        let mem = GuestMemory(log: log)
        let s = AddressSpace(pid: 1, memory: mem)
        let a = s.map(length: 4096, kind: .untouched)
        let p1 = try s.pin(a, length: 100, writeIntent: false)
        #expect(p1.pfns == [mem.zeroPFN])
        let p2 = try s.pin(a, length: 100, writeIntent: true)
        #expect(p2.pfns != [mem.zeroPFN] && s.pfn(of: a) == p2.pfns[0])
        s.release(p1, who: "t"); s.release(p2, who: "t")
        #expect(log.total == 0)
    }

    @Test("mem.fork: after fork a write-intent pin breaks COW; a read pin stays on the shared frame")
    func fork() throws {
        let mem = GuestMemory(log: ViolationLog())
        let parent = AddressSpace(pid: 1, memory: mem)
        let a = parent.map(length: 10, kind: .populated, contents: Array("parent".utf8))
        let child = parent.fork(pid: 2)
        #expect(parent.pfn(of: a) == child.pfn(of: a))
        let shared = try child.pin(a, length: 10, writeIntent: false)
        #expect(shared.pfns[0] == parent.pfn(of: a))
        let own = try child.pin(a, length: 10, writeIntent: true)
        #expect(own.pfns[0] != parent.pfn(of: a))
        #expect(try child.read(a, count: 6) == Array("parent".utf8))
        try child.write(a, Array("child!".utf8))
        #expect(try parent.read(a, count: 6) == Array("parent".utf8))
        child.release(shared, who: "t"); child.release(own, who: "t")
    }

    @Test("mem.fault: unmapped and read-only pages; a failed pin releases what it took")
    func faults() throws {
        let mem = GuestMemory(log: ViolationLog())
        let s = AddressSpace(pid: 1, memory: mem)
        let ro = s.map(length: 8192, kind: .readOnly, contents: [1, 2, 3])
        #expect(throws: Errno.EFAULT) { try s.pin(ro, length: 10, writeIntent: true) }
        let p = try s.pin(ro, length: 10, writeIntent: false)
        #expect(try s.read(ro, count: 3) == [1, 2, 3])
        #expect(throws: Errno.EFAULT) { try s.write(ro, [9]) }
        // A buffer that runs into the guard page after its mapping.
        #expect(throws: Errno.EFAULT) { try s.pin(ro, length: 8193, writeIntent: false) }
        s.release(p, who: "t")
        #expect(mem.pinnedFrames == 0)
        #expect(throws: Errno.EFAULT) { try s.pin(0x1000, length: 1, writeIntent: false) }
    }

    @Test("mem.double-release, mem.leak, mem.host-write-without-intent are reported")
    func violations() throws {
        let log = ViolationLog()
        let mem = GuestMemory(log: log)
        let s = AddressSpace(pid: 1, memory: mem)
        let a = s.map(length: 4096, kind: .populated)
        let p = try s.pin(a, length: 10, writeIntent: false)
        var byte: UInt8 = 1
        #expect(mem.hostWrite(p.pfns[0], offset: 0, from: &byte, count: 1))
        #expect(log.count("pin.host-write-without-write-intent") == 1)
        s.release(p, who: "t")
        s.release(p, who: "t")
        #expect(log.count("pin.double-release") == 1)
        _ = try s.pin(a, length: 10, writeIntent: true)
        #expect(mem.reportLeakedPins() == 1 && log.count("pin.leak") == 1)
        #expect(mem.hostWrite(s.pfn(of: a)!, offset: 0, from: &byte, count: 1))
        #expect(log.count("pin.host-write-without-write-intent") == 1)  // write intent now: no new report
    }
}
