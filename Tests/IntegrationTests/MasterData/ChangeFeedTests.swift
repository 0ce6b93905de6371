import Foundation
import Testing

@testable import CRMMasterData

/// Collects published events.
actor RecordingSink: MasterDataEventSink {
    private(set) var events: [MasterDataEvent] = []
    func publish(_ events: [MasterDataEvent]) { self.events += events }
}

@Suite("Change feed")
struct ChangeFeedTests {
    func temporaryDatabase() -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("mdm-feed-\(UUID().uuidString).sqlite").path
    }

    @Test("a running daemon sees a merge and an erasure made from the CLI and publishes their events")
    func daemonFollowsCLIChanges() async throws {
        let path = temporaryDatabase()
        defer { try? FileManager.default.removeItem(atPath: path) }
        let sink = RecordingSink()
        let daemon = try await MasterDataResolver(store: try SQLiteMasterDataStore(path: path), sink: sink)
        let a = try await daemon.resolve(person("1", "Ann", "Lee", email: "ann.lee@web.de", dob: "1980-01-02"))
        let b = try await daemon.resolve(person("2", "Bo", "Chan", email: "bo@x.org", dob: "1975-05-06"))
        #expect(a.goldenId != b.goldenId)

        // The CLI: another resolver on the same file, without a sink.
        let cli = try await MasterDataResolver(store: try SQLiteMasterDataStore(path: path))
        try await cli.merge(survivor: a.goldenId, absorbed: b.goldenId, actor: "ops")
        #expect(await daemon.goldenId(for: RecordRef(system: "crm", externalId: "2")) == b.goldenId)

        #expect(try await daemon.synchronize() == 1)
        #expect(await daemon.goldenId(for: RecordRef(system: "crm", externalId: "2")) == a.goldenId)
        #expect(await daemon.golden(id: b.goldenId)?.id == a.goldenId)
        #expect(await sink.events.last?.kind == .merged)

        try await cli.erase(goldenId: a.goldenId, actor: "ops")
        #expect(try await daemon.synchronize() == 1)
        #expect(await daemon.goldenId(for: RecordRef(system: "crm", externalId: "1")) == nil)
        #expect(await daemon.counts.records == 0)
        #expect(await sink.events.last?.kind == .erased)
        // Its own changes are not taken in or published twice.
        _ = try await daemon.resolve(person("3", "Cy", "Dee", email: "cy@x.org"))
        #expect(try await daemon.synchronize() == 0)
        #expect(await sink.events.filter { $0.kind == .created }.count == 3)
    }

    @Test("every change is in the store's feed: resolve, merge, unmerge, detach, erase", arguments: StoreKind.allCases)
    func everyChangeIsFed(kind: StoreKind) async throws {
        let (store, _) = try await kind.make()
        let r = try await MasterDataResolver(store: store)
        let a = try await r.resolve(person("1", "Ann", "Lee", email: "ann.lee@web.de"))
        let b = try await r.resolve(person("2", "Bo", "Chan", email: "bo@x.org"))
        _ = try await r.resolve(person("3", "Ann", "Lee", email: "ann.lee@web.de", phone: "07700 900123"))
        try await r.merge(survivor: a.goldenId, absorbed: b.goldenId, actor: "t")
        try await r.unmerge(absorbed: b.goldenId, actor: "t")
        try await r.detach(RecordRef(system: "crm", externalId: "3"), actor: "t")
        try await r.erase(goldenId: b.goldenId, actor: "t")
        let kinds = try await store.changes(after: 0, limit: 100).map(\.event.kind)
        #expect(kinds == [.created, .created, .updated, .merged, .unmerged, .created, .unmerged, .created, .erased])
        #expect(try await store.latestChangeSequence() == 9)
    }
}
