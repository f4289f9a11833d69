// SPDX-License-Identifier: Apache-2.0
@testable import HVBlob
import Testing

/// The race explorer with the Blob service as the host's backend (issue 13): the clients race
/// fast-path reads in an open session, every byte checked.
@Suite("Race explorer: the Blob service backend")
struct ExploreBlobTests {
    static let blobs = BlobService.generatedBlobs(seed: 1)

    @Test("explore.blob-backend: the corrected model's reads come back with the blob's bytes in every schedule that completes them; v5's model still shows the review's race on Blob traffic, and its inverted pins garble the response (the check fails)")
    func blobBackend() throws {
        var fixed = Explorer(clients: 1, factory: nil)
        fixed.blobs = Self.blobs
        let x = try fixed.search([Explorer.Phase(.dfs(bound: 2), clients: 1, budget: 10_000)], minimiseAttempts: 0)
        #expect(x.exhaustive && x.findings.isEmpty, "\(x.findings.map(\.key))")
        // Proof that Blob traffic ran: reads that returned 0 were checked byte for byte.
        #expect(x.blobReadsChecked > 0 && x.withInFlight > 0, "\(x.blobReadsChecked) reads checked")

        var v5 = Explorer(clients: 2, factory: nil, behavior: .v5, version: KernelVersion(5, 13))
        v5.blobs = Self.blobs
        let y = try v5.search([Explorer.Phase(.dfs(bound: 1), clients: 2, budget: 10_000)], minimiseAttempts: 0)
        #expect(y.scheduleDependent.contains { $0.rule == "guest.send-on-closed-channel" })
        #expect(y.findings.contains { $0.rule == "integrity.response" }, "\(y.findings.map(\.key))")
        #expect(y.blobReadsChecked == 0)

        // The store backend is untouched by it: no read checked, the same schedules.
        let store = try Explorer(clients: 1, factory: nil).search([Explorer.Phase(.dfs(bound: 2), clients: 1, budget: 10_000)], minimiseAttempts: 0)
        #expect(store.blobReadsChecked == 0 && store.schedules == x.schedules)
    }
}
