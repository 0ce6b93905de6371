// CRMMasterData — a synthetic, labelled CRM customer generator for evaluating resolution.

import CRMNormalize
import Foundation

/// Generates customer records with ground truth: several source records per person with typos, nicknames,
/// swapped first/last names, missing fields, e-mail and phone variants, people who moved, household members
/// (same family name, address and home phone; different person) and same-name strangers, in five locales.
/// Deterministic for a seed.
public struct SyntheticCustomers: Sendable {
    /// A generated record and the person it belongs to.
    public struct Row: Sendable {
        public var record: CustomerRecord
        public var personId: Int
    }

    public var seed: UInt64
    public init(seed: UInt64) { self.seed = seed }

    /// Generates about `count` records (exactly `count`).
    public func generate(count: Int) -> [Row] {
        var rng = SplitMix64(seed: seed)
        var rows: [Row] = []
        rows.reserveCapacity(count)
        var persons: [Person] = []
        var nextPerson = 0
        var mailboxes = Set<String>()  // a mailbox belongs to one person (households share one on purpose)
        while rows.count < count {
            var p: Person
            var sharedMailbox = false
            let roll = rng.unit()
            if roll < 0.12, let other = persons.randomElement(using: &rng) {
                p = household(of: other, id: nextPerson, &rng)  // spouse, child, sibling
                sharedMailbox = p.email == other.email
            } else if roll < 0.17, let other = persons.randomElement(using: &rng) {
                var s = person(id: nextPerson, &rng)  // same-name stranger
                s.given = other.given
                s.family = other.family
                s.locale = other.locale
                p = s
            } else {
                p = person(id: nextPerson, &rng)
            }
            if !sharedMailbox {
                var e = p.email
                while mailboxes.contains(EmailMatching.key(e) ?? e) {
                    e = e.replacingFirst("@", with: String(rng.next() % 10) + "@")
                }
                mailboxes.insert(EmailMatching.key(e) ?? e)
                p.email = e
            }
            nextPerson += 1
            if persons.count < 50_000 { persons.append(p) } else { persons[Int(rng.next() % 50_000)] = p }
            // 1 to 4 records per person, mean ≈ 1.9.
            let n = 1 + (rng.unit() < 0.55 ? 1 : 0) + (rng.unit() < 0.25 ? 1 : 0) + (rng.unit() < 0.1 ? 1 : 0)
            for k in 0..<n where rows.count < count {
                rows.append(Row(record: variant(p, k, rowId: rows.count, &rng), personId: p.id))
            }
        }
        return rows
    }

    /// Writes `count` labelled rows as CSV (id,person_id,system,given_name,…,updated_at).
    public func writeCSV(count: Int, to path: String) throws {
        let rows = generate(count: count)
        var text =
            "id,person_id,system,given_name,family_name,email,phone,street,city,postcode,country,date_of_birth,updated_at\n"
        text.reserveCapacity(count * 160)
        for row in rows {
            let r = row.record
            let fields = [
                r.externalId, String(row.personId), r.system, r.givenName ?? "", r.familyName ?? "", r.email ?? "",
                r.phone ?? "", r.street ?? "", r.city ?? "", r.postcode ?? "", r.country ?? "", r.dateOfBirth ?? "",
                r.updatedAt.map(String.init) ?? "",
            ]
            text += fields.map(CSVTable.escape).joined(separator: ",") + "\n"
        }
        guard FileManager.default.createFile(atPath: path, contents: Data(text.utf8)) else {
            throw MasterDataError(.input, "cannot write \(path)")
        }
    }

    struct Person {
        var id: Int
        var locale: Locale
        var given: String
        var family: String
        var dob: (Int, Int, Int)?
        var email: String
        var mobile: String
        var home: String?
        var street: String
        var city: String
        var postcode: String
        var movedStreet: String
        var movedCity: String
        var movedPostcode: String
    }

    struct Locale {
        var country: String
        var given: [String]
        var family: [String]
        var streets: [String]
        var streetType: [String]
        var cities: [String]
        var dial: String
    }

    static let locales: [Locale] = [
        Locale(
            country: "GB",
            given: [
                "James", "Oliver", "Harry", "Jack", "George", "William", "Thomas", "Charles", "Daniel", "Michael",
                "Robert", "Richard", "Christopher", "Matthew", "Andrew", "Olivia", "Amelia", "Emily", "Sophie", "Grace",
                "Elizabeth", "Margaret", "Katherine", "Rebecca", "Jennifer", "Susan", "Victoria", "Charlotte", "Hannah",
                "Lucy",
            ],
            family: [
                "Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Johnson", "Davies", "Robinson", "Wright",
                "Thompson", "Evans", "Walker", "White", "Roberts", "Green", "Hall", "Wood", "Jackson", "Clarke",
            ],
            streets: ["High", "Station", "Church", "Victoria", "Park", "Mill", "Queens", "Kings", "Manor", "Chapel"],
            streetType: ["Street", "Road", "Lane", "Avenue", "Close"],
            cities: ["London", "Leeds", "Bristol", "Manchester", "York", "Bath", "Oxford"], dial: "44"),
        Locale(
            country: "DE",
            given: [
                "Lukas", "Leon", "Jonas", "Felix", "Maximilian", "Paul", "Johannes", "Wolfgang", "Friedrich", "Stefan",
                "Anna", "Lena", "Sophie", "Marie", "Katharina", "Julia", "Laura", "Sarah", "Jürgen", "Jörg", "Björn",
                "Günter",
            ],
            family: [
                "Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker", "Schulz", "Hoffmann",
                "Schäfer", "Koch", "Bauer", "Richter", "Klein", "Wolf", "Schröder", "Neumann",
            ],
            streets: ["Haupt", "Schul", "Garten", "Bahnhof", "Dorf", "Berg", "Linden", "Kirch", "Wald", "Ring"],
            streetType: ["straße", "weg", "platz"],
            cities: ["Berlin", "München", "Hamburg", "Köln", "Stuttgart", "Leipzig", "Dresden"], dial: "49"),
        Locale(
            country: "FR",
            given: [
                "Jean", "Pierre", "Michel", "Nicolas", "Guillaume", "Antoine", "Louis", "Hugo", "Thomas", "Théo",
                "Marie", "Camille", "Léa", "Chloé", "Manon", "Inès", "Élodie", "Amélie", "Céline", "Hélène",
            ],
            family: [
                "Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit", "Durand", "Leroy", "Moreau",
                "Simon", "Laurent", "Lefèbvre", "Michel", "Garcia", "Roux", "Fournier", "Girard",
            ],
            streets: [
                "de la Paix", "Victor Hugo", "Pasteur", "de la République", "Jean Jaurès", "des Lilas", "du Moulin",
            ],
            streetType: ["Rue", "Avenue", "Boulevard"],
            cities: ["Paris", "Lyon", "Marseille", "Toulouse", "Nantes", "Lille", "Nice"], dial: "33"),
        Locale(
            country: "US",
            given: [
                "John", "Michael", "David", "James", "Robert", "William", "Joseph", "Anthony", "Steven", "Patrick",
                "Mary", "Patricia", "Jennifer", "Linda", "Elizabeth", "Barbara", "Jessica", "Deborah", "Ashley",
                "Emily",
            ],
            family: [
                "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez", "Martinez",
                "Hernandez", "Lopez", "Wilson", "Anderson", "Taylor", "Moore", "Jackson", "Lee",
            ],
            streets: ["Main", "Oak", "Pine", "Maple", "Cedar", "Elm", "Washington", "Lake", "Hill", "Sunset"],
            streetType: ["Street", "Avenue", "Drive", "Boulevard", "Road"],
            cities: ["Springfield", "Austin", "Denver", "Portland", "Boston", "Chicago", "Seattle"], dial: "1"),
        Locale(
            country: "ES",
            given: [
                "José", "Antonio", "Manuel", "Francisco", "David", "Javier", "Alejandro", "Carlos", "Miguel", "Pablo",
                "María", "Carmen", "Ana", "Laura", "Lucía", "Isabel", "Marta", "Elena", "Sofía", "Paula",
            ],
            family: [
                "García", "Fernández", "González", "Rodríguez", "López", "Martínez", "Sánchez", "Pérez", "Gómez",
                "Martín", "Jiménez", "Ruiz", "Hernández", "Díaz", "Moreno", "Muñoz", "Álvarez",
            ],
            streets: ["Mayor", "Real", "del Sol", "de la Iglesia", "Nueva", "del Carmen", "San José", "de Goya"],
            streetType: ["Calle", "Avenida"],
            cities: ["Madrid", "Barcelona", "Valencia", "Sevilla", "Bilbao", "Málaga", "Zaragoza"], dial: "34"),
    ]

    static let syllables = [
        "ka", "ren", "vo", "lin", "ber", "tan", "mo", "ri", "sel", "dor", "wen", "gar", "fi", "lo",
        "hal", "ste", "nu", "bra", "kel", "zan", "ol", "mar", "ut", "ev", "pra", "dus", "quin", "ham", "tor", "sa",
    ]
    static let nicknamesOf: [String: [String]] = [
        "William": ["Bill", "Will"], "Robert": ["Bob", "Rob"], "Richard": ["Rick", "Dick"], "James": ["Jim", "Jimmy"],
        "Michael": ["Mike", "Mick"], "Thomas": ["Tom", "Tommy"], "Christopher": ["Chris"], "Daniel": ["Dan", "Danny"],
        "Matthew": ["Matt"], "Andrew": ["Andy", "Drew"], "Elizabeth": ["Liz", "Beth", "Betty"],
        "Margaret": ["Maggie", "Peggy"],
        "Katherine": ["Kate", "Kathy"], "Rebecca": ["Becky"], "Jennifer": ["Jen", "Jenny"], "Susan": ["Sue"],
        "Victoria": ["Vicky"], "Johannes": ["Hans"], "Friedrich": ["Fritz"], "Katharina": ["Kathrin"], "José": ["Pepe"],
        "Francisco": ["Paco"], "John": ["Jack", "Johnny"], "Joseph": ["Joe"], "Anthony": ["Tony"], "Steven": ["Steve"],
        "Patrick": ["Pat"], "Patricia": ["Patty", "Trish"], "Deborah": ["Debbie"], "David": ["Dave"],
        "Charles": ["Charlie"],
        "Alejandro": ["Alex"], "Nicolas": ["Nico"], "Guillaume": ["Guy"],
    ]
    static let domains = [
        "gmail.com", "yahoo.com", "outlook.com", "gmx.de", "web.de", "orange.fr", "hotmail.com", "icloud.com",
    ]

    func person(id: Int, _ rng: inout SplitMix64) -> Person {
        let loc = Self.locales[Int(rng.next() % UInt64(Self.locales.count))]
        let given = loc.given[zipf(loc.given.count, &rng)]
        // Half of the people carry a common family name (Zipf), half a rarer generated one.
        let family: String
        if rng.unit() < 0.5 {
            family = loc.family[zipf(loc.family.count, &rng)]
        } else {
            let n = 2 + Int(rng.next() % 2)
            let raw = (0..<n).map { _ in Self.syllables[Int(rng.next() % UInt64(Self.syllables.count))] }.joined()
            family = raw.prefix(1).uppercased() + raw.dropFirst()
        }
        let dob: (Int, Int, Int)? =
            rng.unit() < 0.9 ? (1940 + Int(rng.next() % 65), 1 + Int(rng.next() % 12), 1 + Int(rng.next() % 28)) : nil
        let (street, city, postcode) = address(loc, &rng)
        let (ms, mc, mp) = address(loc, &rng)
        let local =
            fold(given) + [".", "_", ""][Int(rng.next() % 3)] + fold(family)
            + (rng.unit() < 0.4 ? String(rng.next() % 100) : "")
        return Person(
            id: id, locale: loc, given: given, family: family, dob: dob,
            email: local + "@" + Self.domains[Int(rng.next() % UInt64(Self.domains.count))],
            mobile: digits(9, &rng), home: rng.unit() < 0.5 ? digits(9, &rng) : nil, street: street, city: city,
            postcode: postcode, movedStreet: ms, movedCity: mc, movedPostcode: mp)
    }

    func household(of o: Person, id: Int, _ rng: inout SplitMix64) -> Person {
        var p = person(id: id, &rng)
        p.locale = o.locale
        p.given = o.locale.given[Int(rng.next() % UInt64(o.locale.given.count))]
        if p.given == o.given {
            p.given = o.locale.given[(o.locale.given.firstIndex(of: o.given)! + 1) % o.locale.given.count]
        }
        p.family = o.family
        p.street = o.street
        p.city = o.city
        p.postcode = o.postcode
        p.home = o.home ?? o.mobile  // shared landline
        if rng.unit() < 0.3 { p.email = o.email }  // shared family mailbox
        return p
    }

    func address(_ loc: Locale, _ rng: inout SplitMix64) -> (String, String, String) {
        let name = loc.streets[Int(rng.next() % UInt64(loc.streets.count))]
        let type = loc.streetType[Int(rng.next() % UInt64(loc.streetType.count))]
        let no = String(1 + rng.next() % 200)
        let street: String
        switch loc.country {
        case "DE": street = name + type + " " + no
        case "FR", "ES": street = no + ", " + type + " " + name
        default: street = no + " " + name + " " + type
        }
        let city = loc.cities[Int(rng.next() % UInt64(loc.cities.count))]
        let pc: String
        switch loc.country {
        case "GB":
            let letters = Array("ABCDEFGHJKLMNPRSTUWY")
            let l = { (r: inout SplitMix64) in String(letters[Int(r.next() % UInt64(letters.count))]) }
            pc = l(&rng) + l(&rng) + String(1 + rng.next() % 20) + " " + String(rng.next() % 10) + l(&rng) + l(&rng)
        case "US": pc = String(10000 + rng.next() % 89999)
        default: pc = String(10000 + rng.next() % 89999)
        }
        return (street, city, pc)
    }

    func variant(_ p: Person, _ k: Int, rowId: Int, _ rng: inout SplitMix64) -> CustomerRecord {
        let systems = ["crm", "shop", "support", "billing"]
        var given = p.given
        var family = p.family
        if k > 0 {
            if rng.unit() < 0.15, let nicks = Self.nicknamesOf[given] {
                given = nicks[Int(rng.next() % UInt64(nicks.count))]
            }
            if rng.unit() < 0.08 { given = typo(given, &rng) }
            if rng.unit() < 0.08 { family = typo(family, &rng) }
            if rng.unit() < 0.05 { given = String(given.prefix(1)) + "." }
            if rng.unit() < 0.03 { swap(&given, &family) }
        }
        switch Int(rng.next() % 4) {
        case 0:
            given = given.uppercased()
            family = family.uppercased()
        case 1:
            given = fold(given).capitalizedFirst
            family = fold(family).capitalizedFirst  // diacritics lost
        default: break
        }
        var email: String? = p.email
        if k > 0 {
            let r = rng.unit()
            if r < 0.1 {
                email = email!.uppercased()
            } else if r < 0.18 {
                email = email!.replacingFirst("@", with: "+shop@")
            } else if r < 0.25, email!.hasSuffix("gmail.com") {
                email = email!.replacingFirst(".", with: "")
            } else if r < 0.4 {
                email =
                    fold(given) + String(rng.next() % 1000) + "@"
                    + Self.domains[Int(rng.next() % UInt64(Self.domains.count))]
            }
        }
        if rng.unit() < 0.2 { email = nil }
        var phone: String? = (k > 0 && rng.unit() < 0.3) ? p.home : p.mobile
        if let ph = phone {
            phone = rng.unit() < 0.5 ? "+" + p.locale.dial + " " + ph : "0" + ph
        }
        if rng.unit() < 0.25 { phone = nil }
        var dob: String? = nil
        if let (y, m, d) = p.dob, rng.unit() < 0.8 {
            var (mm, dd) = (m, d)
            if k > 0, rng.unit() < 0.03 { (mm, dd) = (d <= 12 ? d : m, d <= 12 ? m : d) }
            switch Int(rng.next() % 3) {
            case 0: dob = "\(y)-\(pad(mm))-\(pad(dd))"
            case 1: dob = "\(pad(dd)).\(pad(mm)).\(y)"
            default: dob = "\(pad(dd))/\(pad(mm))/\(y)"
            }
        }
        let moved = k > 0 && rng.unit() < 0.2
        var street: String? = moved ? p.movedStreet : p.street
        if let s = street, rng.unit() < 0.3 { street = abbreviate(s) }
        if rng.unit() < 0.15 { street = nil }
        return CustomerRecord(
            system: systems[Int(rng.next() % UInt64(systems.count))], externalId: "r\(rowId)", givenName: given,
            familyName: family, email: email, phone: phone, street: street, city: moved ? p.movedCity : p.city,
            postcode: moved ? p.movedPostcode : p.postcode, country: p.locale.country, dateOfBirth: dob,
            updatedAt: 1_600_000_000 + Int64(rng.next() % 100_000_000))
    }

    func typo(_ s: String, _ rng: inout SplitMix64) -> String {
        var c = Array(s)
        guard c.count > 3 else { return s }
        let i = 1 + Int(rng.next() % UInt64(c.count - 2))
        switch Int(rng.next() % 4) {
        case 0: c[i] = Character(String(UnicodeScalar(UInt8(97 + rng.next() % 26))))
        case 1: c.remove(at: i)
        case 2: c.insert(c[i], at: i)
        default: c.swapAt(i, i + 1)
        }
        return String(c)
    }

    func abbreviate(_ s: String) -> String {
        s.replacingFirst("Street", with: "St").replacingFirst("Road", with: "Rd").replacingFirst("Avenue", with: "Ave")
            .replacingFirst("straße", with: "str.").replacingFirst("Boulevard", with: "Bd")
    }

    func zipf(_ n: Int, _ rng: inout SplitMix64) -> Int {
        // P(i) ∝ 1/(i+1): a few very common values and a tail.
        let h = (1...n).reduce(0.0) { $0 + 1 / Double($1) }
        var x = rng.unit() * h
        for i in 0..<n {
            x -= 1 / Double(i + 1)
            if x <= 0 { return i }
        }
        return n - 1
    }

    func digits(_ n: Int, _ rng: inout SplitMix64) -> String {
        "7" + String((1..<n).map { _ in Character(String(rng.next() % 10)) })
    }

    func pad(_ v: Int) -> String { v < 10 ? "0\(v)" : "\(v)" }

    func fold(_ s: String) -> String {
        NameMatchingFold.ascii(s)
    }
}

/// A small, fast, seedable generator (SplitMix64).
public struct SplitMix64: RandomNumberGenerator, Sendable {
    var state: UInt64
    public init(seed: UInt64) { state = seed }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func unit() -> Double { Double(next() >> 11) / Double(1 << 53) }
}

enum NameMatchingFold {
    static func ascii(_ s: String) -> String { NameMatching.fold(s).replacingOccurrences(of: " ", with: "") }
}

extension String {
    var capitalizedFirst: String { prefix(1).uppercased() + dropFirst() }
    func replacingFirst(_ target: String, with r: String) -> String {
        guard let range = range(of: target) else { return self }
        return replacingCharacters(in: range, with: r)
    }
}
