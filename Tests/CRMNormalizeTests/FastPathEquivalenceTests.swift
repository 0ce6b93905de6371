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
        "ANNE-MARIE", "x", "Ça", "björk", "d'arcy", "ñandú", "1st", "mac", "mcx", "MÆRSK",
    ]
    static let separators = [" ", "  ", "\t", " \r\n "]

    @Test("display names: the Latin byte path equals the character path on 5 000 generated names")
    func latinNames() {
        var rng = Rng(s: 7)
        for _ in 0..<5_000 {
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
        arguments: ["straße", "łukasz", "ÿves", "a\u{301}na", "Ζωή"])
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
}
