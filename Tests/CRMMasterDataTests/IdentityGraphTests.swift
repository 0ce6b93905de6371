import Testing

@testable import CRMMasterData

@Suite("Identity graph")
struct IdentityGraphTests {
    @Test("variants of one person join one golden record; a stranger gets another")
    func joins() {
        var g = IdentityGraph()
        let r1 = g.resolve(
            person(
                "1", "Katherine", "Okafor", email: "kate.okafor@gmail.com", phone: "+44 7700 900555", dob: "1985-11-02")
        )
        let r2 = g.resolve(
            person("2", "Kate", "Okafor", email: "kateokafor@googlemail.com", dob: "02/11/1985", system: "shop"))
        let r3 = g.resolve(
            person("3", "Katherine", "Okafor", phone: "07700 900555", street: "3 Mill Lane", system: "support"))
        let r4 = g.resolve(person("4", "Peter", "Zhang", email: "pz@x.com", dob: "1990-01-01"))
        #expect(r1.decision == .created)
        #expect(r2.decision == .joined && r2.goldenId == r1.goldenId)
        #expect(r3.decision == .joined && r3.goldenId == r1.goldenId)
        #expect(r4.goldenId != r1.goldenId)
        #expect(g.goldenCount == 2)
        #expect(g.goldenIds(email: "Kate.Okafor+news@gmail.com") == [r1.goldenId])
        #expect(g.goldenIds(phone: "+447700900555") == [r1.goldenId])
        #expect(g.goldenId(for: RecordRef(system: "shop", externalId: "2")) == r1.goldenId)
        #expect(g.goldenIds(givenName: "okafor", familyName: "Katherine") == [r1.goldenId])
    }

    @Test("clusters do not chain: a record must match the whole cluster, not one member")
    func noChaining() {
        var g = IdentityGraph()
        // A and B: one person (same e-mail, dob). C shares B's phone only but conflicts with A's birth date.
        let a = g.resolve(person("a", "Sam", "Green", email: "sam.green@web.de", dob: "1975-04-19"))
        let b = g.resolve(person("b", "Samuel", "Green", email: "sam.green@web.de", phone: "01632 960777"))
        let c = g.resolve(person("c", "Sam", "Green", phone: "01632 960777", dob: "2001-08-30"))
        #expect(b.goldenId == a.goldenId)
        #expect(c.goldenId != a.goldenId)
    }

    @Test("one odd member does not keep a person's later records out; a conflict with half the cluster does")
    func oddMember() {
        var g = IdentityGraph()
        func record(_ id: String, _ given: String, _ family: String, dob: String) -> CustomerRecord {
            person(id, given, family, street: "11 Macfarland Crescent", city: "Ryde", postcode: "3220", dob: dob)
        }
        let original = g.resolve(record("org", "Tahni", "Murton", dob: "1923-11-10"))
        // A copy whose family name was replaced, and a mistyped one: both still this person.
        let replaced = g.resolve(record("dup-1", "Tahni", "Skeen", dob: "1923-11-10"))
        let mistyped = g.resolve(record("dup-2", "Tahni", "Murto", dob: "1923-11-10"))
        #expect(replaced.goldenId == original.goldenId && mistyped.goldenId == original.goldenId)
        // A copy with a replaced birth date: held apart from the odd member (family name and birth date differ)
        // but not from the other two.
        let wrongDate = g.resolve(record("dup-0", "Tahni", "Murton", dob: "1950-09-09"))
        #expect(wrongDate.goldenId == original.goldenId)
        // Another person of the household (given name and birth date differ) is held apart from every member.
        let sister = g.resolve(record("sister", "Ruby", "Murton", dob: "1926-02-14"))
        #expect(sister.goldenId != original.goldenId)
    }

    @Test("two fragments of a person merge when one member of the larger conflicts with the smaller; households do not")
    func fragmentsOfOnePerson() {
        var g = IdentityGraph()
        func record(_ id: String, _ given: String?, _ family: String, dob: String?) -> CustomerRecord {
            person(id, given, family, street: "11 Macfarland Crescent", city: "Ryde", postcode: "3220", dob: dob)
        }
        let original = g.resolve(record("org", "Tahni", "Murton", dob: "1923-11-10"))
        let wrongDate = g.resolve(record("dup-0", "Tahni", "Murton", dob: "1950-09-09"))
        #expect(wrongDate.goldenId == original.goldenId)
        // A copy with a replaced family name conflicts with the copy with a replaced birth date (two fields
        // differ): one of two members, so it starts a fragment of its own.
        let replaced = g.resolve(record("dup-1", "Tahni", "Skeen", dob: "1923-11-10"))
        #expect(replaced.goldenId != original.goldenId)
        // A later copy agrees with both fragments. The fragment's only member conflicts with one of the other
        // fragment's three members: a minority, so the two become one, as a single record would have joined.
        let copy = g.resolve(record("dup-2", "Tahni", "Murton", dob: "1923-11-10"))
        #expect(copy.goldenId == original.goldenId)
        #expect(g.goldenId(for: RecordRef(system: "crm", externalId: "dup-1")) == original.goldenId)
        // The sister (given name and birth date differ) conflicts with every member: a record that agrees with both
        // (no given name, no birth date, same family name and address) does not bridge them.
        let sister = g.resolve(record("sister", "Ruby", "Murton", dob: "1926-02-14"))
        #expect(sister.goldenId != original.goldenId)
        _ = g.resolve(record("unnamed", nil, "Murton", dob: nil))
        #expect(g.goldenId(for: RecordRef(system: "crm", externalId: "sister")) == sister.goldenId)
        #expect(g.goldenId(for: RecordRef(system: "crm", externalId: "org")) == original.goldenId)
        #expect(sister.goldenId != original.goldenId)
    }

    @Test("a shared switchboard number and a placeholder e-mail do not merge hundreds of people")
    func frequentValues() {
        var g = IdentityGraph()
        var rng = SplitMix64(seed: 4)
        func name() -> String { String((0..<7).map { _ in Character(UnicodeScalar(UInt8(97 + rng.next() % 26))) }) }
        for i in 0..<300 {
            _ = g.resolve(
                person("\(i)", name(), name(), email: "test@test.com", phone: "+44 20 7946 0000", country: "GB"))
        }
        #expect(g.goldenCount == 300)
    }

    @Test("garbage input never crashes and never merges")
    func garbage() {
        var g = IdentityGraph()
        var rng = SplitMix64(seed: 99)
        let alphabet = Array("aZ09 .,;@+-_/'\"\\\u{0}é漢🙂\n\t")
        func junk() -> String? {
            if rng.next() % 5 == 0 { return nil }
            return String((0..<Int(rng.next() % 30)).map { _ in alphabet[Int(rng.next() % UInt64(alphabet.count))] })
        }
        for i in 0..<2_000 {
            _ = g.resolve(
                CustomerRecord(
                    system: "junk", externalId: "\(i)", givenName: junk(), familyName: junk(), email: junk(),
                    phone: junk(),
                    street: junk(), city: junk(), postcode: junk(), country: junk(), dateOfBirth: junk()))
        }
        #expect(g.recordCount == 2_000)
        #expect(g.goldenCount > 1_900)
    }

    @Test("merge then unmerge restores both golden records with their ids and members")
    func mergeUnmerge() throws {
        var g = IdentityGraph()
        let a = g.resolve(person("a", "Lena", "Vogel", email: "lena@vogel.de", country: "DE"))
        let b = g.resolve(person("b", "Lena", "Vogel", email: "lv@other.de", phone: "+49 30 1234567", country: "DE"))
        #expect(a.goldenId != b.goldenId)
        try g.merge(a.goldenId, b.goldenId)
        #expect(g.goldenId(for: b.ref) == a.goldenId)
        #expect(g.canonicalGoldenId(b.goldenId) == a.goldenId)
        #expect(g.members(of: a.goldenId).count == 2)
        #expect(g.goldenCount == 1)
        try g.unmerge(b.goldenId)
        #expect(g.goldenId(for: b.ref) == b.goldenId)
        #expect(g.goldenId(for: a.ref) == a.goldenId)
        #expect(g.members(of: b.goldenId).map(\.ref) == [b.ref])
        #expect(g.goldenCount == 2)
        #expect(throws: MasterDataError.self) { try g.unmerge(b.goldenId) }
    }

    @Test("a detached record does not rejoin the golden record it was taken from")
    func detach() throws {
        var g = IdentityGraph()
        let a = g.resolve(person("a", "Omar", "Haddad", email: "omar.h@gmail.com", dob: "1988-02-14"))
        let b = g.resolve(person("b", "Omar", "Haddad", email: "omar.h@gmail.com", dob: "1988-02-14"))
        #expect(b.goldenId == a.goldenId)
        let (from, to) = try g.detach(b.ref)
        #expect(from == a.goldenId && to != a.goldenId)
        let again = g.resolve(person("b", "Omar", "Haddad", email: "omar.h@gmail.com", dob: "1988-02-14"))
        #expect(again.decision == .updated && again.goldenId == to)
    }

    @Test("golden ids are stable across runs over the same input")
    func stableIds() {
        var g1 = IdentityGraph()
        var g2 = IdentityGraph()
        let rows = SyntheticCustomers(seed: 3).generate(count: 500)
        for r in rows {
            _ = g1.resolve(r.record)
            _ = g2.resolve(r.record)
        }
        #expect(rows.allSatisfy { g1.goldenId(for: $0.record.ref) == g2.goldenId(for: $0.record.ref) })
    }

    @Test("erasure removes the person from lookups")
    func erase() throws {
        var g = IdentityGraph()
        let a = g.resolve(person("a", "Ines", "Roux", email: "ines@roux.fr", country: "FR"))
        let refs = try g.erase(a.goldenId)
        #expect(refs == [a.ref])
        #expect(g.goldenIds(email: "ines@roux.fr").isEmpty)
        #expect(g.golden(a.goldenId) == nil)
        #expect(g.recordCount == 0)
    }
}

@Suite("Survivorship")
struct SurvivorshipTests {
    @Test("each attribute follows its declared rule")
    func rules() {
        var c = ResolverConfiguration()
        c.survivorship = [
            .email: .mostRecent, .givenName: .mostTrustedSource(["crm", "shop"]), .street: .mostComplete,
        ]
        let members = [
            person("1", "Bill", "Hart", email: "old@x.com", street: "1 Elm St", system: "shop", updatedAt: 100),
            person(
                "2", "William", "Hart", email: "new@x.com", street: "1 Elm Street, Flat 2", system: "crm", updatedAt: 50
            ),
            person("3", "Billy", "Hart", email: "newest@x.com", street: nil, system: "support", updatedAt: 200),
        ]
        let g = GoldenRecord.build(id: "G1", members: members, configuration: c)
        #expect(g.attributes[.email] == "newest@x.com")
        #expect(g.attributes[.givenName] == "William")
        #expect(g.provenance[.givenName] == RecordRef(system: "crm", externalId: "2"))
        #expect(g.attributes[.street] == "1 Elm Street, Flat 2")
        #expect(g.members.count == 3)
        #expect(g.updatedAt == 200)
    }

    @Test("the second address line comes from the record that gave the street, not from another member")
    func secondLineFollowsStreet() throws {
        let members = [
            person("1", "Ann", "Lee", street: "12 Quay Road", street2: "Flat 4", updatedAt: 10),
            person("2", "Ann", "Lee", street: "3 Mill Lane", updatedAt: 30),
            person("3", "Ann", "Lee", street: nil, street2: "Rose Cottage", updatedAt: 20),
        ]
        let newest = GoldenRecord.build(id: "G", members: members, configuration: ResolverConfiguration())
        #expect(newest.attributes[.street] == "3 Mill Lane")
        #expect(newest.attributes[.street2] == nil)  // record 2 has one line; record 3's line is not its address
        var c = ResolverConfiguration()
        c.survivorship = [.street: .mostComplete]
        let complete = GoldenRecord.build(id: "G", members: members, configuration: c)
        #expect(complete.attributes[.street] == "12 Quay Road")
        #expect(complete.attributes[.street2] == "Flat 4")
        #expect(complete.provenance[.street2] == RecordRef(system: "crm", externalId: "1"))
        c.survivorship[.street2] = .mostRecent
        #expect(throws: MasterDataError.self) { try c.validate() }
    }

    @Test("consent follows the most recent member that states it")
    func consent() {
        var a = person("1", "A", "B", updatedAt: 10)
        a.consent = ["marketing_email": true]
        var b = person("2", "A", "B", updatedAt: 20)
        b.consent = ["marketing_email": false]
        let g = GoldenRecord.build(id: "G", members: [a, b], configuration: ResolverConfiguration())
        #expect(!g.hasConsent("marketing_email"))
    }
}
