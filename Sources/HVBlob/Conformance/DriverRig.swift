// SPDX-License-Identifier: Apache-2.0

/// One machine with a driver probed and one process holding /dev/azure_blob open: what a
/// conformance check drives. Works for any `GuestDriver`.
public final class DriverRig {
    public typealias Factory = (Machine) throws -> GuestDriver

    public let machine: Machine
    public let space: AddressSpace
    public let file: OpenFile
    /// Every packet the host received, in order.
    public private(set) var packets: [[UInt8]] = []
    public var driver: GuestDriver { machine.driver }
    public var log: ViolationLog { machine.log }

    public init(factory: Factory?, version: KernelVersion, faults: FaultPlan = .none, seed: UInt64 = 1) throws {
        machine = Machine(behavior: .fixed, version: version, faults: faults, seed: seed)
        if let factory { machine.driver = try factory(machine) }
        try machine.driver.probe()
        space = AddressSpace(pid: 7, memory: machine.memory)
        file = try machine.driver.open(space)
        machine.host.onReceive = { [unowned self] in self.packets.append($0) }
    }

    /// Lays out request/response/data buffers and the argument; returns the argument address.
    public func argument(requestLen: Int = 32, requestOffset: Int = 0, requestKind: MappingKind = .populated,
                         responseLen: Int = 64, responseOffset: Int = 0, responseKind: MappingKind = .untouched,
                         dataLen: Int = 0, dataValid: Int = 0, dataOffset: Int = 0, dataKind: MappingKind = .untouched,
                         guid: GUID = GUID(0x1122_3344, 0x5566, 0x7788, [1, 2, 3, 4, 5, 6, 7, 8])) -> (UInt64, AzBlobRequestSync) {
        let text = BlobStore.request("LIST", "x")
        let rl = max(requestLen, 1)
        var padded = text + [UInt8](repeating: 0x20, count: max(0, rl - text.count))
        padded = Array(padded.prefix(rl))
        let req = space.map(length: rl, pageOffset: requestOffset, kind: requestKind, contents: padded)
        let resp = space.map(length: max(responseLen, 1), pageOffset: responseOffset, kind: responseKind)
        let data = dataLen > 0 ? space.map(length: dataLen, pageOffset: dataOffset, kind: dataKind) : 0
        let r = AzBlobRequestSync(guid: guid, timeout: 500, requestLen: UInt32(requestLen), responseLen: UInt32(responseLen),
                                  dataLen: UInt32(dataLen), dataValid: UInt32(dataValid), requestBuffer: req,
                                  responseBuffer: resp, dataBuffer: data)
        return (argument(r), r)
    }

    public func argument(_ r: AzBlobRequestSync) -> UInt64 {
        space.map(length: driver.abi.layout.size, kind: .populated, contents: driver.abi.layout.encode(r))
    }

    /// Runs one ioctl against the simulated host; nil when it can never return.
    public func ioctl(_ arg: UInt64, command: IoctlCommand? = nil) -> Errno? {
        let command = command ?? driver.abi.command
        machine.recorder?.ioctlCall(space, command: command, argument: arg)
        let e = finish(driver.ioctl(file, command: command, argument: arg))
        if let e { machine.recorder?.ioctlReturn(space, argument: arg, result: e) }
        return e
    }

    /// Steps `call` (letting the machine run while it waits) until it returns; nil when
    /// nothing left could wake it.
    public func finish(_ call: DriverCall) -> Errno? { machine.drive(call) }

    /// The response written back into the argument (status, response_len).
    public func response(_ arg: UInt64) -> (status: UInt32, length: UInt32)? {
        space.readResponse(at: arg, layout: driver.abi.layout)
    }
}
