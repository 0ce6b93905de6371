// CRMMasterData — stores that several resolvers (hub instances) share, and how resolvers stay consistent on them.

/// A store that several `MasterDataResolver`s — usually one per hub instance — use at the same time.
///
/// Each resolver keeps its own in-memory `IdentityGraph`, so on its own it cannot know about records another
/// instance resolved a moment ago: two instances given two variants of one new person would both create a
/// golden record. On a shared store the resolver therefore resolves every record inside one store transaction:
///
/// 1. lock the record's *resolution keys* (its stable blocking keys and its reference, see
///    `IdentityGraph.resolutionKeys(for:)`), in sorted order, until the transaction ends;
/// 2. read the stored records that share one of those keys, lock their golden ids (`"g:" + id`) and read every
///    member of those golden records (repeating while a golden record appears that is not locked yet);
/// 3. bring that part of the in-memory graph in line with what was read (`IdentityGraph.reconcile`);
/// 4. decide as a single instance would, and write the decision in the same transaction.
///
/// Two records of one person meet only through a shared blocking key — that is how the graph finds candidates
/// at all — so whichever instance locks the key second waits, then reads the first one's record and joins it.
/// Joins into the same golden record are serialised by the golden-id lock, so a golden record's body is always
/// built from all its members. Locks are taken in sorted order per phase; a deadlock between phases (which the
/// database detects) is retried by the store. SQLite and in-memory stores are single-instance and do not conform.
public protocol SharedMasterDataStore: MasterDataStore {
    /// Whether resolvers on this store coordinate through resolution locks (shared mode). `false` makes them
    /// behave as on a single-instance store (only safe when one instance writes).
    var coordinatesResolvers: Bool { get }

    /// Runs `body` in one transaction that holds exclusive locks on `keys` until it commits or rolls back.
    /// A transaction that fails because of a lock deadlock or serialization failure is retried (bounded).
    func withResolutionLock<T: Sendable>(
        keys: [String], _ body: @Sendable (any ResolutionTransaction) async throws -> T
    ) async throws -> T
}

/// The open transaction of `SharedMasterDataStore.withResolutionLock`.
public protocol ResolutionTransaction: Sendable {
    /// Locks more keys (in sorted order) until the transaction ends.
    func lock(keys: [String]) async throws
    /// Stored members that have one of these resolution keys, belong to one of these golden ids, or are one of
    /// these records.
    func members(keys: [String], goldenIds: [String], refs: [RecordRef]) async throws -> [StoredMember]
    /// Writes a batch inside the transaction.
    func apply(_ batch: StoreBatch) async throws
}

/// Stable 64-bit hashes for lock keys (FNV-1a; the same in every process, unlike `Hasher`).
public enum ResolutionLockKey {
    /// The lock number of a key.
    public static func hash(_ key: String) -> Int64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in key.utf8 {
            h ^= UInt64(b)
            h = h &* 0x0000_0100_0000_01B3
        }
        return Int64(bitPattern: h)
    }

    /// The lock key of a golden id.
    public static func golden(_ id: String) -> String { "g:" + id }
}
