// CRMMasterData — the blocking index: 64-bit block key → the records holding it, in flat arrays.
//
// Open addressing (linear probing) over parallel arrays of key fingerprints, chain heads and sizes; the members of
// all blocks are singly linked chains of entries. A slot keeps only the top 32 bits of its key: the full key of a
// block is the key of any of its entries, and the caller (the graph) recomputes it from the features of the head
// entry's record when a fingerprint matches (once per lookup that finds its block), so the table costs 9 bytes a
// slot instead of 13. A record's first keys (one per kind: a record has at most ten, of ten kinds) are its own
// entry slots in one shared array: entry `record × 10 + kind − 1`, so an entry stores only the next entry (4
// bytes), and the record and the kind are the entry divided by ten and the remainder — one array read per
// visited entry. Entries added later (when a record is replaced by a newer version) go to an overflow area that
// also stores the record and the full key. No per-block allocation: a million records cost 40 bytes each (entry
// slots) plus 9 bytes per table slot. The table's size is not a power of two (a key's home slot is its
// fingerprint scaled to the size): it is kept between 8/15 and 4/5 full (it grows by half when 4/5 full), where a
// power-of-two table grown by doubling at 3/4 can be under half full — at a million records 4.0 M keys sat in
// 8.4 M slots — and momentarily holds three times its size while growing.

internal import CMemoryHints

/// Block key → record indices. A block holds at most `capacity` distinct records (a fuller block is a frequent
/// value, never used for candidates).
///
/// Lookups go through `find(_:ownKey:)`, which asks the caller for the key of a record's own entry (the graph
/// computes it from the record's features as they were when the record was added).
struct BlockIndex: Sendable {
    /// Where a search for a key ended: the key's slot (`found`) or the empty slot where it would go.
    struct Slot {
        var index: Int
        var found: Bool
    }

    /// Records a block keeps at most.
    let capacity: Int
    /// Per slot, the top 32 bits of its key (0: an empty slot; a key whose top 32 bits are 0 has fingerprint 1).
    private var fingerprints: [UInt32]
    private var heads: [Int32]
    /// Block sizes (at most `capacity`, at most 255).
    private var sizes: [UInt8]
    private var used = 0
    /// How many times the table has grown (slots `find` returned stay valid until it grows).
    private(set) var growths = 0
    /// Grow when `used` would exceed this (4/5 of the slots).
    private var limit: Int
    /// Per record `r`, the next entry after each of its own entries `r × slotsPerRecord + kind − 1` (-1: end of
    /// chain; unused slots hold -1 too).
    private var next: [Int32] = []
    /// Entries `overflowBase + n`: the next entry, the record and the block's key.
    private var overflowNext: [Int32] = []
    private var overflowMember: [Int32] = []
    private var overflowKey: [UInt64] = []

    /// A record's own entry slots: one per kind of key (`BlockKind`: 1 ... 10).
    static let slotsPerRecord = 10
    /// The first overflow entry id (own slots cover records below `overflowBase / slotsPerRecord`).
    private static let overflowBase: Int32 = 1 << 30

    init(capacity: Int) {
        precondition(capacity <= 255, "block capacity above 255")
        self.capacity = capacity
        fingerprints = Array(repeating: 0, count: 1 << 10)
        heads = Array(repeating: -1, count: 1 << 10)
        sizes = Array(repeating: 0, count: 1 << 10)
        limit = Self.limit(slots: 1 << 10)
    }

    /// The most keys a table of `slots` slots holds before it grows.
    private static func limit(slots: Int) -> Int { slots / 5 * 4 }

    /// The fingerprint a key is stored under (0 marks an empty slot).
    @inline(__always) private static func fingerprint(_ key: UInt64) -> UInt32 {
        let f = UInt32(truncatingIfNeeded: key >> 32)
        return f == 0 ? 1 : f
    }

    /// The home slot of a fingerprint in a table of `n` slots: the fingerprint scaled to the size (keys are
    /// SplitMix64 outputs, uniform over 64 bits, so their top 32 bits are uniform too).
    @inline(__always) private static func home(_ fingerprint: UInt32, _ n: Int) -> Int {
        Int(truncatingIfNeeded: (UInt64(fingerprint) &* UInt64(n)) >> 32)
    }

    /// The slot holding `key`, or the empty slot where it would go. `ownKey(record, kind)` is the key of the
    /// record's own entry of that kind; it is asked only when a slot's fingerprint matches.
    @inline(__always) func find(_ key: UInt64, ownKey: (Int32, Int) -> UInt64) -> Slot {
        let fp = Self.fingerprint(key)
        let n = fingerprints.count
        var i = Self.home(fp, n)
        return fingerprints.withUnsafeBufferPointer { table in
            while true {
                let f = table[i]
                if f == 0 { return Slot(index: i, found: false) }
                if f == fp && self.key(ofEntry: heads[i], ownKey) == key { return Slot(index: i, found: true) }
                i += 1
                if i == n { i = 0 }
            }
        }
    }

    /// Reads the home slot of `key` (its fingerprint and chain head) and returns a value made from them: callers
    /// about to look up several keys read them all first, so that the cache misses overlap.
    @inline(__always) func touch(_ key: UInt64) -> UInt32 {
        let i = Self.home(Self.fingerprint(key), fingerprints.count)
        return fingerprints[i] &+ UInt32(bitPattern: heads[i])
    }

    /// Starts loading the home slot of `key` (fingerprint, chain head and size) without waiting for it: a hint for
    /// a lookup of `key` a little later (see `IdentityGraph.place(_:features:next:)`).
    @inline(__always) func prefetch(_ key: UInt64) {
        let i = Self.home(Self.fingerprint(key), fingerprints.count)
        fingerprints.withUnsafeBufferPointer { crm_prefetch($0.baseAddress! + i) }
        heads.withUnsafeBufferPointer { crm_prefetch($0.baseAddress! + i) }
        sizes.withUnsafeBufferPointer { crm_prefetch($0.baseAddress! + i) }
    }

    /// For a key whose home slot was prefetched a while ago: when the block sits in its home slot (a fingerprint
    /// match, not verified), starts loading its second chain entry and returns its first record, whose features the
    /// caller may prefetch; -1 otherwise. A hint: a wrong guess costs a wasted load, never a wrong result.
    @inline(__always) func prefetchChain(_ key: UInt64) -> Int32 {
        let fp = Self.fingerprint(key)
        let i = Self.home(fp, fingerprints.count)
        guard fingerprints[i] == fp else { return -1 }
        let e = heads[i]
        if e >= 0 && e < Self.overflowBase { next.withUnsafeBufferPointer { crm_prefetch($0.baseAddress! + Int(e)) } }
        return e < 0 ? -1 : record(ofEntry: e)
    }

    /// The key of the block entry `e` belongs to.
    @inline(__always) private func key(ofEntry e: Int32, _ ownKey: (Int32, Int) -> UInt64) -> UInt64 {
        if e < Self.overflowBase {
            let (record, k) = e.quotientAndRemainder(dividingBy: Int32(Self.slotsPerRecord))
            return ownKey(record, Int(k) + 1)
        }
        return overflowKey[Int(e - Self.overflowBase)]
    }

    /// The size and first chain entry (-1 when empty) of the block at a slot `find` returned; walk the chain
    /// with `entry(_:)`.
    @inline(__always) func chain(_ s: Slot) -> (size: Int, head: Int32) {
        s.found ? (Int(sizes[s.index]), heads[s.index]) : (0, -1)
    }

    /// A chain entry's record (for an own entry, computed from the entry alone: no memory read).
    @inline(__always) func record(ofEntry e: Int32) -> Int32 {
        e < Self.overflowBase ? e / Int32(Self.slotsPerRecord) : overflowMember[Int(e - Self.overflowBase)]
    }

    /// The entry after `e` in its chain (-1 at the end). A chain holds exactly its block's size of entries, so a
    /// walk that counts them need not read past the last one.
    @inline(__always) func entry(after e: Int32) -> Int32 {
        e < Self.overflowBase ? next[Int(e)] : overflowNext[Int(e - Self.overflowBase)]
    }

    /// A chain entry's record and the next entry (-1 at the end).
    @inline(__always) func entry(_ e: Int32) -> (record: Int32, next: Int32) {
        if e < Self.overflowBase { return (e / Int32(Self.slotsPerRecord), next[Int(e)]) }
        let o = Int(e - Self.overflowBase)
        return (overflowMember[o], overflowNext[o])
    }

    /// The records of the block at a slot `find` returned, in the order they were added.
    func members(_ s: Slot) -> [Int32] {
        var out: [Int32] = []
        var e = chain(s).head
        while e >= 0 {
            let (record, following) = entry(e)
            out.append(record)
            e = following
        }
        return out.reversed()
    }

    /// Adds record `i` to the block of `key` (of kind `kind`), at the slot `find` returned for it, unless the
    /// block is full or already holds the record. `own`: the key is one of the record's keys when it was added
    /// (its own entry slot of that kind is free); otherwise (a replaced record's new keys) the entry goes to the
    /// overflow area with its key. Own entries are added only for the newest record (the graph adds a record's
    /// own entries when it appends the record, before any later record exists).
    mutating func add(_ key: UInt64, _ i: Int32, kind: Int, own: Bool, at s: Slot) {
        var index = s.index
        if !s.found {
            let fp = Self.fingerprint(key)
            if used + 1 > limit {
                grow(to: fingerprints.count + fingerprints.count / 2)
                index = emptySlot(fp)
            }
            fingerprints[index] = fp
            used += 1
            // An empty slot has no chain and size 0 (slots are never emptied): store without reading them, so
            // that a new block costs no cache miss on `sizes` (the lookups read only fingerprints and heads).
            heads[index] = newEntry(record: i, kind: kind, own: own, key: key, next: -1)
            sizes[index] = 1
            return
        }
        if Int(sizes[index]) >= capacity { return }
        if own {
            // Record `i` is the newest, so an entry of it in this block can only be one added just before (one of
            // its other keys equal to this one), and entries go in front: it would be the head.
            if record(ofEntry: heads[index]) == i { return }
        } else {
            var e = heads[index]
            while e >= 0 {
                let (record, following) = entry(e)
                if record == i { return }
                e = following
            }
        }
        heads[index] = newEntry(record: i, kind: kind, own: own, key: key, next: heads[index])
        sizes[index] += 1
    }

    /// A new chain entry of record `i` in front of `following`: the record's own slot of `kind`, else an overflow
    /// entry.
    private mutating func newEntry(record i: Int32, kind: Int, own: Bool, key: UInt64, next following: Int32) -> Int32 {
        if own {
            let r = Int(i)
            precondition(r < Int(Self.overflowBase) / Self.slotsPerRecord, "block index above 107 M records")
            let end = (r + 1) * Self.slotsPerRecord
            if end > next.count { next.append(contentsOf: repeatElement(-1, count: end - next.count)) }
            let e = r * Self.slotsPerRecord + kind - 1
            next[e] = following
            return Int32(e)
        }
        overflowNext.append(following)
        overflowMember.append(i)
        overflowKey.append(key)
        return Self.overflowBase + Int32(overflowMember.count - 1)
    }

    /// The first empty slot from a fingerprint's home (for a key known to be absent).
    private func emptySlot(_ fp: UInt32) -> Int {
        let n = fingerprints.count
        var i = Self.home(fp, n)
        while fingerprints[i] != 0 {
            i += 1
            if i == n { i = 0 }
        }
        return i
    }

    /// Makes room for `records` more records' entries and `keys` more distinct keys without reallocating (more
    /// keys than that grow the table by half).
    mutating func reserve(records: Int, keys more: Int = 0) {
        next.reserveCapacity(next.count + records * Self.slotsPerRecord)
        let needed = used + more
        if needed > limit { grow(to: needed / 4 * 5 + 5) }
    }

    /// Re-inserts every slot into a table of `n` slots (home slots come from the fingerprints alone).
    private mutating func grow(to n: Int) {
        let oldFingerprints = fingerprints
        let oldHeads = heads
        let oldSizes = sizes
        fingerprints = Array(repeating: 0, count: n)
        heads = Array(repeating: -1, count: n)
        sizes = Array(repeating: 0, count: n)
        limit = Self.limit(slots: n)
        growths += 1
        for k in oldFingerprints.indices where oldFingerprints[k] != 0 {
            let i = emptySlot(oldFingerprints[k])
            fingerprints[i] = oldFingerprints[k]
            heads[i] = oldHeads[k]
            sizes[i] = oldSizes[k]
        }
    }

    /// A 64-bit block key from a kind and up to three ids (SplitMix64 finaliser over the packed parts).
    @inline(__always) static func key(_ kind: UInt64, _ a: UInt32, _ b: UInt32 = 0, _ c: UInt32 = 0) -> UInt64 {
        var h = kind &* 0x9E37_79B9_7F4A_7C15 ^ UInt64(a)
        h = mix(h) ^ (UInt64(b) << 32 | UInt64(c))
        return mix(h)
    }

    @inline(__always) private static func mix(_ x: UInt64) -> UInt64 {
        var z = x &+ 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
