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
        ]
    }
}
