import CRMDelivery
import CRMMapping
import CRMModel
import CRMSchedule
import CRMYAML
import Foundation

/// "If a service call is old, of high severity and the customer is of high value, refer it to the service manager."
///
/// The rule keeps the latest state of every ticket of `tickets` (and of every customer of `customers`) and, on its
/// schedule, tests each open ticket it has not escalated yet against `when:`. A ticket that matches is produced once to
/// `to` (keyed by the ticket id, `crm-id` `escalation/<rule>/<ticket>`), where an `smtp-sink` can mail the service
/// manager. The condition sees one document:
///
/// ```
/// {"ticket": {...}, "customer": {...} | null, "age": {"minutes": 2950, "hours": 49.2, "days": 2.05}}
/// ```
///
/// `minutes` is whole, `hours` has one decimal and `days` two. `age` counts from the first of `age_from` the ticket
/// carries (default `createdAt`, `receivedAt`), else from when the hub first saw the ticket.
public struct EscalationRule: Sendable {
    public var name: String
    public var file: String
    /// The ticket topic (`tickets`, default `crm.ticket`): Ticket records, latest per id wins.
    public var ticketsTopic: String = "crm.ticket"
    /// The customer topic (`customers`), e.g. `crm.customer`; without it `customer` is always null.
    public var customersTopic: String?
    /// Where escalations go (`to`).
    public var outputTopic: String
    /// When the check runs (`schedule`: `{every: 5m}` or `{cron: ..., time_zone: ...}`).
    public var check: Check
    /// The condition (`when`), in the mapping condition language plus the numeric bounds.
    public var condition: RecordCondition
    /// Ticket statuses that count as open (`open_statuses`). Default new, open, pending.
    public var openStatuses: Set<String> = ["new", "open", "pending"]
    /// Ticket fields holding the time the ticket was opened, first present wins (`age_from`).
    public var ageFields: [String] = ["createdAt", "receivedAt"]
    /// Who is told (`notify`), copied into each escalation for the mail sink's `to:` template.
    public var notify: String?

    /// When an escalation check runs.
    public enum Check: Sendable {
        /// Every so often from start-up (`every: 5m`).
        case every(Duration)
        /// On a cron schedule in a time zone, with blackouts (`cron: "*/15 7-19 * * 1-5"`, `time_zone: Europe/London`).
        case schedule(Schedule)
    }

    init(_ map: YAMLMapping, name: String, file: String) throws(YAMLError) {
        try map.allowOnly([
            "name", "kind", "description", "tickets", "customers", "to", "schedule", "when", "open_statuses",
            "age_from", "notify",
        ])
        self.name = name
        self.file = file
        if let value = map.optional("tickets") { ticketsTopic = try value.topicName() }
        customersTopic = try map.optional("customers").map { value throws(YAMLError) in try value.topicName() }
        outputTopic = try map.require("to").topicName()
        let scheduleValue = try map.require("schedule")
        let scheduleMap = try scheduleValue.mapping()
        if let every = scheduleMap.optional("every") {
            try scheduleMap.allowOnly(["every"])
            check = .every(try every.delay())
        } else {
            check = .schedule(try Schedule(yaml: scheduleValue))
        }
        let whenValue = try map.require("when")
        do {
            condition = try RecordCondition(compiling: whenValue)
        } catch {
            throw error.problems.first ?? whenValue.error("invalid condition")
        }
        if let value = map.optional("open_statuses") {
            openStatuses = Set(try value.sequence().map { item throws(YAMLError) in try item.nonEmptyString() })
        }
        if let value = map.optional("age_from") {
            ageFields = try value.sequence().map { item throws(YAMLError) in try item.nonEmptyString() }
        }
        notify = try map.optional("notify")?.nonEmptyString()
        if [ticketsTopic, customersTopic].contains(outputTopic) {
            throw try map.require("to").error("the escalation topic must differ from the topics the rule reads")
        }
    }

    /// Whether `ticket` counts as open (its `status` is one of ``openStatuses``).
    public func isOpen(_ ticket: JSONValue) -> Bool {
        ticket["status"]?.stringValue.map(openStatuses.contains) ?? false
    }

    /// When the ticket was opened: the first of ``ageFields`` that holds an RFC 3339 time, else `firstSeen`.
    public func openedAt(_ ticket: JSONValue, firstSeen: Date) -> Date {
        for field in ageFields {
            if let text = ticket[field]?.stringValue, let date = Self.parseTimestamp(text) { return date }
        }
        return firstSeen
    }

    /// The document the condition sees.
    public func document(ticket: JSONValue, customer: JSONValue?, openedAt: Date, now: Date) -> JSONValue {
        let minutes = max(0, now.timeIntervalSince(openedAt) / 60)
        let age: JSONValue = [
            "minutes": .number(String(Int(minutes))), "hours": .number(Self.decimal(minutes / 60, places: 1)),
            "days": .number(Self.decimal(minutes / 1_440, places: 2)),
        ]
        return ["ticket": ticket, "customer": customer ?? .null, "age": age]
    }

    /// Whether the ticket is due for escalation now.
    public func isDue(
        ticket: JSONValue, customer: JSONValue?, openedAt: Date, now: Date
    ) throws(RecordConditionError) -> Bool {
        guard isOpen(ticket) else { return false }
        return try condition.matches(document(ticket: ticket, customer: customer, openedAt: openedAt, now: now))
    }

    /// The escalation message for a due ticket: who to tell, the ticket, its customer and its age.
    public func escalation(
        ticketID: String, ticket: JSONValue, customer: JSONValue?, openedAt: Date, now: Date
    ) -> JSONValue {
        let document = document(ticket: ticket, customer: customer, openedAt: openedAt, now: now)
        var members: [(String, JSONValue)] = [
            ("rule", .string(name)), ("ticketId", .string(ticketID)),
            ("subject", ticket["subject"] ?? .null), ("severity", ticket["severity"] ?? .null),
            ("status", ticket["status"] ?? .null),
            ("customerRef", ticket["customerRef"] ?? .null), ("customerName", customer?["displayName"] ?? .null),
            ("ageHours", document["age"]?["hours"] ?? .null), ("openedAt", .string(Self.timestamp(openedAt))),
            ("escalatedAt", .string(Self.timestamp(now))),
        ]
        if let notify { members.append(("notify", .string(notify))) }
        members += [("ticket", ticket), ("customer", customer ?? .null)]
        return .object(members)
    }

    /// The message id of a ticket's escalation by this rule: the same on every attempt, so sinks deduplicate.
    public func escalationID(ticketID: String) -> String { "escalation/\(name)/\(ticketID)" }

    static func parseTimestamp(_ text: String) -> Date? {
        if let date = try? Date(text, strategy: .iso8601) { return date }
        return try? Date(text, strategy: Date.ISO8601FormatStyle(includingFractionalSeconds: true))
    }

    static func timestamp(_ date: Date) -> String { date.formatted(.iso8601) }

    static func decimal(_ value: Double, places: Int) -> String { String(format: "%.\(places)f", value) }
}
