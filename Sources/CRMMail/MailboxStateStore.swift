import CRMStateStore
import Foundation
import GRDB

/// What IMAP sources remember across restarts, in SQLite (WAL, `synchronous=NORMAL`): every message they finished
/// with, by (source, mailbox, UIDVALIDITY, UID), with its Message-ID and what became of it. A row is written only
/// after Kafka acknowledged the message's records, so a restart resumes after the last finished UID and never
/// skips one; the Message-ID column lets a re-read (after a UIDVALIDITY change) recognise mail already turned
/// into tickets.
public final class MailboxStateStore: Sendable {
    /// What became of one message.
    public enum Outcome: String, Sendable {
        /// Its records were produced and acknowledged.
        case produced
        /// The mapping dropped it (auto-reply, bounce).
        case dropped
        /// Its Message-ID was processed before (a copy, or a re-read after a UIDVALIDITY change).
        case duplicate
        /// The mapping failed; the mail went to the dead-letter topic (or only to the log when there is none).
        case failed
    }

    private let database: DatabaseQueue

    /// Opens (creating if needed) the store at `path`; `nil` keeps it in memory (tests).
    public convenience init(path: String?) throws {
        try self.init(database: try StateDatabase.open(path: path))
    }

    /// Uses the open state database `database` (creating its tables if needed).
    public init(database: DatabaseQueue) throws {
        self.database = database
        try database.write { db in
            try db.execute(
                sql: """
                    CREATE TABLE IF NOT EXISTS imap_processed (
                      source TEXT NOT NULL, mailbox TEXT NOT NULL, uidvalidity INTEGER NOT NULL, uid INTEGER NOT NULL,
                      message_id TEXT NOT NULL, outcome TEXT NOT NULL, processed_at REAL NOT NULL,
                      PRIMARY KEY (source, mailbox, uidvalidity, uid)
                    ) WITHOUT ROWID;
                    CREATE INDEX IF NOT EXISTS imap_processed_message ON imap_processed (source, message_id);
                    """)
        }
    }

    /// The highest UID finished in `mailbox` under `uidValidity`, or nil when none is (first run, or the server
    /// renumbered the mailbox).
    public func lastUID(source: String, mailbox: String, uidValidity: UInt32) async throws -> UInt32? {
        try await database.read { db in
            try Int64.fetchOne(
                db,
                sql:
                    "SELECT uid FROM imap_processed WHERE source = ? AND mailbox = ? AND uidvalidity = ? ORDER BY uid DESC LIMIT 1",
                arguments: [source, mailbox, Int64(uidValidity)]
            ).map { UInt32(clamping: $0) }
        }
    }

    /// True when `source` already finished a message with `messageID` (under any UIDVALIDITY).
    public func knows(source: String, messageID: String) async throws -> Bool {
        try await database.read { db in
            try Bool.fetchOne(
                db,
                sql:
                    "SELECT 1 FROM imap_processed WHERE source = ? AND message_id = ? AND outcome != 'duplicate' LIMIT 1",
                arguments: [source, messageID]) ?? false
        }
    }

    /// Records that `uid` is finished.
    public func record(
        source: String, mailbox: String, uidValidity: UInt32, uid: UInt32, messageID: String, outcome: Outcome,
        at date: Date = Date()
    ) async throws {
        try await database.write { db in
            try db.execute(
                sql: """
                    INSERT OR REPLACE INTO imap_processed (source, mailbox, uidvalidity, uid, message_id, outcome, processed_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    source, mailbox, Int64(uidValidity), Int64(uid), messageID, outcome.rawValue,
                    date.timeIntervalSince1970,
                ])
        }
    }

    /// How many messages `source` finished with `outcome` (all outcomes when nil).
    public func count(source: String, outcome: Outcome? = nil) async throws -> Int {
        try await database.read { db in
            if let outcome {
                return try Int.fetchOne(
                    db, sql: "SELECT COUNT(*) FROM imap_processed WHERE source = ? AND outcome = ?",
                    arguments: [source, outcome.rawValue]) ?? 0
            }
            return try Int.fetchOne(
                db, sql: "SELECT COUNT(*) FROM imap_processed WHERE source = ?", arguments: [source]) ?? 0
        }
    }
}
