// SPDX-License-Identifier: Apache-2.0
import Foundation
import HVBlob
import Testing

/// The `hvblob` binary as a user runs it: output, exit status 0 / 1 / 2, errors that say what
/// and where.
@Suite("hvblob command")
struct CLITests {
    static var binary: String {
        URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("hvblob").path
    }

    func hvblob(_ args: [String]) throws -> (status: Int32, output: String) {
        try #require(FileManager.default.isExecutableFile(atPath: CLITests.binary), "no hvblob binary at \(CLITests.binary): run swift build first")
        return try runProcess([CLITests.binary] + args)
    }

    func tempFile(_ bytes: [UInt8]) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("hvblob-\(UUID().uuidString).bin").path
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return path
    }

    @Test("cli.decode: a request-sync struct, one field per line with offsets")
    func decodeStruct() throws {
        let r = AzBlobRequestSync(guid: AzBlob.deviceClassGUID, timeout: 9, requestLen: 100, responseLen: 64, requestBuffer: 0x7f00_0000_1000)
        let out = try hvblob(["decode", "--as", "request-sync", Hex.encode(r.encoded())])
        #expect(out.status == 0)
        #expect(out.output.contains("az_blob_request_sync (72 bytes)"))
        #expect(out.output.contains("   16 +4   timeout"))
        #expect(out.output.contains("request_buffer") && out.output.contains("0x7f0000001000"))
        #expect(out.output.contains("0590b792-db64-45cc-81db-b8d70c577c9e"))
    }

    @Test("cli.decode: whole packets — GPA-direct with PFNs and the VSP request; a completion")
    func decodePackets() throws {
        let p = GPADirectPacket(pfns: [0x1234, 0x5678], request: VSPRequest(requestBufferOffset: 8192, requestBufferLength: 10), transactionId: 5)
        let out = try hvblob(["decode", Hex.encode(p.encoded())])
        #expect(out.status == 0)
        #expect(out.output.contains("range.pfn_array[1]") && out.output.contains("0x5678"))
        #expect(out.output.contains("   72 +4   request.request_buffer_offset") && out.output.contains("8192"))
        let c = CompletionPacket(requestId: 3, response: VSPResponse(error: .unsuccessful, responseLen: 2)).encoded()
        let out2 = try hvblob(["decode", Hex.encode(c)])
        #expect(out2.status == 0 && out2.output.contains("VM_PKT_COMP") && out2.output.contains("STATUS_UNSUCCESSFUL"))
    }

    @Test("cli.decode.bad-input: a truncated file names the file, field and byte offset; exit 2")
    func decodeTruncated() throws {
        let path = try tempFile(Array(AzBlobRequestSync().encoded()[0..<30]))
        defer { try? FileManager.default.removeItem(atPath: path) }
        let out = try hvblob(["decode", "--as", "request-sync", "--file", path])
        #expect(out.status == 2)
        #expect(out.output.contains(path) && out.output.contains("data_len at byte 28: truncated"), "\(out.output)")
        let bad = try hvblob(["decode", "0a0z"])
        #expect(bad.status == 2 && bad.output.contains("character 3"))
        let missing = try hvblob(["decode", "--file", "/nonexistent/x"])
        #expect(missing.status == 2 && missing.output.contains("/nonexistent/x"))
        let kind = try hvblob(["decode", "--as", "bogus", "00"])
        #expect(kind.status == 2)
    }

    @Test("cli.usage: bad options exit 2 with the reason")
    func usage() throws {
        for (args, needle) in [(["simulate", "--faults", "dorp=1"], "unknown fault 'dorp'"), (["simulate", "--seed", "xyz"], "--seed"),
                               (["simulate", "--kernel-version", "4.19"], "--kernel-version"), (["simulate", "--sizes", "10,0"], "character 3"),
                               (["simulate", "--driver", "v6"], "--driver"), (["simulate", "--bogus"], "bogus")] {
            let out = try hvblob(args)
            #expect(out.status == 2, "\(args): \(out.output)")
            #expect(out.output.contains(needle), "\(args): \(out.output)")
        }
    }

    @Test("cli.simulate: clean run exits 0 and prints the seed first; findings exit 1 with a reproduce line")
    func simulate() throws {
        let clean = try hvblob(["simulate", "--clients", "3", "--requests", "6", "--seed", "11"])
        #expect(clean.status == 0)
        #expect(clean.output.hasPrefix("seed=11 faults=delay=1-4 driver=fixed kernel=6.1"))
        #expect(clean.output.contains("verdict: clean"))
        let v5 = try hvblob(["simulate", "--driver", "v5", "--clients", "2", "--requests", "4", "--seed", "11"])
        #expect(v5.status == 1)
        #expect(v5.output.contains("pin.host-write-without-write-intent"))
        #expect(v5.output.contains("reproduce: hvblob simulate --seed 11"))
        // The reproduce line reproduces: same verdict, same digest.
        let line = try #require(v5.output.split(separator: "\n").first { $0.hasPrefix("reproduce: ") })
        var args = line.dropFirst("reproduce: hvblob ".count).split(separator: " ").map(String.init)
        args = args.map { $0.replacingOccurrences(of: "'", with: "") }
        let again = try hvblob(args)
        func digest(_ s: String) -> Substring? { s.split(separator: "\n").first { $0.hasPrefix("time:") } }
        #expect(again.status == 1 && digest(again.output) == digest(v5.output))
    }
}
