import CRMStateStore
import Foundation
import GRDB

/// Where polling source connectors remember how far they got, in SQLite (WAL, `synchronous=NORMAL`: survives a
/// process crash). A checkpoint is a modification time plus a record id as tie-breaker, both as the source system
/// sorts them.
public final class SourceCheckpointStore: Sendable {
    /// The last record a source produced and Kafka acknowledged.
    public struct Checkpoint: Sendable, Equatable, CustomStringConvertible {
        /// The record's modification time as text that sorts like the time (`2026-11-25T09:32:30.988119`).
        public var modified: String
        public var id: Int

        public init(modified: String, id: Int) {
            self.modified = modified
            self.id = id
        }

        public var description: String { "\(modified)#\(id)" }
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
                    CREATE TABLE IF NOT EXISTS source_checkpoint (
                      source TEXT PRIMARY KEY NOT NULL, modified TEXT NOT NULL, record_id INTEGER NOT NULL, saved_at REAL NOT NULL
                    ) WITHOUT ROWID;
                    """)
        }
    }

    /// The checkpoint of `source`, or nil before its first message.
    public func checkpoint(source: String) async throws -> Checkpoint? {
        try await database.read { db in
            let row = try Row.fetchOne(
                db, sql: "SELECT modified, record_id FROM source_checkpoint WHERE source = ?", arguments: [source])
            guard let row else { return nil }
            let modified: String = row["modified"]
            let id: Int = row["record_id"]
            return Checkpoint(modified: modified, id: id)
        }
    }

    /// Stores `checkpoint` for `source` (replacing the previous one).
    public func save(_ checkpoint: Checkpoint, source: String) async throws {
        let now = Date().timeIntervalSince1970
        try await database.write { db in
            try db.execute(
                sql: """
                    INSERT INTO source_checkpoint (source, modified, record_id, saved_at) VALUES (?, ?, ?, ?)
                    ON CONFLICT (source) DO UPDATE SET modified = excluded.modified, record_id = excluded.record_id, saved_at = excluded.saved_at
                    """,
                arguments: [source, checkpoint.modified, checkpoint.id, now])
        }
    }
}
