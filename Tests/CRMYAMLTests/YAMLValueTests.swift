import Testing

@testable import CRMYAML

@Suite struct YAMLValueTests {
    @Test func unknownKeyIsReportedWithLineColumnAndSuggestion() throws {
        let root = try YAMLDocument.parse("brokers: a\nroutse:\n  - x\n", file: "hub.yaml")
        let mapping = try root.mapping()
        let error = #expect(throws: YAMLError.self) { try mapping.allowOnly(["brokers", "routes"]) }
        #expect(error?.location == SourceLocation(file: "hub.yaml", line: 2, column: 1))
        #expect(error?.message.contains("did you mean 'routes'") == true)
    }

    @Test func syntaxErrorNamesTheLine() {
        let error = #expect(throws: YAMLError.self) { try YAMLDocument.parse("a: [1, 2\nb: 3\n", file: "x.yaml") }
        #expect(error?.location.file == "x.yaml")
        #expect((error?.location.line ?? 0) >= 1)
        #expect(error?.message.hasPrefix("invalid YAML") == true)
    }

    @Test func wrongTypeNamesThePathAndLocation() throws {
        let root = try YAMLDocument.parse("http:\n  port: eighty\n", file: "c.yaml")
        let port = try root.mapping().require("http").mapping().require("port")
        let error = #expect(throws: YAMLError.self) { try port.int(in: 1...65535) }
        #expect(error?.description == "c.yaml:2:9: http.port: expected a whole number, found 'eighty'")
    }

    @Test func outOfRangeIntegerIsRejected() throws {
        let root = try YAMLDocument.parse("port: 70000\n", file: "c.yaml")
        #expect(throws: YAMLError.self) { try root.mapping().require("port").int(in: 1...65535) }
    }

    @Test func duplicateKeysAreRejectedWithTheKeyAndTheMappingsLine() throws {
        let error = #expect(throws: YAMLError.self) {
            try YAMLDocument.parse("x: 0\ny:\n  a: 1\n  a: 2\n", file: "d.yaml")
        }
        #expect(error?.message == "duplicate key 'a' in the mapping that starts here")
        #expect(error?.location.file == "d.yaml")
        #expect(error?.location.line == 3)
    }

    @Test func missingRequiredKeyIsReported() throws {
        let root = try YAMLDocument.parse("name: r1\n", file: "r.yaml")
        let error = #expect(throws: YAMLError.self) { try root.mapping().require("from") }
        #expect(error?.message == "missing required key 'from'")
    }
}
