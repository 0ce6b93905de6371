// CRMMasterData — the resolver's graph behind a lock, and golden-id lookups that read it without the actor.

import Synchronization

/// The identity graph behind a lock. The resolver changes it (inside its actor, one change at a time); mapping
/// lookups read it synchronously from whichever thread runs the mapping. Locks are held only for in-memory work.
final class LockedIdentityGraph: Sendable {
    private let state: Mutex<IdentityGraph>

    init(_ graph: IdentityGraph) { state = Mutex(graph) }

    /// Runs `body` with the graph locked, for reading.
    func read<T: Sendable>(_ body: (borrowing IdentityGraph) -> T) -> T {
        state.withLock { graph in body(graph) }
    }

    /// Runs `body` with the graph locked, for changing it.
    @discardableResult
    func update<T: Sendable, E: Error>(_ body: (inout IdentityGraph) throws(E) -> T) throws(E) -> T {
        try state.withLock { (graph: inout IdentityGraph) throws(E) -> T in try body(&graph) }
    }
}

/// Golden-id lookups answered from the resolver's in-memory graph on the caller's thread, without awaiting the
/// resolver: for code that cannot suspend, such as mapping lookups (see `MasterDataMappingLookup` in CRMDelivery).
/// Each answer is the master data as it is at the call.
public struct GoldenIdIndex: Sendable {
    private let graph: LockedIdentityGraph

    init(graph: LockedIdentityGraph) { self.graph = graph }

    /// Golden ids whose members carry this e-mail (matching key: case and sub-addresses folded).
    public func goldenIds(email: String) -> [String] { graph.read { $0.goldenIds(email: email) } }

    /// Golden ids whose members carry this phone number; national numbers are read in `defaultRegion`.
    public func goldenIds(phone: String, defaultRegion: String?) -> [String] {
        graph.read { $0.goldenIds(phone: phone, defaultRegion: defaultRegion) }
    }

    /// The golden id holding a source record.
    public func goldenId(for ref: RecordRef) -> String? { graph.read { $0.goldenId(for: ref) } }
}
