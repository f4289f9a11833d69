// SPDX-License-Identifier: Apache-2.0
import CKernelShim
import HVBlob

/// Another device the host offered to a loaded bridged driver: the driver's view of it, by the
/// shim's slot. Opening it opens the misc device its probe registered; remove removes it (and,
/// after a rescind of its channel, the VMBus core frees it). Module init and exit stay with the
/// `BridgedDriver` that loaded the code.
final class BridgedDevice: GuestDriver {
    unowned let bridge: BridgedDriver
    let slot: Int32

    init(_ bridge: BridgedDriver, slot: Int32) {
        self.bridge = bridge
        self.slot = slot
    }

    var name: String { "\(bridge.name) (device \(slot + 1))" }
    var abi: DriverABI { bridge.abi }
    /// Probed when it was offered.
    func probe() throws(Errno) {}
    func open(_ process: AddressSpace) throws(Errno) -> OpenFile {
        guard let misc = bridge.miscNames(ofSlot: slot).first else { throw .ENODEV }
        return try bridge.open(process, misc: misc)
    }
    func release(_ file: OpenFile) { bridge.release(file) }
    func ioctl(_ file: OpenFile, command: IoctlCommand, argument: UInt64) -> DriverCall {
        bridge.ioctl(file, command: command, argument: argument)
    }
    func remove() -> DriverCall { bridge.remove(slot: slot) }
    func finish(removed: Bool) {}
    var debugfsPendingRequests: String {
        var buf = [CChar](repeating: 0, count: 65536)
        let n = bridge.runToEnd("cat", pid: 2, cred: 0) { Int(hvb_debugfs_read_of(self.slot, "pending_requests", &buf, buf.count)) }
        return n < 0 ? "" : String(decoding: buf.prefix(n).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
    func failAllocation(after n: Int) { bridge.failAllocation(after: n) }
}

extension BridgedDriver: MultiDeviceDriver {
    public func offer(_ device: Machine.Device) throws(Errno) -> GuestDriver {
        let slot = hvb_offer()
        guard slot >= 0 else { throw Errno(rawValue: -slot) }
        endpoints[slot] = device
        let r = runToEnd("vmbus_probe", pid: 0, cred: 0) { Int(hvb_probe_device(slot)) }
        if r != 0 { throw Errno(rawValue: Int32(-r)) }
        return BridgedDevice(self, slot: slot)
    }

    /// The shim's slot of the machine's device `index`.
    func slot(ofDevice index: Int) -> Int32? {
        endpoints.first { $0.value.index == index }?.key
    }

    public func miscNames(ofDevice index: Int) -> [String] {
        slot(ofDevice: index).map { miscNames(ofSlot: $0) } ?? []
    }

    public func debugfsEntries(ofDevice index: Int) -> (dirs: Int, files: Int) {
        guard let s = slot(ofDevice: index) else { return (0, 0) }
        let dirs = Int(hvb_debugfs_count_of(s, 1))
        return (dirs, Int(hvb_debugfs_count_of(s, 0)) - dirs)
    }
}
