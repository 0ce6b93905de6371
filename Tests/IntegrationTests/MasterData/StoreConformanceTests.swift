import CRMMasterDataPostgres
import CRMTestSupport
import Foundation
import Testing

@testable import CRMMasterData

/// Store factories the shared conformance suite runs against. PostgreSQL: one real server per test process
/// (`PostgresServer.shared()`), a fresh database per test.
enum StoreKind: String, CaseIterable, CustomTestStringConvertible {
    case inMemory, sqlite, postgres
    var testDescription: String { rawValue }

    func make() async throws -> (any MasterDataStore, reopen: @Sendable () async throws -> any MasterDataStore) {
        switch self {
        case .inMemory:
            let s = InMemoryMasterDataStore()
            return (s, { s })
        case .sqlite:
            let dir = FileManager.default.temporaryDirectory.appendingPathComponent("mdm-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            let path = dir.appendingPathComponent("mdm.sqlite").path
            return (try SQLiteMasterDataStore(path: path), { try SQLiteMasterDataStore(path: path) })
        case .postgres:
            let url = try await offPool { try PostgresServer.shared().createDatabase() }
            return (try await PostgresMasterDataStore(url: url), { try await PostgresMasterDataStore(url: url) })
        }
    }
}

@Suite("Master data store conformance")
struct StoreConformanceTests {
    @Test(
        "a batch round-trips: members, golden records, aliases, history, audit, reviews", arguments: StoreKind.allCases)
    func roundTrip(_ kind: StoreKind) async throws {
        let (store, reopen) = try await kind.make()
        let r1 = person("1", "Ana", "Ruiz", email: "ana@ruiz.es", country: "ES")
        let r2 = person("2", "Ana", "Ruiz", phone: "+34 600 123 456", country: "ES", system: "shop")
        let golden = GoldenRecord.build(id: "GA", members: [r1, r2], configuration: ResolverConfiguration())
        var b = StoreBatch()
        b.members = [StoredMember(record: r1, goldenId: "GA"), StoredMember(record: r2, goldenId: "GA")]
        b.goldens = [golden]
        b.aliases = ["GB": "GA"]
        b.mergeHistory = ["GB": [r2.ref]]
        b.audit = [
            AuditEntry(
                action: "merged", goldenId: "GA", relatedGoldenId: "GB", records: [r2.ref], score: 21.5,
                evidence: [Evidence(field: "email", level: "exact", weight: 12)], actor: "test", at: 1)
        ]
        b.reviews = [ReviewItem(record: r2.ref, goldenId: "GB", candidateGoldenId: "GA", score: 10, evidence: [])]
        try await store.apply(b)

        let again = try await reopen()
        let snap = try await again.load()
        #expect(snap.members.map(\.record) == [r1, r2])
        #expect(snap.aliases == ["GB": "GA"])
        #expect(snap.mergeHistory == ["GB": [r2.ref]])
        #expect(try await again.golden(id: "GB") == golden)
        #expect(try await again.goldenId(for: r2.ref) == "GA")
        #expect(try await again.auditTrail(goldenId: "GB").first?.evidence.first?.weight == 12)
        #expect(try await again.openReviews().map(\.record) == [r2.ref])

        var close = StoreBatch()
        close.closedReviews = [r2.ref]
        close.aliases = ["GB": nil]
        close.mergeHistory = ["GB": nil]
        close.erased = [r1.ref]
        close.removedGoldens = ["GA"]
        try await again.apply(close)
        #expect(try await again.openReviews().isEmpty)
        #expect(try await again.golden(id: "GB") == nil)
        #expect(try await again.goldenId(for: r1.ref) == nil)
        #expect(try await again.load().members.map(\.record) == [r2])
    }

    @Test(
        "a resolver reopened on the store sees the same golden records and keeps resolving into them",
        arguments: StoreKind.allCases)
    func reopenResolver(_ kind: StoreKind) async throws {
        let (store, reopen) = try await kind.make()
        let sink = AsyncStreamEventSink()
        let resolver = try await MasterDataResolver(store: store, sink: sink, now: { 42 })
        let a = try await resolver.resolve(
            person("1", "Jonas", "Becker", email: "jonas.becker@gmx.de", country: "DE", dob: "1990-05-06"))
        let b = try await resolver.resolve(
            person("2", "Jonas", "Becker", email: "jb@work.de", phone: "+49 171 2345678", country: "DE"))
        #expect(a.goldenId != b.goldenId)
        try await resolver.merge(survivor: a.goldenId, absorbed: b.goldenId, actor: "alice")
        try await resolver.unmerge(absorbed: b.goldenId, actor: "alice")
        try await resolver.merge(survivor: a.goldenId, absorbed: b.goldenId, actor: "alice")

        let second = try await MasterDataResolver(store: try await reopen())
        #expect(await second.goldenId(for: b.ref) == a.goldenId)
        #expect(await second.golden(id: b.goldenId)?.id == a.goldenId)
        #expect(await second.lookup(phone: "0171 2345678").map(\.id) == [a.goldenId])
        let c = try await second.resolve(
            person("3", "Jonas", "Becker", email: "JONAS.BECKER+x@gmx.de", country: "DE", system: "shop"))
        #expect(c.decision == .joined && c.goldenId == a.goldenId)
        // The merge is still undoable after a restart.
        try await second.unmerge(absorbed: b.goldenId, actor: "bob")
        #expect(await second.goldenId(for: b.ref) == b.goldenId)
        let trail = try await second.auditTrail(goldenId: a.goldenId).map(\.action)
        #expect(trail == ["created", "review", "merged", "unmerged", "merged", "joined", "unmerged"])

        sink.finish()
        var kinds: [MasterDataEvent.Kind] = []
        for await e in sink.events { kinds.append(e.kind) }
        #expect(kinds == [.created, .created, .merged, .unmerged, .created, .merged])
    }

    @Test("erasure deletes the person from the store and publishes a tombstone", arguments: StoreKind.allCases)
    func erasure(_ kind: StoreKind) async throws {
        let (store, _) = try await kind.make()
        let sink = AsyncStreamEventSink()
        let resolver = try await MasterDataResolver(store: store, sink: sink)
        let a = try await resolver.resolve(person("1", "Hélène", "Girard", email: "helene@girard.fr", country: "FR"))
        try await resolver.erase(goldenId: a.goldenId, actor: "dpo")
        #expect(try await store.goldenId(for: a.ref) == nil)
        #expect(try await store.golden(id: a.goldenId) == nil)
        #expect(await resolver.lookup(email: "helene@girard.fr").isEmpty)
        sink.finish()
        var last: MasterDataEvent?
        for await e in sink.events { last = e }
        #expect(last?.kind == .erased && last?.golden == nil && last?.erasedRecords == [a.ref])
    }

    @Test("review items are stored with evidence for possible matches", arguments: StoreKind.allCases)
    func reviews(_ kind: StoreKind) async throws {
        let (store, _) = try await kind.make()
        var c = ResolverConfiguration()
        c.mergeThreshold = 1000  // everything that matches goes to review
        let resolver = try await MasterDataResolver(store: store, configuration: c)
        let a = try await resolver.resolve(person("1", "Ravi", "Patel", email: "ravi.patel@gmail.com"))
        let b = try await resolver.resolve(person("2", "Ravi", "Patel", email: "ravipatel@gmail.com"))
        #expect(b.decision == .review && b.candidateGoldenId == a.goldenId)
        let items = try await resolver.openReviews()
        #expect(items.count == 1 && items[0].candidateGoldenId == a.goldenId && !items[0].evidence.isEmpty)
    }
}
