import CRMDelivery
import CRMModel
import CRMStateStore
import Foundation
import GRDB

/// A compacted view of the ticket (and customer) topics, in SQLite: the latest version of every ticket and customer,
/// the references that find a ticket's customer, and, for an escalation rule, the tickets it escalated. Fed by a
/// ``TicketView``; read by escalation checks and by screen-pops (open tickets of a caller).
///
/// The file also holds a generation id that names the view's consumer group: a new (or deleted) file starts a new
/// group, which reads the topics from the beginning, so the view is never missing what an old group had committed.
public final class TicketViewStore: Sendable {
    /// A ticket waiting for the check: open and not escalated yet.
    public struct Candidate: Sendable {
        public var id: String
        public var ticket: JSONValue
        public var firstSeen: Date
        public var customerRef: String?
    }

    private let database: DatabaseQueue
    /// Names this file's consumer group (`<prefix>.rule.<name>.<generation>`).
    public let generation: String

    /// Opens (creating if needed) the store at `path`; `nil` keeps it in memory (tests).
    public init(path: String?) throws {
        database = try StateDatabase.open(path: path)
        generation = try database.write { db in
            try db.execute(
                sql: """
                    CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
                    CREATE TABLE IF NOT EXISTS tickets (
                      id TEXT PRIMARY KEY, json BLOB NOT NULL, customer_ref TEXT, open INTEGER NOT NULL, first_seen REAL NOT NULL
                    ) WITHOUT ROWID;
                    CREATE INDEX IF NOT EXISTS tickets_open ON tickets (open);
                    CREATE TABLE IF NOT EXISTS customers (id TEXT PRIMARY KEY, json BLOB NOT NULL) WITHOUT ROWID;
                    CREATE TABLE IF NOT EXISTS customer_refs (ref TEXT PRIMARY KEY, customer_id TEXT NOT NULL) WITHOUT ROWID;
                    CREATE INDEX IF NOT EXISTS customer_refs_customer ON customer_refs (customer_id);
                    CREATE TABLE IF NOT EXISTS escalated (ticket_id TEXT PRIMARY KEY, escalated_at REAL NOT NULL) WITHOUT ROWID;
                    """)
            if let existing = try String.fetchOne(db, sql: "SELECT value FROM meta WHERE key = 'generation'") {
                return existing
            }
            let fresh = String(UUID().uuidString.prefix(8)).lowercased()
            try db.execute(sql: "INSERT INTO meta (key, value) VALUES ('generation', ?)", arguments: [fresh])
            return fresh
        }
    }

    /// Stores the latest version of a ticket; the first sighting's time is kept.
    public func upsertTicket(id: String, json: [UInt8], customerRef: String?, open: Bool, seenAt: Date) async throws {
        try await database.write { db in
            try db.execute(
                sql: """
                    INSERT INTO tickets (id, json, customer_ref, open, first_seen) VALUES (?, ?, ?, ?, ?)
                    ON CONFLICT (id) DO UPDATE SET json = excluded.json, customer_ref = excluded.customer_ref, open = excluded.open
                    """,
                arguments: [id, Data(json), customerRef?.lowercased(), open, seenAt.timeIntervalSince1970])
        }
    }

    /// Forgets an erased person: the customers any of `references` (golden id, `system:externalId`, a customer id;
    /// compared without case) point to, every reference of theirs, and the tickets whose customer reference is one of
    /// them (their escalation marks too).
    /// - Returns: how many customers and tickets were deleted.
    @discardableResult
    public func erase(references: [String]) async throws -> (customers: Int, tickets: Int) {
        try await database.write { db in
            let given = Set(references.map { $0.lowercased() })
            var ids = Set<String>()
            for reference in given {
                ids.formUnion(
                    try String.fetchAll(
                        db, sql: "SELECT customer_id FROM customer_refs WHERE ref = ?", arguments: [reference]))
                if try Bool.fetchOne(db, sql: "SELECT 1 FROM customers WHERE id = ?", arguments: [reference]) != nil {
                    ids.insert(reference)
                }
            }
            var all = given
            for id in ids {
                all.formUnion(
                    try String.fetchAll(db, sql: "SELECT ref FROM customer_refs WHERE customer_id = ?", arguments: [id])
                )
            }
            var tickets = 0
            for reference in all {
                try db.execute(
                    sql: "DELETE FROM escalated WHERE ticket_id IN (SELECT id FROM tickets WHERE customer_ref = ?)",
                    arguments: [reference])
                try db.execute(sql: "DELETE FROM tickets WHERE customer_ref = ?", arguments: [reference])
                tickets += db.changesCount
            }
            for id in ids {
                try db.execute(sql: "DELETE FROM customer_refs WHERE customer_id = ?", arguments: [id])
                try db.execute(sql: "DELETE FROM customers WHERE id = ?", arguments: [id])
            }
            return (ids.count, tickets)
        }
    }

    /// Stores the latest version of a customer and the references that find it (replacing its old ones).
    public func upsertCustomer(id: String, json: [UInt8], references: [String]) async throws {
        try await database.write { db in
            try db.execute(
                sql: "INSERT OR REPLACE INTO customers (id, json) VALUES (?, ?)", arguments: [id, Data(json)])
            try db.execute(sql: "DELETE FROM customer_refs WHERE customer_id = ?", arguments: [id])
            for reference in Set(references.map { $0.lowercased() }) {
                try db.execute(
                    sql: "INSERT OR REPLACE INTO customer_refs (ref, customer_id) VALUES (?, ?)",
                    arguments: [reference, id])
            }
        }
    }

    /// Open tickets not escalated yet, in id order.
    public func candidates() async throws -> [Candidate] {
        try await database.read { db in
            let rows = try Row.fetchAll(
                db,
                sql: """
                    SELECT id, json, first_seen, customer_ref FROM tickets
                    WHERE open = 1 AND id NOT IN (SELECT ticket_id FROM escalated) ORDER BY id
                    """)
            return rows.compactMap { row -> Candidate? in
                let data: Data = row["json"]
                guard let ticket = try? JSONValue.parse(Array(data)) else { return nil }
                return Candidate(
                    id: row["id"], ticket: ticket, firstSeen: Date(timeIntervalSince1970: row["first_seen"]),
                    customerRef: row["customer_ref"])
            }
        }
    }

    /// The customer a reference (`email:jane@example.com`, a customer id, `erp:C-1`) points to.
    public func customer(reference: String) async throws -> JSONValue? {
        try await database.read { db in
            let data = try Data.fetchOne(
                db, sql: "SELECT c.json FROM customer_refs r JOIN customers c ON c.id = r.customer_id WHERE r.ref = ?",
                arguments: [reference.lowercased()])
            return data.flatMap { try? JSONValue.parse(Array($0)) }
        }
    }

    /// Records that the ticket was escalated (after the escalation was acknowledged by Kafka).
    public func markEscalated(ticketID: String, at date: Date) async throws {
        try await database.write { db in
            try db.execute(
                sql: "INSERT OR IGNORE INTO escalated (ticket_id, escalated_at) VALUES (?, ?)",
                arguments: [ticketID, date.timeIntervalSince1970])
        }
    }

    /// The newest open tickets whose `customerRef` is one of `references` (compared without case).
    public func openTickets(references: [String], limit: Int = 5) async throws -> [JSONValue] {
        let lowered = Array(Set(references.map { $0.lowercased() }))
        guard !lowered.isEmpty else { return [] }
        return try await database.read { db in
            let marks = Array(repeating: "?", count: lowered.count).joined(separator: ",")
            let rows = try Data.fetchAll(
                db,
                sql:
                    "SELECT json FROM tickets WHERE open = 1 AND customer_ref IN (\(marks)) ORDER BY first_seen DESC, id LIMIT ?",
                arguments: StatementArguments(lowered + [String(limit)]))
            return rows.compactMap { try? JSONValue.parse(Array($0)) }
        }
    }

    /// Tickets known, open tickets, and tickets escalated.
    public func counts() async throws -> (tickets: Int, open: Int, escalated: Int) {
        try await database.read { db in
            let tickets = try Int.fetchOne(db, sql: "SELECT count(*) FROM tickets") ?? 0
            let open = try Int.fetchOne(db, sql: "SELECT count(*) FROM tickets WHERE open = 1") ?? 0
            let escalated = try Int.fetchOne(db, sql: "SELECT count(*) FROM escalated") ?? 0
            return (tickets, open, escalated)
        }
    }
}

extension TicketViewStore {
    /// The references a customer record answers to: its `id` and `goldenId`, `email:<address>` for `email`/`emails`,
    /// `phone:<number>` for `phone`/`phones`, and `<system>:<id>` for each of `externalIds`.
    public static func references(of customer: JSONValue) -> [String] {
        var references: [String] = []
        for field in ["id", "goldenId"] {
            if let id = customer[field]?.scalarText, !id.isEmpty { references.append(id) }
        }
        let emails = (customer["emails"]?.arrayItems ?? []) + [customer["email"] ?? .null]
        references += emails.compactMap(\.stringValue).map { "email:\($0.trimmingCharacters(in: .whitespaces))" }
        let phones = (customer["phones"]?.arrayItems ?? []) + [customer["phone"] ?? .null]
        references += phones.compactMap(\.stringValue).map { "phone:\($0.filter { !$0.isWhitespace })" }
        for (system, id) in customer["externalIds"]?.objectMembers ?? [] {
            if let id = id.scalarText { references.append("\(system):\(id)") }
        }
        return references
    }
}
