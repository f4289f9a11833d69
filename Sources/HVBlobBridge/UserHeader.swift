// SPDX-License-Identifier: Apache-2.0
import Foundation
import HVBlob

/// User space's view of a driver's ABI header: a program includes the installed uapi header
/// (`make headers_install` puts include/uapi/X as /usr/include/X) and nothing else, then names
/// the request command and struct. A header outside include/uapi is not installed at all; one
/// that leans on includes it does not make (linux/ioctl.h for _IOWR, linux/types.h for __u32)
/// does not compile.
enum UserHeader {
    static func check(_ source: DriverSource, abi: DriverABI) -> DriverABI.UserHeader? {
        guard abi.unread == nil else { return nil }
        // The header as the ABI probe named it: one of the source's files, a path from here, or
        // a path under one of its include directories.
        let fm = FileManager.default
        let named = source.files.first { $0.path.hasSuffix("/" + abi.header) || $0.path == abi.header }
        let tail = abi.header.range(of: "include/").map { String(abi.header[$0.upperBound...]) } ?? abi.header
        let candidates = [URL(fileURLWithPath: abi.header)] + source.includeDirs.flatMap {
            [$0.appendingPathComponent(abi.header), $0.appendingPathComponent(tail),
             $0.appendingPathComponent(tail.replacingOccurrences(of: "uapi/", with: ""))]
        }
        guard let file = named ?? candidates.first(where: { fm.fileExists(atPath: $0.path) }) else { return nil }
        guard abi.header.contains("uapi/") else { return .kernelInternal }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("hvblob-userheader-\(getpid())-\(UInt(bitPattern: file.path.hashValue))")
        try? FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        // headers_install strips the kernel-only annotations; nothing else changes.
        let program = """
            #include "\(file.path)"
            static unsigned long hvb_command = \(abi.request.name);
            static struct \(abi.layout.structName) hvb_request;
            int main(void) { return (int)(hvb_command + sizeof(hvb_request)); }

            """
        let c = dir.appendingPathComponent("user.c")
        guard (try? program.write(to: c, atomically: true, encoding: .utf8)) != nil else { return nil }
        // The host's compiler with the host's /usr/include (linux-libc-dev): user space's view.
        let cc = ["/usr/bin/gcc", "/usr/bin/cc"].first { FileManager.default.isExecutableFile(atPath: $0) } ?? DriverBuild.compiler()
        let (status, output) = DriverBuild.run([cc, "-fsyntax-only", "-std=gnu11", "-Werror=implicit-function-declaration",
                                                "-D__user=", "-D__force=", "-D__iomem=", c.path])
        if status == 0 { return .selfContained }
        let errors = output.split(separator: "\n").map(String.init).filter { $0.contains("error") && !$0.hasPrefix("cc1") }
            .map { $0.replacingOccurrences(of: file.deletingLastPathComponent().path + "/", with: "") }
            .map { $0.replacingOccurrences(of: c.path, with: "<user program>") }
        return .broken(Array(errors.prefix(3)))
    }
}
