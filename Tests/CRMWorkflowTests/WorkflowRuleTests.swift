import CRMDelivery
import CRMHub
import CRMKafka
import CRMMail
import CRMModel
import CRMTestSupport
import Foundation
import Testing

@testable import CRMWorkflow

/// The shipped example rules (deploy/demo/rules), loaded as the daemon loads them.
let exampleRules = repositoryRoot.appendingPathComponent("deploy/demo/rules").path

func json(_ text: String) throws -> JSONValue { try JSONValue.parse(text) }

/// Writes rule files (and tables) to a fresh folder.
func ruleFolder(_ files: [String: String]) throws -> String { try temporaryFolder(files, prefix: "crmhub-rules") }

@Suite("Territory table")
struct TerritoryTableTests {
    let table = try! TerritoryTable(
        csv: """
            # comment
            territory,country,postal_prefix,owners
            london,GB,E|EC|N|NW|SE|SW|W|WC,alice|bob
            uk,GB|IE,,carol
            dach,DE|AT|CH,,dieter|eva
            munich,DE,80|81|85,maximilian
            rest,*,,queue
            """)

    @Test("the most specific row wins: longest postal prefix, then the country, then any country")
    func mostSpecificRowWins() {
        #expect(table.territory(country: "GB", postalCode: "EC1A 1BB") == "london")
        #expect(table.territory(country: "gb", postalCode: "ec1a1bb") == "london")
        #expect(table.territory(country: "GB", postalCode: "M1 1AE") == "uk")
        #expect(table.territory(country: "IE", postalCode: nil) == "uk")
        #expect(table.territory(country: "DE", postalCode: "80331") == "munich")
        #expect(table.territory(country: "DE", postalCode: "10115") == "dach")
        #expect(table.territory(country: "FR", postalCode: "75001") == "rest")
        #expect(table.territory(country: nil, postalCode: nil) == "rest")
        #expect(table.owners(of: "london") == ["alice", "bob"])
    }

    @Test("a bad table names the line and the problem")
    func badTablesNameTheLine() {
        let cases: [(String, String)] = [
            ("territory,country,owners\n", "1: the header"),
            ("territory,country,postal_prefix,owners\nlondon,GB,E\n", "2: expected 4 columns"),
            ("territory,country,postal_prefix,owners\nlondon,GBR,,alice\n", "2: 'GBR' is not an ISO 3166"),
            ("territory,country,postal_prefix,owners\n\nlondon,GB,,\n", "3: territory 'london' has no owners"),
            ("territory,country,postal_prefix,owners\n", "the table has no territories"),
        ]
        for (csv, expected) in cases {
            #expect(throws: TerritoryTableError.self) { _ = try TerritoryTable(csv: csv) }
            do {
                _ = try TerritoryTable(csv: csv, file: "t.csv")
            } catch {
                #expect(error.description.contains(expected), "\(error.description)")
            }
        }
    }
}

@Suite("Lead assignment")
struct LeadAssignmentTests {
    func rule(maxOpen: Int? = nil, fallback: String? = nil) throws -> LeadAssignmentRule {
        let directory = try ruleFolder([
            "territories.csv":
                "territory,country,postal_prefix,owners\nlondon,GB,E|EC|N|W,alice|bob|chris\nuk,GB,,carol\n",
            "leads.yaml": """
            name: leads
            kind: lead-assignment
            territories: territories.csv
            fields: {country: address.country, postal_code: address.postalCode}
            \(maxOpen.map { "max_open_per_owner: \($0)" } ?? "")
            \(fallback.map { "fallback_owner: \($0)" } ?? "")
            """,
        ])
        guard case .leadAssignment(let rule) = try WorkflowRule(path: directory + "/leads.yaml") else {
            throw TestSetupError("not a lead rule")
        }
        return rule
    }

    func lead(
        _ id: String, postalCode: String = "EC1A 1BB", country: String = "GB", status: String = "new",
        owner: String? = nil
    ) throws -> JSONValue {
        try json(
            #"{"id": "\#(id)", "status": "\#(status)", "address": {"country": "\#(country)", "postalCode": "\#(postalCode)"}\#(owner.map { #", "owner": "\#($0)""# } ?? "")}"#
        )
    }

    @Test("new leads go to the owner with the fewest open leads, so a territory's owners stay balanced")
    func balancesByOpenLeads() async throws {
        let rule = try rule()
        let book = try LeadBook(path: nil)
        var owners: [String] = []
        for n in 1...9 {
            owners.append(try await book.decide(id: "L\(n)", lead: try lead("L\(n)"), rule: rule).owner ?? "-")
        }
        #expect(owners == ["alice", "bob", "chris", "alice", "bob", "chris", "alice", "bob", "chris"])
        #expect(try await book.openLeads() == ["alice": 3, "bob": 3, "chris": 3])
        // Bob converts two leads: the next two new leads are his.
        for id in ["L2", "L5"] {
            _ = try await book.decide(id: id, lead: try lead(id, status: "converted"), rule: rule)
        }
        let next = try await book.decide(id: "L10", lead: try lead("L10"), rule: rule)
        #expect(next.owner == "bob" && next.kind == .assigned && next.territory == "london" && next.openLeads == 2)
        #expect(try await book.decide(id: "L11", lead: try lead("L11"), rule: rule).owner == "bob")
        #expect(try await book.decide(id: "L12", lead: try lead("L12"), rule: rule).owner == "alice")
    }

    @Test("a redelivered or updated lead keeps its owner and is counted once; a CRM-set owner counts for that owner")
    func keepsOwners() async throws {
        let rule = try rule()
        let book = try LeadBook(path: nil)
        let first = try await book.decide(id: "L1", lead: try lead("L1"), rule: rule)
        let again = try await book.decide(id: "L1", lead: try lead("L1"), rule: rule)
        let moved = try await book.decide(
            id: "L1", lead: try lead("L1", postalCode: "M1 1AE", status: "contacted"), rule: rule)
        #expect(first.owner == "alice" && again.owner == "alice" && moved.owner == "alice")
        #expect(again.kind == .kept && moved.kind == .kept)
        let crm = try await book.decide(id: "L2", lead: try lead("L2", owner: "bob"), rule: rule)
        #expect(crm.kind == .crm && crm.owner == "bob")
        let closedUnknown = try await book.decide(id: "L3", lead: try lead("L3", status: "lost"), rule: rule)
        #expect(closedUnknown.kind == .notOpen && closedUnknown.owner == nil)
        #expect(try await book.openLeads() == ["alice": 1, "bob": 1])
        #expect(try await book.decide(id: "L4", lead: try lead("L4"), rule: rule).owner == "chris")
    }

    @Test(
        "owners at max_open_per_owner are passed over while a colleague has room; the fallback owner takes uncovered leads"
    )
    func limitsAndFallback() async throws {
        let limited = try rule(maxOpen: 1, fallback: "queue")
        let book = try LeadBook(path: nil)
        _ = try await book.decide(id: "A", lead: try lead("A", owner: "alice"), rule: limited)
        _ = try await book.decide(id: "B", lead: try lead("B", owner: "alice"), rule: limited)
        let next = try await book.decide(id: "C", lead: try lead("C"), rule: limited)
        #expect(next.owner == "bob" && !next.atLimit)
        _ = try await book.decide(id: "D", lead: try lead("D"), rule: limited)
        let full = try await book.decide(id: "E", lead: try lead("E"), rule: limited)
        #expect(
            full.atLimit && full.owner == "bob",
            "everyone is at the limit: the least busy (bob or chris, 1 each; bob first) gets it")
        let abroad = try await book.decide(id: "F", lead: try lead("F", country: "FR"), rule: limited)
        #expect(abroad.kind == .fallback && abroad.owner == "queue")
        await #expect(throws: LeadBook.Unassignable.self) {
            _ = try await book.decide(id: "G", lead: try lead("G", country: "FR"), rule: try rule())
        }
    }

    @Test("the transform sets the owner and an assignment object, and refuses leads it cannot place with a reason")
    func transformOutput() async throws {
        let transform = LeadAssignmentTransform(
            rule: try rule(), book: try LeadBook(path: nil), logger: .init(label: "test"))
        let message = ConsumerMessageFixture.make(value: try lead("L1").jsonText)
        guard case .produce(let records) = await transform.transform(message) else {
            Issue.record("not produced")
            return
        }
        let out = try JSONValue.parse(records[0].value)
        #expect(out["owner"]?.stringValue == "alice")
        #expect(out["assignment"]?["territory"]?.stringValue == "london")
        #expect(out["assignment"]?["decision"]?.stringValue == "assigned")
        #expect(out["address"]?["postalCode"]?.stringValue == "EC1A 1BB")
        guard
            case .failure(let reason, _) = await transform.transform(
                ConsumerMessageFixture.make(value: try lead("L2", country: "FR").jsonText))
        else {
            Issue.record("an uncovered lead must fail")
            return
        }
        #expect(reason.contains("no territory"))
        guard case .failure = await transform.transform(ConsumerMessageFixture.make(value: "[1]")) else {
            Issue.record("not an object")
            return
        }
    }

    @Test("the book survives a restart: a lead read again after a crash gets the same owner")
    func bookIsDurable() async throws {
        let path = try ruleFolder([:]) + "/leads.sqlite"
        let rule = try rule()
        _ = try await LeadBook(path: path).decide(id: "L1", lead: try lead("L1"), rule: rule)
        _ = try await LeadBook(path: path).decide(id: "L2", lead: try lead("L2"), rule: rule)
        let reopened = try LeadBook(path: path)
        #expect(try await reopened.decide(id: "L1", lead: try lead("L1"), rule: rule).owner == "alice")
        #expect(try await reopened.openLeads() == ["alice": 1, "bob": 1])
    }
}

enum ConsumerMessageFixture {
    static func make(value: String, key: String? = nil) -> ConsumerMessage {
        ConsumerMessage(
            topicPartition: .init(topic: "crm.lead", partition: 0), offset: 0, key: key.map { Array($0.utf8) },
            value: Array(value.utf8), headers: [])
    }
}

@Suite("Escalation rule")
struct EscalationRuleTests {
    let now = Date(timeIntervalSince1970: 1_790_000_000)

    func shippedRule() throws -> EscalationRule {
        let rules = try WorkflowRules.load(directory: exampleRules)
        return try #require(rules.escalations.first { $0.name == "escalate-vip-tickets" })
    }

    func ticket(severity: String = "urgent", status: String = "open", hoursOld: Double = 50) throws -> JSONValue {
        let opened = now.addingTimeInterval(-hoursOld * 3_600).formatted(.iso8601)
        return try json(
            #"{"id": "T1", "subject": "Line down", "severity": "\#(severity)", "status": "\#(status)", "createdAt": "\#(opened)", "customerRef": "email:ceo@bigco.example"}"#
        )
    }

    func isDue(_ rule: EscalationRule, _ ticket: JSONValue, _ customer: JSONValue?) throws -> Bool {
        try rule.isDue(ticket: ticket, customer: customer, openedAt: rule.openedAt(ticket, firstSeen: now), now: now)
    }

    @Test(
        "the shipped rule fires on an old, severe ticket of a valuable customer and on no ticket missing one of the three"
    )
    func firesOnlyWhenAllThreeHold() throws {
        let rule = try shippedRule()
        let valuable = try json(#"{"id": "C1", "lifetimeValue": "25000.00"}"#)
        let gold = try json(#"{"id": "C1", "tier": "gold"}"#)
        let small = try json(#"{"id": "C2", "lifetimeValue": 120}"#)
        #expect(try isDue(rule, ticket(), valuable))
        #expect(try isDue(rule, ticket(severity: "high"), gold))
        #expect(try !isDue(rule, ticket(hoursOld: 47.5), valuable), "too young")
        #expect(try !isDue(rule, ticket(severity: "normal"), valuable), "not severe")
        #expect(try !isDue(rule, ticket(), small), "not valuable")
        #expect(try !isDue(rule, ticket(), nil), "no customer known")
        #expect(try !isDue(rule, ticket(status: "solved"), valuable), "no longer open")
    }

    @Test("age counts from createdAt, else receivedAt, else from when the hub first saw the ticket")
    func ageSources() throws {
        let rule = try shippedRule()
        let seen = now.addingTimeInterval(-3_600)
        #expect(
            rule.openedAt(try json(#"{"receivedAt": "2026-01-02T03:04:05Z"}"#), firstSeen: seen)
                == (try Date("2026-01-02T03:04:05Z", strategy: .iso8601)))
        #expect(
            rule.openedAt(
                try json(#"{"createdAt": "2026-01-02T03:04:05.250+01:00", "receivedAt": "2020-01-01T00:00:00Z"}"#),
                firstSeen: seen
            ).timeIntervalSince1970 == 1_767_319_445.25)
        #expect(rule.openedAt(try json(#"{"createdAt": "yesterday"}"#), firstSeen: seen) == seen)
        let document = rule.document(
            ticket: try json("{}"), customer: nil, openedAt: now.addingTimeInterval(-90 * 60), now: now)
        #expect(document["age"]?["minutes"]?.doubleValue == 90 && document["age"]?["hours"]?.doubleValue == 1.5)
    }

    @Test("rule files with mistakes are refused with file, line and what is wrong; a route may only name a lead rule")
    func badRuleFiles() throws {
        let directory = try ruleFolder([
            "a.yaml":
                "name: a\nkind: escalation\nto: out\nschedule: {every: 5m}\nwhen: {path: age.hours, at_least: many}\n",
            "b.yaml":
                "name: b\nkind: escalation\nto: out\nschedule: {cron: \"61 * * * *\"}\nwhen: {path: x, exists: true}\n",
            "c.yaml": "name: c\nkind: lead-assignment\nterritories: missing.csv\n",
            "d.yaml": "name: d\nkind: escalate\n",
        ])
        do {
            _ = try WorkflowRules.load(directory: directory)
            Issue.record("bad rules were accepted")
        } catch {
            let text = error.description
            #expect(error.problems.count == 4, "\(text)")
            #expect(text.contains("a.yaml:5") && text.contains("needs a number"))
            #expect(text.contains("b.yaml:4"))
            #expect(text.contains("c.yaml:3") && text.contains("cannot read the territory table"))
            #expect(text.contains("d.yaml:2"))
        }
        let rules = try WorkflowRules.load(directory: exampleRules)
        let hub = try ruleFolder([
            "hub.yaml": """
            kafka: {brokers: ["127.0.0.1:9"]}
            rules: \(exampleRules)
            routes:
              - {name: ok, from: crm.lead, to: crm.lead.assigned, rule: assign-leads}
              - {name: wrong-kind, from: crm.ticket, to: x, rule: escalate-vip-tickets}
              - {name: unknown, from: crm.lead, to: y, rule: nope}
            """
        ])
        let problems = rules.problems(with: try HubConfiguration.load(path: hub + "/hub.yaml"))
        #expect(problems.count == 2)
        #expect(problems.contains { $0.contains("wrong-kind") && $0.contains("is an escalation rule") })
        #expect(problems.contains { $0.contains("unknown") && $0.contains("no rule 'nope'") })
    }

    @Test("an escalation carries what the service manager needs, and the shipped mail templates render it")
    func escalationMail() throws {
        let rule = try shippedRule()
        let customer = try json(
            #"{"id": "C1", "displayName": "BigCo & Sons", "lifetimeValue": "25000.00", "tier": "gold"}"#)
        let ticket = try ticket()
        let escalation = rule.escalation(
            ticketID: "T1", ticket: ticket, customer: customer, openedAt: rule.openedAt(ticket, firstSeen: now),
            now: now)
        #expect(escalation["ageHours"]?.doubleValue == 50)
        #expect(escalation["notify"]?.stringValue == "Service Manager <service-manager@example.com>")
        let context = try JSONSerialization.jsonObject(with: Data(escalation.jsonBytes()))
        let template = try MailTemplate(
            named: "ticket-escalation", directory: repositoryRoot.appendingPathComponent("Connectors/templates").path)
        let rendered = template.render(context)
        #expect(rendered.subject == "[Escalation] urgent ticket T1 open 50.0 h: Line down")
        #expect(
            rendered.text?.contains("Customer:  BigCo & Sons (lifetime value 25000.00), tier gold") == true,
            "\(rendered.text ?? "")")
        #expect(rendered.html?.contains("BigCo &amp; Sons") == true)
    }
}
