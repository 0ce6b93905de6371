import CRMKafka
import CRMMasterData

/// The erasure check of every sink in a hub that keeps master data: a message about an erased person (its golden id,
/// its source record or its key is on the erasure ledger) is not delivered, so a message queued for a target before
/// the erasure — on the sink's topic or waiting in a retry topic — cannot recreate the person there.
///
/// Until the first erasure the check costs one actor call per message; after it, the message's reference is read
/// (``CustomerReference``) and its golden id, its `customerRef` record and its key (as a golden id and, when it looks
/// like `system:id`, as a record) are looked up on the ledger, which holds only hashes. A message that names its
/// customer by e-mail or phone alone cannot be matched to the ledger and is delivered.
public struct ErasureGate: Sendable {
    /// The master data whose erasure ledger is consulted (it follows the change feed, so CLI erasures count too).
    public let resolver: MasterDataResolver

    public init(resolver: MasterDataResolver) {
        self.resolver = resolver
    }

    /// Whether the message is about an erased person.
    public func isErased(_ message: ConsumerMessage) async -> Bool {
        guard await resolver.hasErasures else { return false }
        let reference = CustomerReference(headers: message.headers, value: message.value)
        let key = message.key.map { String(decoding: $0, as: UTF8.self) }
        var goldenIds = [reference.goldenId, reference.possibleGoldenId, key].compactMap { $0 }
        var records = reference.record.map { [$0] } ?? []
        if let key, let colon = key.firstIndex(of: ":"), colon != key.startIndex, colon != key.index(before: key.endIndex)
        {
            records.append(RecordRef(system: String(key[..<colon]), externalId: String(key[key.index(after: colon)...])))
        }
        goldenIds = Array(Set(goldenIds))
        return await resolver.isErased(records: records, goldenIds: goldenIds)
    }
}
