import CRMModel
import Foundation
import Testing

@testable import CRMMapping

/// Expressions a mapping uses more than once per message are computed once (``MemoNode``): the outcome must be the
/// one of computing them at every use.
@Suite("Repeated expressions")
struct RepeatedExpressionTests {
    /// `mapping` and the same mapping computing every use give the same outcome for `input` as bytes, as bytes with
    /// trees asked for, and as a parsed document.
    func expectSameOutcome(
        _ mapping: CompiledMapping, _ input: [UInt8], context: MappingContext = MappingContext(),
        sourceLocation: SourceLocation = #_sourceLocation
    ) {
        let reference = mapping.computingEveryUse()
        var trees = context
        trees.recordValues = true
        for c in [context, trees] {
            let shared = Result { () throws(MappingError) in try mapping.apply(input, context: c) }
            let every = Result { () throws(MappingError) in try reference.apply(input, context: c) }
            #expect(shared == every, "\(String(decoding: input, as: UTF8.self))", sourceLocation: sourceLocation)
            #expect(
                (try? shared.get()).map(DirectOutputEquivalenceTests.bytes)
                    == (try? every.get()).map(DirectOutputEquivalenceTests.bytes),
                sourceLocation: sourceLocation)
            #expect(
                (try? shared.get()).map(Self.keys) == (try? every.get()).map(Self.keys), sourceLocation: sourceLocation)
        }
        if let doc = try? JSONValue.parse(input, limits: context.limits) {
            let shared = Result { () throws(MappingError) in try mapping.apply(doc, context: context) }
            let every = Result { () throws(MappingError) in try reference.apply(doc, context: context) }
            #expect(shared == every, sourceLocation: sourceLocation)
            #expect(
                (try? shared.get()).map(DirectOutputEquivalenceTests.bytes)
                    == (try? every.get()).map(DirectOutputEquivalenceTests.bytes),
                sourceLocation: sourceLocation)
        }
    }

    static func keys(_ result: MappingResult) -> [String] {
        guard case .output(let records) = result else { return [] }
        return records.map(\.key)
    }

    @Test("crm-customer-import computes the names, the id and the company once")
    func customerImportSlots() throws {
        let library = try MappingLibrary.load(directory: repoRoot + "/Mappings")
        let mapping = try #require(library.mapping(named: "crm-customer-import"))
        let slots = RepeatedExpressions(outputs: mapping.outputs, dropWhen: mapping.dropWhenPlan, filter: nil).slots(
            from: 0)
        for key in [
            "path:\"first_name\"|name", "path:\"last_name\"|name", "path:\"id\"|string",
            "path:\"id\"|string|prefix:\"crm:\"", "path:\"company\"|trim", "path:\"company\"|trim|non_empty",
        ] {
            #expect(slots[key] != nil, "\(key)")
        }
        // Used once: not shared.
        #expect(slots["path:\"email\"|email"] == nil)
        #expect(mapping.madeCount == slots.count)
        #expect(mapping.computingEveryUse().madeCount == 0)
    }

    @Test("what differs between uses is not shared: regexes, dates, maps, defaults, each items, different parameters")
    func notShared() throws {
        let p = Path.parse("a")!
        let date = try DateSpec(from: "rfc3339", to: "rfc3339", zone: "UTC")
        #expect(RepeatedExpressions.keys(.path(p), [.fn(.date(date)), .fn(.trim)]).isEmpty)
        #expect(RepeatedExpressions.keys(.path(p), [.fallback("x"), .fn(.trim)]).isEmpty)
        #expect(RepeatedExpressions.keys(.path(p), [.fn(.trim), .fallback("x")]).count == 1)
        #expect(
            RepeatedExpressions.keys(.path(p), [.fn(.prefix("a"))])
                != RepeatedExpressions.keys(.path(p), [.fn(.prefix("b"))]))
        #expect(
            RepeatedExpressions.keys(.path(p), [.fn(.phone(region: "GB"))])
                != RepeatedExpressions.keys(.path(p), [.fn(.phone(region: "DE"))]))
        #expect(
            RepeatedExpressions.keys(.path(Path.parse("a.b")!), [.fn(.trim)])
                != RepeatedExpressions.keys(.path(Path.parse("ab")!), [.fn(.trim)]))
        #expect(RepeatedExpressions.keys(.const("a"), [.fn(.trim)]).isEmpty)
        #expect(RepeatedExpressions.keys(.path(Path.parse("a[0]")!), [.fn(.trim)]).isEmpty)
    }

    @Test("shipped mappings: every inline test input gives the same outcome with and without shared expressions")
    func shippedTestInputs() throws {
        let library = try MappingLibrary.load(directory: repoRoot + "/Mappings")
        var shared = 0
        for m in library.mappings.values.sorted(by: { $0.name < $1.name }) {
            shared += m.madeCount
            for t in m.tests {
                var context = library.context
                if !t.lookups.isEmpty { context.lookup = StaticLookup(t.lookups) }
                expectSameOutcome(m, t.input, context: context)
            }
        }
        #expect(shared >= 6)
    }

    @Test("crm-customer-import: 3 000 generated customers give the same outcome with and without shared expressions")
    func generatedCustomers() throws {
        let library = try MappingLibrary.load(directory: repoRoot + "/Mappings")
        let mapping = try #require(library.mapping(named: "crm-customer-import"))
        var rng = RuntimeFastPathTests.Rng(s: 91)
        let texts = [
            "\"jane\"", "\" Ann-Marie \"", "\"\"", "\"  \"", "null", "12", "true", "\"m\\u00fcller\"",
            "\"a\\\"b\\\\c\"", "\"Zoë\"", "\"😀\"", "[\"x\"]", "{\"a\":1}", "\"O'BRIEN\"", "\"van der berg\"",
        ]
        let fields: [(String, [String])] = [
            ("first_name", texts), ("last_name", texts), ("company", texts + ["\" Acme Ltd\"", "\"Initech \""]),
            ("email", ["\" Jane.Doe@Example.com \"", "\"nobody\"", "null", "\"\"", "\"x@y.z\""]),
            ("phone", ["\"020 7946 0018\"", "\"+44 7700 900123\"", "\"12\"", "null", "\"\""]),
            ("status", ["\"A\"", "\"I\"", "\"P\"", "\"Q\"", "\"X\"", "null"]),
            ("tier", ["\" Gold \"", "\"\"", "null"]),
            ("address", ["{\"street\":\"1 High St \",\"city\":\"london\",\"zip\":\"ec1a 1bb\"}", "{}", "null"]),
            ("tags", ["[\" VIP\",\"Newsletter\"]", "[]", "null"]),
            ("lifetime_value", ["\"1234.5\"", "\"x\"", "12.345", "null"]),
            ("locale", ["\"en_GB\"", "null"]),
        ]
        let ids = ["7", "\"c7\"", "\"\"", "null", "1.5e3", "true", "[1]", "{\"a\":1}", "\"  \""]
        for n in 0..<3_000 {
            var members: [String] = []
            if rng.next(8) != 0 { members.append("\"id\":\(rng.next(3) == 0 ? ids[rng.next(ids.count)] : String(n))") }
            for (name, values) in fields where rng.next(4) != 0 {
                members.append("\"\(name)\":\(values[rng.next(values.count)])")
            }
            if rng.next(10) == 0 { members.append("\"first_name\":\"dup\"") }
            if rng.next(10) == 0 { members.append("\"company\":\"later\"") }
            expectSameOutcome(mapping, Array("{\(members.joined(separator: ","))}".utf8))
        }
    }

    @Test("repeated expressions in keys, conditions, first, concat, when, filters and several outputs; failing ones")
    func everyPlace() throws {
        let dir = try mappingFolder([
            "m.yaml": """
            name: m
            drop_when: {value: {path: e, fn: [email]}, equals: "drop@example.com"}
            filter: {value: {path: n, fn: [trim, lower]}, matches: "^[a-z]"}
            outputs:
              - entity: Customer
                key: {path: id, fn: [string, {prefix: "k:"}]}
                when: {value: {path: n, fn: [trim, lower]}, exists: true}
                fields:
                  id: {path: id, fn: [string, {prefix: "k:"}], required: true}
                  kind:
                    when: {value: {path: n, fn: [trim, lower]}, in: [acme, initech]}
                    then: {const: organisation}
                    else: {const: person}
                  displayName:
                    first:
                      - {path: n, fn: [trim, non_empty]}
                      - {concat: [{path: g, fn: [name]}, {path: n, fn: [trim]}], separator: " "}
                  givenName: {path: g, fn: [name, non_empty]}
                  emails: {path: e, fn: [email, list]}
                  other.emails: {path: e, fn: [email]}
                  other.phone: {path: p, fn: [{phone: GB}]}
                  other.phoneDE: {path: p, fn: [{phone: DE}], omit_null: false}
                  tags: {each: t, value: {path: "@", fn: [trim, lower]}}
                  lower: {path: n, fn: [trim, lower, upper]}
              - entity: Ticket
                key: {path: id, fn: [string, {prefix: "k:"}]}
                when: {value: {path: e, fn: [email]}, exists: true}
                fields:
                  id: {path: id, fn: [string, {prefix: "t:"}]}
                  subject: {concat: [{path: n, fn: [trim]}, {path: e, fn: [email]}], separator: " / "}
                  channel: {const: email}
                  severity: {const: normal}
                  status: {const: new}
                  customerRef: {path: id, fn: [string, {prefix: "k:"}]}
            """
        ])
        let library = try MappingLibrary.load(directory: dir)
        let mapping = try #require(library.mapping(named: "m"))
        #expect(mapping.madeCount >= 5)
        var rng = RuntimeFastPathTests.Rng(s: 5)
        let values: [(String, [String])] = [
            ("id", ["1", "\"x\"", "null", "\"\"", "[1]"]),
            ("n", ["\" Acme \"", "\"initech\"", "\"Zed\"", "\" \"", "null", "1", "\"9lives\"", "[\"a\"]"]),
            ("g", ["\"jane\"", "\"O'BRIEN\"", "null", "\"\"", "{\"a\":1}"]),
            ("e", ["\"a@b.co\"", "\" Drop@Example.com\"", "\"bad\"", "null", "\"\"", "3"]),
            ("p", ["\"020 7946 0018\"", "\"+49 30 123456\"", "\"1\"", "null"]),
            ("t", ["[\" A\",\"b \"]", "[]", "null", "\"x\"", "[1, null]"]),
        ]
        for _ in 0..<4_000 {
            var members: [String] = []
            for (name, vs) in values where rng.next(5) != 0 { members.append("\"\(name)\":\(vs[rng.next(vs.count)])") }
            expectSameOutcome(mapping, Array("{\(members.joined(separator: ","))}".utf8))
        }
        // Not an object, not JSON: the same input errors.
        for text in ["[1]", "\"x\"", "{", "{\"n\":\"a\",}", ""] { expectSameOutcome(mapping, Array(text.utf8)) }
    }
}
