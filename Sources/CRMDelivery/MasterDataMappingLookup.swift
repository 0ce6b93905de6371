import CRMMapping
import CRMMasterData
import CRMModel
import Synchronization

/// Serves the master data to mappings as `lookup: {service: NAME}` fields, so orders, tickets and interactions
/// carry the golden id of their customer:
///
/// | service | key | answer |
/// |---|---|---|
/// | `golden-by-email` | an e-mail address (case and sub-addresses folded as the matcher folds them) | golden id |
/// | `golden-by-phone` | a phone number, E.164 (national numbers are read as GB) | golden id |
/// | `golden-by-ref` | a source record, `SYSTEM/EXTERNAL-ID` (for example `tryton/42`) | golden id |
///
/// The answer is null when no golden record carries the key, and also when more than one does (a shared family
/// address, a switchboard number): the message then carries no golden id rather than a stranger's. Lookups see the
/// master data as it is when the message is mapped; a customer resolved later is not filled in afterwards.
///
/// The daemon compiles its mappings before it opens the master data, so the index is attached once it is open
/// (``attach(_:)``), before any message is mapped. Where no master data is open — `crmhub mapping apply`,
/// `crmhub batch run` from the command line — the services answer null: the records carry no golden id.
public final class MasterDataMappingLookup: MappingLookup {
    /// The service names this lookup answers.
    public static let services: Set<String> = ["golden-by-email", "golden-by-phone", "golden-by-ref"]

    private let index = Mutex<GoldenIdIndex?>(nil)

    public init() {}

    /// Serves lookups from `index` from now on.
    public func attach(_ index: GoldenIdIndex) { self.index.withLock { $0 = index } }

    public func lookup(table: String, key: String) throws -> JSONValue? {
        guard Self.services.contains(table) else { throw MasterDataLookupError.unknownService(table) }
        guard let index = index.withLock({ $0 }) else { return nil }
        let ids: [String]
        switch table {
        case "golden-by-email":
            ids = index.goldenIds(email: key)
        case "golden-by-phone":
            ids = index.goldenIds(phone: key, defaultRegion: "GB")
        default:
            guard let slash = key.firstIndex(of: "/"), slash != key.startIndex, key.index(after: slash) != key.endIndex
            else { throw MasterDataLookupError.malformedReference }
            let ref = RecordRef(system: String(key[..<slash]), externalId: String(key[key.index(after: slash)...]))
            ids = index.goldenId(for: ref).map { [$0] } ?? []
        }
        return ids.count == 1 ? .string(ids[0]) : nil
    }
}

/// Why a master-data lookup was refused (the looked-up value is never part of the reason).
public enum MasterDataLookupError: Error, CustomStringConvertible, Sendable {
    case unknownService(String)
    case malformedReference

    public var description: String {
        switch self {
        case .unknownService(let name):
            "no lookup service '\(name)' (the master data serves "
                + MasterDataMappingLookup.services.sorted().joined(separator: ", ") + ")"
        case .malformedReference: "a golden-by-ref key is SYSTEM/EXTERNAL-ID"
        }
    }
}
