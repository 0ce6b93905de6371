import CRMStateStore
import Foundation
import GRDB

/// What sinks must remember across restarts, in SQLite (WAL; `synchronous=NORMAL`, which survives a process crash
/// or `kill -9` — the WAL is in the OS cache — but may lose the last moments on power loss):
/// - the **dedup window**: ids each sink's target acknowledged, so a re-delivery (after a crash between the target's
///   acknowledgement and the offset commit) is dropped instead of sent twice;
/// - the **parked keys** table: no longer written by ``SinkService``, whose parked keys are shared by all instances
///   in Kafka (``ParkedKeys``); kept so that erasure still clears queues an earlier version left here.
///
/// Each instance keeps its own file. Operations are idempotent, so replaying them after a crash is harmless.
public final class DeliveryStateStore: Sendable {
    /// One message parked in a retry topic, in key order.
    public struct ParkedEntry: Sendable, Hashable {
        public var id: String
        /// The retry tier (0-based index into the policy's retry topics) the message currently waits in.
        public var tier: Int
    }

    private let database: DatabaseQueue
    /// The state file; nil when the store is in memory.
    public let path: String?

    /// Opens (creating if needed) the store at `path`; `nil` keeps it in memory (tests).
    public init(path: String?) throws {
        self.path = path
        database = try StateDatabase.open(path: path)
        try database.write { db in
            try db.execute(
                sql: """
                    CREATE TABLE IF NOT EXISTS delivered (
                      sink TEXT NOT NULL, id TEXT NOT NULL, delivered_at REAL NOT NULL, PRIMARY KEY (sink, id)
                    ) WITHOUT ROWID;
                    CREATE INDEX IF NOT EXISTS delivered_age ON delivered (sink, delivered_at);
                    CREATE TABLE IF NOT EXISTS parked (
                      seq INTEGER PRIMARY KEY AUTOINCREMENT, sink TEXT NOT NULL, key TEXT NOT NULL, id TEXT NOT NULL,
                      tier INTEGER NOT NULL, UNIQUE (sink, id)
                    );
                    CREATE INDEX IF NOT EXISTS parked_key ON parked (sink, key, seq);
                    """)
        }
    }

    /// True when `sink`'s target already acknowledged `id`.
    public func wasDelivered(sink: String, id: String) async throws -> Bool {
        try await database.read { db in
            try Bool.fetchOne(db, sql: "SELECT 1 FROM delivered WHERE sink = ? AND id = ?", arguments: [sink, id])
                ?? false
        }
    }

    /// Records that `sink`'s target acknowledged `id`.
    public func markDelivered(sink: String, id: String, at date: Date = Date()) async throws {
        try await database.write { db in
            try db.execute(
                sql: "INSERT OR IGNORE INTO delivered (sink, id, delivered_at) VALUES (?, ?, ?)",
                arguments: [sink, id, date.timeIntervalSince1970])
        }
    }

    /// Forgets acknowledgements older than `date` (the dedup window's far end); returns how many.
    @discardableResult
    public func pruneDelivered(sink: String, olderThan date: Date) async throws -> Int {
        try await database.write { db in
            try db.execute(
                sql: "DELETE FROM delivered WHERE sink = ? AND delivered_at < ?",
                arguments: [sink, date.timeIntervalSince1970])
            return db.changesCount
        }
    }

    /// Every parked key of `sink` with its ids in order.
    public func parked(sink: String) async throws -> [String: [ParkedEntry]] {
        try await database.read { db in
            var result: [String: [ParkedEntry]] = [:]
            for row in try Row.fetchAll(
                db, sql: "SELECT key, id, tier FROM parked WHERE sink = ? ORDER BY seq", arguments: [sink])
            {
                result[row["key"], default: []].append(ParkedEntry(id: row["id"], tier: row["tier"]))
            }
            return result
        }
    }

    /// Parks `id` behind the key's other parked ids, or moves it to `tier` if it is parked already.
    public func park(sink: String, key: String, id: String, tier: Int) async throws {
        try await database.write { db in
            try db.execute(
                sql: """
                    INSERT INTO parked (sink, key, id, tier) VALUES (?, ?, ?, ?)
                    ON CONFLICT (sink, id) DO UPDATE SET tier = excluded.tier
                    """,
                arguments: [sink, key, id, tier])
        }
    }

    /// Forgets the parked queues of an erased person's keys (golden id, `system:externalId`), in every sink. The
    /// dedup window holds message ids, not customer keys: it cannot be matched to a person and carries no personal
    /// data.
    /// - Returns: how many parked entries were removed.
    @discardableResult
    public func forgetParked(keys: [String]) async throws -> Int {
        try await database.write { db in
            var removed = 0
            for key in Set(keys) {
                try db.execute(sql: "DELETE FROM parked WHERE key = ?", arguments: [key])
                removed += db.changesCount
            }
            return removed
        }
    }

    /// Removes `id` from its key's queue (delivered, or dead-lettered).
    public func unpark(sink: String, id: String) async throws {
        try await database.write { db in
            try db.execute(sql: "DELETE FROM parked WHERE sink = ? AND id = ?", arguments: [sink, id])
        }
    }
}
