// SPDX-License-Identifier: Apache-2.0

/// Where a blocking call stands after one step.
public enum StepResult: Equatable, Sendable {
    /// More to do: step again (another activity may run first).
    case running
    /// Waiting: for a completion, or (with `until`) at most until that virtual time.
    case blocked(until: UInt64?)
    /// The call returned this errno to user space (`.success` = 0).
    case returned(Errno)
}

/// One IOCTL_AZ_BLOB_DRIVER_USER_REQUEST in progress (az_blob_ioctl_user_request), as a state
/// machine whose phases are the points where another activity can interleave:
///
///     validate  command, credentials, copy_from_user, the length rules   -> EINVAL/EACCES/EFAULT
///     pin       request, response, data pages; the total page limit; allocation -> EFAULT/EINVAL/ENOMEM
///     queue     list_add_tail(pending_requests); with the removing flag (the corrected
///               driver) this step also checks READ_ONCE(removing) first (-> ENODEV) and
///               sends: one critical section under the lock remove() sets the flag under
///     send      vmbus_sendpacket_mpb_desc() (v5: a separate step)       -> ENODEV/EAGAIN
///     wait      wait_for_completion_killable() (v5: wait_for_completion()); SIGKILL -> ERESTARTSYS,
///               the context left to the channel with its pins
///     finish    copy_to_user(response), list_del + wake, put_page each pin -> EFAULT/EIO/ENODEV
public final class IoctlCall: DriverCall {
    public enum Phase: String, Sendable { case validate, pin, queue, send, wait, finish, done }

    /// The device, until the call returns: a returned call lets go of it, since the device keeps
    /// returned calls to reuse (a pooled call holding its device would keep both alive forever).
    private var device: BlobVSC?
    var vsc: BlobVSC { device! }
    public private(set) var file: OpenFile
    public private(set) var command: IoctlCommand
    public private(set) var argument: UInt64
    public private(set) var phase: Phase = .validate
    public private(set) var request: AzBlobRequestSync?
    public private(set) var context: RequestContext?
    /// The exact bytes handed to the send (request id not yet filled in), until the send took
    /// them or the call returned (nil from then on: the buffer goes back to the device).
    public private(set) var packet: [UInt8]?
    /// The request id that went on the wire.
    public private(set) var requestId: UInt64?
    public private(set) var result: Errno?
    private var pins = PinSet()
    /// A fatal signal is pending for the calling thread (`signal(fatal:)`).
    public private(set) var killed = false

    init(vsc: BlobVSC, file: OpenFile, command: IoctlCommand, argument: UInt64) {
        self.device = vsc
        self.file = file
        self.command = command
        self.argument = argument
    }

    /// Makes a call no one holds any more (the device checked) a new one: every field as `init`
    /// leaves it, so nothing of the last request can be seen in this one.
    func reuse(_ vsc: BlobVSC, file: OpenFile, command: IoctlCommand, argument: UInt64) {
        self.device = vsc
        self.file = file
        self.command = command
        self.argument = argument
        phase = .validate
        request = nil
        context = nil
        packet = nil
        requestId = nil
        result = nil
        pins = PinSet()
        killed = false
    }

    /// Steps until the call blocks or returns.
    @discardableResult
    public func run() -> StepResult {
        while true {
            let r = step()
            if r != .running { return r }
        }
    }

    public var isBlocked: Bool { phase == .wait && !(context?.completed ?? false) && !(killed && vsc.behavior.killableWait) }
    public var isReady: Bool { phase == .wait && ((context?.completed ?? false) || (killed && vsc.behavior.killableWait)) }

    /// Delivers a signal to the calling thread; true when it woke the thread from its wait
    /// (only SIGKILL, and only a killable wait).
    @discardableResult
    public func signal(fatal: Bool) -> Bool {
        guard fatal else { return false }
        killed = true
        return phase == .wait && !(context?.completed ?? false) && vsc.behavior.killableWait
    }
    public var sentRequestId: UInt64? { requestId }
    public var waitDescription: String {
        guard let ctx = context else { return "phase \(phase.rawValue)" }
        return "wait_for_completion of request id \(ctx.requestId) (sent at t=\(ctx.sentAt))"
    }

    private func finish(_ e: Errno) -> StepResult {
        phase = .done
        result = e
        if let d = device {
            d.givePacketBuffer(&packet)
            device = nil
            d.returned(self)
        }
        return .returned(e)
    }

    private func unwindPins(_ e: Errno) -> StepResult {
        for p in pins { file.process.release(p, who: "ioctl unwind") }
        pins = PinSet()
        return finish(e)
    }

    public func step() -> StepResult {
        switch phase {
        case .validate: return validate()
        case .pin: return pinAndBuild()
        case .queue:
            guard let request else { return finish(.EINVAL) }
            if vsc.behavior.removingFlag && vsc.removing {
                return unwindPins(.ENODEV)
            }
            let ctx = vsc.newContext(request, pid: file.process.pid)
            ctx.pins = pins
            pins = PinSet()
            context = ctx
            vsc.enqueue(ctx)
            phase = .send
            // Under the lock with the check: no other activity runs in between.
            return vsc.behavior.removingFlag ? send() : .running
        case .send:
            return send()
        case .wait:
            guard let ctx = context else { return finish(.EINVAL) }
            if !ctx.completed && killed && vsc.behavior.killableWait {
                // The request stays with the host; the channel's reference keeps its pins.
                vsc.abandon(ctx, owner: file.process)
                return finish(.ERESTARTSYS)
            }
            if !ctx.completed { return .blocked(until: nil) }
            phase = .finish
            return .running
        case .finish:
            return copyBack()
        case .done:
            return .returned(result ?? .success)
        }
    }

    private func send() -> StepResult {
        guard let ctx = context, let bytes = packet else { return finish(.EINVAL) }
        do {
            requestId = try vsc.channel.send(bytes, cookie: ctx.cookie)
            vsc.givePacketBuffer(&packet)
            ctx.requestId = requestId ?? 0
            ctx.sentAt = vsc.log.now
            phase = .wait
            return .running
        } catch {
            vsc.dequeue(ctx)
            vsc.releasePins(ctx, file: file)
            return finish(error)
        }
    }

    private func validate() -> StepResult {
        guard command == .azBlobUserRequest else { return finish(.EINVAL) }
        if file.credentials != file.process.credentials { return finish(.EACCES) }
        // copy_from_user into the device's one argument buffer (no heap buffer per request).
        var faulted = false
        let space = file.process, at = argument
        vsc.argumentBuffer.withUnsafeMutableBytes { raw in
            do { try space.read(at, into: raw.baseAddress!, count: AzBlobRequestSync.wireSize) } catch { faulted = true }
        }
        if faulted { return finish(.EFAULT) }
        let r: AzBlobRequestSync
        do { r = try AzBlobRequestSync.decode(vsc.argumentBuffer) } catch { return finish(.EFAULT) }
        if r.requestLen == 0 || r.responseLen == 0 { return finish(.EINVAL) }
        if r.dataLen != 0 && r.dataLen < r.dataValid { return finish(.EINVAL) }
        let limit = UInt32(AzBlob.pageSize * AzBlob.maxPages)
        if r.dataLen > limit || r.requestLen > limit || r.responseLen > limit { return finish(.EINVAL) }
        request = r
        phase = .pin
        return .running
    }

    private func pinAndBuild() -> StepResult {
        guard let r = request else { return finish(.EINVAL) }
        let b = vsc.behavior
        let space = file.process
        do {
            pins.append(try space.pin(r.requestBuffer, length: Int(r.requestLen), writeIntent: b.requestWriteIntent))
            pins.append(try space.pin(r.responseBuffer, length: Int(r.responseLen), writeIntent: b.responseWriteIntent))
            if r.dataLen != 0 {
                pins.append(try space.pin(r.dataBuffer, length: Int(r.dataLen), writeIntent: b.dataWriteIntent))
            }
        } catch {
            return unwindPins(error)
        }
        let requestPins = pins[0], responsePins = pins[1]
        let dataPins: PinnedPages? = r.dataLen != 0 ? pins[2] : nil
        let dataPages = dataPins?.pfns.count ?? 0
        let total = requestPins.pfns.count + responsePins.pfns.count + dataPages
        if total > AzBlob.maxPages { return unwindPins(.EINVAL) }
        if !vsc.allocate("desc") || !vsc.allocate("vsp_request") { return unwindPins(.ENOMEM) }

        var vsp = VSPRequest(timeoutMs: r.timeout, operation: .userRequest, transactionId: r.guid)
        if let d = dataPins {
            vsp.dataBufferOffset = UInt32(d.offset)
            vsp.dataBufferLength = r.dataLen
            vsp.dataBufferValid = r.dataValid
        }
        vsp.requestBufferOffset = UInt32(requestPins.offset + dataPages * AzBlob.pageSize)
        vsp.requestBufferLength = r.requestLen
        vsp.responseBufferOffset = UInt32(responsePins.offset + (dataPages + requestPins.pfns.count) * AzBlob.pageSize)
        vsp.responseBufferLength = r.responseLen
        // Data pages, then request pages, then response pages (no PFN list built on the way).
        var bytes = vsc.takePacketBuffer()
        GPADirectPacket.encode(pfns: dataPins?.pfns ?? [], requestPins.pfns, responsePins.pfns, request: vsp, into: &bytes)
        packet = bytes
        phase = .queue
        return .running
    }

    private func copyBack() -> StepResult {
        guard let ctx = context, let r = request else { return finish(.EINVAL) }
        var ret = Errno.success
        if let f = ctx.failure {
            ret = f
        } else {
            let len = vsc.behavior.boundsResponseLen ? min(ctx.responseLen, r.responseLen) : ctx.responseLen
            // status, response_len: little-endian, from the stack (no heap buffer per request).
            var back = (ctx.status.littleEndian, len.littleEndian)
            do {
                try withUnsafeBytes(of: &back) { (raw) throws(Errno) in
                    try file.process.write(argument + UInt64(AzBlobRequestSync.responseOffset), from: raw.baseAddress!, count: 8)
                }
            } catch { ret = .EFAULT }
        }
        vsc.dequeue(ctx)
        vsc.releasePins(ctx, file: file)
        return finish(ret)
    }
}

/// az_blob_remove() as a state machine:
///
///     deregister  misc_deregister + debugfs removal (no new opens)
///     flag        WRITE_ONCE(removing, true) (fixed driver only)
///     drain       wait until pending_requests is empty (bounded in the fixed driver)
///     close       vmbus_close(); the fixed driver then fails what is left with ENODEV
///     put         drop the probe's device reference
public final class RemoveWork: DriverCall {
    public enum Phase: String, Sendable { case deregister, flag, drain, close, put, done }
    let vsc: BlobVSC
    public private(set) var phase: Phase = .deregister
    private var drainStarted: UInt64? = nil

    init(vsc: BlobVSC) { self.vsc = vsc }

    public var isDone: Bool { phase == .done }
    public var isReady: Bool { phase == .drain && vsc.pending.isEmpty }
    public var sentRequestId: UInt64? { nil }
    public var waitDescription: String {
        "remove waits in \(phase.rawValue) for \(vsc.pending.count) pending request(s): ids \(vsc.pending.map(\.requestId))"
    }

    @discardableResult
    public func run() -> StepResult {
        while true {
            let r = step()
            if r != .running { return r }
        }
    }

    public func step() -> StepResult {
        switch phase {
        case .deregister:
            vsc.deregisterMisc()
            phase = vsc.behavior.removingFlag ? .flag : .drain
            return .running
        case .flag:
            vsc.setRemoving()
            phase = .drain
            return .running
        case .drain:
            if vsc.pending.isEmpty {
                phase = .close
                return .running
            }
            let now = vsc.log.now
            if drainStarted == nil { drainStarted = now }
            if let limit = vsc.behavior.drainTimeoutTicks, let start = drainStarted {
                if now >= start + limit {
                    phase = .close
                    return .running
                }
                return .blocked(until: start + limit)
            }
            return .blocked(until: nil)
        case .close:
            vsc.closeChannelAndFailPending()
            phase = .put
            return .running
        case .put:
            vsc.dropProbeReference()
            phase = .done
            return .returned(.success)
        case .done:
            return .returned(.success)
        }
    }
}

extension IoctlCall {
    /// The call's phase, what it read and sent, its pins and its context, for the explorer's
    /// state digest.
    func stateDigest(into h: inout Hasher64) {
        h.add(phase.rawValue); h.add(argument); h.add(UInt64(file.process.pid)); h.add(killed)
        h.add(requestId); h.add(result.map { UInt64(bitPattern: Int64($0.rawValue)) })
        h.add(request != nil)
        if let request { h.add(bytes: DriverABI.reference.layout.encode(request)) }
        h.add(packet != nil)
        if let packet { h.add(bytes: packet) }
        h.add(context != nil)
        context?.stateDigest(into: &h)
        digestPins(pins, into: &h)
    }
}

extension RemoveWork {
    /// Its phase and when its drain began, for the explorer's state digest.
    func stateDigest(into h: inout Hasher64) {
        h.add(phase.rawValue)
        h.add(drainStarted)
    }
}
