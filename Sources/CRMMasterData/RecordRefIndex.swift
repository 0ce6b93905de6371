// CRMMasterData — the graph's record references: by record index, and an index by reference.

/// Every record's reference by index, and record index by reference through an open-addressing (linear
/// probing) table of indices. References are stored once, packed (`RecordRefs`: the external id's UTF-8 bytes in
/// one arena, a 4-byte end offset and a 4-byte source-system number a record — about 15 bytes for a short id
/// instead of a 32-byte `RecordRef`); the table costs 4 bytes a slot at most half full. A
/// `Dictionary<RecordRef, Int32>` would hold every reference a second time (36 bytes a bucket at ¾ load).
/// References are compared by their UTF-8 bytes (as the stores compare them).
struct RecordRefIndex: Sendable {
    /// References by record index (removed records keep theirs until `clear`).
    private(set) var refs = RecordRefs()
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

    /// An index of `refs` as records `0 ..< refs.count`, or nil when a reference repeats.
    init?(newReferences refs: some Collection<RecordRef>) {
        reserve(refs.count)
        for ref in refs where !appendNew(ref) { return nil }
    }

    init() {}

    /// Adds `ref` as record `count` and indexes it (replacing an earlier record indexed under it).
    mutating func append(_ ref: RecordRef) -> Int32 {
        let i = Int32(refs.count)
        _ = appendNew(ref)
        return i
    }

    /// `append`, telling whether `ref` was new (false: an earlier record was indexed under it, and no longer is).
    mutating func appendNew(_ ref: RecordRef) -> Bool {
        let i = Int32(refs.count)
        // Appended first: a new system gets its number, which the slot hash includes.
        refs.append(ref)
        let s = find(ref)
        if !s.found && slots[s.slot] == Self.empty { used += 1 }
        slots[s.slot] = i
        if used * 2 > slots.count { rehash(to: slots.count * 2) }
        return !s.found
    }

    /// Removes `ref` from the index (its record keeps the reference).
    mutating func remove(_ ref: RecordRef) {
        let s = find(ref)
        if s.found { slots[s.slot] = Self.deleted }
    }

    /// Forgets record `i`'s reference (erasure): it reads as `RecordRef(system: "", externalId: "")` from then
    /// on. Call `remove` first.
    mutating func clear(_ i: Int32) { refs.clear(Int(i)) }

    /// Makes room for `n` more records without rehashing.
    mutating func reserve(_ n: Int) {
        refs.reserve(n)
        var size = slots.count
        while (used + n) * 2 > size { size *= 2 }
        if size > slots.count { rehash(to: size) }
    }

    /// The slot holding `ref` (`found`), or the free slot where it would go: the first deleted slot on its
    /// probe path, else the empty slot that ends it.
    private func find(_ ref: RecordRef) -> (slot: Int, found: Bool) {
        let mask = slots.count - 1
        let system = refs.systemNumber(ref.system)
        var id = ref.externalId
        return id.withUTF8 { bytes in
            var slot = Int(truncatingIfNeeded: RecordRefs.hash(system ?? 0, bytes)) & mask
            var free = -1
            while true {
                let i = slots[slot]
                if i == Self.empty { return (free >= 0 ? free : slot, false) }
                if i == Self.deleted {
                    if free < 0 { free = slot }
                } else if let system, refs.equals(Int(i), system, bytes) {
                    return (slot, true)
                }
                slot = (slot + 1) & mask
            }
        }
    }

    private mutating func rehash(to size: Int) {
        let old = slots
        slots = [Int32](repeating: Self.empty, count: size)
        used = 0
        let mask = size - 1
        for i in old where i >= 0 {
            var slot = Int(truncatingIfNeeded: refs.hash(Int(i))) & mask
            while slots[slot] != Self.empty { slot = (slot + 1) & mask }
            slots[slot] = i
            used += 1
        }
    }
}

/// Record references by record index, packed: each external id's UTF-8 bytes back to back in one arena with an
/// end offset, and the source system as a number into the list of systems (a graph usually sees a handful, but the
/// system comes from the input, so any number of them must work).
struct RecordRefs: RandomAccessCollection, Sendable {
    /// The external ids' bytes, back to back.
    private var bytes: [UInt8] = []
    /// Record `i`'s id spans `ends[i - 1] ..< ends[i]` (from 0 for record 0).
    private var ends: [UInt32] = []
    /// Per record, its system's number in `systems`; `erased` for a reference forgotten by `clear`.
    private var systemOf: [UInt32] = []
    /// The distinct source systems, in the order first seen.
    private var systems: [String] = []
    /// Each system's number in `systems`.
    private var numbers: [String: UInt32] = [:]

    private static let erased = UInt32.max

    var startIndex: Int { 0 }
    var endIndex: Int { ends.count }

    /// Record `i`'s reference.
    subscript(_ i: Int) -> RecordRef {
        let s = systemOf[i]
        if s == Self.erased { return RecordRef(system: "", externalId: "") }
        return RecordRef(system: systems[Int(s)], externalId: withBytes(i) { String(decoding: $0, as: UTF8.self) })
    }

    /// The number of a source system, if any reference has it.
    func systemNumber(_ system: String) -> UInt32? { numbers[system] }

    /// Appends a reference.
    mutating func append(_ ref: RecordRef) {
        let s: UInt32
        if let n = numbers[ref.system] {
            s = n
        } else {
            s = UInt32(systems.count)  // below `erased`: fewer systems than records, whose indices are 32-bit
            systems.append(ref.system)
            numbers[ref.system] = s
        }
        bytes.append(contentsOf: ref.externalId.utf8)
        precondition(bytes.count < Int(UInt32.max), "record ids above 4 GiB")
        ends.append(UInt32(bytes.count))
        systemOf.append(s)
    }

    /// Makes room for `n` more references (their ids' bytes are not known ahead).
    mutating func reserve(_ n: Int) {
        ends.reserveCapacity(ends.count + n)
        systemOf.reserveCapacity(systemOf.count + n)
    }

    /// Forgets reference `i`: its id's bytes are overwritten and it reads as empty.
    mutating func clear(_ i: Int) {
        let lo = i == 0 ? 0 : Int(ends[i - 1])
        for k in lo..<Int(ends[i]) { bytes[k] = 0 }
        systemOf[i] = Self.erased
    }

    /// Whether reference `i` has system number `system` and an external id of exactly these bytes.
    @inline(__always) func equals(_ i: Int, _ system: UInt32, _ id: UnsafeBufferPointer<UInt8>) -> Bool {
        guard systemOf[i] == system else { return false }
        return withBytes(i) { $0.elementsEqual(id) }
    }

    /// The slot hash of reference `i` (as `hash(_:_:)` of its system number and id bytes).
    func hash(_ i: Int) -> UInt64 { withBytes(i) { Self.hash(systemOf[i], $0) } }

    /// FNV-1a over the system number and the id's bytes, finished with the SplitMix64 mixer.
    @inline(__always) static func hash(_ system: UInt32, _ id: UnsafeBufferPointer<UInt8>) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325 ^ UInt64(system)
        for b in id {
            h = h &* 0x0000_0100_0000_01B3
            h ^= UInt64(b)
        }
        h = (h ^ (h >> 30)) &* 0xBF58_476D_1CE4_E5B9
        h = (h ^ (h >> 27)) &* 0x94D0_49BB_1331_11EB
        return h ^ (h >> 31)
    }

    /// Calls `body` with the bytes of reference `i`'s external id (valid only inside `body`).
    @inline(__always) func withBytes<R>(_ i: Int, _ body: (UnsafeBufferPointer<UInt8>) -> R) -> R {
        let lo = i == 0 ? 0 : Int(ends[i - 1])
        let hi = Int(ends[i])
        // 0 ≤ lo ≤ hi ≤ bytes.count: ends only grow and each was bytes.count when appended.
        return bytes.withUnsafeBufferPointer { body(UnsafeBufferPointer(rebasing: $0[lo..<hi])) }
    }
}
