// SPDX-License-Identifier: Apache-2.0

/// How a user mapping is set up (what a test or fuzz input can ask for).
public enum MappingKind: String, Sendable, CaseIterable {
    /// mmap(MAP_ANONYMOUS) never written: every page is the shared zero page until written.
    case untouched
    /// Anonymous and already written (each page its own frame).
    case populated
    /// PROT_READ only, with contents: writes and write-intent pins fault.
    case readOnly = "read-only"
}

/// Pins taken for one user buffer: get_user_pages() over [address, address + length).
public struct PinnedPages: Sendable, Equatable {
    public let pfns: PFNList
    /// The buffer's offset into its first page.
    public let offset: Int
    public let length: Int
    public let writeIntent: Bool
}

/// One user process's view of memory: virtual pages mapped to guest frames, with copy-on-write
/// after fork and the zero page for untouched anonymous memory. User space writes its buffers
/// through here; the driver pins through here.
public final class AddressSpace {
    struct PTE {
        var pfn: UInt64
        var writable: Bool
        /// Shared with another address space after fork (or the zero page): a write copies first.
        var cow: Bool
        /// `writable` not known yet: asked of `writableResolver` at the first write or
        /// write-intent pin (a mirrored page of a real process, `hvblob serve`).
        var unresolved = false
    }

    /// Says whether the page at an address may be written, for pages mapped with
    /// `mapPage(at:writable: nil, ...)`: asked once per page, when the first write needs it.
    public var writableResolver: ((UInt64) -> Bool)?

    public let pid: Int
    /// The process's credentials; the ioctl compares them with those the file was opened with.
    public var credentials: UInt32 = 1000
    let memory: GuestMemory
    private var pages: [UInt64: PTE] = [:]
    private var nextAddress: UInt64 = 0x7f00_0000_0000
    public static let pageSize = AzBlob.pageSize

    /// The memory's reset count this space's mappings belong to: a space made after a
    /// checkpoint and still alive when the machine is reset maps frames that no longer exist,
    /// and must not touch the restored ones when it goes.
    private var generation: Int

    public init(pid: Int, memory: GuestMemory) {
        self.pid = pid
        self.memory = memory
        generation = memory.resets
    }

    deinit {
        guard generation == memory.resets else { return }
        for (_, pte) in pages { memory.mapUnref(pte.pfn) }
    }

    /// The process's mappings and credentials, to restore together with the machine's memory
    /// (`Machine.checkpoint()` covers the frames, this the page tables that point at them).
    public struct Checkpoint {
        fileprivate let credentials: UInt32
        fileprivate let pages: [UInt64: PTE]
        fileprivate let nextAddress: UInt64
    }

    public func checkpoint() -> Checkpoint { Checkpoint(credentials: credentials, pages: pages, nextAddress: nextAddress) }

    /// Back to `c`; call it after the machine's `reset(to:)` (the frames it maps are back then).
    public func reset(to c: Checkpoint) {
        credentials = c.credentials
        pages = c.pages
        nextAddress = c.nextAddress
        generation = memory.resets
    }

    /// Maps `length` bytes (at least one page) and returns an address `pageOffset` bytes into the
    /// first page. An unmapped guard page follows every mapping, so running off the end faults.
    public func map(length: Int, pageOffset: Int = 0, kind: MappingKind, contents: [UInt8] = []) -> UInt64 {
        let span = max(1, AzBlob.pagesSpanned(offset: pageOffset, length: max(length, 1)))
        let start = nextAddress
        nextAddress += UInt64(span + 1) * UInt64(AddressSpace.pageSize)
        for i in 0..<span {
            let vpn = (start >> 12) + UInt64(i)
            switch kind {
            case .untouched:
                memory.mapRef(memory.zeroPFN)
                pages[vpn] = PTE(pfn: memory.zeroPFN, writable: true, cow: true)
            case .populated, .readOnly:
                let pfn = memory.allocateFrame()
                memory.mapRef(pfn)
                pages[vpn] = PTE(pfn: pfn, writable: kind == .populated, cow: false)
            }
        }
        let address = start + UInt64(pageOffset)
        if !contents.isEmpty {
            contents.withUnsafeBytes { raw in
                kernelCopy(to: address, from: raw.baseAddress!, count: min(contents.count, span * AddressSpace.pageSize - pageOffset))
            }
        }
        return address
    }

    /// Unmaps whole pages covering [address, address + length).
    public func unmap(_ address: UInt64, length: Int) {
        let first = address >> 12
        let last = (address + UInt64(max(length, 1)) - 1) >> 12
        for vpn in first...last {
            if let pte = pages.removeValue(forKey: vpn) { memory.mapUnref(pte.pfn) }
        }
    }

    /// fork(): the child shares every frame; writable pages become copy-on-write in both.
    public func fork(pid: Int) -> AddressSpace {
        let child = AddressSpace(pid: pid, memory: memory)
        child.credentials = credentials
        child.nextAddress = nextAddress
        for (vpn, var pte) in pages {
            if pte.writable { pte.cow = true }
            pages[vpn] = pte
            child.pages[vpn] = pte
            memory.mapRef(pte.pfn)
        }
        return child
    }

    public func pfn(of address: UInt64) -> UInt64? { pages[address >> 12]?.pfn }

    /// Maps one page at `address` (rounded down to its page) holding `contents` (a page's
    /// worth): the mirror of a real process's page (`hvblob serve`). A page mapped there
    /// already is replaced; `writable: false` is a PROT_READ mapping, `nil` one whose
    /// permission `writableResolver` gives when a write first needs it.
    public func mapPage(at address: UInt64, writable: Bool?, contents: UnsafeRawPointer) {
        let vpn = address >> 12
        if let old = pages.removeValue(forKey: vpn) { memory.mapUnref(old.pfn) }
        let pfn = memory.allocateFrame()
        memory.mapRef(pfn)
        memory.copyIn(pfn, offset: 0, from: contents, count: AddressSpace.pageSize)
        pages[vpn] = PTE(pfn: pfn, writable: writable ?? false, cow: false, unresolved: writable == nil)
    }

    /// The bytes of the page holding `address` where they are, to read (nil when unmapped):
    /// valid until the page is unmapped or written. `hvblob serve` compares them in place
    /// with what it mirrored and hands them to process_vm_writev.
    public func pageBytes(at address: UInt64) -> UnsafeRawPointer? {
        guard let pte = pages[address >> 12], let p = memory.pointer(pte.pfn) else { return nil }
        return UnsafeRawPointer(p)
    }

    /// Whether the page holding `address` is mapped.
    public func isMapped(_ address: UInt64) -> Bool { pages[address >> 12] != nil }

    /// Makes the page writable and private (breaks COW, replaces the zero page).
    private func faultWritable(_ vpn: UInt64) -> PTE? {
        guard var pte = pages[vpn] else { return nil }
        if pte.unresolved {
            pte.writable = writableResolver?(vpn << 12) ?? false
            pte.unresolved = false
            pages[vpn] = pte
        }
        guard pte.writable else { return nil }
        if pte.cow {
            if pte.pfn == memory.zeroPFN || memory.mapCount(pte.pfn) > 1 {
                let fresh = memory.allocateFrame()
                if pte.pfn != memory.zeroPFN { memory.copyFrame(from: pte.pfn, to: fresh) }
                memory.mapRef(fresh)
                memory.mapUnref(pte.pfn)
                pte.pfn = fresh
            }
            pte.cow = false
            pages[vpn] = pte
        }
        return pte
    }

    // MARK: user space's own accesses (copy_to_user/copy_from_user also go through these)

    /// Writes user memory; EFAULT on an unmapped or read-only page (nothing written after it).
    public func write(_ address: UInt64, _ bytes: [UInt8]) throws(Errno) {
        let ok = bytes.withUnsafeBytes { raw -> Bool in
            guard let base = raw.baseAddress else { return true }
            do { try write(address, from: base, count: raw.count) } catch { return false }
            return true
        }
        if !ok { throw .EFAULT }
    }

    public func write(_ address: UInt64, from src: UnsafeRawPointer, count: Int) throws(Errno) {
        var done = 0
        while done < count {
            let a = address &+ UInt64(done)
            guard let pte = faultWritable(a >> 12) else { throw .EFAULT }
            let off = Int(a & 0xfff)
            let n = min(count - done, AddressSpace.pageSize - off)
            memory.copyIn(pte.pfn, offset: off, from: src + done, count: n)
            done += n
        }
    }

    /// Kernel-side fill used by `map(contents:)`, which may fill read-only mappings.
    private func kernelCopy(to address: UInt64, from src: UnsafeRawPointer, count: Int) {
        var done = 0
        while done < count {
            let a = address + UInt64(done)
            let off = Int(a & 0xfff)
            let n = min(count - done, AddressSpace.pageSize - off)
            if let pte = pages[a >> 12] {
                if pte.writable { _ = faultWritable(a >> 12) }
                memory.copyIn(pages[a >> 12]!.pfn, offset: off, from: src + done, count: n)
            }
            done += n
        }
    }

    /// Reads user memory; EFAULT on an unmapped page.
    public func read(_ address: UInt64, count: Int) throws(Errno) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: count)
        let ok = out.withUnsafeMutableBytes { raw -> Bool in
            guard let base = raw.baseAddress else { return true }
            do { try read(address, into: base, count: count) } catch { return false }
            return true
        }
        if !ok { throw .EFAULT }
        return out
    }

    public func read(_ address: UInt64, into dst: UnsafeMutableRawPointer, count: Int) throws(Errno) {
        var done = 0
        while done < count {
            let a = address &+ UInt64(done)
            guard let pte = pages[a >> 12] else { throw .EFAULT }
            let off = Int(a & 0xfff)
            let n = min(count - done, AddressSpace.pageSize - off)
            memory.copyOut(pte.pfn, offset: off, into: dst + done, count: n)
            done += n
        }
    }

    // MARK: pinning (iov_iter_get_pages_alloc over a single range)

    /// Pins every page of [address, address + length). With write intent (iov_iter direction
    /// READ: data flows into this memory) each page is made writable and private first, so a
    /// read-only mapping faults; without it the zero page and pages shared after fork stay as
    /// they are. Any unmapped page fails the whole call with EFAULT and releases what was pinned.
    public func pin(_ address: UInt64, length: Int, writeIntent: Bool) throws(Errno) -> PinnedPages {
        let offset = Int(address & 0xfff)
        let n = AzBlob.pagesSpanned(offset: offset, length: length)
        var pfns = PFNList()
        pfns.reserveCapacity(n)
        let firstVPN = address >> 12
        for i in 0..<n {
            let vpn = firstVPN &+ UInt64(i)
            let pte: PTE?
            if writeIntent { pte = faultWritable(vpn) } else { pte = pages[vpn] }
            guard let pte else {
                for p in pfns { memory.release(p, writeIntent: writeIntent, who: "pin unwind") }
                throw .EFAULT
            }
            memory.pin(pte.pfn, writeIntent: writeIntent)
            pfns.append(pte.pfn)
        }
        return PinnedPages(pfns: pfns, offset: offset, length: length, writeIntent: writeIntent)
    }

    /// Releases every page of a pin (put_page on each).
    public func release(_ pinned: PinnedPages, who: @autoclosure () -> String) {
        // unpin_user_pages_dirty_lock(pages, n, writeIntent): a page pinned for writing is
        // marked dirty as it is released.
        for p in pinned.pfns {
            if pinned.writeIntent { memory.markDirty(p) }
            memory.release(p, writeIntent: pinned.writeIntent, who: who())
        }
    }
}

extension AddressSpace {
    /// `response.status` and `response.response_len` as user space reads them back from an
    /// ioctl argument laid out as `layout`; nil when they are not readable.
    public func readResponse(at argument: UInt64, layout: RequestLayout) -> (status: UInt32, length: UInt32)? {
        guard let s = try? read(argument + UInt64(layout.responseStatus), count: 4),
              let n = try? read(argument + UInt64(layout.responseResponseLen), count: 4) else { return nil }
        func u32(_ b: [UInt8]) -> UInt32 { UInt32(b[0]) | UInt32(b[1]) << 8 | UInt32(b[2]) << 16 | UInt32(b[3]) << 24 }
        return (u32(s), u32(n))
    }
}

extension AddressSpace {
    /// The page table (each page's frame, writable, copy-on-write), the next address and the
    /// credentials, for the explorer's state digest.
    func stateDigest(into h: inout Hasher64) {
        h.add(pid); h.add(credentials); h.add(nextAddress); h.add(pages.count)
        for vpn in pages.keys.sorted() {
            let p = pages[vpn]!
            h.add(vpn); h.add(p.pfn); h.add(UInt64(p.writable ? 1 : 0) | UInt64(p.cow ? 2 : 0) | UInt64(p.unresolved ? 4 : 0))
        }
    }
}
