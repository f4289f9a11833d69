// SPDX-License-Identifier: Apache-2.0

/// Fuzzing a host (`hvblob fuzz-host`): each case, drawn from its own seed, is a valid request
/// packet with one to four fields overwritten (descriptor, range, PFNs, payload; len8 and
/// offset8 included), sometimes a ring state of the guest's (interrupt_mask, pending_send_sz),
/// then a valid request behind it. A case ends in one of: clean; crash (the host closed the
/// control socket or its process died); hang (no DONE within the timeout); or a host rule
/// broken (any `vsp.*` finding of the monitor). `hvblob fuzz-host --case SEED` replays one.
public enum HostFuzz {
    public enum Outcome: Equatable, Sendable, CustomStringConvertible {
        case clean
        case crash(String)
        case hang(String)
        case rule([String])
        public var description: String {
            switch self {
            case .clean: "clean"
            case .crash(let w): "crash: \(w)"
            case .hang(let w): "hang: \(w)"
            case .rule(let r): "rule broken: \(r.joined(separator: "; "))"
            }
        }
    }

    public struct Case: Sendable {
        public let seed: UInt64
        public let mutations: [String]
        public let outcome: Outcome
        /// What the guest did in the case, as a capture (its packets with their pages as guest
        /// data, the ring states it set, what the host answered): the reproducer
        /// `hvblob guest --replay` replays against a host.
        public var capture = Capture()
    }

    /// (offset, width, name) of the fields a mutation may overwrite, in a two-PFN request packet
    /// (trans_id is the request id the ring write puts there, so it is not among them).
    static let fields: [(Int, Int, String)] = [
        (0, 2, "type"), (2, 2, "dataoffset8"), (4, 2, "length8"), (6, 2, "flags"),
        (20, 4, "rangecount"), (24, 4, "range.len"), (28, 4, "range.offset"), (32, 8, "pfn_array[0]"), (40, 8, "pfn_array[1]"),
        (48, 4, "version"), (52, 4, "timeout_ms"), (56, 4, "data_buffer_offset"), (60, 4, "data_buffer_length"),
        (64, 4, "data_buffer_valid"), (68, 4, "operation_type"), (72, 4, "request_buffer_offset"), (76, 4, "request_buffer_length"),
        (80, 4, "response_buffer_offset"), (84, 4, "response_buffer_length"),
    ]

    static func value(_ rng: inout SeededRandom, width: Int) -> UInt64 {
        let interesting: [UInt64] = [0, 1, 2, 7, 8, 0xff, 0x100, 0x101, 0xfff, 0x1000, 0x1001, 0x2000, 0x7fff_ffff, 0x8000_0000, 0xffff_ffff, 0xffff, 0x8000]
        let v = rng.chance(0.6) ? interesting[rng.int(in: 0...(interesting.count - 1))] : rng.next()
        return width == 8 ? v : v & ((1 << (8 * UInt64(width))) - 1)
    }

    /// Runs one case on the current session's host.
    public static func run(seed: UInt64, session: ExternalHostSession) -> Case {
        var rng = SeededRandom(seed: seed)
        let mon = session.monitor
        mon.memoryChecks = true
        let (seenBefore, countsBefore) = (mon.log.violations.count, mon.log.counts)
        var mutations: [String] = []
        var recorded = Capture()
        let outcome: Outcome = ExternalHostSession.$current.withValue(session) {
            let g = RawGuest(seed: seed)
            let recorder = g.machine.startRecording()
            defer { recorded = recorder.capture }
            guard g.open() else { return .crash(session.failure ?? "the channel did not open") }
            session.idleTimeoutMs = min(500, session.timeoutMs)
            defer { session.idleTimeoutMs = nil }
            var p = g.request(id: 0xF00D, text: "DELETE fuzz\n")
            for _ in 0..<rng.int(in: 1...4) {
                let (off, width, name) = fields[rng.int(in: 0...(fields.count - 1))]
                let v = value(&rng, width: width)
                for i in 0..<width { p[off + i] = UInt8(truncatingIfNeeded: v >> (8 * UInt64(i))) }
                mutations.append("\(name)=0x\(String(v, radix: 16))")
            }
            if rng.chance(0.2), let inb = g.machine.channel.inbound {
                inb.interruptMask = 1
                g.machine.recorder?.ringState(.hostToGuest, interruptMask: 1, pendingSendSize: inb.pendingSendSize)
                mutations.append("host->guest interrupt_mask=1")
            }
            if rng.chance(0.2), let out = g.machine.channel.outbound {
                out.pendingSendSize = UInt32(rng.int(in: 1...out.dataSize))
                g.machine.recorder?.ringState(.guestToHost, interruptMask: out.interruptMask, pendingSendSize: out.pendingSendSize)
                mutations.append("guest->host pending_send_sz=\(out.pendingSendSize)")
            }
            mon.hostile.insert(0xF00D)
            _ = g.write(p, id: 0xF00D, signal: true, hostile: true)
            g.settle()
            if session.failure == nil {
                _ = g.write(g.request(id: 0xF00E, text: "DELETE after\n"), id: 0xF00E, signal: true)
                g.settle()
            }
            if let f = session.failure {
                return f.contains("hangs") ? .hang(f) : .crash(f)
            }
            return .clean
        }
        session.detach()
        if case .clean = outcome {
            // The valid request behind a mutated one may be lost with a ring whose framing was
            // mutated; that is not a rule. Every other vsp.* finding is.
            let new = mon.log.violations.dropFirst(seenBefore).filter { v in v.rule.rawValue.hasPrefix("vsp.") }
            let grew = mon.log.counts.filter { $0.value > countsBefore[$0.key, default: 0] }.keys
            if !grew.isEmpty {
                return Case(seed: seed, mutations: mutations, outcome: .rule(new.isEmpty ? grew.map(\.rawValue).sorted() : new.map { "\($0.rule): \($0.detail)" }),
                            capture: recorded)
            }
        }
        return Case(seed: seed, mutations: mutations, outcome: outcome, capture: recorded)
    }
}
