// CRMMasterData — the store protocol and an in-memory conformance (tests, bulk runs).

/// A source record with the golden record it belongs to.
public struct StoredMember: Sendable, Hashable, Codable {
    public var record: CustomerRecord
    public var goldenId: String
    public init(record: CustomerRecord, goldenId: String) {
        self.record = record
        self.goldenId = goldenId
    }
}

/// Everything a resolver needs to rebuild its in-memory graph at start.
public struct MasterDataSnapshot: Sendable {
    public var members: [StoredMember] = []
    public var aliases: [String: String] = [:]
    public var mergeHistory: [String: [RecordRef]] = [:]
    /// The erasure ledger (see ``ErasureLedger``).
    public var erasureLedger: Set<String> = []
    public init() {}
}

/// One atomic set of changes (written in one transaction).
public struct StoreBatch: Sendable {
    /// Records to insert or move (keyed by their reference).
    public var members: [StoredMember] = []
    /// Records to delete.
    public var erased: [RecordRef] = []
    /// Golden records to insert or replace.
    public var goldens: [GoldenRecord] = []
    /// Golden records to delete (absorbed or erased).
    public var removedGoldens: [String] = []
    /// Alias changes: absorbed id → survivor id, or `nil` to remove.
    public var aliases: [String: String?] = [:]
    /// Merge history changes: absorbed id → members at merge time, or `nil` to remove.
    public var mergeHistory: [String: [RecordRef]?] = [:]
    public var audit: [AuditEntry] = []
    public var reviews: [ReviewItem] = []
    /// Review items to close (by record).
    public var closedReviews: [RecordRef] = []
    /// Entries to add to the erasure ledger (hashed references, see ``ErasureLedger``).
    public var ledger: [String] = []
    /// The change events of this batch, stored in the same transaction (the change feed other resolvers poll).
    public var events: [MasterDataEvent] = []
    /// The resolver instance that made the change (see `MasterDataChange.origin`).
    public var origin: String = ""
    public init() {}
    public var isEmpty: Bool {
        members.isEmpty && erased.isEmpty && goldens.isEmpty && removedGoldens.isEmpty && aliases.isEmpty
            && mergeHistory.isEmpty && audit.isEmpty && reviews.isEmpty && closedReviews.isEmpty && events.isEmpty
            && ledger.isEmpty
    }
}

/// One entry of a store's change feed: a change event, numbered by the store in commit order (for SQLite) or
/// allocation order (PostgreSQL), with the resolver instance that made it.
public struct MasterDataChange: Sendable, Hashable, Codable {
    /// The store's sequence number.
    public var seq: Int64
    /// `published:<uuid>` for a resolver that publishes its own events (the daemon), `unpublished:<uuid>` for one
    /// without an event sink (the CLI): a daemon publishes those when it sees them.
    public var origin: String
    public var event: MasterDataEvent
    public init(seq: Int64, origin: String, event: MasterDataEvent) {
        self.seq = seq
        self.origin = origin
        self.event = event
    }
}

/// Persistence of master data. Conformances: `SQLiteMasterDataStore` (embedded default) and
/// `InMemoryMasterDataStore`; all run the shared conformance suite in the tests.
public protocol MasterDataStore: Sendable {
    /// Reads everything needed to rebuild the graph.
    func load() async throws -> MasterDataSnapshot
    /// Applies a batch atomically.
    func apply(_ batch: StoreBatch) async throws
    /// A golden record by id, following merge aliases.
    func golden(id: String) async throws -> GoldenRecord?
    /// The golden id of a source record (the cross-reference).
    func goldenId(for ref: RecordRef) async throws -> String?
    /// Audit entries about a golden id (as main or related id), oldest first.
    func auditTrail(goldenId: String) async throws -> [AuditEntry]
    /// Open review items, oldest first.
    func openReviews() async throws -> [ReviewItem]
    /// Change-feed entries with a sequence number above `seq`, in sequence order (at most `limit`).
    func changes(after seq: Int64, limit: Int) async throws -> [MasterDataChange]
    /// The highest change-feed sequence number (0 when empty).
    func latestChangeSequence() async throws -> Int64
    /// The stored members of these golden records.
    func members(goldenIds: [String]) async throws -> [StoredMember]
}

extension MasterDataStore {
    /// Stores without a change feed: none.
    public func changes(after seq: Int64, limit: Int) async throws -> [MasterDataChange] { [] }
    public func latestChangeSequence() async throws -> Int64 { 0 }
    /// Through a full load (stores should answer from an index).
    public func members(goldenIds: [String]) async throws -> [StoredMember] {
        let ids = Set(goldenIds)
        return try await load().members.filter { ids.contains($0.goldenId) }
    }
}

/// A store in memory; for unit tests and bulk runs without persistence.
public actor InMemoryMasterDataStore: MasterDataStore {
    private var members: [RecordRef: StoredMember] = [:]
    private var order: [RecordRef] = []
    private var goldens: [String: GoldenRecord] = [:]
    private var aliases: [String: String] = [:]
    private var history: [String: [RecordRef]] = [:]
    private var audit: [AuditEntry] = []
    private var reviews: [ReviewItem] = []
    private var feed: [MasterDataChange] = []
    private var ledger: Set<String> = []
    private var consentLog: [Consent] = []
    private var interactions: [(seq: Int64, entry: TimelineEntry)] = []
    private var interactionKeys: Set<String> = []

    public init() {}

    public func load() -> MasterDataSnapshot {
        var s = MasterDataSnapshot()
        s.members = order.compactMap { members[$0] }
        s.aliases = aliases
        s.mergeHistory = history
        s.erasureLedger = ledger
        return s
    }

    public func apply(_ b: StoreBatch) {
        for m in b.members {
            if members[m.record.ref] == nil { order.append(m.record.ref) }
            members[m.record.ref] = m
        }
        for r in b.erased {
            members[r] = nil
            order.removeAll { $0 == r }
        }
        for g in b.removedGoldens { goldens[g] = nil }
        for g in b.goldens { goldens[g.id] = g }
        for (k, v) in b.aliases { aliases[k] = v }
        for (k, v) in b.mergeHistory { history[k] = v }
        audit += b.audit
        reviews.removeAll { b.closedReviews.contains($0.record) }
        reviews += b.reviews
        ledger.formUnion(b.ledger)
        for e in b.events { feed.append(MasterDataChange(seq: Int64(feed.count + 1), origin: b.origin, event: e)) }
    }

    public func changes(after seq: Int64, limit: Int) -> [MasterDataChange] {
        Array(feed.lazy.filter { $0.seq > seq }.prefix(limit))
    }

    public func latestChangeSequence() -> Int64 { feed.last?.seq ?? 0 }

    public func members(goldenIds: [String]) -> [StoredMember] {
        let ids = Set(goldenIds)
        return order.compactMap { members[$0] }.filter { ids.contains($0.goldenId) }
    }

    public func golden(id: String) -> GoldenRecord? {
        var id = id
        var hops = 0
        while let next = aliases[id], hops < 64 {
            id = next
            hops += 1
        }
        return goldens[id]
    }

    public func goldenId(for ref: RecordRef) -> String? { members[ref]?.goldenId }

    public func auditTrail(goldenId: String) -> [AuditEntry] {
        audit.filter { $0.goldenId == goldenId || $0.relatedGoldenId == goldenId }
    }

    public func openReviews() -> [ReviewItem] { reviews }
}

extension InMemoryMasterDataStore: CustomerHistoryStore {
    public func recordConsents(_ consents: [Consent]) {
        for c in consents where !consentLog.contains(c) { consentLog.append(c) }
    }

    public func consents(goldenIds: [String]) -> [Consent] {
        let ids = Set(goldenIds)
        return consentLog.filter { ids.contains($0.goldenId) }
    }

    @discardableResult
    public func recordInteractions(_ entries: [TimelineEntry]) -> Int {
        var added = 0
        for e in entries where interactionKeys.insert("\(e.source)\u{0}\(e.ref)").inserted {
            interactions.append((Int64(interactions.count + 1), e))
            added += 1
        }
        return added
    }

    public func timeline(goldenIds: [String], limit: Int, before: TimelineCursor?) -> TimelinePage {
        let ids = Set(goldenIds)
        let limit = max(1, min(limit, TimelinePage.maximumLimit))
        let older = interactions.filter { row in
            guard ids.contains(row.entry.goldenId) else { return false }
            guard let before else { return true }
            return row.entry.at < before.at || (row.entry.at == before.at && row.seq < before.seq)
        }.sorted { ($0.entry.at, $0.seq) > ($1.entry.at, $1.seq) }
        let page = Array(older.prefix(limit))
        let next = older.count > limit ? page.last.map { TimelineCursor(at: $0.entry.at, seq: $0.seq) } : nil
        return TimelinePage(entries: page.map(\.entry), next: next)
    }

    public func eraseHistory(goldenIds: [String]) {
        let ids = Set(goldenIds)
        consentLog.removeAll { ids.contains($0.goldenId) }
        interactions.removeAll { ids.contains($0.entry.goldenId) }
    }
}
