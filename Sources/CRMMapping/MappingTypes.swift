import CRMModel
import CRMRedaction
import CRMYAML

/// One canonical record produced by a mapping.
///
/// A record is held either as a ``JSONValue`` tree or, when the mapping wrote it directly as JSON (see
/// ``CompiledMapping/apply(_:context:)``), as its encoded bytes; ``value`` decodes those on demand and
/// ``jsonBytes()`` returns them without encoding.
public struct MappedRecord: Sendable, Equatable {
    /// The canonical entity, e.g. "Customer".
    public var entity: String
    /// The Kafka record key (text of the mapping's `key` expression).
    public var key: String
    private var body: Body

    /// The two forms of a record body.
    private enum Body: Sendable {
        case tree(JSONValue)
        /// Compact JSON written by a compiled mapping: every number in it came from JSON text or from the runtime's
        /// own number rendering, so it parses back to exactly the value that was written.
        case json([UInt8])
    }

    /// The record body.
    public var value: JSONValue {
        get {
            switch body {
            case .tree(let value): return value
            case .json(let bytes):
                // The bytes are a document this process wrote (see Body.json); no limits apply to it.
                do { return try JSONValue.parse(bytes, limits: JSONLimits(maxDepth: .max, maxBytes: .max)) } catch {
                    preconditionFailure("a mapped record's own JSON does not parse: \(error)")
                }
            }
        }
        set { body = .tree(newValue) }
    }

    public init(entity: String, key: String, value: JSONValue) {
        self.entity = entity
        self.key = key
        body = .tree(value)
    }

    /// A record whose body is the compact JSON `json`, as written by a compiled mapping.
    init(entity: String, key: String, json: [UInt8]) {
        self.entity = entity
        self.key = key
        body = .json(json)
    }

    /// Compact JSON encoding of `value`.
    public func jsonBytes() -> [UInt8] {
        switch body {
        case .tree(let value): value.jsonBytes()
        case .json(let bytes): bytes
        }
    }

    public static func == (a: MappedRecord, b: MappedRecord) -> Bool {
        a.entity == b.entity && a.key == b.key && a.value == b.value
    }
}

/// The outcome of applying a mapping to one message.
public enum MappingResult: Sendable, Equatable {
    /// The records to publish (one per `outputs:` entry that produced a record).
    case output([MappedRecord])
    /// The message was intentionally dropped by `drop_when` / `filter`.
    case dropped(reason: String)
}

/// A failure while applying a mapping to one message. Input values are redacted (type and length only, and for text
/// the installation's keyed fingerprint); the reason is passed through the installed ``RedactionPolicy``.
public struct MappingError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What went wrong.
    public enum Kind: String, Sendable {
        /// The message is not valid JSON (syntax, UTF-8, depth or size limit).
        case input
        /// A field could not be computed (missing required value, wrong type, normaliser rejected a value).
        case field
        /// The mapped record failed canonical-entity validation.
        case validation
    }
    public var kind: Kind
    /// Name of the mapping that failed.
    public var mapping: String
    /// Output field path, e.g. "Customer.phones" (empty for input errors).
    public var field: String
    /// Redacted description of the offending input value, e.g. `string(13 chars)`.
    public var value: String
    /// Human-readable reason.
    public var reason: String

    public init(kind: Kind, mapping: String, field: String, value: String, reason: String) {
        self.kind = kind
        self.mapping = mapping
        self.field = field
        self.value = value
        self.reason = RedactionPolicy.installed.redact(reason)
    }

    public var description: String {
        var s = "mapping '\(mapping)'"
        if !field.isEmpty { s += " field '\(field)'" }
        if !value.isEmpty { s += " value \(value)" }
        return s + ": \(reason) [\(kind.rawValue)]"
    }
}

/// Lookups served outside the mapping file (the master-data core implements this later).
///
/// Implementations must be thread-safe; calls are synchronous and should be fast (in-memory or cached).
public protocol MappingLookup: Sendable {
    /// The value stored under `key` in `table`, or nil when there is none.
    func lookup(table: String, key: String) throws -> JSONValue?
}

/// A lookup backed by in-memory dictionaries (tests, static reference data).
public struct StaticLookup: MappingLookup {
    public var tables: [String: [String: JSONValue]]
    public init(_ tables: [String: [String: JSONValue]]) { self.tables = tables }
    public func lookup(table: String, key: String) throws -> JSONValue? { tables[table]?[key] }
}

/// Per-call context for ``CompiledMapping/apply(_:context:)``.
public struct MappingContext: Sendable {
    /// External lookups (`lookup: {service: ...}`); nil when none are configured.
    public var lookup: (any MappingLookup)?
    /// JSON parsing limits for byte input.
    public var limits: JSONLimits
    /// Whether records are made as ``JSONValue`` trees, for callers that read ``MappedRecord/value``. By default
    /// (false) records of byte input are written directly as JSON, for callers that publish
    /// ``MappedRecord/jsonBytes()``; reading `value` then parses it.
    public var recordValues: Bool
    public init(lookup: (any MappingLookup)? = nil, limits: JSONLimits = .default, recordValues: Bool = false) {
        self.lookup = lookup
        self.limits = limits
        self.recordValues = recordValues
    }
}

/// All problems found while loading mappings, each with file:line:column.
public struct MappingLoadError: Error, Sendable, CustomStringConvertible {
    public var problems: [YAMLError]
    public init(problems: [YAMLError]) { self.problems = problems }
    public var description: String { problems.map(\.description).joined(separator: "\n") }
}

/// Describes a value without revealing it: type and size only.
func redact(_ v: JSONValue?) -> String {
    guard let v else { return "missing" }
    switch v {
    case .null: return "null"
    case .bool: return "boolean"
    case .number(let n): return "number(\(n.count) digits)"
    case .string(let s): return "string(\(s.count) chars)"
    case .array(let a): return "array(\(a.count) items)"
    case .object(let o): return "object(\(o.count) members)"
    }
}
