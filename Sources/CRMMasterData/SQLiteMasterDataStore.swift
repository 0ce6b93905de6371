// CRMMasterData — the embedded default store: SQLite through GRDB, in WAL mode.

import Foundation
import GRDB

/// Master data in one SQLite file (WAL journal via GRDB's `DatabasePool`). Bodies are JSON; keys and foreign
/// ids are indexed columns (cross-reference by (system, external id), members by golden id, audit by golden id).
public final class SQLiteMasterDataStore: MasterDataStore {
    let pool: DatabasePool

    /// Opens or creates the database at `path`.
    /// Opens (creating it and its folder when missing) the database at `path`.
    public init(path: String) throws {
        do {
            let folder = (path as NSString).deletingLastPathComponent
            if !folder.isEmpty {
                try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            }
            var config = Configuration()
            config.busyMode = .timeout(10)
            pool = try DatabasePool(path: path, configuration: config)
            try pool.write { db in try Self.migrate(db) }
        } catch {
            throw MasterDataError(.store, "cannot open master data database \(path): \(error)")
        }
    }

    static func migrate(_ db: Database) throws {
        try db.execute(
            sql: """
                CREATE TABLE IF NOT EXISTS mdm_member (
                  system TEXT NOT NULL, external_id TEXT NOT NULL, golden_id TEXT NOT NULL, record TEXT NOT NULL,
                  PRIMARY KEY (system, external_id));
                CREATE INDEX IF NOT EXISTS mdm_member_golden ON mdm_member(golden_id);
                CREATE TABLE IF NOT EXISTS mdm_golden (id TEXT PRIMARY KEY NOT NULL, body TEXT NOT NULL);
                CREATE TABLE IF NOT EXISTS mdm_alias (absorbed TEXT PRIMARY KEY NOT NULL, survivor TEXT NOT NULL);
                CREATE TABLE IF NOT EXISTS mdm_merge_history (absorbed TEXT PRIMARY KEY NOT NULL, members TEXT NOT NULL);
                CREATE TABLE IF NOT EXISTS mdm_audit (
                  seq INTEGER PRIMARY KEY AUTOINCREMENT, golden_id TEXT NOT NULL, related_id TEXT, body TEXT NOT NULL);
                CREATE INDEX IF NOT EXISTS mdm_audit_golden ON mdm_audit(golden_id);
                CREATE INDEX IF NOT EXISTS mdm_audit_related ON mdm_audit(related_id);
                CREATE TABLE IF NOT EXISTS mdm_review (
                  system TEXT NOT NULL, external_id TEXT NOT NULL, body TEXT NOT NULL, PRIMARY KEY (system, external_id));
                CREATE TABLE IF NOT EXISTS mdm_change (
                  seq INTEGER PRIMARY KEY AUTOINCREMENT, origin TEXT NOT NULL, body TEXT NOT NULL);
                CREATE TABLE IF NOT EXISTS mdm_erasure_ledger (entry TEXT PRIMARY KEY NOT NULL) WITHOUT ROWID;
                """)
        try migrateHistory(db)
    }

    public func load() async throws -> MasterDataSnapshot {
        try await wrap {
            try await pool.read { db in
                var s = MasterDataSnapshot()
                for row in try Row.fetchAll(db, sql: "SELECT golden_id, record FROM mdm_member ORDER BY rowid") {
                    s.members.append(StoredMember(record: try Self.decode(row["record"]), goldenId: row["golden_id"]))
                }
                for row in try Row.fetchAll(db, sql: "SELECT absorbed, survivor FROM mdm_alias") {
                    s.aliases[row["absorbed"]] = row["survivor"]
                }
                for row in try Row.fetchAll(db, sql: "SELECT absorbed, members FROM mdm_merge_history") {
                    s.mergeHistory[row["absorbed"]] = try Self.decode(row["members"])
                }
                s.erasureLedger = Set(try String.fetchAll(db, sql: "SELECT entry FROM mdm_erasure_ledger"))
                return s
            }
        }
    }

    public func apply(_ b: StoreBatch) async throws {
        try await wrap {
            try await pool.write { db in
                for m in b.members {
                    try db.execute(
                        sql: """
                            INSERT INTO mdm_member (system, external_id, golden_id, record) VALUES (?, ?, ?, ?)
                            ON CONFLICT(system, external_id) DO UPDATE SET golden_id = excluded.golden_id, record = excluded.record
                            """,
                        arguments: [m.record.system, m.record.externalId, m.goldenId, try Self.encode(m.record)])
                }
                for entry in b.ledger {
                    try db.execute(
                        sql: "INSERT OR IGNORE INTO mdm_erasure_ledger (entry) VALUES (?)", arguments: [entry])
                }
                for r in b.erased {
                    try db.execute(
                        sql: "DELETE FROM mdm_member WHERE system = ? AND external_id = ?",
                        arguments: [r.system, r.externalId])
                }
                for g in b.removedGoldens { try db.execute(sql: "DELETE FROM mdm_golden WHERE id = ?", arguments: [g]) }
                for g in b.goldens {
                    try db.execute(
                        sql: "INSERT OR REPLACE INTO mdm_golden (id, body) VALUES (?, ?)",
                        arguments: [g.id, try Self.encode(g)])
                }
                for (k, v) in b.aliases {
                    if let v {
                        try db.execute(
                            sql: "INSERT OR REPLACE INTO mdm_alias (absorbed, survivor) VALUES (?, ?)",
                            arguments: [k, v])
                    } else {
                        try db.execute(sql: "DELETE FROM mdm_alias WHERE absorbed = ?", arguments: [k])
                    }
                }
                for (k, v) in b.mergeHistory {
                    if let v {
                        try db.execute(
                            sql: "INSERT OR REPLACE INTO mdm_merge_history (absorbed, members) VALUES (?, ?)",
                            arguments: [k, try Self.encode(v)])
                    } else {
                        try db.execute(sql: "DELETE FROM mdm_merge_history WHERE absorbed = ?", arguments: [k])
                    }
                }
                for a in b.audit {
                    try db.execute(
                        sql: "INSERT INTO mdm_audit (golden_id, related_id, body) VALUES (?, ?, ?)",
                        arguments: [a.goldenId, a.relatedGoldenId, try Self.encode(a)])
                }
                for r in b.closedReviews {
                    try db.execute(
                        sql: "DELETE FROM mdm_review WHERE system = ? AND external_id = ?",
                        arguments: [r.system, r.externalId])
                }
                for r in b.reviews {
                    try db.execute(
                        sql: "INSERT OR REPLACE INTO mdm_review (system, external_id, body) VALUES (?, ?, ?)",
                        arguments: [r.record.system, r.record.externalId, try Self.encode(r)])
                }
                for e in b.events {
                    try db.execute(
                        sql: "INSERT INTO mdm_change (origin, body) VALUES (?, ?)",
                        arguments: [b.origin, try Self.encode(e)])
                }
            }
        }
    }

    public func golden(id: String) async throws -> GoldenRecord? {
        try await wrap {
            try await pool.read { db in
                var id = id
                var hops = 0
                while hops < 64,
                    let next = try String.fetchOne(
                        db, sql: "SELECT survivor FROM mdm_alias WHERE absorbed = ?", arguments: [id])
                {
                    id = next
                    hops += 1
                }
                guard
                    let body = try String.fetchOne(db, sql: "SELECT body FROM mdm_golden WHERE id = ?", arguments: [id])
                else {
                    return nil
                }
                return try Self.decode(body)
            }
        }
    }

    public func goldenId(for ref: RecordRef) async throws -> String? {
        try await wrap {
            try await pool.read { db in
                try String.fetchOne(
                    db, sql: "SELECT golden_id FROM mdm_member WHERE system = ? AND external_id = ?",
                    arguments: [ref.system, ref.externalId])
            }
        }
    }

    public func auditTrail(goldenId: String) async throws -> [AuditEntry] {
        try await wrap {
            try await pool.read { db in
                try String.fetchAll(
                    db, sql: "SELECT body FROM mdm_audit WHERE golden_id = ? OR related_id = ? ORDER BY seq",
                    arguments: [goldenId, goldenId]
                ).map { try Self.decode($0) }
            }
        }
    }

    public func openReviews() async throws -> [ReviewItem] {
        try await wrap {
            try await pool.read { db in
                try String.fetchAll(db, sql: "SELECT body FROM mdm_review ORDER BY rowid").map { try Self.decode($0) }
            }
        }
    }

    public func changes(after seq: Int64, limit: Int) async throws -> [MasterDataChange] {
        try await wrap {
            try await pool.read { db in
                try Row.fetchAll(
                    db, sql: "SELECT seq, origin, body FROM mdm_change WHERE seq > ? ORDER BY seq LIMIT ?",
                    arguments: [seq, limit]
                ).map { row in
                    MasterDataChange(seq: row["seq"], origin: row["origin"], event: try Self.decode(row["body"]))
                }
            }
        }
    }

    public func latestChangeSequence() async throws -> Int64 {
        try await wrap {
            try await pool.read { db in try Int64.fetchOne(db, sql: "SELECT max(seq) FROM mdm_change") ?? 0 }
        }
    }

    public func members(goldenIds: [String]) async throws -> [StoredMember] {
        try await wrap {
            try await pool.read { db in
                var out: [StoredMember] = []
                for id in goldenIds {
                    for row in try Row.fetchAll(
                        db, sql: "SELECT golden_id, record FROM mdm_member WHERE golden_id = ? ORDER BY rowid",
                        arguments: [id])
                    {
                        out.append(StoredMember(record: try Self.decode(row["record"]), goldenId: row["golden_id"]))
                    }
                }
                return out
            }
        }
    }

    func wrap<T>(_ body: () async throws -> T) async throws -> T {
        do { return try await body() } catch let e as MasterDataError { throw e } catch {
            throw MasterDataError(.store, "SQLite: \(error)")
        }
    }

    static func encode<T: Encodable>(_ v: T) throws -> String {
        String(decoding: try JSONEncoder().encode(v), as: UTF8.self)
    }

    static func decode<T: Decodable>(_ s: String) throws -> T {
        try JSONDecoder().decode(T.self, from: Data(s.utf8))
    }
}
