import CRMModel
import Testing

@testable import CRMMapping

/// Documents of one known shape (a CSV file's rows) are mapped with their members found by position
/// (``CompiledMapping/apply(_:layout:context:)``): the outcome must be the one of finding them by name.
@Suite("Root layouts")
struct RootLayoutTests {
    /// `document` mapped with `layout` and by name give the same outcome, bytes and keys.
    func expectSameOutcome(
        _ mapping: CompiledMapping, _ document: JSONValue, layout: CompiledMapping.RootLayout,
        sourceLocation: SourceLocation = #_sourceLocation
    ) {
        let byPosition = Result { () throws(MappingError) in try mapping.apply(document, layout: layout) }
        let byName = Result { () throws(MappingError) in try mapping.apply(document) }
        Self.expectSameOutcome(byPosition, byName, of: document, sourceLocation: sourceLocation)
    }

    /// Two ways of mapping `document` give the same outcome, record bytes and keys.
    static func expectSameOutcome(
        _ one: Result<MappingResult, MappingError>, _ other: Result<MappingResult, MappingError>,
        of document: JSONValue,
        sourceLocation: SourceLocation
    ) {
        #expect(one == other, "\(document.jsonText)", sourceLocation: sourceLocation)
        #expect(
            (try? one.get()).map(DirectOutputEquivalenceTests.bytes)
                == (try? other.get()).map(DirectOutputEquivalenceTests.bytes), sourceLocation: sourceLocation)
        #expect(
            (try? one.get()).map(RepeatedExpressionTests.keys) == (try? other.get()).map(RepeatedExpressionTests.keys),
            sourceLocation: sourceLocation)
    }

    /// A row object as a CSV file's header lays it out: `columns` in order, nested ones as objects, text only.
    static func row(_ columns: [(String, JSONValue)]) -> JSONValue { .object(columns) }

    @Test("crm-customer-import: 2 000 text rows give the same outcome by position as by name")
    func generatedRows() throws {
        let library = try MappingLibrary.load(directory: repoRoot + "/Mappings")
        let mapping = try #require(library.mapping(named: "crm-customer-import"))
        var rng = RuntimeFastPathTests.Rng(s: 17)
        let texts = ["jane", " Ann-Marie ", "", "  ", "O'BRIEN", "van der berg", "Zoë", "😀", "a\"b\\c", "12"]
        let columns: [(String, [String])] = [
            ("id", ["7", "c7", "", "  ", "1.5e3"]), ("first_name", texts), ("last_name", texts),
            ("company", texts + [" Acme Ltd", "Initech "]),
            ("email", [" Jane.Doe@Example.com ", "nobody", "", "x@y.z"]),
            ("phone", ["020 7946 0018", "+44 7700 900123", "12", ""]), ("status", ["A", "I", "P", "Q", "X", ""]),
            ("tier", [" Gold ", ""]), ("lifetime_value", ["1234.5", "x", ""]), ("locale", ["en_GB", "", "FR"]),
            ("created_at", ["2024-03-01T10:00:00+01:00", "yesterday", ""]), ("source", ["legacy", ""]),
        ]
        let nested: [(String, [String])] = [("street", texts), ("city", texts), ("zip", ["ec1a 1bb", ""])]
        let names = columns.map(\.0) + ["address", "marketing"]
        let layout = mapping.rootLayout(rootMembers: names)
        for _ in 0..<2_000 {
            var members: [(String, JSONValue)] = columns.map { ($0.0, .string($0.1[rng.next($0.1.count)])) }
            members.append(("address", .object(nested.map { ($0.0, .string($0.1[rng.next($0.1.count)])) })))
            members.append(
                ("marketing", .object([("email", .string(["true", "no", ""][rng.next(3)])), ("sms", .string(""))])))
            expectSameOutcome(mapping, Self.row(members), layout: layout)
        }
    }

    @Test("members the mapping reads are missing from the layout, others it does not read are in it")
    func partialLayouts() throws {
        let library = try MappingLibrary.load(directory: repoRoot + "/Mappings")
        let mapping = try #require(library.mapping(named: "crm-customer-import"))
        let members: [(String, JSONValue)] = [
            ("first_name", .string("jane")), ("unused", .string("x")), ("id", .string("9")),
            ("status", .string("A")),
        ]
        expectSameOutcome(mapping, Self.row(members), layout: mapping.rootLayout(rootMembers: members.map(\.0)))
        // Without `id` the record is missing its required id: the same error either way.
        let noID = members.filter { $0.0 != "id" }
        expectSameOutcome(mapping, Self.row(noID), layout: mapping.rootLayout(rootMembers: noID.map(\.0)))
    }

    @Test("a document that is not of the layout's size is mapped by name")
    func otherShapes() throws {
        let library = try MappingLibrary.load(directory: repoRoot + "/Mappings")
        let mapping = try #require(library.mapping(named: "crm-customer-import"))
        let layout = mapping.rootLayout(rootMembers: ["id", "first_name", "last_name"])
        expectSameOutcome(mapping, Self.row([("id", .string("1")), ("last_name", .string("Doe"))]), layout: layout)
        expectSameOutcome(mapping, .string("not an object"), layout: layout)
    }
}
