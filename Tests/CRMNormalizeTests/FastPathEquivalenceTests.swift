import Testing

@testable import CRMNormalize

/// The byte-level fast paths must give exactly the results of the character-level definitions.
@Suite("Normaliser fast paths")
struct FastPathEquivalenceTests {
    struct Rng {
        var s: UInt64
        mutating func next(_ n: Int) -> Int {
            s = s &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int((s >> 33) % UInt64(n))
        }
    }

    static let pieces = [
        "jane", "JOHN", "mary-ann", "o'brien", "O'BRIEN", "mcdonald", "MACLEOD", "macho", "van", "der", "DE",
        "müller", "MÜLLER", "garcía", "GARCÍA", "Øster", "élodie", "DeAndre", "McKay", "j.r.", "smith's",
        "ANNE-MARIE", "x", "Ça", "björk", "d'arcy", "ñandú", "1st", "mac", "mcx", "MÆRSK", "macé", "MACÉLINE",
        "mcé", "o'é", "x'ab", "ab'c", "'", "-", ".", "é'x", "mc", "McDONALD's", "macey", "MACKIE", "Von", "LA",
        "dos", "the", "y", "zu", "o'", "É", "éÉ", "Éé", "a-é", "j'", "l'ÉCOLE", "mac-", "mc'x",
    ]
    static let separators = [" ", "  ", "\t", " \r\n "]

    @Test("display names: the Latin byte path equals the character path on 20 000 generated names")
    func latinNames() {
        var rng = Rng(s: 7)
        for _ in 0..<20_000 {
            var name = rng.next(3) == 0 ? " " : ""
            for w in 0..<(1 + rng.next(4)) {
                if w > 0 { name += Self.separators[rng.next(Self.separators.count)] }
                name += Self.pieces[rng.next(Self.pieces.count)]
            }
            if rng.next(4) == 0 { name += " " }
            var copy = name
            let fast = copy.withUTF8(PersonName.latinDisplay)
            #expect(fast != nil, "\(name) should take the byte path")
            #expect(fast == PersonName.unicodeDisplay(name), "\(name)")
        }
    }

    @Test(
        "display names outside the Latin-1 letters take the character path",
        arguments: [
            "straße", "łukasz", "ÿves", "a\u{301}na", "Ζωή", "van der ß", "Anna von \u{A0}Heide", "a×b", "o'÷",
            "jane \u{2003}doe", "Ça\u{301}",
        ])
    func otherScripts(name: String) {
        var copy = name
        #expect(copy.withUTF8(PersonName.latinDisplay) == nil)
        #expect(PersonName.display(name) == PersonName.unicodeDisplay(name))
    }

    static let emailPieces = [
        "john", "J.Smith", "+tag", "+", "@", "@@", ".", "gmail.com", "GoogleMail.COM", "web.de", "example.com",
        "noreply", "test", " ", "\t", "\r\n", "a", "x.y", "co", ".de", "info", "ANNA.b", "1", "-",
    ]

    @Test("e-mail keys: the ASCII byte path equals the general path on 5 000 generated addresses")
    func asciiEmails() {
        var rng = Rng(s: 11)
        for _ in 0..<5_000 {
            var raw = ""
            for _ in 0..<(1 + rng.next(6)) { raw += Self.emailPieces[rng.next(Self.emailPieces.count)] }
            let fast = EmailMatching.asciiKey(raw)
            #expect(fast != nil, "\(raw) should take the byte path")
            #expect(fast ?? nil == EmailMatching.generalKey(raw), "\(raw)")
        }
        #expect(EmailMatching.asciiKey("jörg@web.de") == nil)
    }

    static let localPieces = [
        "john", "J.Smith", "+tag", "x", "Anna", "1", "!#$%&'*=?^`{|}~", ".", "..", "-", "_", "é", "[", "\\", "/", ":",
        "@", String(repeating: "L", count: 60), "\u{A0}", " ",
    ]
    static let domainPieces = [
        "Example", "COM", "mail", "co", "uk", "a-b", "42", "1", "x-", "-y", "é", "_", "", "@",
        String(repeating: "d", count: 63), String(repeating: "D", count: 64), ">", " ",
    ]
    static let affixes = ["", "", "", " ", "\t", "\r\n", "mailto:", "MAILTO:", "Bob <", ">", "<", "."]

    /// The general path's result as an optional (nil when it rejects the address).
    static func generalEmail(_ raw: String) -> String? {
        var copy = raw
        if case .valid(let a) = copy.withUTF8(EmailAddress.normalize(utf8:)) { return a }
        return nil
    }

    @Test("e-mail normalisation: the one-pass plain path equals the general path on 20 000 generated addresses")
    func plainEmails() {
        var rng = Rng(s: 23)
        var taken = 0
        for _ in 0..<20_000 {
            // Mostly clean pieces (the first seven of each list), so that many addresses are valid.
            func piece(_ list: [String]) -> String { list[rng.next(4) > 0 ? rng.next(7) : rng.next(list.count)] }
            var raw = rng.next(2) == 0 ? "" : Self.affixes[rng.next(Self.affixes.count)]
            for _ in 0..<(1 + rng.next(3)) { raw += piece(Self.localPieces) }
            if rng.next(10) > 0 { raw += "@" }
            for l in 0..<(1 + rng.next(4)) {
                if l > 0 { raw += rng.next(10) > 0 ? "." : ".." }
                raw += piece(Self.domainPieces)
            }
            raw += rng.next(2) == 0 ? "" : Self.affixes[rng.next(Self.affixes.count)]
            var copy = raw
            if let fast = copy.withUTF8(EmailAddress.plainNormalize(utf8:)) {
                taken += 1
                #expect(fast == Self.generalEmail(raw), "\(raw)")
            }
            #expect((try? EmailAddress.normalize(raw)) == Self.generalEmail(raw), "\(raw)")
        }
        #expect(taken > 2_000)
    }

    @Test(
        "plain e-mail addresses take the one-pass path; display names, mailto and non-ASCII do not",
        arguments: [
            (" Jane.Doe12@Example.COM ", true), ("a@b.co", true), ("x+y@a-b.c1", true), ("Bob <a@b.co>", false),
            ("mailto:a@b.co", false), ("jörg@web.de", false), ("a@b.123", false), ("a@b", false), ("a.@b.co", false),
        ])
    func plainEmailPath(raw: String, plain: Bool) {
        var copy = raw
        #expect((copy.withUTF8(EmailAddress.plainNormalize(utf8:)) != nil) == plain)
    }

    @Test("the local-part byte table lower-cases exactly the allowed characters in both letter cases")
    func localByteTable() {
        for c in 0...255 {
            let b = UInt8(c)
            let lower = b >= 65 && b <= 90 ? b + 32 : b
            let allowed = b < 0x80 && EmailAddress.localAllowed[Int(lower)]
            #expect(EmailAddress.localLowered[c] == (allowed ? lower : 0), "\(c)")
        }
        #expect(EmailAddress.localLowered[0x40] == 0)
    }

    static let phonePieces = [
        "+", "00", "011", "0", "1", "44", "20", "7946", "0018", "7700", "900123", "49", "30", "123456", "06", "8",
        "7", "353", "39", "1234", "555", " ", " ", "-", ".", "/", "(0)", "(", ")", "\t", "\u{A0}", "x", "é", "99",
        "12345678901",
    ]

    /// Regions from the table and made-up ones (a two-digit trunk prefix on code 1, a non-digit code, no lengths).
    static let phoneHomes: [PhoneNumber.Region] =
        ["GB", "US", "DE", "HU", "IT", "RU", "LT", "FR", "AT", "IE"].map { PhoneNumber.region(iso: $0)! } + [
            PhoneNumber.Region(iso: "ZZ", callingCode: "1", trunkPrefix: "06", lengths: 1...12),
            PhoneNumber.Region(iso: "ZY", callingCode: "x1", trunkPrefix: "0", lengths: 1...12),
            PhoneNumber.Region(iso: "ZX", callingCode: "999", trunkPrefix: "", lengths: 0...3),
            PhoneNumber.Region(iso: "ZW", callingCode: "44", trunkPrefix: "44", lengths: 2...2),
        ]

    @Test("phone numbers: the two-pass plain path equals the general path on 40 000 generated numbers")
    func plainPhones() {
        var rng = Rng(s: 31)
        var taken = 0
        for _ in 0..<40_000 {
            var raw = ""
            for _ in 0..<(1 + rng.next(6)) { raw += Self.phonePieces[rng.next(Self.phonePieces.count)] }
            let home = Self.phoneHomes[rng.next(Self.phoneHomes.count)]
            let general = Result { () throws(NormalizationError) in
                try PhoneNumber.generalE164(raw, defaultRegion: home.iso, home: home)
            }
            var copy = raw
            if let fast = copy.withUTF8({ PhoneNumber.plainE164($0, home: home) }) {
                taken += 1
                #expect(general == .success(fast), "\(home.iso) \(raw)")
            }
            let full = Result { () throws(NormalizationError) in
                try PhoneNumber.e164(raw, defaultRegion: home.iso, home: home)
            }
            #expect(full == general, "\(home.iso) \(raw)")
        }
        #expect(taken > 2_000)
    }

    @Test("a region's digit groups follow changes to its calling code, trunk prefix and lengths")
    func regionDigitsFollowChanges() {
        var r = PhoneNumber.region(iso: "GB")!
        #expect(r.digits == PhoneNumber.Digits("44", "0", 9...10))
        r.callingCode = "1"
        r.trunkPrefix = "06"
        r.lengths = 2...3
        #expect(r.digits == PhoneNumber.Digits("1", "06", 2...3))
        #expect(r == PhoneNumber.Region(iso: "GB", callingCode: "1", trunkPrefix: "06", lengths: 2...3))
        r.callingCode = "x"
        #expect(r.digits == nil)
        for number in ["06 123", "+44 20 7946 0018", "0020 123"] {
            let general = Result { () throws(NormalizationError) in
                try PhoneNumber.generalE164(number, defaultRegion: "GB", home: r)
            }
            #expect(
                Result { () throws(NormalizationError) in try PhoneNumber.e164(number, defaultRegion: "GB", home: r) }
                    == general)
        }
    }

    @Test(
        "plain phone numbers take the two-pass path",
        arguments: [
            ("020 7946 0018", "GB"), ("+44 7700 900123", "GB"), ("0044 20 7946 0018", "GB"), ("+1 415 555 2671", "US"),
            ("011 44 20 7946 0018", "US"), ("1-555-123-4567", "US"), ("030/123456", "DE"), ("+39 06 1234 5678", "GB"),
        ])
    func plainPhonePath(raw: String, region: String) {
        var copy = raw
        let home = PhoneNumber.region(iso: region)!
        #expect(copy.withUTF8({ PhoneNumber.plainE164($0, home: home) }) != nil)
    }

    static let streetPieces = [
        "Main", "STREET", "street", "Str", "str.", "Hauptstrasse", "strasse", "Road", "rd", "Av", "avenue", "12",
        "12a", "Rue", "de", "la", "Via", "Calle", "Weg", "Platz", "North", "apartment", "Suite", "Laan", "straat",
        "Bahnhofstrasse", "-", ",", "'", ".", "#", "/", "Lindenstrasse", "x", "boulevard", "Ct.",
    ]

    @Test("street keys: the ASCII byte path equals the general path on 5 000 generated street lines")
    func asciiStreets() {
        var rng = Rng(s: 13)
        for _ in 0..<5_000 {
            var raw = rng.next(4) == 0 ? " " : ""
            for w in 0..<(1 + rng.next(5)) {
                if w > 0 { raw += Self.separators[rng.next(Self.separators.count)] }
                raw += Self.streetPieces[rng.next(Self.streetPieces.count)]
            }
            let fast = PostalAddress.asciiStreetKey(raw)
            #expect(fast != nil, "\(raw) should take the byte path")
            #expect(fast == .some(PostalAddress.generalStreetKey(raw)), "\(raw)")
        }
    }

    @Test("street lines outside ASCII take the general path", arguments: ["Müllerstraße 5", "Rue Ça", "Øster Allé"])
    func otherStreets(raw: String) {
        #expect(PostalAddress.asciiStreetKey(raw) == nil)
        #expect(PostalAddress.streetKey(raw) == PostalAddress.generalStreetKey(raw))
    }

    @Test("birth dates: the compact byte path equals the general reading on 20 000 generated spellings")
    func compactDates() {
        var rng = Rng(s: 17)
        let separators = ["-", "/", ".", " ", "", "T", "x"]
        func two(_ v: Int) -> String { v < 10 && rng.next(5) != 0 ? "0\(v)" : "\(v)" }
        for _ in 0..<20_000 {
            let y = [1900, 1950, 1970, 1985, 2000, 2030, 2031, 1899, 99][rng.next(9)]
            let m = rng.next(14)
            let d = rng.next(33)
            let s1 = separators[rng.next(separators.count)]
            let s2 = separators[rng.next(separators.count)]
            let raw =
                rng.next(2) == 0 ? "\(y)" + s1 + two(m) + s2 + two(d) : two(d) + s1 + two(m) + s2 + "\(y)"
            for monthFirst in [false, true] {
                let general = DateOfBirth.parseGeneral(raw, monthFirst: monthFirst)
                #expect(DateOfBirth.parse(raw, monthFirst: monthFirst) == general, "\(raw)")
                if let fast = DateOfBirth.parseCompact(raw, monthFirst: monthFirst) {
                    #expect(fast == general, "\(raw)")
                }
            }
        }
    }
}
