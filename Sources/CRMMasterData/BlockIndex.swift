// CRMMasterData — the blocking index: 64-bit block key → the records holding it, in flat arrays.
//
// Open addressing (linear probing) over parallel arrays of keys, chain heads and sizes; the members of all blocks
// are singly linked chains of entries. A record's first ten block entries (a record has at most ten keys) are
// its own slots in one shared array: entry `record × 10 + n` is the record's n-th entry, so an entry stores only
// the next entry (4 bytes) and the record is the entry divided by ten — one array read per visited entry, not
// two. Entries beyond a record's ten (added when a record is replaced by a newer version) go to an overflow area
// that also stores the record. No per-block allocation: a million records cost 41 bytes each (entry slots and a
// per-record count) plus 13 bytes per table slot. The table's size is not a power of two (a key's home slot is
// its hash scaled to the size): it is kept between 8/15 and 4/5 full (it grows by half when 4/5 full), where a
// power-of-two table grown by doubling at 3/4 can be under half full — at a million records 4.0 M keys sat in
// 8.4 M slots (109 MB) — and momentarily holds three times its size while growing.

/// Block key → record indices. A block holds at most `capacity` distinct records (a fuller block is a frequent
/// value, never used for candidates).
struct BlockIndex: Sendable {
    /// Records a block keeps at most.
    let capacity: Int
    private var keys: [UInt64]
    private var heads: [Int32]
    /// Block sizes (at most `capacity`, at most 255).
    private var sizes: [UInt8]
    private var used = 0
    /// Grow when `used` would exceed this (4/5 of the slots).
    private var limit: Int
    /// Per record `r`, the next entry after each of its entries `r × slotsPerRecord ..< (r + 1) × slotsPerRecord`
    /// (-1: end of chain; unused slots hold -1 too).
    private var next: [Int32] = []
    /// Per record, how many of its own entry slots are in use.
    private var slotsUsed: [UInt8] = []
    /// Entries `overflowBase + n`: the next entry and the record.
    private var overflowNext: [Int32] = []
    private var overflowMember: [Int32] = []

    /// A record's own entry slots: its first entries (a record has at most ten blocking keys when added).
    static let slotsPerRecord = 10
    /// The first overflow entry id (own slots cover records below `overflowBase / slotsPerRecord`).
    private static let overflowBase: Int32 = 1 << 30

    init(capacity: Int) {
        precondition(capacity <= 255, "block capacity above 255")
        self.capacity = capacity
        keys = Array(repeating: 0, count: 1 << 10)
        heads = Array(repeating: -1, count: 1 << 10)
        sizes = Array(repeating: 0, count: 1 << 10)
        limit = Self.limit(slots: 1 << 10)
    }

    /// The most keys a table of `slots` slots holds before it grows.
    private static func limit(slots: Int) -> Int { slots / 5 * 4 }

    /// Key 0 marks an empty slot.
    @inline(__always) private static func stored(_ key: UInt64) -> UInt64 { key == 0 ? 1 : key }

    /// The slot holding `key`, or the empty slot where it would go. The home slot is the key scaled to the table
    /// size (the high half of key × size): keys are SplitMix64 outputs, uniform over 64 bits.
    @inline(__always) private func slot(_ key: UInt64) -> (index: Int, found: Bool) {
        let n = keys.count
        var i = Int(truncatingIfNeeded: key.multipliedFullWidth(by: UInt64(n)).high)
        return keys.withUnsafeBufferPointer { table in
            while true {
                let k = table[i]
                if k == key { return (i, true) }
                if k == 0 { return (i, false) }
                i += 1
                if i == n { i = 0 }
            }
        }
    }

    /// The number of records in a block (0 when unknown).
    func size(_ key: UInt64) -> Int {
        let s = slot(Self.stored(key))
        return s.found ? Int(sizes[s.index]) : 0
    }

    /// A block's size and its first chain entry (-1 when empty or unknown); walk it with `entry(_:)`.
    @inline(__always) func chain(_ key: UInt64) -> (size: Int, head: Int32) {
        let s = slot(Self.stored(key))
        return s.found ? (Int(sizes[s.index]), heads[s.index]) : (0, -1)
    }

    /// A chain entry's record and the next entry (-1 at the end).
    @inline(__always) func entry(_ e: Int32) -> (record: Int32, next: Int32) {
        if e < Self.overflowBase { return (e / Int32(Self.slotsPerRecord), next[Int(e)]) }
        let o = Int(e - Self.overflowBase)
        return (overflowMember[o], overflowNext[o])
    }

    /// Calls `body` with every record of a block (most recently added first).
    @inline(__always) func forEach(_ key: UInt64, _ body: (Int32) -> Void) {
        let s = slot(Self.stored(key))
        guard s.found else { return }
        var e = heads[s.index]
        while e >= 0 {
            let (record, following) = entry(e)
            body(record)
            e = following
        }
    }

    /// The records of a block in the order they were added.
    func members(_ key: UInt64) -> [Int32] {
        var out: [Int32] = []
        forEach(key) { out.append($0) }
        return out.reversed()
    }

    /// Adds record `i` to a block unless it is full or already holds it.
    mutating func add(_ key: UInt64, _ i: Int32) {
        let key = Self.stored(key)
        var s = slot(key)
        if !s.found {
            if used + 1 > limit {
                grow(to: keys.count + keys.count / 2)
                s = slot(key)
            }
            keys[s.index] = key
            used += 1
        } else {
            if Int(sizes[s.index]) >= capacity { return }
            var e = heads[s.index]
            while e >= 0 {
                let (record, following) = entry(e)
                if record == i { return }
                e = following
            }
        }
        heads[s.index] = newEntry(record: i, next: heads[s.index])
        sizes[s.index] += 1
    }

    /// A new chain entry of record `i` in front of `following`: the record's next own slot, else an overflow entry.
    private mutating func newEntry(record i: Int32, next following: Int32) -> Int32 {
        let r = Int(i)
        if r >= slotsUsed.count {
            precondition(r < Int(Self.overflowBase) / Self.slotsPerRecord, "block index above 107 M records")
            slotsUsed.append(contentsOf: repeatElement(0, count: r + 1 - slotsUsed.count))
            next.append(contentsOf: repeatElement(-1, count: slotsUsed.count * Self.slotsPerRecord - next.count))
        }
        let used = Int(slotsUsed[r])
        if used < Self.slotsPerRecord {
            let e = r * Self.slotsPerRecord + used
            next[e] = following
            slotsUsed[r] += 1
            return Int32(e)
        }
        overflowNext.append(following)
        overflowMember.append(i)
        return Self.overflowBase + Int32(overflowMember.count - 1)
    }

    /// Makes room for `records` more records' entries and `keys` more distinct keys without reallocating (more
    /// keys than that grow the table by half).
    mutating func reserve(records: Int, keys more: Int = 0) {
        slotsUsed.reserveCapacity(slotsUsed.count + records)
        next.reserveCapacity(next.count + records * Self.slotsPerRecord)
        let needed = used + more
        if needed > limit { grow(to: needed / 4 * 5 + 5) }
    }

    private mutating func grow(to n: Int) {
        let oldKeys = keys
        let oldHeads = heads
        let oldSizes = sizes
        keys = Array(repeating: 0, count: n)
        heads = Array(repeating: -1, count: n)
        sizes = Array(repeating: 0, count: n)
        limit = Self.limit(slots: n)
        for k in oldKeys.indices where oldKeys[k] != 0 {
            let s = slot(oldKeys[k])
            keys[s.index] = oldKeys[k]
            heads[s.index] = oldHeads[k]
            sizes[s.index] = oldSizes[k]
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
