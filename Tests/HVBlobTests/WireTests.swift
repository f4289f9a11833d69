// SPDX-License-Identifier: Apache-2.0
import HVBlob
import PropertyBased
import Testing

@Suite("Wire layouts")
struct WireTests {
    /// Fields must tile the structure exactly: no gap, no overlap, ending at wireSize.
    func tiles<T: WireStruct>(_ t: T.Type) -> Bool {
        var at = 0
        for f in T.fields {
            if f.offset != at { return false }
            at += f.size
        }
        return at == T.wireSize
    }

    @Test("layout.request-sync: 72 bytes, every offset as PROTOCOL.md §1, padding at 36")
    func requestSyncLayout() {
        let expected: [(String, Int, Int)] = [
            ("guid", 0, 16), ("timeout", 16, 4), ("request_len", 20, 4), ("response_len", 24, 4), ("data_len", 28, 4),
            ("data_valid", 32, 4), ("(padding)", 36, 4), ("request_buffer", 40, 8), ("response_buffer", 48, 8),
            ("data_buffer", 56, 8), ("response.status", 64, 4), ("response.response_len", 68, 4),
        ]
        #expect(AzBlobRequestSync.wireSize == 72)
        #expect(AzBlobRequestSync.fields.map { [$0.name, "\($0.offset)", "\($0.size)"] } == expected.map { [$0.0, "\($0.1)", "\($0.2)"] })
        #expect(tiles(AzBlobRequestSync.self))
    }

    @Test("layout.vsp-request: 56 bytes packed, offsets as PROTOCOL.md §2")
    func vspRequestLayout() {
        let offsets = [0, 4, 8, 12, 16, 20, 24, 28, 32, 36, 40]
        #expect(VSPRequest.wireSize == 56)
        #expect(VSPRequest.fields.map(\.offset) == offsets)
        #expect(tiles(VSPRequest.self))
        #expect(VSPResponse.wireSize == 12 && tiles(VSPResponse.self))
        #expect(PacketDescriptor.wireSize == 16 && tiles(PacketDescriptor.self))
        #expect(PacketDescriptor.fields.map(\.offset) == [0, 2, 4, 6, 8])
    }

    @Test("layout.ioctl: _IOWR('R', 0xf0, 72 bytes) = 0xC04852F0, and the encoder's fields")
    func ioctlNumber() {
        let c = IoctlCommand.azBlobUserRequest
        #expect(c.rawValue == 0xC048_52F0)
        #expect(c.direction == [.read, .write])
        #expect(c.type == UInt8(ascii: "R") && c.number == 0xF0 && c.size == 72)
        // Direction bits: _IOR = 2, _IOW = 1; size must fit 14 bits.
        #expect(IoctlCommand(direction: .read, type: 0x52, number: 0xF0, size: 72)?.rawValue == 0x8048_52F0)
        #expect(IoctlCommand(direction: .write, type: 0x52, number: 0xF0, size: 72)?.rawValue == 0x4048_52F0)
        #expect(IoctlCommand(direction: .read, type: 0, number: 0, size: 1 << 14) == nil)
        #expect(IoctlCommand(direction: .read, type: 0, number: 0, size: (1 << 14) - 1) != nil)
    }

    @Test("layout.guid: the device class GUID in GUID_INIT byte order, and its text form")
    func deviceGUID() {
        #expect(AzBlob.deviceClassGUID.bytes == hex("92b79005 64db cc45 81db b8d70c577c9e"))
        #expect(AzBlob.deviceClassGUID.description == "0590b792-db64-45cc-81db-b8d70c577c9e")
        #expect(GUID(string: "0590b792-db64-45cc-81db-b8d70c577c9e") == AzBlob.deviceClassGUID)
        #expect(GUID(string: "0590b792-db64-45cc-81db-b8d70c577c9") == nil)
        #expect(GUID(string: "0590b792-db64-45cc-81db-b8d70c577c9g") == nil)
    }

    @Test("layout.request-sync: exact bytes for known field values")
    func requestSyncBytes() throws {
        let r = AzBlobRequestSync(guid: AzBlob.deviceClassGUID, timeout: 0x01020304, requestLen: 5, responseLen: 6, dataLen: 7,
                                  dataValid: 8, requestBuffer: 0x1122334455667788, responseBuffer: 0x99, dataBuffer: 0xAABB,
                                  responseStatus: 0xC000000D, responseResponseLen: 9)
        let bytes = r.encoded()
        #expect(bytes.count == 72)
        #expect(Hex.encode(bytes) == "92b7900564dbcc4581dbb8d70c577c9e" + "04030201" + "05000000" + "06000000" + "07000000" + "08000000"
                + "00000000" + "8877665544332211" + "9900000000000000" + "bbaa000000000000" + "0d0000c0" + "09000000")
        #expect((try? AzBlobRequestSync.decode(bytes)) == r)
    }

    @Test("layout.completion: a completion packet is 32 bytes, offset8 2, len8 4, type 11")
    func completionBytes() {
        let p = CompletionPacket(requestId: 0x0102, response: VSPResponse(error: .unsuccessful, responseLen: 17)).encoded()
        #expect(Hex.encode(p) == "0b00" + "0200" + "0400" + "0000" + "0201000000000000" + "0c000000" + "010000c0" + "11000000" + "00000000")
    }

    /// Every short input names the field it ends in and that field's offset; longer input is
    /// refused at the structure's end.
    func truncations<T: WireStruct>(_ t: T.Type, _ value: T) throws {
        let bytes = value.encoded()
        for n in 0..<bytes.count {
            let err = try #require(throws: WireError.self) { try T.decode(Array(bytes[0..<n])) }
            let field = T.fields.first { $0.offset <= n && n < $0.offset + $0.size }!
            #expect(err.code == .truncated)
            #expect(err.field == field.name, "cut at \(n): \(err)")
            #expect(err.offset == field.offset)
            #expect(err.needed == field.size && err.available == n - field.offset)
        }
        let long = try #require(throws: WireError.self) { try T.decode(bytes + [0]) }
        #expect(long.code == .trailingBytes && long.offset == T.wireSize && long.available == T.wireSize + 1)
    }

    @Test("decode.truncated: every structure at every length")
    func everyTruncation() throws {
        try truncations(AzBlobRequestSync.self, AzBlobRequestSync(requestLen: 1))
        try truncations(VSPRequest.self, VSPRequest())
        try truncations(VSPResponse.self, VSPResponse())
        try truncations(PacketDescriptor.self, PacketDescriptor(type: .completion, offset8: 2, len8: 4, flags: 0, transId: 1))
    }

    @Test("decode.mpb: the GPA-direct packet decoder rejects bad dataoffset8 and length8 with offsets")
    func mpbDecodeErrors() throws {
        let good = GPADirectPacket(pfns: [0x1001, 0x1002], request: VSPRequest(requestBufferLength: 1), transactionId: 3).encoded()
        #expect(try GPADirectPacket.decode(good).pfns == [0x1001, 0x1002])
        var bad = good
        bad[2] = 3  // dataoffset8 = 3: 24 bytes, shorter than the 32-byte header
        let e1 = try #require(throws: WireError.self) { try GPADirectPacket.decode(bad) }
        #expect(e1.code == .badValue && e1.field == "dataoffset8" && e1.offset == 2)
        bad = good
        bad[4] = 0xff  // length8 beyond the bytes present
        let e2 = try #require(throws: WireError.self) { try GPADirectPacket.decode(bad) }
        #expect(e2.code == .truncated && e2.field == "length8" && e2.offset == 4)
        let e3 = try #require(throws: WireError.self) { try GPADirectPacket.decode(Array(good[0..<40])) }
        // A cut packet: length8 says 104 bytes, 40 are there.
        #expect(e3.code == .truncated && e3.field == "length8" && e3.offset == 4 && e3.needed == good.count && e3.available == 40)
        // A cut inside the PFN array while length8 agrees: the PFN is named.
        var short = Array(good[0..<40])
        short[4] = 5  // length8 = 5 (40 bytes)
        let e5 = try #require(throws: WireError.self) { try GPADirectPacket.decode(short) }
        #expect(e5.code == .badValue && e5.field == "length8")
        // A slice of a larger input reports offsets in the larger input.
        let e4 = try #require(throws: WireError.self) { try GPADirectPacket.decode(Array(good[0..<10]), base: 1000) }
        #expect(e4.offset == 1008 && e4.field == "transactionid")
    }

    @Test("decode.hex: malformed hex names the character offset")
    func hexErrors() throws {
        #expect(try Hex.decode("0a 0B:ff") == [0x0a, 0x0b, 0xff])
        let e1 = try #require(throws: WireError.self) { try Hex.decode("0a0z") }
        #expect(e1.code == .badHex && e1.offset == 3)
        let e2 = try #require(throws: WireError.self) { try Hex.decode("abc") }
        #expect(e2.code == .badHex && e2.offset == 3)
        let e3 = try #require(throws: WireError.self) { try Hex.decode("a bc") }
        #expect(e3.offset == 1)
    }

    // MARK: properties

    static let u32 = Gen.uint32()
    static let u64 = Gen.uint64()
    static let guidGen = Gen.uint8().array(of: 16).map { GUID(bytes: $0) }

    @Test("roundtrip.request-sync: decode(encode(x)) == x for random values")
    func requestSyncRoundTrip() async {
        let gen = zip(WireTests.guidGen, WireTests.u32.array(of: 8), WireTests.u64.array(of: 3))
        await propertyCheck(count: 300, input: gen) { g, a, b in
            let r = AzBlobRequestSync(guid: g, timeout: a[0], requestLen: a[1], responseLen: a[2], dataLen: a[3], dataValid: a[4],
                                      requestBuffer: b[0], responseBuffer: b[1], dataBuffer: b[2], responseStatus: a[5],
                                      responseResponseLen: a[6], padding: a[7])
            let bytes = r.encoded()
            #expect(bytes.count == 72)
            #expect((try? AzBlobRequestSync.decode(bytes)) == r)
            #expect((try? AzBlobRequestSync.decode(bytes))?.encoded() == bytes)
        }
    }

    @Test("roundtrip.vsp: VSP request/response and descriptors for random values")
    func vspRoundTrip() async {
        await propertyCheck(count: 300, input: WireTests.guidGen, WireTests.u32.array(of: 13), WireTests.u64) { g, a, id in
            let r = VSPRequest(version: a[0], timeoutMs: a[1], dataBufferOffset: a[2], dataBufferLength: a[3], dataBufferValid: a[4],
                               operation: VSPOperation(rawValue: a[5]), requestBufferOffset: a[6], requestBufferLength: a[7],
                               responseBufferOffset: a[8], responseBufferLength: a[9], transactionId: g)
            #expect((try? VSPRequest.decode(r.encoded())) == r)
            let s = VSPResponse(length: a[10], error: VSPStatus(rawValue: a[11]), responseLen: a[12])
            #expect((try? VSPResponse.decode(s.encoded())) == s)
            let d = PacketDescriptor(type: PacketType(rawValue: UInt16(truncatingIfNeeded: a[0])), offset8: UInt16(truncatingIfNeeded: a[1]),
                                     len8: UInt16(truncatingIfNeeded: a[2]), flags: UInt16(truncatingIfNeeded: a[3]), transId: id)
            #expect((try? PacketDescriptor.decode(d.encoded())) == d)
        }
    }

    @Test("roundtrip.mpb: GPA-direct packets with 0..64 random PFNs")
    func mpbRoundTrip() async {
        await propertyCheck(count: 200, input: WireTests.u64.array(of: 0...64), WireTests.u64, WireTests.guidGen) { pfns, id, g in
            let p = GPADirectPacket(pfns: pfns, request: VSPRequest(requestBufferLength: 1, transactionId: g), transactionId: id)
            let bytes = p.encoded()
            #expect(bytes.count % 8 == 0)
            #expect(bytes.count == Int(p.length8) * 8)
            #expect(Int(p.dataOffset8) * 8 == 32 + 8 * pfns.count)
            #expect((try? GPADirectPacket.decode(bytes)) == p)
        }
    }

    @Test("decode.garbage: random bytes never trap; they decode or throw a WireError")
    func garbage() async {
        await propertyCheck(count: 500, input: Gen.uint8().array(of: 0...200)) { bytes in
            _ = try? AzBlobRequestSync.decode(bytes)
            _ = try? VSPRequest.decode(bytes)
            _ = try? VSPResponse.decode(bytes)
            _ = try? PacketDescriptor.decode(bytes)
            do { _ = try GPADirectPacket.decode(bytes) } catch let error as WireError {
                #expect(error.offset >= 0 && error.offset <= 65536 * 8)
            } catch {
                Issue.record("not a WireError: \(error)")
            }
        }
    }

    @Test("wire.pfn-list: a PFN list holds what an array holds, inline and past its inline room, and compares and hashes by its PFNs")
    func pfnList() {
        var rng = SeededRandom(seed: 31)
        var spilled = 0
        for round in 0..<300 {
            let want = (0..<rng.int(in: 0...(2 * PFNList.inlineCapacity + 3))).map { _ in rng.next() }
            var built = PFNList()
            built.reserveCapacity(round % 3 == 0 ? want.count : 0)
            for p in want { built.append(p) }
            #expect(Array(built) == want, "round \(round)")
            #expect(built.count == want.count && built.isEmpty == want.isEmpty)
            let other = PFNList(want)
            #expect(built == other && built.hashValue == other.hashValue, "round \(round)")
            #expect(built.description == "\(want)")
            if !want.isEmpty {
                var changed = want
                changed[changed.count - 1] &+= 1
                #expect(PFNList(changed) != built, "round \(round): a different last PFN compares equal")
                #expect(PFNList(want.dropLast()) != built, "round \(round): a shorter list compares equal")
            }
            if want.count > PFNList.inlineCapacity { spilled += 1 }
        }
        #expect(spilled > 50, "only \(spilled) lists went past the inline room")
    }

    @Test("wire.mpb-direct: the request path's packet, written from three PFN lists, is the packet GPADirectPacket builds from their concatenation")
    func mpbDirect() throws {
        var rng = SeededRandom(seed: 12)
        for round in 0..<200 {
            func list() -> [UInt64] { (0..<rng.int(in: 0...5)).map { _ in rng.next() } }
            let a = list(), b = list(), c = list()
            let r = VSPRequest(timeoutMs: UInt32(truncatingIfNeeded: rng.next()), dataBufferOffset: UInt32(round), dataBufferLength: 77,
                               requestBufferOffset: 4096, requestBufferLength: 9, responseBufferOffset: 8192,
                               responseBufferLength: 10, transactionId: GUID(low: rng.next(), high: rng.next()))
            let direct = GPADirectPacket.encoded(pfns: a, b, c, request: r)
            #expect(direct == GPADirectPacket(pfns: a + b + c, request: r).encoded(), "round \(round): \(a) \(b) \(c)")
            #expect(try Array(GPADirectPacket.decode(direct).pfns) == a + b + c)
            let response = VSPResponse(error: VSPStatus(rawValue: UInt32(truncatingIfNeeded: rng.next())), responseLen: UInt32(round))
            var reused = [UInt8](repeating: 0xee, count: round % 40)
            CompletionPacket.encode(requestId: UInt64(round) * 7, response: response, into: &reused)
            #expect(reused == CompletionPacket(requestId: UInt64(round) * 7, response: response).encoded(), "round \(round)")
        }
    }
}
