import ArgumentParser
import CRMDelivery
import CRMHub
import CRMModel
import CRMWorkflow
import Foundation

/// `crmhub rules list|test`: the workflow rules (escalation, lead assignment) of the rules folder.
struct RulesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rules",
        abstract: "List the workflow rules and try an escalation rule on sample records.",
        discussion: """
            Rules are YAML files in the folder named by `rules:` in the hub configuration (default Rules/). The daemon
            (`crmhub run`) runs escalation rules on their schedules and lead-assignment rules as the step of the routes
            that name them (`rule: NAME`). See Connectors/README.md, "Workflow rules".
            """,
        subcommands: [List.self, Test.self])

    /// Loads the hub configuration and its rules, or exits with code 2 listing the problems.
    static func load(_ options: ConfigOptions) throws -> (HubConfiguration, WorkflowRules) {
        let configuration = try options.load()
        do {
            return (configuration, try WorkflowRules.load(directory: configuration.rulesDirectory))
        } catch {
            printError("workflow rules have \(error.problems.count) problem(s):\n\(error)")
            throw ExitCode(2)
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Each rule with what it reads and writes; escalation rules with their next checks.")
        @OptionGroup var options: ConfigOptions

        func run() async throws {
            let (configuration, rules) = try RulesCommand.load(options)
            if rules.rules.isEmpty {
                print("no workflow rules in \(configuration.rulesDirectory)")
                return
            }
            for rule in rules.rules {
                switch rule {
                case .escalation(let rule):
                    let customers = rule.customersTopic.map { " + \($0)" } ?? ""
                    print(
                        "\(rule.name)  escalation  \(rule.ticketsTopic)\(customers) → \(rule.outputTopic)\(rule.notify.map { "  (notify \($0))" } ?? "")"
                    )
                    switch rule.check {
                    case .every(let interval):
                        print("  checks every \(interval)")
                    case .schedule(let schedule):
                        print("  cron '\(schedule.cron.description)' in \(schedule.timeZone.identifier)")
                        for run in schedule.runs(after: Date(), limit: 3) {
                            print("  next: \(schedule.localDescription(run))  =  \(run.formatted(.iso8601))")
                        }
                    }
                case .leadAssignment(let rule):
                    let routes = configuration.routes.filter { $0.rule == rule.name }.map {
                        "\($0.name) (\($0.from) → \($0.to.topics.joined(separator: ",")))"
                    }
                    let territories = Set(rule.territories.rows.map(\.territory)).count
                    print(
                        "\(rule.name)  lead-assignment  \(territories) territories\(rule.maxOpenPerOwner.map { ", at most \($0) open per owner" } ?? "")"
                    )
                    print(routes.isEmpty ? "  no route uses it" : "  step of route \(routes.joined(separator: ", "))")
                }
            }
        }
    }

    struct Test: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "Say whether an escalation rule would escalate a ticket (JSON file), with the document its condition sees.",
            discussion: "Exit code 0: the ticket would be escalated; 1: it would not; 2: bad input.")
        @OptionGroup var options: ConfigOptions
        @Argument(help: "The escalation rule's name.") var rule: String
        @Option(help: "A ticket as JSON (a file path, or - for standard input).") var ticket: String
        @Option(help: "The ticket's customer as JSON (a file path).") var customer: String?
        @Option(help: "The time to judge at (ISO 8601); default: now.") var at: String?

        func run() async throws {
            let (_, rules) = try RulesCommand.load(options)
            guard case .escalation(let escalation) = rules.rule(named: rule) else {
                printError("no escalation rule '\(rule)'; `crmhub rules list` shows the rules")
                throw ExitCode(2)
            }
            let ticketRecord = try Self.readJSON(ticket)
            let customerRecord = try customer.map(Self.readJSON)
            var now = Date()
            if let at {
                guard let parsed = try? Date(at, strategy: .iso8601) else {
                    printError("--at '\(at)' is not an ISO 8601 time such as 2026-11-25T09:00:00Z")
                    throw ExitCode(2)
                }
                now = parsed
            }
            let openedAt = escalation.openedAt(ticketRecord, firstSeen: now)
            print(
                escalation.document(ticket: ticketRecord, customer: customerRecord, openedAt: openedAt, now: now)
                    .jsonText)
            do {
                if try escalation.isDue(ticket: ticketRecord, customer: customerRecord, openedAt: openedAt, now: now) {
                    print("escalate: the ticket is open and meets the rule's condition")
                    return
                }
            } catch {
                printError("the condition cannot be evaluated on this ticket: \(error)")
                throw ExitCode(2)
            }
            print(
                escalation.isOpen(ticketRecord)
                    ? "no: the condition does not hold"
                    : "no: the ticket is not open (status not in \(escalation.openStatuses.sorted()))")
            throw ExitCode(1)
        }

        static func readJSON(_ path: String) throws -> JSONValue {
            let data =
                path == "-"
                ? FileHandle.standardInput.readDataToEndOfFile() : FileManager.default.contents(atPath: path)
            guard let data else {
                printError("cannot read \(path)")
                throw ExitCode(2)
            }
            do {
                return try JSONValue.parse(Array(data))
            } catch {
                printError("\(path) is not JSON: \(error)")
                throw ExitCode(2)
            }
        }
    }
}
