import CRMStateStore
import Foundation
import GRDB

/// Which billing customer each golden customer has, per sink, in the hub's SQLite state (WAL, `synchronous=NORMAL`:
/// survives a process crash): the billing customer id, the digest of the fields last written and whether the link
/// was announced to the master data.
public final class BillingLinkStore: Sendable {
    /// One golden customer's billing customer.
    public struct Link: Sendable, Equatable {
        /// The billing customer id (`cus_...`).
        public var customerId: String
        /// ``BillingCustomer/contentHash`` of what was last written.
        public var contentHash: String
        /// Whether the link message (Customer with `externalIds.stripe`) was acknowledged by Kafka.
        public var announced: Bool

        public init(customerId: String, contentHash: String, announced: Bool) {
            self.customerId = customerId
            self.contentHash = contentHash
            self.announced = announced
        }
    }

    private let database: DatabaseQueue

    /// Opens (creating if needed) the store at `path`; `nil` keeps it in memory.
    public convenience init(path: String?) throws {
        try self.init(database: try StateDatabase.open(path: path))
    }

    /// Uses the open state database `database` (creating the table if needed).
    public init(database: DatabaseQueue) throws {
        self.database = database
        try database.write { db in
            try db.execute(
                sql: """
                    CREATE TABLE IF NOT EXISTS billing_customer_link (
                      sink TEXT NOT NULL, golden_id TEXT NOT NULL, customer_id TEXT NOT NULL,
                      content_hash TEXT NOT NULL, announced INTEGER NOT NULL, saved_at REAL NOT NULL,
                      PRIMARY KEY (sink, golden_id)
                    ) WITHOUT ROWID;
                    """)
        }
    }

    /// The link of `goldenId` for `sink`, or nil when the sink has not written that customer (or forgot it).
    public func link(sink: String, goldenId: String) async throws -> Link? {
        try await database.read { db in
            let row = try Row.fetchOne(
                db,
                sql: """
                    SELECT customer_id, content_hash, announced FROM billing_customer_link
                    WHERE sink = ? AND golden_id = ?
                    """,
                arguments: [sink, goldenId])
            guard let row else { return nil }
            let announced: Bool = row["announced"]
            return Link(customerId: row["customer_id"], contentHash: row["content_hash"], announced: announced)
        }
    }

    /// Stores `link` for `goldenId` (replacing the previous one).
    public func save(_ link: Link, sink: String, goldenId: String) async throws {
        let now = Date().timeIntervalSince1970
        try await database.write { db in
            try db.execute(
                sql: """
                    INSERT INTO billing_customer_link (sink, golden_id, customer_id, content_hash, announced, saved_at)
                    VALUES (?, ?, ?, ?, ?, ?)
                    ON CONFLICT (sink, golden_id) DO UPDATE SET customer_id = excluded.customer_id,
                      content_hash = excluded.content_hash, announced = excluded.announced, saved_at = excluded.saved_at
                    """,
                arguments: [sink, goldenId, link.customerId, link.contentHash, link.announced, now])
        }
    }

    /// Forgets the link of `goldenId` (its billing customer was deleted).
    public func remove(sink: String, goldenId: String) async throws {
        try await database.write { db in
            try db.execute(
                sql: "DELETE FROM billing_customer_link WHERE sink = ? AND golden_id = ?", arguments: [sink, goldenId])
        }
    }
}
