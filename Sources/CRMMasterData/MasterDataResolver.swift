// CRMMasterData — the resolver: one actor owning the identity graph, writing through a store, emitting events.

import Foundation
import Synchronization

/// Resolves customer records into golden records, persists every change through a `MasterDataStore` before
/// publishing `MasterDataEvent`s, and answers lookups (by golden id, cross-reference, e-mail, phone, name)
/// from its in-memory index (no store round trip: CTI screen-pops and mapping lookups are microseconds).
///
/// The graph sits behind a lock rather than only behind the actor: changes are made inside the actor, one at a time,
/// while ``index`` reads it synchronously from the threads that run mappings.
public actor MasterDataResolver {
    let graph: LockedIdentityGraph
    let store: any MasterDataStore
    private let sink: (any MasterDataEventSink)?
    private let now: @Sendable () -> Int64
    /// Record count when the model was last trained; it is retrained each time the store doubles.
    private var trainedAt = 0
    /// This instance in the store's change feed (`published:` when it has a sink, else `unpublished:`).
    private let origin: String
    /// The highest change-feed sequence number seen, and recently seen numbers (PostgreSQL allocates them before
    /// commit, so a slightly older one can appear late; a window of 256 is re-read).
    private var lastChange: Int64 = 0
    private var seenChanges: Set<Int64> = []
    private var lastPoll = ContinuousClock.now
    /// The erasure ledger (hashed references of erased people, see ``ErasureLedger``).
    private var ledger: Set<String>
    /// Called with every erasure, this instance's and (through the change feed) other resolvers'.
    private var erasureObservers: [@Sendable (MasterDataEvent) async -> Void] = []
    /// How often `resolve` first takes in changes other instances and the CLI made. Default 1 s.
    public var changePollInterval: Duration = .seconds(1)

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
        // The match model learns from the stored records (unless the caller brought a trained one).
        if !model.isTrained, g.recordCount >= MatchTraining().minimumRecords { g.train() }
        trainedAt = g.recordCount
        ledger = snapshot.erasureLedger
        graph = LockedIdentityGraph(g)
        self.store = store
        self.sink = sink
        self.now = now
        origin = (sink == nil ? "unpublished:" : "published:") + UUID().uuidString
        lastChange = try await store.latestChangeSequence()
    }

    // MARK: Change feed

    /// Takes in the changes other resolvers made to the store since the last call — the CLI's merges, unmerges,
    /// detaches, erasures, accepted reviews and resolves, other hub instances' decisions — so this instance's
    /// graph and lookups follow them without a restart, and publishes to this resolver's sink the events of
    /// resolvers that have none (the CLI), so every change reaches the golden-record topic.
    /// - Returns: the number of foreign changes taken in.
    @discardableResult
    public func synchronize() async throws -> Int {
        lastPoll = ContinuousClock.now
        let changes = try await store.changes(after: max(0, lastChange - 256), limit: 10_000)
        var foreign: [MasterDataChange] = []
        for c in changes where !seenChanges.contains(c.seq) {
            seenChanges.insert(c.seq)
            lastChange = max(lastChange, c.seq)
            if c.origin != origin { foreign.append(c) }
        }
        seenChanges = seenChanges.filter { $0 > lastChange - 256 }
        guard !foreign.isEmpty else { return 0 }
        var ids = Set<String>()
        var erased = Set<RecordRef>()
        for c in foreign {
            ids.insert(c.event.goldenId)
            if let r = c.event.relatedGoldenId { ids.insert(r) }
            erased.formUnion(c.event.erasedRecords)
            if c.event.kind == .erased {
                ledger.formUnion(ErasureLedger.entries(goldenId: c.event.goldenId, records: c.event.erasedRecords))
            }
        }
        let stored = try await store.members(goldenIds: ids.sorted())
        graph.update { graph in
            var scope = graph.localScope(keys: [], goldenIds: ids.sorted())
            scope.formUnion(erased)
            graph.reconcile(stored: stored, scope: scope)
            for c in foreign {
                switch c.event.kind {
                case .merged:
                    if let absorbed = c.event.relatedGoldenId { graph.setAlias(absorbed, to: c.event.goldenId) }
                case .unmerged:
                    if let restored = c.event.relatedGoldenId { graph.setAlias(restored, to: nil) }
                default: break
                }
            }
        }
        let unpublished = foreign.filter { $0.origin.hasPrefix("unpublished:") }.map(\.event)
        if !unpublished.isEmpty { try await sink?.publish(unpublished) }
        for event in foreign.map(\.event) where event.kind == .erased { await notifyErasure(event) }
        return foreign.count
    }

    /// Polls the change feed every `interval` until the task is cancelled (run it as a service next to the
    /// daemon's routes; `resolve` also polls on its own at most every `changePollInterval`).
    public func runChangeFeed(every interval: Duration = .seconds(1)) async throws {
        while !Task.isCancelled {
            try await synchronize()
            try await Task.sleep(for: interval)
        }
    }

    /// Sets how often `resolve` polls the change feed.
    public func setChangePollInterval(_ interval: Duration) { changePollInterval = interval }

    /// Resolves one record, stores the outcome with its evidence, then publishes `created` or `updated`.
    /// On a shared store (`SharedMasterDataStore.coordinatesResolvers`) the record is resolved under the store's
    /// resolution locks against what every instance stored (see `SharedMasterDataStore`).
    ///
    /// A record whose reference, or a message whose golden id (`goldenId`), is on the erasure ledger is refused with
    /// a ``MasterDataError/Kind/erased`` error (its description carries no reference): an erased person is not
    /// recreated by a replay or a late retry.
    @discardableResult
    public func resolve(_ record: CustomerRecord, goldenId: String? = nil) async throws -> Resolution {
        if ContinuousClock.now - lastPoll >= changePollInterval { try await synchronize() }
        if isErased(record.ref, goldenId: goldenId) {
            throw MasterDataError(
                .erased, "the record belongs to an erased person (its reference is on the erasure ledger)")
        }
        let decision: Decision
        if let shared = store as? any SharedMasterDataStore, shared.coordinatesResolvers {
            decision = try await resolveShared(record, on: shared)
        } else {
            decision = decide(record)
            try await store.apply(decision.batch)
        }
        retrainIfGrown()
        try await recordConsentFlags(of: record, goldenId: decision.resolution.goldenId)
        try await sink?.publish(decision.events)
        return decision.resolution
    }

    /// Whether anyone was erased (the ledger has entries): until then, checks against the ledger can be skipped.
    public var hasErasures: Bool { !ledger.isEmpty }

    /// Whether any of these source records or golden ids is on the erasure ledger.
    public func isErased(records: [RecordRef], goldenIds: [String]) -> Bool {
        records.contains { ledger.contains(ErasureLedger.entry($0)) }
            || goldenIds.contains { ledger.contains(ErasureLedger.entry(goldenId: $0)) }
    }

    /// Whether a source record reference or a golden id is on the erasure ledger.
    public func isErased(_ ref: RecordRef, goldenId: String? = nil) -> Bool {
        if ledger.contains(ErasureLedger.entry(ref)) { return true }
        if let goldenId, ledger.contains(ErasureLedger.entry(goldenId: goldenId)) { return true }
        return false
    }

    /// Retrains the match model when the graph has doubled since the last training (the learned m/u and prior
    /// follow the data; decisions already stored are kept).
    private func retrainIfGrown() {
        let n = graph.read { $0.recordCount }
        guard n >= MatchTraining().minimumRecords, n >= 2 * trainedAt else { return }
        graph.update { $0.train() }
        trainedAt = n
    }

    /// A resolution with what to store and publish.
    struct Decision: Sendable {
        var resolution: Resolution
        var batch: StoreBatch
        var events: [MasterDataEvent]
    }

    /// Resolves in the graph and builds the batch (with evidence and audit) and the event.
    private func decide(_ record: CustomerRecord) -> Decision {
        let at = now()
        let origin = self.origin
        return graph.update { graph in
            var r = graph.resolve(record)
            var batch = StoreBatch()
            batch.members = [StoredMember(record: record, goldenId: r.goldenId)]
            let golden = graph.golden(r.goldenId)
            if let golden { batch.goldens = [golden] }
            if r.decision == .joined || r.decision == .review {
                let against = r.decision == .joined ? r.goldenId : (r.candidateGoldenId ?? r.goldenId)
                r.evidence = graph.explain(record.ref, against: against)?.evidence ?? []
            }
            batch.audit = [
                AuditEntry(
                    action: r.decision.rawValue, goldenId: r.goldenId, relatedGoldenId: r.candidateGoldenId,
                    records: [record.ref],
                    score: r.score, evidence: r.evidence, actor: "resolver", at: at)
            ]
            var events: [MasterDataEvent] = []
            if !r.absorbed.isEmpty {
                // The record bridged earlier fragments of one person: they are merged into its golden record.
                batch.members = graph.members(of: r.goldenId).map { StoredMember(record: $0, goldenId: r.goldenId) }
                batch.removedGoldens = r.absorbed
                for id in r.absorbed {
                    batch.aliases[id] = r.goldenId
                    batch.mergeHistory[id] = graph.mergeHistory[id]
                    batch.audit.append(
                        AuditEntry(
                            action: "merged", goldenId: r.goldenId, relatedGoldenId: id,
                            records: graph.mergeHistory[id] ?? [],
                            score: r.score, evidence: r.evidence, actor: "resolver", at: at))
                    events.append(
                        MasterDataEvent(
                            kind: .merged, goldenId: r.goldenId, relatedGoldenId: id, golden: golden, at: at))
                }
            }
            if r.decision == .review, let c = r.candidateGoldenId, let s = r.score {
                batch.reviews = [
                    ReviewItem(
                        record: record.ref, goldenId: r.goldenId, candidateGoldenId: c, score: s, evidence: r.evidence)
                ]
            }
            let kind: MasterDataEvent.Kind = (r.decision == .created || r.decision == .review) ? .created : .updated
            events.insert(MasterDataEvent(kind: kind, goldenId: r.goldenId, golden: golden, at: at), at: 0)
            batch.events = events
            batch.origin = origin
            return Decision(resolution: r, batch: batch, events: events)
        }
    }

    // MARK: Shared stores

    /// Resolves under the record's resolution locks: reads what other instances stored for its keys and the
    /// golden records they lead to (locking those too), reconciles the graph, decides, writes; one transaction.
    private func resolveShared(_ record: CustomerRecord, on store: any SharedMasterDataStore) async throws -> Decision {
        let keys = IdentityGraph.resolutionKeys(for: record)
        return try await store.withResolutionLock(keys: keys) { tx in
            let stored = try await self.lockedMembers(keys: keys, ref: record.ref, tx: tx)
            let goldenIds = Array(Set(stored.map(\.goldenId)))
            let missing = await self.missingFromScope(keys: keys, goldenIds: goldenIds, stored: stored)
            let moved: [StoredMember] =
                missing.isEmpty ? [] : try await tx.members(keys: [], goldenIds: [], refs: missing)
            let decision = await self.reconcileAndDecide(
                record, stored: stored + moved, keys: keys, goldenIds: goldenIds)
            try await tx.apply(decision.batch)
            return decision
        }
    }

    /// The stored members sharing `keys` and all members of their golden records, with those golden ids locked
    /// (re-read until no unlocked golden id appears; bounded).
    private nonisolated func lockedMembers(
        keys: [String], ref: RecordRef, tx: any ResolutionTransaction
    ) async throws -> [StoredMember] {
        var locked: Set<String> = []
        var stored = try await tx.members(keys: keys, goldenIds: [], refs: [ref])
        for _ in 0..<8 {
            let goldenIds = Set(stored.map(\.goldenId))
            let unlocked = goldenIds.subtracting(locked)
            if unlocked.isEmpty { return stored }
            try await tx.lock(keys: unlocked.map(ResolutionLockKey.golden))
            locked.formUnion(unlocked)
            stored = try await tx.members(keys: keys, goldenIds: locked.sorted(), refs: [ref])
        }
        throw MasterDataError(.store, "golden records kept changing while resolving \(ref)")
    }

    /// Records the graph holds in the locked scope that the store did not return (moved or erased elsewhere).
    private func missingFromScope(keys: [String], goldenIds: [String], stored: [StoredMember]) -> [RecordRef] {
        let present = Set(stored.map(\.record.ref))
        return graph.read { $0.localScope(keys: keys, goldenIds: goldenIds) }.subtracting(present).sorted {
            $0.description < $1.description
        }
    }

    private func reconcileAndDecide(
        _ record: CustomerRecord, stored: [StoredMember], keys: [String], goldenIds: [String]
    ) -> Decision {
        graph.update { graph in
            var scope = graph.localScope(keys: keys, goldenIds: goldenIds)
            scope.insert(record.ref)
            graph.reconcile(stored: stored, scope: scope)
        }
        return decide(record)
    }

    /// Merges `absorbed` into `survivor` (manual merge or accepted review); audited with the best pair's evidence.
    public func merge(survivor: String, absorbed: String, actor: String) async throws {
        try await change(goldenIds: [survivor, absorbed]) { r in
            try r.mergeChange(survivor: survivor, absorbed: absorbed, actor: actor)
        }
    }

    private func mergeChange(survivor: String, absorbed: String, actor: String) throws -> Change {
        let (absorbedMembers, evidence, live, golden) = try graph.update { graph in
            let absorbedMembers = graph.members(of: absorbed)
            let evidence = absorbedMembers.first.flatMap { graph.explain($0.ref, against: survivor) }
            try graph.merge(survivor, absorbed)
            let live = graph.canonicalGoldenId(survivor) ?? survivor
            return (absorbedMembers, evidence, live, graph.golden(live))
        }
        let at = now()
        var batch = StoreBatch()
        batch.members = absorbedMembers.map { StoredMember(record: $0, goldenId: live) }
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
        return Change(
            batch: batch,
            events: [MasterDataEvent(kind: .merged, goldenId: live, relatedGoldenId: absorbed, golden: golden, at: at)])
    }

    // MARK: Review queue

    /// Accepts an open review item: the record's golden record is merged into the candidate it may belong to
    /// (audited and published like a manual merge; the item is closed).
    /// - Returns: the surviving golden id.
    @discardableResult
    public func acceptReview(_ ref: RecordRef, actor: String) async throws -> String {
        let item = try await openReview(ref)
        guard let own = graph.read({ $0.goldenId(for: ref) }) else {
            throw MasterDataError(.notFound, "record \(ref) not found")
        }
        guard let candidate = graph.read({ $0.canonicalGoldenId(item.candidateGoldenId) }) else {
            throw MasterDataError(.notFound, "golden record \(item.candidateGoldenId) no longer exists")
        }
        if own == candidate {
            try await change(goldenIds: [own]) { r in r.closeReviewChange(item, action: "review-accepted", actor: actor)
            }
        } else {
            try await merge(survivor: candidate, absorbed: own, actor: actor)
        }
        return candidate
    }

    /// Rejects an open review item: the record stays in its own golden record; the item is closed and audited.
    public func rejectReview(_ ref: RecordRef, actor: String) async throws {
        let item = try await openReview(ref)
        try await change(goldenIds: [item.goldenId]) { r in
            r.closeReviewChange(item, action: "review-rejected", actor: actor)
        }
    }

    private func openReview(_ ref: RecordRef) async throws -> ReviewItem {
        guard let item = try await store.openReviews().first(where: { $0.record == ref }) else {
            throw MasterDataError(.notFound, "no open review item for \(ref)")
        }
        return item
    }

    private func closeReviewChange(_ item: ReviewItem, action: String, actor: String) -> Change {
        var batch = StoreBatch()
        batch.closedReviews = [item.record]
        batch.audit = [
            AuditEntry(
                action: action, goldenId: item.goldenId, relatedGoldenId: item.candidateGoldenId,
                records: [item.record],
                score: item.score, evidence: item.evidence, actor: actor, at: now())
        ]
        return Change(batch: batch, events: [])
    }

    /// Undoes the merge that absorbed `absorbed`, restoring it with its former members.
    public func unmerge(absorbed: String, actor: String) async throws {
        let survivor = graph.read { $0.aliases[absorbed] } ?? absorbed
        try await change(goldenIds: [survivor, absorbed]) { r in try r.unmergeChange(absorbed: absorbed, actor: actor) }
    }

    private func unmergeChange(absorbed: String, actor: String) throws -> Change {
        let (survivor, restored, gs, ga, aliases) = try graph.update { graph in
            let survivor = try graph.unmerge(absorbed)
            return (
                survivor, graph.members(of: absorbed), graph.golden(survivor), graph.golden(absorbed),
                graph.aliases.filter { $0.value == survivor }
            )
        }
        let at = now()
        var batch = StoreBatch()
        batch.members = restored.map { StoredMember(record: $0, goldenId: absorbed) }
        batch.goldens = [gs, ga].compactMap { $0 }
        batch.aliases = [absorbed: nil]
        for (k, v) in aliases { batch.aliases[k] = v }
        batch.mergeHistory = [absorbed: nil]
        batch.audit = [
            AuditEntry(
                action: "unmerged", goldenId: survivor, relatedGoldenId: absorbed, records: restored.map(\.ref),
                actor: actor, at: at)
        ]
        return Change(
            batch: batch,
            events: [
                MasterDataEvent(kind: .unmerged, goldenId: survivor, relatedGoldenId: absorbed, golden: gs, at: at),
                MasterDataEvent(kind: .created, goldenId: absorbed, golden: ga, at: at),
            ])
    }

    /// Takes a wrongly joined record out of its golden record into its own (and bars it from rejoining).
    @discardableResult
    public func detach(_ ref: RecordRef, actor: String) async throws -> String {
        let from = graph.read { $0.goldenId(for: ref) }.map { [$0] } ?? []
        let c = try await change(goldenIds: from) { r in try r.detachChange(ref, actor: actor) }
        return c.events.last?.goldenId ?? ""
    }

    private func detachChange(_ ref: RecordRef, actor: String) throws -> Change {
        let (from, to, members, gf, gt) = try graph.update { graph in
            let (from, to) = try graph.detach(ref)
            return (from, to, graph.members(of: to), graph.golden(from), graph.golden(to))
        }
        let at = now()
        var batch = StoreBatch()
        batch.members = members.map { StoredMember(record: $0, goldenId: to) }
        batch.goldens = [gf, gt].compactMap { $0 }
        batch.audit = [
            AuditEntry(action: "detached", goldenId: from, relatedGoldenId: to, records: [ref], actor: actor, at: at)
        ]
        return Change(
            batch: batch,
            events: [
                MasterDataEvent(kind: .unmerged, goldenId: from, relatedGoldenId: to, golden: gf, at: at),
                MasterDataEvent(kind: .created, goldenId: to, golden: gt, at: at),
            ])
    }

    /// Erases a person (right to erasure): member records and the golden record are deleted; the audit keeps
    /// only references; the person's consent statements and timeline are deleted; the golden id and record
    /// references go on the erasure ledger (hashed, see ``ErasureLedger``) so they are not resolved again; an `erased`
    /// event (followed by tombstones, see `KafkaMasterDataEventSink`) is published.
    public func erase(goldenId: String, actor: String) async throws {
        let live = graph.read { $0.canonicalGoldenId(goldenId) } ?? goldenId
        let erasedIds = historyIds(of: live)
        let formPosts = try await formPostRefs(goldenIds: erasedIds)
        let c = try await change(goldenIds: [live]) { r in
            try r.eraseChange(goldenId: goldenId, formPosts: formPosts, actor: actor)
        }
        try await historyStore?.eraseHistory(goldenIds: erasedIds)
        for event in c.events where event.kind == .erased { await notifyErasure(event) }
    }

    /// Registers `observer` to be called with the `erased` event of every erasure this resolver makes or takes in
    /// from the change feed (local views and stores forget the person there: ticket views, parked sink keys).
    public func onErasure(_ observer: @escaping @Sendable (MasterDataEvent) async -> Void) {
        erasureObservers.append(observer)
    }

    private func notifyErasure(_ event: MasterDataEvent) async {
        for observer in erasureObservers { await observer(event) }
    }

    /// The refs of every web-form entry on these golden ids' timelines (read before the history is erased).
    private func formPostRefs(goldenIds: [String]) async throws -> [String] {
        guard let history = historyStore else { return [] }
        var refs: [String] = []
        var cursor: TimelineCursor?
        repeat {
            let page = try await history.timeline(
                goldenIds: goldenIds, limit: TimelinePage.maximumLimit, before: cursor)
            refs += page.entries.filter { $0.kind == "form" }.map(\.ref)
            cursor = page.next
        } while cursor != nil
        return refs
    }

    private func eraseChange(goldenId: String, formPosts: [String], actor: String) throws -> Change {
        let (live, refs) = try graph.update { graph throws(MasterDataError) in
            guard let live = graph.canonicalGoldenId(goldenId) else {
                throw MasterDataError(.notFound, "golden record \(goldenId) not found")
            }
            return (live, try graph.erase(live))
        }
        let at = now()
        var batch = StoreBatch()
        batch.erased = refs
        batch.removedGoldens = [live]
        batch.closedReviews = refs
        let entries = ErasureLedger.entries(goldenId: live, records: refs)
        batch.ledger = entries
        ledger.formUnion(entries)
        batch.audit = [AuditEntry(action: "erased", goldenId: live, records: refs, actor: actor, at: at)]
        return Change(
            batch: batch,
            events: [
                MasterDataEvent(
                    kind: .erased, goldenId: live, golden: nil, erasedRecords: refs, erasedFormPosts: formPosts, at: at)
            ])
    }

    /// A manual change: what to store and what to publish.
    struct Change: Sendable {
        var batch: StoreBatch
        var events: [MasterDataEvent]
    }

    /// Applies a manual change. On a shared store it runs under the locks of the golden ids involved, after the
    /// graph took in their current members from the store (so a merge or erasure covers records that other
    /// instances joined to them). Merge aliases and histories written by other instances are not read back:
    /// undo a merge on the instance that made it (or after a restart).
    @discardableResult
    private func change(
        goldenIds: [String], _ make: @escaping @Sendable (isolated MasterDataResolver) throws -> Change
    ) async throws -> Change {
        let origin = self.origin
        let make: @Sendable (isolated MasterDataResolver) throws -> Change = { r in
            var c = try make(r)
            c.batch.events = c.events
            c.batch.origin = origin
            return c
        }
        let result: Change
        if let shared = store as? any SharedMasterDataStore, shared.coordinatesResolvers {
            let keys = goldenIds.map(ResolutionLockKey.golden)
            result = try await shared.withResolutionLock(keys: keys) { tx in
                let stored = try await tx.members(keys: [], goldenIds: goldenIds, refs: [])
                let c = try await self.refreshThen(stored: stored, goldenIds: goldenIds, make)
                try await tx.apply(c.batch)
                return c
            }
        } else {
            result = try make(self)
            try await store.apply(result.batch)
        }
        try await sink?.publish(result.events)
        return result
    }

    private func refreshThen(
        stored: [StoredMember], goldenIds: [String], _ make: @Sendable (isolated MasterDataResolver) throws -> Change
    ) throws -> Change {
        graph.update { $0.reconcile(stored: stored, scope: []) }
        return try make(self)
    }

    // MARK: Lookups (in memory)

    /// The golden record by id (following merges).
    public func golden(id: String) -> GoldenRecord? { graph.read { $0.golden(id) } }
    /// The golden id of a source record.
    public func goldenId(for ref: RecordRef) -> String? { graph.read { $0.goldenId(for: ref) } }
    /// Golden records with this e-mail.
    public func lookup(email: String) -> [GoldenRecord] {
        graph.read { graph in graph.goldenIds(email: email).compactMap { graph.golden($0) } }
    }
    /// Golden records with this phone number.
    public func lookup(phone: String, defaultRegion: String? = nil) -> [GoldenRecord] {
        graph.read { graph in
            graph.goldenIds(phone: phone, defaultRegion: defaultRegion).compactMap { graph.golden($0) }
        }
    }
    /// Golden records with this name (either order, nicknames folded).
    public func search(givenName: String, familyName: String) -> [GoldenRecord] {
        graph.read { graph in
            graph.goldenIds(givenName: givenName, familyName: familyName).compactMap { graph.golden($0) }
        }
    }
    /// The audit trail of a golden id.
    public func auditTrail(goldenId: String) async throws -> [AuditEntry] {
        try await store.auditTrail(goldenId: goldenId)
    }
    /// Open review items.
    public func openReviews() async throws -> [ReviewItem] { try await store.openReviews() }
    /// Counts of live records and golden records.
    public var counts: (records: Int, goldens: Int) { graph.read { ($0.recordCount, $0.goldenCount) } }

    /// Golden-id lookups answered on the caller's thread (for mapping lookups, which cannot await the actor).
    public nonisolated var index: GoldenIdIndex { GoldenIdIndex(graph: graph) }
}
