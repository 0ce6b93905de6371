import CRMMasterData

/// Which compacted topics get tombstones when a person is erased, and under which keys (`store.erasure`).
///
/// The golden-record topic (`store.events_topic`, keyed by golden id) always gets one for the golden id. The topics
/// listed here are the ones the hub keys by customer; each gets a tombstone for every key kind in ``keys``:
/// - ``Key/goldenId``: the golden id (topics written by `resolve: true` routes keyed by golden id);
/// - ``Key/record``: `system:externalId` of every erased source record (the `crm:42`, `erp:C-7`, `stripe:cus_…`
///   keys the shipped mappings give customers).
///
/// A topic keyed by something else (an e-mail address) cannot be tombstoned from references: key it by one of these.
public struct ErasureTombstones: Sendable, Hashable {
    /// A kind of key a customer-keyed topic uses.
    public enum Key: String, Sendable, Hashable, CaseIterable {
        /// The golden customer id.
        case goldenId = "golden_id"
        /// `system:externalId` of a source record.
        case record
    }

    /// Compacted topics keyed by customer. Default none.
    public var topics: [String]
    /// The key kinds those topics use. Default both.
    public var keys: [Key]

    public init(topics: [String] = [], keys: [Key] = Key.allCases) {
        self.topics = topics
        self.keys = keys
    }

    /// The references an erased person had in local views and stores: the golden id and `system:externalId` of
    /// every erased record (the keys of both kinds, whatever ``keys`` says).
    public static func references(of event: MasterDataEvent) -> [String] {
        ErasureTombstones().keys(goldenId: event.goldenId, records: event.erasedRecords)
    }

    /// The tombstone keys of one erasure on a customer-keyed topic, in a stable order without repeats.
    public func keys(goldenId: String, records: [RecordRef]) -> [String] {
        var out: [String] = []
        for kind in keys {
            switch kind {
            case .goldenId: out.append(goldenId)
            case .record: out += records.map { "\($0.system):\($0.externalId)" }
            }
        }
        var seen = Set<String>()
        return out.filter { seen.insert($0).inserted }
    }
}
