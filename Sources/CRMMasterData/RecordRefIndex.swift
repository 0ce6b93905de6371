// CRMMasterData — the graph's record references: by record index, and an index by reference.

/// Every record's reference by index, and record index by reference through an open-addressing (linear
/// probing) table of indices: a reference is stored once (in `refs`), the table costs 4 bytes a slot at most half
/// full. A `Dictionary<RecordRef, Int32>` would hold every reference a second time (36 bytes a bucket at ¾ load).
struct RecordRefIndex: Sendable {
    /// References by record index (removed records keep theirs until `clear`).
    private(set) var refs: [RecordRef] = []
    /// Record indices by hash slot; `empty` and `deleted` mark free slots.
    private var slots = [Int32](repeating: empty, count: 16)
    /// Slots not `empty` (live or deleted).
    private var used = 0

    private static let empty: Int32 = -1
    private static let deleted: Int32 = -2

    /// The number of records (removed ones included).
    var count: Int { refs.count }

    /// The index of the record indexed under `ref`.
    subscript(_ ref: RecordRef) -> Int32? {
        let s = find(ref)
        return s.found ? slots[s.slot] : nil
    }

    /// Adds `ref` as record `count` and indexes it (replacing an earlier record indexed under it).
    mutating func append(_ ref: RecordRef) -> Int32 {
        let i = Int32(refs.count)
        refs.append(ref)
        let s = find(ref)
        if !s.found && slots[s.slot] == Self.empty { used += 1 }
        slots[s.slot] = i
        if used * 2 > slots.count { rehash(to: slots.count * 2) }
        return i
    }

    /// Removes `ref` from the index (its record keeps the reference).
    mutating func remove(_ ref: RecordRef) {
        let s = find(ref)
        if s.found { slots[s.slot] = Self.deleted }
    }

    /// Forgets record `i`'s reference (erasure); call `remove` first.
    mutating func clear(_ i: Int32) { refs[Int(i)] = RecordRef(system: "", externalId: "") }

    /// Makes room for `n` more records without rehashing.
    mutating func reserve(_ n: Int) {
        refs.reserveCapacity(refs.count + n)
        var size = slots.count
        while (used + n) * 2 > size { size *= 2 }
        if size > slots.count { rehash(to: size) }
    }

    /// The slot holding `ref` (`found`), or the free slot where it would go: the first deleted slot on its
    /// probe path, else the empty slot that ends it.
    private func find(_ ref: RecordRef) -> (slot: Int, found: Bool) {
        let mask = slots.count - 1
        var slot = ref.hashValue & mask
        var free = -1
        while true {
            let i = slots[slot]
            if i == Self.empty { return (free >= 0 ? free : slot, false) }
            if i == Self.deleted {
                if free < 0 { free = slot }
            } else if refs[Int(i)] == ref {
                return (slot, true)
            }
            slot = (slot + 1) & mask
        }
    }

    private mutating func rehash(to size: Int) {
        let old = slots
        slots = [Int32](repeating: Self.empty, count: size)
        used = 0
        let mask = size - 1
        for i in old where i >= 0 {
            var slot = refs[Int(i)].hashValue & mask
            while slots[slot] != Self.empty { slot = (slot + 1) & mask }
            slots[slot] = i
            used += 1
        }
    }
}
