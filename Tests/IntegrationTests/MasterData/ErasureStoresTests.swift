import CRMDelivery
import CRMMasterData
import CRMViews
import CRMWeb
import Foundation
import GRDB
import Synchronization
import Testing

/// The local views and stores an erasure reaches through ``MasterDataResolver/onErasure(_:)``.
@Suite("Erasure in views and stores")
struct ErasureStoresTests {
    @Test func theTicketViewForgetsTheErasedCustomerAndTheirTicketsButKeepsOthers() async throws {
        let store = try TicketViewStore(path: nil)
        let ada = #"{"id":"crm:1","goldenId":"G-1","emails":["ada@example.com"]}"#
        try await store.upsertCustomer(
            id: "crm:1", json: Array(ada.utf8), references: ["crm:1", "G-1", "email:ada@example.com"])
        try await store.upsertCustomer(id: "crm:2", json: Array(#"{"id":"crm:2"}"#.utf8), references: ["crm:2"])
        try await store.upsertTicket(
            id: "T-1", json: Array(#"{"id":"T-1"}"#.utf8), customerRef: "email:ada@example.com", open: true,
            seenAt: Date())
        try await store.upsertTicket(
            id: "T-2", json: Array(#"{"id":"T-2"}"#.utf8), customerRef: "crm:2", open: true, seenAt: Date())

        let removed = try await store.erase(references: ["G-1", "crm:1"])

        #expect(removed.customers == 1 && removed.tickets == 1)
        #expect(try await store.customer(reference: "email:ada@example.com") == nil)
        #expect(try await store.openTickets(references: ["email:ada@example.com"]).isEmpty)
        #expect(try await store.customer(reference: "crm:2") != nil)
        #expect(try await store.openTickets(references: ["crm:2"]).count == 1)
    }

    @Test func theParkedKeysTableOfEarlierVersionsWithItsCustomerKeysIsDroppedWhenTheStoreOpens() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("delivery-\(UUID()).sqlite").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try DatabaseQueue(path: path).write { db in
            try db.execute(
                sql: """
                    CREATE TABLE parked (seq INTEGER PRIMARY KEY, sink TEXT, key TEXT, id TEXT, tier INTEGER);
                    INSERT INTO parked (sink, key, id, tier) VALUES ('erp', 'crm:1', 'm1', 0);
                    """)
        }

        _ = try DeliveryStateStore(path: path)

        let tables = try DatabaseQueue(path: path).read { db in
            try String.fetchAll(db, sql: "SELECT name FROM sqlite_master WHERE type = 'table'")
        }
        #expect(!tables.contains("parked"))
        #expect(tables.contains("delivered"))
    }

    @Test func erasureObserversHearTheDaemonsOwnErasuresAndThoseTakenInFromTheChangeFeed() async throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("erase-\(UUID()).sqlite").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let daemon = try await MasterDataResolver(store: try SQLiteMasterDataStore(path: path))
        let heard = Mutex<[[String]]>([])
        await daemon.onErasure { event in heard.withLock { $0.append(ErasureTombstones.references(of: event)) } }
        let a = try await daemon.resolve(CustomerRecord(system: "crm", externalId: "1", givenName: "Ada"))
        let b = try await daemon.resolve(CustomerRecord(system: "erp", externalId: "C-7", givenName: "Bo"))

        try await daemon.erase(goldenId: a.goldenId, actor: "dpo")
        let cli = try await MasterDataResolver(store: try SQLiteMasterDataStore(path: path))
        try await cli.erase(goldenId: b.goldenId, actor: "dpo")
        try await daemon.synchronize()

        #expect(heard.withLock { $0 } == [[a.goldenId, "crm:1"], [b.goldenId, "erp:C-7"]])
    }

    @Test func theFormPostsOnAnErasedPersonsTimelineReachEveryInstanceAndTheirAttachmentsAreDeleted() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("erase-forms-\(UUID())")
        defer { try? FileManager.default.removeItem(at: folder) }
        let path = folder.appendingPathComponent("master.sqlite").path
        let attachments = folder.appendingPathComponent("attachments")
        // Stored by the form ingress: <form>/<post id>/<n>-<file name>.
        for post in ["contact/ada-cv", "careers/ada-photo", "contact/bo-cv"] {
            let directory = attachments.appendingPathComponent(post)
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            try Data("%PDF".utf8).write(to: directory.appendingPathComponent("0-cv.pdf"))
        }
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let daemon = try await MasterDataResolver(store: try SQLiteMasterDataStore(path: path))
        let heard = Mutex<[[String]]>([])
        await daemon.onErasure { event in
            heard.withLock { $0.append(event.erasedFormPosts) }
            _ = try? WebFormIngress.removeAttachments(ofTimelineRefs: event.erasedFormPosts, in: attachments.path)
        }
        let ada = try await daemon.resolve(CustomerRecord(system: "web", externalId: "1", givenName: "Ada"))
        let bo = try await daemon.resolve(CustomerRecord(system: "web", externalId: "2", givenName: "Bo"))
        func form(_ goldenId: String, _ ref: String, at: Int64) -> TimelineEntry {
            TimelineEntry(
                goldenId: goldenId, at: at, channel: "web", kind: "form", direction: "inbound", source: "web", ref: ref)
        }
        try await daemon.recordInteractions([
            form(ada.goldenId, "web-ada-cv", at: 1), form(ada.goldenId, "web-ada-photo", at: 2),
            TimelineEntry(
                goldenId: ada.goldenId, at: 3, channel: "phone", kind: "call", direction: "inbound", source: "pbx",
                ref: "call-1"),
            form(bo.goldenId, "web-bo-cv", at: 4),
        ])

        // Ada is erased by another process (the CLI); the daemon takes the erasure in from the change feed.
        let cli = try await MasterDataResolver(store: try SQLiteMasterDataStore(path: path))
        try await cli.erase(goldenId: ada.goldenId, actor: "dpo")
        try await daemon.synchronize()

        #expect(heard.withLock { $0.map { $0.sorted() } } == [["web-ada-cv", "web-ada-photo"]])
        let left = try FileManager.default.subpathsOfDirectory(atPath: attachments.path).filter {
            $0.hasSuffix(".pdf")
        }
        #expect(left == ["contact/bo-cv/0-cv.pdf"], "only the other customer's attachments are left")
    }
}
