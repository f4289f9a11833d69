// SPDX-License-Identifier: Apache-2.0

/// The only source of randomness in a run: xoshiro256** seeded through SplitMix64. One seed
/// gives one byte-identical run; sub-streams are split off by name so that adding a draw in one
/// part of the simulator does not shift every other part.
public struct SeededRandom: RandomNumberGenerator, Sendable {
    private var s0, s1, s2, s3: UInt64
    public let seed: UInt64

    public init(seed: UInt64) {
        self.seed = seed
        var sm = seed
        func splitmix(_ x: inout UInt64) -> UInt64 {
            x &+= 0x9E37_79B9_7F4A_7C15
            var z = x
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        s0 = splitmix(&sm); s1 = splitmix(&sm); s2 = splitmix(&sm); s3 = splitmix(&sm)
    }

    /// A generator for one named part of the run, derived from the seed alone.
    public func split(_ name: String) -> SeededRandom {
        SeededRandom(seed: seed ^ FNV1a.hash(name.utf8))
    }

    public mutating func next() -> UInt64 {
        let result = ((s1 &* 5) << 7 | (s1 &* 5) >> 57) &* 9
        let t = s1 << 17
        s2 ^= s0; s3 ^= s1; s1 ^= s2; s0 ^= s3; s2 ^= t
        s3 = (s3 << 45) | (s3 >> 19)
        return result
    }

    /// true with probability p (p <= 0 never draws, so a disabled fault consumes no randomness).
    public mutating func chance(_ p: Double) -> Bool {
        if p <= 0 { return false }
        if p >= 1 { return true }
        return Double(next() >> 11) * 0x1.0p-53 < p
    }

    public mutating func int(in range: ClosedRange<Int>) -> Int {
        Int.random(in: range, using: &self)
    }
}

/// 64-bit FNV-1a, for trace digests and sub-seed names.
public enum FNV1a {
    public static func hash<S: Sequence>(_ bytes: S, into h: UInt64 = 0xcbf2_9ce4_8422_2325) -> UInt64
    where S.Element == UInt8 {
        var h = h
        for b in bytes { h = (h ^ UInt64(b)) &* 0x0000_0100_0000_01B3 }
        return h
    }
}

extension SeededRandom {
    /// The stream's position, for the explorer's state digest.
    func digest(into h: inout Hasher64) {
        h.add(s0); h.add(s1); h.add(s2); h.add(s3)
    }
}
