// SPDX-License-Identifier: Apache-2.0

/// A guest driver as the simulator sees it: the Swift model (`BlobVSC`) or a driver's real C
/// code loaded through the bridge. Everything the simulator checks is observable through this
/// interface, guest memory and the channel, so the same checks hold for both.
public protocol GuestDriver: AnyObject {
    /// What this is ("model fixed", "kernel/hv_azure_blob.c @ 6.0", ...).
    var name: String { get }
    /// The ioctl command and request layout user space must use with it (for C code: read from
    /// the driver's own headers; the model speaks the reference ABI).
    var abi: DriverABI { get }
    /// Module init and probe: the channel is open and /dev/azure_blob registered after this.
    func probe() throws(Errno)
    /// open() of the misc device by `process`.
    func open(_ process: AddressSpace) throws(Errno) -> OpenFile
    /// The last close of `file`.
    func release(_ file: OpenFile)
    /// One ioctl, as a call the scheduler steps.
    func ioctl(_ file: OpenFile, command: IoctlCommand, argument: UInt64) -> DriverCall
    /// The device's remove (after a rescind, or a module unload), as a call the scheduler steps.
    func remove() -> DriverCall
    /// End of run: the driver's own leftovers (references, allocations) into the log.
    func finish(removed: Bool)
    /// The debugfs file `pending_requests`.
    var debugfsPendingRequests: String { get }
    /// Makes the Nth allocation from now fail (1 = the next one).
    func failAllocation(after n: Int)
}

/// A blocking driver call in progress.
public protocol DriverCall: AnyObject {
    /// Runs to the next point where another activity may run.
    func step() -> StepResult
    /// Blocked, but what it waits for has happened: stepping it now makes progress.
    var isReady: Bool { get }
    /// What it waits for, for a hang report.
    var waitDescription: String { get }
    /// The request id it put on the wire, once sent.
    var sentRequestId: UInt64? { get }
    /// Where it last stopped, when the implementation can say (C: primitive and call site).
    var lastPoint: String? { get }
}

extension DriverCall {
    public var lastPoint: String? { nil }

    /// Steps until the call blocks or returns.
    @discardableResult
    public func runUntilBlocked() -> StepResult {
        while true {
            let r = step()
            if r != .running { return r }
        }
    }
}

/// A call being driven by a harness that steps it only when it can make progress: what it
/// returned once done, or the deadline it waits for.
public class TrackedCall {
    public let call: DriverCall
    public private(set) var deadline: UInt64?
    public private(set) var result: Errno?
    /// Never stepped yet.
    public private(set) var fresh = true

    public init(_ call: DriverCall) { self.call = call }

    /// Not returned, and stepping it now makes progress: new, ready, or past its deadline.
    public func isDue(at now: UInt64) -> Bool {
        result == nil && (fresh || call.isReady || (deadline.map { $0 <= now } ?? false))
    }

    /// Steps until it blocks or returns; false when it had already returned.
    @discardableResult
    public func advance() -> Bool {
        guard result == nil else { return false }
        fresh = false
        switch call.runUntilBlocked() {
        case .returned(let e): result = e
        case .blocked(let until): deadline = until
        case .running: break
        }
        return true
    }
}
