import CRMDelivery
import CRMKafka
import CRMViews
import Foundation
import Logging

/// The workflow rules of a hub, ready to run: lead-assignment steps for the routes that name them, and one
/// ``EscalationService`` per escalation rule. State lives in `<state_dir>/rules/<rule>.sqlite`.
public struct Workflow: Sendable {
    public let rules: WorkflowRules
    private let books: [String: LeadBook]
    private let stateDirectory: String

    /// Loads the rules folder `rulesDirectory` and opens the lead books (under `<stateDirectory>/rules`) of the
    /// lead-assignment rules that `routes` use.
    public init(rulesDirectory: String, stateDirectory: String, routes: [RouteConfiguration]) throws {
        rules = try WorkflowRules.load(directory: rulesDirectory)
        self.stateDirectory = URL(fileURLWithPath: stateDirectory).appendingPathComponent("rules").path
        var books: [String: LeadBook] = [:]
        for case .leadAssignment(let rule) in rules.rules where routes.contains(where: { $0.rule == rule.name }) {
            books[rule.name] = try LeadBook(path: Self.statePath(self.stateDirectory, rule.name))
        }
        self.books = books
    }

    /// Topics the escalation rules read and write.
    public var topics: [String] { rules.rules.flatMap(\.topics) }

    /// The step of a route with `rule:`, or nil when the route has none (or names an unknown rule, which validation
    /// reports).
    public func transform(for route: RouteConfiguration, logger: Logger) -> (any MessageTransform)? {
        guard let name = route.rule, case .leadAssignment(let rule) = rules.rule(named: name), let book = books[name]
        else { return nil }
        return LeadAssignmentTransform(rule: rule, book: book, logger: logger)
    }

    /// One service per escalation rule, reading with `consumer` settings in groups under `groupPrefix` and producing
    /// with `producer`.
    public func escalationServices(
        consumer: KafkaConsumerConfiguration, groupPrefix: String, producer: KafkaProducer, logger: Logger
    ) throws -> [EscalationService] {
        try rules.escalations.map { rule in
            EscalationService(
                rule: rule, consumer: consumer, groupPrefix: groupPrefix, producer: producer,
                store: try TicketViewStore(path: Self.statePath(stateDirectory, rule.name)), logger: logger)
        }
    }

    static func statePath(_ directory: String, _ rule: String) -> String {
        URL(fileURLWithPath: directory).appendingPathComponent("\(rule).sqlite").path
    }
}
