// CRMMasterData — the graph's clusters: each one's golden id and liveness, and the clusters by golden id.

/// Every cluster's golden id (`GoldenKey`) and whether it is live, by cluster index, and the index of a cluster
/// by its golden id. A made id is kept as its 64 bits (other ids as text, in a side array), so a cluster costs
/// 9 bytes plus its slot in an open-addressing (linear probing) table of cluster indices at most 3/4 full —
/// instead of a 24-byte `Cluster` value and a `Dictionary<UInt64, Int32>` bucket (12 bytes at up to 3/4 load).
/// Clusters are only added, never removed, and every cluster is indexed by its golden id.
struct ClusterTable: Sendable {
    /// Per cluster: the 64 bits of a made id, or for any other id its index in `texts`.
    private var keys: [UInt64] = []
    /// Per cluster: `liveFlag` and `textFlag`.
    private var flags: [UInt8] = []
    /// Golden ids that are not made ids (written by other tools into a shared store).
    private var texts: [String] = []
    /// Cluster indices by hash slot; -1 marks an empty slot.
    private var slots = [Int32](repeating: -1, count: 16)

    private static let liveFlag: UInt8 = 1
    private static let textFlag: UInt8 = 2

    /// The number of clusters.
    var count: Int { keys.count }

    /// Cluster `c`: its golden id and whether it is live. Setting changes only the liveness (a cluster keeps its
    /// golden id).
    subscript(_ c: Int) -> IdentityGraph.Cluster {
        get { IdentityGraph.Cluster(golden: golden(c), alive: flags[c] & Self.liveFlag != 0) }
        set {
            precondition(newValue.golden == golden(c), "a cluster keeps its golden id")
            if newValue.alive { flags[c] |= Self.liveFlag } else { flags[c] &= ~Self.liveFlag }
        }
    }

    /// The golden id of cluster `c` as stored.
    private func golden(_ c: Int) -> GoldenKey {
        flags[c] & Self.textFlag != 0 ? .text(texts[Int(keys[c])]) : .hashed(keys[c])
    }

    /// Makes room for `n` more clusters' ids and flags (the slot table still grows as they come).
    mutating func reserve(_ n: Int) {
        keys.reserveCapacity(keys.count + n)
        flags.reserveCapacity(flags.count + n)
    }

    /// The cluster whose golden id is `key`.
    subscript(_ key: GoldenKey) -> Int32? {
        let s = find(key)
        return s.found ? slots[s.slot] : nil
    }

    /// The cluster whose golden id is `id`.
    subscript(_ id: String) -> Int32? { self[GoldenKey(id)] }

    /// Adds a cluster with golden id `key` (which no cluster has) and returns its index.
    mutating func append(_ key: GoldenKey, alive: Bool) -> Int32 {
        let s = find(key)
        precondition(!s.found, "golden id \(key.id) already has a cluster")
        let c = Int32(keys.count)
        switch key {
        case .hashed(let h):
            keys.append(h)
            flags.append(alive ? Self.liveFlag : 0)
        case .text(let t):
            keys.append(UInt64(texts.count))
            texts.append(t)
            flags.append((alive ? Self.liveFlag : 0) | Self.textFlag)
        }
        slots[s.slot] = c
        if keys.count * 4 > slots.count * 3 { rehash(to: slots.count * 2) }
        return c
    }

    /// The slot holding `key`'s cluster, or the empty slot where it would go.
    private func find(_ key: GoldenKey) -> (slot: Int, found: Bool) {
        let mask = slots.count - 1
        var slot = Self.hash(key) & mask
        while true {
            let c = slots[slot]
            if c < 0 { return (slot, false) }
            if Self.equal(key, keys[Int(c)], flags[Int(c)], texts) { return (slot, true) }
            slot = (slot + 1) & mask
        }
    }

    @inline(__always) private static func equal(_ key: GoldenKey, _ k: UInt64, _ f: UInt8, _ texts: [String]) -> Bool {
        switch key {
        case .hashed(let h): f & textFlag == 0 && k == h
        case .text(let t): f & textFlag != 0 && texts[Int(k)] == t
        }
    }

    /// A slot hash: made ids are FNV-1a values, mixed (SplitMix64 finaliser) so their low bits spread.
    private static func hash(_ key: GoldenKey) -> Int {
        switch key {
        case .hashed(var z):
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return Int(truncatingIfNeeded: z ^ (z >> 31))
        case .text(let t): return t.hashValue
        }
    }

    private mutating func rehash(to size: Int) {
        slots = [Int32](repeating: -1, count: size)
        let mask = size - 1
        for c in keys.indices {
            var slot = Self.hash(golden(c)) & mask
            while slots[slot] >= 0 { slot = (slot + 1) & mask }
            slots[slot] = Int32(c)
        }
    }
}
