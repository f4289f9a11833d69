// SPDX-License-Identifier: Apache-2.0

/// A Linux errno value, as the ioctl returns it to user space (positive; the kernel returns it
/// negated). An open struct, after swift-system's `Errno`: any value can be held and printed.
public struct Errno: RawRepresentable, Hashable, Sendable, Comparable, CustomStringConvertible, Error {
    public let rawValue: Int32
    public init(rawValue: Int32) { self.rawValue = rawValue }

    public static let success = Errno(rawValue: 0)
    public static let EPERM = Errno(rawValue: 1)
    public static let EINTR = Errno(rawValue: 4)
    public static let EIO = Errno(rawValue: 5)
    public static let EAGAIN = Errno(rawValue: 11)
    public static let ENOMEM = Errno(rawValue: 12)
    public static let EACCES = Errno(rawValue: 13)
    public static let EFAULT = Errno(rawValue: 14)
    public static let EBUSY = Errno(rawValue: 16)
    public static let EEXIST = Errno(rawValue: 17)
    public static let ENODEV = Errno(rawValue: 19)
    public static let EINVAL = Errno(rawValue: 22)
    public static let ENOBUFS = Errno(rawValue: 105)
    public static let ETIMEDOUT = Errno(rawValue: 110)
    /// The kernel's "restart the system call" (a wait a signal ended); user space sees EINTR or
    /// a restart, a process killed by SIGKILL nothing.
    public static let ERESTARTSYS = Errno(rawValue: 512)

    static let names: [Int32: String] = [
        0: "0", 1: "EPERM", 4: "EINTR", 5: "EIO", 11: "EAGAIN", 12: "ENOMEM", 13: "EACCES", 14: "EFAULT",
        16: "EBUSY", 17: "EEXIST", 19: "ENODEV", 22: "EINVAL", 105: "ENOBUFS", 110: "ETIMEDOUT", 512: "ERESTARTSYS",
    ]

    /// Parses "EINVAL", "22" or "0".
    public init?(name: String) {
        if let v = Int32(name) { self.rawValue = v; return }
        guard let hit = Errno.names.first(where: { $0.value == name }) else { return nil }
        self.rawValue = hit.key
    }

    public var name: String { Errno.names[rawValue] ?? "errno(\(rawValue))" }
    public var description: String { name }
    public static func < (a: Errno, b: Errno) -> Bool { a.rawValue < b.rawValue }
}
