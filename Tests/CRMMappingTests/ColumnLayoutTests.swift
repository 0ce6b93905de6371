import CRMModel
import Testing

@testable import CRMMapping

/// Rows of text columns (a CSV file's) are mapped from their texts in the mapping's slots
/// (``CompiledMapping/apply(columns:ends:layout:context:)``): the outcome must be the one of mapping the row's object.
@Suite("Column layouts")
struct ColumnLayoutTests {
    /// The row's object as the import makes it: every column's path set to its text, in order.
    static func object(_ paths: [[String]], _ fields: [String]) -> JSONValue {
        var document = JSONValue.object([])
        for (path, field) in zip(paths, fields) { document.set(path: path[...], to: .string(field)) }
        return document
    }

    static func paths(_ header: [String]) -> [[String]] {
        header.map { $0.split(separator: ".", omittingEmptySubsequences: false).map(String.init) }
    }

    /// `fields` mapped from their texts and as the row's object give the same outcome, bytes and keys.
    func expectSameOutcome(
        _ mapping: CompiledMapping, _ paths: [[String]], _ fields: [String],
        sourceLocation: SourceLocation = #_sourceLocation
    ) throws {
        let layout = try #require(mapping.columnLayout(header: paths), sourceLocation: sourceLocation)
        var text: [UInt8] = []
        var ends: [Int] = []
        for field in fields {
            text.append(contentsOf: field.utf8)
            ends.append(text.count)
        }
        let byColumn = Result { () throws(MappingError) in try mapping.apply(columns: text, ends: ends, layout: layout)
        }
        let document = Self.object(paths, fields)
        let byObject = Result { () throws(MappingError) in try mapping.apply(document) }
        RootLayoutTests.expectSameOutcome(byColumn, byObject, of: document, sourceLocation: sourceLocation)
    }

    @Test("crm-customer-import: 2 000 rows of the benchmark's header give the same outcome from their columns")
    func generatedRows() throws {
        let library = try MappingLibrary.load(directory: repoRoot + "/Mappings")
        let mapping = try #require(library.mapping(named: "crm-customer-import"))
        var rng = RuntimeFastPathTests.Rng(s: 23)
        // Texts that need escapes (a quote, a backslash, a tab, a line break), are not ASCII, are blank or empty.
        let texts = [
            "jane", " Ann-Marie ", "", "  ", "O'BRIEN", "Zoë", "😀", "a\"b\\c", "tab\there", "two\nlines", "12",
        ]
        let columns: [(String, [String])] = [
            ("id", ["7", "c7", "", "  ", "1.5e3", "q\"1"]), ("first_name", texts), ("last_name", texts),
            ("email", [" Jane.Doe@Example.com ", "nobody", "", "x@y.z", "\"x\"@y.z"]),
            ("phone", ["020 7946 0018", "+44 7700 900123", "12", ""]), ("status", ["A", "I", "P", "Q", "X", ""]),
            ("tier", [" Gold ", "", "si\\lver"]), ("created_at", ["2024-03-01T10:00:00+01:00", "yesterday", ""]),
            ("address.street", texts), ("address.city", texts), ("address.zip", ["ec1a 1bb", ""]),
            ("address.country", ["gb", "", "Fr"]), ("marketing.email", ["true", "no", ""]),
            ("marketing.sms", ["", "yes"]), ("lifetime_value", ["1234.5", "x", ""]), ("locale", ["en_GB", "", "FR"]),
            ("source", ["legacy", ""]), ("company", texts + [" Acme Ltd"]),
        ]
        let paths = Self.paths(columns.map(\.0))
        for _ in 0..<2_000 {
            try expectSameOutcome(mapping, paths, columns.map { $0.1[rng.next($0.1.count)] })
        }
    }

    @Test("columns the mapping does not read, repeated columns and columns missing from the header")
    func otherHeaders() throws {
        let library = try MappingLibrary.load(directory: repoRoot + "/Mappings")
        let mapping = try #require(library.mapping(named: "crm-customer-import"))
        // A later column of the same path wins; `address` has no columns here; `x.y.z` is not read.
        try expectSameOutcome(
            mapping, Self.paths(["id", "first_name", "id", "x.y.z", "unused", "status"]),
            ["1", "jane", "2", "deep", "u", "A"])
        // Without `id` the record is missing its required id: the same error either way.
        try expectSameOutcome(mapping, Self.paths(["first_name", "status"]), ["jane", "A"])
        // `address` as one text: the mapping reads only members of it, which a text has none of.
        try expectSameOutcome(mapping, Self.paths(["id", "address", "status"]), ["3", "1 High St", "A"])
    }

    @Test("a mapping that reads a member whole, or the whole row, is given the row's object")
    func wholeReads() throws {
        let folder = try mappingFolder([
            "w.yaml": """
            name: whole
            outputs:
              - entity: Interaction
                validate: false
                key: {path: id}
                fields:
                  id: {path: id, required: true}
                  type: {const: form}
                  channel: {const: web}
                  direction: {const: inbound}
                  startedAt: {const: "2026-12-06T00:00:00Z"}
                  where: {path: address}
                  everything: {path: "$"}
            """
        ])
        let mapping = try #require(try MappingLibrary.load(directory: folder).mapping(named: "whole"))
        // `address` is read whole and has columns under it: no layout; the row's object is mapped instead.
        #expect(mapping.columnLayout(header: Self.paths(["id", "address.city"])) == nil)
        // No column under `address`: the whole row is made from the columns when `$` is read.
        try expectSameOutcome(mapping, Self.paths(["id", "address", "note.text"]), ["1", "High St \"3\"", "ok"])
    }

    @Test("a header whose member is both a column and has columns under it has no layout")
    func conflictingHeaders() throws {
        let library = try MappingLibrary.load(directory: repoRoot + "/Mappings")
        let mapping = try #require(library.mapping(named: "crm-customer-import"))
        #expect(mapping.columnLayout(header: Self.paths(["id", "address", "address.city"])) == nil)
        #expect(mapping.columnLayout(header: Self.paths(["id", "address.city.name"])) == nil)
        #expect(mapping.columnLayout(header: Self.paths(["id", "address.city", "unread", "unread.too"])) != nil)
    }
}
