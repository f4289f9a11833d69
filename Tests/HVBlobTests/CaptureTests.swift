// SPDX-License-Identifier: Apache-2.0
import Foundation
import HVBlob
import Testing

let captureFixtures = ["plain", "mpb-32mib", "error-completions", "rescind-in-flight", "hostile-host"]

func fixtureCapture(_ name: String) throws -> Capture {
    let url = repoRoot.appendingPathComponent("Fixtures/captures/\(name).pcapng")
    return try Capture.parse(Array(try Data(contentsOf: url)))
}

/// A small capture recorded on the spot (2 clients x 2 requests).
func smallCapture(faults: FaultPlan = .none, seed: UInt64 = 9) -> Capture {
    var c = SimulationConfig()
    c.seed = seed
    c.clients = 2
    c.requestsPerClient = 2
    c.sizes = [4096]
    c.faults = faults
    let sim = Simulation(c)
    let rec = sim.machine.startRecording()
    _ = sim.run()
    return rec.capture
}

@Suite("Captures and replay")
struct CaptureTests {
    @Test("capture.roundtrip: records -> pcapng -> records, field for field, offsets of every block")
    func roundTrip() throws {
        let cap = smallCapture()
        #expect(cap.records.count > 10)
        let bytes = cap.pcapng()
        let back = try Capture.parse(bytes)
        #expect(back.records == cap.records)
        #expect(back.application == "hvblob")
        #expect(back.offsets.count == back.records.count)
        // Each offset is where an Enhanced Packet Block (type 6) starts.
        for o in back.offsets { #expect(bytes[o] == 6 && bytes[o + 1] == 0) }
    }

    @Test("capture.fixtures: every fixture parses, has what its name promises, and replays clean against the model",
          arguments: captureFixtures)
    func fixtures(_ name: String) throws {
        let cap = try fixtureCapture(name)
        let kinds = Dictionary(grouping: cap.records, by: \.kind).mapValues(\.count)
        #expect(kinds[.open] == 1 && kinds[.close] == 1)
        let guestPackets = cap.records.filter { $0.kind == .ringPacket && $0.direction == .guestToHost }
        #expect(!guestPackets.isEmpty)
        let returns = cap.records.compactMap(\.ioctlReturn)
        switch name {
        case "mpb-32mib":
            let p = try GPADirectPacket.decode(guestPackets[0].body)
            #expect(p.pfns.count == AzBlob.maxPages)
            #expect(p.rangeLen == UInt32(AzBlob.maxPages * AzBlob.pageSize))
        case "error-completions":
            #expect(returns.contains { $0.value == 0 && $0.status != 0 })
        case "rescind-in-flight":
            #expect(kinds[.rescind] == 1)
            // Requests sent before the rescind and answered with ENODEV after it.
            let at = try #require(cap.records.firstIndex { $0.kind == .rescind })
            #expect(cap.records[at...].compactMap(\.ioctlReturn).filter { $0.errno == .ENODEV }.count >= 2)
        case "hostile-host":
            let ids = Set(guestPackets.map { $0.body.u64le(8) })
            let foreign = cap.records.filter { $0.kind == .ringPacket && $0.direction == .hostToGuest && !ids.contains($0.body.u64le(8)) }
            #expect(foreign.count >= 3, "completions with ids the guest never used (zero, unknown)")
        default:
            #expect(returns.allSatisfy { $0.value == 0 && $0.status == 0 })
        }
        let report = Replayer(capture: cap).run()
        #expect(report.clean, "\(report.render(driver: "model"))")
        #expect(report.guestPacketsMatched == guestPackets.count)
        #expect(report.ioctlReturnsMatched == returns.count)
    }

    @Test("capture.fixture-current: plain.pcapng is what today's model records from its seed, byte for byte")
    func fixtureIsCurrent() throws {
        var c = SimulationConfig()
        c.seed = 1
        c.clients = 4
        c.requestsPerClient = 8
        c.sizes = [4096, 16384]
        let sim = Simulation(c)
        let rec = sim.machine.startRecording()
        _ = sim.run()
        let fixture = Array(try Data(contentsOf: repoRoot.appendingPathComponent("Fixtures/captures/plain.pcapng")))
        #expect(rec.capture.pcapng() == fixture, "the model's traffic changed: run Scripts/make-captures.sh and review the diff")
    }

    @Test("replay.divergence: v5's behaviour replayed on a fixed-driver capture is caught at the first differing field")
    func divergenceV5() throws {
        let cap = try fixtureCapture("plain")
        let report = Replayer(capture: cap, version: KernelVersion(5, 13)) { m in
            BlobVSC(channel: m.channel, memory: m.memory, log: m.log, behavior: .v5)
        }.run()
        let d = try #require(report.divergence)
        #expect(!report.clean)
        #expect(d.fileOffset != nil)
        #expect(d.detail.joined().contains("field") || d.what.contains("ioctl"), "\(d)")
    }

    @Test("replay.divergence: one changed byte in a guest packet is named by field and file offset")
    func divergenceMutated() throws {
        var cap = try fixtureCapture("plain")
        let i = try #require(cap.records.firstIndex { $0.kind == .ringPacket && $0.direction == .guestToHost })
        let p = try GPADirectPacket.decode(cap.records[i].body)
        let at = p.descriptorSize + 36  // request.response_buffer_length
        cap.records[i].body[at] ^= 0x40
        let report = Replayer(capture: cap).run()
        let d = try #require(report.divergence)
        #expect(d.recordIndex == i)
        #expect(d.fileOffset == cap.offsets[i])
        #expect(d.detail.first?.contains("request.response_buffer_length") == true, "\(d)")
    }

    @Test("replay.divergence: a completion the capture shows but the guest never waited for is a divergence, not a hang")
    func divergenceMissingReturn() throws {
        var cap = try fixtureCapture("plain")
        // Drop the first host->guest completion: the ioctl it answered cannot return.
        let i = try #require(cap.records.firstIndex { $0.kind == .ringPacket && $0.direction == .hostToGuest })
        cap.records.remove(at: i)
        cap.offsets.remove(at: i)
        let report = Replayer(capture: cap).run()
        let d = try #require(report.divergence)
        #expect(d.what.contains("returned") || d.what.contains("guest"), "\(d)")
    }

    @Test("replay.hostile: an ioctl asking for a 4 GiB buffer replays in bounded memory (the captures fuzz target's first finding)")
    func hugeLength() throws {
        var cap = smallCapture()
        let i = try #require(cap.records.firstIndex { $0.kind == .ioctlCall })
        var call = try #require(cap.records[i].ioctlCall)
        call.request.dataLen = 0xFFFF_FFFF
        cap.records[i].body = CaptureRecord.ioctlCallBody(command: call.command, argument: call.argument,
                                                          request: call.request.encoded(), requestBytes: call.requestBytes)
        let report = Replayer(capture: cap).run()
        // The guest refuses the length (EINVAL) where the capture shows a packet: a divergence.
        let d = try #require(report.divergence)
        #expect(d.recordIndex > i)
    }

    // MARK: robust input

    @Test("capture.truncated: every prefix of a capture is an error with an offset inside the file, never a trap")
    func truncated() throws {
        let bytes = smallCapture().pcapng()
        var complete = 0
        for n in 0..<bytes.count {
            do {
                let c = try Capture.parse(Array(bytes[0..<n]))
                complete += 1
                #expect(c.records.count < smallCapture().records.count)
            } catch {
                #expect(error.offset <= n, "\(error)")
            }
        }
        // Only cuts at block boundaries parse (as shorter captures).
        #expect(complete == smallCapture().records.count + 1)
    }

    @Test("capture.corrupt: each corruption names its byte offset and what is wrong")
    func corrupt() throws {
        let good = smallCapture().pcapng()
        let epb = try Capture.parse(good).offsets[0]
        func expectError(_ bytes: [UInt8], _ code: CaptureError.Code, at offset: Int, _ comment: Comment) {
            #expect(throws: CaptureError.self, comment) { try Capture.parse(bytes) }
            do { _ = try Capture.parse(bytes) } catch {
                #expect(error.code == code, comment)
                #expect(error.offset == offset, "\(comment): \(error)")
            }
        }
        var b = good; b[8] = 0
        expectError(b, .badMagic, at: 8, "byte-order magic")
        b = good; b[8...11] = [0x1a, 0x2b, 0x3c, 0x4d]
        expectError(b, .unsupported, at: 8, "big-endian section")
        b = Array(good[4...])
        expectError(b, .badMagic, at: 0, "no section header first")
        b = good; b[epb + 4] = 0x0d
        expectError(b, .badBlockLength, at: epb + 4, "block length not a multiple of 4")
        b = good; b[epb + 4] = 0xfc; b[epb + 5] = 0xff; b[epb + 6] = 0xff; b[epb + 7] = 0x7f
        expectError(b, .badBlockLength, at: epb + 4, "absurd block length")
        let len = Int(good.u32le(epb + 4))
        b = good; b[epb + len - 4] ^= 4
        expectError(b, .badBlockLength, at: epb + len - 4, "trailing length differs")
        b = good; b[epb + 8] = 3
        expectError(b, .badInterface, at: epb + 8, "interface id not described")
        let idb = Int(good.u32le(4))
        b = good; b[idb + 8] = 1
        expectError(b, .badLinkType, at: epb + 8, "Ethernet link type")
        b = good; b[epb + 28 + 1] = 99
        expectError(b, .badRecord, at: epb + 28 + 1, "record kind 99")
        b = good; b[epb + 28] = 2
        expectError(b, .badRecord, at: epb + 28, "record version 2")
        b = good; b[epb + 28 + 20] &+= 1
        expectError(b, .badRecord, at: epb + 28 + 20, "body_len disagrees with the captured length")
        b = good; b[epb + 24] &+= 1
        expectError(b, .badRecord, at: epb + 24, "record captured short of its original length")
    }

    @Test("capture.cli: a corrupt capture exits 2 naming the file and the byte offset")
    func cli() throws {
        var bytes = smallCapture().pcapng()
        let epb = try Capture.parse(bytes).offsets[1]
        bytes[epb + 28 + 1] = 42
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("hvblob-bad-\(UUID().uuidString).pcapng").path
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        let out = try runProcess([CLITests.binary, "replay", path])
        #expect(out.status == 2)
        #expect(out.output.contains(path) && out.output.contains("byte \(epb + 29)") && out.output.contains("kind 42"), "\(out.output)")
        let missing = try runProcess([CLITests.binary, "replay", path + ".missing"])
        #expect(missing.status == 2 && missing.output.contains("cannot open"))
        let good = try runProcess([CLITests.binary, "replay", repoRoot.appendingPathComponent("Fixtures/captures/plain.pcapng").path])
        #expect(good.status == 0 && good.output.contains("verdict: clean"), "\(good.output)")
    }

    @Test("capture.verify-record: verify --record captures each check on its own channel; those replay clean")
    func verifyRecord() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("hvblob-verify-\(UUID().uuidString).pcapng").path
        let out = try runProcess([CLITests.binary, "verify", "--model", "--only", "ioctl.ok,ioctl.len.zero,lifecycle.unload", "--record", path])
        #expect(out.status == 0, "\(out.output)")
        // Each check on its own channel, and the control request two of them make first on a
        // machine of its own: 3 checks, 4 machines.
        #expect(out.output.contains("on 4 channels"), "\(out.output)")
        let cap = try Capture.parse(Array(try Data(contentsOf: URL(fileURLWithPath: path))))
        #expect(Set(cap.records.map(\.channel)) == [1, 2, 3, 4])
        let report = Replayer(capture: cap).run()
        #expect(report.clean && report.channels == 4, "\(report.render(driver: "model"))")
    }

    @Test("capture.tshark: the Lua dissector decodes every fixture as hvblob's own parser does")
    func tshark() throws {
        let found = (try? runProcess(["sh", "-c", "command -v tshark"]))?.status == 0
        if !found {
            #expect(!runningUnderCI, "tshark is not installed; CI must install it (apt-get install tshark)")
            return
        }
        let lua = repoRoot.appendingPathComponent("Tools/wireshark/hvblob.lua").path
        for name in captureFixtures {
            let cap = try fixtureCapture(name)
            let path = repoRoot.appendingPathComponent("Fixtures/captures/\(name).pcapng").path
            let out = try runProcess(["tshark", "-X", "lua_script:\(lua)", "-r", path, "-T", "fields", "-E", "separator=|",
                                      "-e", "hvblob.kind", "-e", "hvblob.desc.type", "-e", "hvblob.desc.trans_id",
                                      "-e", "hvblob.mpb.pfn_count", "-e", "hvblob.vsp.request_buffer_length",
                                      "-e", "hvblob.resp.response_len", "-e", "hvblob.ioctl.ret", "-e", "hvblob.hostwrite.length"])
            #expect(out.status == 0, "\(out.output)")
            let lines = out.output.split(separator: "\n").map(String.init).filter { !$0.hasPrefix("Running as user") }
            #expect(lines.count == cap.records.count, "\(name): \(lines.count) lines for \(cap.records.count) records")
            for (line, r) in zip(lines, cap.records) {
                let f = line.split(separator: "|", omittingEmptySubsequences: false).map(String.init)
                #expect(f.count == 8)
                #expect(f[0] == String(r.kind.rawValue), "\(name): \(line) vs \(r.summary)")
                switch r.kind {
                case .ringPacket:
                    #expect(f[1] == String(r.body.u16le(0)))
                    #expect(f[2] == String(r.body.u64le(8)))
                    if let p = try? GPADirectPacket.decode(r.body) {
                        #expect(f[3] == String(p.pfns.count))
                        #expect(f[4] == String(p.request.requestBufferLength))
                    } else if r.body.u16le(0) == 11 && r.body.count >= 28 {
                        #expect(f[5] == String(r.body.u32le(24)), "\(name): completion response_len")
                    }
                case .ioctlReturn:
                    #expect(f[6] == String(r.ioctlReturn!.value))
                case .hostWrite:
                    #expect(f[7] == String(r.hostWrite!.bytes.count))
                default:
                    break
                }
            }
        }
    }
}

extension Array where Element == UInt8 {
    func u16le(_ o: Int) -> UInt16 { UInt16(self[o]) | UInt16(self[o + 1]) << 8 }
    func u32le(_ o: Int) -> UInt32 { UInt32(u16le(o)) | UInt32(u16le(o + 2)) << 16 }
    func u64le(_ o: Int) -> UInt64 { UInt64(u32le(o)) | UInt64(u32le(o + 4)) << 32 }
}
