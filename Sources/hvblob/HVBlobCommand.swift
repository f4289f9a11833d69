// SPDX-License-Identifier: Apache-2.0
import ArgumentParser
import HVBlob

#if canImport(Glibc)
import Glibc
#endif

@main
struct HVBlobCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hvblob",
        abstract: "An executable model of the Azure Blob VMBus fast path, with a simulated Hyper-V host.",
        discussion: """
            Exit status: 0 clean, 1 findings (violations, hangs, integrity errors), 2 bad usage or input.
            """,
        subcommands: [Simulate.self, GuestCommand.self, HostCommand.self, VerifyHost.self, FuzzHost.self, BenchHostCommand.self, Verify.self, Explore.self, Record.self, Replay.self, Vectors.self, ConformanceCommand.self, Decode.self, Bench.self, ReplayFuzz.self],
        defaultSubcommand: Simulate.self
    )

    /// ArgumentParser exits 64 on usage errors; the contract here is 2.
    static func main() {
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch let e as ExitCode {
            Glibc.exit(e.rawValue)
        } catch {
            let code = exitCode(for: error)
            if code == .success {
                print(fullMessage(for: error))
                Glibc.exit(0)
            }
            Out.standardError.write(fullMessage(for: error) + "\n")
            Glibc.exit(2)
        }
    }
}

/// Bad input: printed as "hvblob: what (where)" and exit 2.
struct InputError: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}

enum Out {
    case standardError, standardOutput
    func write(_ s: String) {
        let fd: Int32 = self == .standardError ? 2 : 1
        var s = s
        s.withUTF8 { buf in
            var off = 0
            while off < buf.count {
                let n = Glibc.write(fd, buf.baseAddress! + off, buf.count - off)
                if n <= 0 { break }
                off += n
            }
        }
    }
}

func fail(_ message: String) -> Never {
    Out.standardError.write("hvblob: \(message)\n")
    Glibc.exit(2)
}

func parseSeed(_ s: String) -> UInt64? {
    if s.hasPrefix("0x") { return UInt64(s.dropFirst(2), radix: 16) }
    return UInt64(s)
}

/// --kernel-version: a version in 5.13...6.3, else exit 2 naming the value.
func parseKernelVersion(_ text: String) -> KernelVersion {
    guard let v = KernelVersion(text), KernelVersion.supported.contains(v) else {
        fail("--kernel-version: '\(text)' is not a version in \(KernelVersion.supported.lowerBound)...\(KernelVersion.supported.upperBound)")
    }
    return v
}
