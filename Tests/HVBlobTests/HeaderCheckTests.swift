// SPDX-License-Identifier: Apache-2.0
import Foundation
import HVBlob
import Testing

/// The real headers are the truth: every layout the model uses is checked against them.
@Suite("Layouts against the real headers")
struct HeaderCheckTests {
    /// (a) the uapi struct and the wire messages as the machine's C compiler lays them out
    /// against <linux/ioctl.h>, <linux/types.h> and <linux/uuid.h>.
    @Test("header.uapi: C sizeof/offsetof/ioctl value equal the Swift model")
    func uapiLayout() throws {
        let tmp = FileManager.default.temporaryDirectory.appendingPathComponent("hvblob-uapi-\(getpid())")
        try FileManager.default.createDirectory(at: tmp, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: tmp) }
        let exe = tmp.appendingPathComponent("uapi_layout").path
        let cc = try runProcess(["cc", "-Wall", "-Wextra", "-Werror", "-I", repoRoot.appendingPathComponent("kernel/include/uapi").path,
                                 "-I", repoRoot.appendingPathComponent("kernel").path,
                                 repoRoot.appendingPathComponent("Tests/HeaderChecks/uapi_layout.c").path, "-o", exe])
        try #require(cc.status == 0, "cc failed:\n\(cc.output)")
        let out = try runProcess([exe])
        try #require(out.status == 0)
        var lines = Set(out.output.split(separator: "\n").map(String.init))

        func expect<T: WireStruct>(_ t: T.Type) {
            #expect(lines.remove("sizeof \(T.wireName) \(T.wireSize)") != nil, "sizeof \(T.wireName) differs: C says \(out.output)")
            for f in T.fields where f.name != "(padding)" {
                // The wire header keeps the transaction GUID as 16 bytes; names match the C fields.
                let line = "\(T.wireName).\(f.name) \(f.offset) \(f.size)"
                #expect(lines.remove(line) != nil, "\(line) not what the C compiler says")
            }
        }
        expect(AzBlobRequestSync.self)
        expect(VSPRequest.self)
        expect(VSPResponse.self)
        #expect(lines.remove("ioctl IOCTL_AZ_BLOB_DRIVER_USER_REQUEST 0x\(String(IoctlCommand.azBlobUserRequest.rawValue, radix: 16))") != nil)
        #expect(lines.remove("const AZ_BLOB_DRIVER_USER_REQUEST 0x\(String(VSPOperation.userRequest.rawValue, radix: 16))") != nil)
        #expect(lines.remove("const AZ_BLOB_DRIVER_REGISTER_BUFFER 0x\(String(VSPOperation.registerBuffer.rawValue, radix: 16))") != nil)
        #expect(lines.remove("const AZ_BLOB_DRIVER_DEREGISTER_BUFFER 0x\(String(VSPOperation.deregisterBuffer.rawValue, radix: 16))") != nil)
        #expect(lines.remove("const AZ_BLOB_VSP_PROTOCOL_VERSION_V1 \(AzBlob.protocolVersion)") != nil)
        #expect(lines.remove("guid HV_AZURE_BLOB_GUID \(Hex.encode(AzBlob.deviceClassGUID.bytes))") != nil)
        #expect(lines.isEmpty, "lines the model does not account for: \(lines.sorted())")
    }

    static func headerTree() -> URL? {
        let src = URL(fileURLWithPath: "/usr/src")
        let names = (try? FileManager.default.contentsOfDirectory(atPath: src.path)) ?? []
        return names.filter { $0.hasPrefix("linux-headers-") && $0.hasSuffix("-amd64") }.sorted().last.map { src.appendingPathComponent($0) }
    }

    /// The kbuild check's source: static_asserts whose right-hand sides are the model's numbers.
    static func kbuildSource() -> String {
        var a: [String] = []
        func check(_ expr: String, _ value: Int) { a.append("static_assert(\(expr) == \(value));") }
        func checkU64(_ expr: String, _ value: UInt64) { a.append("static_assert(\(expr) == \(value)ULL);") }
        check("sizeof(struct vmpacket_descriptor)", PacketDescriptor.wireSize)
        let descNames = ["type": "type", "offset8": "offset8", "len8": "len8", "flags": "flags", "trans_id": "trans_id"]
        for f in PacketDescriptor.fields {
            check("offsetof(struct vmpacket_descriptor, \(descNames[f.name]!))", f.offset)
            check("sizeof(((struct vmpacket_descriptor *)0)->\(descNames[f.name]!))", f.size)
        }
        // The MPB descriptor: header size, each field, and where the PFN array starts.
        check("sizeof(struct vmbus_packet_mpb_array)", GPADirectPacket.headerSize)
        let mpb: [(String, Int)] = [("type", 0), ("dataoffset8", 2), ("length8", 4), ("flags", 6), ("transactionid", 8),
                                    ("reserved", 16), ("rangecount", 20), ("range.len", 24), ("range.offset", 28), ("range.pfn_array", 32)]
        for (name, off) in mpb { check("offsetof(struct vmbus_packet_mpb_array, \(name))", off) }
        check("sizeof(((struct vmbus_packet_mpb_array *)0)->range.pfn_array[0])", 8)
        check("offsetof(struct hv_ring_buffer, write_index)", RingBuffer.Header.writeIndex)
        check("offsetof(struct hv_ring_buffer, read_index)", RingBuffer.Header.readIndex)
        check("offsetof(struct hv_ring_buffer, interrupt_mask)", RingBuffer.Header.interruptMask)
        check("offsetof(struct hv_ring_buffer, pending_send_sz)", RingBuffer.Header.pendingSendSize)
        check("offsetof(struct hv_ring_buffer, feature_bits)", RingBuffer.Header.featureBits)
        check("offsetof(struct hv_ring_buffer, buffer)", RingBuffer.headerSize)
        let types: [(String, PacketType)] = [
            ("VM_PKT_INVALID", .invalid), ("VM_PKT_SYNCH", .synch), ("VM_PKT_ADD_XFER_PAGESET", .addTransferPageSet),
            ("VM_PKT_RM_XFER_PAGESET", .removeTransferPageSet), ("VM_PKT_ESTABLISH_GPADL", .establishGPADL),
            ("VM_PKT_TEARDOWN_GPADL", .teardownGPADL), ("VM_PKT_DATA_INBAND", .dataInBand),
            ("VM_PKT_DATA_USING_XFER_PAGES", .dataUsingTransferPages), ("VM_PKT_DATA_USING_GPADL", .dataUsingGPADL),
            ("VM_PKT_DATA_USING_GPA_DIRECT", .dataUsingGPADirect), ("VM_PKT_CANCEL_REQUEST", .cancelRequest),
            ("VM_PKT_COMP", .completion), ("VM_PKT_DATA_USING_ADDITIONAL_PKT", .dataUsingAdditionalPacket),
            ("VM_PKT_ADDITIONAL_DATA", .additionalData),
        ]
        for (name, t) in types {
            check(name, Int(t.rawValue))
            a.append("static_assert(__builtin_strcmp(\"\(name)\", \"\(t.description)\") == 0);")
        }
        check("VMBUS_DATA_PACKET_FLAG_COMPLETION_REQUESTED", Int(PacketFlags.completionRequested))
        checkU64("VMBUS_NO_RQSTOR", RequestIdSentinel.noRequestor)
        checkU64("VMBUS_RQST_ERROR", RequestIdSentinel.error)
        checkU64("VMBUS_RQST_ADDR_ANY", RequestIdSentinel.addrAny)
        checkU64("VMBUS_RQST_ID_NO_RESPONSE", RequestIdSentinel.idNoResponse)
        check("VMBUS_DEFAULT_MAX_PKT_SIZE", RingReader.packetBufferSize)
        check("PAGE_SIZE", AzBlob.pageSize)
        return """
            // SPDX-License-Identifier: GPL-2.0-only
            /* Generated by hvblob's test suite: the model's numbers against the real hyperv.h. */
            #include <linux/module.h>
            #include <linux/hyperv.h>
            #include <linux/build_bug.h>

            \(a.joined(separator: "\n"))

            MODULE_LICENSE("GPL");
            MODULE_DESCRIPTION("hvblob layout check");

            """
    }

    /// Builds `source` as an out-of-tree module against the machine's header tree; nil when
    /// there is none (a failure under CI, which installs linux-headers-amd64).
    static func kbuild(_ source: String, name: String) throws -> (status: Int32, output: String, built: Bool)? {
        guard let tree = headerTree() else {
            #expect(!runningUnderCI, "CI=true but no /usr/src/linux-headers-*-amd64: install linux-headers-amd64")
            return nil
        }
        let tmp = FileManager.default.temporaryDirectory.appendingPathComponent("hvblob-\(name)-\(getpid())")
        try FileManager.default.createDirectory(at: tmp, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: tmp) }
        try source.write(to: tmp.appendingPathComponent("hvblob_layout_check.c"), atomically: true, encoding: .utf8)
        try "obj-m += hvblob_layout_check.o\n".write(to: tmp.appendingPathComponent("Kbuild"), atomically: true, encoding: .utf8)
        let r = try runProcess(["make", "-s", "-C", tree.path, "M=\(tmp.path)", "modules"])
        let built = FileManager.default.fileExists(atPath: tmp.appendingPathComponent("hvblob_layout_check.ko").path)
        return (r.status, "\(tree.path): \(r.output)", built)
    }

    /// (b) the real hyperv.h, compiled by kbuild, asserts every offset and value the model uses.
    @Test("header.hyperv: kbuild static_asserts of hyperv.h hold for the model's values")
    func kbuildLayout() throws {
        guard let r = try HeaderCheckTests.kbuild(HeaderCheckTests.kbuildSource(), name: "kbuild") else { return }
        #expect(r.status == 0 && r.built, "kbuild check failed:\n\(r.output)")
    }

    /// The check is able to fail: a wrong value in the generated source must break the build.
    @Test("header.hyperv: a deliberately wrong offset fails the kbuild check")
    func kbuildCatchesMismatch() throws {
        let bad = HeaderCheckTests.kbuildSource().replacingOccurrences(
            of: "offsetof(struct vmpacket_descriptor, trans_id) == 8", with: "offsetof(struct vmpacket_descriptor, trans_id) == 12")
        #expect(bad != HeaderCheckTests.kbuildSource())
        guard let r = try HeaderCheckTests.kbuild(bad, name: "kbuild-bad") else { return }
        #expect(r.status != 0 && !r.built)
        #expect(r.output.contains("static assertion failed") || r.output.contains("static_assert"), "\(r.output)")
    }
}
