// SPDX-License-Identifier: Apache-2.0

extension Conformance {
    /// What a kernel build of the driver must survive besides the configuration it was tried in.
    static var buildChecks: [(Check, Body)] {
        [
            check("build.config-off", .must,
                  "the driver still builds with each kernel option it tests turned off (CONFIG_DEBUG_FS=n, CONFIG_COMPAT=n)") { f, v, s in
                let abi = try DriverRig(factory: f, version: v, seed: s).driver.abi
                guard !abi.optionalConfigs.isEmpty else {
                    throw NotApplicable(description: f == nil ? "the Swift model is not built" : "the driver tests none of the kernel options hvblob can turn off")
                }
                let broken = abi.optionalConfigs.sorted { $0.key < $1.key }.compactMap { option, error in
                    error.map { "with \(option)=n: \($0)" }
                }
                return broken.isEmpty ? nil : broken.joined(separator: "; ")
            },
            check("uapi.compat-ioctl", .should,
                  "32-bit processes reach the request: file_operations has .compat_ioctl (the struct's layout is the same for them)") { f, v, s in
                let abi = try DriverRig(factory: f, version: v, seed: s).driver.abi
                guard let compat = abi.compatIoctl else { throw NotApplicable(description: "no C file_operations to read (the Swift model)") }
                let sameFor32 = abi.layout.differences(from: .reference).isEmpty
                if compat { return nil }
                return "the driver's file_operations have no .compat_ioctl: a 32-bit process gets ENOTTY"
                    + (sameFor32 ? " although struct \(abi.layout.structName) is laid out the same for it (compat_ptr_ioctl would do)" : "")
            },
        ]
    }
}
