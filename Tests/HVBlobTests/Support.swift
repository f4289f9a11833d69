// SPDX-License-Identifier: Apache-2.0
import Foundation
import HVBlob

/// The repository root, from this file's path.
let repoRoot: URL = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

/// Runs a program; returns its exit status and combined output.
func runProcess(_ argv: [String], cwd: URL? = nil) throws -> (status: Int32, output: String) {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    p.arguments = argv
    if let cwd { p.currentDirectoryURL = cwd }
    let pipe = Pipe()
    p.standardOutput = pipe
    p.standardError = pipe
    try p.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return (p.terminationStatus, String(decoding: data, as: UTF8.self))
}

var runningUnderCI: Bool { ProcessInfo.processInfo.environment["CI"] == "true" }

func hex(_ s: String) -> [UInt8] {
    (try? Hex.decode(s)) ?? []
}

/// A machine with the device probed, one process with the file open.
final class Rig {
    let machine: Machine
    let space: AddressSpace
    let file: OpenFile
    var vsc: BlobVSC { machine.vsc }
    var log: ViolationLog { machine.log }

    init(behavior: DriverBehavior = .fixed, version: KernelVersion = .default, faults: FaultPlan = .none, seed: UInt64 = 1) throws {
        machine = Machine(behavior: behavior, version: version, faults: faults, seed: seed)
        try machine.vsc.probe()
        space = AddressSpace(pid: 7, memory: machine.memory)
        file = try machine.vsc.open(space)
    }

    /// Lays out request/response/data buffers and the argument; returns the argument address.
    func argument(requestLen: Int = 32, requestOffset: Int = 0, responseLen: Int = 64, responseOffset: Int = 0,
                  dataLen: Int = 0, dataValid: Int? = nil, dataOffset: Int = 0, dataKind: MappingKind = .untouched,
                  request: [UInt8]? = nil, guid: GUID = GUID(0x11223344, 0x5566, 0x7788, [1, 2, 3, 4, 5, 6, 7, 8])) -> (UInt64, AzBlobRequestSync) {
        let text = request ?? BlobStore.request("LIST", "x")
        let rl = request == nil ? max(requestLen, text.count) : requestLen
        let req = space.map(length: rl, pageOffset: requestOffset, kind: .populated, contents: text)
        let resp = space.map(length: responseLen, pageOffset: responseOffset, kind: .untouched)
        let data = dataLen > 0 ? space.map(length: dataLen, pageOffset: dataOffset, kind: dataKind) : 0
        let r = AzBlobRequestSync(guid: guid, timeout: 500, requestLen: UInt32(rl), responseLen: UInt32(responseLen),
                                  dataLen: UInt32(dataLen), dataValid: UInt32(dataValid ?? 0), requestBuffer: req,
                                  responseBuffer: resp, dataBuffer: data)
        return (space.map(length: 72, kind: .populated, contents: r.encoded()), r)
    }

    func argument(_ r: AzBlobRequestSync) -> UInt64 {
        space.map(length: 72, kind: .populated, contents: r.encoded())
    }

    /// Runs one ioctl to completion against the simulated host; nil errno when it can never
    /// return (nothing left to run while it waits).
    func ioctl(_ arg: UInt64, command: IoctlCommand = .azBlobUserRequest) -> (Errno?, IoctlCall) {
        let call = vsc.startIoctl(file, command: command, argument: arg)
        return (finish(call), call)
    }

    func finish(_ call: IoctlCall) -> Errno? { machine.drive(call) }

    /// Steps a call until its packet is built (not yet sent), and returns the packet.
    func packet(_ arg: UInt64) -> (IoctlCall, [UInt8]?) {
        let call = vsc.startIoctl(file, command: .azBlobUserRequest, argument: arg)
        while call.packet == nil && call.phase != .done { _ = call.step() }
        return (call, call.packet)
    }
}
