// SPDX-License-Identifier: Apache-2.0

/// Physical memory of the simulated guest: 4 KiB frames named by PFN, with the accounting a
/// faithful guest needs (PROTOCOL.md §6): how often each frame is pinned, how often with write
/// intent, and by how many user mappings it is shared. Violations (a page released twice, a
/// host write into a page pinned without write intent, a host access to a page nobody pinned,
/// pins left at the end) go to the shared `ViolationLog`.
public final class GuestMemory {
    public static let pageSize = AzBlob.pageSize
    /// PFNs start here so that no real frame has PFN 0.
    public static let pfnBase: UInt64 = 0x1000
    /// The shared zero page: every untouched anonymous page maps it until first written.
    public let zeroPFN: UInt64 = GuestMemory.pfnBase

    let log: ViolationLog
    private var frames: [UnsafeMutableRawPointer?] = []
    private var pins: [Int32] = []
    private var writePins: [Int32] = []
    /// Written by the host through a write-intent pin and not yet marked dirty by the guest
    /// (set_page_dirty_lock, unpin_user_pages_dirty_lock(..., true)).
    private var hostDirty: [Bool] = []
    private var maps: [Int32] = []
    private var freeList: [Int] = []
    public private(set) var framesInUse = 0
    /// Every pin and release, counted (the thin, countable boundary swift-system keeps).
    public private(set) var pinCalls = 0
    public private(set) var releaseCalls = 0
    /// While set, every host access violation (freed, unpinned, or pinned without write intent:
    /// the frame may belong to someone else by now) is reported under this rule instead:
    /// the simulator sets it when the host works on a request whose ioctl already returned
    /// because the host misdelivered a completion (the host's fault, not the guest's).
    public var hostAccessAttribution: Rule? = nil
    /// Host writes are recorded here when set (capture).
    public var recorder: CaptureRecorder?
    /// When set, frame i lives at page i of this shared-memory file (PFN = pfnBase + i), so an
    /// out-of-process host maps the same bytes; frames are then never deallocated, only reused.
    public let backing: SharedGuestMemory?

    public init(log: ViolationLog, backing: SharedGuestMemory? = nil) {
        self.log = log
        self.backing = backing
        _ = allocateFrame()  // the zero page
        maps[0] = 1  // never freed
    }

    /// An out-of-process host's view of the guest's memory file: every frame of it exists and
    /// counts as pinned with write intent (the host cannot see the guest's pins; the guest
    /// checks the host's accesses from its side).
    public init(log: ViolationLog, viewing shared: SharedGuestMemory) {
        self.log = log
        self.backing = shared
        frames = (0..<shared.frameCount).map { shared.frame($0) }
        pins = Array(repeating: 1, count: shared.frameCount)
        writePins = pins
        maps = pins
        hostDirty = Array(repeating: false, count: shared.frameCount)
        framesInUse = shared.frameCount
    }

    deinit {
        if backing == nil { for f in frames { f?.deallocate() } }
        for u in undo { u.page?.deallocate() }
        for p in spare { p.deallocate() }
    }

    /// Every frame in use, by PFN (the host-interface checks compare them before and after the
    /// host ran).
    public var framesInUseByPFN: [UInt64] {
        frames.indices.compactMap { frames[$0] == nil ? nil : GuestMemory.pfnBase + UInt64($0) }
    }

    @inline(__always) func index(_ pfn: UInt64) -> Int? {
        let i = Int(truncatingIfNeeded: pfn &- GuestMemory.pfnBase)
        // i is negative for a PFN of 2^63 or more (a hostile PFN list): not a frame.
        guard pfn >= GuestMemory.pfnBase, i >= 0, i < frames.count, frames[i] != nil else { return nil }
        return i
    }

    public func isValid(_ pfn: UInt64) -> Bool { index(pfn) != nil }

    /// A fresh zeroed frame, LIFO from the free list so runs replay identically.
    func allocateFrame() -> UInt64 {
            let reuse = freeList.popLast()
        if let i = reuse { touch(i) }
        let p: UnsafeMutableRawPointer
        if let backing {
            // Past the file's end is an internal limit of the shared file, sized by its creator.
            guard let q = backing.frame(reuse ?? frames.count) else {
                preconditionFailure("internal: shared guest memory of \(backing.frameCount) frames is full")
            }
            p = q
        } else {
            p = UnsafeMutableRawPointer.allocate(byteCount: GuestMemory.pageSize, alignment: GuestMemory.pageSize)
        }
        p.initializeMemory(as: UInt8.self, repeating: 0, count: GuestMemory.pageSize)
        framesInUse += 1
        if let i = reuse {
            frames[i] = p; pins[i] = 0; writePins[i] = 0; maps[i] = 0; hostDirty[i] = false
            return GuestMemory.pfnBase + UInt64(i)
        }
        frames.append(p); pins.append(0); writePins.append(0); maps.append(0); hostDirty.append(false)
        return GuestMemory.pfnBase + UInt64(frames.count - 1)
    }

    private func freeIfUnused(_ i: Int) {
        guard i != 0, maps[i] == 0, pins[i] == 0, let p = frames[i] else { return }
        touch(i)
        if backing == nil { p.deallocate() }
        frames[i] = nil
        freeList.append(i)
        framesInUse -= 1
    }

    func mapRef(_ pfn: UInt64) { if let i = index(pfn) { touch(i); maps[i] += 1 } }
    func mapUnref(_ pfn: UInt64) {
        guard let i = index(pfn) else { return }
        touch(i)
        maps[i] -= 1
        freeIfUnused(i)
    }
    func mapCount(_ pfn: UInt64) -> Int { index(pfn).map { Int(maps[$0]) } ?? 0 }

    @inline(__always) func pointer(_ pfn: UInt64) -> UnsafeMutableRawPointer? {
        guard let i = index(pfn) else { return nil }
        return frames[i]
    }

    // MARK: pinning

    /// get_user_pages()'s accounting for one frame.
    func pin(_ pfn: UInt64, writeIntent: Bool) {
        guard let i = index(pfn) else { return }
        touch(i)
        pinCalls += 1
        pins[i] += 1
        if writeIntent { writePins[i] += 1 }
    }

    /// put_page() on a pinned frame. Releasing a frame with no pin left is a double release.
    public func release(_ pfn: UInt64, writeIntent: Bool, who: @autoclosure () -> String) {
        releaseCalls += 1
        guard let i = index(pfn), pins[i] > 0 else {
            log.report("pin.double-release", "\(who()): PFN \(hex64(pfn)) released with no pin held")
            return
        }
        touch(i)
        pins[i] -= 1
        if writeIntent { writePins[i] = max(0, writePins[i] - 1) }
        if writeIntent && hostDirty[i] {
            hostDirty[i] = false
            log.report("pin.host-write-not-dirtied",
                       "\(who()): PFN \(hex64(pfn)) released after the host wrote it, never marked dirty (set_page_dirty_lock or unpin_user_pages_dirty_lock(..., true)): the host's data can be lost when the page is reclaimed")
        }
        freeIfUnused(i)
    }

    /// set_page_dirty_lock(): the guest says the page's contents changed (the host wrote it).
    public func markDirty(_ pfn: UInt64) {
        guard let i = index(pfn) else { return }
        touch(i)
        hostDirty[i] = false
    }

    public func pinCount(_ pfn: UInt64) -> Int { index(pfn).map { Int(pins[$0]) } ?? 0 }
    public func writePinCount(_ pfn: UInt64) -> Int { index(pfn).map { Int(writePins[$0]) } ?? 0 }

    /// Total pins outstanding (0 in a clean finish).
    public var pinnedFrames: Int { pins.reduce(0) { $0 + ($1 > 0 ? 1 : 0) } }

    /// Reports every frame still pinned: at the end of a run, pins the guest never released.
    @discardableResult
    public func reportLeakedPins() -> Int {
        var n = 0
        for (i, c) in pins.enumerated() where c > 0 {
            n += 1
            log.report("pin.leak", "PFN \(hex64(GuestMemory.pfnBase + UInt64(i))) still pinned \(c) time(s) at the end")
        }
        return n
    }

    // MARK: host access (the VSP reading and writing guest pages through a PFN list)

    /// The host reads `count` bytes at `offset` of frame `pfn`. The frame must be pinned.
    @inline(__always)
    public func hostRead(_ pfn: UInt64, offset: Int, into dst: UnsafeMutableRawPointer, count: Int) -> Bool {
        guard let i = index(pfn), let p = frames[i] else {
            log.report(hostAccessAttribution ?? "pin.host-access-freed", "host read of PFN \(hex64(pfn)), which the guest has freed or never had")
            return false
        }
        if pins[i] == 0 {
            log.report(hostAccessAttribution ?? "pin.host-access-unpinned", "host read of PFN \(hex64(pfn)), which is not pinned")
        }
        dst.copyMemory(from: p + offset, byteCount: count)
        return true
    }

    /// The host writes into frame `pfn`. Writing a frame pinned without write intent is a guest
    /// defect (the write may land in the shared zero page or a page shared after fork).
    @inline(__always)
    public func hostWrite(_ pfn: UInt64, offset: Int, from src: UnsafeRawPointer, count: Int) -> Bool {
        guard let i = index(pfn), let p = frames[i] else {
            log.report(hostAccessAttribution ?? "pin.host-access-freed", "host write to PFN \(hex64(pfn)), which the guest has freed or never had")
            return false
        }
        touch(i)
        if pins[i] == 0 {
            log.report(hostAccessAttribution ?? "pin.host-access-unpinned", "host write to PFN \(hex64(pfn)), which is not pinned")
        } else if writePins[i] > 0 {
            hostDirty[i] = true
        } else if writePins[i] == 0 {
            let what = i == 0 ? " (the shared zero page)" : (maps[i] > 1 ? " (shared by \(maps[i]) mappings)" : "")
            log.report(hostAccessAttribution ?? "pin.host-write-without-write-intent",
                       "host wrote \(count) byte(s) to PFN \(hex64(pfn))\(what), pinned without write intent")
        }
        (p + offset).copyMemory(from: src, byteCount: count)
        recorder?.hostWrite(pfn, offset: offset, from: src, count: count)
        return true
    }

    /// Guest-internal copy (user accesses through an address space), no pin checks.
    func copyOut(_ pfn: UInt64, offset: Int, into dst: UnsafeMutableRawPointer, count: Int) {
        guard let p = pointer(pfn) else { return }
        dst.copyMemory(from: p + offset, byteCount: count)
    }

    func copyIn(_ pfn: UInt64, offset: Int, from src: UnsafeRawPointer, count: Int) {
        guard let i = index(pfn), let p = frames[i] else { return }
        touch(i)
        (p + offset).copyMemory(from: src, byteCount: count)
    }

    func copyFrame(from src: UInt64, to dst: UInt64) {
        guard let s = pointer(src), let i = index(dst), let d = frames[i] else { return }
        touch(i)
        d.copyMemory(from: s, byteCount: GuestMemory.pageSize)
    }

    // MARK: checkpoint and reset

    /// What `restore` needs besides the per-frame undo log: the scalars and the free list as
    /// they were at the checkpoint.
    struct Checkpoint {
        let frameCount: Int
        let freeList: [Int]
        let framesInUse: Int
        let pinCalls: Int
        let releaseCalls: Int
        let hostAccessAttribution: Rule?
    }

    /// Frames below this index existed (or were free slots) at the active checkpoint; their
    /// first change after it saves their state in `undo`. 0: no checkpoint is active.
    private var checkpointFrames = 0
    /// How often memory was restored to a checkpoint (address spaces made before a reset
    /// leave the restored frames alone).
    private(set) var resets = 0
    /// `touchedEpoch[i] == epoch`: frame i is already in the undo log of this epoch.
    private var touchedEpoch: [UInt32] = []
    private var epoch: UInt32 = 1
    private struct Undo {
        let index: Int
        let pins: Int32, writePins: Int32, maps: Int32
        let hostDirty: Bool
        /// A copy of the frame's bytes at the checkpoint; nil when the slot was free.
        let page: UnsafeMutableRawPointer?
    }
    private var undo: [Undo] = []
    /// Page buffers of undo entries already restored, reused by the next epoch.
    private var spare: [UnsafeMutableRawPointer] = []

    /// The first change to frame `i` since the checkpoint: keep what it was.
    @inline(__always) private func touch(_ i: Int) {
        if i < checkpointFrames && touchedEpoch[i] != epoch { saveUndo(i) }
    }

    private func saveUndo(_ i: Int) {
        touchedEpoch[i] = epoch
        var copy: UnsafeMutableRawPointer? = nil
        if let p = frames[i] {
            let c = spare.popLast() ?? UnsafeMutableRawPointer.allocate(byteCount: GuestMemory.pageSize, alignment: 64)
            c.copyMemory(from: p, byteCount: GuestMemory.pageSize)
            copy = c
        }
        undo.append(Undo(index: i, pins: pins[i], writePins: writePins[i], maps: maps[i], hostDirty: hostDirty[i], page: copy))
    }

    /// Starts tracking changes from now on; `restore(_:)` brings memory back to this point.
    /// Not for memory shared with an out-of-process host (its pages are not ours to restore).
    func checkpoint() -> Checkpoint {
        precondition(backing == nil, "internal: checkpoint of shared guest memory")
        discardUndo()
        checkpointFrames = frames.count
        if touchedEpoch.count < frames.count { touchedEpoch.append(contentsOf: repeatElement(0, count: frames.count - touchedEpoch.count)) }
        return Checkpoint(frameCount: frames.count, freeList: freeList, framesInUse: framesInUse, pinCalls: pinCalls,
                          releaseCalls: releaseCalls, hostAccessAttribution: hostAccessAttribution)
    }

    private func discardUndo() {
        for u in undo { if let p = u.page { spare.append(p) } }
        undo.removeAll(keepingCapacity: true)
        epoch &+= 1
        if epoch == 0 {  // wrapped: no entry may look touched in the new epoch
            for i in touchedEpoch.indices { touchedEpoch[i] = 0 }
            epoch = 1
        }
    }

    /// Back to `c` (the active checkpoint): frames made since are freed, frames changed since
    /// get their bytes and counts back. Costs what the run touched, not what memory holds.
    func restore(_ c: Checkpoint) {
        precondition(c.frameCount == checkpointFrames, "internal: restore to a checkpoint that is not the active one")
        for i in stride(from: frames.count - 1, through: c.frameCount, by: -1) {
            if let p = frames[i] { p.deallocate() }
        }
        if frames.count > c.frameCount {
            let n = frames.count - c.frameCount
            frames.removeLast(n); pins.removeLast(n); writePins.removeLast(n); maps.removeLast(n); hostDirty.removeLast(n)
        }
        for u in undo {
            let i = u.index
            if let saved = u.page {
                let p = frames[i] ?? UnsafeMutableRawPointer.allocate(byteCount: GuestMemory.pageSize, alignment: GuestMemory.pageSize)
                p.copyMemory(from: saved, byteCount: GuestMemory.pageSize)
                frames[i] = p
            } else if let p = frames[i] {
                p.deallocate()
                frames[i] = nil
            }
            pins[i] = u.pins; writePins[i] = u.writePins; maps[i] = u.maps; hostDirty[i] = u.hostDirty
        }
        discardUndo()
        resets += 1
        freeList = c.freeList
        framesInUse = c.framesInUse
        pinCalls = c.pinCalls
        releaseCalls = c.releaseCalls
        hostAccessAttribution = c.hostAccessAttribution
    }

    /// Frames the run since the checkpoint changed (tests: a reset costs what a run touched).
    var framesTouchedSinceCheckpoint: Int { undo.count + max(0, frames.count - checkpointFrames) }
}

extension GuestMemory {
    /// Every frame's bytes, pins, write pins, dirty bit and map count, the free list and the
    /// counters, for the explorer's state digest. False for memory shared with another process.
    func stateDigest(into h: inout Hasher64) -> Bool {
        guard backing == nil else { return false }
        h.add(frames.count); h.add(framesInUse); h.add(pinCalls); h.add(releaseCalls)
        for i in frames.indices {
            if let f = frames[i] {
                h.add(1)
                h.add(bytes: UnsafeRawBufferPointer(start: f, count: GuestMemory.pageSize))
            } else {
                h.add(0)
            }
            h.add(UInt64(UInt32(bitPattern: pins[i])) | UInt64(UInt32(bitPattern: writePins[i])) << 32)
            h.add(UInt64(UInt32(bitPattern: maps[i])) << 1 | (hostDirty[i] ? 1 : 0))
        }
        h.add(freeList.count)
        for f in freeList { h.add(f) }
        h.add(hostAccessAttribution?.rawValue ?? "")
        return true
    }
}
