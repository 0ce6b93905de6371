// CRMMasterDataPostgres — consent statements and the interaction timeline in PostgreSQL (the SQLite store's tables
// and semantics: statements unique, interactions unique per (source, ref), pages newest first by (at, seq)).

import CRMMasterData
import PostgresNIO

extension PostgresMasterDataStore: CustomerHistoryStore {
    /// The history tables, created with the rest of the schema.
    static var historyStatements: [PostgresQuery] {
        [
            """
            CREATE TABLE IF NOT EXISTS mdm_consent (
              seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, golden_id text NOT NULL, purpose text NOT NULL,
              channel text NOT NULL, status text NOT NULL, source text NOT NULL, at bigint NOT NULL,
              UNIQUE (golden_id, purpose, channel, status, source, at))
            """,
            "CREATE INDEX IF NOT EXISTS mdm_consent_golden ON mdm_consent (golden_id)",
            """
            CREATE TABLE IF NOT EXISTS mdm_interaction (
              seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, golden_id text NOT NULL, at bigint NOT NULL,
              channel text NOT NULL, kind text NOT NULL, direction text NOT NULL, source text NOT NULL,
              ref text NOT NULL, summary text, UNIQUE (source, ref))
            """,
            "CREATE INDEX IF NOT EXISTS mdm_interaction_golden ON mdm_interaction (golden_id, at, seq)",
        ]
    }

    public func recordConsents(_ consents: [Consent]) async throws {
        guard !consents.isEmpty else { return }
        try await transaction { connection in
            for c in consents {
                try await connection.query(
                    """
                    INSERT INTO mdm_consent (golden_id, purpose, channel, status, source, at)
                    VALUES (\(c.goldenId), \(c.purpose), \(c.channel.rawValue), \(c.status.rawValue), \(c.source), \(c.at))
                    ON CONFLICT DO NOTHING
                    """, logger: self.logger)
            }
        }
    }

    public func consents(goldenIds: [String]) async throws -> [Consent] {
        guard !goldenIds.isEmpty else { return [] }
        return try await transaction { connection in
            let rows = try await connection.query(
                """
                SELECT golden_id, purpose, channel, status, source, at FROM mdm_consent
                WHERE golden_id = ANY(\(goldenIds)) ORDER BY seq
                """, logger: self.logger)
            var out: [Consent] = []
            for try await (goldenId, purpose, channel, status, source, at) in rows.decode(
                (String, String, String, String, String, Int64).self)
            {
                guard let channel = ConsentChannel(rawValue: channel), let status = ConsentStatus(rawValue: status)
                else { continue }
                out.append(
                    Consent(
                        goldenId: goldenId, purpose: purpose, channel: channel, status: status, source: source, at: at))
            }
            return out
        }
    }

    @discardableResult
    public func recordInteractions(_ entries: [TimelineEntry]) async throws -> Int {
        guard !entries.isEmpty else { return 0 }
        return try await transaction { connection in
            var added = 0
            for e in entries {
                let rows = try await connection.query(
                    """
                    INSERT INTO mdm_interaction (golden_id, at, channel, kind, direction, source, ref, summary)
                    VALUES (\(e.goldenId), \(e.at), \(e.channel), \(e.kind), \(e.direction), \(e.source), \(e.ref),
                            \(e.summary))
                    ON CONFLICT (source, ref) DO NOTHING RETURNING seq
                    """, logger: self.logger)
                for try await _ in rows.decode(Int64.self) { added += 1 }
            }
            return added
        }
    }

    public func timeline(goldenIds: [String], limit: Int, before: TimelineCursor?) async throws -> TimelinePage {
        guard !goldenIds.isEmpty else { return TimelinePage(entries: [], next: nil) }
        let limit = max(1, min(limit, TimelinePage.maximumLimit))
        let beforeAt = before?.at ?? Int64.max
        let beforeSeq = before?.seq ?? Int64.max
        return try await transaction { connection in
            let rows = try await connection.query(
                """
                SELECT seq, golden_id, at, channel, kind, direction, source, ref, summary FROM mdm_interaction
                WHERE golden_id = ANY(\(goldenIds)) AND (at, seq) < (\(beforeAt), \(beforeSeq))
                ORDER BY at DESC, seq DESC LIMIT \(limit + 1)
                """, logger: self.logger)
            var found: [(seq: Int64, entry: TimelineEntry)] = []
            for try await (seq, goldenId, at, channel, kind, direction, source, ref, summary) in rows.decode(
                (Int64, String, Int64, String, String, String, String, String, String?).self)
            {
                found.append(
                    (
                        seq,
                        TimelineEntry(
                            goldenId: goldenId, at: at, channel: channel, kind: kind, direction: direction,
                            source: source, ref: ref, summary: summary)
                    ))
            }
            let page = found.prefix(limit)
            let next = found.count > limit ? page.last.map { TimelineCursor(at: $0.entry.at, seq: $0.seq) } : nil
            return TimelinePage(entries: page.map(\.entry), next: next)
        }
    }

    public func eraseHistory(goldenIds: [String]) async throws {
        guard !goldenIds.isEmpty else { return }
        try await transaction { connection in
            try await connection.query(
                "DELETE FROM mdm_consent WHERE golden_id = ANY(\(goldenIds))", logger: self.logger)
            try await connection.query(
                "DELETE FROM mdm_interaction WHERE golden_id = ANY(\(goldenIds))", logger: self.logger)
        }
    }
}
