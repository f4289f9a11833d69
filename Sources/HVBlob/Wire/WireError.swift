// SPDX-License-Identifier: Apache-2.0

/// Why bytes could not be decoded. Carries the numbers that reproduce the failure: the structure,
/// the field, the byte offset where it starts, and what was needed against what was there. Two
/// failures are the same failure when code, structure, field and offset all agree.
public struct WireError: Error, Hashable, Sendable, CustomStringConvertible {
    public enum Code: String, Sendable {
        /// The input ends inside `field`: `needed` bytes from `offset`, `available` there.
        case truncated
        /// The input is longer than the structure: `available` bytes, structure ends at `offset`.
        case trailingBytes = "trailing-bytes"
        /// `field` holds a value the layout cannot accept (`actual`), `needed` says the bound.
        case badValue = "bad-value"
        /// Text input (hex) is malformed at `offset`.
        case badHex = "bad-hex"
    }

    public let code: Code
    public let structure: String
    public let field: String
    public let offset: Int
    public let needed: Int
    public let available: Int

    public init(_ code: Code, structure: String, field: String, offset: Int, needed: Int = 0, available: Int = 0) {
        self.code = code
        self.structure = structure
        self.field = field
        self.offset = offset
        self.needed = needed
        self.available = available
    }

    public var description: String {
        switch code {
        case .truncated:
            return "\(structure).\(field) at byte \(offset): truncated: needs \(needed) byte(s), \(available) available"
        case .trailingBytes:
            return "\(structure) ends at byte \(offset) but the input has \(available) bytes"
        case .badValue:
            return "\(structure).\(field) at byte \(offset): bad value \(available) (\(needed == 0 ? "not accepted" : "limit \(needed)"))"
        case .badHex:
            return "hex input at character \(offset): \(field)"
        }
    }
}

/// One field of a fixed layout: where it is, how wide, what it is called in the C header.
public struct WireField: Hashable, Sendable {
    public let name: String
    public let offset: Int
    public let size: Int
    public init(_ name: String, _ offset: Int, _ size: Int) {
        self.name = name
        self.offset = offset
        self.size = size
    }
}

/// A fixed-size wire structure with a documented layout.
public protocol WireStruct: Sendable, Equatable {
    /// The C name, e.g. `az_blob_vsp_request`.
    static var wireName: String { get }
    static var wireSize: Int { get }
    /// Every byte of the structure, in order, padding included (named `(padding)`).
    static var fields: [WireField] { get }
    init(from reader: inout WireReader) throws(WireError)
    func encode(into writer: inout WireWriter)
    /// The value of each field, for `hvblob decode`.
    var fieldValues: [String] { get }
}

extension WireStruct {
    /// Decodes exactly `wireSize` bytes: shorter input names the field it ends in, longer input
    /// is an error too (a structure never silently ignores bytes).
    public static func decode(_ bytes: [UInt8]) throws(WireError) -> Self {
        var r = WireReader(bytes, structure: wireName)
        let v = try Self(from: &r)
        if r.offset != bytes.count {
            throw WireError(.trailingBytes, structure: wireName, field: "", offset: r.offset, available: bytes.count)
        }
        return v
    }

    public func encoded() -> [UInt8] {
        var w = WireWriter(capacity: Self.wireSize)
        encode(into: &w)
        return w.bytes
    }

    public static func field(_ name: String) -> WireField? { fields.first { $0.name == name } }
}
