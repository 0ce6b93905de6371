import CRMStateStore
import Foundation
import GRDB

/// What sinks must remember across restarts, in SQLite (WAL; `synchronous=NORMAL`, which survives a process crash
/// or `kill -9` — the WAL is in the OS cache — but may lose the last moments on power loss):
/// - the **dedup window**: ids each sink's target acknowledged, so a re-delivery (after a crash between the target's
///   acknowledgement and the offset commit) is dropped instead of sent twice;
///
/// Parked keys are not here: they are shared by all instances in Kafka (``ParkedKeys``). The `parked` table earlier
/// versions kept (with message keys, which can be customer references) is dropped when the store opens.
///
/// Each instance keeps its own file. Operations are idempotent, so replaying them after a crash is harmless.
public final class DeliveryStateStore: Sendable {
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
                    DROP TABLE IF EXISTS parked;
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
}
