import CRMModel
import Foundation
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

    @Test("decimal steps: reading the bytes gives the string path's text or failure on 20 000 generated texts")
    func decimalSteps() {
        var rng = Rng(s: 7)
        let parts = [
            "0", "00", "1", "9", "99", "5", "49", "12345678901234567890", "", ".", ",", "-", "+", " ", "\t", "\r\n",
            "e3", "E", "x", "é", "\u{A0}", "\u{301}", "..", ",,", "50",
        ]
        for _ in 0..<20_000 {
            let text = (0..<(1 + rng.next(6))).map { _ in parts[rng.next(parts.count)] }.joined()
            let scale = rng.next(4)
            // The string path of `fn: {decimal: scale}`: trimmed, commas made points, read, rounded.
            let trimmed = TextFunctions.trimmed(text)
            let reference = FixedDecimal(fixed: trimmed.replacingOccurrences(of: ",", with: "."))?.rounded(scale: scale)
            switch FixedDecimal.roundedASCII(text, scale: scale) {
            case .some(let fast): #expect(fast == reference, "\(Array(text.unicodeScalars)) scale \(scale)")
            case .none: #expect(text.utf8.contains { $0 >= 0x80 || $0 | 0x20 == UInt8(ascii: "e") })
            }
        }
        let ev = Evaluator(root: .object([]), lookup: nil)
        for text in ["12,5", " -0,005 ", "1.2.3", "1,2.3", "", "1e2", "١٢"] {
            let fast = Result { () throws(FieldFailure) in try ev.decimal(.string(text), scale: 2) }
            let trimmed = TextFunctions.trimmed(text)
            let reference = FixedDecimal(fixed: trimmed.replacingOccurrences(of: ",", with: "."))?.rounded(scale: 2)
            switch fast {
            case .success(let v): #expect(v == reference.map(JSONValue.string), "\(text)")
            case .failure(let e): #expect(reference == nil && e.reason == "not a decimal number", "\(text)")
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
        "(?i)abc", "[[:alpha:]]", "\\bword", "a{2,1}", "[]a]", "(?<n>a)", "\\d{3}-\\d{2}", "[a-c]{2}$", "(?:a.)(b)x",
        "^.(\\w{2}).$", "x(y)z", "^a$", "[^ ]{3}",
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

    @Test("fixed-width patterns: the byte-by-byte scan finds what the backtracking matcher finds on 20 000 texts")
    func fixedWidthRegex() {
        var rng = Rng(s: 23)
        let alphabet = Array("ab cxyz-.0123AB".utf8)
        var fixed = 0
        for p in Self.patterns {
            guard let regex = ByteRegex(p), let fixedWidth = regex.fixedWidth else { continue }
            fixed += 1
            for _ in 0..<2_000 {
                let text = (0..<rng.next(10)).map { _ in alphabet[rng.next(alphabet.count)] }
                text.withUnsafeBufferPointer { t in
                    let scan = fixedWidth.firstMatch(t)
                    let backtracking = regex.backtrackingMatch(t)
                    #expect(scan?.whole == backtracking?.whole && scan?.group1 == backtracking?.group1, "\(p) \(text)")
                }
            }
        }
        #expect(fixed >= 8)
        for p in ["a|b", "a+", "(ab)?", "a{1,2}", "(?:ab){2}"] { #expect(ByteRegex(p)?.fixedWidth == nil, "\(p)") }
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

/// Records written directly as JSON (byte input, outputs with a layout) must be the bytes of the tree path's records
/// (a parsed `JSONValue` input), and decode back to the same values.
@Suite("Direct JSON output")
struct DirectOutputEquivalenceTests {
    /// `mapping` on `input` as bytes (direct output where it applies) and as a parsed document (tree path): the same
    /// outcome, the same record bytes and values.
    func expectSameOutcome(
        _ mapping: CompiledMapping, _ input: [UInt8], context: MappingContext = MappingContext(),
        sourceLocation: SourceLocation = #_sourceLocation
    ) {
        let direct = Result { () throws(MappingError) in try mapping.apply(input, context: context) }
        var treesContext = context
        treesContext.recordValues = true
        let tree: Result<MappingResult, MappingError>
        do {
            let doc = try JSONValue.parse(input, limits: context.limits)
            tree = Result { () throws(MappingError) in try mapping.apply(doc, context: treesContext) }
            // A parsed document without numbers is written directly too (CSV rows); with numbers it gives trees.
            let document = Result { () throws(MappingError) in try mapping.apply(doc, context: context) }
            #expect(
                (try? document.get()).map(Self.bytes) == (try? direct.get()).map(Self.bytes)
                    && document.map { _ in 0 } == direct.map { _ in 0 },
                sourceLocation: sourceLocation)
        } catch {
            guard case .failure(let e) = direct else {
                Issue.record("unparsable input mapped", sourceLocation: sourceLocation)
                return
            }
            #expect(e.kind == .input, sourceLocation: sourceLocation)
            return
        }
        // Asking for trees (`recordValues`) gives the tree path's records from byte input.
        let values = Result { () throws(MappingError) in try mapping.apply(input, context: treesContext) }
        #expect(
            (try? values.get()) == (try? tree.get()) && values.map { _ in 0 } == tree.map { _ in 0 },
            sourceLocation: sourceLocation)
        switch (direct, tree) {
        case (.success(.output(let a)), .success(.output(let b))):
            #expect(a.map(\.entity) == b.map(\.entity), sourceLocation: sourceLocation)
            #expect(a.map(\.key) == b.map(\.key), sourceLocation: sourceLocation)
            #expect(
                a.map { $0.jsonBytes() } == b.map { $0.jsonBytes() },
                "\(mapping.name): \(String(decoding: input, as: UTF8.self))", sourceLocation: sourceLocation)
            #expect(a == b, sourceLocation: sourceLocation)
            for (x, y) in zip(a, b) {
                #expect(x.value.jsonBytes() == y.value.jsonBytes(), sourceLocation: sourceLocation)
            }
        case (.success(.dropped(let a)), .success(.dropped(let b))):
            #expect(a == b, sourceLocation: sourceLocation)
        case (.failure(let a), .failure(let b)):
            #expect(a == b, sourceLocation: sourceLocation)
        default:
            Issue.record("direct \(direct) but tree \(tree)", sourceLocation: sourceLocation)
        }
    }

    /// A result's records as their JSON bytes (dropped and failed results compare by their outcome).
    static func bytes(_ result: MappingResult) -> [[UInt8]] {
        guard case .output(let records) = result else { return [] }
        return records.map { $0.jsonBytes() }
    }

    @Test("shipped mappings: every inline test input gives the same records both ways")
    func shippedTestInputs() throws {
        let library = try MappingLibrary.load(directory: repoRoot + "/Mappings")
        var laidOut = 0
        for m in library.mappings.values.sorted(by: { $0.name < $1.name }) {
            laidOut += m.outputNodes.filter { $0.layout != nil }.count
            for t in m.tests {
                var context = library.context
                if !t.lookups.isEmpty { context.lookup = StaticLookup(t.lookups) }
                expectSameOutcome(m, t.input, context: context)
            }
        }
        #expect(laidOut >= 5)
    }

    @Test("crm-customer-import: 3 000 generated customers (missing, null, odd and escaped values) give the same bytes")
    func generatedCustomers() throws {
        let library = try MappingLibrary.load(directory: repoRoot + "/Mappings")
        let mapping = try #require(library.mapping(named: "crm-customer-import"))
        #expect(mapping.outputNodes.allSatisfy { $0.layout != nil })
        var rng = RuntimeFastPathTests.Rng(s: 77)
        let texts = [
            "\"jane\"", "\" Ann-Marie \"", "\"\"", "\"  \"", "null", "12", "true", "\"m\\u00fcller\"",
            "\"a\\\"b\\\\c\"",
            "\"tab\\there\"", "\"Zoë\"", "\"😀\"", "[\"x\"]", "{\"a\":1}",
        ]
        let fields: [(String, [String])] = [
            ("first_name", texts), ("last_name", texts), ("company", texts),
            ("email", ["\" Jane.Doe@Example.com \"", "\"nobody\"", "null", "\"\"", "\"x@y.z\""]),
            ("phone", ["\"020 7946 0018\"", "\"+44 7700 900123\"", "\"12\"", "null", "\"\""]),
            ("status", ["\"A\"", "\"I\"", "\"P\"", "\"Q\"", "null"]),
            ("tier", ["\" Gold \"", "\"\"", "null", "\"SILVER\""]),
            ("created_at", ["\"2024-03-01T10:00:00+01:00\"", "\"2024-13-01\"", "null"]),
            (
                "address",
                [
                    "{\"street\":\"1 High St \",\"city\":\"london\",\"zip\":\"ec1a 1bb\",\"country\":\"gb\"}",
                    "{\"city\":\"leeds\"}", "{\"street\":null,\"zip\":12345}", "{}", "null",
                ]
            ),
            ("tags", ["[\" VIP\",\"Newsletter\"]", "[]", "null", "[\"a\",\"\"]"]),
            ("marketing", ["{\"email\":true,\"sms\":\"no\"}", "{\"sms\":1}", "{}", "null"]),
            ("lifetime_value", ["\"1234.5\"", "\"1,5\"", "\"x\"", "12.345", "null"]),
            ("locale", ["\"en_GB\"", "\"E\"", "null", "\"\""]),
        ]
        for n in 0..<3_000 {
            var members = ["\"id\":\(rng.next(3) == 0 ? "\"c\(n)\"" : String(n))"]
            for (name, values) in fields where rng.next(4) != 0 {
                members.append("\"\(name)\":\(values[rng.next(values.count)])")
            }
            if rng.next(10) == 0 { members.append("\"first_name\":\"dup\"") }
            expectSameOutcome(mapping, Array("{\(members.joined(separator: ","))}".utf8))
        }
    }

    @Test("expressions that read the whole message or names outside the name table give the tree's outcome")
    func wholeMessage() throws {
        let dir = try mappingFolder([
            "whole.yaml": """
            name: whole
            output: Customer
            key: id
            drop_when: {path: "$.a_member_name_of_17", equals: drop}
            fields:
              id: {path: id, fn: [string]}
              kind: {const: person}
              displayName: {path: "@", fn: [string]}
              size: {path: "@", fn: [length]}
              long: {path: a_member_name_of_17}
              second: {path: "list[1]"}
              tags: {each: list, value: {path: "@"}}
              nested: {fields: {x: {path: inner.x}, back: {path: "$.id"}}}
              scoped: {include: frag, at: inner}
            """,
            "frag.yaml": """
            name: frag
            fields:
              x: {path: x}
              all: {path: "@", fn: [string]}
              back: {path: "$.id"}
            """,
        ])
        let mapping = try #require(try MappingLibrary.load(directory: dir).mapping(named: "whole"))
        let values = ["1", "null", "\"\"", "\"t\"", "\"drop\"", "[1,\"b\"]", "{\"x\":[1,{}]}"]
        for k in 0..<(1 << 8) {
            var members = ["\"id\":\(k)"]
            for (bit, name) in ["a_member_name_of_17", "list", "inner", "id"].enumerated() where k >> bit & 1 == 1 {
                members.append("\"\(name)\":\(values[((k >> 4) + bit) % values.count])")
            }
            expectSameOutcome(mapping, Array("{\(members.joined(separator: ","))}".utf8))
        }
        expectSameOutcome(mapping, Array("[1]".utf8))
    }

    @Test("layouts: nested objects in one run at every level, omitted and null fields; no layout for other orders")
    func layouts() throws {
        let dir = try mappingFolder([
            "m.yaml": """
            name: m
            output: Customer
            key: id
            fields:
              id: {path: id}
              kind: {const: person}
              a.x: {path: x}
              a.b.c: {path: c}
              a.b.d: {path: d, omit_null: false}
              a.e: {path: e}
              displayName: {path: n}
              f: {path: x, omit_null: false}
              g.h: {path: d}
            """,
            "interleaved.yaml": """
            name: interleaved
            output: Customer
            key: id
            fields:
              id: {path: id}
              kind: {const: person}
              a.x: {path: x}
              displayName: {path: n}
              a.y: {path: c}
            """,
            "inner.yaml": """
            name: inner
            output: Customer
            key: id
            fields:
              id: {path: id}
              kind: {const: person}
              a.b.x: {path: x}
              a.c: {path: c}
              a.b.y: {path: d}
              displayName: {path: n}
            """,
            "collision.yaml": """
            name: collision
            output: Customer
            key: id
            fields:
              id: {path: id}
              kind: {const: person}
              a: {fields: {x: {path: x}}}
              a.y: {path: c}
              displayName: {path: n}
            """,
        ])
        let library = try MappingLibrary.load(directory: dir)
        let m = try #require(library.mapping(named: "m"))
        #expect(m.outputNodes[0].layout != nil)
        for name in ["interleaved", "inner", "collision"] {
            #expect(try #require(library.mapping(named: name)).outputNodes[0].layout == nil, "\(name)")
        }
        let values = ["1", "null", "\"\"", "\"t\"", "{\"q\":[1,{}]}"]
        for mapping in library.mappings.values {
            for k in 0..<(1 << 10) {
                var members = ["\"id\":\(k)"]
                for (bit, name) in ["x", "c", "d", "e", "n"].enumerated() where k >> bit & 1 == 1 {
                    members.append("\"\(name)\":\(values[((k >> 5) + bit) % values.count])")
                }
                expectSameOutcome(mapping, Array("{\(members.joined(separator: ","))}".utf8))
            }
        }
    }
}
