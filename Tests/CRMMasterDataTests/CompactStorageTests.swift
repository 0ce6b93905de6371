import Testing

@testable import CRMMasterData

/// The graph's compact storage types keep the behaviour of the dictionaries and arrays they replaced.
@Suite("Compact storage")
struct CompactStorageTests {
    @Test("text pool: equal text gets one id, ids survive growth, the empty placeholder is respected")
    func textPool() {
        var pool = TextPool()
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
}
