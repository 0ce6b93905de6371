import CRMMapping
import CRMModel
import CRMYAML
import Testing

@Suite("RecordCondition")
struct RecordConditionTests {
    private func condition(_ yaml: String) throws -> RecordCondition {
        try RecordCondition(compiling: try YAMLDocument.parse(yaml, file: "rule.yaml"))
    }

    private func record(_ json: String) throws -> JSONValue {
        try JSONValue.parse(json)
    }

    @Test("numeric bounds compare numbers and decimal strings; text and missing fields compare false")
    func numericBounds() throws {
        let vip = try condition("{path: customer.lifetimeValue, at_least: 10000}")
        #expect(try vip.matches(record(#"{"customer": {"lifetimeValue": 10000}}"#)))
        #expect(try vip.matches(record(#"{"customer": {"lifetimeValue": "25000.50"}}"#)))
        #expect(try !vip.matches(record(#"{"customer": {"lifetimeValue": "9999.99"}}"#)))
        #expect(try !vip.matches(record(#"{"customer": {"lifetimeValue": "lots"}}"#)))
        #expect(try !vip.matches(record(#"{"customer": null}"#)))
        let band = try condition("{path: age.hours, above: 24, below: 48}")
        #expect(try band.matches(record(#"{"age": {"hours": 30}}"#)))
        #expect(try !band.matches(record(#"{"age": {"hours": 24}}"#)))
        #expect(try !band.matches(record(#"{"age": {"hours": 48}}"#)))
    }

    @Test("all, any and not combine equals, in, matches and exists as in mappings")
    func combinators() throws {
        let rule = try condition(
            """
            all:
              - {path: ticket.severity, in: [high, urgent]}
              - {not: {path: ticket.status, in: [solved, closed]}}
              - any: [{path: ticket.subject, matches: "(?i)outage"}, {path: customer.tier, equals: gold}]
            """)
        #expect(
            try rule.matches(
                record(
                    #"{"ticket": {"severity": "urgent", "status": "open", "subject": "x"}, "customer": {"tier": "gold"}}"#
                )))
        #expect(
            try rule.matches(record(#"{"ticket": {"severity": "high", "status": "new", "subject": "Total OUTAGE"}}"#)))
        #expect(
            try !rule.matches(record(#"{"ticket": {"severity": "high", "status": "closed", "subject": "outage"}}"#)))
        #expect(
            try !rule.matches(record(#"{"ticket": {"severity": "normal", "status": "open", "subject": "outage"}}"#)))
    }

    @Test("a mistake is reported with its line and column")
    func problemsAreLocated() throws {
        #expect {
            _ = try condition("all:\n  - {path: severity, at_least: high}\n")
        } throws: { error in
            let problems = (error as? MappingLoadError)?.problems ?? []
            return problems.count == 1 && problems[0].description.contains("rule.yaml:2")
                && problems[0].description.contains("needs a number")
        }
        #expect(throws: MappingLoadError.self) { _ = try condition("{path: severity, greater: 3}") }
    }
}
