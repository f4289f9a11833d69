// SPDX-License-Identifier: Apache-2.0

/// `struct az_blob_vsp_request_ctx`: one request between its ioctl and its completion. The
/// pending list holds these; the request-id table maps the wire id back to one.
public final class RequestContext {
    /// The cookie given to the send: stands for the context's address.
    public private(set) var cookie: UInt64
    public private(set) var request: AzBlobRequestSync
    public private(set) var pid: Int
    public internal(set) var requestId: UInt64 = 0
    public internal(set) var completed = false
    /// What the completion carried, or the errno remove() failed the request with.
    public internal(set) var status: UInt32 = 0
    public internal(set) var responseLen: UInt32 = 0
    public internal(set) var failure: Errno? = nil
    var pins = PinSet()
    public internal(set) var sentAt: UInt64 = 0
    /// Its caller was killed while it waited: the context belongs to the channel alone, which
    /// releases its pins (in `owner`) when the host completes it or the channel closes.
    public internal(set) var abandoned = false
    var owner: AddressSpace?

    init(cookie: UInt64, request: AzBlobRequestSync, pid: Int) {
        self.cookie = cookie
        self.request = request
        self.pid = pid
    }

    /// Makes a context no one holds any more (the device checked) a new one, every field as
    /// `init` leaves it.
    func reuse(cookie: UInt64, request: AzBlobRequestSync, pid: Int) {
        self.cookie = cookie
        self.request = request
        self.pid = pid
        requestId = 0
        completed = false
        status = 0
        responseLen = 0
        failure = nil
        pins = PinSet()
        sentAt = 0
        abandoned = false
        owner = nil
    }
}

/// An open file on the misc device: holds a device reference and the opener's credentials.
public final class OpenFile {
    public let process: AddressSpace
    public let credentials: UInt32
    public var released = false
    /// A bridged driver's `struct file`.
    public var handle: UnsafeMutableRawPointer?
    public init(process: AddressSpace) {
        self.process = process
        self.credentials = process.credentials
    }
}

extension RequestContext {
    /// Every field, for the explorer's state digest.
    func stateDigest(into h: inout Hasher64) {
        h.add(cookie); h.add(pid); h.add(requestId); h.add(completed); h.add(status); h.add(responseLen)
        h.add(failure.map { UInt64(bitPattern: Int64($0.rawValue)) }); h.add(sentAt); h.add(abandoned)
        h.add(owner.map { UInt64($0.pid) })
        h.add(bytes: DriverABI.reference.layout.encode(request))
        digestPins(pins, into: &h)
    }
}

/// Pinned buffers (frames, offset, length, write intent), for the explorer's state digest.
func digestPins(_ pins: PinSet, into h: inout Hasher64) {
    h.add(pins.count)
    for p in pins {
        h.add(p.offset); h.add(p.length); h.add(p.writeIntent); h.add(p.pfns.count)
        for f in p.pfns { h.add(f) }
    }
}

/// The pins of one request (request, response and, with a data buffer, data), kept in the
/// call and then the context without a heap array.
struct PinSet: Sequence {
    private var first: PinnedPages?, second: PinnedPages?, third: PinnedPages?
    private(set) var count = 0

    mutating func append(_ p: PinnedPages) {
        switch count {
        case 0: first = p
        case 1: second = p
        case 2: third = p
        default: preconditionFailure("a request pins at most three buffers")
        }
        count += 1
    }

    subscript(i: Int) -> PinnedPages {
        precondition(i >= 0 && i < count, "pin index \(i) out of range 0..<\(count)")
        switch i {
        case 0: return first!
        case 1: return second!
        default: return third!
        }
    }

    struct Iterator: IteratorProtocol {
        let set: PinSet
        var index = 0
        mutating func next() -> PinnedPages? {
            guard index < set.count else { return nil }
            defer { index += 1 }
            return set[index]
        }
    }

    func makeIterator() -> Iterator { Iterator(set: self) }
}
