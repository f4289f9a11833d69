// SPDX-License-Identifier: Apache-2.0
import Foundation
import HVBlob

/// Fuzz targets that need a C driver through the bridge (built with ASan and UBSan when the
/// process carries ASan, as Scripts/fuzz.sh's bridge build does): the validation scenario
/// against the driver's real code, the model against the driver (any disagreement in errno,
/// packet bytes or what user space sees is a failure), and the hostile host against the
/// driver's completion path.
public enum BridgeFuzzTargets {
    public static let names = ["validation-c", "differential", "hostile-host-c"]

    /// The driver under test: HVBLOB_FUZZ_DRIVER, else the in-tree driver.
    nonisolated(unsafe) static var built: DriverBuild.Built?
    nonisolated(unsafe) static var keepLoaded: UnsafeMutableRawPointer?

    static func driver() throws -> DriverBuild.Built {
        if let b = built { return b }
        let path = ProcessInfo.processInfo.environment["HVBLOB_FUZZ_DRIVER"].map { URL(fileURLWithPath: $0) } ?? DriverBuild.inTreeDriver
        let b = try DriverBuild.build(driver: path)
        built = b
        // One extra reference keeps the library mapped between runs: each run's dlopen and
        // dlclose then cost nothing, and its coverage counters stay registered with libFuzzer.
        keepLoaded = dlopen(b.library, RTLD_NOW | RTLD_LOCAL)
        return b
    }

    /// HVBLOB_FUZZ_FRESH set: a fresh driver per input (what every input paid before
    /// persistent mode; Scripts/fuzz.sh runs can compare the two).
    public static let freshPerInput = ProcessInfo.processInfo.environment["HVBLOB_FUZZ_FRESH"] != nil

    /// `reuse` (the default unless HVBLOB_FUZZ_FRESH is set): the driver stays loaded and probed
    /// between inputs, reset to its checkpoint before each (`BridgePool`, persistent mode);
    /// false: a fresh driver per input.
    public static func run(_ name: String, _ data: [UInt8], reuse: Bool = !freshPerInput, describe: ((String) -> Void)? = nil) -> String? {
        let b: DriverBuild.Built
        do { b = try driver() } catch { return "the driver does not build: \(error)" }
        let factory: DriverRig.Factory = { m in try BridgedDriver(b, machine: m) }
        func observe(_ s: FuzzTargets.ValidationScenario) -> FuzzTargets.Observation? {
            guard reuse else { return FuzzTargets.observe(s, factory: factory, version: b.version) }
            return BridgePool.shared.withRig(b, version: b.version) { FuzzTargets.observe(s, on: $0) } ?? nil
        }
        if name == "hostile-host-c" {
            guard reuse else { return FuzzTargets.hostileHost(data, factory: factory, versions: [b.version], describe: describe) }
            return FuzzTargets.hostileHost(data, versions: [b.version], describe: describe) { version, faults, body in
                BridgePool.shared.withRig(b, version: version, faults: faults, body)
            }
        }
        let s = FuzzTargets.decodeValidation(data)
        describe?(s.description + "\n  driver: \(b.source) (API era \(b.version))")
        switch name {
        case "validation-c":
            guard let o = observe(s) else { return "could not load the driver" }
            return FuzzTargets.checkValidation(s, o)
        case "differential":
            guard let model = FuzzTargets.observe(s, factory: nil, version: b.version),
                  let c = observe(s) else { return "could not set up both sides" }
            describe?("  model: \(model.errno.map(\.name) ?? "hang"), \(model.packets.count) packet(s); driver: \(c.errno.map(\.name) ?? "hang"), \(c.packets.count) packet(s)")
            if model.errno != c.errno { return "errno: model \(model.errno.map(\.name) ?? "hang"), driver \(c.errno.map(\.name) ?? "hang")" }
            if model.packets != c.packets {
                for (k, (x, y)) in zip(model.packets, c.packets).enumerated() where x != y {
                    let at = (0..<min(x.count, y.count)).first { x[$0] != y[$0] } ?? min(x.count, y.count)
                    return "packet \(k) differs at byte \(at) (\(x.count) vs \(y.count) bytes)"
                }
                return "model sent \(model.packets.count) packet(s), driver \(c.packets.count)"
            }
            if model.response != c.response { return "response written back: model \(Hex.encode(model.response)), driver \(Hex.encode(c.response))" }
            if model.responseBuffer != c.responseBuffer { return "response buffer contents differ" }
            if model.pinnedAfter != c.pinnedAfter { return "pages left pinned: model \(model.pinnedAfter), driver \(c.pinnedAfter)" }
            if model.findings != c.findings { return "findings: model \(model.findings), driver \(c.findings)" }
            return FuzzTargets.checkValidation(s, c)
        default:
            return "unknown bridge fuzz target '\(name)'"
        }
    }
}
