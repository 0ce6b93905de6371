import CRMModel
import Testing

@testable import CRMMapping

/// The byte path of text steps and of fields written directly (TextPipeline.swift) gives what the value path gives.
@Suite("Text pipelines")
struct TextPipelineTests {
    /// Strings for the steps: ASCII and not, blank, escapes, decimals, dates and regex inputs.
    static func texts() -> [String] {
        var texts: [String] = [
            "", " ", "\t\n", "\r\n", "jane", " Jane DOE ", "ÉCOLE", "müller ", " \u{A0}x\u{2003} ", "a\u{301}",
            "\u{301}a", "😀", "Quote\"and\\back", "tab\there", "\u{1}ctl", " 1234.5 ", "1,5", "-0.005", "99.995",
            "0012.50", "1e3", ".5", "5.", "..", "", "2024-03-01T10:00:00+01:00", "2024-03-01T10:00:00.123456Z",
            "2024-03-01", "2024-02-30T00:00:00Z", "9999-12-31T23:59:59-01:00", "0001-01-01T00:30:00+01:00",
            "01/03/2024", "31/12/1999", "29/02/2024", "30/02/2023", "en_GB", "EN", "e", "abc123def", "1700000000",
            "VIP", " b2b", "Churn-Risk",
            String(repeating: "x", count: 300), String(repeating: "Y ", count: 200),
        ]
        var rng = RuntimeFastPathTests.Rng(s: 19)
        let pieces = RuntimeFastPathTests.alphabet + ["1", "2", "5", "9", "+", ":", "T", "\"", "\\", "_", "@"]
        for _ in 0..<3_000 {
            texts.append((0..<rng.next(12)).map { _ in pieces[rng.next(pieces.count)] }.joined())
        }
        return texts
    }

    @Test(
        "each byte step's text is the step's value (or the byte path leaves it to the value path)",
        arguments: [
            Fn.trim, .lower, .upper, .nonEmpty, .string, .prefix("crm:"), .prefix("ü-"), .decimal(scale: 2),
            .decimal(scale: 0), DirectStepTests.date("rfc3339", "rfc3339"), DirectStepTests.date("rfc3339", "local"),
            DirectStepTests.date("rfc3339", "date"), DirectStepTests.date("dd/MM/yyyy", "local"),
            DirectStepTests.regex("^([a-z]{2})"), DirectStepTests.regex("[0-9]+"), DirectStepTests.regex("x(y)?"),
        ])
    func stepsOnBytes(_ f: Fn) throws {
        let step = try #require(Lowering.functionStep(f) as? any ByteTextStep)
        let ev = Evaluator(root: .object([]), lookup: nil)
        var decided = 0
        let texts = Self.texts()
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 256) { out in
            for s in texts {
                let value = Result { () throws(FieldFailure) in try step.apply(ev, .string(s)) }
                // The text may be a slice of the bytes, which are lent for the closure only.
                TextFunctions.withBytes(s) { bytes in
                    switch step.text(bytes, into: out) {
                    case .text(let t):
                        decided += 1
                        #expect(
                            (try? value.get())?.stringValue.map { Array($0.utf8) } == Array(t),
                            "\(f.name) \(s.debugDescription)")
                    case .null:
                        decided += 1
                        #expect((try? value.get()) == .null, "\(f.name) \(s.debugDescription)")
                    case .general: break
                    }
                }
            }
        }
        // Plain ASCII text (a well-formed decimal or date) is decided on bytes.
        #expect(decided >= 3, "\(f.name)")
    }

    @Test(
        "each byte value step's value is the step's value (or the byte path leaves it to the value path)",
        arguments: [Fn.name, .email, .phone(region: "GB"), .phone(region: "DE"), .phone(region: "XX")])
    func valueStepsOnBytes(_ f: Fn) throws {
        let step = try #require(Lowering.functionStep(f) as? any ByteValueStep)
        let ev = Evaluator(root: .object([]), lookup: nil)
        var texts = Self.texts() + DirectStepTests.values.compactMap(\.stringValue)
        texts += [
            "jane", "JOHN", "mary-ann", "O'BRIEN", "van der berg", "mcdonald", " JOHN.OBRIEN0@Example.COM",
            "a@b", "x@y.z", "jane.doe@example.com", "A.B+tag@Sub.Example.ORG", "020 7946 3250", "+44 7700 900123",
            "07700 900123", "+49 30 123456",
        ]
        var decided = 0
        for s in texts {
            let value = Result { () throws(FieldFailure) in try step.apply(ev, .string(s)) }
            guard let made = TextFunctions.withBytes(s, { step.value(utf8: $0) }) else { continue }
            decided += 1
            #expect((try? value.get()) == made, "\(f.name) \(s.debugDescription)")
            #expect((try? value.get())?.jsonBytes() == made.jsonBytes())
        }
        if case .phone(region: "XX") = f { #expect(decided == 0) } else { #expect(decided >= 5, "\(f.name)") }
    }

    @Test("pipelines of byte steps and a name, e-mail or phone step over root members give the value path's outcome")
    func rootTextPipelines() throws {
        let mapping = try mappingM(
            """
            name: m
            output: Customer
            key: id
            fields:
              id: {path: id}
              kind: {const: person}
              displayName: {path: n, fn: [name]}
              a: {path: n, fn: [trim, name, upper]}
              b: {path: e, fn: [lower, email, list]}
              c: {path: p, fn: [non_empty, {phone: GB}, list]}
              d: {path: o.n, fn: [name]}
              e: {path: o.p, fn: [trim, {phone: DE}]}
              f: {path: e, fn: [email], required: true}
            """)
        let fields = mapping.outputNodes[0].fields
        #expect(
            fields.filter { ($0.value as? PipeNode)?.source is RootTextNode || $0.value is RootTextNode }.count >= 6)
        let texts = [
            "\"jane\"", "\" Ann-Marie \"", "\"\"", "\"  \"", "null", "12", "true", "\"m\\u00fcller\"", "\"Zoë\"",
            "\"van der berg\"", "\" JOHN.OBRIEN0@Example.COM\"", "\"Name <A@B.co>\"", "\"a@b\"", "\"x@y.z \"",
            "\"020 7946 3250\"", "\"+44 7700 900123\"", "\"(0)20 7946 0018\"", "\"12\"", "\"+49 30 123456\"", "[1]",
        ]
        var rng = RuntimeFastPathTests.Rng(s: 31)
        let check = DirectOutputEquivalenceTests()
        for _ in 0..<3_000 {
            var members = ["\"id\":1"]
            for name in ["n", "e", "p"] where rng.next(5) != 0 {
                members.append("\"\(name)\":\(texts[rng.next(texts.count)])")
            }
            if rng.next(5) != 0 {
                members.append(
                    "\"o\":{\"n\":\(texts[rng.next(texts.count)]),\"p\":\(texts[rng.next(texts.count)])}")
            }
            check.expectSameOutcome(mapping, Array("{\(members.joined(separator: ","))}".utf8))
        }
    }

    @Test("fields of byte steps are found as text pipelines; other fields are not")
    func shapes() throws {
        let mapping = try mappingM(
            """
            name: m
            output: Customer
            key: id
            fields:
              id: {path: id, fn: [string, {prefix: "c:"}], required: true}
              kind: {const: person}
              displayName: {path: n, fn: [trim]}
              a: {path: a, fn: [trim, lower], default: none}
              b: {path: b, fn: [upper, list]}
              c: {path: c, fn: [name]}
              d: {path: c, fn: [name, trim]}
              e: {each: t, value: {path: "@", fn: [trim, lower]}}
              f: {each: t, value: {path: "@", fn: [name]}}
              g: {path: c, map: {A: x}}
            """)
        let out = mapping.outputNodes[0]
        let layout = try #require(out.layout)
        let direct = Dictionary(uniqueKeysWithValues: zip(out.fields.map(\.name), layout.members.map(\.direct)))
        // Validation reads id and displayName: they are written from their values.
        #expect(
            direct == [
                "id": false, "kind": false, "displayName": false, "a": true, "b": true, "c": false, "d": true,
                "e": true, "f": false, "g": true,
            ])
    }

    @Test("fields written directly give the value path's bytes and failures on 4 000 generated records")
    func directFields() throws {
        let mapping = try mappingM(
            """
            name: m
            output: Customer
            key: id
            fields:
              id: {path: id, fn: [string, {prefix: "c:"}], required: true}
              kind: {const: person}
              displayName: {path: n, fn: [trim], default: anonymous}
              a: {path: a, fn: [trim, lower], default: none}
              b: {path: b, fn: [upper, list]}
              c.x: {path: a, fn: [string, trim, upper]}
              c.y: {path: b, fn: [non_empty, {prefix: "p-"}]}
              c.z: {path: d, fn: [{decimal: 2}]}
              w: {path: w, fn: [{date: {tz: Europe/London}}]}
              l: {path: b, fn: [lower, {regex: "^([a-z]{2})"}]}
              r: {path: d, fn: [trim], required: true}
              o: {path: b, fn: [trim], omit_null: false}
              e: {each: t, value: {path: "@", fn: [trim, lower]}}
              deep.t: {each: "$.inner.t", value: {path: "@", fn: [trim, non_empty]}}
              deep.s: {path: inner.s, fn: [trim, upper]}
              deep.u: {path: inner.u.v}
              k: {const: "q\\"é"}
              k2: {const: "", omit_null: false}
              k3: {const: 12.50}
              k4: {const: null}
              cc: {concat: [{path: a, fn: [trim]}, {path: n}, {path: b}], separator: "·"}
              pq: {path: a, fn: [trim, {prefix: "q\\"\\\\"}]}
            """)
        let layout = try #require(mapping.outputNodes[0].layout)
        let fields = mapping.outputNodes[0].fields
        #expect(
            zip(fields, layout.members).filter { $1.direct }.map { $0.0.name } == [
                "a", "b", "c.x", "c.y", "c.z", "w", "l", "r", "o", "e", "deep.t", "deep.s", "k", "k2", "k3", "k4", "pq",
            ])
        // `inner` is read only through its members `s` and `u` (`each` over `$.inner.t` reads the whole message).
        #expect(mapping.nestedMembers.count == 2)
        let texts = [
            "\"jane\"", "\" Ann-Marie \"", "\"\"", "\"  \"", "null", "12", "-1.5", "true", "\"m\\u00fcller\"",
            "\"a\\\"b\\\\c\"", "\"tab\\there\"", "\"Zoë\"", "\"ÉCOLE \"", "\"😀\"", "[\"x\"]", "{\"a\":1}",
            "\" 1234.5 \"", "\"1,5\"", "\"99.995\"", "\"x1\"", "\"2024-03-01T10:00:00+01:00\"", "\"2024-13-01\"",
            "\"EN_gb\"", "\"\\u0001\"", "\"\(String(repeating: "long ", count: 80))\"",
        ]
        let lists = [
            "[\" VIP\",\"Newsletter\"]", "[]", "null", "[\"a\",\"\",null]", "[\"É\",1]", "\"x\"", "[[1]]",
            "[\"a\\\"b\",\"c\"]", "[ \"x\" , \"Y\" ]", "[\"ü\",\"\\u00fc\"]",
            "[" + (0..<20).map { "\"t\($0)\"" }.joined(separator: ",") + "]",
        ]
        var rng = RuntimeFastPathTests.Rng(s: 23)
        let check = DirectOutputEquivalenceTests()
        for n in 0..<4_000 {
            var members = ["\"id\":\(rng.next(4) == 0 ? "null" : String(n))"]
            for name in ["n", "a", "b", "d", "w"] where rng.next(5) != 0 {
                members.append("\"\(name)\":\(texts[rng.next(texts.count)])")
            }
            if rng.next(4) != 0 { members.append("\"t\":\(lists[rng.next(lists.count)])") }
            if rng.next(4) != 0 {
                let inner = [
                    "\"t\":\(lists[rng.next(lists.count)])", "\"s\":\(texts[rng.next(texts.count)])",
                    "\"u\":{\"v\":\(texts[rng.next(texts.count)])}", "\"u\":\(texts[rng.next(texts.count)])",
                ]
                let value =
                    rng.next(6) == 0
                    ? texts[rng.next(texts.count)]
                    : "{" + (0..<rng.next(4)).map { _ in inner[rng.next(inner.count)] }.joined(separator: ",") + "}"
                members.append("\"inner\":\(value)")
            }
            check.expectSameOutcome(mapping, Array("{\(members.joined(separator: ","))}".utf8))
        }
    }

    @Test("a root member gets slots for its members only when every read of it at the root is through one")
    func nestedSlots() throws {
        let mapping = try mappingM(
            """
            name: m
            output: Customer
            key: id
            fields:
              id: {path: id}
              kind: {const: person}
              displayName: {path: a.x}
              y: {path: a.y}
              z: {path: b.z}
              w: {path: b}
              v: {path: c.a_member_name_of_17}
              t: {each: d, value: {path: "$.e.f"}}
            """)
        // a.x, a.y and e.f; b is read whole, c's member is not in the name table.
        #expect(mapping.nestedMembers.count == 3)
        let check = DirectOutputEquivalenceTests()
        for doc in [
            #"{"id":1,"a":{"x":"n","y":2},"b":{"z":3},"c":{"a_member_name_of_17":4},"d":[1,2],"e":{"f":"g"}}"#,
            #"{"id":1,"a":{"x":"n"},"a":{"y":2},"e":[],"e":{"f":{"h":1}}}"#, #"{"id":1,"a":"x","e":null}"#,
        ] {
            check.expectSameOutcome(mapping, Array(doc.utf8))
        }
    }

    @Test("value maps and equality read on bytes give the value path's outcome (Kelvin sign, escapes, defaults)")
    func mapsAndEquality() throws {
        let mapping = try mappingM(
            """
            name: m
            output: Customer
            key: id
            drop_when: {path: s, equals: K}
            fields:
              id: {path: id}
              kind: {const: person}
              displayName: {const: x}
              a: {path: s, map: {A: active, K: kelvin, E: "", N: null}}
              b: {path: s, map: {A: active, K: kelvin}, map_default: other}
              c: {path: s, map: {A: 1, B: [2]}, map_default: null, omit_null: false}
              d: {path: s, fn: [trim, upper], map: {A: active, K: kelvin}, strict: true}
              e: {path: t, map: {é: accent, A: a}}
            """)
        let fields = mapping.outputNodes[0].fields
        let layout = try #require(mapping.outputNodes[0].layout)
        // `e` has a non-ASCII key: no byte table.
        #expect(zip(fields, layout.members).filter { $1.direct }.map { $0.0.name } == ["a", "b", "c", "d"])
        let texts = [
            "\"A\"", "\"K\"", "\"\u{212A}\"", "\"\\u212A\"", "\"\\u0041\"", "\"E\"", "\"N\"", "\"B\"",
            "\" a \"", "\"k\"", "\"é\"", "\"e\u{301}\"", "\"\"", "null", "1", "true", "[\"A\"]",
        ]
        let check = DirectOutputEquivalenceTests()
        for s in texts {
            for t in texts.prefix(12) {
                check.expectSameOutcome(mapping, Array("{\"id\":1,\"s\":\(s),\"t\":\(t)}".utf8))
            }
            check.expectSameOutcome(mapping, Array("{\"id\":1,\"s\":\(s)}".utf8))
        }
        check.expectSameOutcome(mapping, Array("{\"id\":1}".utf8))
    }

    @Test("concat joins its parts as appending does, for every pair of 40 texts")
    func concatJoined() {
        let texts =
            ["", " ", "a", "É", "e\u{301}", "\u{301}", "😀", "fifteen bytes..", "sixteen bytes...", "\r", "\n"]
            + (0..<29).map { String(repeating: "x", count: $0) }
        for a in texts {
            for b in texts {
                for separator in ["", " ", "·"] {
                    let joined = ConcatNode.joined(a, separator, b)
                    #expect(Array(joined.utf8) == Array((a + separator + b).utf8))
                    #expect(joined == a + separator + b)
                }
            }
        }
    }

    @Test("a plain text is written as the escaping writer writes it")
    func plainTexts() {
        for text in ["", "a", "plain text", "é😀", String(repeating: "x", count: 40), "0123456789abcdef"] {
            let bytes = UnsafeMutableBufferPointer<UInt8>.allocate(capacity: text.utf8.count)
            defer { bytes.deallocate() }
            _ = bytes.initialize(from: text.utf8)
            var plain = JSONWriter(capacity: 8)
            var escaped = JSONWriter(capacity: 8)
            plain.writeString(plainUTF8: UnsafeBufferPointer(bytes))
            escaped.writeString(utf8: UnsafeBufferPointer(bytes))
            let written = plain.finish()
            let reference = escaped.finish()
            #expect(written == reference)
        }
    }

    @Test("a writer truncated to an earlier count writes on from there")
    func writerTruncation() {
        var writer = JSONWriter(capacity: 8)
        writer.write(byte: UInt8(ascii: "{"))
        let mark = writer.writtenCount
        writer.writeString("dropped")
        writer.truncate(to: mark)
        writer.writeString(utf8: UnsafeBufferPointer(start: nil, count: 0))
        writer.write(byte: UInt8(ascii: "}"))
        #expect(writer.finish() == Array("{\"\"}".utf8))
    }
}
