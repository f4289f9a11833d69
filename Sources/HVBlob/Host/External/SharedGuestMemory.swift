// SPDX-License-Identifier: Apache-2.0
#if canImport(Glibc)
import Glibc
#endif

/// Guest memory as an out-of-process host sees it: one file mapped MAP_SHARED by both sides.
/// Page i of the file is PFN `pfnBase + i` (4 KiB pages). The first `frameCount` pages are the
/// guest's frames (`GuestMemory` hands them out); after them come the ring pages, one
/// contiguous run per ring (`ringPages` pages each). The file is sparse: pages cost memory only
/// once touched. Layout and rules: Docs/host-interface.md.
public final class SharedGuestMemory {
    public let path: String
    public let frameCount: Int
    public let ringPagesTotal: Int
    public let pageCount: Int
    public let base: UnsafeMutableRawPointer
    private let fd: Int32
    private let ownsFile: Bool
    private var nextRingPage: Int
    public static let pfnBase = GuestMemory.pfnBase

    public struct Failure: Error, CustomStringConvertible {
        public let what: String
        public let path: String
        public let errno: Int32
        public var description: String { "\(what) \(path): \(String(cString: strerror(errno)))" }
    }

    /// The guest's side: creates (truncates) the file at `path`, `frameCount` frames plus room
    /// for `rings` rings of `ringSize` bytes each.
    public init(creating path: String, frameCount: Int = 1 << 18, rings: Int = 2, ringSize: Int = AzBlob.ringSize) throws(Failure) {
        let ringPages = ringSize / AzBlob.pageSize
        self.path = path
        self.frameCount = frameCount
        self.ringPagesTotal = rings * ringPages
        self.pageCount = frameCount + ringPagesTotal
        ownsFile = true
        nextRingPage = frameCount
        fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        if fd < 0 { throw Failure(what: "cannot create", path: path, errno: errno) }
        if ftruncate(fd, off_t(pageCount * AzBlob.pageSize)) != 0 {
            let e = errno
            close(fd)
            throw Failure(what: "cannot size", path: path, errno: e)
        }
        guard let p = mmap(nil, pageCount * AzBlob.pageSize, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0), p != MAP_FAILED else {
            let e = errno
            close(fd)
            throw Failure(what: "cannot map", path: path, errno: e)
        }
        base = p
    }

    /// The host's side: maps an existing file of `pageCount` pages.
    public init(mapping path: String, pageCount: Int, frameCount: Int) throws(Failure) {
        self.path = path
        self.pageCount = pageCount
        self.frameCount = frameCount
        self.ringPagesTotal = pageCount - frameCount
        ownsFile = false
        nextRingPage = frameCount
        fd = open(path, O_RDWR | O_CLOEXEC)
        if fd < 0 { throw Failure(what: "cannot open", path: path, errno: errno) }
        var st = stat()
        if fstat(fd, &st) != 0 || Int(st.st_size) < pageCount * AzBlob.pageSize {
            close(fd)
            throw Failure(what: "shorter than the pages announced:", path: path, errno: EINVAL)
        }
        guard let p = mmap(nil, pageCount * AzBlob.pageSize, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0), p != MAP_FAILED else {
            let e = errno
            close(fd)
            throw Failure(what: "cannot map", path: path, errno: e)
        }
        base = p
    }

    deinit {
        munmap(base, pageCount * AzBlob.pageSize)
        close(fd)
        if ownsFile { unlink(path) }
    }

    /// Frame i of the guest's frames, nil past them.
    public func frame(_ i: Int) -> UnsafeMutableRawPointer? {
        i >= 0 && i < frameCount ? base + i * AzBlob.pageSize : nil
    }

    /// The page of `pfn` anywhere in the file (frames and rings), nil outside it.
    public func page(_ pfn: UInt64) -> UnsafeMutableRawPointer? {
        guard pfn >= SharedGuestMemory.pfnBase, pfn - SharedGuestMemory.pfnBase < UInt64(pageCount) else { return nil }
        return base + Int(pfn - SharedGuestMemory.pfnBase) * AzBlob.pageSize
    }

    /// The guest's side: the next contiguous run of ring pages; returns its first PFN and the
    /// ring over it (zeroed, feature bits set).
    public func allocateRing(size: Int) -> (firstPFN: UInt64, ring: RingBuffer)? {
        let pages = size / AzBlob.pageSize
        guard nextRingPage + pages <= pageCount else { return nil }
        let first = nextRingPage
        nextRingPage += pages
        return (SharedGuestMemory.pfnBase + UInt64(first), RingBuffer(mapping: base + first * AzBlob.pageSize, size: size, initialize: true))
    }

    /// Ring pages are handed out afresh on every open of the same machine: reuse from the start.
    public func resetRings() { nextRingPage = frameCount }
}
