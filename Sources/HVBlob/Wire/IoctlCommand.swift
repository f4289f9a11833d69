// SPDX-License-Identifier: Apache-2.0

/// An ioctl command number in the asm-generic encoding: nr bits 0-7, type bits 8-15, size bits
/// 16-29, direction bits 30-31 (write = 1, read = 2).
public struct IoctlCommand: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    public struct Direction: OptionSet, Hashable, Sendable {
        public let rawValue: UInt32
        public init(rawValue: UInt32) { self.rawValue = rawValue }
        public static let write = Direction(rawValue: 1)
        public static let read = Direction(rawValue: 2)
    }

    public static let sizeBits: UInt32 = 14

    /// _IOC(dir, type, nr, size); nil when size does not fit in 14 bits (the kernel's
    /// _IOC_TYPECHECK makes that a build error).
    public init?(direction: Direction, type: UInt8, number: UInt8, size: Int) {
        guard size >= 0, size < 1 << IoctlCommand.sizeBits else { return nil }
        rawValue = direction.rawValue << 30 | UInt32(size) << 16 | UInt32(type) << 8 | UInt32(number)
    }

    public var direction: Direction { Direction(rawValue: rawValue >> 30) }
    public var type: UInt8 { UInt8(truncatingIfNeeded: rawValue >> 8) }
    public var number: UInt8 { UInt8(truncatingIfNeeded: rawValue) }
    public var size: Int { Int((rawValue >> 16) & ((1 << IoctlCommand.sizeBits) - 1)) }

    /// IOCTL_AZ_BLOB_DRIVER_USER_REQUEST = _IOWR('R', 0xf0, struct az_blob_request_sync).
    public static let azBlobUserRequest: IoctlCommand = {
        guard let c = IoctlCommand(direction: [.read, .write], type: AzBlob.ioctlMagic,
                                   number: AzBlob.ioctlNumber, size: AzBlobRequestSync.wireSize) else {
            preconditionFailure("internal: a 72-byte struct always fits the ioctl size field")
        }
        return c
    }()

    public var description: String {
        "0x" + String(rawValue, radix: 16, uppercase: true)
            + " (dir=\(direction.rawValue) type='\(Character(Unicode.Scalar(type)))' nr=0x\(String(number, radix: 16)) size=\(size))"
    }
}
