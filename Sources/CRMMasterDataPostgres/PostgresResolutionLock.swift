// CRMMasterDataPostgres — resolution locks: transaction-level advisory locks and the reads a resolver needs.

import CRMMasterData
import Logging
import PostgresNIO

extension PostgresMasterDataStore {
    /// Attempts per resolution when PostgreSQL reports a deadlock or serialization failure.
    static let resolutionAttempts = 5

    /// Runs `body` in one transaction holding `pg_advisory_xact_lock` on the hashes of `keys` (taken in sorted
    /// order, released at commit or rollback). Deadlocks (40P01), which the server detects when two resolutions
    /// lock golden ids in different rounds, roll back and are retried up to `resolutionAttempts` times.
    public func withResolutionLock<T: Sendable>(
        keys: [String], _ body: @Sendable (any ResolutionTransaction) async throws -> T
    ) async throws -> T {
        var attempt = 1
        while true {
            do {
                return try await rawTransaction { connection in
                    let tx = PostgresResolutionTransaction(connection: connection, logger: self.logger)
                    try await tx.lock(keys: keys)
                    return try await body(tx)
                }
            } catch {
                guard attempt < Self.resolutionAttempts, Self.isRetryable(error) else { throw wrap(error) }
                logger.debug(
                    "resolution transaction retried",
                    metadata: ["attempt": "\(attempt)", "error": "\(Self.describe(error))"])
                attempt += 1
            }
        }
    }
}

/// One open resolution transaction on a leased connection (valid only inside `withResolutionLock`'s body).
struct PostgresResolutionTransaction: ResolutionTransaction {
    let connection: PostgresConnection
    let logger: Logger

    func lock(keys: [String]) async throws {
        let numbers = Set(keys.map(ResolutionLockKey.hash)).sorted()
        for n in numbers {
            try await connection.query("SELECT pg_advisory_xact_lock(\(n))", logger: logger)
        }
    }

    func members(keys: [String], goldenIds: [String], refs: [RecordRef]) async throws -> [StoredMember] {
        let systems = refs.map(\.system)
        let ids = refs.map(\.externalId)
        let rows = try await connection.query(
            """
            SELECT golden_id, record::text FROM mdm_member
            WHERE block_keys && \(keys)::text[] OR golden_id = ANY(\(goldenIds)::text[])
               OR (system, external_id) IN (SELECT * FROM unnest(\(systems)::text[], \(ids)::text[]))
            ORDER BY seq
            """, logger: logger)
        var out: [StoredMember] = []
        for try await (goldenId, record) in rows.decode((String, String).self) {
            out.append(StoredMember(record: try PostgresMasterDataStore.decode(record), goldenId: goldenId))
        }
        return out
    }

    func apply(_ batch: StoreBatch) async throws {
        try await PostgresMasterDataStore.write(batch, on: connection, logger: logger)
    }
}
