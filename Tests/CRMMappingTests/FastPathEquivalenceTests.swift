import Foundation
import CRMModel
import Testing

@testable import CRMMapping

/// The byte-level text functions, decimals and date rendering must equal their character-level definitions.
@Suite("Runtime fast paths")
struct RuntimeFastPathTests {
    struct Rng {
        var s: UInt64
        mutating func next(_ n: Int) -> Int {
            s = s &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int((s >> 33) % UInt64(n))
        }
    }

    static let alphabet: [String] = [
        " ", "\t", "\n", "\r\n", "a", "Z", "m", "Q", "0", "-", ".", "é", "É", "ß", "\u{301}", "\u{A0}",
        "\u{2003}", "İ", "ﬁ", "😀", "\u{600}", ",", "x",
    ]

    func randomText(_ rng: inout Rng) -> String {
        (0..<rng.next(8)).map { _ in Self.alphabet[rng.next(Self.alphabet.count)] }.joined()
    }

    @Test("trim, lower and upper equal the String operations on 20 000 random texts")
    func textFunctions() {
        var rng = Rng(s: 11)
        for _ in 0..<20_000 {
            let t = randomText(&rng)
            var reference = Substring(t)
            while reference.first?.isWhitespace == true { reference.removeFirst() }
            while reference.last?.isWhitespace == true { reference.removeLast() }
            #expect(TextFunctions.trimmed(t) == String(reference), "\(Array(t.unicodeScalars))")
            #expect(t.trimmingWhitespace() == reference, "\(Array(t.unicodeScalars))")
            #expect(TextFunctions.lowercased(t) == t.lowercased())
            #expect(TextFunctions.uppercased(t) == t.uppercased())
            #expect(TextFunctions.isBlank(t) == t.allSatisfy(\.isWhitespace))
        }
    }

    @Test("decimals: the byte parser and rounding equal the reference on 20 000 generated numbers")
    func decimals() {
        var rng = Rng(s: 5)
        let parts = [
            "0", "00", "1", "9", "99", "999", "5", "49", "12345678901234567890", "", ".", "-", "+", " ", "e3", "x", "é",
            "..", "50",
        ]
        for _ in 0..<20_000 {
            let text = (0..<(1 + rng.next(5))).map { _ in parts[rng.next(parts.count)] }.joined()
            let fast = FixedDecimal(fixed: text)
            let reference = FixedDecimal(general: text)
            #expect(
                fast?.negative == reference?.negative && fast?.integer == reference?.integer
                    && fast?.fraction == reference?.fraction, "\(text)")
            if let fast {
                let scale = rng.next(5)
                #expect(fast.rounded(scale: scale) == fast.roundedReference(scale: scale), "\(text) scale \(scale)")
            }
        }
    }

    @Test("date rendering equals the text form for 20 000 instants, offsets and milliseconds")
    func dates() {
        var rng = Rng(s: 3)
        for _ in 0..<20_000 {
            let wall = Int64(rng.next(8_000_000_000)) - 4_000_000_000
            let millis = rng.next(3) == 0 ? 0 : rng.next(1000)
            let offset = rng.next(3) == 0 ? 0 : (rng.next(2) == 0 ? -1 : 1) * rng.next(14 * 4) * 900
            #expect(
                DateSpec.render(wall, millis: millis, offset: offset)
                    == DateSpec.renderText(wall, millis: millis, offset: offset))
        }
    }

    static let patterns = [
        "^([a-z]{2})", "^<?([^<>]+)>?$", "\\[#(\\d+)\\]", "^([1-5])", "mailer-daemon|postmaster@", "^\\s*auto-",
        "(a|ab)(c|bcd)(d*)", "a+?b", "(x)?y", "^(\\w+)@(\\w+)\\.com$", "[^ ]+ [0-9]{2,3}", "(?:re|fwd?)\\s*:\\s*(.*)",
        "[a-c-]+", "\\d{2,}?", ".*(\\d)", "(a+)+b", "colou?r", "[.][.]", "^$", "b{0,2}c", "([ab]*)c\\1",
        "(?i)abc", "[[:alpha:]]", "\\bword", "a{2,1}", "[]a]", "(?<n>a)",
    ]

    @Test("the byte-level regex subset finds what Swift Regex finds (match, group 1) on 20 000 texts")
    func regexSubset() {
        var rng = Rng(s: 17)
        let alphabet =
            Array("ab cdx-._@<>#[]0123459ACRE:\tz".utf8).map { String(UnicodeScalar($0)) } + [
                "é", "\n", "re: ", "Fwd:", "mailer-daemon",
            ]
        var compiled = 0
        for p in Self.patterns {
            guard let regex = try? Regex(p), let fast = ByteRegex(p) else { continue }
            compiled += 1
            for _ in 0..<800 {
                let text = (0..<rng.next(14)).map { _ in alphabet[rng.next(alphabet.count)] }.joined()
                let slow: String? = {
                    guard let m = try? regex.firstMatch(in: text) else { return nil }
                    if m.output.count > 1, let sub = m.output[1].substring { return String(sub) }
                    return String(text[m.range])
                }()
                if let got = fast.extract(text) { #expect(got == slow, "pattern \(p) text \(text)") }
            }
        }
        #expect(compiled >= 18)
        for p in ["(?i)abc", "[[:alpha:]]", "\\bword", "a{2,1}", "[]a]", "(?<n>a)", "([ab]*)c\\1"] {
            #expect(ByteRegex(p) == nil, "\(p)")
        }
    }

    @Test("the matcher's recursion fits a 512 KiB thread stack (even unoptimised) at the longest text it takes")
    func regexStackDepth() async {
        let text = String(repeating: "ab", count: ByteRegex.maxTextLength / 2)
        let results = await withCheckedContinuation { (done: CheckedContinuation<[String??], Never>) in
            let thread = Thread {
                let patterns = ["^<?([^<>]+)>?$", "(a|b)*c", "^((?:a|b)+?)$", ".*(b)"]
                done.resume(returning: patterns.map { ByteRegex($0)!.extract(text) })
            }
            thread.stackSize = 512 << 10
            thread.start()
        }
        #expect(results == [.some(text), .some(nil), .some(text), .some("b")])
    }
}
