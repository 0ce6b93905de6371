import CRMMasterDataPostgres
import CRMTestSupport
import Foundation
import Testing

@testable import CRMMasterData

/// Three variants of each of `count` people (CRM: name, e-mail, phone, birth date; shop: e-mail in other case, phone
/// in national format; CTI: phone with 0049). A single resolver joins each person's three into one golden record,
/// whatever order they arrive in.
func sharedPeople(_ count: Int) -> [[CustomerRecord]] {
    let given = ["Anna", "Jonas", "Lea", "Felix", "Mia", "Paul", "Emma", "Noah", "Lina", "Elias"]
    let family = ["Becker", "Schulz", "Wagner", "Hoffmann", "Koch", "Richter", "Klein", "Wolf", "Neumann", "Braun"]
    return (0..<count).map { i in
        let g = given[i % given.count]
        let f = family[(i / given.count) % family.count] + (i < 100 ? "" : "-\(i / 100)")
        let email = "\(g).\(f).\(i)@posteo.de".lowercased()
        let digits = String(format: "%07d", 1_000_000 + i * 7919 % 9_000_000)
        return [
            CustomerRecord(
                system: "crm", externalId: "c\(i)", givenName: g, familyName: f, email: email,
                phone: "+49 151 \(digits)",
                country: "DE", dateOfBirth: "1980-01-\(String(format: "%02d", i % 28 + 1))"),
            CustomerRecord(
                system: "shop", externalId: "s\(i)", givenName: g, familyName: f, email: email.uppercased(),
                phone: "0151 \(digits)",
                country: "DE"),
            CustomerRecord(
                system: "cti", externalId: "t\(i)", givenName: g, familyName: f, email: email,
                phone: "0049 151 \(digits)",
                country: "DE"),
        ]
    }
}

/// Golden ids by person index, from what the store holds.
func goldenIdsByPerson(_ snapshot: MasterDataSnapshot, people: [[CustomerRecord]]) -> [Set<String>] {
    var byRef: [RecordRef: String] = [:]
    for m in snapshot.members { byRef[m.record.ref] = m.goldenId }
    return people.map { variants in Set(variants.compactMap { byRef[$0.ref] }) }
}

/// Resolves `people` on `instances` resolvers concurrently: variant k of person i goes to instance (i + k) mod n,
/// so every person's variants arrive at different instances at about the same time.
func resolveConcurrently(_ people: [[CustomerRecord]], on resolvers: [MasterDataResolver]) async throws {
    let n = resolvers.count
    var queues: [[CustomerRecord]] = Array(repeating: [], count: n)
    for (i, variants) in people.enumerated() {
        for (k, r) in variants.enumerated() { queues[(i + k) % n].append(r) }
    }
    try await withThrowingTaskGroup(of: Void.self) { group in
        for (resolver, queue) in zip(resolvers, queues) {
            group.addTask {
                for record in queue { try await resolver.resolve(record) }
            }
        }
        try await group.waitForAll()
    }
}

@Suite("Shared master data on PostgreSQL")
struct SharedResolutionTests {
    @Test(
        "one resolver joins each person's three variants into one golden record in any order (the data is resolvable)")
    func baseline() async throws {
        let people = sharedPeople(100)
        for reversed in [false, true] {
            let store = InMemoryMasterDataStore()
            let resolver = try await MasterDataResolver(store: store)
            for variants in people {
                for r in reversed ? variants.reversed() : variants { try await resolver.resolve(r) }
            }
            let ids = goldenIdsByPerson(await store.load(), people: people)
            #expect(ids.allSatisfy { $0.count == 1 })
            #expect(Set(ids.flatMap { $0 }).count == people.count)
        }
    }

    @Test(
        "three hub instances on one PostgreSQL create exactly one golden record per person when they resolve concurrently"
    )
    func concurrentInstances() async throws {
        let people = sharedPeople(100)
        let url = try await offPool { try PostgresServer.shared().createDatabase() }
        var stores: [PostgresMasterDataStore] = []
        for _ in 0..<3 { stores.append(try await PostgresMasterDataStore(url: url)) }
        var resolvers: [MasterDataResolver] = []
        for s in stores { resolvers.append(try await MasterDataResolver(store: s)) }

        let started = ContinuousClock.now
        try await resolveConcurrently(people, on: resolvers)
        let elapsed = ContinuousClock.now - started
        print("shared resolution: \(people.count * 3) records on 3 instances in \(elapsed)")

        let snapshot = try await stores[0].load()
        #expect(snapshot.members.count == people.count * 3)  // no lost records
        let ids = goldenIdsByPerson(snapshot, people: people)
        let split = ids.enumerated().filter { $0.element.count != 1 }.map(\.offset)
        #expect(split.isEmpty, "people split over several golden records: \(split)")
        #expect(Set(ids.flatMap { $0 }).count == people.count)
        // Every golden record's body was built from all its members (joins into one golden record are serialised).
        for (i, id) in ids.enumerated() {
            guard let id = id.first else { continue }
            let golden = try await stores[1].golden(id: id)
            #expect(Set(golden?.members ?? []) == Set(people[i].map(\.ref)))
        }
        // An instance started afterwards sees one golden record per person.
        let late = try await MasterDataResolver(store: stores[2])
        #expect(await late.counts.goldens == people.count)
        for s in stores { await s.close() }
    }

    @Test("without resolution locks the same instances create a golden record per variant")
    func uncoordinatedInstancesDuplicate() async throws {
        let people = sharedPeople(30)
        let url = try await offPool { try PostgresServer.shared().createDatabase() }
        var configuration = try PostgresMasterDataStore.Configuration(url: url)
        configuration.coordinatesResolvers = false
        var stores: [PostgresMasterDataStore] = []
        for _ in 0..<3 { stores.append(try await PostgresMasterDataStore(configuration: configuration)) }
        var resolvers: [MasterDataResolver] = []
        for s in stores { resolvers.append(try await MasterDataResolver(store: s)) }
        // No change-feed polling either: this shows the race that resolution locks close.
        for r in resolvers { await r.setChangePollInterval(.seconds(3600)) }
        try await resolveConcurrently(people, on: resolvers)
        let ids = goldenIdsByPerson(try await stores[0].load(), people: people)
        // Each instance only knows its own records, and every person's variants went to three instances.
        #expect(ids.allSatisfy { $0.count == 3 })
        for s in stores { await s.close() }
    }

    @Test("an instance resolving a record another instance stored updates it and sees erasures made elsewhere")
    func refreshAcrossInstances() async throws {
        let url = try await offPool { try PostgresServer.shared().createDatabase() }
        let s1 = try await PostgresMasterDataStore(url: url)
        let s2 = try await PostgresMasterDataStore(url: url)
        let a = try await MasterDataResolver(store: s1)
        let b = try await MasterDataResolver(store: s2)
        let first = try await a.resolve(person("1", "Ana", "Ruiz", email: "ana@ruiz.es", country: "ES"))
        // b never loaded it, yet updates the same record instead of creating a second golden record.
        let again = try await b.resolve(
            person("1", "Ana", "Ruiz", email: "ana@ruiz.es", phone: "+34 600 123 456", country: "ES"))
        #expect(again.decision == .updated && again.goldenId == first.goldenId)
        #expect(try await s1.golden(id: first.goldenId)?.attributes[.phone] == "+34 600 123 456")
        // a erases the person; b, resolving a new variant, does not join the erased golden record.
        try await a.erase(goldenId: first.goldenId, actor: "dpo")
        let after = try await b.resolve(person("2", "Ana", "Ruiz", email: "ana@ruiz.es", country: "ES", system: "shop"))
        #expect(after.decision == .created && after.goldenId != first.goldenId)
        #expect(await b.counts.goldens == 1)
        await s1.close()
        await s2.close()
    }

    @Test("erasing on one instance also erases the records another instance joined to that golden record")
    func erasureCoversOtherInstancesJoins() async throws {
        let url = try await offPool { try PostgresServer.shared().createDatabase() }
        let s1 = try await PostgresMasterDataStore(url: url)
        let s2 = try await PostgresMasterDataStore(url: url)
        let a = try await MasterDataResolver(store: s1)
        let b = try await MasterDataResolver(store: s2)
        let x = try await a.resolve(person("1", "Ana", "Ruiz", email: "ana@ruiz.es", country: "ES"))
        let y = try await b.resolve(
            person("2", "Ana", "Ruiz", email: "ana@ruiz.es", phone: "+34 600 123 456", country: "ES", system: "shop"))
        #expect(y.decision == .joined && y.goldenId == x.goldenId)
        // a never saw shop/2, yet its erasure takes it too (the golden record's members are read under its lock).
        try await a.erase(goldenId: x.goldenId, actor: "dpo")
        #expect(try await s2.goldenId(for: y.ref) == nil)
        #expect(try await s2.load().members.isEmpty)
        #expect(try await s2.golden(id: x.goldenId) == nil)
        await s1.close()
        await s2.close()
    }

    @Test("blocking keys as text are the keys the graph hashes; lock keys are stable")
    func stableKeys() {
        let r = person(
            "1", "Jonas", "Becker", email: "Jonas.Becker@gmx.de", phone: "+49 171 2345678", postcode: "10115",
            country: "DE", dob: "1990-05-06")
        let f = MatchFeatures(r)
        let graph = IdentityGraph()
        #expect(IdentityGraph.blockingKeyParts(f).map { BlockKey.hash($0.kind, $0.value) } == graph.blockingKeys(f))
        #expect(IdentityGraph.resolutionKeys(for: r).contains("e:jonas.becker@gmx.de"))
        #expect(ResolutionLockKey.hash("e:jonas.becker@gmx.de") == ResolutionLockKey.hash("e:jonas.becker@gmx.de"))
        #expect(ResolutionLockKey.hash("") == Int64(bitPattern: 0xcbf2_9ce4_8422_2325))
    }

    @Test("a PostgreSQL URL gives host, port, user, decoded password, database and TLS mode")
    func configurationFromURL() throws {
        let c = try PostgresMasterDataStore.Configuration(
            url: "postgres://hub:p%40ss@db.internal:6543/crm?sslmode=require")
        #expect(c.host == "db.internal" && c.port == 6543 && c.username == "hub" && c.password == "p@ss")
        #expect(c.database == "crm" && c.tls == .require)
        #expect(throws: MasterDataError.self) { try PostgresMasterDataStore.Configuration(url: "mysql://x@y/z") }
        #expect(
            PostgresMasterDataStore.Configuration.redacted("postgres://hub:secret@h/db").contains("secret") == false)
    }
}
