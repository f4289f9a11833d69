// SPDX-License-Identifier: Apache-2.0

/// `struct az_blob_vsp_request_ctx`: one request between its ioctl and its completion. The
/// pending list holds these; the request-id table maps the wire id back to one.
public final class RequestContext {
    /// The cookie given to the send: stands for the context's address.
    public let cookie: UInt64
    public let request: AzBlobRequestSync
    public let pid: Int
    public internal(set) var requestId: UInt64 = 0
    public internal(set) var completed = false
    /// What the completion carried, or the errno remove() failed the request with.
    public internal(set) var status: UInt32 = 0
    public internal(set) var responseLen: UInt32 = 0
    public internal(set) var failure: Errno? = nil
    var pins: [PinnedPages] = []
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
func digestPins(_ pins: [PinnedPages], into h: inout Hasher64) {
    h.add(pins.count)
    for p in pins {
        h.add(p.offset); h.add(p.length); h.add(p.writeIntent); h.add(p.pfns.count)
        for f in p.pfns { h.add(f) }
    }
}
