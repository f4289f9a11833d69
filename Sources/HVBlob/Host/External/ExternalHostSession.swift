// SPDX-License-Identifier: Apache-2.0
#if canImport(Glibc)
import Glibc
#endif

/// A connection to an out-of-process host (VSP), current for a task (`$current`): every
/// `Machine` created meanwhile puts its guest memory and rings in a shared file and talks to
/// that host instead of the in-process `SimulatedVSP`. One connection serves machines one after
/// another (ATTACH … DETACH each). Used from one thread at a time.
public final class ExternalHostSession: @unchecked Sendable {
    @TaskLocal public static var current: ExternalHostSession?

    public let socket: ControlSocket
    public let offer: HostMessage.Offer
    /// Where the guest-memory files go (one per machine, removed with it).
    public let memoryDirectory: String
    /// Frames per machine's memory file (sparse).
    public var frameCount = 1 << 18
    /// How long the guest waits for the host's DONE, or for anything while it has requests in
    /// flight and nothing else to do.
    public var timeoutMs: Int32 = 10_000
    /// How long an idle guest waits for an asynchronous host's unasked INTERRUPT (nil: timeoutMs).
    public var idleTimeoutMs: Int32?
    /// Watches the rings (requests in flight) and checks the host's conformance (verify-host
    /// reads its findings); its findings go to its own log and do not change the run.
    public let monitor = HostConformanceMonitor()
    /// Why the host stopped answering, once it did (died, hung, broke the control protocol).
    public private(set) var failure: String?
    public private(set) var link: ExternalHostLink?
    private var pendingMemory: SharedGuestMemory?
    private var machines = 0
    /// Every control message the guest sent, by kind (what a check needs to have happened).
    public var sent: [HostMessage.Kind: Int] = [:]

    public init(socket: ControlSocket, offer: HostMessage.Offer, memoryDirectory: String) {
        self.socket = socket
        self.offer = offer
        self.memoryDirectory = memoryDirectory
    }

    /// Waits for a host at the listening socket and reads its OFFER.
    public static func accept(_ listener: ControlSocket, timeoutMs: Int32, memoryDirectory: String) throws(ControlSocket.Failure) -> ExternalHostSession {
        guard let c = try listener.accept(timeoutMs: timeoutMs) else {
            throw ControlSocket.Failure("no host connected within \(timeoutMs) ms")
        }
        switch try c.receive(timeoutMs: timeoutMs) {
        case .message(let m) where m.kind == .offer:
            do {
                let (v, offer) = try m.offerBody()
                guard v == HostMessage.version else { throw ControlSocket.Failure("the host speaks host-interface version \(v), hvblob \(HostMessage.version)") }
                return ExternalHostSession(socket: c, offer: offer, memoryDirectory: memoryDirectory)
            } catch let e as HostMessage.DecodeError {
                throw ControlSocket.Failure("the host's OFFER is malformed: \(e)")
            } catch let e as ControlSocket.Failure {
                throw e
            } catch {
                throw ControlSocket.Failure("\(error)")
            }
        case .message(let m): throw ControlSocket.Failure("the host's first message is \(m.kind), expected OFFER")
        case .timeout: throw ControlSocket.Failure("the host sent no OFFER within \(timeoutMs) ms")
        case .closed: throw ControlSocket.Failure("the host closed the control socket before its OFFER")
        case .malformed(let e): throw ControlSocket.Failure("the host's first message is malformed: \(e)")
        }
    }

    func fail(_ why: String) {
        if failure == nil { failure = why }
    }

    /// Machine.init: the memory of the next machine (the previous one is detached first).
    func memoryForNextMachine() -> SharedGuestMemory? {
        detach()
        machines += 1
        let path = "\(memoryDirectory)/hvblob-guest-\(getpid())-\(machines).mem"
        do {
            let m = try SharedGuestMemory(creating: path, frameCount: frameCount)
            pendingMemory = m
            return m
        } catch {
            fail("\(error)")
            return nil
        }
    }

    /// Machine.init, at its end: connect the machine to the host.
    func attach(_ machine: Machine, seed: UInt64) {
        guard let memory = pendingMemory else { return }
        pendingMemory = nil
        let l = ExternalHostLink(session: self, machine: machine, memory: memory)
        link = l
        l.attach(seed: seed)
    }

    /// Ends the current machine's attachment (DETACH), if there is one.
    public func detach() {
        link?.detach()
        link = nil
    }
}
