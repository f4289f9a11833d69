// SPDX-License-Identifier: Apache-2.0

/// Collects capture records from a running machine: the channel reports ring writes, open,
/// close and rescind; guest memory reports host writes; the harness reports ioctl calls and
/// returns. Attach with `Machine.recorder`.
public final class CaptureRecorder {
    public private(set) var capture = Capture()
    public var channelId: UInt32 = 1
    /// Host writes are recorded (replay needs them to reproduce what user space reads).
    public var recordHostWrites = true
    /// How the driver under test lays out its ioctl argument; records hold it in the reference
    /// layout, so a capture replays against any driver.
    public var abi: DriverABI = .reference
    var layout: RequestLayout { abi.layout }
    /// Called for every record as it is added (the replayer watches its own machine this way).
    public var onRecord: ((CaptureRecord) -> Void)?
    let clock: () -> UInt64

    public init(clock: @escaping () -> UInt64) {
        self.clock = clock
    }

    func add(_ r: CaptureRecord) {
        capture.records.append(r)
        onRecord?(r)
    }

    func ringPacket(_ direction: CaptureRecord.Direction, before: UInt32, after: UInt32, bytes: [UInt8], hostile: Bool = false) {
        if recordGuestData && direction == .guestToHost { guestData(of: bytes) }
        add(CaptureRecord(time: clock(), kind: .ringPacket, direction: direction,
                          flags: CaptureRecord.flagRingOffsets | (hostile ? CaptureRecord.flagHostile : 0),
                          channel: channelId, ringBefore: before, ringAfter: after, body: bytes))
    }

    /// Guest-data records before each guest->host packet (off by default): the bytes a host
    /// reads of it — its request buffer and the valid part of its data buffer — so the capture
    /// can be replayed against a host (`hvblob guest --record`, `--replay`).
    public var recordGuestData = false
    /// The memory those bytes are read from (the machine sets it).
    weak var memory: GuestMemory?

    private func guestData(of bytes: [UInt8]) {
        guard let memory, let pkt = try? GPADirectPacket.decode(bytes) else { return }
        let r = pkt.request
        let ranges = [(r.requestBufferOffset, r.requestBufferLength), (r.dataBufferOffset, min(r.dataBufferValid, r.dataBufferLength))]
        for (off, len) in ranges where len > 0 {
            var at = Int(off), left = Int(len)
            while left > 0 {
                let page = at / AzBlob.pageSize, inPage = at % AzBlob.pageSize
                guard page < pkt.pfns.count, let p = memory.pointer(pkt.pfns[page]) else { break }
                let n = min(left, AzBlob.pageSize - inPage)
                guestData(pkt.pfns[page], offset: inPage, bytes: Array(UnsafeRawBufferPointer(start: p + inPage, count: n)))
                at += n
                left -= n
            }
        }
    }

    /// One guest-data record: bytes of a page the guest hands the host with its next packet.
    func guestData(_ pfn: UInt64, offset: Int, bytes: [UInt8]) {
        add(CaptureRecord(time: clock(), kind: .guestData, direction: .guestToHost, channel: channelId,
                          body: CaptureRecord.pageBytesBody(pfn: pfn, offset: offset, bytes: bytes)))
    }

    /// The guest set its fields of a ring header (`direction` names the ring).
    func ringState(_ direction: CaptureRecord.Direction, interruptMask: UInt32, pendingSendSize: UInt32) {
        var w = WireWriter(capacity: 8)
        w.u32(interruptMask); w.u32(pendingSendSize)
        add(CaptureRecord(time: clock(), kind: .ringState, direction: direction, channel: channelId, body: w.bytes))
    }

    func ringRead(before: UInt32, after: UInt32) {
        add(CaptureRecord(time: clock(), kind: .guestRead, direction: .hostToGuest, flags: CaptureRecord.flagRingOffsets,
                          channel: channelId, ringBefore: before, ringAfter: after))
    }

    func lifecycle(_ kind: CaptureRecord.Kind, body: [UInt8] = []) {
        add(CaptureRecord(time: clock(), kind: kind, channel: channelId, body: body))
    }

    func hostWrite(_ pfn: UInt64, offset: Int, from src: UnsafeRawPointer, count: Int) {
        guard recordHostWrites, count > 0 else { return }
        var w = WireWriter(capacity: 16 + count)
        w.u64(pfn); w.u32(UInt32(offset)); w.u32(UInt32(count))
        w.bytes(Array(UnsafeRawBufferPointer(start: src, count: count)))
        add(CaptureRecord(time: clock(), kind: .hostWrite, channel: channelId, body: w.bytes))
    }

    /// The last close of the device file by `pid`.
    public func release(pid: Int) {
        add(CaptureRecord(time: clock(), kind: .release, channel: channelId, pid: UInt32(pid)))
    }

    /// The device's remove started.
    public func remove() {
        add(CaptureRecord(time: clock(), kind: .remove, channel: channelId))
    }

    /// User space entered the ioctl: the argument as it stands and the request buffer's bytes.
    public func ioctlCall(_ space: AddressSpace, command: IoctlCommand, argument: UInt64) {
        var arg = (try? space.read(argument, count: layout.size)) ?? []
        var reqBytes: [UInt8] = []
        if arg.count == layout.size, let r = try? layout.decode(arg) {
            reqBytes = (try? space.read(r.requestBuffer, count: Int(min(r.requestLen, 1 << 16)))) ?? []
            arg = r.encoded()
        }
        add(CaptureRecord(time: clock(), kind: .ioctlCall, channel: channelId, pid: UInt32(space.pid),
                          body: CaptureRecord.ioctlCallBody(command: abi.normalise(command).rawValue, argument: argument,
                                                            request: arg, requestBytes: reqBytes)))
    }

    /// The ioctl returned `result`; the response fields as user space now sees them.
    public func ioctlReturn(_ space: AddressSpace, argument: UInt64, result: Errno) {
        let status = (try? space.read(argument + UInt64(layout.responseStatus), count: 4)) ?? [0, 0, 0, 0]
        let length = (try? space.read(argument + UInt64(layout.responseResponseLen), count: 4)) ?? [0, 0, 0, 0]
        add(CaptureRecord(time: clock(), kind: .ioctlReturn, channel: channelId, pid: UInt32(space.pid),
                          body: CaptureRecord.ioctlReturnBody(result, status: status.u32(0), responseLength: length.u32(0))))
    }
}

/// Records every machine created while it is the current session (`CaptureSession.$current`),
/// each on its own channel number: how `hvblob verify --record` captures all its checks.
/// Used from one thread at a time (a task-local value must be Sendable; it holds no lock).
public final class CaptureSession: @unchecked Sendable {
    @TaskLocal public static var current: CaptureSession?

    public private(set) var recorders: [CaptureRecorder] = []

    public init() {}

    func attach(_ m: Machine) {
        let r = m.startRecording()
        r.channelId = UInt32(recorders.count + 1)
        recorders.append(r)
    }

    /// Every machine's records, one channel after another.
    public var capture: Capture { Capture(records: recorders.flatMap(\.capture.records)) }
}
