// CRMMasterData — interned text in one byte arena: value ↔ dense 32-bit id without `String` objects.
//
// The graph interns about three distinct values per record (e-mail key, its local part, phone key), nearly all
// different: a million records are three million strings. As `String`s in a `Dictionary` plus an array they cost
// ~100 bytes each (heap object, dictionary bucket at ¾ load, array slot); here a value costs its UTF-8 bytes, a
// 4-byte end offset and two 4-byte table slots (the table is kept at most half full).

internal import CMemoryHints

/// Interned UTF-8 strings: the bytes of all values in one arena, an end offset per id, and an open-addressing
/// (linear probing) table of ids keyed by a 64-bit hash of the bytes. Id 0 is reserved: the empty placeholder,
/// which interning "" yields only when `emptyIsValue` (otherwise "" gets an id of its own, as in `ValuePool`).
struct TextPool: Sendable {
    /// The values' bytes, back to back.
    private var bytes: [UInt8] = []
    /// Value `id` spans `ends[id - 1] ..< ends[id]`; `ends[0] == 0` is the placeholder (empty).
    private var ends: [UInt32] = [0]
    /// Ids by hash slot; 0 marks an empty slot (the placeholder is never stored in the table). While ids fit in 24
    /// bits (`tagged`), the top 8 bits of an entry are 8 bits of its value's hash: a probe passes over other values
    /// without reading their ends and bytes (two cache misses each in a pool of a million values).
    private var table: [UInt32] = Array(repeating: 0, count: 64)
    private var tagged = true
    private let emptyIsValue: Bool

    init(emptyIsValue: Bool = false, untaggedFrom: Int = 1 << 24) {
        precondition(untaggedFrom <= 1 << 24, "tagged ids have 24 bits")
        self.emptyIsValue = emptyIsValue
        self.untaggedFrom = untaggedFrom
    }

    /// Number of ids (the placeholder included).
    var count: Int { ends.count }

    /// The id of `value`, adding it if new.
    mutating func intern(_ value: String) -> UInt32 {
        var value = value
        return value.withUTF8 { intern($0) }
    }

    /// The id of the UTF-8 text `value`, adding it if new.
    mutating func intern(_ value: UnsafeBufferPointer<UInt8>) -> UInt32 {
        if value.isEmpty && emptyIsValue { return 0 }
        let h = Self.hash(value)
        let probe = find(value, h)
        if probe.id != 0 { return probe.id }
        precondition(bytes.count + value.count < Int(UInt32.max), "text pool above 4 GiB")
        let id = UInt32(ends.count)
        bytes.append(contentsOf: value)
        ends.append(UInt32(bytes.count))
        table[probe.slot] = entry(id, h)
        if ends.count * 2 > table.count {
            grow()
        } else if tagged && ends.count >= untaggedFrom {
            // The next id needs more than 24 bits: the table keeps whole ids from now on.
            rebuild(size: table.count)
        }
        return id
    }

    /// Starts loading the table slot where interning `value` begins its search (a hint for a call a little later).
    func prefetch(_ value: String) {
        var value = value
        let slot = value.withUTF8 { Int(truncatingIfNeeded: Self.hash($0)) } & (table.count - 1)
        table.withUnsafeBufferPointer { crm_prefetch($0.baseAddress! + slot) }
    }

    /// The id of `value` if the pool holds it.
    func id(_ value: String) -> UInt32? {
        var value = value
        return value.withUTF8 { p in
            if p.isEmpty && emptyIsValue { return 0 }
            let id = find(p, Self.hash(p)).id
            return id == 0 ? nil : id
        }
    }

    /// The value of `id` as a `String` (allocates for values above 15 bytes: not for hot paths).
    subscript(_ id: UInt32) -> String {
        withBytes(id) { String(decoding: $0, as: UTF8.self) }
    }

    /// The UTF-8 length of value `id`.
    @inline(__always) func length(_ id: UInt32) -> Int {
        id == 0 ? 0 : Int(ends[Int(id)] - ends[Int(id) - 1])
    }

    /// Calls `body` with the bytes of value `id`. The buffer is valid only inside `body`.
    @inline(__always) func withBytes<R>(_ id: UInt32, _ body: (UnsafeBufferPointer<UInt8>) -> R) -> R {
        let lo = id == 0 ? 0 : Int(ends[Int(id) - 1])
        let hi = Int(ends[Int(id)])
        // Invariant: 0 ≤ lo ≤ hi ≤ bytes.count (ends only grow and every end was bytes.count when appended), so
        // the rebased slice lies inside the arena; the pointer does not escape `withUnsafeBufferPointer`.
        return bytes.withUnsafeBufferPointer { all in body(UnsafeBufferPointer(rebasing: all[lo..<hi])) }
    }

    /// The slot holding `value` (`id` ≠ 0) or the empty slot where it would go (`id` == 0).
    private func find(_ value: UnsafeBufferPointer<UInt8>, _ h: UInt64) -> (slot: Int, id: UInt32) {
        let mask = table.count - 1
        var slot = Int(truncatingIfNeeded: h) & mask
        return bytes.withUnsafeBufferPointer { arena in
            let tag = tagged ? Self.tag(h) : 0
            while true {
                let e = table[slot]
                if e == 0 { return (slot, 0) }
                guard !tagged || e & ~Self.idMask == tag else {
                    slot = (slot + 1) & mask
                    continue
                }
                let id = tagged ? e & Self.idMask : e
                let lo = Int(ends[Int(id) - 1])
                let hi = Int(ends[Int(id)])
                if hi - lo == value.count {
                    // Invariant as in `withBytes`: lo..<hi lies inside the arena.
                    var k = 0
                    while k < value.count && arena[lo + k] == value[k] { k += 1 }
                    if k == value.count { return (slot, id) }
                }
                slot = (slot + 1) & mask
            }
        }
    }

    /// Ids from which entries are whole ids (no tag): ids from 2^24 need all 32 bits (lower in tests).
    private let untaggedFrom: Int
    /// The id bits of a tagged entry.
    private static let idMask: UInt32 = 0x00FF_FFFF

    /// The tag bits of a value with hash `h` (the top 8; the slot comes from the low bits).
    @inline(__always) private static func tag(_ h: UInt64) -> UInt32 { UInt32(truncatingIfNeeded: h >> 56) << 24 }

    /// The table entry of `id`, whose value hashes to `h`.
    @inline(__always) private func entry(_ id: UInt32, _ h: UInt64) -> UInt32 {
        tagged ? id | Self.tag(h) : id
    }

    /// Doubles the table and re-inserts every id.
    private mutating func grow() { rebuild(size: table.count * 2) }

    /// Re-inserts every id into a table of `size` slots (hashes are recomputed from the arena), untagged once the
    /// ids reach `untaggedFrom`.
    private mutating func rebuild(size: Int) {
        if ends.count >= untaggedFrom { tagged = false }
        var fresh = [UInt32](repeating: 0, count: size)
        let mask = size - 1
        bytes.withUnsafeBufferPointer { arena in
            for id in 1..<ends.count {
                // Invariant as in `withBytes`.
                let value = UnsafeBufferPointer(rebasing: arena[Int(ends[id - 1])..<Int(ends[id])])
                let h = Self.hash(value)
                var slot = Int(truncatingIfNeeded: h) & mask
                while fresh[slot] != 0 { slot = (slot + 1) & mask }
                fresh[slot] = entry(UInt32(id), h)
            }
        }
        table = fresh
    }

    /// FNV-1a over the bytes, finished with the SplitMix64 mixer (so the low bits used as slot are well spread).
    @inline(__always) static func hash(_ p: UnsafeBufferPointer<UInt8>) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in p {
            h ^= UInt64(b)
            h = h &* 0x0000_0100_0000_01B3
        }
        h = (h ^ (h >> 30)) &* 0xBF58_476D_1CE4_E5B9
        h = (h ^ (h >> 27)) &* 0x94D0_49BB_1331_11EB
        return h ^ (h >> 31)
    }
}
