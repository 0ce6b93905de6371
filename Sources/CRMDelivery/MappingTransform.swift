import CRMKafka
import CRMMapping
import CRMModel
import Synchronization

/// A route's `mapping:` step: applies a compiled mapping to each message. Each mapped record is produced to the
/// route's topic for its entity (or the single `to` topic) with the mapping's name and version in `crm-mapping`;
/// a mapping error sends the original message to the dead-letter topic with the error (values redacted).
public struct MappingTransform: MessageTransform {
    public let mapping: CompiledMapping
    public let context: MappingContext
    /// `crm-mapping: name@version`, made once (not per message).
    private let mappingHeader: KafkaHeader

    public init(mapping: CompiledMapping, context: MappingContext) {
        self.mapping = mapping
        self.context = context
        mappingHeader = KafkaHeader(key: EnvelopeHeader.mapping, text: "\(mapping.name)@\(mapping.version)")
    }

    public var description: String { "mapping:\(mapping.name)@\(mapping.version)" }
    public var version: String? { "\(mapping.name)@\(mapping.version)" }
    /// A mapping reads its message and reference data (lookups), never state other messages write.
    public var isStateless: Bool { true }

    public func transform(_ message: ConsumerMessage) async -> TransformOutcome {
        let result: MappingResult
        do {
            result = try mapping.apply(message.value, context: context)
        } catch {
            return .failure(reason: error.description, errorClass: "mapping-\(error.kind.rawValue)")
        }
        switch result {
        case .dropped(let reason):
            return .drop(reason: reason)
        case .output(let records):
            var headers = message.headers.filter { $0.key != EnvelopeHeader.mapping }
            headers.append(mappingHeader)
            return .produce(
                records.map { record in
                    TransformedRecord(
                        output: record.entity.lowercased(),
                        key: record.key.isEmpty ? message.key : Array(record.key.utf8),
                        value: record.jsonBytes(), headers: headers)
                })
        }
    }
}

/// The compiled mappings of the mappings folder, swappable at run time: ``reload()`` compiles the folder again and
/// replaces the library only if everything compiles, so a broken edit is refused while the old mappings keep
/// running. Messages in flight finish with the mapping they started with.
public final class MappingRegistry: Sendable {
    public let directory: String
    private let library: Mutex<MappingLibrary>

    public init(directory: String, lookup: (any MappingLookup)? = nil) throws(MappingLoadError) {
        self.directory = directory
        library = Mutex(try MappingLibrary.load(directory: directory, lookup: lookup))
    }

    /// The current transform for mapping `name`, or nil if the library has none by that name.
    public func transform(named name: String) -> MappingTransform? {
        library.withLock { library in
            library.mapping(named: name).map { MappingTransform(mapping: $0, context: library.context) }
        }
    }

    /// The library as compiled now (a later reload does not change it).
    public var current: MappingLibrary { library.withLock { $0 } }

    /// Names and versions of the loaded mappings.
    public var versions: [String: String] { library.withLock { $0.mappings.mapValues(\.version) } }

    /// Compiles the folder again; on success swaps the library in and returns the new versions, on failure keeps
    /// the old library and returns the problems.
    public func reload() -> Result<[String: String], MappingLoadError> {
        let lookup = library.withLock { $0.lookup }
        do {
            let fresh = try MappingLibrary.load(directory: directory, lookup: lookup)
            library.withLock { $0 = fresh }
            return .success(fresh.mappings.mapValues(\.version))
        } catch {
            return .failure(error)
        }
    }
}

/// Stands in for a mapping a reload removed: every message goes to the dead-letter topic saying so, rather than
/// passing through unmapped.
public struct UnavailableMappingTransform: MessageTransform {
    public let name: String

    public init(name: String) { self.name = name }

    public var description: String { "mapping:\(name)(unavailable)" }
    public var isStateless: Bool { true }

    public func transform(_ message: ConsumerMessage) async -> TransformOutcome {
        .failure(
            reason: "mapping '\(name)' is not loaded (removed or renamed by the last reload)",
            errorClass: "configuration")
    }
}
