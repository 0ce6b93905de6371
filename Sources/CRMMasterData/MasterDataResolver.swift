// CRMMasterData — the resolver: one actor owning the identity graph, writing through a store, emitting events.

import Foundation

/// Resolves customer records into golden records, persists every change through a `MasterDataStore` before
/// publishing `MasterDataEvent`s, and answers lookups (by golden id, cross-reference, e-mail, phone, name)
/// from its in-memory index (no store round trip: CTI screen-pops and mapping lookups are microseconds).
public actor MasterDataResolver {
    private var graph: IdentityGraph
    private let store: any MasterDataStore
    private let sink: (any MasterDataEventSink)?
    private let now: @Sendable () -> Int64

    /// Opens a resolver over a store, rebuilding the in-memory graph from it.
    public init(
        store: any MasterDataStore, configuration: ResolverConfiguration = ResolverConfiguration(),
        model: MatchModel = MatchModel(), sink: (any MasterDataEventSink)? = nil,
        now: @escaping @Sendable () -> Int64 = { Int64(Date().timeIntervalSince1970) }
    ) async throws {
        try configuration.validate()
        let snapshot = try await store.load()
        var g = IdentityGraph(configuration: configuration, model: model)
        g.restore(
            members: snapshot.members.map { ($0.record, $0.goldenId) }, aliases: snapshot.aliases,
            mergeHistory: snapshot.mergeHistory)
        graph = g
        self.store = store
        self.sink = sink
        self.now = now
    }

    /// Resolves one record, stores the outcome with its evidence, then publishes `created` or `updated`.
    @discardableResult
    public func resolve(_ record: CustomerRecord) async throws -> Resolution {
        var r = graph.resolve(record)
        let at = now()
        var batch = StoreBatch()
        batch.members = [StoredMember(record: record, goldenId: r.goldenId)]
        let golden = graph.golden(r.goldenId)
        if let golden { batch.goldens = [golden] }
        if r.decision == .joined || r.decision == .review {
            let against = r.decision == .joined ? r.goldenId : r.candidateGoldenId!
            r.evidence = graph.explain(record.ref, against: against)?.evidence ?? []
        }
        batch.audit = [
            AuditEntry(
                action: r.decision.rawValue, goldenId: r.goldenId, relatedGoldenId: r.candidateGoldenId, records: [record.ref],
                score: r.score, evidence: r.evidence, actor: "resolver", at: at)
        ]
        if r.decision == .review, let c = r.candidateGoldenId, let s = r.score {
            batch.reviews = [ReviewItem(record: record.ref, goldenId: r.goldenId, candidateGoldenId: c, score: s, evidence: r.evidence)]
        }
        try await store.apply(batch)
        let kind: MasterDataEvent.Kind = (r.decision == .created || r.decision == .review) ? .created : .updated
        try await sink?.publish([MasterDataEvent(kind: kind, goldenId: r.goldenId, golden: golden, at: at)])
        return r
    }

    /// Merges `absorbed` into `survivor` (manual merge or accepted review); audited with the best pair's evidence.
    public func merge(survivor: String, absorbed: String, actor: String) async throws {
        let absorbedMembers = graph.members(of: absorbed)
        let evidence = absorbedMembers.first.flatMap { graph.explain($0.ref, against: survivor) }
        try graph.merge(survivor, absorbed)
        let at = now()
        var batch = StoreBatch()
        let live = graph.canonicalGoldenId(survivor) ?? survivor
        batch.members = absorbedMembers.map { StoredMember(record: $0, goldenId: live) }
        let golden = graph.golden(live)
        if let golden { batch.goldens = [golden] }
        batch.removedGoldens = [absorbed]
        batch.aliases = [absorbed: live]
        batch.mergeHistory = [absorbed: absorbedMembers.map(\.ref)]
        batch.closedReviews = absorbedMembers.map(\.ref)
        batch.audit = [
            AuditEntry(
                action: "merged", goldenId: live, relatedGoldenId: absorbed, records: absorbedMembers.map(\.ref),
                score: evidence?.score, evidence: evidence?.evidence ?? [], actor: actor, at: at)
        ]
        try await store.apply(batch)
        try await sink?.publish([MasterDataEvent(kind: .merged, goldenId: live, relatedGoldenId: absorbed, golden: golden, at: at)])
    }

    /// Undoes the merge that absorbed `absorbed`, restoring it with its former members.
    public func unmerge(absorbed: String, actor: String) async throws {
        let survivor = try graph.unmerge(absorbed)
        let at = now()
        var batch = StoreBatch()
        let restored = graph.members(of: absorbed)
        batch.members = restored.map { StoredMember(record: $0, goldenId: absorbed) }
        let gs = graph.golden(survivor), ga = graph.golden(absorbed)
        batch.goldens = [gs, ga].compactMap { $0 }
        batch.aliases = [absorbed: nil]
        for (k, v) in graph.aliases where v == survivor { batch.aliases[k] = v }
        batch.mergeHistory = [absorbed: nil]
        batch.audit = [
            AuditEntry(action: "unmerged", goldenId: survivor, relatedGoldenId: absorbed, records: restored.map(\.ref), actor: actor, at: at)
        ]
        try await store.apply(batch)
        try await sink?.publish([
            MasterDataEvent(kind: .unmerged, goldenId: survivor, relatedGoldenId: absorbed, golden: gs, at: at),
            MasterDataEvent(kind: .created, goldenId: absorbed, golden: ga, at: at),
        ])
    }

    /// Takes a wrongly joined record out of its golden record into its own (and bars it from rejoining).
    @discardableResult
    public func detach(_ ref: RecordRef, actor: String) async throws -> String {
        let (from, to) = try graph.detach(ref)
        let at = now()
        var batch = StoreBatch()
        batch.members = graph.members(of: to).map { StoredMember(record: $0, goldenId: to) }
        let gf = graph.golden(from), gt = graph.golden(to)
        batch.goldens = [gf, gt].compactMap { $0 }
        batch.audit = [AuditEntry(action: "detached", goldenId: from, relatedGoldenId: to, records: [ref], actor: actor, at: at)]
        try await store.apply(batch)
        try await sink?.publish([
            MasterDataEvent(kind: .unmerged, goldenId: from, relatedGoldenId: to, golden: gf, at: at),
            MasterDataEvent(kind: .created, goldenId: to, golden: gt, at: at),
        ])
        return to
    }

    /// Erases a person (right to erasure): member records and the golden record are deleted; the audit keeps
    /// only references; an `erased` event (a tombstone for downstream topics) is published.
    public func erase(goldenId: String, actor: String) async throws {
        guard let live = graph.canonicalGoldenId(goldenId) else {
            throw MasterDataError(.notFound, "golden record \(goldenId) not found")
        }
        let refs = try graph.erase(live)
        let at = now()
        var batch = StoreBatch()
        batch.erased = refs
        batch.removedGoldens = [live]
        batch.closedReviews = refs
        batch.audit = [AuditEntry(action: "erased", goldenId: live, records: refs, actor: actor, at: at)]
        try await store.apply(batch)
        try await sink?.publish([MasterDataEvent(kind: .erased, goldenId: live, golden: nil, erasedRecords: refs, at: at)])
    }

    // MARK: Lookups (in memory)

    /// The golden record by id (following merges).
    public func golden(id: String) -> GoldenRecord? { graph.golden(id) }
    /// The golden id of a source record.
    public func goldenId(for ref: RecordRef) -> String? { graph.goldenId(for: ref) }
    /// Golden records with this e-mail.
    public func lookup(email: String) -> [GoldenRecord] { graph.goldenIds(email: email).compactMap(graph.golden) }
    /// Golden records with this phone number.
    public func lookup(phone: String, defaultRegion: String? = nil) -> [GoldenRecord] {
        graph.goldenIds(phone: phone, defaultRegion: defaultRegion).compactMap(graph.golden)
    }
    /// Golden records with this name (either order, nicknames folded).
    public func search(givenName: String, familyName: String) -> [GoldenRecord] {
        graph.goldenIds(givenName: givenName, familyName: familyName).compactMap(graph.golden)
    }
    /// The audit trail of a golden id.
    public func auditTrail(goldenId: String) async throws -> [AuditEntry] { try await store.auditTrail(goldenId: goldenId) }
    /// Open review items.
    public func openReviews() async throws -> [ReviewItem] { try await store.openReviews() }
    /// Counts of live records and golden records.
    public var counts: (records: Int, goldens: Int) { (graph.recordCount, graph.goldenCount) }
}
