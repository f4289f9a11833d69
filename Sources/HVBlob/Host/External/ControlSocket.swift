// SPDX-License-Identifier: Apache-2.0
#if canImport(Glibc)
import Glibc
#endif

/// The control socket: a Unix SOCK_SEQPACKET connection, one `HostMessage` per record. The
/// guest listens (`listen(path:)` then `accept`), the host connects (`connect(path:)`).
public final class ControlSocket {
    public let fd: Int32

    public struct Failure: Error, CustomStringConvertible, Equatable {
        public let what: String
        public init(_ what: String) { self.what = what }
        public var description: String { what }
    }

    init(fd: Int32) { self.fd = fd }
    deinit { Glibc.close(fd) }

    private static func address(_ path: String) throws(Failure) -> sockaddr_un {
        var a = sockaddr_un()
        a.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        let cap = MemoryLayout.size(ofValue: a.sun_path)
        guard bytes.count < cap else { throw Failure("socket path \(path) is longer than \(cap - 1) bytes") }
        withUnsafeMutableBytes(of: &a.sun_path) { raw in
            for (i, b) in bytes.enumerated() { raw[i] = b }
            raw[bytes.count] = 0
        }
        return a
    }

    /// A listening socket at `path` (an old socket file there is replaced).
    public static func listen(path: String) throws(Failure) -> ControlSocket {
        var a = try address(path)
        let fd = socket(AF_UNIX, Int32(SOCK_SEQPACKET.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw Failure("socket(AF_UNIX, SOCK_SEQPACKET): \(String(cString: strerror(errno)))") }
        unlink(path)
        let r = withUnsafePointer(to: &a) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) } }
        guard r == 0, Glibc.listen(fd, 4) == 0 else {
            let e = errno
            Glibc.close(fd)
            throw Failure("cannot listen at \(path): \(String(cString: strerror(e)))")
        }
        return ControlSocket(fd: fd)
    }

    /// Connects to a guest listening at `path`.
    public static func connect(path: String) throws(Failure) -> ControlSocket {
        var a = try address(path)
        let fd = socket(AF_UNIX, Int32(SOCK_SEQPACKET.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw Failure("socket(AF_UNIX, SOCK_SEQPACKET): \(String(cString: strerror(errno)))") }
        let r = withUnsafePointer(to: &a) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) } }
        guard r == 0 else {
            let e = errno
            Glibc.close(fd)
            throw Failure("cannot connect to \(path): \(String(cString: strerror(e)))")
        }
        return ControlSocket(fd: fd)
    }

    /// Waits up to `timeoutMs` for a host to connect; nil on timeout.
    public func accept(timeoutMs: Int32) throws(Failure) -> ControlSocket? {
        guard try wait(timeoutMs) else { return nil }
        let c = Glibc.accept(fd, nil, nil)
        guard c >= 0 else { throw Failure("accept: \(String(cString: strerror(errno)))") }
        return ControlSocket(fd: c)
    }

    /// true when a message (or the peer's close) is waiting; false on timeout.
    public func wait(_ timeoutMs: Int32) throws(Failure) -> Bool {
        var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        while true {
            let n = poll(&p, 1, timeoutMs)
            if n < 0 && errno == EINTR { continue }
            if n < 0 { throw Failure("poll: \(String(cString: strerror(errno)))") }
            return n > 0
        }
    }

    public func send(_ m: HostMessage) throws(Failure) {
        let bytes = m.encoded()
        let n = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        if n != bytes.count { throw Failure("the peer closed the control socket (send: \(String(cString: strerror(errno))))") }
    }

    public enum Received: Sendable {
        case message(HostMessage)
        case timeout
        case closed
        case malformed(HostMessage.DecodeError)
    }

    /// The next message, waiting up to `timeoutMs` (-1: for ever).
    public func receive(timeoutMs: Int32) throws(Failure) -> Received {
        guard try wait(timeoutMs) else { return .timeout }
        var buf = [UInt8](repeating: 0, count: HostMessage.maxSize + 1)
        let n = buf.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        if n < 0 && (errno == ECONNRESET) { return .closed }
        if n < 0 { throw Failure("recv: \(String(cString: strerror(errno)))") }
        if n == 0 { return .closed }
        do { return .message(try HostMessage.decode(Array(buf[0..<n]))) } catch { return .malformed(error) }
    }
}
