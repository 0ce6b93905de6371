import Testing

@testable import CRMMasterData

/// The graph's compact storage types keep the behaviour of the dictionaries and arrays they replaced.
@Suite("Compact storage")
struct CompactStorageTests {
    @Test(
        "text pool: equal text gets one id, ids survive growth and the switch from tagged to whole-id slots, the empty placeholder is respected",
        arguments: [1 << 24, 700, 1]
    )
    func textPool(untaggedFrom: Int) {
        var pool = TextPool(untaggedFrom: untaggedFrom)
        var ids: [String: UInt32] = [:]
        for k in 0..<5_000 {
            let s = k % 7 == 0 ? "long-value-\(k % 1_000)@example.org" : "v\(k % 2_000)"
            let id = pool.intern(s)
            if let earlier = ids[s] { #expect(earlier == id) }
            ids[s] = id
        }
        #expect(pool.count == ids.count + 1)
        for (s, id) in ids {
            #expect(pool[id] == s)
            #expect(pool.id(s) == id)
            #expect(pool.length(id) == s.utf8.count)
        }
        #expect(pool.id("absent") == nil)
        #expect(pool.intern("") != 0)
        var numbers = TextPool(emptyIsValue: true)
        #expect(numbers.intern("") == 0)
        #expect(numbers.id("") == 0)
        #expect(numbers[0] == "")
    }

    @Test("record references: lookup, removal, replacement and growth")
    func recordRefs() {
        var index = RecordRefIndex()
        let refs = (0..<3_000).map { RecordRef(system: $0 % 2 == 0 ? "crm" : "shop", externalId: "r\($0)") }
        for (k, r) in refs.enumerated() { #expect(index.append(r) == Int32(k)) }
        for (k, r) in refs.enumerated() { #expect(index[r] == Int32(k)) }
        index.remove(refs[10])
        #expect(index[refs[10]] == nil)
        #expect(index[refs[11]] == 11)
        #expect(index.append(refs[10]) == 3_000)
        #expect(index[refs[10]] == 3_000)
        index.remove(refs[12])
        index.clear(12)
        #expect(index.refs[12] == RecordRef(system: "", externalId: ""))
        #expect(index[RecordRef(system: "crm", externalId: "missing")] == nil)
    }

    @Test("record references: the source system comes from the input, so any number of systems works")
    func manySystems() {
        var index = RecordRefIndex()
        let refs = (0..<70_000).map { RecordRef(system: "system-\($0)", externalId: "1") }
        for (k, r) in refs.enumerated() { #expect(index.append(r) == Int32(k)) }
        #expect(index[refs[69_999]] == 69_999)
        #expect(index.refs[65_536] == refs[65_536])
        #expect(index[RecordRef(system: "system-70000", externalId: "1")] == nil)
    }

    @Test("golden ids: made ids round-trip through 64 bits, other ids stay text; clusters are found by either")
    func goldenIds() {
        let ref = RecordRef(system: "crm", externalId: "42")
        let id = GoldenId.make(ref)
        #expect(id.utf8.count == 17)
        #expect(GoldenId.parse(id) == GoldenId.hash(ref))
        #expect(GoldenKey(id) == .hashed(GoldenId.hash(ref)))
        #expect(GoldenKey(id).id == id)
        #expect(GoldenId.format(0) == "G0000000000000000")
        for other in ["G123", "g0000000000000000", "G000000000000000A", "customer-7", ""] {
            #expect(GoldenKey(other) == .text(other))
            #expect(GoldenKey(other).id == other)
        }
        var table = ClusterTable()
        for n in 0..<3 { #expect(table.append(.hashed(UInt64(n)), alive: true) == Int32(n)) }
        #expect(table.append(GoldenKey(id), alive: true) == 3)
        #expect(table.append(GoldenKey("customer-7"), alive: false) == 4)
        #expect(table[GoldenKey(id)] == 3)
        #expect(table["customer-7"] == 4)
        #expect(table[3].goldenId == id && table[3].alive)
        #expect(table[4].goldenId == "customer-7" && !table[4].alive)
        #expect(table["G0000000000000000"] == 0)
        #expect(table["G0000000000000009"] == nil && table["customer-8"] == nil)
        table[3].alive = false
        #expect(!table[3].alive && table[GoldenKey(id)] == 3)
        for n in 5..<3_000 { #expect(table.append(.hashed(UInt64(n) &* 0x9E37_79B9), alive: true) == Int32(n)) }
        #expect(table[GoldenKey(id)] == 3 && table["customer-7"] == 4 && table[.hashed(2_999 &* 0x9E37_79B9)] == 2_999)
    }

    @Test("member chains keep join order through append, move, rewrite and emptying")
    func memberChains() {
        var chains = MemberChains()
        for _ in 0..<10 { chains.addRecord() }
        for _ in 0..<3 { chains.addCluster() }
        for i: Int32 in [0, 2, 4] { chains.append(i, to: 0) }
        for i: Int32 in [1, 3] { chains.append(i, to: 1) }
        #expect(chains.members(0) == [0, 2, 4])
        chains.moveAll(from: 1, to: 0)
        #expect(chains.members(0) == [0, 2, 4, 1, 3])
        #expect(chains.count(0) == 5)
        #expect(chains.members(1).isEmpty && chains.count(1) == 0)
        chains.set(0, chains.members(0).filter { $0 != 4 })
        chains.set(2, [4])
        #expect(chains.members(0) == [0, 2, 1, 3])
        #expect(chains.members(2) == [4])
        chains.append(5, to: 1)
        chains.moveAll(from: 2, to: 1)
        #expect(chains.members(1) == [5, 4])
        #expect(chains.first(1) == 5 && chains.next(after: 5) == 4 && chains.next(after: 4) == MemberChains.end)
        chains.moveAll(from: 2, to: 0)
        #expect(chains.members(0) == [0, 2, 1, 3])
    }

    @Test("block index: keys sharing a 32-bit fingerprint stay apart, overflow entries keep their keys, growth")
    func blockFingerprints() {
        var index = BlockIndex(capacity: 10)
        // The key of each record's own entry by kind, as the graph would recompute it from the record's features.
        var own: [Int32: [Int: UInt64]] = [:]
        func slot(_ key: UInt64) -> BlockIndex.Slot { index.find(key) { own[$0]?[$1] ?? 0 } }
        func add(_ key: UInt64, _ r: Int32, kind: Int, own isOwn: Bool = true) {
            if isOwn { own[r, default: [:]][kind] = key }
            index.add(key, r, kind: kind, own: isOwn, at: slot(key))
        }
        func members(_ key: UInt64) -> [Int32] { index.members(slot(key)) }
        let high: UInt64 = 0xDEAD_BEEF_0000_0000
        add(high | 1, 0, kind: 1)
        add(high | 2, 1, kind: 1)
        add(high | 1, 2, kind: 2)
        add(1, 3, kind: 4)  // top 32 bits zero
        #expect(members(high | 1) == [0, 2])
        #expect(members(high | 2) == [1])
        #expect(members(1) == [3])
        #expect(!slot(high | 3).found)
        // A replaced record's new key goes to the overflow area with its key; its own entries keep theirs.
        add(high | 1, 1, kind: 1, own: false)
        add(high | 3, 1, kind: 2, own: false)
        #expect(members(high | 1) == [0, 2, 1])
        #expect(members(high | 2) == [1])
        #expect(members(high | 3) == [1])
        // A full block takes no more records; the table grows and keeps every block.
        for r: Int32 in 4..<20 { add(high | 2, r, kind: 3) }
        #expect(members(high | 2) == [1] + Array(4..<13))
        var state: UInt64 = 7
        var keys: [UInt64] = []
        for r: Int32 in 20..<5_000 {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            keys.append(state)
            add(state, r, kind: 5)
        }
        #expect(index.growths > 0)
        for (n, k) in keys.enumerated() { #expect(members(k) == [Int32(n + 20)]) }
        #expect(members(high | 1) == [0, 2, 1] && members(high | 3) == [1] && members(1) == [3])
    }
}
