import CRMMasterDataPostgres
import CRMTestSupport
import Foundation
import Testing

@testable import CRMMasterData

/// Consent statements and the contact-history timeline on every store (in memory, SQLite, PostgreSQL).
@Suite("Customer history store")
struct HistoryStoreTests {
    func historyStore(_ kind: StoreKind) async throws -> any CustomerHistoryStore {
        let (store, _) = try await kind.make()
        return try #require(store as? any CustomerHistoryStore)
    }

    func entry(_ ref: String, at: Int64, golden: String = "G1", source: String = "web") -> TimelineEntry {
        TimelineEntry(
            goldenId: golden, at: at, channel: "web", kind: "form", direction: "inbound", source: source, ref: ref,
            summary: "Subject \(ref)")
    }

    @Test("the timeline pages newest first and every entry appears exactly once", arguments: StoreKind.allCases)
    func paging(_ kind: StoreKind) async throws {
        let store = try await historyStore(kind)
        // Seven entries for G1 (two share a time), one for another customer.
        let times: [Int64] = [1_000, 2_000, 3_000, 3_000, 4_000, 5_000, 6_000]
        let entries = times.enumerated().map { entry("r\($0.offset)", at: $0.element) }
        #expect(try await store.recordInteractions(entries + [entry("other", at: 9_000, golden: "G2")]) == 8)

        var seen: [TimelineEntry] = []
        var cursor: TimelineCursor?
        var pages = 0
        repeat {
            let page = try await store.timeline(goldenIds: ["G1"], limit: 3, before: cursor)
            #expect(page.entries.count <= 3)
            seen += page.entries
            cursor = page.next
            pages += 1
        } while cursor != nil && pages < 10
        #expect(pages == 3)
        #expect(seen.map(\.ref) == ["r6", "r5", "r4", "r3", "r2", "r1", "r0"])
        #expect(seen.first?.summary == "Subject r6")
        #expect(seen.allSatisfy { $0.goldenId == "G1" })
        let both = try await store.timeline(goldenIds: ["G1", "G2"], limit: 1, before: nil)
        #expect(both.entries.map(\.ref) == ["other"])
    }

    @Test("recording the same source and ref again adds nothing", arguments: StoreKind.allCases)
    func idempotence(_ kind: StoreKind) async throws {
        let store = try await historyStore(kind)
        #expect(try await store.recordInteractions([entry("m-1", at: 1_000), entry("m-2", at: 2_000)]) == 2)
        #expect(try await store.recordInteractions([entry("m-1", at: 1_000), entry("m-3", at: 3_000)]) == 1)
        #expect(try await store.recordInteractions([entry("m-1", at: 1_000, source: "crm")]) == 1)
        let page = try await store.timeline(goldenIds: ["G1"], limit: 50, before: nil)
        #expect(page.entries.map(\.ref).sorted() == ["m-1", "m-1", "m-2", "m-3"])
        #expect(page.next == nil)
    }

    @Test(
        "consent statements are kept in order, once each, and erased with the timeline", arguments: StoreKind.allCases)
    func consentsAndErasure(_ kind: StoreKind) async throws {
        let store = try await historyStore(kind)
        let grant = Consent(
            goldenId: "G1", purpose: "marketing", channel: .email, status: .granted, source: "web", at: 1_000)
        let revoke = Consent(
            goldenId: "G1", purpose: "marketing", channel: .email, status: .revoked, source: "crm", at: 2_000)
        try await store.recordConsents([grant, revoke])
        try await store.recordConsents([grant])
        try await store.recordInteractions([entry("m-1", at: 1_000)])
        let stored = try await store.consents(goldenIds: ["G1"])
        #expect(stored == [grant, revoke])
        #expect(Consent.resolve(stored, purpose: "marketing", channel: .email) == .revoked(revoke))

        try await store.eraseHistory(goldenIds: ["G1"])
        #expect(try await store.consents(goldenIds: ["G1"]).isEmpty)
        #expect(try await store.timeline(goldenIds: ["G1"], limit: 10, before: nil).entries.isEmpty)
    }
}
