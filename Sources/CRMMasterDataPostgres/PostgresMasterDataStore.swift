// CRMMasterDataPostgres — master data in PostgreSQL (postgres-nio), shared by several hub instances.
//
// The store keeps the SQLite store's semantics (same tables, same orders, one transaction per `StoreBatch`) and
// adds what sharing needs: every member row carries its stable blocking keys (`block_keys text[]`, GIN-indexed)
// so a resolver can read the records another instance stored for a key, and resolution locks are transaction-level
// advisory locks (`pg_advisory_xact_lock`) on FNV-1a hashes of the keys. See `SharedMasterDataStore` for the
// scheme that keeps concurrent hub instances from creating two golden records for one person.

import CRMMasterData
import Foundation
import Logging
import PostgresNIO

/// Master data in a PostgreSQL database (`postgres://user:password@host:port/database`). The schema is created or
/// migrated on open; bodies are `jsonb`, keys and foreign ids are indexed columns.
///
/// Several hub instances may open the same database: with `coordinatesResolvers` (the default) every
/// `MasterDataResolver` on it resolves each record under resolution locks against what all instances stored
/// (see `SharedMasterDataStore`), so two instances never create two golden records for one person.
///
/// The store runs a connection pool in a task it owns; call `close()` when done.
public final class PostgresMasterDataStore: SharedMasterDataStore {
    /// Where the database is and how to use it.
    public struct Configuration: Sendable {
        public var host: String
        public var port: Int
        public var username: String
        public var password: String?
        public var database: String?
        /// TLS (libpq's `sslmode`): `verify-full` (default) encrypts and checks the server's certificate against
        /// `caFile` (or the system's CAs) and its name against `host`; `verify-ca` skips the name; `require` only
        /// encrypts (and checks the chain when `caFile` is set, as libpq does); `disable` is plain text and must be
        /// asked for. libpq's `prefer` and `allow`, which fall back to plain text without telling anyone, are refused.
        public var tls: TLSMode
        /// PEM bundle of the CAs trusted for the server's certificate (`sslrootcert`); the system's store when nil.
        public var caFile: String?
        /// Whether resolvers coordinate through resolution locks (shared mode; on by default).
        public var coordinatesResolvers: Bool = true
        /// Pool size.
        public var maximumConnections: Int = 8

        /// TLS modes (as libpq's `sslmode`).
        public enum TLSMode: String, Sendable, CaseIterable {
            case disable, require
            case verifyCA = "verify-ca"
            case verifyFull = "verify-full"

            /// Reads an `sslmode` value; `prefer` and `allow` are refused with the reason.
            public init(sslmode: String) throws(MasterDataError) {
                guard let mode = TLSMode(rawValue: sslmode) else {
                    let fallback = ["prefer", "allow"].contains(sslmode)
                    throw MasterDataError(
                        .store,
                        fallback
                            ? "sslmode \(sslmode) silently falls back to plain text: use verify-full (default), "
                                + "verify-ca or require, or disable explicitly"
                            : "unsupported sslmode \(sslmode) (\(TLSMode.allCases.map(\.rawValue).joined(separator: ", ")))"
                    )
                }
                self = mode
            }
        }

        public init(
            host: String, port: Int = 5432, username: String, password: String?, database: String?,
            tls: TLSMode = .verifyFull, caFile: String? = nil
        ) {
            self.host = host
            self.port = port
            self.username = username
            self.password = password
            self.database = database
            self.tls = tls
            self.caFile = caFile
        }

        /// Reads `postgres://user:password@host:port/database?sslmode=verify-full&sslrootcert=/path/ca.pem` (or
        /// `postgresql://`). User and password are percent-decoded. Without `sslmode` the mode is `verify-full`.
        public init(url: String) throws(MasterDataError) {
            guard let c = URLComponents(string: url), let scheme = c.scheme,
                scheme == "postgres" || scheme == "postgresql",
                let host = c.host, !host.isEmpty
            else {
                throw MasterDataError(
                    .store, "not a PostgreSQL URL (postgres://user:password@host:port/database): \(Self.redacted(url))")
            }
            guard let user = c.user?.removingPercentEncoding ?? c.user, !user.isEmpty else {
                throw MasterDataError(.store, "PostgreSQL URL without a user: \(Self.redacted(url))")
            }
            let path = c.path.hasPrefix("/") ? String(c.path.dropFirst()) : c.path
            var tls = TLSMode.verifyFull
            if let mode = c.queryItems?.first(where: { $0.name == "sslmode" })?.value {
                tls = try TLSMode(sslmode: mode)
            }
            let caFile = c.queryItems?.first(where: { $0.name == "sslrootcert" })?.value
            self.init(
                host: host, port: c.port ?? 5432, username: user,
                password: c.password?.removingPercentEncoding ?? c.password,
                database: path.isEmpty ? nil : path, tls: tls, caFile: caFile)
        }

        /// A URL with its password replaced by `***` (for messages and logs).
        public static func redacted(_ url: String) -> String {
            guard var c = URLComponents(string: url), c.password != nil else { return url }
            c.password = "***"
            return c.string ?? "postgres://***"
        }

        /// The NIOSSL client configuration for `tls` (nil for `disable`); the CA file is read now, so a missing or
        /// broken file is reported before any connection.
        func tlsConfiguration() throws(MasterDataError) -> TLSConfiguration? {
            guard tls != .disable else { return nil }
            var configuration = TLSConfiguration.makeClientConfiguration()
            switch tls {
            case .disable: return nil
            case .require:
                // As libpq: `require` with a CA file checks the chain (like verify-ca); without one it only encrypts.
                configuration.certificateVerification = caFile == nil ? .none : .noHostnameVerification
            case .verifyCA: configuration.certificateVerification = .noHostnameVerification
            case .verifyFull: configuration.certificateVerification = .fullVerification
            }
            if let caFile {
                do {
                    configuration.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(caFile))
                } catch {
                    throw MasterDataError(.store, "cannot read the PostgreSQL CA file \(caFile): \(error)")
                }
            }
            return configuration
        }

        /// Opens one connection with these settings and closes it: the server is reachable, trusted (per `tls`) and
        /// accepts the login, or the error says why (a certificate the CA did not sign fails the TLS handshake).
        public func probe(logger: Logger = Logger(label: "crmhub.mdm.postgres")) async throws {
            let tls: PostgresConnection.Configuration.TLS =
                try tlsConfiguration().map { .require(try NIOSSLContext(configuration: $0)) } ?? .disable
            let connection = try await PostgresConnection.connect(
                configuration: .init(
                    host: host, port: port, username: username, password: password, database: database, tls: tls),
                id: 0, logger: logger)
            try await connection.close()
        }

        func clientConfiguration() throws(MasterDataError) -> PostgresClient.Configuration {
            let mode: PostgresClient.Configuration.TLS = try tlsConfiguration().map { .require($0) } ?? .disable
            var c = PostgresClient.Configuration(
                host: host, port: port, username: username, password: password, database: database, tls: mode)
            c.options.maximumConnections = maximumConnections
            return c
        }

        var target: String { "\(host):\(port)/\(database ?? username)" }
    }

    public let coordinatesResolvers: Bool
    private let client: PostgresClient
    private let runner: Task<Void, Never>
    let logger: Logger
    let target: String

    /// Connects, creates or migrates the schema, and starts the pool.
    public init(configuration: Configuration, logger: Logger = Logger(label: "crmhub.mdm.postgres")) async throws {
        let client = PostgresClient(configuration: try configuration.clientConfiguration(), backgroundLogger: logger)
        self.client = client
        runner = Task { await client.run() }
        self.logger = logger
        target = configuration.target
        coordinatesResolvers = configuration.coordinatesResolvers
        do {
            try await transaction { connection in try await Self.migrate(connection, logger: logger) }
        } catch {
            runner.cancel()
            throw error
        }
    }

    /// Connects to `url` (`postgres://user:password@host:port/database`).
    public convenience init(url: String, logger: Logger = Logger(label: "crmhub.mdm.postgres")) async throws {
        try await self.init(configuration: Configuration(url: url), logger: logger)
    }

    deinit { runner.cancel() }

    /// Closes the pool's connections and waits for it to stop.
    public func close() async {
        runner.cancel()
        await runner.value
    }

    // MARK: Schema

    /// Schema version 1. Concurrent opens are serialised by an advisory lock.
    static func migrate(_ connection: PostgresConnection, logger: Logger) async throws {
        try await connection.query(
            "SELECT pg_advisory_xact_lock(\(ResolutionLockKey.hash("crmhub-mdm-schema")))", logger: logger)
        let statements: [PostgresQuery] = [
            """
            CREATE TABLE IF NOT EXISTS mdm_member (
              seq bigint GENERATED ALWAYS AS IDENTITY, system text NOT NULL, external_id text NOT NULL,
              golden_id text NOT NULL, record jsonb NOT NULL, block_keys text[] NOT NULL DEFAULT '{}',
              PRIMARY KEY (system, external_id))
            """,
            "CREATE INDEX IF NOT EXISTS mdm_member_golden ON mdm_member (golden_id)",
            "CREATE INDEX IF NOT EXISTS mdm_member_seq ON mdm_member (seq)",
            "CREATE INDEX IF NOT EXISTS mdm_member_block_keys ON mdm_member USING gin (block_keys)",
            "CREATE TABLE IF NOT EXISTS mdm_golden (id text PRIMARY KEY, body jsonb NOT NULL)",
            "CREATE TABLE IF NOT EXISTS mdm_alias (absorbed text PRIMARY KEY, survivor text NOT NULL)",
            "CREATE TABLE IF NOT EXISTS mdm_merge_history (absorbed text PRIMARY KEY, members jsonb NOT NULL)",
            """
            CREATE TABLE IF NOT EXISTS mdm_audit (
              seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, golden_id text NOT NULL, related_id text,
              body jsonb NOT NULL)
            """,
            "CREATE INDEX IF NOT EXISTS mdm_audit_golden ON mdm_audit (golden_id)",
            "CREATE INDEX IF NOT EXISTS mdm_audit_related ON mdm_audit (related_id)",
            """
            CREATE TABLE IF NOT EXISTS mdm_review (
              seq bigint GENERATED ALWAYS AS IDENTITY, system text NOT NULL, external_id text NOT NULL,
              body jsonb NOT NULL, PRIMARY KEY (system, external_id))
            """,
            """
            CREATE TABLE IF NOT EXISTS mdm_change (
              seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, origin text NOT NULL, body jsonb NOT NULL)
            """,
            "CREATE TABLE IF NOT EXISTS mdm_erasure_ledger (entry text PRIMARY KEY)",
            "CREATE TABLE IF NOT EXISTS mdm_schema (version int NOT NULL)",
            "INSERT INTO mdm_schema (version) SELECT 1 WHERE NOT EXISTS (SELECT 1 FROM mdm_schema)",
        ]
        for statement in statements + historyStatements { try await connection.query(statement, logger: logger) }
    }

    // MARK: MasterDataStore

    public func load() async throws -> MasterDataSnapshot {
        try await transaction { connection in
            var s = MasterDataSnapshot()
            let members = try await connection.query(
                "SELECT golden_id, record::text FROM mdm_member ORDER BY seq", logger: self.logger)
            for try await (goldenId, record) in members.decode((String, String).self) {
                s.members.append(StoredMember(record: try Self.decode(record), goldenId: goldenId))
            }
            let aliases = try await connection.query("SELECT absorbed, survivor FROM mdm_alias", logger: self.logger)
            for try await (absorbed, survivor) in aliases.decode((String, String).self) {
                s.aliases[absorbed] = survivor
            }
            let history = try await connection.query(
                "SELECT absorbed, members::text FROM mdm_merge_history", logger: self.logger)
            for try await (absorbed, refs) in history.decode((String, String).self) {
                s.mergeHistory[absorbed] = try Self.decode(refs)
            }
            let ledger = try await connection.query("SELECT entry FROM mdm_erasure_ledger", logger: self.logger)
            for try await entry in ledger.decode(String.self) { s.erasureLedger.insert(entry) }
            return s
        }
    }

    public func apply(_ batch: StoreBatch) async throws {
        guard !batch.isEmpty else { return }
        try await transaction { connection in try await Self.write(batch, on: connection, logger: self.logger) }
    }

    public func golden(id: String) async throws -> GoldenRecord? {
        try await transaction { connection in
            var id = id
            var hops = 0
            while hops < 64,
                let next = try await Self.string(
                    connection.query("SELECT survivor FROM mdm_alias WHERE absorbed = \(id)", logger: self.logger))
            {
                id = next
                hops += 1
            }
            guard
                let body = try await Self.string(
                    connection.query("SELECT body::text FROM mdm_golden WHERE id = \(id)", logger: self.logger))
            else { return nil }
            return try Self.decode(body)
        }
    }

    public func goldenId(for ref: RecordRef) async throws -> String? {
        try await transaction { connection in
            try await Self.string(
                connection.query(
                    "SELECT golden_id FROM mdm_member WHERE system = \(ref.system) AND external_id = \(ref.externalId)",
                    logger: self.logger))
        }
    }

    public func auditTrail(goldenId: String) async throws -> [AuditEntry] {
        try await transaction { connection in
            let rows = try await connection.query(
                "SELECT body::text FROM mdm_audit WHERE golden_id = \(goldenId) OR related_id = \(goldenId) ORDER BY seq",
                logger: self.logger)
            var out: [AuditEntry] = []
            for try await body in rows.decode(String.self) { out.append(try Self.decode(body)) }
            return out
        }
    }

    public func openReviews() async throws -> [ReviewItem] {
        try await transaction { connection in
            let rows = try await connection.query("SELECT body::text FROM mdm_review ORDER BY seq", logger: self.logger)
            var out: [ReviewItem] = []
            for try await body in rows.decode(String.self) { out.append(try Self.decode(body)) }
            return out
        }
    }

    public func changes(after seq: Int64, limit: Int) async throws -> [MasterDataChange] {
        try await transaction { connection in
            let rows = try await connection.query(
                "SELECT seq, origin, body::text FROM mdm_change WHERE seq > \(seq) ORDER BY seq LIMIT \(limit)",
                logger: self.logger)
            var out: [MasterDataChange] = []
            for try await (seq, origin, body) in rows.decode((Int64, String, String).self) {
                out.append(MasterDataChange(seq: seq, origin: origin, event: try Self.decode(body)))
            }
            return out
        }
    }

    public func latestChangeSequence() async throws -> Int64 {
        try await transaction { connection in
            let rows = try await connection.query("SELECT coalesce(max(seq), 0) FROM mdm_change", logger: self.logger)
            for try await seq in rows.decode(Int64.self) { return seq }
            return 0
        }
    }

    public func members(goldenIds: [String]) async throws -> [StoredMember] {
        try await transaction { connection in
            let rows = try await connection.query(
                "SELECT golden_id, record::text FROM mdm_member WHERE golden_id = ANY(\(goldenIds)) ORDER BY seq",
                logger: self.logger)
            var out: [StoredMember] = []
            for try await (goldenId, record) in rows.decode((String, String).self) {
                out.append(StoredMember(record: try Self.decode(record), goldenId: goldenId))
            }
            return out
        }
    }

    // MARK: Writing

    static func write(_ b: StoreBatch, on connection: PostgresConnection, logger: Logger) async throws {
        for e in b.events {
            let body = try encode(e)
            try await connection.query(
                "INSERT INTO mdm_change (origin, body) VALUES (\(b.origin), \(body)::jsonb)", logger: logger)
        }
        for m in b.members {
            let record = try encode(m.record)
            let keys = IdentityGraph.blockKeys(for: m.record)
            try await connection.query(
                """
                INSERT INTO mdm_member (system, external_id, golden_id, record, block_keys)
                VALUES (\(m.record.system), \(m.record.externalId), \(m.goldenId), \(record)::jsonb, \(keys))
                ON CONFLICT (system, external_id) DO UPDATE
                SET golden_id = excluded.golden_id, record = excluded.record, block_keys = excluded.block_keys
                """, logger: logger)
        }
        for entry in b.ledger {
            try await connection.query(
                "INSERT INTO mdm_erasure_ledger (entry) VALUES (\(entry)) ON CONFLICT (entry) DO NOTHING",
                logger: logger)
        }
        for r in b.erased {
            try await connection.query(
                "DELETE FROM mdm_member WHERE system = \(r.system) AND external_id = \(r.externalId)", logger: logger)
        }
        for g in b.removedGoldens {
            try await connection.query("DELETE FROM mdm_golden WHERE id = \(g)", logger: logger)
        }
        for g in b.goldens {
            let body = try encode(g)
            try await connection.query(
                "INSERT INTO mdm_golden (id, body) VALUES (\(g.id), \(body)::jsonb) ON CONFLICT (id) DO UPDATE SET body = excluded.body",
                logger: logger)
        }
        for (absorbed, survivor) in b.aliases {
            if let survivor {
                try await connection.query(
                    """
                    INSERT INTO mdm_alias (absorbed, survivor) VALUES (\(absorbed), \(survivor))
                    ON CONFLICT (absorbed) DO UPDATE SET survivor = excluded.survivor
                    """, logger: logger)
            } else {
                try await connection.query("DELETE FROM mdm_alias WHERE absorbed = \(absorbed)", logger: logger)
            }
        }
        for (absorbed, refs) in b.mergeHistory {
            if let refs {
                let members = try encode(refs)
                try await connection.query(
                    """
                    INSERT INTO mdm_merge_history (absorbed, members) VALUES (\(absorbed), \(members)::jsonb)
                    ON CONFLICT (absorbed) DO UPDATE SET members = excluded.members
                    """, logger: logger)
            } else {
                try await connection.query("DELETE FROM mdm_merge_history WHERE absorbed = \(absorbed)", logger: logger)
            }
        }
        for a in b.audit {
            let body = try encode(a)
            try await connection.query(
                "INSERT INTO mdm_audit (golden_id, related_id, body) VALUES (\(a.goldenId), \(a.relatedGoldenId), \(body)::jsonb)",
                logger: logger)
        }
        for r in b.closedReviews {
            try await connection.query(
                "DELETE FROM mdm_review WHERE system = \(r.system) AND external_id = \(r.externalId)", logger: logger)
        }
        for r in b.reviews {
            // Replacing an open item moves it to the end of the list, as in the SQLite store.
            let body = try encode(r)
            try await connection.query(
                "DELETE FROM mdm_review WHERE system = \(r.record.system) AND external_id = \(r.record.externalId)",
                logger: logger)
            try await connection.query(
                "INSERT INTO mdm_review (system, external_id, body) VALUES (\(r.record.system), \(r.record.externalId), \(body)::jsonb)",
                logger: logger)
        }
    }

    // MARK: Transactions

    /// Runs `body` in a transaction on a pooled connection; errors become `MasterDataError(.store)` with the
    /// server's SQLSTATE and message (never bound values).
    func transaction<T: Sendable>(_ body: (PostgresConnection) async throws -> T) async throws -> T {
        do {
            return try await rawTransaction(body)
        } catch {
            throw wrap(error)
        }
    }

    /// `transaction` without error wrapping.
    func rawTransaction<T: Sendable>(_ body: (PostgresConnection) async throws -> T) async throws -> T {
        try await client.withConnection { connection in
            try await connection.query("BEGIN", logger: self.logger)
            do {
                let value = try await body(connection)
                try await connection.query("COMMIT", logger: self.logger)
                return value
            } catch {
                _ = try? await connection.query("ROLLBACK", logger: self.logger)
                throw error
            }
        }
    }

    func wrap(_ error: any Error) -> any Error {
        if error is MasterDataError || error is CancellationError { return error }
        return MasterDataError(.store, "PostgreSQL \(target): \(Self.describe(error))")
    }

    /// SQLSTATE and message of a server error; the error's type otherwise.
    static func describe(_ error: any Error) -> String {
        if let e = error as? PSQLError {
            if let state = e.serverInfo?[.sqlState], let message = e.serverInfo?[.message] {
                return "\(state) \(message)"
            }
            return "\(e.code)"
        }
        return "\(error)"
    }

    /// Whether the error is one a retry can cure: deadlock detected (40P01) or serialization failure (40001).
    static func isRetryable(_ error: any Error) -> Bool {
        guard let e = error as? PSQLError, let state = e.serverInfo?[.sqlState] else { return false }
        return state == "40P01" || state == "40001"
    }

    static func string(_ rows: PostgresRowSequence) async throws -> String? {
        for try await value in rows.decode(String.self) { return value }
        return nil
    }

    static func encode<T: Encodable>(_ v: T) throws -> String {
        String(decoding: try JSONEncoder().encode(v), as: UTF8.self)
    }

    static func decode<T: Decodable>(_ s: String) throws -> T {
        try JSONDecoder().decode(T.self, from: Data(s.utf8))
    }
}
