// SPDX-License-Identifier: Apache-2.0
import Foundation

/// Why what the user gave cannot be resolved into a driver to compile. Each message names the
/// file (and, in a patch, the byte offset) it is about; the CLI reports it and exits 2.
public enum DriverSourceError: Error, CustomStringConvertible, Sendable, Equatable {
    /// The path does not exist.
    case notFound(path: String)
    /// A directory was given where a file is needed.
    case isDirectory(path: String)
    /// A file was given where a directory (a tree) is needed.
    case notADirectory(path: String)
    /// The file exists but cannot be read.
    case unreadable(path: String, reason: String)
    /// A file given as C source holds NUL bytes or is not UTF-8.
    case binary(path: String)
    /// A file given as a patch holds NUL bytes.
    case binaryPatch(path: String)
    /// A text file given as C source has nothing of C in it (Markdown, prose, a config file).
    case notCSource(path: String, hint: String?)
    /// A C file given as the driver has no `module_init` (or `module_hv_driver`-style macro).
    case noModuleInit(path: String)
    /// A patch file with no unified diff in it.
    case noPatch(path: String)
    /// A `@@` line that is not `@@ -a[,b] +c[,d] @@`.
    case malformedHunkHeader(path: String, offset: Int, line: String)
    /// A hunk with fewer lines than its header counts (a truncated or mangled mail).
    case hunkEndsEarly(path: String, offset: Int, hunk: String, file: String, missingOld: Int, missingNew: Int)
    /// A hunk whose context or removed lines are not in the file it modifies.
    case hunkDoesNotMatch(path: String, offset: Int, hunk: String, file: String)
    /// Other malformed diff structure (`---` without `+++`, ...).
    case malformedDiff(path: String, offset: Int, reason: String)
    /// A patch creates a file an earlier patch of the series already created.
    case fileAddedTwice(path: String, offset: Int, file: String)
    /// The patch (or every message of an mbox) adds no C file with `module_init`.
    case noDriverInPatch(path: String, messages: Int)
    /// A tree or folder with no driver in the places searched.
    case noDriverInTree(path: String, searched: [String])
    /// Several C files qualify as the driver; the user must pick one.
    case severalDrivers(path: String, candidates: [String])
    /// A folder too big to search without a hint.
    case tooManyFiles(path: String, limit: Int)
    /// The cache directory cannot be written.
    case cannotWrite(path: String, reason: String)

    public var description: String {
        switch self {
        case .notFound(let p): return "\(p): no such file or directory"
        case .isDirectory(let p): return "\(p): is a directory, not a file (give a folder or kernel tree as a tree)"
        case .notADirectory(let p): return "\(p): not a directory"
        case .unreadable(let p, let r): return "\(p): cannot read (\(r))"
        case .binary(let p): return "\(p): not a C source file (binary)"
        case .binaryPatch(let p): return "\(p): not a patch file (binary)"
        case .notCSource(let p, let hint): return "\(p): not a C source file" + (hint.map { " (\($0))" } ?? "")
        case .noModuleInit(let p): return "no module_init in \(p)"
        case .noPatch(let p): return "\(p): no patch found (no 'diff --git' or '---/+++' lines)"
        case .malformedHunkHeader(let p, let o, let line): return "\(p): byte \(o): malformed hunk header '\(line)'"
        case .hunkEndsEarly(let p, let o, let h, let f, let mo, let mn):
            return "\(p): byte \(o): hunk \(h) of \(f) ends early (\(mo) old and \(mn) new lines missing)"
        case .hunkDoesNotMatch(let p, let o, let h, let f):
            return "\(p): byte \(o): hunk \(h) of \(f) does not match (its context or removed lines are not in the file)"
        case .malformedDiff(let p, let o, let r): return "\(p): byte \(o): \(r)"
        case .fileAddedTwice(let p, let o, let f): return "\(p): byte \(o): \(f) is created again (an earlier patch already added it)"
        case .noDriverInPatch(let p, let n):
            return n > 1 ? "\(p): none of its \(n) messages adds a C file with module_init"
                         : "\(p): the patch adds no C file with module_init"
        case .noDriverInTree(let p, let searched):
            return "\(p): no C file with module_init that registers an hv_driver"
                + (searched.isEmpty ? "" : " (searched \(searched.joined(separator: ", ")))")
        case .severalDrivers(let p, let c):
            return "\(p): several drivers: \(c.joined(separator: ", ")) (pick one with --driver)"
        case .tooManyFiles(let p, let n): return "\(p): more than \(n) files to search (give the driver's .c with --driver)"
        case .cannotWrite(let p, let r): return "\(p): cannot write (\(r))"
        }
    }
}
