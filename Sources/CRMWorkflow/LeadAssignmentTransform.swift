import CRMDelivery
import CRMKafka
import CRMModel
import CRMStateStore
import Foundation
import GRDB
import Logging
import Metrics

/// The route step of a ``LeadAssignmentRule``: sets the owner of each new lead and adds an `assignment` object
/// (`rule`, `territory`, `owner`, `openLeads`, `decision`: `assigned`, `kept`, `crm`, `fallback`).
///
/// The decision and the owner's new workload are written in one SQLite transaction before the lead is produced, so a
/// redelivered lead (after a crash before the offset commit) gets the same owner and is counted once. A lead without
/// id, or that no territory covers when there is no fallback owner, fails with the reason and goes to the route's
/// dead-letter topic.
public struct LeadAssignmentTransform: MessageTransform {
    public let rule: LeadAssignmentRule
    private let book: LeadBook
    private let logger: Logger

    public init(rule: LeadAssignmentRule, book: LeadBook, logger: Logger) {
        self.rule = rule
        self.book = book
        self.logger = logger
    }

    public var description: String { "rule:\(rule.name)" }

    public func transform(_ message: ConsumerMessage) async -> TransformOutcome {
        guard var lead = try? JSONValue.parse(message.value), lead.objectMembers != nil else {
            return .failure(reason: "not a JSON object", errorClass: "validation")
        }
        guard let id = rule.text(lead, rule.fields.id) ?? message.keyText else {
            return .failure(reason: "lead without '\(rule.fields.id)' and without key", errorClass: "validation")
        }
        let decision: LeadBook.Decision
        do {
            decision = try await book.decide(id: id, lead: lead, rule: rule)
        } catch let error as LeadBook.Unassignable {
            return .failure(reason: error.description, errorClass: "validation")
        } catch {
            return .failure(reason: "the lead book could not be written: \(error)", errorClass: "state")
        }
        if let owner = decision.owner {
            lead.set(path: rule.fields.owner.split(separator: ".").map(String.init)[...], to: .string(owner))
            lead.set(
                path: ["assignment"],
                to: [
                    "rule": .string(rule.name), "territory": decision.territory.map(JSONValue.string) ?? .null,
                    "owner": .string(owner),
                    "openLeads": .number(String(decision.openLeads)), "decision": .string(decision.kind.rawValue),
                ])
        }
        if let owner = decision.owner {
            Gauge(label: "crmhub_rule_owner_open_leads", dimensions: [("rule", rule.name), ("owner", owner)]).record(
                decision.openLeads)
        }
        if decision.kind == .assigned || decision.kind == .fallback {
            Counter(
                label: "crmhub_rule_lead_assignments_total",
                dimensions: [("rule", rule.name), ("territory", decision.territory ?? "-")]
            ).increment()
            logger.info(
                "lead assigned",
                metadata: [
                    "rule": "\(rule.name)", "lead": "\(id)", "territory": "\(decision.territory ?? "-")",
                    "owner": "\(decision.owner ?? "-")",
                    "openLeads": "\(decision.openLeads)", "atLimit": "\(decision.atLimit)",
                ])
        }
        if decision.atLimit {
            logger.warning(
                "every owner of the territory is at max_open_per_owner; the least busy one got the lead",
                metadata: ["rule": "\(rule.name)", "lead": "\(id)", "territory": "\(decision.territory ?? "-")"])
        }
        return .produce([
            TransformedRecord(key: message.key ?? Array(id.utf8), value: lead.jsonBytes(), headers: message.headers)
        ])
    }
}

/// Who owns which lead and whether it is open, in SQLite (one file per rule): the workload the assignment reads.
public final class LeadBook: Sendable {
    /// What the rule decided for one lead.
    public struct Decision: Sendable, Equatable {
        public enum Kind: String, Sendable {
            /// A new lead got the least busy owner of its territory.
            case assigned
            /// A lead seen before keeps its owner.
            case kept
            /// The lead came with an owner from the CRM; it counts for that owner.
            case crm
            /// No territory covers the lead; it went to the fallback owner.
            case fallback
            /// A lead that is not open and has no owner: passed on unchanged.
            case notOpen = "not-open"
        }

        public var kind: Kind
        public var owner: String?
        public var territory: String?
        /// The owner's open leads, this one included.
        public var openLeads: Int
        /// Every owner of the territory was at the limit.
        public var atLimit = false
    }

    /// A lead no territory covers, with no fallback owner.
    public struct Unassignable: Error, CustomStringConvertible {
        public var description: String
    }

    private let database: DatabaseQueue

    /// Opens (creating if needed) the book at `path`; `nil` keeps it in memory (tests).
    public init(path: String?) throws {
        database = try StateDatabase.open(path: path)
        try database.write { db in
            try db.execute(
                sql: """
                    CREATE TABLE IF NOT EXISTS leads (id TEXT PRIMARY KEY, owner TEXT, territory TEXT, open INTEGER NOT NULL) WITHOUT ROWID;
                    CREATE INDEX IF NOT EXISTS leads_owner ON leads (owner, open);
                    """)
        }
    }

    /// Decides and records the owner of lead `id` in one transaction.
    public func decide(id: String, lead: JSONValue, rule: LeadAssignmentRule) async throws -> Decision {
        try await database.write { db in
            let open = rule.isOpen(lead)
            let existing = try Row.fetchOne(db, sql: "SELECT owner, territory FROM leads WHERE id = ?", arguments: [id])
            let knownOwner: String? = existing?["owner"]
            let knownTerritory: String? = existing?["territory"]
            var decision: Decision
            if let owner = rule.text(lead, rule.fields.owner) {
                decision = Decision(
                    kind: knownOwner == owner ? .kept : .crm, owner: owner, territory: knownTerritory, openLeads: 0)
            } else if let knownOwner {
                decision = Decision(kind: .kept, owner: knownOwner, territory: knownTerritory, openLeads: 0)
            } else if !open {
                decision = Decision(kind: .notOpen, owner: nil, territory: nil, openLeads: 0)
            } else if let territory = rule.territories.territory(
                country: rule.text(lead, rule.fields.country), postalCode: rule.text(lead, rule.fields.postalCode))
            {
                let owners = rule.territories.owners(of: territory)
                let load = try Self.openLeads(db, owners: owners, excluding: id)
                guard let choice = rule.chooseOwner(in: territory, openLeads: load) else {
                    throw Unassignable(description: "territory '\(territory)' has no owners")
                }
                decision = Decision(
                    kind: .assigned, owner: choice.owner, territory: territory, openLeads: 0, atLimit: choice.atLimit)
            } else if let fallback = rule.fallbackOwner {
                decision = Decision(kind: .fallback, owner: fallback, territory: nil, openLeads: 0)
            } else {
                throw Unassignable(
                    description:
                        "no territory of rule '\(rule.name)' covers the lead's country and postal code, and the rule has no fallback_owner"
                )
            }
            try db.execute(
                sql: "INSERT OR REPLACE INTO leads (id, owner, territory, open) VALUES (?, ?, ?, ?)",
                arguments: [id, decision.owner, decision.territory, open])
            if let owner = decision.owner {
                decision.openLeads =
                    try Int.fetchOne(
                        db, sql: "SELECT count(*) FROM leads WHERE owner = ? AND open = 1", arguments: [owner]) ?? 0
            }
            return decision
        }
    }

    /// Open leads per owner, for the admin view and tests.
    public func openLeads() async throws -> [String: Int] {
        try await database.read { db in
            try Self.openLeads(db, owners: nil, excluding: nil)
        }
    }

    private static func openLeads(_ db: Database, owners: [String]?, excluding id: String?) throws -> [String: Int] {
        var counts: [String: Int] = [:]
        let rows = try Row.fetchAll(
            db,
            sql:
                "SELECT owner, count(*) AS n FROM leads WHERE open = 1 AND owner IS NOT NULL AND id != ? GROUP BY owner",
            arguments: [id ?? ""])
        for row in rows {
            let owner: String = row["owner"]
            if owners == nil || owners!.contains(owner) { counts[owner] = row["n"] }
        }
        return counts
    }
}
