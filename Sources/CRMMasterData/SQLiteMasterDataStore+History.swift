// CRMMasterData — the SQLite store's consent statements and interaction timeline.

import GRDB

extension SQLiteMasterDataStore: CustomerHistoryStore {
    /// Consent statements (unique per statement) and interactions (unique per source and ref; paged newest first by
    /// (at, seq) through an index on (golden_id, at, seq)).
    static func migrateHistory(_ db: Database) throws {
        try db.execute(
            sql: """
                CREATE TABLE IF NOT EXISTS mdm_consent (
                  seq INTEGER PRIMARY KEY AUTOINCREMENT, golden_id TEXT NOT NULL, purpose TEXT NOT NULL,
                  channel TEXT NOT NULL, status TEXT NOT NULL, source TEXT NOT NULL, at INTEGER NOT NULL,
                  UNIQUE (golden_id, purpose, channel, status, source, at));
                CREATE INDEX IF NOT EXISTS mdm_consent_golden ON mdm_consent(golden_id);
                CREATE TABLE IF NOT EXISTS mdm_interaction (
                  seq INTEGER PRIMARY KEY AUTOINCREMENT, golden_id TEXT NOT NULL, at INTEGER NOT NULL,
                  channel TEXT NOT NULL, kind TEXT NOT NULL, direction TEXT NOT NULL, source TEXT NOT NULL,
                  ref TEXT NOT NULL, summary TEXT, UNIQUE (source, ref));
                CREATE INDEX IF NOT EXISTS mdm_interaction_golden ON mdm_interaction(golden_id, at, seq);
                """)
    }

    public func recordConsents(_ consents: [Consent]) async throws {
        guard !consents.isEmpty else { return }
        try await wrap {
            try await pool.write { db in
                for c in consents {
                    try db.execute(
                        sql: """
                            INSERT OR IGNORE INTO mdm_consent (golden_id, purpose, channel, status, source, at)
                            VALUES (?, ?, ?, ?, ?, ?)
                            """,
                        arguments: [c.goldenId, c.purpose, c.channel.rawValue, c.status.rawValue, c.source, c.at])
                }
            }
        }
    }

    public func consents(goldenIds: [String]) async throws -> [Consent] {
        guard !goldenIds.isEmpty else { return [] }
        return try await wrap {
            try await pool.read { db in
                let marks = Array(repeating: "?", count: goldenIds.count).joined(separator: ",")
                return try Row.fetchAll(
                    db,
                    sql: """
                        SELECT golden_id, purpose, channel, status, source, at FROM mdm_consent
                        WHERE golden_id IN (\(marks)) ORDER BY seq
                        """,
                    arguments: StatementArguments(goldenIds)
                ).compactMap { row -> Consent? in
                    guard let channel = ConsentChannel(rawValue: row["channel"]),
                        let status = ConsentStatus(rawValue: row["status"])
                    else { return nil }
                    return Consent(
                        goldenId: row["golden_id"], purpose: row["purpose"], channel: channel, status: status,
                        source: row["source"], at: row["at"])
                }
            }
        }
    }

    @discardableResult
    public func recordInteractions(_ entries: [TimelineEntry]) async throws -> Int {
        guard !entries.isEmpty else { return 0 }
        return try await wrap {
            try await pool.write { db in
                var added = 0
                for e in entries {
                    try db.execute(
                        sql: """
                            INSERT OR IGNORE INTO mdm_interaction
                              (golden_id, at, channel, kind, direction, source, ref, summary)
                            VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                            """,
                        arguments: [e.goldenId, e.at, e.channel, e.kind, e.direction, e.source, e.ref, e.summary])
                    added += db.changesCount
                }
                return added
            }
        }
    }

    public func timeline(goldenIds: [String], limit: Int, before: TimelineCursor?) async throws -> TimelinePage {
        guard !goldenIds.isEmpty else { return TimelinePage(entries: [], next: nil) }
        let limit = max(1, min(limit, TimelinePage.maximumLimit))
        return try await wrap {
            try await pool.read { db in
                let marks = Array(repeating: "?", count: goldenIds.count).joined(separator: ",")
                var arguments = StatementArguments(goldenIds)
                var condition = ""
                if let before {
                    condition = "AND (at < ? OR (at = ? AND seq < ?))"
                    arguments += [before.at, before.at, before.seq]
                }
                arguments += [limit + 1]
                let rows = try Row.fetchAll(
                    db,
                    sql: """
                        SELECT seq, golden_id, at, channel, kind, direction, source, ref, summary FROM mdm_interaction
                        WHERE golden_id IN (\(marks)) \(condition) ORDER BY at DESC, seq DESC LIMIT ?
                        """,
                    arguments: arguments)
                let page = rows.prefix(limit)
                let entries = page.map { row in
                    TimelineEntry(
                        goldenId: row["golden_id"], at: row["at"], channel: row["channel"], kind: row["kind"],
                        direction: row["direction"], source: row["source"], ref: row["ref"], summary: row["summary"])
                }
                let next =
                    rows.count > limit ? page.last.map { TimelineCursor(at: $0["at"], seq: $0["seq"]) } : nil
                return TimelinePage(entries: entries, next: next)
            }
        }
    }

    public func eraseHistory(goldenIds: [String]) async throws {
        guard !goldenIds.isEmpty else { return }
        try await wrap {
            try await pool.write { db in
                let marks = Array(repeating: "?", count: goldenIds.count).joined(separator: ",")
                try db.execute(
                    sql: "DELETE FROM mdm_consent WHERE golden_id IN (\(marks))",
                    arguments: StatementArguments(goldenIds))
                try db.execute(
                    sql: "DELETE FROM mdm_interaction WHERE golden_id IN (\(marks))",
                    arguments: StatementArguments(goldenIds))
            }
        }
    }
}
