// SPDX-License-Identifier: Apache-2.0
import Foundation
import HVBlob
import Testing

/// Every fuzz target's body, without libFuzzer: over its committed corpus and over seeded
/// random inputs, so each commit exercises every target (Scripts/fuzz.sh runs them for real).
@Suite("Fuzz targets")
struct FuzzTests {
    static func corpus(_ target: String) -> [(String, [UInt8])] {
        let dir = repoRoot.appendingPathComponent("Fixtures/corpus/\(target)")
        let names = (try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []
        return names.sorted().compactMap { n in
            FileManager.default.contents(atPath: dir.appendingPathComponent(n).path).map { (n, Array($0)) }
        }
    }

    @Test("fuzz.corpus+random: every target holds its invariants on its corpus and 300 seeded random inputs",
          arguments: FuzzTargets.names)
    func target(_ name: String) {
        let seeds = FuzzTests.corpus(name)
        #expect(seeds.count >= 3, "Fixtures/corpus/\(name) needs seeds")
        for (file, bytes) in seeds {
            let r = FuzzTargets.run(name, bytes)
            #expect(r == nil, "\(name) on corpus file \(file): \(r ?? "")")
        }
        var rng = SeededRandom(seed: 0xF022).split(name)
        for i in 0..<300 {
            var bytes = (0..<rng.int(in: 0...200)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            // Half the inputs start from a corpus entry with a few bytes changed.
            if i % 2 == 0, let seed = seeds.randomElement(using: &rng)?.1, !seed.isEmpty {
                bytes = seed
                for _ in 0..<rng.int(in: 1...4) { bytes[rng.int(in: 0...(bytes.count - 1))] = UInt8(truncatingIfNeeded: rng.next()) }
            }
            let r = FuzzTargets.run(name, bytes)
            #expect(r == nil, "\(name) on random input \(i) (seed 0xF022), \(Hex.encode(bytes)): \(r ?? "")")
        }
    }

    @Test("fuzz.regression.callback-livelock: a len8 beyond what is available is bounded and reported, not a hang")
    func livelockRegression() throws {
        // The first hang the hostile-host target found: the model mirrors Linux's ≥ 5.14
        // iterator, which clamps such a len8 and then advances 8 bytes past the write index.
        let rig = try DriverRig(factory: nil, version: .default)
        let ring = try #require(rig.machine.channel.inbound)
        let bad = PacketDescriptor(type: .completion, offset8: 2, len8: 0x2000, flags: 0, transId: 1).encoded() + [UInt8](repeating: 0, count: 8)
        _ = ring.write(bad) { 1 }
        rig.machine.channel.callback?()
        #expect(rig.log.count("liveness.callback-livelock") == 1)
    }

    @Test("fuzz.replay: replay-fuzz describes the scenario an input stands for")
    func describe() {
        var text = ""
        let r = FuzzTargets.run("validation", FuzzTests.corpus("validation").first?.1 ?? []) { text = $0 }
        #expect(r == nil)
        #expect(text.contains("request") && text.contains("response") && text.contains("page offset"))
        #expect(FuzzTargets.run("nonexistent", []) == "unknown fuzz target 'nonexistent'")
    }
}
