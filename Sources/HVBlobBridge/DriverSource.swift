// SPDX-License-Identifier: Apache-2.0
import Foundation

/// A driver as the user has it, resolved to what the compiler needs: the C file that holds
/// `module_init`, the include directories its `#include <...>` lines resolve in (searched after
/// the kernel shim's own headers), and headers to force-include first (what a patch adds to
/// `include/linux/hyperv.h`, such as the device GUID macro).
public struct DriverSource: Sendable, Hashable {
    /// The driver's C file (the one with module_init).
    public var driver: URL
    /// `-I` directories after the shim's (a tree's `include/` and `include/uapi/`, `--include`).
    public var includeDirs: [URL]
    /// `-include` files, in order.
    public var forcedIncludes: [URL]
    /// Where it came from, for the report ("v5.eml: [Patch v5 2/3] Drivers: hv: add Azure Blob driver").
    public var origin: String
    /// Every file the build reads besides the shim (hashed into the build cache key).
    public var files: [URL]

    public init(driver: URL, includeDirs: [URL] = [], forcedIncludes: [URL] = [], origin: String = "", files: [URL] = []) {
        self.driver = driver
        self.includeDirs = includeDirs
        self.forcedIncludes = forcedIncludes
        self.origin = origin.isEmpty ? driver.path : origin
        self.files = files.isEmpty ? [driver] : files
    }
}
