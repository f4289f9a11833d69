// SPDX-License-Identifier: Apache-2.0
import CKernelShim
import Foundation
import HVBlob
import Synchronization

/// A driver's real C code, compiled against the kernel shim and loaded into this process,
/// running on a `Machine` in place of the Swift model: same guest memory, same channel and
/// rings, same simulated host, same checks. Its kernel threads (ioctl callers, the channel
/// callback, remove) are coroutines stepped by the simulator.
///
/// The shim keeps process-wide state: one bridged driver is live at a time (`init` throws
/// `BridgeError.busy` otherwise).
public final class BridgedDriver: GuestDriver {
    public enum BridgeError: Error, CustomStringConvertible {
        case busy
        case load(String)
        case symbol(String)
        public var description: String {
            switch self {
            case .busy: return "another bridged driver is live in this process"
            case .load(let s): return "dlopen failed: \(s)"
            case .symbol(let s): return "the driver library lacks \(s) (not built with the shim?)"
            }
        }
    }

    /// Whether a bridged driver is live, and whether it crashed (a crashed one may never be
    /// released: its dead thread's stack still holds references; the next one takes over).
    static let live = Atomic<Bool>(false)
    static let liveCrashed = Atomic<Bool>(false)
    static let generation = Atomic<Int>(0)
    let generation: Int

    public let built: DriverBuild.Built
    /// The machine it runs on; a driver kept loaded between explored schedules is moved to
    /// each new machine after its reset (`BridgePool.initialized`).
    public internal(set) unowned var machine: Machine
    var handle: UnsafeMutableRawPointer?
    var initFn: (@convention(c) () -> Int32)?
    var exitFn: (@convention(c) () -> Void)?
    var ops = hvb_host_ops()
    /// Per offered device (the shim's slot): packets the channel callback has read since its
    /// iterator began (the livelock bound), and its ring reader.
    var packetsThisRun: [Int32: Int] = [:]
    /// The call whose coroutine runs now (for attributing sends).
    var running: CoroutineCall?
    var processes: [Int32: AddressSpace] = [:]
    var readers: [Int32: RingReader] = [:]
    /// The packet a send hands the channel, and the one the iterator copies out of the ring:
    /// one buffer each, reused packet after packet.
    var sendStorage: [UInt8] = []
    var packetStorage = [UInt8](repeating: 0, count: RingReader.packetBufferSize)
    /// The devices the host offered, by the shim's slot: slot 0 is the machine's own channel.
    var endpoints: [Int32: Machine.Device] = [:]
    public private(set) var logLines: [String] = []
    /// The misc devices registered now, in order (/dev/<name>).
    public private(set) var miscNames: [String] = []
    public var miscName: String? { miscNames.first }
    var probed = false
    var exited = false
    /// Module init has run (probe runs it first otherwise).
    var moduleInitialized = false
    var stragglers: [OpaquePointer] = []
    /// Every lock, wait, wake, list operation and send is a point where the running thread
    /// yields to the scheduler (the race explorer); off, threads run until they block.
    public var preemptAtSchedulingPoints = false
    /// A thread of the driver faulted (the kernel's oops): later checks of leftovers are moot.
    public internal(set) var crashed = false

    public var name: String { "\(built.source) @ \(built.version)" }
    public var abi: DriverABI { built.abi }

    public init(_ built: DriverBuild.Built, machine: Machine) throws(BridgeError) {
        func take() -> Bool {
            BridgedDriver.live.compareExchange(expected: false, desired: true, ordering: .acquiringAndReleasing).exchanged
                || BridgedDriver.liveCrashed.compareExchange(expected: true, desired: false, ordering: .acquiringAndReleasing).exchanged
        }
        // The driver a pool keeps loaded between inputs gives way when it is idle.
        guard take() || (BridgePool.shared.evictIdle() && take()) else {
            throw .busy
        }
        generation = BridgedDriver.generation.wrappingAdd(1, ordering: .acquiringAndReleasing).newValue
        self.built = built
        self.machine = machine
        hvb_reset()
        guard let h = dlopen(built.library, RTLD_NOW | RTLD_LOCAL) else {
            BridgedDriver.live.store(false, ordering: .releasing)
            BridgedDriver.generation.wrappingAdd(1, ordering: .acquiringAndReleasing)
            throw .load(String(cString: dlerror()))
        }
        handle = h
        guard let kops = dlsym(h, "hvb_kops"), let initSym = dlsym(h, "hvb_module_init_fn") else {
            dlclose(h)
            BridgedDriver.live.store(false, ordering: .releasing)
            BridgedDriver.generation.wrappingAdd(1, ordering: .acquiringAndReleasing)
            throw .symbol("hvb_kops / module_init")
        }
        kops.assumingMemoryBound(to: UnsafeMutableRawPointer?.self).pointee = hvb_kops_table()
        initFn = initSym.assumingMemoryBound(to: (@convention(c) () -> Int32)?.self).pointee
        if let e = dlsym(h, "hvb_module_exit_fn") {
            exitFn = e.assumingMemoryBound(to: (@convention(c) () -> Void)?.self).pointee
        }
        installHostOps()
    }

    deinit {
        // A later driver owns the shim now if this one crashed and was replaced.
        guard BridgedDriver.generation.load(ordering: .acquiring) == generation else { return }
        hvb_checkpoint_drop()
        for s in stragglers { hvb_coro_destroy(s) }
        if let h = handle { dlclose(h) }
        BridgedDriver.liveCrashed.store(false, ordering: .releasing)
        BridgedDriver.live.store(false, ordering: .releasing)
    }

    /// A factory for the race explorer: the driver yields at every scheduling point.
    /// The driver stays loaded between schedules: reset to its checkpoint after module init and
    /// moved to the schedule's machine (`BridgePool.initialized`) instead of loaded afresh.
    public static func explorerFactory(_ built: DriverBuild.Built, reuse: Bool = true) -> DriverRig.Factory {
        { machine in
            let d = reuse ? try BridgePool.shared.initialized(built, machine: machine) : try BridgedDriver(built, machine: machine)
            d.preemptAtSchedulingPoints = true
            return d
        }
    }

    /// Builds the driver at `path` (cached) and loads it onto `machine`.
    public static func load(_ path: URL, version: KernelVersion?, machine: Machine) throws -> BridgedDriver {
        try BridgedDriver(DriverBuild.build(driver: path, version: version), machine: machine)
    }

    var log: ViolationLog { machine.log }
    var channel: Channel { machine.channel }
    func channel(_ dev: Int32) -> Channel { endpoints[dev]?.channel ?? machine.channel }

    func space() -> AddressSpace? { processes[hvb_current_pid()] }

    // MARK: host hooks (called from C, on a coroutine)

    static func me(_ p: UnsafeMutableRawPointer?) -> BridgedDriver {
        Unmanaged<BridgedDriver>.fromOpaque(p!).takeUnretainedValue()
    }

    func installHostOps() {
        ops.host = Unmanaged.passUnretained(self).toOpaque()
        ops.now = { h in BridgedDriver.me(h).machine.now }
        ops.copy_from_user = { h, dst, uaddr, n in
            let me = BridgedDriver.me(h)
            guard let s = me.space(), let dst else { return n }
            do { try s.read(uaddr, into: dst, count: n) } catch { return n }
            return 0
        }
        ops.copy_to_user = { h, uaddr, src, n in
            let me = BridgedDriver.me(h)
            guard let s = me.space(), let src else { return n }
            do { try s.write(uaddr, from: src, count: n) } catch { return n }
            return 0
        }
        ops.pin = { h, start, nr, write, pfns in
            let me = BridgedDriver.me(h)
            guard let s = me.space(), let pfns else { return -Int(Errno.EFAULT.rawValue) }
            // pin_user_pages_fast(): page by page, stopping at the first that cannot be pinned.
            var got = 0
            while got < nr {
                guard let p = try? s.pin(start + UInt64(got * AzBlob.pageSize), length: 1, writeIntent: write != 0) else { break }
                pfns[got] = p.pfns[0]
                got += 1
            }
            return got == 0 ? -Int(Errno.EFAULT.rawValue) : got
        }
        ops.unpin = { h, pfn, write in
            BridgedDriver.me(h).machine.memory.release(pfn, writeIntent: write != 0, who: "put_page/unpin_user_page")
        }
        ops.dirty = { h, pfn in BridgedDriver.me(h).machine.memory.markDirty(pfn) }
        ops.vmbus_open = { h, dev, ringSize, rqstorSize, callbacks in
            let me = BridgedDriver.me(h)
            let channel = me.channel(dev)
            channel.requestorSize = Int(rqstorSize)
            channel.usesRequestIdCallbacks = callbacks != 0
            do {
                try channel.open(ringSize: Int(ringSize)) { [unowned me] in me.runCallback(dev) }
            } catch {
                return -((error as? Errno) ?? .EIO).rawValue
            }
            return 0
        }
        ops.vmbus_close = { h, dev in BridgedDriver.me(h).channel(dev).close() }
        ops.send = { h, dev, packet, len, cookie in
            let me = BridgedDriver.me(h)
            guard let packet else { return -Errno.EINVAL.rawValue }
            // Into the one buffer kept for it (the ring writer copies it into the ring).
            me.sendStorage.removeAll(keepingCapacity: true)
            me.sendStorage.append(contentsOf: UnsafeRawBufferPointer(start: packet, count: Int(len)))
            do {
                let id = try me.channel(dev).send(me.sendStorage, cookie: cookie)
                me.running?.sentRequestId = id
                return 0
            } catch {
                return -((error as? Errno) ?? .EIO).rawValue
            }
        }
        ops.packet_first = { h, dev, buf, buflen in
            let me = BridgedDriver.me(h)
            guard let ring = me.channel(dev).inbound, let buf else { return 0 }
            if me.readers[dev] == nil {
                me.readers[dev] = RingReader(ring: ring)
                me.packetsThisRun[dev] = 0
            }
            // As in the model: an iterator that passed the write index (a host len8 beyond what
            // was available) goes round stale data forever; end the run and say so.
            let read = me.packetsThisRun[dev, default: 0] + 1
            me.packetsThisRun[dev] = read
            if read > ring.dataSize / 24 + 1 {
                if read == ring.dataSize / 24 + 2 {
                    me.log.report("liveness.callback-livelock",
                                  "the channel callback read \(ring.dataSize / 24 + 1) packets in one run: the iterator passed the write index (a host len8 beyond what was available) and goes round stale data")
                }
                return 0
            }
            guard let got = me.readers[dev]?.copyFirst(ring, into: &me.packetStorage) else { return 0 }
            let n = min(got, Int(buflen))
            me.packetStorage.withUnsafeBytes { buf.copyMemory(from: $0.baseAddress!, byteCount: n) }
            return UInt32(n)
        }
        ops.packet_advance = { h, dev, len in
            let me = BridgedDriver.me(h)
            guard let ring = me.channel(dev).inbound else { return }
            // Read, advance, store back: a modify through the dictionary's subscript costs a
            // heap-allocated accessor frame per packet.
            guard var r = me.readers[dev] else { return }
            _ = r.advance(ring, len8: UInt16(truncatingIfNeeded: len / 8))
            me.readers[dev] = r
        }
        ops.packet_close = { h, dev in
            let me = BridgedDriver.me(h)
            guard let ring = me.channel(dev).inbound, var r = me.readers[dev] else { return }
            me.readers[dev] = nil
            if r.close(ring) { me.channel(dev).signalRoomToHost() }
        }
        ops.request_addr = { h, dev, id, _ in
            switch BridgedDriver.me(h).channel(dev).lookupRequestId(id) {
            case .found(let cookie): return cookie
            case .error: return RequestIdSentinel.error
            case .zero: return 0
            }
        }
        ops.report = { h, rule, detail in
            BridgedDriver.me(h).log.report(Rule(String(cString: rule!)), String(cString: detail!))
        }
        ops.log = { h, level, text in
            BridgedDriver.me(h).logLines.append("<\(level)> \(String(cString: text!))")
        }
        ops.misc = { h, name, registered in
            let me = BridgedDriver.me(h), name = String(cString: name!)
            if registered != 0 {
                me.miscNames.append(name)
            } else if let k = me.miscNames.firstIndex(of: name) {
                me.miscNames.remove(at: k)
            }
        }
        ops.sched_point = { h, what, at in
            let me = BridgedDriver.me(h)
            // The channel callback runs to its end (softirq); ioctl and remove threads yield.
            guard me.preemptAtSchedulingPoints, let call = me.running, call.name != "vmbus_callback" else { return 0 }
            call.point = (what, at)
            return 1
        }
        ops.woke = { h in BridgedDriver.me(h).machine.afterCallback() }
        hvb_install(&ops)
    }

    /// The kworker (the shim's thread for queued work, timers and RCU callbacks) runs until it
    /// sleeps again, with no preemption of its own; never nested inside itself.
    var inKworker = false
    func runKworker() {
        guard !inKworker else { return }
        inKworker = true
        defer { inKworker = false }
        let previous = running
        running = nil
        defer { running = previous }
        var rounds = 0
        while rounds < 10_000 {
            let r = hvb_kworker_step()
            if r == 0 { break }
            if r == 2 {
                crashed = true
                BridgedDriver.liveCrashed.store(true, ordering: .releasing)
                break
            }
            rounds += 1
        }
    }

    /// The channel callback of offered device `dev`: a softirq-like thread that must not block.
    func runCallback(_ dev: Int32) {
        let call = CoroutineCall(self, name: "vmbus_callback", pid: 0, cred: 0) { hvb_channel_callback(dev); return 0 }
        switch call.step() {
        case .returned: break
        default:
            log.report("guest.callback-blocked", "the channel callback did not run to completion: \(call.waitDescription)")
            if let c = call.coro { stragglers.append(c) }
            call.coro = nil
        }
    }

    /// Runs a call that must not block (init, probe, open, release) to its end.
    func runToEnd(_ name: String, pid: Int32, cred: UInt32, _ body: @escaping () -> Int) -> Int {
        let call = CoroutineCall(self, name: name, pid: pid, cred: cred, body)
        while true {
            switch call.step() {
            case .returned: return call.result
            case .running: continue
            case .blocked:
                log.report("guest.blocked-unexpectedly", "\(name) blocked: \(call.waitDescription)")
                if let c = call.coro { stragglers.append(c) }
                call.coro = nil
                return -Int(Errno.EIO.rawValue)
            }
        }
    }

    // MARK: GuestDriver

    /// insmod: the module's init, once.
    func initModule() throws(Errno) {
        guard !moduleInitialized else { return }
        guard let initFn else { throw .ENODEV }
        let r = runToEnd("insmod", pid: 1, cred: 0) { Int(hvb_run_init(initFn)) }
        if r != 0 { throw Errno(rawValue: Int32(-r)) }
        moduleInitialized = true
    }

    public func probe() throws(Errno) {
        try initModule()
        let slot = hvb_offer()
        guard slot >= 0 else { throw Errno(rawValue: -slot) }
        endpoints[slot] = machine.devices[0]
        let p = runToEnd("vmbus_probe", pid: 0, cred: 0) { Int(hvb_probe_device(slot)) }
        if p != 0 { throw Errno(rawValue: Int32(-p)) }
        probed = true
    }

    /// The misc device names the probe of offered device `slot` registered and that are still
    /// registered.
    public func miscNames(ofSlot slot: Int32) -> [String] {
        (0..<hvb_misc_count()).compactMap { i in
            hvb_misc_device_at(i) == slot ? hvb_misc_name_at(i).map { String(cString: $0) } : nil
        }
    }

    public func open(_ process: AddressSpace) throws(Errno) -> OpenFile {
        try open(process, misc: miscNames(ofSlot: 0).first)
    }

    /// open("/dev/<misc>") by `process` (nil: the first misc device registered).
    public func open(_ process: AddressSpace, misc: String?) throws(Errno) -> OpenFile {
        processes[Int32(process.pid)] = process
        var handle: UnsafeMutableRawPointer?
        let r = runToEnd("open", pid: Int32(process.pid), cred: process.credentials) {
            var err: Int32 = 0
            let f = misc.map { name in name.withCString { hvb_open_misc($0, &err) } } ?? hvb_open(&err)
            handle = f
            return Int(err)
        }
        if r != 0 || handle == nil { throw Errno(rawValue: Int32(-r)) }
        let file = OpenFile(process: process)
        file.handle = handle
        return file
    }

    public func release(_ file: OpenFile) {
        guard let h = file.handle, !file.released else {
            log.report("guest.release-twice", "file of pid \(file.process.pid) released twice")
            return
        }
        file.released = true
        _ = runToEnd("close", pid: Int32(file.process.pid), cred: file.process.credentials) { Int(hvb_release(h)) }
        file.handle = nil
    }

    public func ioctl(_ file: OpenFile, command: IoctlCommand, argument: UInt64) -> DriverCall {
        processes[Int32(file.process.pid)] = file.process
        let h = file.handle
        return CoroutineCall(self, name: "ioctl", pid: Int32(file.process.pid), cred: file.process.credentials) {
            guard let h else { return -Int(Errno.EBADF) }
            return hvb_ioctl(h, command.rawValue, argument)
        }
    }

    public func remove() -> DriverCall { remove(slot: 0) }

    /// The remove of offered device `slot` (after a rescind of its channel, the device is then
    /// freed).
    func remove(slot: Int32) -> DriverCall {
        // After a rescind the VMBus core resets the callback before remove; the Swift channel
        // has done so already, the shim's copy follows.
        if channel(slot).rescinded { hvb_rescind_device(slot) }
        return CoroutineCall(self, name: "vmbus_remove", pid: 0, cred: 0) { Int(hvb_remove_device(slot)) }
    }

    public func finish(removed: Bool) {
        guard removed, !exited, !crashed else { return }
        exited = true
        if let exitFn { _ = runToEnd("rmmod", pid: 1, cred: 0) { hvb_run_exit(exitFn); return 0 } }
        var bytes = 0
        let live = hvb_live_allocations(&bytes)
        if live > 0 {
            log.report("guest.memory-leak", "\(live) allocation(s), \(bytes) bytes, still live after module exit")
        }
        let refs = hvb_dentry_refs()
        if refs > 0 {
            log.report("guest.dentry-leak", "\(refs) debugfs dentry reference(s) taken with debugfs_lookup and never put")
        }
    }

    public func failAllocation(after n: Int) { hvb_fail_allocation(n) }

    /// Sets a module parameter (`module_param`) before probe; false when the driver has none
    /// by that name.
    @discardableResult
    public func setParameter(_ name: String, _ value: UInt32) -> Bool {
        guard let h = handle, let sym = dlsym(h, "hvb_param_" + name),
              let p = sym.assumingMemoryBound(to: UnsafeMutableRawPointer?.self).pointee else { return false }
        p.assumingMemoryBound(to: UInt32.self).pointee = value
        return true
    }

    /// The bytes of a debugfs file with its own read handler (the driver's `capture`); nil
    /// when the driver has no such file.
    public func debugfsRead(_ name: String, limit: Int = 64 << 20) -> [UInt8]? {
        var buf = [CChar](repeating: 0, count: limit)
        let n = runToEnd("cat", pid: 2, cred: 0) { Int(hvb_debugfs_read_raw(name, &buf, buf.count)) }
        return n < 0 ? nil : buf.prefix(n).map { UInt8(bitPattern: $0) }
    }

    public var debugfsPendingRequests: String {
        var buf = [CChar](repeating: 0, count: 65536)
        let n = runToEnd("cat", pid: 2, cred: 0) { Int(hvb_debugfs_read("pending_requests", &buf, buf.count)) }
        return n < 0 ? "" : String(decoding: buf.prefix(n).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

extension Errno {
    static let EBADF: Int = 9
}

/// One driver entry point running on its own coroutine.
final class CoroutineCall: DriverCall {
    unowned let bridge: BridgedDriver
    /// The coroutine, while the shim has it: a reset of the driver to its checkpoint destroys
    /// every coroutine (a new epoch), and a call left from before the reset has none.
    var coro: OpaquePointer? {
        get { hvb_coro_epoch() == epoch ? storedCoro : nil }
        set { storedCoro = newValue }
    }
    private var storedCoro: OpaquePointer?
    private let epoch = hvb_coro_epoch()
    let body: () -> Int
    var result = 0
    var sentRequestId: UInt64?
    let name: String
    /// The scheduling point it stopped at: the primitive and the driver's call site.
    var point: (UnsafePointer<CChar>?, UnsafeRawPointer?)?

    var lastPoint: String? {
        guard let (what, at) = point, let what else { return nil }
        var buf = [CChar](repeating: 0, count: 160)
        let site = String(cString: hvb_symbolize(at, &buf, buf.count))
        return String(cString: what) + (site.isEmpty ? "" : site.hasPrefix("@") ? " \(site)" : " in \(site)")
    }

    init(_ bridge: BridgedDriver, name: String, pid: Int32, cred: UInt32, _ body: @escaping () -> Int) {
        self.bridge = bridge
        self.body = body
        self.name = name
        let entry: @convention(c) (UnsafeMutableRawPointer?) -> Void = { arg in
            let call = Unmanaged<CoroutineCall>.fromOpaque(arg!).takeUnretainedValue()
            let r = call.body()
            call.result = r
        }
        coro = hvb_coro_create(entry, Unmanaged.passUnretained(self).toOpaque(), name, pid, cred)
    }

    deinit {
        if let coro { hvb_coro_destroy(coro) }
    }

    func step() -> StepResult {
        guard let c = coro else { return .returned(Errno(rawValue: Int32(-result))) }
        let previous = bridge.running
        bridge.running = self
        var state = hvb_coro_resume(c)
        bridge.running = previous
        // Work, timers and RCU callbacks this step made due run now on the kworker; they may
        // have woken this thread (a flush_work, a synchronize_rcu).
        bridge.runKworker()
        if state == Int32(HVB_BLOCKED.rawValue), hvb_coro_state(c) == Int32(HVB_READY.rawValue) {
            state = Int32(HVB_READY.rawValue)
        }
        switch Int32(state) {
        case Int32(HVB_DONE.rawValue):
            if hvb_coro_crashed(c) != 0 {
                // The kernel would oops; the thread is gone and what it held stays held.
                bridge.log.report("guest.crash", String(cString: hvb_last_fault()))
                bridge.crashed = true
                BridgedDriver.liveCrashed.store(true, ordering: .releasing)
                bridge.stragglers.append(c)
                coro = nil
                result = -Int(Errno.EFAULT.rawValue)
                return .returned(.EFAULT)
            }
            hvb_coro_destroy(c)
            coro = nil
            return .returned(Errno(rawValue: Int32(-result)))
        case Int32(HVB_BLOCKED.rawValue):
            var has: Int32 = 0
            let deadline = hvb_coro_deadline(c, &has)
            return .blocked(until: has != 0 ? deadline : nil)
        default:
            return .running
        }
    }

    var isReady: Bool {
        guard let c = coro else { return false }
        return hvb_coro_state(c) == Int32(HVB_READY.rawValue)
    }

    var waitDescription: String {
        guard let c = coro else { return "\(name) finished" }
        return "\(name) blocked in \(String(cString: hvb_coro_wait_what(c)))"
            + (sentRequestId.map { " (request id \($0) sent)" } ?? "")
    }
}

// MARK: resources, for the conformance checks' balance after each scenario

extension BridgedDriver: DriverResources, BridgedCrashState, DriverCapture {
    public var hasCrashed: Bool { crashed }
    public var allocationMark: UInt64 { hvb_alloc_mark() }

    public func allocations(since mark: UInt64) -> (count: Int, bytes: Int, sites: String) {
        var bytes = 0
        var buf = [CChar](repeating: 0, count: 1024)
        let n = hvb_allocations_since(mark, &bytes, &buf, buf.count)
        return (n, bytes, outermostSites(String(decoding: buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)))
    }

    /// Replaces each call site `@0x<offset>` in `text` by the driver's own function and line:
    /// the outermost frame addr2line -i gives (kmalloc & co are inlined into the caller, and the
    /// innermost frame would name the shim's header). Left as it is without addr2line.
    func outermostSites(_ text: String) -> String {
        var result = text
        var searchFrom = result.startIndex
        while let r = result.range(of: "@0x", range: searchFrom..<result.endIndex) {
            var end = r.upperBound
            while end < result.endIndex, result[end].isHexDigit { end = result.index(after: end) }
            let offset = String(result[result.index(after: r.lowerBound)..<end])
            let p = Process()
            p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            p.arguments = ["addr2line", "-f", "-s", "-i", "-e", built.library, offset]
            let pipe = Pipe()
            p.standardOutput = pipe
            p.standardError = Pipe()
            guard (try? p.run()) != nil else { return text }
            let out = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self).split(separator: "\n")
            p.waitUntilExit()
            guard out.count >= 2, out[out.count - 2] != "??" else {
                searchFrom = end
                continue
            }
            let name = "\(out[out.count - 2]) (\(out[out.count - 1]))"
            result.replaceSubrange(r.lowerBound..<end, with: name)
            searchFrom = result.index(r.lowerBound, offsetBy: name.count)
        }
        return result
    }

    public var debugfsEntries: Int { Int(hvb_debugfs_count()) }
    public func debugfsFileExists(_ name: String) -> Bool { hvb_debugfs_exists(name) != 0 }

    /// Reads it as `cat` would, or nil (ENOENT) when no such file is live.
    public func debugfsRead(file name: String) -> String? {
        guard debugfsFileExists(name) else { return nil }
        var buf = [CChar](repeating: 0, count: 65536)
        let n = runToEnd("cat", pid: 2, cred: 0) { Int(hvb_debugfs_read(name, &buf, buf.count)) }
        return n < 0 ? nil : String(decoding: buf.prefix(n).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    public var dentryReferences: Int { Int(hvb_dentry_refs()) }

    public func enableCapture(kib: UInt32) -> Bool { setParameter("capture_kib", kib) }
    public func captureBytes() -> [UInt8]? { debugfsRead("capture") }
}

// MARK: persistent mode

extension BridgedDriver: CheckpointableDriver {
    /// The Swift half of the driver's state at a checkpoint; the C half is the shim's
    /// (`hvb_checkpoint`).
    final class Kept {
        let generation: Int
        let packetsThisRun: [Int32: Int]
        let processes: [Int32: AddressSpace]
        let readers: [Int32: RingReader]
        let endpoints: [Int32: Machine.Device]
        let logLines: [String]
        let miscNames: [String]
        let probed: Bool, exited: Bool, preempt: Bool, moduleInitialized: Bool
        /// The shim's checkpoint this goes with (`hvb_checkpoint_serial`).
        let serial: UInt
        init(_ d: BridgedDriver) {
            generation = d.generation
            serial = hvb_checkpoint_serial()
            moduleInitialized = d.moduleInitialized
            packetsThisRun = d.packetsThisRun
            processes = d.processes
            readers = d.readers
            endpoints = d.endpoints
            logLines = d.logLines
            miscNames = d.miscNames
            probed = d.probed
            exited = d.exited
            preempt = d.preemptAtSchedulingPoints
        }
    }

    public var driverNotQuiescent: String? {
        if crashed { return "the driver crashed" }
        if running != nil || inKworker { return "a driver thread is running" }
        if !stragglers.isEmpty { return "\(stragglers.count) driver thread(s) left blocked" }
        if hvb_coro_live() > 0 { return "\(hvb_coro_live()) driver thread(s) live" }
        if BridgedDriver.generation.load(ordering: .acquiring) != generation { return "another bridged driver owns the shim" }
        return nil
    }

    /// Keeps the driver's writable state: the library's .data/.bss, the shim's state and heap
    /// (`hvb_checkpoint`), and the bridge's own bookkeeping. One checkpoint per process: a new
    /// one retires the old.
    public func checkpointDriver() throws(CheckpointError) -> AnyObject {
        if let why = driverNotQuiescent { throw CheckpointError(description: "cannot checkpoint the C driver: \(why)") }
        guard let h = handle, let inside = dlsym(h, "hvb_kops") else {
            throw CheckpointError(description: "cannot checkpoint the C driver: the library is not loaded")
        }
        var why = [CChar](repeating: 0, count: 160)
        if hvb_checkpoint(inside, &why, why.count) != 0 {
            throw CheckpointError(description: "cannot checkpoint the C driver: " + String(decoding: why.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
        }
        return Kept(self)
    }

    public func resetDriver(to state: AnyObject) {
        guard let k = state as? Kept, owns(k) else {
            preconditionFailure("internal: reset of a bridged driver to a checkpoint it does not own")
        }
        hvb_checkpoint_reset()
        stragglers.removeAll()
        running = nil
        inKworker = false
        crashed = false
        packetsThisRun = k.packetsThisRun
        processes = k.processes
        readers = k.readers
        endpoints = k.endpoints
        logLines = k.logLines
        miscNames = k.miscNames
        probed = k.probed
        exited = k.exited
        preemptAtSchedulingPoints = k.preempt
        moduleInitialized = k.moduleInitialized
    }

    /// Whether `k` is this driver's and the shim's active checkpoint (a newer one retires it).
    func owns(_ k: Kept) -> Bool {
        k.generation == generation && BridgedDriver.generation.load(ordering: .acquiring) == generation
            && k.serial != 0 && hvb_checkpoint_serial() == k.serial
    }

    /// The shim's live allocations now (kmalloc & co of the driver): count and bytes.
    public var liveAllocations: (count: Int, bytes: Int) {
        var bytes = 0
        let n = hvb_live_allocations(&bytes)
        return (n, bytes)
    }

    /// What the checkpoint holds and what the last reset restored (the bench prints it).
    public static var checkpointStats: hvb_checkpoint_stats {
        var s = hvb_checkpoint_stats()
        hvb_checkpoint_stats(&s)
        return s
    }
}

/// A C driver kept loaded and probed on one machine for input after input (persistent mode):
/// `withRig` resets it to its checkpoint right after probe — the library's .data/.bss, the
/// shim's state and heap, the machine — and opens the file, instead of loading the library,
/// running module init and probing for every input. One entry: the shim holds one driver per
/// process; a driver wanted elsewhere (`BridgedDriver.init`) evicts it when idle.
///
/// Where machines being built must be seen (a conformance check's witness and scope, a capture
/// session, an out-of-process host), it builds a fresh one as before.
public final class BridgePool: @unchecked Sendable {
    public static let shared = BridgePool()

    /// The fault plan is not part of it: a reset gives the host the input's plan.
    struct Key: Equatable {
        let library: String
        let version: KernelVersion
    }
    final class Entry: @unchecked Sendable {
        let key: Key
        let machine: Machine
        let start: MachineCheckpoint
        /// The shim's checkpoint it goes with: another taken since retires it.
        let serial: UInt
        init(_ key: Key, _ machine: Machine, _ start: MachineCheckpoint, serial: UInt) {
            self.key = key
            self.machine = machine
            self.start = start
            self.serial = serial
        }
    }
    /// A driver kept right after module init (no device offered yet), for callers that build
    /// their own machine per run (the race explorer): moved to each new machine.
    final class InitEntry: @unchecked Sendable {
        let key: Key
        let driver: BridgedDriver
        let state: BridgedDriver.Kept
        init(_ key: Key, _ driver: BridgedDriver, _ state: BridgedDriver.Kept) {
            self.key = key
            self.driver = driver
            self.state = state
        }
    }
    private struct State {
        var entry: Entry?
        var initEntry: InitEntry?
        var inUse = false
        var built = 0, resets = 0
        var refused: String?
    }
    private let state = Mutex<State>(State())
    public var built: Int { state.withLock { $0.built } }
    public var resets: Int { state.withLock { $0.resets } }
    /// Why the last driver could not be kept (its checkpoint after probe was refused), if so.
    public var refused: String? { state.withLock { $0.refused } }

    public init() {}

    /// Drops the kept driver if nobody uses it now; true when one was dropped.
    func evictIdle() -> Bool {
        let dropped: (Entry?, InitEntry?) = state.withLock { s in
            guard !s.inUse else { return (nil, nil) }
            let d = (s.entry, s.initEntry)
            s.entry = nil
            s.initEntry = nil
            return d
        }
        return dropped.0 != nil || dropped.1 != nil  // released here, outside the lock (its deinit unloads the driver)
    }

    /// Drops the kept driver (tests that want the next rig fresh).
    public func drain() { _ = evictIdle() }

    /// Runs `body` on a rig of `built` for `version` and `faults` (seed 1), probed with one file
    /// open — a kept machine reset to right after probe, or a new one — as `DriverRig(factory:)`
    /// makes it with `BridgedDriver(built, machine:)`. nil when the driver cannot be set up.
    public func withRig<T>(_ built: DriverBuild.Built, version: KernelVersion, faults: FaultPlan = .none,
                           _ body: (DriverRig) -> T) -> T? {
        let key = Key(library: built.library, version: version)
        let reusable: Entry?? = state.withLock { s in
            if s.inUse { return .none }  // in use by another caller: a fresh rig (or busy)
            s.inUse = true
            if let e = s.entry, e.key == key, e.serial == hvb_checkpoint_serial() { return .some(e) }
            // Another driver or era: the kept one goes now, it holds the shim.
            s.entry = nil
            s.initEntry = nil
            return .some(nil)
        }
        guard !RigPool.watched, let slot = reusable else {
            if case .some = reusable { state.withLock { $0.inUse = false } }
            guard let rig = try? DriverRig(factory: { m in try BridgedDriver(built, machine: m) }, version: version, faults: faults) else { return nil }
            return body(rig)
        }
        defer { state.withLock { $0.inUse = false } }
        if let e = slot {
            e.machine.reset(to: e.start, seed: 1, faults: faults)
            state.withLock { $0.resets += 1 }
            guard let rig = try? DriverRig(probed: e.machine) else { return nil }
            return finish(e, body(rig))
        }
        let machine = Machine(behavior: .fixed, version: version, faults: faults, seed: 1)
        guard let driver = try? BridgedDriver(built, machine: machine) else { return nil }
        machine.driver = driver
        guard (try? driver.probe()) != nil else { return nil }
        let start: MachineCheckpoint
        do { start = try machine.checkpoint() } catch {
            // Not quiescent after probe (a thread or work left live): this input runs fresh.
            state.withLock { $0.refused = error.description }
            guard let rig = try? DriverRig(probed: machine) else { return nil }
            return body(rig)
        }
        let e = Entry(key, machine, start, serial: hvb_checkpoint_serial())
        state.withLock { $0.built += 1 }
        guard let rig = try? DriverRig(probed: machine) else { return nil }
        return finish(e, body(rig))
    }

    /// The driver of `built`, module init run, on `machine` (nothing offered yet: its probe
    /// follows): the kept one reset to its checkpoint right after init and moved to `machine`,
    /// or a new one loaded and kept. Where machines being built must be seen, a new one each time.
    public func initialized(_ built: DriverBuild.Built, machine: Machine) throws -> BridgedDriver {
        if RigPool.watched { return try BridgedDriver(built, machine: machine) }
        let key = Key(library: built.library, version: built.version)
        let kept: InitEntry? = state.withLock { s in
            if let e = s.initEntry, e.key == key, !e.driver.crashed, e.driver.owns(e.state) { return e }
            if !s.inUse {
                s.initEntry = nil
                s.entry = nil
            }
            return nil
        }
        if let k = kept {
            k.driver.resetDriver(to: k.state)
            k.driver.machine = machine
            state.withLock { $0.resets += 1 }
            return k.driver
        }
        let d = try BridgedDriver(built, machine: machine)
        try d.initModule()
        // Kept only when quiescent after init (no kworker, no thread left).
        if let kept = try? d.checkpointDriver() as? BridgedDriver.Kept {
            state.withLock { s in
                s.initEntry = InitEntry(key, d, kept)
                s.built += 1
            }
        }
        return d
    }

    /// Keeps `e` for the next input unless its driver crashed (a crashed driver's threads may
    /// hold what nobody can account for: the next input gets a fresh one).
    private func finish<T>(_ e: Entry, _ result: T) -> T {
        let crashed = (e.machine.driver as? BridgedDriver)?.crashed ?? true
        state.withLock { $0.entry = crashed ? nil : e }
        return result
    }
}
