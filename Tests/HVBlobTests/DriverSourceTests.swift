// SPDX-License-Identifier: Apache-2.0
import Foundation
import HVBlobBridge
import Testing

/// A driver as the user has it (a C file, a tree, a patch mail, an mbox of a series) resolved
/// into what the compiler needs.
@Suite("DriverSource: a driver from a file, a tree or a patch mail")
struct DriverSourceTests {
    // MARK: fixtures (all made up here)

    /// A scratch directory, removed by the caller.
    static func scratch(_ name: String) throws -> URL {
        let u = FileManager.default.temporaryDirectory.appendingPathComponent("hvblob-src-\(name)-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        try FileManager.default.createDirectory(at: u, withIntermediateDirectories: true)
        return u
    }

    static func write(_ text: String, _ path: String, in dir: URL) throws -> URL {
        let u = dir.appendingPathComponent(path)
        try FileManager.default.createDirectory(at: u.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data(text.utf8).write(to: u)
        return u
    }

    static let driver = """
        // SPDX-License-Identifier: Apache-2.0
        /* A made-up VMBus driver for hvblob's source resolution tests. */
        #include <linux/module.h>
        #include <linux/hyperv.h>
        #include <uapi/misc/foo.h>

        static const struct hv_vmbus_device_id foo_id_table[] = {
        \t{ HV_FOO_GUID },
        \t{ },
        };

        static struct hv_driver foo_drv = {
        \t.name = "foo",
        \t.id_table = foo_id_table,
        };

        static int __init foo_init(void)
        {
        \treturn vmbus_driver_register(&foo_drv);
        }

        module_init(foo_init);

        """

    static let uapi = """
        /* SPDX-License-Identifier: Apache-2.0 */
        #ifndef FOO_H
        #define FOO_H
        #define FOO_IOCTL 0x42
        #endif

        """

    static func lines(_ s: String) -> [String] { s.components(separatedBy: "\n").dropLast().map { $0 } }

    /// The `diff --git` of a new file.
    static func creation(_ path: String, _ content: String) -> String {
        let ls = lines(content)
        return """
            diff --git a/\(path) b/\(path)
            new file mode 100644
            index 0000000..1234567
            --- /dev/null
            +++ b/\(path)
            @@ -0,0 +1,\(ls.count) @@
            \(ls.map { "+" + $0 }.joined(separator: "\n"))

            """
    }

    /// What patch 1 adds to hyperv.h: a GUID define (continued, with a comment) and an enumerator.
    static let hyperv = """
        diff --git a/include/linux/hyperv.h b/include/linux/hyperv.h
        index 1111111..2222222 100644
        --- a/include/linux/hyperv.h
        +++ b/include/linux/hyperv.h
        @@ -10,6 +10,7 @@ enum vmbus_device_type {
         \tHV_FCOPY,
         \tHV_BACKUP,
         \tHV_DM,
        +\tHV_FOO,
         \tHV_UNKNOWN,
         };

        @@ -40,6 +41,14 @@ struct hv_device {
         }

         /*
        + * Foo GUID
        + * {12345678-9abc-def0-1234-56789abcdef0}
        + */
        +#define HV_FOO_GUID \\
        +\t.guid = GUID_INIT(0x12345678, 0x9abc, 0xdef0, 0x12, 0x34, \\
        +\t\t\t  0x56, 0x78, 0x9a, 0xbc, 0xde, 0xf0)
        +
        +/*
          * Shutdown GUID
          */
         int foo;

        """

    static let kconfig = """
        diff --git a/drivers/hv/Kconfig b/drivers/hv/Kconfig
        index 3333333..4444444 100644
        --- a/drivers/hv/Kconfig
        +++ b/drivers/hv/Kconfig
        @@ -1,2 +1,5 @@
         menu "Microsoft Hyper-V guest support"
        +config HYPERV_FOO
        +\ttristate "Foo"
        +
         endmenu

        """

    static func mail(from: String = "From 0123456789abcdef0123456789abcdef01234567 Mon Sep 17 00:00:00 2001",
                     subject: String, id: String, extraHeaders: String = "", body: String) -> String {
        """
        \(from)
        From: A Developer <dev@example.com>
        Date: Mon, 1 Jan 2024 00:00:00 +0000
        Subject: \(subject)
        Message-Id: <\(id)>
        \(extraHeaders)
        \(body)
        """
    }

    static let patch1Body = """
        Adds the foo driver.

        From the start, this line must not split the message.

        Signed-off-by: A Developer <dev@example.com>
        ---
         drivers/hv/foo.c | 22 ++++++++++++++++++++++
         1 file changed, 22 insertions(+)

        \(kconfig)\(creation("drivers/hv/foo.c", driver))\(hyperv)\(creation("include/uapi/misc/foo.h", uapi))--\u{20}
        2.40.0

        """

    /// Line number (1-based) of the line of `driver` that starts with `prefix`.
    static func line(_ prefix: String) -> Int { lines(driver).firstIndex { $0.hasPrefix(prefix) }! + 1 }

    /// Patch 2: renames the driver's name and adds a licence line (two hunks).
    static var patch2Diff: String {
        let name = line("static struct hv_driver"), mi = line("module_init")
        return """
            diff --git a/drivers/hv/foo.c b/drivers/hv/foo.c
            index 5555555..6666666 100644
            --- a/drivers/hv/foo.c
            +++ b/drivers/hv/foo.c
            @@ -\(name),3 +\(name),3 @@ static const struct hv_vmbus_device_id foo_id_table[] = {
             static struct hv_driver foo_drv = {
            -\t.name = "foo",
            +\t.name = KBUILD_MODNAME,
             \t.id_table = foo_id_table,
            @@ -\(mi),1 +\(mi),2 @@ static int __init foo_init(void)
             module_init(foo_init);
            +MODULE_LICENSE("GPL");

            """
    }

    static var patched: String {
        driver.replacingOccurrences(of: "\t.name = \"foo\",", with: "\t.name = KBUILD_MODNAME,")
            .replacingOccurrences(of: "module_init(foo_init);\n", with: "module_init(foo_init);\nMODULE_LICENSE(\"GPL\");\n")
    }

    static var series: String {
        mail(subject: "[PATCH 1/2] hv: add\n the foo driver", id: "foo-1@example.com", body: patch1Body) + "\n"
            + mail(subject: "[PATCH 2/2] hv: foo: use KBUILD_MODNAME", id: "foo-2@example.com",
                   body: "Renames it.\n---\n\(patch2Diff)-- \n2.40.0\n")
    }

    static func resolve(_ text: String, name: String = "series.mbox") throws -> (PatchedDriver, URL) {
        let dir = try scratch("patch")
        let f = try write(text, name, in: dir)
        return (try DriverSource.resolvePatch(f, cache: dir.appendingPathComponent("cache")), dir)
    }

    static func error(_ body: () throws -> Any) -> DriverSourceError? {
        do { _ = try body(); return nil } catch let e as DriverSourceError { return e } catch { return nil }
    }

    static func byteOffset(of needle: String, in haystack: String) -> Int? {
        guard let r = haystack.range(of: needle) else { return nil }
        return haystack.utf8.distance(from: haystack.startIndex, to: r.lowerBound)
    }

    static func contents(_ u: URL) -> String? {
        FileManager.default.contents(atPath: u.path).map { String(decoding: $0, as: UTF8.self) }
    }

    // MARK: patches: synthetic

    @Test("source.series: an mbox of two patches, the second modifying the file the first adds")
    func series() throws {
        let (r, dir) = try Self.resolve(Self.series)
        defer { try? FileManager.default.removeItem(at: dir) }
        #expect(r.addedFiles == ["drivers/hv/foo.c", "include/uapi/misc/foo.h"])
        #expect(r.source.driver == r.directory.appendingPathComponent("drivers/hv/foo.c"))
        #expect(Self.contents(r.source.driver) == Self.patched)
        #expect(Self.contents(r.directory.appendingPathComponent("include/uapi/misc/foo.h")) == Self.uapi)
        #expect(r.subjects == ["[PATCH 1/2] hv: add the foo driver", "[PATCH 2/2] hv: foo: use KBUILD_MODNAME"])
        #expect(r.messageIDs == ["foo-1@example.com", "foo-2@example.com"])
        #expect(r.source.origin == "series.mbox: [PATCH 1/2] hv: add the foo driver; [PATCH 2/2] hv: foo: use KBUILD_MODNAME")
        #expect(r.skippedFiles == ["drivers/hv/Kconfig"])
        #expect(r.hyperVDefines == ["HV_FOO_GUID"])
        #expect(r.hyperVEnumMembers == [HyperVEnumMember(enumName: "vmbus_device_type", member: "HV_FOO")])
        #expect(r.source.includeDirs.map(\.path) == [r.directory.appendingPathComponent("include").path, r.directory.appendingPathComponent("include/uapi").path])
        let header = try #require(r.generatedHeader)
        #expect(r.source.forcedIncludes == [header])
        let h = try #require(Self.contents(header))
        #expect(h.contains("/*\n * Foo GUID\n * {12345678-9abc-def0-1234-56789abcdef0}\n */\n#define HV_FOO_GUID \\\n\t.guid = GUID_INIT(0x12345678, 0x9abc, 0xdef0, 0x12, 0x34, \\\n\t\t\t  0x56, 0x78, 0x9a, 0xbc, 0xde, 0xf0)\n"))
        #expect(h.contains("enum vmbus_device_type: HV_FOO"))
        #expect(h.contains("series.mbox") && h.contains("<foo-1@example.com>"))
        #expect(!h.contains("Shutdown"))
        #expect(Set(r.source.files) == Set([r.source.driver, r.directory.appendingPathComponent("include/uapi/misc/foo.h"), header]))
        #expect(r.source.localHeaders == [r.directory.appendingPathComponent("include/uapi/misc/foo.h")])
        // Content-addressed: resolving again reuses the same directory.
        let again = try DriverSource.resolvePatch(dir.appendingPathComponent("series.mbox"), cache: dir.appendingPathComponent("cache"))
        #expect(again.directory == r.directory)
        #expect(try DriverSource.fromPatch(dir.appendingPathComponent("series.mbox"), cache: dir.appendingPathComponent("cache")) == r.source)
        #expect(try DriverSource.resolve(dir.appendingPathComponent("series.mbox"), cache: dir.appendingPathComponent("cache")) == r.source)
    }

    @Test("source.qp: a quoted-printable body, soft line breaks and =XX escapes decoded")
    func quotedPrintable() throws {
        func qp(_ s: String) -> String {
            Self.lines(s).map { line -> String in
                var out = "", width = 0
                for ch in line.unicodeScalars {
                    let piece = ch == "=" ? "=3D" : ch == "\t" ? "=09" : String(ch)
                    if width + piece.count > 72 { out += "=\n"; width = 0 }
                    out += piece
                    width += piece.count
                }
                return out
            }.joined(separator: "\n") + "\n"
        }
        let body = qp("Adds foo.\n---\n" + Self.creation("drivers/hv/foo.c", Self.driver))
        let m = Self.mail(subject: "[PATCH] hv: add foo", id: "qp@example.com",
                          extraHeaders: "MIME-Version: 1.0\nContent-Type: text/plain; charset=UTF-8\nContent-Transfer-Encoding: quoted-printable\n",
                          body: body)
        let (r, dir) = try Self.resolve(m, name: "qp.eml")
        defer { try? FileManager.default.removeItem(at: dir) }
        #expect(Self.contents(r.source.driver) == Self.driver)
        #expect(r.source.origin == "qp.eml: [PATCH] hv: add foo")
    }

    @Test("source.base64: a base64 body and an RFC 2047 encoded, folded Subject")
    func base64() throws {
        let b64 = Data(("Adds foo.\n---\n" + Self.creation("drivers/hv/foo.c", Self.driver)).utf8).base64EncodedString(options: .lineLength76Characters)
        let m = Self.mail(subject: "=?UTF-8?B?W1BBVENIXSBodjogYWRkIGbDtsO2?=\n =?UTF-8?Q?_driver?=", id: "b64@example.com",
                          extraHeaders: "MIME-Version: 1.0\nContent-Type: text/plain; charset=UTF-8\nContent-Transfer-Encoding: base64\n",
                          body: b64.replacingOccurrences(of: "\r\n", with: "\n") + "\n")
        let (r, dir) = try Self.resolve(m, name: "b64.eml")
        defer { try? FileManager.default.removeItem(at: dir) }
        #expect(Self.contents(r.source.driver) == Self.driver)
        #expect(r.subjects == ["[PATCH] hv: add föö driver"])
    }

    @Test("source.multipart: the patch in a multipart/mixed attachment")
    func multipart() throws {
        let attachment = Data((Self.creation("drivers/hv/foo.c", Self.driver) + Self.creation("include/uapi/misc/foo.h", Self.uapi)).utf8)
            .base64EncodedString(options: .lineLength64Characters).replacingOccurrences(of: "\r\n", with: "\n")
        let body = """
            This is a multi-part message in MIME format.
            --=_b0undary
            Content-Type: text/plain; charset=us-ascii

            The driver is attached.

            --=_b0undary
            Content-Type: text/x-patch; name="0001-foo.patch"
            Content-Transfer-Encoding: base64
            Content-Disposition: attachment; filename="0001-foo.patch"

            \(attachment)
            --=_b0undary--

            """
        let m = Self.mail(subject: "[PATCH] hv: add foo", id: "mp@example.com",
                          extraHeaders: "MIME-Version: 1.0\nContent-Type: multipart/mixed;\n boundary=\"=_b0undary\"\n", body: body)
        let (r, dir) = try Self.resolve(m, name: "mp.eml")
        defer { try? FileManager.default.removeItem(at: dir) }
        #expect(Self.contents(r.source.driver) == Self.driver)
        #expect(r.addedFiles == ["drivers/hv/foo.c", "include/uapi/misc/foo.h"])
    }

    @Test("source.crlf: a series saved with CRLF line ends gives the same files, LF-terminated")
    func crlf() throws {
        let (r, dir) = try Self.resolve(Self.series.replacingOccurrences(of: "\n", with: "\r\n"))
        defer { try? FileManager.default.removeItem(at: dir) }
        #expect(Self.contents(r.source.driver) == Self.patched)
        #expect(r.subjects == ["[PATCH 1/2] hv: add the foo driver", "[PATCH 2/2] hv: foo: use KBUILD_MODNAME"])
        #expect(r.hyperVDefines == ["HV_FOO_GUID"])
        let header = try #require(r.generatedHeader)
        #expect(Self.contents(header)?.contains("\r") == false)
    }

    @Test("source.nonewline: '\\ No newline at end of file' leaves the last line unterminated, and a later patch can add one")
    func noNewline() throws {
        let content = "#include <linux/module.h>\nmodule_init(foo_init);\nMODULE_LICENSE(\"GPL\");"
        let add = """
            diff --git a/foo.c b/foo.c
            new file mode 100644
            --- /dev/null
            +++ b/foo.c
            @@ -0,0 +1,3 @@
            +#include <linux/module.h>
            +module_init(foo_init);
            +MODULE_LICENSE("GPL");
            \\ No newline at end of file

            """
        let (r, dir) = try Self.resolve(add, name: "plain.diff")
        defer { try? FileManager.default.removeItem(at: dir) }
        #expect(Self.contents(r.source.driver) == content)
        #expect(r.source.origin == "plain.diff")
        let fix = add + """
            diff --git a/foo.c b/foo.c
            --- a/foo.c
            +++ b/foo.c
            @@ -3 +3 @@
            -MODULE_LICENSE("GPL");
            \\ No newline at end of file
            +MODULE_LICENSE("GPL");

            """
        let (r2, dir2) = try Self.resolve(fix, name: "fix.diff")
        defer { try? FileManager.default.removeItem(at: dir2) }
        #expect(Self.contents(r2.source.driver) == content + "\n")
    }

    @Test("source.apply: a hunk whose line numbers are off still applies where its context is; renames and plain diff -u follow the file")
    func applyMoves() throws {
        // Patch 2's line numbers 3 lines too high (written against a different base).
        let name = Self.line("static struct hv_driver"), mi = Self.line("module_init")
        let shifted = Self.patch2Diff.replacingOccurrences(of: "@@ -\(name),3 +\(name),3 @@", with: "@@ -\(name + 3),3 +\(name + 3),3 @@")
            .replacingOccurrences(of: "@@ -\(mi),1 +\(mi),2 @@", with: "@@ -\(mi + 3),1 +\(mi + 3),2 @@")
        let rename = """
            diff --git a/drivers/hv/foo.c b/drivers/hv/hv_foo.c
            similarity index 100%
            rename from drivers/hv/foo.c
            rename to drivers/hv/hv_foo.c

            """
        // A traditional diff -u (no diff --git) creating a second file, then deleting it.
        let plain = """
            --- /dev/null\t2024-01-01 00:00:00.000000000 +0000
            +++ b/drivers/hv/extra.c\t2024-01-01 00:00:00.000000000 +0000
            @@ -0,0 +1,2 @@
            +int extra;
            +int more;
            diff --git a/drivers/hv/extra.c b/drivers/hv/extra.c
            deleted file mode 100644
            --- a/drivers/hv/extra.c
            +++ /dev/null
            @@ -1,2 +0,0 @@
            -int extra;
            -int more;

            """
        let text = Self.mail(subject: "[PATCH 1/2] add", id: "m1@x", body: "---\n" + Self.creation("drivers/hv/foo.c", Self.driver))
            + "\n" + Self.mail(subject: "[PATCH 2/2] move", id: "m2@x", body: "---\n" + shifted + plain + rename)
        let (r, dir) = try Self.resolve(text)
        defer { try? FileManager.default.removeItem(at: dir) }
        #expect(r.addedFiles == ["drivers/hv/hv_foo.c"])
        #expect(r.source.driver.lastPathComponent == "hv_foo.c")
        #expect(Self.contents(r.source.driver) == Self.patched)
        #expect(r.generatedHeader == nil && r.source.forcedIncludes.isEmpty && r.source.includeDirs.isEmpty)
    }

    @Test("source.qp.offset: an error in a quoted-printable body points at the encoded line in the mail")
    func quotedPrintableOffset() throws {
        let body = "---\n" + Self.creation("drivers/hv/foo.c", Self.driver).replacingOccurrences(of: "=", with: "=3D")
            + "diff --git a/drivers/hv/foo.c b/drivers/hv/foo.c\n--- a/drivers/hv/foo.c\n+++ b/drivers/hv/foo.c\n@@ -1,1 +1,1 @@ =\nsection\n-no such line\n+x\n"
        let m = Self.mail(subject: "[PATCH] qp", id: "q@x", extraHeaders: "Content-Transfer-Encoding: quoted-printable\n", body: body)
        let dir = try Self.scratch("qpoff")
        defer { try? FileManager.default.removeItem(at: dir) }
        let f = try Self.write(m, "qp.eml", in: dir)
        let e = Self.error { try DriverSource.fromPatch(f, cache: dir) }
        let offset = try #require(Self.byteOffset(of: "@@ -1,1 +1,1 @@ =", in: m))
        #expect(e == .hunkDoesNotMatch(path: f.path, offset: offset, hunk: "@@ -1,1 +1,1 @@", file: "drivers/hv/foo.c"))
    }

    @Test("source.nomatch: a hunk whose context is not in the file is an error naming the file and the hunk's byte offset")
    func hunkDoesNotMatch() throws {
        let bad = Self.series.replacingOccurrences(of: " \t.id_table = foo_id_table,\n@@", with: " \t.id_table = bar_id_table,\n@@")
        let dir = try Self.scratch("nomatch")
        defer { try? FileManager.default.removeItem(at: dir) }
        let f = try Self.write(bad, "bad.mbox", in: dir)
        let e = Self.error { try DriverSource.fromPatch(f, cache: dir) }
        let offset = try #require(Self.byteOffset(of: "@@ -\(Self.line("static struct hv_driver")),3", in: bad))
        #expect(e == .hunkDoesNotMatch(path: f.path, offset: offset, hunk: "@@ -\(Self.line("static struct hv_driver")),3 +\(Self.line("static struct hv_driver")),3 @@", file: "drivers/hv/foo.c"))
        #expect(e?.description.hasPrefix("\(f.path): byte \(offset): hunk @@ ") == true)
        #expect(e?.description.contains("of drivers/hv/foo.c does not match") == true)
    }

    @Test("source.truncated: a hunk cut short is an error with the hunk's byte offset")
    func truncated() throws {
        let full = Self.mail(subject: "[PATCH] hv: add foo", id: "t@example.com", body: "---\n" + Self.creation("drivers/hv/foo.c", Self.driver))
        let cut = String(full.prefix(upTo: full.range(of: "+static int __init")!.lowerBound)) + "-- \n2.40.0\n"
        let dir = try Self.scratch("cut")
        defer { try? FileManager.default.removeItem(at: dir) }
        let f = try Self.write(cut, "cut.eml", in: dir)
        let e = Self.error { try DriverSource.fromPatch(f, cache: dir) }
        let offset = try #require(Self.byteOffset(of: "@@ -0,0", in: cut))
        guard case .hunkEndsEarly(let p, let o, let h, let file, _, _) = e else { Issue.record("not hunkEndsEarly: \(String(describing: e))"); return }
        #expect(p == f.path && o == offset && file == "drivers/hv/foo.c" && h.hasPrefix("@@ -0,0 +1,"))
        #expect(e?.description.contains("\(f.path): byte \(offset): hunk @@ -0,0 +1,") == true)
        #expect(e?.description.contains("ends early") == true)
    }

    @Test("source.nopatch: a mail with no diff, a patch adding no driver, a binary patch file")
    func noPatch() throws {
        let dir = try Self.scratch("nopatch")
        defer { try? FileManager.default.removeItem(at: dir) }
        let plain = try Self.write(Self.mail(subject: "Re: hv: add foo", id: "r@example.com", body: "Looks good to me.\n"), "reply.eml", in: dir)
        let e = Self.error { try DriverSource.fromPatch(plain, cache: dir) }
        #expect(e == .noPatch(path: plain.path))
        #expect(e?.description == "\(plain.path): no patch found (no 'diff --git' or '---/+++' lines)")
        // An mbox whose messages add only a header and touch Kconfig: no driver.
        let hdr = Self.mail(subject: "[PATCH 1/2] uapi", id: "a@x", body: "---\n" + Self.creation("include/uapi/misc/foo.h", Self.uapi))
            + "\n" + Self.mail(subject: "[PATCH 2/2] kconfig", id: "b@x", body: "---\n" + Self.kconfig)
        let nodrv = try Self.write(hdr, "nodrv.mbox", in: dir)
        let e2 = Self.error { try DriverSource.fromPatch(nodrv, cache: dir) }
        #expect(e2 == .noDriverInPatch(path: nodrv.path, messages: 2))
        #expect(e2?.description == "\(nodrv.path): none of its 2 messages adds a C file with module_init")
        let one = try Self.write(Self.mail(subject: "[PATCH] uapi", id: "c@x", body: "---\n" + Self.creation("include/uapi/misc/foo.h", Self.uapi)), "one.eml", in: dir)
        #expect(Self.error { try DriverSource.fromPatch(one, cache: dir) }?.description == "\(one.path): the patch adds no C file with module_init")
        let garbled = Self.creation("drivers/hv/foo.c", Self.driver).replacingOccurrences(of: "@@ -0,0 +1,", with: "@@ -zero +1,")
        let g = try Self.write(Self.mail(subject: "[PATCH] garbled", id: "g@x", body: "---\n" + garbled), "garbled.eml", in: dir)
        let ge = Self.error { try DriverSource.fromPatch(g, cache: dir) }
        let goff = try #require(Self.byteOffset(of: "@@ -zero", in: try String(contentsOf: g, encoding: .utf8)))
        guard case .malformedHunkHeader(g.path, goff, let line) = ge else { Issue.record("not malformedHunkHeader: \(String(describing: ge))"); return }
        #expect(line.hasPrefix("@@ -zero +1,"))
        #expect(ge?.description.hasPrefix("\(g.path): byte \(goff): malformed hunk header '@@ -zero") == true)
        let bin = dir.appendingPathComponent("bin.patch")
        try Data([0x7F, 0x45, 0x4C, 0x46, 0, 0, 1]).write(to: bin)
        #expect(Self.error { try DriverSource.fromPatch(bin, cache: dir) } == .binaryPatch(path: bin.path))
        #expect(Self.error { try DriverSource.fromPatch(dir, cache: dir) } == .isDirectory(path: dir.path))
    }

    // MARK: files and trees

    @Test("source.checks: a missing path, a directory, a binary, a non-UTF-8 file, Markdown, C without module_init")
    func checks() throws {
        let dir = try Self.scratch("checks")
        defer { try? FileManager.default.removeItem(at: dir) }
        let missing = dir.appendingPathComponent("nope.c")
        #expect(Self.error { try DriverSource.fromFile(missing) } == .notFound(path: missing.path))
        #expect(Self.error { try DriverSource.resolve(missing) }?.description == "\(missing.path): no such file or directory")
        let sub = dir.appendingPathComponent("sub")
        try FileManager.default.createDirectory(at: sub, withIntermediateDirectories: true)
        #expect(Self.error { try DriverSource.fromFile(sub) } == .isDirectory(path: sub.path))
        let bin = dir.appendingPathComponent("driver.o")
        try Data([0x7F, 0x45, 0x4C, 0x46, 2, 1, 1, 0, 0, 0]).write(to: bin)
        #expect(Self.error { try DriverSource.fromFile(bin) }?.description == "\(bin.path): not a C source file (binary)")
        #expect(Self.error { try DriverSource.resolve(bin) } == .binary(path: bin.path))
        let latin = dir.appendingPathComponent("latin.c")
        try Data("/* J\u{FC}rgen */\nmodule_init(x);\n".data(using: .isoLatin1)!).write(to: latin)
        #expect(Self.error { try DriverSource.fromFile(latin) } == .binary(path: latin.path))
        let md = try Self.write("# Azure Blob driver\n\nThis [driver](https://example.com) talks to the host.\n\nSee the docs.\n", "README.md", in: dir)
        let e = Self.error { try DriverSource.fromFile(md) }
        #expect(e?.description.hasPrefix("\(md.path): not a C source file") == true)
        let prose = try Self.write("just some words\nand more words\n", "notes.txt", in: dir)
        #expect(Self.error { try DriverSource.fromFile(prose) } == .notCSource(path: prose.path, hint: nil))
        #expect(Self.error { try DriverSource.resolve(prose) }?.description == "\(prose.path): not a C source file")
        let noinit = try Self.write("#include <linux/module.h>\n/* module_init(foo) is only mentioned */\nstatic int x;\n", "lib.c", in: dir)
        #expect(Self.error { try DriverSource.fromFile(noinit) }?.description == "no module_init in \(noinit.path)")
    }

    /// A tiny kernel tree: include/linux/hyperv.h with GUID defines among other text, a uapi
    /// header, and drivers under drivers/hv.
    static func tree(drivers: [String: String]) throws -> URL {
        let t = try scratch("tree")
        _ = try write("""
            #ifndef _HYPERV_H
            #define _HYPERV_H
            #define HV_OTHER_THING 3
            /* NIC */
            #define HV_NIC_GUID \\
            \t.guid = GUID_INIT(0xf8615163, 0xdf3e, 0x46c5, 0x91, 0x3f, \\
            \t\t\t  0xf2, 0xd2, 0xf9, 0x65, 0xed, 0x0e)
            #define HV_FOO_GUID \\
            \t.guid = GUID_INIT(0x12345678, 0x9abc, 0xdef0, 0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde, 0xf0)
            struct hv_device { int x; };
            #endif

            """, "include/linux/hyperv.h", in: t)
        _ = try write(uapi, "include/uapi/misc/foo.h", in: t)
        _ = try write("obj-y += hv/\n", "drivers/Makefile", in: t)
        for (path, text) in drivers { _ = try write(text, path, in: t) }
        return t
    }

    @Test("source.tree: a kernel tree gives its driver, include/ and include/uapi/, and only the HV_*_GUID defines")
    func tree() throws {
        let t = try Self.tree(drivers: ["drivers/hv/foo.c": Self.driver.replacingOccurrences(of: "#include <linux/hyperv.h>\n", with: "#include <linux/hyperv.h>\n#include \"foo_local.h\"\n"),
                                        "drivers/hv/foo_local.h": "#define FOO_LOCAL 1\n",
                                        "drivers/hv/helper.c": "int helper(void) { return 1; }\n"])
        defer { try? FileManager.default.removeItem(at: t) }
        let cache = t.appendingPathComponent("cache")
        let s = try DriverSource.fromTree(t, extraIncludes: [], cache: cache)
        #expect(s.driver == t.appendingPathComponent("drivers/hv/foo.c").standardizedFileURL)
        #expect(s.includeDirs.map(\.path) == [t.appendingPathComponent("include").standardizedFileURL.path, t.appendingPathComponent("include/uapi").standardizedFileURL.path])
        #expect(s.origin == "\(t.standardizedFileURL.path): drivers/hv/foo.c")
        #expect(s.forcedIncludes.count == 1)
        let forced = try #require(s.forcedIncludes.first)
        let h = try #require(Self.contents(forced))
        #expect(h.contains("#define HV_NIC_GUID \\\n\t.guid = GUID_INIT(0xf8615163, 0xdf3e, 0x46c5, 0x91, 0x3f, \\\n\t\t\t  0xf2, 0xd2, 0xf9, 0x65, 0xed, 0x0e)\n"))
        #expect(h.contains("#define HV_FOO_GUID \\\n"))
        #expect(!h.contains("HV_OTHER_THING") && !h.contains("struct hv_device"))
        #expect(s.localHeaders == [t.appendingPathComponent("drivers/hv/foo_local.h").standardizedFileURL,
                                   t.appendingPathComponent("include/uapi/misc/foo.h").standardizedFileURL])
        #expect(Set(s.files) == Set([s.driver] + s.localHeaders + s.forcedIncludes))
        #expect(try DriverSource.resolve(t, cache: cache) == s)

        // A .c in that tree: the same include directories and defines, plus --include ones.
        let extra = t.appendingPathComponent("extra")
        let f = try DriverSource.fromFile(t.appendingPathComponent("drivers/hv/foo.c"), extraIncludes: [extra], cache: cache)
        #expect(f.includeDirs.map(\.path) == s.includeDirs.map(\.path) + [extra.standardizedFileURL.path])
        #expect(f.forcedIncludes == s.forcedIncludes)
        #expect(f.origin == s.driver.path)
        #expect(Self.error { try DriverSource.fromTree(s.driver) } == .notADirectory(path: s.driver.path))
    }

    @Test("source.trees: two candidate drivers is an error listing both; none is an error saying where it looked")
    func twoDrivers() throws {
        let other = Self.driver.replacingOccurrences(of: "foo", with: "bar").replacingOccurrences(of: "HV_FOO_GUID", with: "HV_BAR_GUID")
        let t = try Self.tree(drivers: ["drivers/hv/foo.c": Self.driver, "drivers/misc/bar.c": other])
        defer { try? FileManager.default.removeItem(at: t) }
        let e = Self.error { try DriverSource.fromTree(t, extraIncludes: [], cache: t.appendingPathComponent("cache")) }
        #expect(e == .severalDrivers(path: t.standardizedFileURL.path, candidates: ["drivers/hv/foo.c", "drivers/misc/bar.c"]))
        #expect(e?.description == "\(t.standardizedFileURL.path): several drivers: drivers/hv/foo.c, drivers/misc/bar.c (pick one with --driver)")
        // The one naming the device hvblob simulates wins over other hv_drivers.
        let blob = Self.driver.replacingOccurrences(of: "HV_FOO_GUID", with: "HV_AZURE_BLOB_GUID")
        let t2 = try Self.tree(drivers: ["drivers/hv/foo.c": Self.driver, "drivers/hv/blob.c": blob])
        defer { try? FileManager.default.removeItem(at: t2) }
        #expect(try DriverSource.fromTree(t2, extraIncludes: [], cache: t2.appendingPathComponent("cache")).driver.lastPathComponent == "blob.c")
        // A folder (not a kernel tree) with a driver beside a non-driver.
        let folder = try Self.scratch("folder")
        defer { try? FileManager.default.removeItem(at: folder) }
        _ = try Self.write(Self.driver, "src/foo.c", in: folder)
        _ = try Self.write("int main(void) { return 0; }\n", "tool.c", in: folder)
        let s = try DriverSource.fromTree(folder, extraIncludes: [])
        #expect(s.driver.lastPathComponent == "foo.c")
        #expect(s.includeDirs.map(\.path) == [folder.standardizedFileURL.path] && s.forcedIncludes.isEmpty)
        _ = try Self.write("int main(void) { return 0; }\n", "src/foo.c", in: folder)
        #expect(Self.error { try DriverSource.fromTree(folder, extraIncludes: []) } == .noDriverInTree(path: folder.standardizedFileURL.path, searched: []))
    }

    // MARK: the posted revisions

    struct Revision: Sendable, CustomTestStringConvertible {
        let file: String, driver: String, header: String, guid: String, subject: String, messageID: String
        var testDescription: String { file }
    }

    static let revisions: [Revision] = [
        Revision(file: "v1.eml", driver: "drivers/hv/hv_xs_fastpath.c", header: "drivers/hv/hv_xs_fastpath.h", guid: "HV_XS_FASTPATH_GUID",
                 subject: "[PATCH 2/2] Drivers: hv: add XStore Fastpath driver", messageID: "1623114276-11696-3-git-send-email-longli@linuxonhyperv.com"),
        Revision(file: "v2.eml", driver: "drivers/hv/azure_blob.c", header: "include/uapi/misc/azure_blob.h", guid: "HV_AZURE_BLOB_GUID",
                 subject: "[Patch v2 2/3] Drivers: hv: add Azure Blob driver", messageID: "1624689020-9589-3-git-send-email-longli@linuxonhyperv.com"),
        Revision(file: "v3.eml", driver: "drivers/hv/azure_blob.c", header: "include/uapi/misc/azure_blob.h", guid: "HV_AZURE_BLOB_GUID",
                 subject: "[Patch v3 2/3] Drivers: hv: add Azure Blob driver", messageID: "1626230722-1971-3-git-send-email-longli@linuxonhyperv.com"),
        Revision(file: "v4.eml", driver: "drivers/hv/hv_azure_blob.c", header: "include/uapi/misc/hv_azure_blob.h", guid: "HV_AZURE_BLOB_GUID",
                 subject: "[Patch v4 2/3] Drivers: hv: add Azure Blob driver", messageID: "1626751866-15765-3-git-send-email-longli@linuxonhyperv.com"),
        Revision(file: "v5.eml", driver: "drivers/hv/hv_azure_blob.c", header: "include/uapi/misc/hv_azure_blob.h", guid: "HV_AZURE_BLOB_GUID",
                 subject: "[Patch v5 2/3] Drivers: hv: add Azure Blob driver", messageID: "1628146812-29798-3-git-send-email-longli@linuxonhyperv.com"),
    ]

    /// ../shared/revisions beside the package; nil (a failure under CI=true) when absent.
    static func revisionMail(_ name: String) -> URL? {
        let u = repoRoot.deletingLastPathComponent().appendingPathComponent("shared/revisions/\(name)")
        if FileManager.default.fileExists(atPath: u.path) { return u }
        #expect(!runningUnderCI, "CI=true but \(u.path) is missing: the posted revisions must be checked out beside the package")
        print("note: \(u.path) not found; skipping the posted-revision checks")
        return nil
    }

    @Test("source.revisions: each posted revision gives its driver and header, byte-identical to git apply, and its GUID define",
          arguments: revisions)
    func revision(_ rev: Revision) throws {
        guard let mail = Self.revisionMail(rev.file) else { return }
        let cache = try Self.scratch("rev")
        defer { try? FileManager.default.removeItem(at: cache) }
        let r = try DriverSource.resolvePatch(mail, cache: cache)
        #expect(r.source.driver == r.directory.appendingPathComponent(rev.driver))
        #expect(r.addedFiles.sorted() == [rev.driver, rev.header].sorted())
        #expect(r.subjects == [rev.subject] && r.messageIDs == [rev.messageID])
        #expect(r.source.origin == "\(rev.file): \(rev.subject)")
        #expect(r.hyperVDefines == [rev.guid])
        #expect(r.hyperVEnumMembers.map(\.member) == [String(rev.guid.dropLast("_GUID".count))])
        #expect(r.skippedFiles.contains("drivers/hv/Kconfig") && r.skippedFiles.contains("drivers/hv/channel_mgmt.c"))
        #expect(!r.skippedFiles.contains("include/linux/hyperv.h"))
        let header = try #require(r.generatedHeader)
        #expect(r.source.forcedIncludes == [header])
        let h = try #require(Self.contents(header))
        #expect(h.contains("#define \(rev.guid) \\\n\t.guid = GUID_INIT(0x0590b792, 0xdb64, 0x45cc, 0x81, 0xdb, \\\n"))
        #expect(h.contains(rev.messageID))
        #expect(r.source.localHeaders == [r.directory.appendingPathComponent(rev.header)])
        #expect(r.source.files.count == 3)
        // The via-any-path entry point agrees.
        #expect(try DriverSource.resolve(mail, cache: cache) == r.source)

        // Byte-identical to what git apply makes of the same mail.
        guard (try? runProcess(["git", "--version"]))?.status == 0 else {
            #expect(!runningUnderCI, "CI=true but git is not installed")
            print("note: git not found; materialised files not compared with git apply")
            return
        }
        let work = try Self.scratch("gitapply")
        defer { try? FileManager.default.removeItem(at: work) }
        let apply = try runProcess(["git", "apply"] + r.addedFiles.map { "--include=\($0)" } + [mail.path], cwd: work)
        #expect(apply.status == 0, "git apply: \(apply.output)")
        for f in r.addedFiles {
            let ours = FileManager.default.contents(atPath: r.directory.appendingPathComponent(f).path)
            let theirs = FileManager.default.contents(atPath: work.appendingPathComponent(f).path)
            #expect(ours != nil && ours == theirs, "\(rev.file): \(f) differs from git apply's")
        }
    }

    @Test("source.revisions.mbox: the five revisions as one mbox: each re-adds the header, so the second is an error naming it")
    func revisionsAsMbox() throws {
        guard let v4 = Self.revisionMail("v4.eml"), let v5 = Self.revisionMail("v5.eml") else { return }
        let dir = try Self.scratch("revmbox")
        defer { try? FileManager.default.removeItem(at: dir) }
        let a = try Data(contentsOf: v4), b = try Data(contentsOf: v5)
        let mbox = dir.appendingPathComponent("both.mbox")
        try (Data("From longli Mon Jul 19 00:00:00 2021\n".utf8) + a + Data("\nFrom longli Thu Aug  5 00:00:00 2021\n".utf8) + b).write(to: mbox)
        let e = Self.error { try DriverSource.fromPatch(mbox, cache: dir) }
        guard case .fileAddedTwice(_, let offset, let file) = e else { Issue.record("not fileAddedTwice: \(String(describing: e))"); return }
        #expect(file == "drivers/hv/hv_azure_blob.c")
        #expect(offset > a.count)
    }
}
