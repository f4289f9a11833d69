// SPDX-License-Identifier: Apache-2.0
import HVBlob
import Testing

/// Every validation rule of PROTOCOL.md §1, with its errno, in the posted driver's order.
@Suite("ioctl validation")
struct IoctlTests {
    static let limit = AzBlob.pageSize * AzBlob.maxPages

    @Test("ioctl.ok: a valid request completes with 0 and response written back")
    func ok() throws {
        let rig = try Rig()
        let (arg, _) = rig.argument(responseLen: 64)
        let (e, _) = rig.ioctl(arg)
        #expect(e == .success)
        let back = try AzBlobRequestSync.decode(try rig.space.read(arg, count: 72))
        #expect(back.responseStatus == 0)
        #expect(back.responseResponseLen == 4)  // "OK 0": nothing listed yet
        #expect(rig.machine.memory.pinnedFrames == 0)
        #expect(rig.log.total == 0)
    }

    @Test("ioctl.command.unknown: any other command -> EINVAL", arguments: [
        IoctlCommand(rawValue: 0xC048_52F1), IoctlCommand(rawValue: 0x8048_52F0), IoctlCommand(rawValue: 0),
    ])
    func unknownCommand(_ cmd: IoctlCommand) throws {
        let rig = try Rig()
        let (arg, _) = rig.argument()
        #expect(rig.ioctl(arg, command: cmd).0 == .EINVAL)
    }

    @Test("ioctl.cred.changed: credentials changed since open -> EACCES (checked first)")
    func credentials() throws {
        let rig = try Rig()
        rig.space.credentials = 0
        let bad = AzBlobRequestSync(requestLen: 0)  // would be EINVAL: EACCES must win
        #expect(rig.ioctl(rig.argument(bad)).0 == .EACCES)
    }

    @Test("ioctl.copy-in.fault: an unmapped or partly mapped argument -> EFAULT")
    func copyIn() throws {
        let rig = try Rig()
        #expect(rig.ioctl(0x10_0000).0 == .EFAULT)
        // The struct's last 8 bytes fall on the guard page after a 4 KiB mapping.
        let a = rig.space.map(length: 4096, kind: .populated)
        #expect(rig.ioctl(a + 4096 - 64).0 == .EFAULT)
    }

    @Test("ioctl.len.zero: request_len 0 or response_len 0 -> EINVAL, before any pin")
    func zeroLengths() throws {
        for (rq, rs) in [(0, 64), (32, 0), (0, 0)] {
            let rig = try Rig()
            let (_, good) = rig.argument()
            var r = good
            r.requestLen = UInt32(rq)
            r.responseLen = UInt32(rs)
            #expect(rig.ioctl(rig.argument(r)).0 == .EINVAL)
            #expect(rig.machine.memory.pinCalls == 0)
        }
    }

    @Test("ioctl.data-valid: data_len != 0 and data_len < data_valid -> EINVAL; data_len 0 ignores data_valid")
    func dataValid() throws {
        let rig = try Rig()
        let (_, good) = rig.argument(dataLen: 100, dataValid: 100)
        var r = good
        r.dataValid = 101
        #expect(rig.ioctl(rig.argument(r)).0 == .EINVAL)
        #expect(rig.machine.memory.pinCalls == 0)
        r.dataValid = 100
        #expect(rig.ioctl(rig.argument(r)).0 == .success)
        var noData = good
        noData.dataLen = 0
        noData.dataValid = 5000
        #expect(rig.ioctl(rig.argument(noData)).0 == .success)
    }

    @Test("ioctl.len.max: a length above 8192 pages -> EINVAL without pinning; exactly 8192 pages passes the rule", arguments: [0, 1, 2])
    func lengthLimit(_ which: Int) throws {
        let rig = try Rig()
        let (_, good) = rig.argument()
        var r = good
        let over = UInt32(IoctlTests.limit + 1)
        switch which {
        case 0: r.requestLen = over
        case 1: r.responseLen = over
        default: r.dataLen = over
        }
        #expect(rig.ioctl(rig.argument(r)).0 == .EINVAL)
        #expect(rig.machine.memory.pinCalls == 0)
        // Exactly the limit passes this rule and is refused later by the total-page rule,
        // after pins were taken (and all released again).
        switch which {
        case 0: r.requestLen = UInt32(IoctlTests.limit)
        case 1: r.responseLen = UInt32(IoctlTests.limit)
        default: r.dataLen = UInt32(IoctlTests.limit)
        }
        let big = rig.space.map(length: IoctlTests.limit, kind: .populated)
        switch which {
        case 0: r.requestBuffer = big
        case 1: r.responseBuffer = big
        default: r.dataBuffer = big
        }
        #expect(rig.ioctl(rig.argument(r)).0 == .EINVAL)
        #expect(rig.machine.memory.pinCalls > 0)
        #expect(rig.machine.memory.pinnedFrames == 0)
    }

    @Test("ioctl.pin.fault: an unmapped request, response or data page -> EFAULT, every pin released", arguments: [0, 1, 2])
    func pinFault(_ which: Int) throws {
        let rig = try Rig()
        let (_, good) = rig.argument(responseLen: 5000, dataLen: 9000, dataValid: 0)
        var r = good
        switch which {
        case 0: r.requestBuffer = 0x100
        case 1: r.responseLen = 9000  // runs into the guard page
        default: r.dataLen = 20000
        }
        #expect(rig.ioctl(rig.argument(r)).0 == .EFAULT)
        #expect(rig.machine.memory.pinnedFrames == 0)
        #expect(rig.log.total == 0)
    }

    @Test("ioctl.pin.intent: the fixed driver pins the request read-only and response/data for writing")
    func pinIntent() throws {
        let rig = try Rig()
        let ro = rig.space.map(length: 64, kind: .readOnly, contents: BlobStore.request("LIST", "x"))
        let (_, good) = rig.argument()
        var r = good
        r.requestBuffer = ro
        #expect(rig.ioctl(rig.argument(r)).0 == .success)  // a request in read-only memory is fine
        var r2 = good
        r2.responseBuffer = rig.space.map(length: 64, kind: .readOnly)
        #expect(rig.ioctl(rig.argument(r2)).0 == .EFAULT)  // the host must be able to write the response
        #expect(rig.log.total == 0)
    }

    @Test("ioctl.pin.intent.v5: v5 pins the request for writing (EFAULT on read-only) and the response without (zero page written)")
    func pinIntentV5() throws {
        let rig = try Rig(behavior: .v5, version: KernelVersion(5, 13))
        let ro = rig.space.map(length: 64, kind: .readOnly, contents: BlobStore.request("LIST", "x"))
        let (_, good) = rig.argument()
        var r = good
        r.requestBuffer = ro
        #expect(rig.ioctl(rig.argument(r)).0 == .EFAULT)
        #expect(rig.ioctl(rig.argument(good)).0 == .success)
        #expect(rig.log.count("pin.host-write-without-write-intent") >= 1)
        #expect(rig.log.violations.contains { $0.detail.contains("zero page") })
    }

    @Test("ioctl.pages.total: request + response + data pages > 8192 -> EINVAL; exactly 8192 is sent")
    func totalPages() throws {
        let rig = try Rig()
        // 1 request page + 1 response page + 8190 data pages = 8192.
        let dataLen = (AzBlob.maxPages - 2) * AzBlob.pageSize
        let (arg, _) = rig.argument(dataLen: dataLen, dataValid: 0, dataKind: .populated)
        let (call, pkt) = rig.packet(arg)
        #expect(call.phase == .queue)
        let p = try GPADirectPacket.decode(try #require(pkt))
        #expect(p.pfns.count == AzBlob.maxPages && p.rangeLen == UInt32(AzBlob.maxPages * AzBlob.pageSize))
        #expect(rig.finish(call) == .success)
        // The same data one byte into its first page spans 8191 pages: 8193 in all.
        let (arg2, _) = rig.argument(dataLen: dataLen, dataValid: 0, dataOffset: 1, dataKind: .populated)
        #expect(rig.ioctl(arg2).0 == .EINVAL)
        #expect(rig.machine.memory.pinnedFrames == 0)
    }

    @Test("ioctl.alloc: an allocation failure -> ENOMEM, pins released")
    func enomem() throws {
        for n in [1, 2] {
            let rig = try Rig()
            rig.vsc.failAllocation = n
            let (arg, _) = rig.argument(dataLen: 100)
            #expect(rig.ioctl(arg).0 == .ENOMEM)
            #expect(rig.machine.memory.pinnedFrames == 0)
        }
    }

    @Test("ioctl.send.errno: the send's errno is returned (EAGAIN ring full, ENODEV rescinded)")
    func sendErrors() throws {
        let rig = try Rig()
        rig.machine.channel.rescind()
        let (arg, _) = rig.argument()
        #expect(rig.ioctl(arg).0 == .ENODEV)
        #expect(rig.machine.memory.pinnedFrames == 0)
        #expect(rig.vsc.pending.isEmpty)
        // Fill the guest->host ring with 32 MiB requests that the host does not read yet.
        let rig2 = try Rig(faults: try FaultPlan(spec: "never-complete=1"))
        let dataLen = (AzBlob.maxPages - 2) * AzBlob.pageSize
        var results: [Errno] = []
        for _ in 0..<3 {
            let (a, _) = rig2.argument(dataLen: dataLen, dataKind: .populated)
            let (call, _) = rig2.packet(a)
            let r = call.run()
            if case .returned(let e) = r { results.append(e) } else { results.append(.success) }
        }
        // Each packet is 65,624 bytes: one fits in the 126,976-byte data area, a second does not.
        #expect(results == [.success, .EAGAIN, .EAGAIN])
    }

    @Test("ioctl.copy-out.fault: the response cannot be written back -> EFAULT, pins released")
    func copyOut() throws {
        let rig = try Rig()
        let (_, r) = rig.argument()
        let ro = rig.space.map(length: 72, kind: .readOnly, contents: r.encoded())
        #expect(rig.ioctl(ro).0 == .EFAULT)
        #expect(rig.machine.memory.pinnedFrames == 0 && rig.vsc.pending.isEmpty)
    }

    @Test("ioctl.response-len.bound: the host's response_len is clamped to the caller's (fixed), copied through (v5)")
    func responseLenBound() throws {
        for b in [DriverBehavior.fixed, .v5] {
            let rig = try Rig(behavior: b, version: b == .v5 ? KernelVersion(5, 13) : .default,
                              faults: try FaultPlan(spec: "oversized-response-len=1"))
            let (arg, _) = rig.argument(responseLen: 64)
            #expect(rig.ioctl(arg).0 == .success)
            let back = try AzBlobRequestSync.decode(try rig.space.read(arg, count: 72))
            if b == .fixed { #expect(back.responseResponseLen == 64) } else { #expect(back.responseResponseLen > 64) }
        }
    }

    @Test("ioctl.removing: after remove set `removing`, a request returns ENODEV without touching the channel")
    func removing() throws {
        let rig = try Rig()
        let (arg, _) = rig.argument()
        let call = rig.vsc.startIoctl(rig.file, command: .azBlobUserRequest, argument: arg)
        while call.phase != .queue { _ = call.step() }
        let remove = rig.vsc.startRemove()
        _ = remove.step()  // deregister
        _ = remove.step()  // removing = true
        #expect(rig.vsc.removing)
        #expect(rig.finish(call) == .ENODEV)
        #expect(rig.machine.channel.packetsSent == 0)
        #expect(remove.run() == .returned(.success))
        #expect(rig.log.total == 0)
    }

    @Test("machine.freed: a machine that served round trips, and one left with a call waiting on the host, is freed once dropped (the calls a device keeps to reuse hold nothing back)")
    func freed() throws {
        weak var served: Machine?, servedDevice: BlobVSC?, servedChannel: Channel?
        weak var waiting: Machine?, waitingDevice: BlobVSC?
        do {
            let rig = try Rig()
            for _ in 0..<3 { #expect(rig.ioctl(rig.argument().0).0 == .success) }
            served = rig.machine
            servedDevice = rig.vsc
            servedChannel = rig.machine.channel
        }
        do {
            var faults = FaultPlan()
            faults.neverComplete = 1
            let rig = try Rig(faults: faults)
            // A call that returned (a wrong command: EINVAL) is kept by the device to reuse.
            #expect(rig.ioctl(rig.argument().0, command: IoctlCommand(rawValue: 0x1234)).0 == .EINVAL)
            let (e, call) = rig.ioctl(rig.argument().0)
            #expect(e == nil && call.phase == .wait, "the call should wait on a host that never completes")
            waiting = rig.machine
            waitingDevice = rig.vsc
        }
        #expect(served == nil && servedDevice == nil && servedChannel == nil,
                "a machine that served round trips (or its device, or its channel and rings) outlived its last reference")
        #expect(waiting == nil && waitingDevice == nil, "a machine with a call left waiting (or its device) outlived its last reference")
    }

    @Test("ioctl.reuse: a call and a context are reused only once nothing else holds them, and a reused one starts as a new one")
    func reuse() throws {
        let rig = try Rig()
        let (arg, r) = rig.argument(dataLen: 4096, dataKind: .populated)
        var kept: [RequestContext] = []
        rig.vsc.onCompletionDelivered = { _, ctx in if kept.isEmpty { kept.append(ctx) } }
        // A call the test still holds is never handed out again, nor the context an observer kept.
        let (e1, first) = rig.ioctl(arg)
        let (e2, second) = rig.ioctl(arg)
        #expect(e1 == .success && e2 == .success)
        #expect(first !== second, "a call still held was handed out again")
        let keptCookie = kept.first?.cookie
        #expect(keptCookie != nil && second.context !== kept.first, "a context an observer holds was reused")
        #expect(kept.first?.cookie == keptCookie && kept.first?.completed == true)
        // Once no one holds the last call, the next ioctl may take it: everything it shows is the
        // new request's, nothing of the last one.
        let secondId = ObjectIdentifier(second)
        var lastCookie = second.context?.cookie ?? 0
        _ = consume second
        var arg2 = rig.argument(dataLen: 0).0
        var reusedSeen = false
        for _ in 0..<3 {
            let call = rig.vsc.startIoctl(rig.file, command: .azBlobUserRequest, argument: arg2)
            if ObjectIdentifier(call) == secondId { reusedSeen = true }
            #expect(call.phase == .validate && call.request == nil && call.context == nil && call.packet == nil)
            #expect(call.requestId == nil && call.result == nil && !call.killed && call.argument == arg2)
            #expect(rig.finish(call) == .success)
            #expect(call.request?.dataLen == 0 && call.requestId != nil)
            #expect((call.context?.cookie ?? 0) > lastCookie, "the context's cookie is not a new one")
            lastCookie = call.context?.cookie ?? .max
            #expect(call.context?.request.dataLen == 0 && call.context?.failure == nil && call.context?.abandoned == false)
            arg2 = rig.argument(dataLen: 0).0
        }
        #expect(reusedSeen, "no call was ever reused: the pool does nothing")
        #expect(r.dataLen == 4096 && rig.log.total == 0, "\(rig.log.violations)")
    }

    @Test("ioctl.order: with several rules broken, the first in PROTOCOL.md §1 order decides")
    func order() throws {
        let rig = try Rig()
        let (_, good) = rig.argument()
        var r = good
        r.requestLen = 0
        r.dataLen = 1
        r.dataValid = 2
        r.responseBuffer = 0x100  // unmapped: EFAULT only if pinning were reached
        #expect(rig.ioctl(rig.argument(r)).0 == .EINVAL)
        var r2 = good
        r2.responseBuffer = 0x100
        r2.dataLen = UInt32(IoctlTests.limit + 1)
        #expect(rig.ioctl(rig.argument(r2)).0 == .EINVAL)
        var r3 = good
        r3.responseBuffer = 0x100
        #expect(rig.ioctl(rig.argument(r3)).0 == .EFAULT)
    }
}

/// The MPB packet the driver builds (PROTOCOL.md §2): PFN order data, request, response; each
/// buffer's offset within the concatenated range; range.len; dataoffset8 and length8.
@Suite("MPB construction")
struct MPBTests {
    struct Case: CustomTestStringConvertible, Sendable {
        let requestOffset: Int, requestLen: Int
        let responseOffset: Int, responseLen: Int
        let dataOffset: Int, dataLen: Int
        var testDescription: String {
            "req \(requestOffset)+\(requestLen) resp \(responseOffset)+\(responseLen) data \(dataOffset)+\(dataLen)"
        }
    }

    static let cases: [Case] = {
        var c: [Case] = []
        for off in [0, 1, 4095] {
            for pages in [1, 2, 3] {
                let len = pages * AzBlob.pageSize - (off == 0 ? 0 : 4096 - 1)  // spans `pages` pages from `off`
                c.append(Case(requestOffset: off, requestLen: max(len, 1), responseOffset: 4095 - off, responseLen: 64,
                              dataOffset: off, dataLen: max(len, 1)))
            }
            c.append(Case(requestOffset: off, requestLen: 1, responseOffset: off, responseLen: 1, dataOffset: 0, dataLen: 0))
        }
        return c
    }()

    @Test("mpb.layout: PFNs, offsets, range.len, dataoffset8, length8", arguments: cases)
    func layout(_ c: Case) throws {
        let rig = try Rig()
        let (arg, r) = rig.argument(requestLen: c.requestLen, requestOffset: c.requestOffset, responseLen: c.responseLen,
                                    responseOffset: c.responseOffset, dataLen: c.dataLen, dataValid: c.dataLen,
                                    dataOffset: c.dataOffset, dataKind: .populated, request: [UInt8](repeating: 0x41, count: c.requestLen))
        let (call, bytes) = rig.packet(arg)
        let p = try GPADirectPacket.decode(try #require(bytes))
        func pfns(_ a: UInt64, _ len: Int) -> [UInt64] {
            let n = AzBlob.pagesSpanned(offset: Int(a & 0xfff), length: len)
            return (0..<n).map { rig.space.pfn(of: (a & ~0xfff) + UInt64($0 * AzBlob.pageSize))! }
        }
        let dataPFNs = c.dataLen > 0 ? pfns(r.dataBuffer, c.dataLen) : []
        let reqPFNs = pfns(r.requestBuffer, c.requestLen)
        let respPFNs = pfns(r.responseBuffer, c.responseLen)
        #expect(Array(p.pfns) == dataPFNs + reqPFNs + respPFNs)
        #expect(p.type == .dataUsingGPADirect && p.flags == 1 && p.rangeCount == 1 && p.rangeOffset == 0 && p.reserved == 0)
        #expect(p.rangeLen == UInt32(p.pfns.count * AzBlob.pageSize))
        #expect(Int(p.dataOffset8) * 8 == 32 + 8 * p.pfns.count)
        #expect(Int(p.length8) * 8 == (32 + 8 * p.pfns.count + 56 + 7) / 8 * 8)
        let v = p.request
        #expect(v.version == 0 && v.operation == .userRequest && v.timeoutMs == 500 && v.transactionId == r.guid)
        #expect(v.dataBufferOffset == (c.dataLen > 0 ? UInt32(c.dataOffset) : 0))
        #expect(v.dataBufferLength == UInt32(c.dataLen) && v.dataBufferValid == UInt32(c.dataLen))
        #expect(v.requestBufferOffset == UInt32(c.requestOffset + dataPFNs.count * 4096))
        #expect(v.requestBufferLength == UInt32(c.requestLen))
        #expect(v.responseBufferOffset == UInt32(c.responseOffset + (dataPFNs.count + reqPFNs.count) * 4096))
        #expect(v.responseBufferLength == UInt32(c.responseLen))
        // The host accepts what the driver built, and the round trip completes.
        #expect(rig.finish(call) == .success)
        #expect(rig.log.total == 0, "\(rig.log.violations)")
    }
}
