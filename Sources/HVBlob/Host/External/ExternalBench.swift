// SPDX-License-Identifier: Apache-2.0

extension Bench {
    /// Round trips per second (4 KiB GET of a blob the store does not hold: the same work on
    /// both sides) against an out-of-process host, next to the in-process host measured in the
    /// same run. `session` is a connected host; every ioctl crosses the control socket at least
    /// twice (SIGNAL and its DONE), a virtual-time host more (TIMER/RUN).
    public static func outOfProcessRoundTrips(count: Int, session: ExternalHostSession, label: String) throws -> Figure {
        let request = Array("GET b 0 4096\n".utf8)
        let local = try Loop(dataLen: 4096, backend: BlobStore(), request: request)
        for _ in 0..<min(count, 100) { _ = local.roundTrip() }
        var bad = 0
        let tLocal = time { for _ in 0..<count where local.roundTrip() != .success { bad += 1 } }
        let remote = try ExternalHostSession.$current.withValue(session) { try Loop(dataLen: 4096, backend: BlobStore(), request: request) }
        for _ in 0..<min(count / 10, 20) { _ = remote.roundTrip() }
        let tRemote = time { for _ in 0..<count where remote.roundTrip() != .success { bad += 1 } }
        let findings = local.machine.log.total + remote.machine.log.total
        session.detach()
        if bad > 0 || findings > 0 || session.failure != nil {
            throw BenchError.failed("out-of-process round trips: \(bad) errors, \(findings) findings\(session.failure.map { ", host: \($0)" } ?? "")")
        }
        return Figure(name: "round trips/s out of process (4 KiB GET, \(label))", value: Double(count) / tRemote, unit: "/s",
                      baselineName: "in process", baseline: Double(count) / tLocal, goal: "(reported)",
                      key: "round-trips-out-of-process-" + label.lowercased().filter { $0.isLetter || $0.isNumber || $0 == " " }.split(separator: " ").joined(separator: "-"))
    }
}
