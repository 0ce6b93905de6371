// CRMMasterData — the in-memory identity graph: blocking, non-chaining clustering, merge/unmerge, lookups.

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
        var goldenId: String
        var members: [Int32]
        var alive: Bool
    }

    public private(set) var model: MatchModel
    public let configuration: ResolverConfiguration
    private(set) var records: [CustomerRecord] = []
    private(set) var features: [MatchFeatures] = []
    private(set) var active: [Bool] = []
    private(set) var clusterOf: [Int32] = []
    private(set) var clusters: [Cluster] = []
    private(set) var byRef: [RecordRef: Int32] = [:]
    private(set) var byGolden: [String: Int32] = [:]
    /// Absorbed golden id → survivor golden id.
    public private(set) var aliases: [String: String] = [:]
    /// Absorbed golden id → its members when it was merged (what unmerge restores).
    public private(set) var mergeHistory: [String: [RecordRef]] = [:]
    private var blocks: [Int: [Int32]] = [:]
    private var frequencies = Frequencies()
    private var barred: [Int32: Set<String>] = [:]
    private var scratch: [Int32] = []

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
    }

    // MARK: Resolve

    /// Resolves one record: update, join the best well-matching cluster, or create (with a review item when a
    /// candidate scored between the thresholds). Returns the outcome and the clusters whose golden record changed.
    @discardableResult
    public mutating func resolve(_ record: CustomerRecord) -> Resolution { resolve(record, features: nil) }

    /// `resolve(_:)` with the record's features already computed (bulk runs compute them on all cores).
    mutating func resolve(_ record: CustomerRecord, features precomputed: MatchFeatures?) -> Resolution {
        if let i = byRef[record.ref], active[Int(i)] {
            replace(i, with: record)
            return Resolution(
                ref: record.ref, goldenId: clusters[Int(clusterOf[Int(i)])].goldenId, decision: .updated, score: nil,
                candidateGoldenId: nil, evidence: [])
        }
        let f = precomputed ?? MatchFeatures(record)
        let keys = blockingKeys(f)
        var best: (cluster: Int32, score: Double, member: Int32)? = nil
        var joinable: [(cluster: Int32, score: Double)] = []
        var bestReview: (cluster: Int32, score: Double, member: Int32)? = nil
        let meanThreshold = configuration.clusterMeanThreshold ?? configuration.reviewThreshold

        scratch.removeAll(keepingCapacity: true)
        for k in keys {
            guard let b = blocks[k], b.count <= configuration.maxBlockSize else { continue }
            for j in b where active[Int(j)] { scratch.append(clusterOf[Int(j)]) }
        }
        if !scratch.isEmpty {
            scratch.sort()
            var last: Int32 = -1
            for c in scratch where c != last {
                last = c
                let cluster = clusters[Int(c)]
                var maxScore = -Double.infinity
                var sum = 0.0
                var n = 0
                var bestMember: Int32 = -1
                var veto = false
                var bestGuards: [MatchGuard] = []
                for m in cluster.members.prefix(32) {
                    let s = model.score(f, features[Int(m)], frequencies: frequencies)
                    sum += s.score
                    n += 1
                    if s.guards.contains(.givenNameConflict) || s.guards.contains(.dateOfBirthConflict) { veto = true }
                    if s.score > maxScore {
                        maxScore = s.score
                        bestMember = m
                        bestGuards = s.guards
                    }
                }
                let mean = sum / Double(max(n, 1))
                if maxScore >= configuration.mergeThreshold, mean >= meanThreshold, !veto, bestGuards.isEmpty {
                    joinable.append((c, maxScore))
                    if best == nil || maxScore > best!.score { best = (c, maxScore, bestMember) }
                } else if Self.reviewable(maxScore, guards: bestGuards, veto: veto, configuration) {
                    if bestReview == nil || maxScore > bestReview!.score { bestReview = (c, maxScore, bestMember) }
                }
            }
        }

        let i = append(record, features: f, blockingKeys: keys)

        if let b = best {
            clusterOf.append(b.cluster)
            clusters[Int(b.cluster)].members.append(i)
            var absorbed: [String] = []
            for other in joinable.sorted(by: { $0.score > $1.score }) where other.cluster != b.cluster {
                guard clustersCompatible(b.cluster, other.cluster) else { continue }
                let id = clusters[Int(other.cluster)].goldenId
                do {
                    try merge(clusters[Int(b.cluster)].goldenId, id)
                    absorbed.append(id)
                } catch {}
            }
            return Resolution(
                ref: record.ref, goldenId: clusters[Int(b.cluster)].goldenId, decision: .joined, score: b.score,
                candidateGoldenId: nil, evidence: [], absorbed: absorbed)
        }
        let c = newCluster(founder: record.ref, members: [i])
        clusterOf.append(c)
        let gid = clusters[Int(c)].goldenId
        if let r = bestReview {
            return Resolution(
                ref: record.ref, goldenId: gid, decision: .review, score: r.score,
                candidateGoldenId: clusters[Int(r.cluster)].goldenId, evidence: [])
        }
        return Resolution(
            ref: record.ref, goldenId: gid, decision: .created, score: nil, candidateGoldenId: nil, evidence: [])
    }

    /// Whether two clusters may become one: no member pair (up to 32 × 32) is kept apart by a guard, and neither
    /// was split from the other by an operator (unmerge, detach).
    func clustersCompatible(_ x: Int32, _ y: Int32) -> Bool {
        let a = clusters[Int(x)]
        let b = clusters[Int(y)]
        for m in a.members.prefix(32) {
            if barred[m]?.contains(b.goldenId) == true { return false }
            for n in b.members.prefix(32) {
                if barred[n]?.contains(a.goldenId) == true { return false }
                let g = MatchModel.guards(model.compare(features[Int(m)], features[Int(n)]))
                if g.contains(.givenNameConflict) || g.contains(.dateOfBirthConflict) { return false }
            }
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

    /// Learns the match model's m/u probabilities and prior from the records the graph holds (see
    /// `MatchTraining`). Decisions already taken are kept; later ones use the new model.
    @discardableResult
    public mutating func train(_ training: MatchTraining = MatchTraining()) -> MatchTraining.Report {
        let report = training.train(features, active: active, model: model)
        model.parameters = report.parameters
        return report
    }

    /// Replaces the match model (for example with parameters trained elsewhere).
    public mutating func use(_ model: MatchModel) { self.model = model }

    /// The evidence for a record against one other record.
    public func explain(_ ref: RecordRef, against other: RecordRef) -> PairScore? {
        guard let i = byRef[ref], let j = byRef[other] else { return nil }
        return model.score(features[Int(i)], features[Int(j)], frequencies: frequencies, explain: true)
    }

    /// The evidence for a record against the best-scoring member of a golden record.
    public func explain(_ ref: RecordRef, against goldenId: String) -> PairScore? {
        guard let i = byRef[ref], let c = cluster(goldenId) else { return nil }
        return clusters[Int(c)].members.filter { $0 != i }.map {
            model.score(features[Int(i)], features[Int($0)], frequencies: frequencies, explain: true)
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
        let moved = clusters[Int(a)].members
        mergeHistory[clusters[Int(a)].goldenId] = moved.map { records[Int($0)].ref }
        for m in moved { clusterOf[Int(m)] = s }
        clusters[Int(s)].members += moved
        clusters[Int(a)].members = []
        clusters[Int(a)].alive = false
        aliases[clusters[Int(a)].goldenId] = clusters[Int(s)].goldenId
        goldenCount -= 1
    }

    /// Undoes a merge: the absorbed golden record comes back with its id and those of its former members that
    /// are still in the survivor. The two are barred from merging automatically again.
    /// - Returns: the survivor's golden id.
    @discardableResult
    public mutating func unmerge(_ absorbed: String) throws(MasterDataError) -> String {
        guard let members = mergeHistory[absorbed], let survivorId = aliases[absorbed], let a = byGolden[absorbed],
            let s = cluster(survivorId)
        else { throw MasterDataError(.notFound, "no merge of \(absorbed) to undo") }
        let back = Set(members.compactMap { byRef[$0] })
        clusters[Int(s)].members.removeAll { back.contains($0) }
        clusters[Int(a)].members = back.sorted()
        clusters[Int(a)].alive = true
        for m in back {
            clusterOf[Int(m)] = a
            barred[m, default: []].insert(clusters[Int(s)].goldenId)
        }
        for m in clusters[Int(s)].members { barred[m, default: []].insert(absorbed) }
        aliases[absorbed] = nil
        for (k, v) in aliases where v == absorbed { aliases[k] = clusters[Int(s)].goldenId }
        mergeHistory[absorbed] = nil
        goldenCount += 1
        return clusters[Int(s)].goldenId
    }

    /// Takes one record out of its golden record into a new one of its own.
    /// - Returns: (old golden id, new golden id).
    public mutating func detach(_ ref: RecordRef) throws(MasterDataError) -> (from: String, to: String) {
        guard let i = byRef[ref], active[Int(i)] else { throw MasterDataError(.notFound, "record \(ref) not found") }
        let old = clusterOf[Int(i)]
        guard clusters[Int(old)].members.count > 1 else {
            throw MasterDataError(
                .invalidOperation, "record \(ref) is the only member of \(clusters[Int(old)].goldenId)")
        }
        clusters[Int(old)].members.removeAll { $0 == i }
        barred[i, default: []].insert(clusters[Int(old)].goldenId)
        let c = newCluster(founder: ref, members: [i])
        clusterOf[Int(i)] = c
        return (clusters[Int(old)].goldenId, clusters[Int(c)].goldenId)
    }

    /// Erases a person: all member records are forgotten. Returns the erased references.
    public mutating func erase(_ goldenId: String) throws(MasterDataError) -> [RecordRef] {
        guard let c = cluster(goldenId) else { throw MasterDataError(.notFound, "golden record \(goldenId) not found") }
        let refs = clusters[Int(c)].members.map { records[Int($0)].ref }
        for m in clusters[Int(c)].members {
            active[Int(m)] = false
            frequencies.remove(features[Int(m)])
            byRef[records[Int(m)].ref] = nil
            records[Int(m)] = CustomerRecord(system: "", externalId: "")
            features[Int(m)] = MatchFeatures(records[Int(m)])
        }
        recordCount -= refs.count
        clusters[Int(c)].members = []
        clusters[Int(c)].alive = false
        goldenCount -= 1
        for (k, v) in aliases where v == clusters[Int(c)].goldenId { aliases[k] = nil }
        return refs
    }

    // MARK: Lookups

    /// The live golden id for an id, following merge aliases.
    public func canonicalGoldenId(_ id: String) -> String? { cluster(id).map { clusters[Int($0)].goldenId } }

    /// The golden id holding a source record.
    public func goldenId(for ref: RecordRef) -> String? {
        byRef[ref].map { clusters[Int(clusterOf[Int($0)])].goldenId }
    }

    /// The member records of a golden record (following aliases).
    public func members(of goldenId: String) -> [CustomerRecord] {
        guard let c = cluster(goldenId) else { return [] }
        return clusters[Int(c)].members.map { records[Int($0)] }
    }

    /// The golden record, built by survivorship.
    public func golden(_ goldenId: String) -> GoldenRecord? {
        guard let c = cluster(goldenId) else { return nil }
        return GoldenRecord.build(
            id: clusters[Int(c)].goldenId, members: members(of: goldenId), configuration: configuration)
    }

    /// Golden ids whose members carry this e-mail (matching key).
    public func goldenIds(email: String) -> [String] {
        guard let key = EmailMatching.key(email) else { return [] }
        return lookup(BlockKey.hash("e", key)) { $0.email == key }
    }

    /// Golden ids whose members carry this phone number (matching key).
    public func goldenIds(phone: String, defaultRegion: String? = nil) -> [String] {
        guard let key = PhoneKey.key(phone, defaultRegion: defaultRegion) else { return [] }
        return lookup(BlockKey.hash("p", key)) { $0.phone == key }
    }

    /// Golden ids whose members have this given and family name (matching keys; either order).
    public func goldenIds(givenName: String, familyName: String) -> [String] {
        guard let g = NameMatching.givenKey(givenName), let f = NameMatching.familyKey(familyName) else { return [] }
        return lookup(BlockKey.hash("n", min(g, f) + " " + max(g, f))) { Set([$0.given, $0.family]) == Set([g, f]) }
    }

    /// Every live golden id with its members' indices (for export).
    public func clusterAssignments() -> [(ref: RecordRef, goldenId: String)] {
        records.indices.filter { active[$0] }.map { (records[$0].ref, clusters[Int(clusterOf[$0])].goldenId) }
    }

    /// Adds a record to the indexes (not yet to a cluster) and returns its index.
    private mutating func append(
        _ record: CustomerRecord, features f: MatchFeatures? = nil, blockingKeys keys: [Int]? = nil
    ) -> Int32 {
        let f = f ?? MatchFeatures(record)
        let i = Int32(records.count)
        records.append(retainsRecords ? record : CustomerRecord(system: record.system, externalId: record.externalId))
        features.append(f)
        active.append(true)
        byRef[record.ref] = i
        frequencies.add(f)
        recordCount += 1
        for k in keys ?? blockingKeys(f) { addToBlock(k, i) }
        return i
    }

    /// Replaces record `i` with a newer version, keeping its cluster.
    private mutating func replace(_ i: Int32, with record: CustomerRecord) {
        let f = MatchFeatures(record)
        frequencies.remove(features[Int(i)])
        frequencies.add(f)
        records[Int(i)] = record
        features[Int(i)] = f
        for k in blockingKeys(f) { addToBlock(k, i) }
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
            if let existing = byGolden[gid] {
                c = existing
                clusters[Int(c)].members.append(i)
            } else {
                c = Int32(clusters.count)
                clusters.append(Cluster(goldenId: gid, members: [i], alive: true))
                byGolden[gid] = c
                goldenCount += 1
            }
            clusterOf.append(c)
        }
        for (absorbed, _) in mergeHistory where byGolden[absorbed] == nil {
            byGolden[absorbed] = Int32(clusters.count)
            clusters.append(Cluster(goldenId: absorbed, members: [], alive: false))
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
        guard let c = byGolden[id], clusters[Int(c)].alive else { return nil }
        return c
    }

    private func lookup(_ key: Int, _ matches: (MatchFeatures) -> Bool) -> [String] {
        var out: [String] = []
        for j in blocks[key] ?? [] where active[Int(j)] && matches(features[Int(j)]) {
            let g = clusters[Int(clusterOf[Int(j)])].goldenId
            if !out.contains(g) { out.append(g) }
        }
        return out
    }

    private mutating func newCluster(founder: RecordRef, members: [Int32]) -> Int32 {
        var id = GoldenId.make(founder)
        var n = 1
        while byGolden[id] != nil {
            id = GoldenId.make(founder, salt: n)
            n += 1
        }
        let c = Int32(clusters.count)
        clusters.append(Cluster(goldenId: id, members: members, alive: true))
        byGolden[id] = c
        goldenCount += 1
        return c
    }

    /// Blocks hold at most `maxBlockSize + 1` entries: a full block is a frequent value, never used for candidates
    /// (and lookups on it return the first entries only).
    private mutating func addToBlock(_ key: Int, _ i: Int32) {
        let cap = configuration.maxBlockSize + 1
        if var b = blocks.removeValue(forKey: key) {
            if b.count < cap, !b.contains(i) { b.append(i) }
            blocks[key] = b
        } else {
            blocks[key] = [i]
        }
    }

    /// Blocking keys: e-mail; phone; the unordered name pair (catches first/last swaps); date of birth with the
    /// given initial; date of birth with the family prefix; postcode with the family prefix.
    func blockingKeys(_ f: MatchFeatures) -> [Int] {
        var keys: [Int] = []
        keys.reserveCapacity(10)
        if let e = f.email { keys.append(BlockKey.hash("e", e)) }
        if let p = f.phone { keys.append(BlockKey.hash("p", p)) }
        if let g = f.given, let fam = f.family { keys.append(BlockKey.hash("n", min(g, fam) + " " + max(g, fam))) }
        if let d = f.dob {
            let ds = d.description
            if let g = f.given?.first { keys.append(BlockKey.hash("dg", ds + String(g))) }
            if let fam = f.family { keys.append(BlockKey.hash("df", ds + String(fam.prefix(3)))) }
        }
        if let pc = f.postcode, let fam = f.family { keys.append(BlockKey.hash("a", pc + String(fam.prefix(3)))) }
        if let pc = f.postcode, let g = f.given?.first { keys.append(BlockKey.hash("ag", pc + String(g))) }
        if let l = f.emailLocal, l.utf8.count >= 5 { keys.append(BlockKey.hash("el", l)) }
        if let d = f.dob, let pc = f.postcode { keys.append(BlockKey.hash("dp", d.description + pc)) }
        if let st = f.street, let c = f.city { keys.append(BlockKey.hash("sc", st + "|" + c)) }
        return keys
    }

    /// The blocking keys as (kind, value) text — the same keys as `blockingKeys`, which hashes them with the
    /// per-process `Hasher` (kept separate so the hot path allocates no strings).
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

    /// Value counts for term-frequency-adjusted u-probabilities.
    struct Frequencies: ValueFrequencies, Sendable {
        var counts: [Int: Int32] = [:]
        var population = 0
        func count(_ field: MatchField, _ value: String) -> Int {
            Int(counts[BlockKey.hash(field.rawValue, value)] ?? 0)
        }
        mutating func add(_ f: MatchFeatures) { update(f, 1) }
        mutating func remove(_ f: MatchFeatures) { update(f, -1) }
        private mutating func update(_ f: MatchFeatures, _ d: Int32) {
            population += Int(d)
            let pairs: [(MatchField, String?)] = [
                (.given, f.given), (.family, f.family), (.email, f.email), (.phone, f.phone), (.postcode, f.postcode),
                (.street, f.street), (.city, f.city), (.dob, f.dob?.description),
            ]
            for (field, v) in pairs {
                if let v { counts[BlockKey.hash(field.rawValue, v), default: 0] += d }
            }
        }
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
            for j in blocks[BlockKey.hash(kind, value)] ?? [] where active[Int(j)] { out.insert(records[Int(j)].ref) }
        }
        for id in goldenIds {
            guard let c = byGolden[id] else { continue }
            for m in clusters[Int(c)].members { out.insert(records[Int(m)].ref) }
        }
        return out
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
        if let c = byGolden[absorbed], survivor != nil, clusters[Int(c)].alive, clusters[Int(c)].members.isEmpty {
            clusters[Int(c)].alive = false
            goldenCount -= 1
        }
    }

    private mutating func upsert(_ record: CustomerRecord, goldenId: String) {
        let target = liveCluster(stored: goldenId)
        guard let i = byRef[record.ref] else {
            let i = append(record)
            clusterOf.append(target)
            clusters[Int(target)].members.append(i)
            return
        }
        if records[Int(i)] != record { replace(i, with: record) }
        let old = clusterOf[Int(i)]
        guard old != target else { return }
        removeMember(i, from: old)
        clusterOf[Int(i)] = target
        clusters[Int(target)].members.append(i)
    }

    private mutating func drop(_ ref: RecordRef) {
        guard let i = byRef[ref] else { return }
        active[Int(i)] = false
        frequencies.remove(features[Int(i)])
        byRef[ref] = nil
        recordCount -= 1
        removeMember(i, from: clusterOf[Int(i)])
    }

    /// The cluster of a golden id the store holds live: revived (and no longer an alias) if this graph thought
    /// it merged or gone, created if unknown.
    private mutating func liveCluster(stored goldenId: String) -> Int32 {
        aliases[goldenId] = nil
        if let c = byGolden[goldenId] {
            if !clusters[Int(c)].alive {
                clusters[Int(c)].alive = true
                goldenCount += 1
            }
            return c
        }
        let c = Int32(clusters.count)
        clusters.append(Cluster(goldenId: goldenId, members: [], alive: true))
        byGolden[goldenId] = c
        goldenCount += 1
        return c
    }

    private mutating func removeMember(_ i: Int32, from c: Int32) {
        clusters[Int(c)].members.removeAll { $0 == i }
        if clusters[Int(c)].members.isEmpty, clusters[Int(c)].alive {
            clusters[Int(c)].alive = false
            goldenCount -= 1
        }
    }
}

/// Hashing of block and frequency keys (per-process seeded `Hasher`: the index is in memory only).
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

/// Stable golden ids: "G" + 16 hex digits of FNV-1a 64 over the founding record's (system, external id),
/// so a bulk re-run over the same input yields the same ids.
enum GoldenId {
    static func make(_ ref: RecordRef, salt: Int = 0) -> String {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in ref.system.utf8 + [0x1F] + ref.externalId.utf8 + (salt == 0 ? [] : Array("#\(salt)".utf8)) {
            h ^= UInt64(b)
            h = h &* 0x0000_0100_0000_01B3
        }
        let hex = String(h, radix: 16)
        return "G" + String(repeating: "0", count: 16 - hex.count) + hex
    }
}
