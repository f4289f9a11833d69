// SPDX-License-Identifier: Apache-2.0
import ArgumentParser
import HVBlob

#if canImport(Glibc)
import Glibc
#endif

struct Decode: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Decode bytes (hex, or a binary file) into a structure or packet, one field per line with offsets.",
        discussion: """
            Kinds: request-sync (az_blob_request_sync, 72 B), vsp-request (56 B), vsp-response (12 B), \
            descriptor (vmpacket_descriptor, 16 B), packet (a whole VMBus packet: GPA-direct MPB or \
            completion, chosen by its type field).
            """
    )

    @Option(name: .customLong("as"), help: "request-sync | vsp-request | vsp-response | descriptor | packet")
    var kind: String = "packet"
    @Option(help: "Read raw bytes from this file instead of hex on the command line.")
    var file: String?
    @Argument(help: "Hex bytes (spaces allowed).")
    var hex: [String] = []

    static let kinds = ["request-sync", "vsp-request", "vsp-response", "descriptor", "packet"]

    func run() throws {
        guard Decode.kinds.contains(kind) else {
            fail("--as: '\(kind)' is not one of \(Decode.kinds.joined(separator: ", "))\(closeMatches(kind, Decode.kinds).map { " (did you mean \($0)?)" } ?? "")")
        }
        if file != nil && !hex.isEmpty { fail("--file and hex bytes on the command line exclude each other: give the bytes one way") }
        let bytes: [UInt8]
        let source: String
        if let path = file {
            bytes = readFile(path, what: "--file")
            source = path
        } else {
            guard !hex.isEmpty else { fail("decode: give hex bytes or --file") }
            do { bytes = try Hex.decode(hex.joined(separator: " ")) } catch { fail("the hex bytes: \(error)") }
            source = "hex input"
        }
        do {
            for line in try DecodeOutput.lines(kind: kind, bytes: bytes) { Out.standardOutput.write(line + "\n") }
        } catch let e as WireError {
            fail("\(source): \(e)")
        } catch {
            fail("\(source): \(error)")
        }
    }
}

enum DecodeOutput {
    static func table<T: WireStruct>(_ v: T) -> [String] {
        ["\(T.wireName) (\(T.wireSize) bytes)"] + zip(T.fields, v.fieldValues).map { f, val in row(f, val) }
    }

    static func row(_ f: WireField, _ v: String) -> String {
        let off = String(f.offset).leftPad(5)
        return "\(off) +\(String(f.size).rightPad(3)) \(f.name.rightPad(34)) \(v)"
    }

    static func lines(kind: String, bytes: [UInt8]) throws -> [String] {
        switch kind {
        case "request-sync": return table(try AzBlobRequestSync.decode(bytes))
        case "vsp-request": return table(try VSPRequest.decode(bytes))
        case "vsp-response": return table(try VSPResponse.decode(bytes))
        case "descriptor": return table(try PacketDescriptor.decode(bytes))
        case "packet":
            let (title, fields) = try PacketFields.lines(bytes)
            return [title] + fields.map { row($0.0, $0.1) }
        default:
            throw InputError("--as: '\(kind)' is not one of request-sync, vsp-request, vsp-response, descriptor, packet")
        }
    }
}

extension String {
    func leftPad(_ n: Int) -> String { count >= n ? self : String(repeating: " ", count: n - count) + self }
    func rightPad(_ n: Int) -> String { count >= n ? self : self + String(repeating: " ", count: n - count) }
}
