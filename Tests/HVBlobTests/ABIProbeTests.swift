// SPDX-License-Identifier: Apache-2.0
import Foundation
import HVBlob
import HVBlobBridge
import Testing

/// The ABI probe reads each driver's ioctl commands and request layout from its own sources.
@Suite("ABI probe")
struct ABIProbeTests {
    static let v1Layout = RequestLayout(
        structName: "xs_fastpath_request_sync", size: 64, guid: 0, timeout: 16, requestLen: 20, responseLen: 24,
        dataLen: 28, dataValid: nil, requestBuffer: 32, responseBuffer: 40, dataBuffer: 48,
        responseStatus: 56, responseResponseLen: 60)

    /// A scratch directory holding `files` (relative path -> text).
    static func tree(_ files: [String: String], _ label: String = #function) throws -> URL {
        let safe = label.filter { $0.isLetter || $0.isNumber }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("hvblob-abiprobe-\(safe)-\(getpid())")
        try? FileManager.default.removeItem(at: dir)
        for (path, text) in files {
            let url = dir.appendingPathComponent(path)
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try text.write(to: url, atomically: true, encoding: .utf8)
        }
        return dir
    }

    static func probe(_ source: DriverSource) throws -> ABIProbe.Result {
        do { return try ABIProbe.probe(source, version: .default) } catch {
            Issue.record("probe failed: \(error)")
            throw error
        }
    }

    static func failure(_ source: DriverSource) -> ABIProbe.Failure? {
        do {
            let r = try ABIProbe.probe(source, version: .default)
            Issue.record("expected a failure, read \(r)")
            return nil
        } catch { return error }
    }

    // MARK: the in-tree driver

    @Test("in-tree driver: the reference ABI, read through the driver's .c, cached the second time")
    func inTree() throws {
        let source = DriverSource(driver: repoRoot.appendingPathComponent("kernel/hv_azure_blob.c"),
                                  includeDirs: [repoRoot.appendingPathComponent("kernel/include")])
        let r = try Self.probe(source)
        #expect(r.method == .driver, "\(r)")
        #expect(r.fallbacks.isEmpty)
        #expect(r.abi.request.name == "IOCTL_AZ_BLOB_DRIVER_USER_REQUEST")
        #expect(r.abi.command.rawValue == 0xC048_52F0)
        #expect(r.abi.command == .azBlobUserRequest)
        #expect(r.abi.layout == .reference, "\(r.abi.layout.differences(from: .reference))")
        #expect(r.abi.layout.size == 72 && r.abi.layout.dataValid == 32 && r.abi.layout.requestBuffer == 40
                && r.abi.layout.responseOffset == 64)
        #expect(r.abi.header == repoRoot.appendingPathComponent("kernel/include/uapi/misc/hv_azure_blob.h").path)
        #expect(r.abi.commands.map(\.name) == ["IOCTL_AZ_BLOB_DRIVER_USER_REQUEST"])
        #expect(r.notes.isEmpty, "\(r.notes)")
        #expect(r.scanned.contains { $0.hasSuffix("kernel/hv_azure_blob_vsp.h") })
        #expect(!r.scanned.contains { $0.contains("CKernelShim") }, "shim headers are not the driver's: \(r.scanned)")

        let again = try Self.probe(source)
        #expect(again.cached)
        #expect(again.abi == r.abi)
        #expect(again.method == r.method)
        // A different API era is a different probe.
        let other = try ABIProbe.read(source, version: KernelVersion(5, 13))
        #expect(other == r.abi)
    }

    // MARK: the posted revisions

    /// ../shared/revisions beside the package root.
    static var revisions: URL {
        repoRoot.deletingLastPathComponent().appendingPathComponent("shared/revisions")
    }

    /// The revision's patch applied (driver, its local header, the uapi header) into a scratch
    /// tree, with a forced include for the GUID macro the patch adds to include/linux/hyperv.h.
    static func revision(_ n: Int) throws -> DriverSource? {
        let mail = revisions.appendingPathComponent("v\(n).eml")
        guard FileManager.default.fileExists(atPath: mail.path) else {
            if runningUnderCI { Issue.record("CI=true but \(mail.path) is missing") }
            else { print("note: \(mail.path) not found; revision v\(n) not probed") }
            return nil
        }
        let dir = try tree([:], "rev\(n)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let initRepo = try runProcess(["git", "init", "-q", "."], cwd: dir)
        try #require(initRepo.status == 0, "\(initRepo.output)")
        let apply = try runProcess(["git", "apply", "--include=drivers/hv/hv_*", "--include=drivers/hv/azure_blob.c",
                                    "--include=include/uapi/*", mail.path], cwd: dir)
        try #require(apply.status == 0, "git apply v\(n): \(apply.output)")
        let hv = dir.appendingPathComponent("drivers/hv")
        let c = try FileManager.default.contentsOfDirectory(atPath: hv.path).filter { $0.hasSuffix(".c") }
        try #require(c.count == 1, "v\(n): drivers/hv holds \(c)")
        let guidName = n == 1 ? "HV_XS_FASTPATH_GUID" : "HV_AZURE_BLOB_GUID"
        let guid = dir.appendingPathComponent("guid.h")
        try "#define \(guidName) .guid = GUID_INIT(0x0590b792, 0xdb64, 0x45cc, 0x81, 0xdb, 0xb8, 0xd7, 0x0c, 0x57, 0x7c, 0x9e)\n"
            .write(to: guid, atomically: true, encoding: .utf8)
        return DriverSource(driver: hv.appendingPathComponent(c[0]), includeDirs: [dir.appendingPathComponent("include")],
                            forcedIncludes: [guid], origin: "v\(n).eml")
    }

    @Test("posted revisions: each one's own command and request layout", arguments: 1...5)
    func posted(_ n: Int) throws {
        guard let source = try Self.revision(n) else { return }
        defer { try? FileManager.default.removeItem(at: source.driver.deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()) }
        let r = try Self.probe(source)
        print("v\(n): \(r)")
        #expect(r.notes.isEmpty, "v\(n): \(r.notes)")
        if n == 1 {
            #expect(r.abi.request.name == "IOCTL_XS_FASTPATH_DRIVER_USER_REQUEST")
            #expect(r.abi.command.rawValue == 0xC040_520A)
            #expect(r.abi.command.direction == [.read, .write] && r.abi.command.type == UInt8(ascii: "R")
                    && r.abi.command.number == 10 && r.abi.command.size == 64)
            #expect(r.abi.layout == Self.v1Layout, "\(r.abi.layout)")
            #expect(r.abi.header.hasSuffix("drivers/hv/hv_xs_fastpath.h"))
        } else {
            #expect(r.abi.request.name == "IOCTL_AZ_BLOB_DRIVER_USER_REQUEST")
            #expect(r.abi.command.rawValue == 0xC048_52F0)
            #expect(r.abi.layout == .reference, "\(r.abi.layout.differences(from: .reference))")
            #expect(r.abi.header.hasSuffix(n <= 3 ? "include/uapi/misc/azure_blob.h" : "include/uapi/misc/hv_azure_blob.h"))
        }
        #expect(r.abi.commands.map(\.name) == [r.abi.request.name])
        // Whichever way it was read, every way tried first names its errors.
        #expect(r.fallbacks.map(\.method) == Array(ABIProbe.Method.allCases.prefix { $0 != r.method }))
        for f in r.fallbacks { #expect(!f.errors.isEmpty) }
    }

    // MARK: synthetic drivers

    static let shimIncludes = "#include <linux/types.h>\n#include <linux/ioctl.h>\n#include <linux/uuid.h>\n"

    @Test("two commands: the request is the one whose struct has the request fields")
    func twoCommands() throws {
        let header = Self.shimIncludes + """
            /* uapi of a synthetic driver */
            struct syn_info { __u32 version; __u32 flags; };
            struct syn_result { __u32 status; __u32 response_len; };
            struct syn_req {
            	guid_t guid;
            	__u32 timeout;
            	__u32 request_len, response_len;   // two declarators
            	__u32 data_len;
            	__u32 data_valid;
            	__aligned_u64 request_buffer;
            	__aligned_u64 response_buffer;
            	__aligned_u64 data_buffer;
            	struct syn_result response;
            	__u32 spare[3];
            };
            #define SYN_MAGIC 'S'
            #define SYN_GET_INFO\t_IOR(SYN_MAGIC, 1, struct syn_info)
            #define SYN_RESET _IO(SYN_MAGIC, 2)
            #define   SYN_SUBMIT \\
            \t\t_IOWR(SYN_MAGIC, 3, \\
            \t\t\tstruct syn_req)
            """
        let dir = try Self.tree([
            "include/uapi/misc/syn.h": header,
            "drv/syn.c": "#include <linux/module.h>\n#include <uapi/misc/syn.h>\nstatic int x;\n",
        ])
        defer { try? FileManager.default.removeItem(at: dir) }
        let r = try Self.probe(DriverSource(driver: dir.appendingPathComponent("drv/syn.c"),
                                            includeDirs: [dir.appendingPathComponent("include")]))
        #expect(r.method == .driver)
        #expect(r.abi.request.name == "SYN_SUBMIT")
        #expect(Set(r.abi.commands.map(\.name)) == ["SYN_GET_INFO", "SYN_RESET", "SYN_SUBMIT"])
        let info = r.abi.commands.first { $0.name == "SYN_GET_INFO" }?.value
        #expect(info == IoctlCommand(direction: .read, type: UInt8(ascii: "S"), number: 1, size: 8))
        #expect(r.abi.commands.first { $0.name == "SYN_RESET" }?.value.rawValue == 0x5302)
        #expect(r.abi.command == IoctlCommand(direction: [.read, .write], type: UInt8(ascii: "S"), number: 3, size: 88))
        var expected = RequestLayout.reference
        expected.structName = "syn_req"
        expected.size = 88
        #expect(r.abi.layout == expected, "\(r.abi.layout)")
        #expect(r.abi.header == dir.appendingPathComponent("include/uapi/misc/syn.h").path)
        #expect(r.notes.isEmpty, "\(r.notes)")
    }

    @Test("renamed fields: transaction_id, timeout_ms, *_length, req_buf ... and a typedef'd response")
    func renamed() throws {
        let dir = try Self.tree([
            "syn.h": Self.shimIncludes + """
                typedef struct { __u32 error; __u32 length; } syn_reply_t;
                struct syn_req {
                	guid_t transaction_id;
                	__u32 timeout_ms;
                	__u32 request_length;
                	__u32 response_length;
                	__u32 data_length;
                	__aligned_u64 req_buf;
                	__aligned_u64 resp_buf;
                	__aligned_u64 data_buf;
                	syn_reply_t reply;
                } __attribute__((aligned(8)));
                #define SYN_USER_REQUEST _IOWR('S', 0x40, struct syn_req)
                """,
            "syn.c": "#include \"syn.h\"\n",
        ])
        defer { try? FileManager.default.removeItem(at: dir) }
        let r = try Self.probe(DriverSource(driver: dir.appendingPathComponent("syn.c")))
        #expect(r.abi.request.name == "SYN_USER_REQUEST")
        #expect(r.abi.layout == RequestLayout(structName: "syn_req", size: 64, guid: 0, timeout: 16, requestLen: 20, responseLen: 24,
                                              dataLen: 28, dataValid: nil, requestBuffer: 32, responseBuffer: 40, dataBuffer: 48,
                                              responseStatus: 56, responseResponseLen: 60), "\(r.abi.layout)")
        #expect(r.abi.command.size == 64)
    }

    @Test("no ioctl macro: a failure that lists the files scanned")
    func noCommand() throws {
        let dir = try Self.tree([
            "syn.h": Self.shimIncludes + "struct syn_req { guid_t guid; };\n#define SYN_MAGIC 'S'\n/* #define SYN_X _IOWR('S', 1, struct syn_req) */\n",
            "syn.c": "#include \"syn.h\"\n#include <linux/module.h>\n",
        ])
        defer { try? FileManager.default.removeItem(at: dir) }
        let f = Self.failure(DriverSource(driver: dir.appendingPathComponent("syn.c")))
        guard case .noIoctlCommand(let scanned) = f else {
            Issue.record("expected noIoctlCommand, got \(String(describing: f))")
            return
        }
        #expect(scanned == [dir.appendingPathComponent("syn.c").path, dir.appendingPathComponent("syn.h").path])
        #expect(f?.description.contains("syn.h") == true)
    }

    @Test("missing response.response_len: a failure naming the struct, the role and the members found")
    func missingRole() throws {
        let dir = try Self.tree([
            "syn.h": Self.shimIncludes + """
                struct syn_resp { __u32 status; };
                struct syn_req {
                	guid_t guid; __u32 timeout; __u32 request_len; __u32 response_len; __u32 data_len;
                	__aligned_u64 request_buffer; __aligned_u64 response_buffer; __aligned_u64 data_buffer;
                	struct syn_resp response;
                };
                #define SYN_USER_REQUEST _IOWR('S', 1, struct syn_req)
                """,
            "syn.c": "#include \"syn.h\"\n",
        ])
        defer { try? FileManager.default.removeItem(at: dir) }
        let f = Self.failure(DriverSource(driver: dir.appendingPathComponent("syn.c")))
        guard case .roleMissing(let name, let roles, let members, let command) = f else {
            Issue.record("expected roleMissing, got \(String(describing: f))")
            return
        }
        #expect(name == "struct syn_req")
        #expect(roles == ["response.response_len"])
        #expect(command == "SYN_USER_REQUEST")
        #expect(members.contains("response.status") && members.contains("guid"))
        #expect(f?.description.contains("response.response_len") == true)
    }

    @Test("a command over a struct the files do not define: request struct not found")
    func structNotFound() throws {
        let dir = try Self.tree(["syn.c": Self.shimIncludes + "#define SYN_LIST _IOR('S', 1, struct list_head)\n"])
        defer { try? FileManager.default.removeItem(at: dir) }
        let f = Self.failure(DriverSource(driver: dir.appendingPathComponent("syn.c")))
        guard case .requestStructNotFound(let commands, _) = f else {
            Issue.record("expected requestStructNotFound, got \(String(describing: f))")
            return
        }
        #expect(commands == ["SYN_LIST (struct list_head)"])
    }

    static let goodHeader = """
        struct syn_resp { __u32 status; __u32 response_len; };
        struct syn_req {
        	guid_t guid; __u32 timeout; __u32 request_len; __u32 response_len; __u32 data_len;
        	__aligned_u64 request_buffer; __aligned_u64 response_buffer; __aligned_u64 data_buffer;
        	struct syn_resp response;
        };
        #define SYN_REQ_SIZE 64
        #define SYN_USER_REQUEST _IOWR('S', 1, struct syn_req)
        """

    @Test("a driver that does not compile: read through its headers, the driver's error named")
    func headersFallback() throws {
        let dir = try Self.tree([
            "syn.h": Self.goodHeader,
            "syn.c": "#include <linux/module.h>\n#include <linux/uuid.h>\n#include \"syn.h\"\nstatic hvblob_no_such_type_t x;\n",
        ])
        defer { try? FileManager.default.removeItem(at: dir) }
        let r = try Self.probe(DriverSource(driver: dir.appendingPathComponent("syn.c")))
        #expect(r.method == .headers)
        #expect(r.fallbacks.map(\.method) == [.driver])
        #expect(r.fallbacks.first?.errors.first?.contains("syn.c:4:") == true, "\(r.fallbacks)")
        #expect(r.abi.layout.size == 64 && r.abi.layout.responseStatus == 56 && r.abi.layout.responseResponseLen == 60)
    }

    @Test("headers that do not compile either: read through the definitions copied from them")
    func definitionsFallback() throws {
        let dir = try Self.tree([
            "syn.h": "#include <linux/hvblob_no_such_header.h>\nstruct syn_dev { hvblob_no_such_type_t t; };\n" + Self.goodHeader,
            "syn.c": "#include \"syn.h\"\n",
        ])
        defer { try? FileManager.default.removeItem(at: dir) }
        let r = try Self.probe(DriverSource(driver: dir.appendingPathComponent("syn.c")))
        #expect(r.method == .definitions)
        #expect(r.fallbacks.map(\.method) == [.driver, .headers])
        #expect(r.abi.command == IoctlCommand(direction: [.read, .write], type: UInt8(ascii: "S"), number: 1, size: 64))
        #expect(r.abi.layout.dataValid == nil && r.abi.layout.dataBuffer == 48)
    }

    @Test("a command whose size field is not sizeof its struct is noted")
    func sizeMismatch() throws {
        let dir = try Self.tree([
            "syn.h": Self.shimIncludes + Self.goodHeader.replacingOccurrences(
                of: "#define SYN_USER_REQUEST _IOWR('S', 1, struct syn_req)",
                with: "#define SYN_USER_REQUEST _IOWR('S', 1, struct syn_req)\n#undef SYN_USER_REQUEST\n#define SYN_USER_REQUEST _IOC(3U, 'S', 1, 72)"),
            "syn.c": "#include \"syn.h\"\n",
        ])
        defer { try? FileManager.default.removeItem(at: dir) }
        // The last definition is not an _IO* macro, so the scan keeps the first; the probe reads the real value.
        let r = try Self.probe(DriverSource(driver: dir.appendingPathComponent("syn.c")))
        #expect(r.abi.command.size == 72)
        #expect(r.notes.contains { $0.contains("size field is 72") && $0.contains("64") }, "\(r.notes)")
    }
    @Test("a request struct no probe can compile: a failure with each way's first error, file:line")
    func doesNotCompile() throws {
        let dir = try Self.tree([
            "syn.h": Self.shimIncludes + Self.goodHeader.replacingOccurrences(of: "__u32 data_len;", with: "__u32 data_len; hvblob_no_such_type_t x;"),
            "syn.c": "#include \"syn.h\"\n",
        ])
        defer { try? FileManager.default.removeItem(at: dir) }
        let f = Self.failure(DriverSource(driver: dir.appendingPathComponent("syn.c")))
        guard case .probeDidNotCompile(let attempts) = f else {
            Issue.record("expected probeDidNotCompile, got \(String(describing: f))")
            return
        }
        #expect(attempts.map(\.method) == [.driver, .headers, .definitions])
        #expect(attempts.dropLast().allSatisfy { $0.errors.first?.contains("syn.h:6: error: unknown type name 'hvblob_no_such_type_t'") == true },
                "\(attempts)")
        #expect(attempts.last?.errors.first?.contains("<probe definitions>:") == true, "\(attempts)")
    }

    @Test("a probe that dies: a failure saying how")
    func crashed() throws {
        let dir = try Self.tree([
            "syn.h": Self.shimIncludes + Self.goodHeader,
            "syn.c": "#include \"syn.h\"\nstatic void __attribute__((constructor)) boom(void) { __builtin_trap(); }\n",
        ])
        defer { try? FileManager.default.removeItem(at: dir) }
        let f = Self.failure(DriverSource(driver: dir.appendingPathComponent("syn.c")))
        guard case .probeCrashed(_, let reason, _) = f else {
            Issue.record("expected probeCrashed, got \(String(describing: f))")
            return
        }
        #expect(reason.contains("signal"), "\(reason)")
    }
}
