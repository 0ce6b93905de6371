// CRMMasterData — the blocking half of bulk placement, run on a thread of its own.

internal import CMemoryHints

/// The blocking half of placing preloaded records (`IdentityGraph.preload`): record by record in order, the earlier
/// records sharing one of its blocks (its candidates, what `IdentityGraph.place` gathers before scoring), then the
/// record joins its blocks. Which records share a block depends on the records alone, not on how earlier ones were
/// clustered, so this runs on a thread of its own ahead of the graph, which scores and clusters
/// (`IdentityGraph.place(preloaded:candidates:upcoming:)`); together they reach exactly the decisions of one
/// thread placing the records.
struct BlockStage: Sendable {
    /// The graph's block index while this stage has it (`IdentityGraph.takeBlocks`).
    private(set) var blocks: BlockIndex
    private let features: [CompactFeatures]
    private let store: FeatureStore
    private let maxBlockSize: Int
    /// The block keys by kind of the next three records (`slotsPerRecord` each, by record index modulo 3): a
    /// record's keys are computed two records ahead, when its home slots are requested.
    private var keysAhead = [UInt64](repeating: 0, count: 3 * BlockIndex.slotsPerRecord)
    private var slots: [BlockIndex.Slot] = []
    private var touched: UInt32 = 0
    /// The next record to place.
    private(set) var next: Int32 = 0

    /// A stage over `graph`'s preloaded records, with the block index taken from it. Call `prepare` before the first
    /// record (on the stage's own thread: it sizes the block index).
    init(taking graph: inout IdentityGraph) {
        features = graph.preloadedFeatures
        store = graph.store
        maxBlockSize = graph.configuration.maxBlockSize
        blocks = graph.takeBlocks()
    }

    /// Sizes the block index for every record and the distinct keys estimated from them plus 2 % (no reallocation
    /// while placing), and computes the first records' keys.
    mutating func prepare() {
        let estimate = IdentityGraph.estimatedBlockKeys(features, store)
        blocks.reserve(records: features.count, keys: estimate + estimate / 50)
        slots.reserveCapacity(BlockIndex.slotsPerRecord)
        for r in 0..<min(2, features.count) { computeKeys(Int32(r)) }
    }

    /// Whether every record has been through the stage.
    var isFinished: Bool { Int(next) == features.count }

    /// Appends the candidates of the next record (duplicates possible: a record sharing two blocks appears twice)
    /// to `out`, and adds the record to its blocks.
    mutating func advance(into out: inout [Int32]) {
        let i = next
        next += 1
        readAhead(after: i)
        let base = Int(i % 3) * BlockIndex.slotsPerRecord
        let growths = blocks.growths
        slots.removeAll(keepingCapacity: true)
        // Home slots first, so that their cache misses overlap (see `IdentityGraph.place`).
        var touched: UInt32 = 0
        for n in 0..<BlockIndex.slotsPerRecord where keysAhead[base + n] != 0 {
            touched &+= blocks.touch(keysAhead[base + n])
        }
        self.touched &+= touched
        for n in 0..<BlockIndex.slotsPerRecord {
            let k = keysAhead[base + n]
            let slot = k == 0 ? BlockIndex.Slot(index: -1, found: false) : find(k)
            slots.append(slot)
            guard slot.found else { continue }
            let (size, head) = blocks.chain(slot)
            guard size <= maxBlockSize else { continue }
            var e = head
            for m in 0..<size {
                out.append(blocks.record(ofEntry: e))
                if m + 1 < size { e = blocks.entry(after: e) }
            }
        }
        for n in 0..<BlockIndex.slotsPerRecord {
            let k = keysAhead[base + n]
            guard k != 0 else { continue }
            // A found key keeps its slot until the table grows; an empty slot may have been taken by a key added
            // just before.
            let known = slots[n].found && blocks.growths == growths ? slots[n] : find(k)
            blocks.add(k, i, kind: n + 1, own: true, at: known)
        }
    }

    /// Computes the keys of record `i + 2` and requests their home slots; requests the first chain entry of each
    /// block of record `i + 1` (requested one record ago) and its record's features. Hints only.
    private mutating func readAhead(after i: Int32) {
        let count = Int32(features.count)
        if i + 1 < count {
            let base = Int((i + 1) % 3) * BlockIndex.slotsPerRecord
            for n in 0..<BlockIndex.slotsPerRecord where keysAhead[base + n] != 0 {
                let r = blocks.prefetchChain(keysAhead[base + n])
                guard r >= 0 else { continue }
                features.withUnsafeBufferPointer { crm_prefetch($0.baseAddress! + Int(r)) }
            }
        }
        if i + 2 < count {
            computeKeys(i + 2)
            let base = Int((i + 2) % 3) * BlockIndex.slotsPerRecord
            for n in 0..<BlockIndex.slotsPerRecord where keysAhead[base + n] != 0 {
                blocks.prefetch(keysAhead[base + n])
            }
        }
    }

    private mutating func computeKeys(_ r: Int32) {
        let f = features[Int(r)]
        let base = Int(r % 3) * BlockIndex.slotsPerRecord
        for kind in 1...BlockIndex.slotsPerRecord {
            keysAhead[base + kind - 1] = IdentityGraph.blockKey(kind, f, store)
        }
    }

    /// The slot of `key` (a matching fingerprint is checked against the key of its head entry's record).
    @inline(__always) private func find(_ key: UInt64) -> BlockIndex.Slot {
        blocks.find(key) { r, kind in IdentityGraph.blockKey(kind, features[Int(r)], store) }
    }
}
