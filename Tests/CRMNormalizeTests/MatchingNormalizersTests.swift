import Testing

@testable import CRMNormalize

@Suite("Matching normalisers")
struct MatchingNormalizersTests {
    @Test(
        "names fold case, diacritics and punctuation",
        arguments: [
            ("  José-María  GARCÍA ", "jose maria garcia"), ("Müller", "muller"), ("Straße", "strasse"),
            ("Øster", "oster"),
            ("O'Neil", "o neil"), ("!!!", ""), ("Łukasz", "lukasz"),
        ])
    func fold(_ raw: String, _ expected: String) {
        #expect(NameMatching.fold(raw) == expected)
    }

    @Test("given-name keys map nicknames onto the canonical name and drop placeholders")
    func givenKeys() {
        #expect(NameMatching.givenKey("Bill") == "william")
        #expect(NameMatching.givenKey("WILLIAM") == "william")
        #expect(NameMatching.givenKey("Bob Jr.") == "robert")
        #expect(NameMatching.givenKey("test") == nil)
        #expect(NameMatching.givenKey("  ") == nil)
        #expect(NameMatching.familyKey("O'Neil") == "oneil")
        #expect(NameMatching.familyKey("van der Berg") == "vanderberg")
        #expect(NameMatching.initialCompatible("j", "john"))
        #expect(!NameMatching.initialCompatible("j", "mary"))
        #expect(!NameMatching.initialCompatible("jane", "john"))
    }

    @Test("nickname table is deterministic for names with two candidates")
    func nicknameDeterminism() {
        // "chris" is a nickname of christine and christopher; the sorted table picks the first canonical name.
        #expect(NameMatching.nicknames["chris"] == "christine")
    }

    @Test(
        "e-mail keys drop plus-tags, Gmail dots and map googlemail",
        arguments: [
            ("John.Smith+shop@GMail.com", "johnsmith@gmail.com"), ("j.o.h.n@googlemail.com", "john@gmail.com"),
            ("anna.b+x@web.de", "anna.b@web.de"), (" ann@b.co ", "ann@b.co"),
        ])
    func emailKeys(_ raw: String, _ expected: String) {
        #expect(EmailMatching.key(raw) == expected)
    }

    @Test(
        "placeholder and malformed e-mails have no key",
        arguments: [
            "test@test.com", "noreply@shop.com", "no-reply@x.org", "someone@example.com", "not-an-email", "a@b",
            "@x.com", "a b@c.de",
        ])
    func emailPlaceholders(_ raw: String) {
        #expect(EmailMatching.key(raw) == nil)
    }

    @Test("street keys abbreviate street types in several languages")
    func streets() {
        #expect(PostalAddress.streetKey("12 Main Street") == "12 main st")
        #expect(PostalAddress.streetKey("12 main st.") == "12 main st")
        #expect(PostalAddress.streetKey("Hauptstraße 5") == "hauptstr 5")
        #expect(PostalAddress.streetKey("Hauptstr. 5") == "hauptstr 5")
        #expect(PostalAddress.streetKey("3, Avenue Victor Hugo") == "3 ave victor hugo")
    }

    @Test(
        "postcodes take the country's format",
        arguments: [
            ("sw1a1aa", "GB", "SW1A 1AA"), ("SW1A 1AA", "GB", "SW1A 1AA"), ("1234ab", "NL", "1234 AB"),
            ("12345-6789", "US", "12345"),
            ("10115", "DE", "10115"), ("1011", "DE", nil), ("k1a0b1", "CA", "K1A 0B1"),
        ] as [(String, String, String?)])
    func postcodes(_ raw: String, _ country: String, _ expected: String?) {
        #expect(PostalAddress.postcode(raw, country: country) == expected)
    }

    @Test("text in Latin scalars (below U+0180) folds scalar by scalar exactly as through Character folding")
    func latinFoldFastPath() {
        var rng = SystemRandomNumberGenerator()
        let scalars = (0..<0x180).compactMap(UnicodeScalar.init)
        var samples =
            scalars.map { String(Character($0)) } + ["Hauptstraße 5", "İstiklal Cd.", "\r\nŒuvre  ", "O'Néil"]
        for _ in 0..<5_000 {
            var s = String.UnicodeScalarView()
            for _ in 0..<Int.random(in: 0...10, using: &rng) {
                // Mostly letters, spaces and punctuation of the Latin blocks, with CR, LF and apostrophes.
                s.append(
                    Bool.random(using: &rng)
                        ? scalars.randomElement(using: &rng)! : ["\r", "\n", "'", " ", "a"].randomElement(using: &rng)!)
            }
            samples.append(String(s))
        }
        for raw in samples {
            for join in [false, true] {
                #expect(
                    NameMatching.fold(raw, joinApostrophes: join)
                        == NameMatching.generalFold(raw, joinApostrophes: join),
                    "\(raw.unicodeScalars.map(\.value)) join \(join)")
            }
        }
        // Text with other scalars takes the general path.
        #expect(NameMatching.latinFold("Ζωή", joinApostrophes: false) == nil)
        #expect(NameMatching.fold("Ζωή") == "ζωη")
    }

    @Test("postcodes in ASCII are compacted on their bytes exactly as through Character properties")
    func asciiPostcodeFastPath() {
        var rng = SystemRandomNumberGenerator()
        var samples = (0..<128).map { String(UnicodeScalar(UInt8($0))) } + ["sw1a 1aa", "SW1A-1AA", "\r\n12 34\t", ""]
        for _ in 0..<5_000 {
            samples.append(
                String(
                    (0..<Int.random(in: 0...12, using: &rng)).map { _ in
                        Character(UnicodeScalar(UInt8.random(in: 0...127, using: &rng)))
                    }))
        }
        for raw in samples {
            #expect(
                PostalAddress.compactPostcode(raw) == PostalAddress.generalCompactPostcode(raw), "\(Array(raw.utf8))")
        }
        #expect(PostalAddress.compactPostcode("ß1") == PostalAddress.generalCompactPostcode("ß1"))
    }

    @Test("addresses normalise countries by name")
    func address() {
        let a = PostalAddress(street: "1 High Street", city: "LONDON", postcode: "sw1a1aa", country: "uk")
        #expect(a.country == "GB")
        #expect(a.postcode == "SW1A 1AA")
        #expect(a.city == "london")
    }

    @Test("dates of birth read several formats and flag day/month ambiguity")
    func dates() throws {
        let iso = try #require(DateOfBirth.parse("1980-03-07"))
        #expect(iso.date.description == "1980-03-07" && !iso.dayMonthAmbiguous)
        let de = try #require(DateOfBirth.parse("07.03.1980"))
        #expect(de.date == iso.date && de.dayMonthAmbiguous)
        let us = try #require(DateOfBirth.parse("03/07/1980", monthFirst: true))
        #expect(us.date == iso.date)
        let unambiguous = try #require(DateOfBirth.parse("25/12/1980"))
        #expect(unambiguous.date.description == "1980-12-25" && !unambiguous.dayMonthAmbiguous)
        #expect(DateOfBirth.parse("19800307")?.date == iso.date)
        #expect(DateOfBirth.parse("1980-03-07T10:00:00Z")?.date == iso.date)
        #expect(DateOfBirth(year: 1980, month: 7, day: 3)!.isDayMonthSwap(of: iso.date))
    }

    @Test(
        "absurd and placeholder dates are rejected",
        arguments: [
            "1980-02-30", "31/04/1990", "1850-01-01", "2999-01-01", "1900-01-01", "1970-01-01", "yesterday", "", "1/2",
        ])
    func badDates(_ raw: String) {
        #expect(DateOfBirth.parse(raw) == nil)
    }
}
