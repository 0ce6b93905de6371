// CRMMasterData — the in-memory identity graph: blocking, non-chaining clustering, merge/unmerge, lookups.

internal import CMemoryHints
import CRMNormalize

/// What happened to an incoming record.
public enum ResolutionDecision: String, Sendable, Hashable, Codable {
    /// No good match: a new golden record.
    case created
    /// Matched one cluster well: joined it.
    case joined
    /// The (system, external id) was known: its record was replaced.
    case updated
    /// A possible match: between the thresholds, or above the merge threshold but stopped by a guard
    /// (household member, same-name stranger). A new golden record plus a review item.
    case review
}

/// The outcome of resolving one record.
public struct Resolution: Sendable, Hashable {
    public var ref: RecordRef
    /// The golden id the record now belongs to.
    public var goldenId: String
    public var decision: ResolutionDecision
    /// Best cluster score seen (bits), if any candidate was compared.
    public var score: Double?
    /// For `.review`: the golden record it may belong to.
    public var candidateGoldenId: String?
    /// Evidence of the best pair (for joins and reviews).
    public var evidence: [Evidence]
    /// Golden records merged into `goldenId` because the record matched each of them well and no member of one
    /// conflicts with a member of another (the record bridges two earlier fragments of one person).
    public var absorbed: [String] = []
}

/// A possible match waiting for a person.
public struct ReviewItem: Sendable, Hashable, Codable {
    public var record: RecordRef
    public var goldenId: String
    public var candidateGoldenId: String
    public var score: Double
    public var evidence: [Evidence]
}

/// The engine's state. Not thread-safe by itself: `MasterDataResolver` (an actor) owns one; the bulk
/// command-line path uses one directly on a single task.
public struct IdentityGraph: Sendable {
    struct Cluster: Sendable {
        var golden: GoldenKey
        /// Live (not merged away, not emptied). Members are in `members` (chains by cluster index).
        var alive: Bool

        /// The golden id (formatted on each call).
        var goldenId: String { golden.id }
    }

    public private(set) var model: MatchModel
    public let configuration: ResolverConfiguration
    /// Whole records (only when `retainsRecords`).
    private(set) var records: [CustomerRecord] = []
    /// Every record's reference by index, and the index of each active record by reference.
    private var refIndex = RecordRefIndex()
    /// Every record's reference, by index.
    var refs: RecordRefs { refIndex.refs }
    /// Interned values and their counts (term frequencies).
    private(set) var store = FeatureStore()
    /// Every record's features, by index.
    private(set) var features: [CompactFeatures] = []
    private(set) var active: [Bool] = []
    private(set) var clusterOf: [Int32] = []
    /// Every cluster's golden id and liveness, and the clusters by golden id.
    private(set) var clusters = ClusterTable()
    /// The members of every cluster.
    private var members = MemberChains()
    /// Absorbed golden id → survivor golden id.
    public private(set) var aliases: [String: String] = [:]
    /// Absorbed golden id → its members when it was merged (what unmerge restores).
    public private(set) var mergeHistory: [String: [RecordRef]] = [:]
    private var blocks: BlockIndex
    /// Records whose references and features were put in place before they were placed (`preload`, bulk runs on
    /// two threads): they are records `0 ..< preloaded`.
    private var preloaded = 0
    /// Per record whose features changed after it was added (replaced or erased): its block keys by kind as they
    /// were when it was added — the keys of its own block entries (`ownBlockKey`).
    private var addedBlockKeys: [Int32: [UInt64]] = [:]
    private var barred: [Int32: Set<String>] = [:]
    /// Remembered name-pair levels for scoring (reset with the model).
    private var nameLevels = NameLevelMemo()
    private var scratch: [Int32] = []
    /// The block slots of the record being placed, by kind (reused by `append` while the table has not grown).
    private var keySlots: [BlockIndex.Slot] = []
    /// Where `place` leaves the values it reads ahead (`BlockIndex.touch`), so that the reads are kept.
    private var touchSink: UInt32 = 0
    /// The features and block keys of the records `place` was told come next, in order (their slots were
    /// prefetched).
    private var prefetched: [(features: CompactFeatures, keys: [UInt64])] = []
    /// Records made inactive (erased or dropped) so far: while there are none, `place` need not read `active`.
    private var inactiveRecords = 0

    /// Records currently resolved (active).
    public private(set) var recordCount = 0
    /// Live golden records.
    public private(set) var goldenCount = 0

    /// Whether member records are kept whole (golden records, survivorship). Bulk runs that only need the
    /// clusters keep just each record's reference.
    public let retainsRecords: Bool

    public init(
        configuration: ResolverConfiguration = ResolverConfiguration(), model: MatchModel = MatchModel(),
        retainsRecords: Bool = true
    ) {
        self.configuration = configuration
        self.model = model
        self.retainsRecords = retainsRecords
        blocks = BlockIndex(capacity: configuration.maxBlockSize + 1)
    }

    // MARK: Resolve

    /// Resolves one record: update, join the best well-matching cluster, or create (with a review item when a
    /// candidate scored between the thresholds). Returns the outcome and the clusters whose golden record changed.
    @discardableResult
    public mutating func resolve(_ record: CustomerRecord) -> Resolution { resolve(record, features: nil) }

    /// `resolve(_:)` with the record's features already computed (bulk runs compute them on all cores).
    mutating func resolve(_ record: CustomerRecord, features precomputed: MatchFeatures?) -> Resolution {
        if let i = refIndex[record.ref], active[Int(i)] {
            replace(i, with: record, features: store.intern(precomputed ?? MatchFeatures(record)))
            return Resolution(
                ref: record.ref, goldenId: clusters[Int(clusterOf[Int(i)])].goldenId, decision: .updated, score: nil,
                candidateGoldenId: nil, evidence: [])
        }
        return resolve(record.ref, record: record, features: store.intern(precomputed ?? MatchFeatures(record)))
    }

    /// Makes room for `count` more records (bulk runs that know their size): no reallocation of the per-record
    /// arrays and indexes while resolving. `blockKeys`, when known (see `estimatedBlockKeys`), sizes the block
    /// table once: growing it near the end of a run would hold the old and the new table at once.
    mutating func reserve(records count: Int, blockKeys: Int = 0) {
        refIndex.reserve(count)
        features.reserveCapacity(refs.count + count)
        reserveClustering(records: count)
        blocks.reserve(records: count, keys: blockKeys)
    }

    /// `reserve` for the arrays that grow as records are placed (not the references, features and blocks).
    private mutating func reserveClustering(records count: Int) {
        let n = active.count + count
        if retainsRecords { records.reserveCapacity(n) }
        active.reserveCapacity(n)
        clusterOf.reserveCapacity(n)
        // Each new record founds at most one cluster. Capacity never used costs address space, not memory (pages
        // are resident once written); growing these near the end of a run held the old and new arrays at once:
        // +8 MiB at 524 288 clusters, the peak of a 1M run.
        members.reserve(records: count, clusters: count)
        clusters.reserve(count)
    }

    /// About how many distinct blocking keys `rows` bring (keys already in the index counted again): the distinct
    /// keys among those whose top four bits are zero, times 16. Block keys are SplitMix64 outputs, uniform over 64
    /// bits, so the sample is a uniform 1/16 of the distinct keys (a relative error of about 1/√(keys/16): 0.2 %
    /// at four million keys), and the set holds a sixteenth of them.
    func estimatedBlockKeys<Rows: Sequence<CompactFeatures>>(_ rows: Rows) -> Int {
        Self.estimatedBlockKeys(rows, store)
    }

    /// `estimatedBlockKeys(_:)` of rows interned in `store`.
    static func estimatedBlockKeys<Rows: Sequence<CompactFeatures>>(_ rows: Rows, _ store: FeatureStore) -> Int {
        var sample = Set<UInt64>()
        for f in rows {
            for kind in 1...BlockIndex.slotsPerRecord {
                let k = blockKey(kind, f, store)
                if k != 0 && k >> 60 == 0 { sample.insert(k) }
            }
        }
        return sample.count * 16
    }

    /// Interns a record's features into this graph's pools (bulk runs intern ahead, then `resolve(_:features:)`).
    mutating func intern(_ f: MatchFeatures) -> CompactFeatures { store.intern(f) }

    /// Interns a batch of records' features in order, each while the lookups of a later one are prefetched.
    mutating func intern(_ batch: [MatchFeatures], into out: inout [CompactFeatures]) {
        for k in batch.indices {
            if k + 2 < batch.count { store.prefetch(batch[k + 2]) }
            out.append(store.intern(batch[k]))
        }
    }

    /// Resolves a record known by reference only, with features interned by `intern` (bulk runs that keep no
    /// records).
    mutating func resolve(_ ref: RecordRef, features f: CompactFeatures) -> Resolution {
        // Placed first: `resolution` must read the graph after `place` changed it.
        let p = place(ref, features: f)
        return resolution(ref, p)
    }

    /// Where a resolved record went, by index: what bulk runs need (`Resolution` adds golden ids as text).
    struct Placement {
        var decision: ResolutionDecision
        /// The record's index.
        var record: Int32
        /// Its cluster.
        var cluster: Int32
        var score: Double? = nil
        /// For `.review`: the candidate cluster.
        var candidate: Int32? = nil
        var absorbed: [String] = []
    }

    /// `resolve(_:features:)` without making golden ids as text. `next`, `afterNext`: the features of the two
    /// records placed after this one, if known (bulk runs): what their lookups read first is loaded while this
    /// record is placed (`prefetchAhead`).
    mutating func place(
        _ ref: RecordRef, features f: CompactFeatures, next: CompactFeatures? = nil,
        afterNext: CompactFeatures? = nil
    ) -> Placement {
        if let i = refIndex[ref], active[Int(i)] {
            replace(i, with: nil, features: f)
            return Placement(decision: .updated, record: i, cluster: clusterOf[Int(i)])
        }
        return place(ref, record: nil, features: f, next: next, afterNext: afterNext)
    }

    /// The index of the active record with this reference.
    func recordIndex(_ ref: RecordRef) -> Int32? { refIndex[ref] }

    /// The golden id of record `i`'s cluster.
    func goldenId(ofRecord i: Int32) -> String { clusters[Int(clusterOf[Int(i)])].goldenId }

    /// Appends the golden id of record `i`'s cluster as UTF-8 (no `String` per record: bulk output).
    func appendGoldenId(ofRecord i: Int32, to out: inout [UInt8]) {
        clusters[Int(clusterOf[Int(i)])].golden.append(to: &out)
    }

    private func resolution(_ ref: RecordRef, _ p: Placement) -> Resolution {
        Resolution(
            ref: ref, goldenId: clusters[Int(p.cluster)].goldenId, decision: p.decision, score: p.score,
            candidateGoldenId: p.candidate.map { clusters[Int($0)].goldenId }, evidence: [], absorbed: p.absorbed)
    }

    private mutating func resolve(_ ref: RecordRef, record: CustomerRecord?, features f: CompactFeatures) -> Resolution
    {
        let p = place(ref, record: record, features: f)
        return resolution(ref, p)
    }

    private mutating func place(
        _ ref: RecordRef, record: CustomerRecord?, features f: CompactFeatures, next: CompactFeatures? = nil,
        afterNext: CompactFeatures? = nil
    ) -> Placement {
        let keys = takePrefetchedKeys(f)
        prefetchAhead(next: next, afterNext: afterNext)
        scratch.removeAll(keepingCapacity: true)
        keySlots.removeAll(keepingCapacity: true)
        let growths = blocks.growths
        // The keys' home slots are far apart in a large table: read them all first, so that their cache misses
        // overlap instead of following one another.
        var touched: UInt32 = 0
        for k in keys where k != 0 { touched &+= blocks.touch(k) }
        touchSink &+= touched
        for k in keys {
            let slot = k == 0 ? BlockIndex.Slot(index: -1, found: false) : blockSlot(k)
            keySlots.append(slot)
            guard slot.found else { continue }
            let (size, head) = blocks.chain(slot)
            guard size <= configuration.maxBlockSize else { continue }
            // The chain's records first, their clusters after: the chain walk is one dependent read after
            // another, the cluster reads are independent and overlap. The walk stops at the block's size, so the
            // last entry's successor (the end marker) is never read: a block of one costs no chain read at all.
            var e = head
            for k in 0..<size {
                scratch.append(blocks.record(ofEntry: e))
                if k + 1 < size { e = blocks.entry(after: e) }
            }
        }
        return settle(ref, record: record, features: f, blockingKeys: keys, slots: (keySlots, growths))
    }

    /// The rest of `place` once `scratch` holds the candidate records (the earlier records sharing a block with
    /// this one): their clusters are scored, the record is appended (and added to its blocks unless preloaded)
    /// and joins the best cluster or founds one.
    private mutating func settle(
        _ ref: RecordRef, record: CustomerRecord?, features f: CompactFeatures, blockingKeys keys: [UInt64]?,
        slots: (found: [BlockIndex.Slot], growths: Int)?
    ) -> Placement {
        var best: (cluster: Int32, score: Double, member: Int32)? = nil
        var joinable: [(cluster: Int32, score: Double)] = []
        var bestReview: (cluster: Int32, score: Double, member: Int32)? = nil
        let meanThreshold = configuration.clusterMeanThreshold ?? configuration.reviewThreshold
        // A cluster whose best member scores below this can neither take the record nor be its review candidate.
        let relevantScore = min(configuration.reviewThreshold, configuration.mergeThreshold)
        if !scratch.isEmpty {
            if inactiveRecords == 0 {
                // No record was ever erased or dropped (every bulk run): skip reading `active`.
                for k in scratch.indices { scratch[k] = clusterOf[Int(scratch[k])] }
            } else {
                var n = 0
                for j in scratch where active[Int(j)] {
                    scratch[n] = clusterOf[Int(j)]
                    n += 1
                }
                scratch.removeLast(scratch.count - n)
            }
        }
        if !scratch.isEmpty {
            // The weights of exact agreements with this record's values (the counts change only when it is added).
            let exact = model.exactBits(f, store)
            // The distinct candidate clusters in ascending order.
            scratch.sort()
            var distinct = 1
            for k in 1..<scratch.count where scratch[k] != scratch[distinct - 1] {
                scratch[distinct] = scratch[k]
                distinct += 1
            }
            scratch.removeLast(scratch.count - distinct)
            // Read ahead what scoring reads first (each cluster's first member, then its features), as above.
            var touched: UInt32 = 0
            for c in scratch { touched &+= UInt32(bitPattern: members.first(c)) }
            for c in scratch {
                let m = members.first(c)
                if m != MemberChains.end { touched &+= features[Int(m)].given }
            }
            touchSink &+= touched
            for c in scratch {
                var maxScore = -Double.infinity
                var sum = 0.0
                var n = 0
                var bestMember: Int32 = -1
                var conflicts = 0
                var bestGuards: UInt8 = 0
                // The first 32 members, in the order they joined. Counting them (the cluster's size) rather than
                // following the chain to its end spares the read of the last member's successor.
                let (first, size) = members.firstAndCount(c)
                let compared = min(size, 32)
                // Most candidate clusters are strangers (nine in ten on the benchmark files) whose every member
                // scores far below the review threshold. An upper bound of each member's score (names and the
                // cheap fields exactly, no phone, street or city comparison) settles them: if no member's bound
                // reaches `relevantScore`, the cluster's best score stays below it, so the cluster is neither
                // joinable nor reviewable and scoring it in full would change nothing.
                var mayMatter = false
                var m = first
                for k in 0..<compared {
                    let bound = model.scoreBound(f, features[Int(m)], store, &nameLevels, exact: exact)
                    // Written so that a NaN bound counts as reaching the threshold.
                    if !(bound < relevantScore) {
                        mayMatter = true
                        break
                    }
                    if k + 1 < compared { m = members.next(after: m) }
                }
                guard mayMatter else { continue }
                m = first
                while n < compared {
                    let s = model.score(f, features[Int(m)], store, &nameLevels, exact: exact)
                    sum += s.score
                    n += 1
                    if s.guards & GuardMask.conflict != 0 { conflicts += 1 }
                    if s.score > maxScore {
                        maxScore = s.score
                        bestMember = m
                        bestGuards = s.guards
                    }
                    if n < compared { m = members.next(after: m) }
                }
                let mean = sum / Double(max(n, 1))
                // Held apart from half the members or more: a different person. From fewer, the odd members are
                // the ones that differ (one record with a replaced birth date or surname must not keep every later
                // record of that person out), and the best pair and the mean still have to hold.
                let veto = conflicts * 2 >= n && conflicts > 0
                if maxScore >= configuration.mergeThreshold, mean >= meanThreshold, !veto, bestGuards == 0 {
                    joinable.append((c, maxScore))
                    if best == nil || maxScore > best!.score { best = (c, maxScore, bestMember) }
                } else if Self.reviewable(maxScore, guards: bestGuards, veto: veto, configuration) {
                    if bestReview == nil || maxScore > bestReview!.score { bestReview = (c, maxScore, bestMember) }
                }
            }
        }

        let i = append(ref, record: record, features: f, blockingKeys: keys, slots: slots)

        if let b = best {
            clusterOf.append(b.cluster)
            members.append(i, to: b.cluster)
            var absorbed: [String] = []
            for other in joinable.sorted(by: { $0.score > $1.score }) where other.cluster != b.cluster {
                guard clustersCompatible(b.cluster, other.cluster) else { continue }
                let id = clusters[Int(other.cluster)].goldenId
                do {
                    try merge(clusters[Int(b.cluster)].goldenId, id)
                    absorbed.append(id)
                } catch {}
            }
            return Placement(decision: .joined, record: i, cluster: b.cluster, score: b.score, absorbed: absorbed)
        }
        let c = newCluster(founder: ref, member: i)
        clusterOf.append(c)
        if let r = bestReview {
            return Placement(decision: .review, record: i, cluster: c, score: r.score, candidate: r.cluster)
        }
        return Placement(decision: .created, record: i, cluster: c)
    }

    // MARK: Bulk placement on two threads

    /// Puts the references (indexed as records `0 ..< n`: every one new) and features of the records a bulk run is
    /// about to place in place, in order, so that a `BlockStage` on another thread can read every record's features
    /// while this graph places them with `place(preloaded:candidates:upcoming:)`. Only on an empty graph. Sizes the
    /// per-record arrays; the `BlockStage` sizes the block index.
    mutating func preload(_ references: RecordRefIndex, features rows: [CompactFeatures]) {
        precondition(active.isEmpty && preloaded == 0, "preload on a graph that holds records")
        precondition(references.count == rows.count, "preload: a reference per record")
        refIndex = references
        features = rows
        preloaded = rows.count
        reserveClustering(records: preloaded)
    }

    /// The preloaded records' features (what a `BlockStage` reads).
    var preloadedFeatures: [CompactFeatures] { features }

    /// Hands the block index to a `BlockStage` (`restoreBlocks` takes it back): while it is away, only preloaded
    /// records may be placed.
    mutating func takeBlocks() -> BlockIndex {
        var taken = BlockIndex(capacity: configuration.maxBlockSize + 1)
        swap(&taken, &blocks)
        return taken
    }

    /// Takes back the block index from `takeBlocks`, holding the blocks of every record placed since.
    mutating func restoreBlocks(_ index: BlockIndex) { blocks = index }

    /// `place` for the next preloaded record (reference `ref`), with its candidates (the earlier records sharing a
    /// block with it) as a `BlockStage` found them. `upcoming`: the next record's candidates, whose clusters are
    /// loaded meanwhile.
    mutating func place(
        preloaded ref: RecordRef, candidates: UnsafeBufferPointer<Int32>, upcoming: UnsafeBufferPointer<Int32>
    ) -> Placement {
        precondition(active.count < preloaded, "place(preloaded:) past the preloaded records")
        let f = features[active.count]
        clusterOf.withUnsafeBufferPointer { c in
            for r in upcoming { crm_prefetch(c.baseAddress! + Int(r)) }
        }
        scratch.removeAll(keepingCapacity: true)
        scratch.append(contentsOf: candidates)
        return settle(ref, record: nil, features: f, blockingKeys: nil, slots: nil)
    }

    /// The block keys of `f`: those computed when it was prefetched, if it was the record expected next.
    private mutating func takePrefetchedKeys(_ f: CompactFeatures) -> [UInt64] {
        guard let first = prefetched.first, first.features == f else {
            prefetched.removeAll(keepingCapacity: true)
            return blockKeysByKind(f)
        }
        prefetched.removeFirst()
        return first.keys
    }

    /// Loads, while the current record is placed (microseconds; a cache miss is a tenth of one), what the next two
    /// records' lookups read first, in two steps: the block slots of the record after next, and for the next record
    /// (whose slots were requested one record ago) the first entry of each block — its record's features and
    /// cluster, and the chain's second entry. Only hints: nothing read here decides anything.
    private mutating func prefetchAhead(next: CompactFeatures?, afterNext: CompactFeatures?) {
        if let next {
            if prefetched.isEmpty {
                let keys = blockKeysByKind(next)
                for k in keys where k != 0 { blocks.prefetch(k) }
                prefetched.append((next, keys))
            } else {
                for k in prefetched[0].keys where k != 0 {
                    let r = blocks.prefetchChain(k)
                    guard r >= 0 else { continue }
                    features.withUnsafeBufferPointer { crm_prefetch($0.baseAddress! + Int(r)) }
                    clusterOf.withUnsafeBufferPointer { crm_prefetch($0.baseAddress! + Int(r)) }
                }
            }
        }
        if let afterNext, prefetched.count == 1 {
            let keys = blockKeysByKind(afterNext)
            for k in keys where k != 0 { blocks.prefetch(k) }
            prefetched.append((afterNext, keys))
        }
    }

    /// Whether two clusters may become one: neither was split from the other by an operator (unmerge, detach), and
    /// every member of the smaller one could have joined the larger one — it is held apart by a guard from fewer than
    /// half of the larger cluster's members (up to 32 × 32 compared; from none when the larger has one or two), the
    /// rule a single record meets to join. Two people's clusters (a household, a parent and child of one name) are
    /// held apart member by member; one odd record of a person (a replaced birth date) no longer keeps that person's
    /// two fragments apart.
    func clustersCompatible(_ x: Int32, _ y: Int32) -> Bool {
        let (small, large) = members.count(x) <= members.count(y) ? (x, y) : (y, x)
        let smallerId = clusters[Int(small)].goldenId
        let largerId = clusters[Int(large)].goldenId
        let larger = members.members(large).prefix(32)
        for m in members.members(small).prefix(32) {
            if barred[m]?.contains(largerId) == true { return false }
            var conflicts = 0
            for n in larger {
                if barred[n]?.contains(smallerId) == true { return false }
                let g = model.guardMask(model.compare(features[Int(m)], features[Int(n)], store))
                if g & GuardMask.conflict != 0 { conflicts += 1 }
            }
            if conflicts * 2 >= larger.count && conflicts > 0 { return false }
        }
        return true
    }

    /// Whether a cluster that did not qualify for a join is a genuine grey-zone candidate for a person to review:
    /// a clean pair between the review and merge thresholds, or a pair above the merge threshold held back by
    /// a birth-date conflict or by name-only evidence. Pairs with clearly different given names (households)
    /// are not: they are different people, and listing them would bury the real questions.
    static func reviewable(_ score: Double, guards: [MatchGuard], veto: Bool, _ c: ResolverConfiguration) -> Bool {
        if guards.contains(.givenNameConflict) { return false }
        if guards.isEmpty && !veto { return score >= c.reviewThreshold }
        return score >= c.mergeThreshold
    }

    /// `reviewable` with the guards as `GuardMask` bits.
    static func reviewable(_ score: Double, guards: UInt8, veto: Bool, _ c: ResolverConfiguration) -> Bool {
        if guards & GuardMask.givenNameConflict != 0 { return false }
        if guards == 0 && !veto { return score >= c.reviewThreshold }
        return score >= c.mergeThreshold
    }

    /// Learns the match model's m/u probabilities and prior from the records the graph holds (see
    /// `MatchTraining`). Decisions already taken are kept; later ones use the new model.
    @discardableResult
    public mutating func train(_ training: MatchTraining = MatchTraining()) -> MatchTraining.Report {
        let report = training.train(
            records: InternedTrainingRecords(rows: features, store: store), active: active, model: model)
        model.parameters = report.parameters
        nameLevels = NameLevelMemo()
        return report
    }

    /// Replaces the match model (for example with parameters trained elsewhere).
    public mutating func use(_ model: MatchModel) {
        self.model = model
        nameLevels = NameLevelMemo()
    }

    /// The evidence for a record against one other record.
    public func explain(_ ref: RecordRef, against other: RecordRef) -> PairScore? {
        guard let i = refIndex[ref], let j = refIndex[other] else { return nil }
        return model.score(
            store.materialize(features[Int(i)]), store.materialize(features[Int(j)]), frequencies: store, explain: true)
    }

    /// The evidence for a record against the best-scoring member of a golden record.
    public func explain(_ ref: RecordRef, against goldenId: String) -> PairScore? {
        guard let i = refIndex[ref], let c = cluster(goldenId) else { return nil }
        let f = store.materialize(features[Int(i)])
        return members.members(c).filter { $0 != i }.map {
            model.score(f, store.materialize(features[Int($0)]), frequencies: store, explain: true)
        }.max { $0.score < $1.score }
    }

    // MARK: Merge, unmerge, detach, erase

    /// Merges golden record `absorbed` into `survivor`: the survivor keeps its id, the absorbed id becomes an
    /// alias of it and its members are remembered for `unmerge`.
    public mutating func merge(_ survivor: String, _ absorbed: String) throws(MasterDataError) {
        guard let s = cluster(survivor), let a = cluster(absorbed) else {
            throw MasterDataError(.notFound, "golden record \(survivor) or \(absorbed) not found")
        }
        guard s != a else {
            throw MasterDataError(.invalidOperation, "\(survivor) and \(absorbed) are the same golden record")
        }
        let moved = members.members(a)
        mergeHistory[clusters[Int(a)].goldenId] = moved.map { refs[Int($0)] }
        for m in moved { clusterOf[Int(m)] = s }
        members.moveAll(from: a, to: s)
        clusters[Int(a)].alive = false
        aliases[clusters[Int(a)].goldenId] = clusters[Int(s)].goldenId
        goldenCount -= 1
    }

    /// Undoes a merge: the absorbed golden record comes back with its id and those of its former members that
    /// are still in the survivor. The two are barred from merging automatically again.
    /// - Returns: the survivor's golden id.
    @discardableResult
    public mutating func unmerge(_ absorbed: String) throws(MasterDataError) -> String {
        guard let formerMembers = mergeHistory[absorbed], let survivorId = aliases[absorbed],
            let a = clusters[absorbed], let s = cluster(survivorId)
        else { throw MasterDataError(.notFound, "no merge of \(absorbed) to undo") }
        let back = Set(formerMembers.compactMap { refIndex[$0] })
        members.set(s, members.members(s).filter { !back.contains($0) })
        members.set(a, back.sorted())
        clusters[Int(a)].alive = true
        for m in back {
            clusterOf[Int(m)] = a
            barred[m, default: []].insert(clusters[Int(s)].goldenId)
        }
        for m in members.members(s) { barred[m, default: []].insert(absorbed) }
        aliases[absorbed] = nil
        for (k, v) in aliases where v == absorbed { aliases[k] = clusters[Int(s)].goldenId }
        mergeHistory[absorbed] = nil
        goldenCount += 1
        return clusters[Int(s)].goldenId
    }

    /// Takes one record out of its golden record into a new one of its own.
    /// - Returns: (old golden id, new golden id).
    public mutating func detach(_ ref: RecordRef) throws(MasterDataError) -> (from: String, to: String) {
        guard let i = refIndex[ref], active[Int(i)] else { throw MasterDataError(.notFound, "record \(ref) not found") }
        let old = clusterOf[Int(i)]
        guard members.count(old) > 1 else {
            throw MasterDataError(
                .invalidOperation, "record \(ref) is the only member of \(clusters[Int(old)].goldenId)")
        }
        members.set(old, members.members(old).filter { $0 != i })
        barred[i, default: []].insert(clusters[Int(old)].goldenId)
        let c = newCluster(founder: ref, member: i)
        clusterOf[Int(i)] = c
        return (clusters[Int(old)].goldenId, clusters[Int(c)].goldenId)
    }

    /// Erases a person: all member records are forgotten. Returns the erased references.
    public mutating func erase(_ goldenId: String) throws(MasterDataError) -> [RecordRef] {
        guard let c = cluster(goldenId) else { throw MasterDataError(.notFound, "golden record \(goldenId) not found") }
        let erasedMembers = members.members(c)
        let erased = erasedMembers.map { refs[Int($0)] }
        for m in erasedMembers {
            active[Int(m)] = false
            inactiveRecords += 1
            store.remove(features[Int(m)])
            refIndex.remove(refs[Int(m)])
            refIndex.clear(m)
            if retainsRecords { records[Int(m)] = CustomerRecord(system: "", externalId: "") }
            keepAddedBlockKeys(m)
            features[Int(m)] = CompactFeatures()
        }
        recordCount -= erased.count
        members.set(c, [])
        clusters[Int(c)].alive = false
        goldenCount -= 1
        for (k, v) in aliases where v == clusters[Int(c)].goldenId { aliases[k] = nil }
        return erased
    }

    // MARK: Lookups

    /// The live golden id for an id, following merge aliases.
    public func canonicalGoldenId(_ id: String) -> String? { cluster(id).map { clusters[Int($0)].goldenId } }

    /// The golden id holding a source record.
    public func goldenId(for ref: RecordRef) -> String? {
        refIndex[ref].map { clusters[Int(clusterOf[Int($0)])].goldenId }
    }

    /// The member records of a golden record (following aliases).
    public func members(of goldenId: String) -> [CustomerRecord] {
        guard let c = cluster(goldenId) else { return [] }
        return members.members(c).map { record($0) }
    }

    /// Record `i`: whole when records are retained, its reference only otherwise.
    private func record(_ i: Int32) -> CustomerRecord {
        if retainsRecords { return records[Int(i)] }
        let ref = refs[Int(i)]
        return CustomerRecord(system: ref.system, externalId: ref.externalId)
    }

    /// The golden record, built by survivorship.
    public func golden(_ goldenId: String) -> GoldenRecord? {
        guard let c = cluster(goldenId) else { return nil }
        return GoldenRecord.build(
            id: clusters[Int(c)].goldenId, members: members(of: goldenId), configuration: configuration)
    }

    /// Golden ids whose members carry this e-mail (matching key).
    public func goldenIds(email: String) -> [String] {
        guard let key = EmailMatching.key(email), let id = store.emails.id(key) else { return [] }
        return lookup(BlockIndex.key(BlockKind.email, id)) { $0.email == id }
    }

    /// Golden ids whose members carry this phone number (matching key).
    public func goldenIds(phone: String, defaultRegion: String? = nil) -> [String] {
        guard let key = PhoneKey.key(phone, defaultRegion: defaultRegion), let id = store.phones.id(key) else {
            return []
        }
        return lookup(BlockIndex.key(BlockKind.phone, id)) { $0.phone == id }
    }

    /// Golden ids whose members have this given and family name (matching keys; either order).
    public func goldenIds(givenName: String, familyName: String) -> [String] {
        guard let g = NameMatching.givenKey(givenName), let f = NameMatching.familyKey(familyName),
            let gi = store.names.id(g), let fi = store.names.id(f)
        else { return [] }
        return lookup(BlockIndex.key(BlockKind.names, min(gi, fi), max(gi, fi))) {
            Set([$0.given, $0.family]) == Set([gi, fi])
        }
    }

    /// Every live golden id with its members' indices (for export).
    public func clusterAssignments() -> [(ref: RecordRef, goldenId: String)] {
        refs.indices.filter { active[$0] }.map { (refs[$0], clusters[Int(clusterOf[$0])].goldenId) }
    }

    /// Adds a record to the indexes (not yet to a cluster) and returns its index.
    private mutating func append(
        _ ref: RecordRef, record: CustomerRecord?, features f: CompactFeatures, blockingKeys keys: [UInt64]? = nil,
        slots: (found: [BlockIndex.Slot], growths: Int)? = nil
    ) -> Int32 {
        // `keys`: the record's block keys by kind (`blockKeysByKind`); `slots`: their slots as `place` found them
        // when the table had grown `growths` times. A found key keeps its slot until the table grows again; a
        // missing key's empty slot may have been taken since, so it is looked up again.
        // A preloaded record has its reference and features in place, and `BlockStage` adds it to its blocks.
        let isPreloaded = active.count < preloaded
        let i: Int32
        if isPreloaded {
            i = Int32(active.count)
        } else {
            i = refIndex.append(ref)
            features.append(f)
        }
        if retainsRecords { records.append(record ?? CustomerRecord(system: ref.system, externalId: ref.externalId)) }
        active.append(true)
        members.addRecord()
        store.add(f)
        recordCount += 1
        guard !isPreloaded else { return i }
        for (n, k) in (keys ?? blockKeysByKind(f)).enumerated() where k != 0 {
            let known = slots.flatMap { $0.found[n].found && $0.growths == blocks.growths ? $0.found[n] : nil }
            blocks.add(k, i, kind: n + 1, own: true, at: known ?? blockSlot(k))
        }
        return i
    }

    /// Adds a whole record (normalised here).
    private mutating func append(_ record: CustomerRecord) -> Int32 {
        append(record.ref, record: record, features: store.intern(MatchFeatures(record)))
    }

    /// Replaces record `i` with a newer version (`nil`: only its features are known), keeping its cluster.
    private mutating func replace(_ i: Int32, with record: CustomerRecord?, features f: CompactFeatures) {
        keepAddedBlockKeys(i)
        store.remove(features[Int(i)])
        store.add(f)
        if retainsRecords, let record { records[Int(i)] = record }
        features[Int(i)] = f
        for (n, k) in blockKeysByKind(f).enumerated() where k != 0 {
            blocks.add(k, i, kind: n + 1, own: false, at: blockSlot(k))
        }
    }

    // MARK: Restore

    /// Rebuilds the graph from stored members without re-scoring them.
    public mutating func restore(
        members: [(record: CustomerRecord, goldenId: String)], aliases: [String: String],
        mergeHistory: [String: [RecordRef]]
    ) {
        for (record, gid) in members {
            let i = append(record)
            let c: Int32
            if let existing = clusters[gid] {
                c = existing
            } else {
                c = addCluster(GoldenKey(gid), alive: true)
                goldenCount += 1
            }
            clusterOf.append(c)
            self.members.append(i, to: c)
        }
        for (absorbed, _) in mergeHistory where clusters[absorbed] == nil {
            _ = addCluster(GoldenKey(absorbed), alive: false)
        }
        self.aliases = aliases
        self.mergeHistory = mergeHistory
    }

    // MARK: Internals

    func cluster(_ id: String) -> Int32? {
        var id = id
        var hops = 0
        while let next = aliases[id], hops < 64 {
            id = next
            hops += 1
        }
        guard let c = clusters[id], clusters[Int(c)].alive else { return nil }
        return c
    }

    private func lookup(_ key: UInt64, _ matches: (CompactFeatures) -> Bool) -> [String] {
        var out: [String] = []
        for j in blocks.members(blockSlot(key)) where active[Int(j)] && matches(features[Int(j)]) {
            let g = clusters[Int(clusterOf[Int(j)])].goldenId
            if !out.contains(g) { out.append(g) }
        }
        return out
    }

    /// A new live cluster whose one member is record `member` (in no cluster yet), founded by `founder`.
    private mutating func newCluster(founder: RecordRef, member: Int32) -> Int32 {
        var key = GoldenKey.hashed(GoldenId.hash(founder))
        var n = 1
        while clusters[key] != nil {
            key = .hashed(GoldenId.hash(founder, salt: n))
            n += 1
        }
        let c = addCluster(key, alive: true)
        members.append(member, to: c)
        goldenCount += 1
        return c
    }

    /// Appends an empty cluster (indexed by its golden id, not counted) and returns its index.
    private mutating func addCluster(_ golden: GoldenKey, alive: Bool) -> Int32 {
        let c = clusters.append(golden, alive: alive)
        members.addCluster()
        return c
    }

    /// Blocking keys: e-mail; phone; the unordered name pair (catches first/last swaps); date of birth with the
    /// given initial; date of birth with the family prefix; postcode with the family prefix; postcode with the
    /// given initial; the e-mail local part; date of birth with postcode; street with city. Blocks hold at most
    /// `maxBlockSize + 1` records: a full block is a frequent value, never used for candidates (and lookups on it
    /// return the first entries only). The keys are the values of `blockingKeyParts`, built from interned ids.
    func blockingKeys(_ f: CompactFeatures) -> [UInt64] { blockKeysByKind(f).filter { $0 != 0 } }

    /// A record's blocking keys by kind: element `kind − 1` is the key of that `BlockKind`, 0 when the record
    /// has none of that kind.
    func blockKeysByKind(_ f: CompactFeatures) -> [UInt64] {
        var keys = [UInt64](repeating: 0, count: BlockIndex.slotsPerRecord)
        for kind in 1...BlockIndex.slotsPerRecord { keys[kind - 1] = blockKey(kind, f) }
        return keys
    }

    /// The blocking key of one kind (`BlockKind`) of a record's features; 0 when the record has none.
    @inline(__always) func blockKey(_ kind: Int, _ f: CompactFeatures) -> UInt64 { Self.blockKey(kind, f, store) }

    /// `blockKey(_:_:)` of features interned in `s`.
    @inline(__always) static func blockKey(_ kind: Int, _ f: CompactFeatures, _ s: FeatureStore) -> UInt64 {
        switch UInt64(kind) {
        case BlockKind.email: return f.email == 0 ? 0 : BlockIndex.key(BlockKind.email, f.email)
        case BlockKind.phone: return f.phone == 0 ? 0 : BlockIndex.key(BlockKind.phone, f.phone)
        case BlockKind.names:
            guard f.given != 0, f.family != 0 else { return 0 }
            return BlockIndex.key(BlockKind.names, min(f.given, f.family), max(f.given, f.family))
        case BlockKind.dobInitial:
            guard f.dob != 0, f.given != 0 else { return 0 }
            let initial = s.nameFirst[Int(f.given)]
            return initial == 0 ? 0 : BlockIndex.key(BlockKind.dobInitial, f.dob, initial)
        case BlockKind.dobFamily:
            guard f.dob != 0, f.family != 0 else { return 0 }
            return BlockIndex.key(BlockKind.dobFamily, f.dob, s.namePrefix3[Int(f.family)])
        case BlockKind.postcodeFamily:
            guard f.postcode != 0, f.family != 0 else { return 0 }
            return BlockIndex.key(BlockKind.postcodeFamily, f.postcode, s.namePrefix3[Int(f.family)])
        case BlockKind.postcodeInitial:
            guard f.postcode != 0, f.given != 0 else { return 0 }
            let initial = s.nameFirst[Int(f.given)]
            return initial == 0 ? 0 : BlockIndex.key(BlockKind.postcodeInitial, f.postcode, initial)
        case BlockKind.emailLocal:
            guard f.emailLocal != 0, s.localIsLong[Int(f.emailLocal)] else { return 0 }
            return BlockIndex.key(BlockKind.emailLocal, f.emailLocal)
        case BlockKind.dobPostcode:
            return f.dob == 0 || f.postcode == 0 ? 0 : BlockIndex.key(BlockKind.dobPostcode, f.dob, f.postcode)
        case BlockKind.streetCity:
            let street = s.twoLineNumbers[Int(f.streetNumbers)] ? s.firstLine(ofStreet: f.street) : f.street
            return street == 0 || f.city == 0 ? 0 : BlockIndex.key(BlockKind.streetCity, street, f.city)
        default: return 0
        }
    }

    /// The slot of a block key in the block index (the index keeps 32-bit fingerprints and checks a matching
    /// slot's key against the key of its head entry, computed here).
    @inline(__always) func blockSlot(_ key: UInt64) -> BlockIndex.Slot {
        blocks.find(key) { r, kind in ownBlockKey(r, kind) }
    }

    /// The key of record `r`'s own block entry of `kind`: its key of that kind when the record was added.
    @inline(__always) private func ownBlockKey(_ r: Int32, _ kind: Int) -> UInt64 {
        if !addedBlockKeys.isEmpty, let keys = addedBlockKeys[r] { return keys[kind - 1] }
        return blockKey(kind, features[Int(r)])
    }

    /// Keeps record `i`'s block keys as added before its features change (its own block entries stay in their
    /// blocks, and `ownBlockKey` must still find their keys).
    private mutating func keepAddedBlockKeys(_ i: Int32) {
        if addedBlockKeys[i] == nil { addedBlockKeys[i] = blockKeysByKind(features[Int(i)]) }
    }

    /// The hashes of a record's text blocking keys (`blockingKeyParts` through `BlockKey.hash`): the same
    /// partition of records as the graph's id-based keys (`blockingKeys(_:)` on interned features).
    func blockingKeys(_ f: MatchFeatures) -> [Int] {
        Self.blockingKeyParts(f).map { BlockKey.hash($0.kind, $0.value) }
    }

    /// The blocking keys as (kind, value) text — the same keys as `blockingKeys`, which builds them from
    /// interned ids (so the hot path allocates no strings).
    static func blockingKeyParts(_ f: MatchFeatures) -> [(kind: String, value: String)] {
        var keys: [(kind: String, value: String)] = []
        if let e = f.email { keys.append(("e", e)) }
        if let p = f.phone { keys.append(("p", p)) }
        if let g = f.given, let fam = f.family { keys.append(("n", min(g, fam) + " " + max(g, fam))) }
        if let d = f.dob {
            let ds = d.description
            if let g = f.given?.first { keys.append(("dg", ds + String(g))) }
            if let fam = f.family { keys.append(("df", ds + String(fam.prefix(3)))) }
        }
        if let pc = f.postcode, let fam = f.family { keys.append(("a", pc + String(fam.prefix(3)))) }
        if let pc = f.postcode, let g = f.given?.first { keys.append(("ag", pc + String(g))) }
        if let l = f.emailLocal, l.utf8.count >= 5 { keys.append(("el", l)) }
        if let d = f.dob, let pc = f.postcode { keys.append(("dp", d.description + pc)) }
        if let st = f.street, let c = f.city { keys.append(("sc", st + "|" + c)) }
        return keys
    }
}

// MARK: Shared stores

extension IdentityGraph {
    /// The stable blocking keys of a record ("kind:value"), as a shared store indexes and locks them.
    public static func blockKeys(for record: CustomerRecord) -> [String] {
        blockingKeyParts(MatchFeatures(record)).map { $0.kind + ":" + $0.value }
    }

    /// The keys a resolver on a shared store locks to resolve `record`: its blocking keys and its reference
    /// (`"r:" + system + U+001F + external id`), sorted and without duplicates.
    public static func resolutionKeys(for record: CustomerRecord) -> [String] {
        Array(Set(blockKeys(for: record) + [refKey(record.ref)])).sorted()
    }

    /// The lock key of a record reference.
    public static func refKey(_ ref: RecordRef) -> String { "r:" + ref.system + "\u{1F}" + ref.externalId }

    /// The records this graph holds that a shared store is authoritative for when resolving under `keys` with
    /// `goldenIds` locked: records in the blocks of those keys and members of those golden records.
    public func localScope(keys: [String], goldenIds: [String]) -> Set<RecordRef> {
        var out = Set<RecordRef>()
        for key in keys {
            guard let colon = key.firstIndex(of: ":") else { continue }
            let kind = String(key[..<colon])
            let value = String(key[key.index(after: colon)...])
            if kind == "r" { continue }
            let (candidates, ambiguous) = blockKeys(kind: kind, value: value)
            for k in candidates {
                for j in blocks.members(blockSlot(k)) where active[Int(j)] {
                    // A text key that splits into values in more than one way is checked against the record.
                    if ambiguous,
                        !Self.blockingKeyParts(store.materialize(features[Int(j)])).contains(where: {
                            $0.kind == kind && $0.value == value
                        })
                    {
                        continue
                    }
                    out.insert(refs[Int(j)])
                }
            }
        }
        for id in goldenIds {
            guard let c = clusters[id] else { continue }
            for m in members.members(c) { out.insert(refs[Int(m)]) }
        }
        return out
    }

    /// The block keys a text blocking key ("kind" and "value" as in `blockingKeyParts`) may stand for, and whether
    /// the text could be split into values in more than one way (name pair, postcode + name prefix, street + city).
    private func blockKeys(kind: String, value: String) -> (keys: [UInt64], ambiguous: Bool) {
        let s = store
        func date(_ v: Substring) -> UInt32? { FeatureStore.packedDate(String(v)).flatMap { s.dobs.id($0) } }
        /// Every way of cutting `value` into a head and a tail of 1...maxTail characters (or at `separator`).
        func splits(tail maxTail: Int) -> [(Substring, Substring)] {
            var out: [(Substring, Substring)] = []
            var i = value.endIndex
            for _ in 0..<maxTail {
                guard i > value.startIndex else { break }
                i = value.index(before: i)
                out.append((value[..<i], value[i...]))
            }
            return out
        }
        func splits(at separator: Character) -> [(Substring, Substring)] {
            value.indices.filter { value[$0] == separator }.map { (value[..<$0], value[value.index(after: $0)...]) }
        }
        switch kind {
        case "e": return (s.emails.id(value).map { [BlockIndex.key(BlockKind.email, $0)] } ?? [], false)
        case "p": return (s.phones.id(value).map { [BlockIndex.key(BlockKind.phone, $0)] } ?? [], false)
        case "el": return (s.emailLocals.id(value).map { [BlockIndex.key(BlockKind.emailLocal, $0)] } ?? [], false)
        case "n":
            let keys = splits(at: " ").compactMap { g, f -> UInt64? in
                guard let a = s.names.id(String(g)), let b = s.names.id(String(f)) else { return nil }
                return BlockIndex.key(BlockKind.names, min(a, b), max(a, b))
            }
            return (keys, true)
        case "dg", "df", "dp":
            guard value.count > 10, let d = date(value.prefix(10)) else { return ([], false) }
            let rest = String(value.dropFirst(10))
            let id = kind == "dp" ? s.postcodes.id(rest) : s.namePrefixes.id(rest)
            let k = kind == "dg" ? BlockKind.dobInitial : kind == "df" ? BlockKind.dobFamily : BlockKind.dobPostcode
            return (id.map { [BlockIndex.key(k, d, $0)] } ?? [], false)
        case "a", "ag":
            let keys = splits(tail: kind == "a" ? 3 : 1).compactMap { pc, name -> UInt64? in
                guard let p = s.postcodes.id(String(pc)), let n = s.namePrefixes.id(String(name)) else { return nil }
                return BlockIndex.key(kind == "a" ? BlockKind.postcodeFamily : BlockKind.postcodeInitial, p, n)
            }
            return (keys, true)
        case "sc":
            let keys = splits(at: "|").compactMap { st, c -> UInt64? in
                guard let a = s.streets.id(String(st)), let b = s.cities.id(String(c)) else { return nil }
                return BlockIndex.key(BlockKind.streetCity, a, b)
            }
            return (keys, true)
        default: return ([], false)
        }
    }

    /// Brings part of the graph in line with a shared store: every stored member is put into its stored golden
    /// record (added, replaced or moved), and every record of `scope` the store no longer holds is dropped.
    /// Decisions taken afterwards see what other instances wrote.
    public mutating func reconcile(stored: [StoredMember], scope: Set<RecordRef>) {
        let present = Set(stored.map(\.record.ref))
        for ref in scope where !present.contains(ref) { drop(ref) }
        for m in stored { upsert(m.record, goldenId: m.goldenId) }
    }

    /// Records a merge alias another instance made (`nil` removes it, after an unmerge elsewhere).
    public mutating func setAlias(_ absorbed: String, to survivor: String?) {
        aliases[absorbed] = survivor
        if let c = clusters[absorbed], survivor != nil, clusters[Int(c)].alive, members.count(c) == 0 {
            clusters[Int(c)].alive = false
            goldenCount -= 1
        }
    }

    private mutating func upsert(_ record: CustomerRecord, goldenId: String) {
        let target = liveCluster(stored: goldenId)
        guard let i = refIndex[record.ref] else {
            let i = append(record)
            clusterOf.append(target)
            members.append(i, to: target)
            return
        }
        if !retainsRecords || records[Int(i)] != record {
            replace(i, with: record, features: store.intern(MatchFeatures(record)))
        }
        let old = clusterOf[Int(i)]
        guard old != target else { return }
        removeMember(i, from: old)
        clusterOf[Int(i)] = target
        members.append(i, to: target)
    }

    private mutating func drop(_ ref: RecordRef) {
        guard let i = refIndex[ref] else { return }
        active[Int(i)] = false
        inactiveRecords += 1
        store.remove(features[Int(i)])
        refIndex.remove(ref)
        recordCount -= 1
        removeMember(i, from: clusterOf[Int(i)])
    }

    /// The cluster of a golden id the store holds live: revived (and no longer an alias) if this graph thought
    /// it merged or gone, created if unknown.
    private mutating func liveCluster(stored goldenId: String) -> Int32 {
        aliases[goldenId] = nil
        if let c = clusters[goldenId] {
            if !clusters[Int(c)].alive {
                clusters[Int(c)].alive = true
                goldenCount += 1
            }
            return c
        }
        let c = addCluster(GoldenKey(goldenId), alive: true)
        goldenCount += 1
        return c
    }

    private mutating func removeMember(_ i: Int32, from c: Int32) {
        members.set(c, members.members(c).filter { $0 != i })
        if members.count(c) == 0, clusters[Int(c)].alive {
            clusters[Int(c)].alive = false
            goldenCount -= 1
        }
    }
}

/// The kinds of blocking key (the first part of `BlockIndex.key`).
enum BlockKind {
    static let email: UInt64 = 1
    static let phone: UInt64 = 2
    static let names: UInt64 = 3
    static let dobInitial: UInt64 = 4
    static let dobFamily: UInt64 = 5
    static let postcodeFamily: UInt64 = 6
    static let postcodeInitial: UInt64 = 7
    static let emailLocal: UInt64 = 8
    static let dobPostcode: UInt64 = 9
    static let streetCity: UInt64 = 10
}

/// Hashing of text blocking keys (per-process seeded `Hasher`), for callers that hold keys as text.
enum BlockKey {
    static func hash(_ kind: String, _ value: String) -> Int {
        var h = Hasher()
        h.combine(kind)
        h.combine(value)
        return h.finalize()
    }
    static func hash(_ kind: UInt8, _ value: String) -> Int {
        var h = Hasher()
        h.combine(kind)
        h.combine(value)
        return h.finalize()
    }
}
