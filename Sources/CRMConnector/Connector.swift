// CRMConnector: the contract every connector kind implements, the registry that reads connector files through it,
// what a connector gets from the runtime (ConnectorContext) and gives back (ConnectorParts), the one produce path of
// every source (SourceEmitter) and the HTTP endpoints sources serve on the ingress server (IngressEndpoint).

import CRMDelivery
import CRMYAML
import ServiceLifecycle

/// One kind of connector (`http-sink`, `imap-source`, …): how its YAML file reads, which topics it uses and what it
/// runs. Adding a kind is one new type conforming to this protocol in a connector module, plus one line in the
/// hub's registry; nothing else in the hub switches on kinds.
public protocol Connector: Sendable {
    /// The kind's settings, read from its file and validated; secrets stay references until ``make(_:in:)``.
    associatedtype Settings: Sendable

    /// The `kind:` value of this kind's files.
    static var kind: String { get }
    /// The keys this kind allows besides `name` and `kind`; others are refused with their location.
    static var keys: Set<String> { get }
    /// Reads and validates the settings. Throws located errors (`file:line:column: message`).
    static func settings(_ file: ConnectorFile) throws(YAMLError) -> Settings
    /// Topics the connector reads or writes, retry and dead-letter topics included: created or checked at start.
    static func topics(_ settings: Settings) -> [String]
    /// Paths the connector serves on the ingress server; they must be unique across connectors.
    static func ingressPaths(_ settings: Settings) -> [String]
    /// The sink's delivery settings, for sinks; `nil` for sources.
    static func sinkDelivery(_ settings: Settings) -> SinkService.Configuration?
    /// Mappings (in the mappings folder) the connector applies; validation checks they exist.
    static func mappings(_ settings: Settings) -> [String]
    /// True when the connector's ingress paths must be authenticated: its file then needs `auth:` with a secret, or
    /// an explicit `auth: none` (the CTI HTTP input). Default false.
    static func requiresIngressAuth(_ settings: Settings) -> Bool
    /// Builds what the runtime runs for this connector: its services, its sink target, its ingress endpoints.
    static func make(_ settings: Settings, in context: ConnectorContext) async throws -> ConnectorParts
}

extension Connector {
    public static func ingressPaths(_ settings: Settings) -> [String] { [] }
    public static func sinkDelivery(_ settings: Settings) -> SinkService.Configuration? { nil }
    public static func mappings(_ settings: Settings) -> [String] { [] }
    public static func requiresIngressAuth(_ settings: Settings) -> Bool { false }
}

/// What a connector hands to the runtime, and nothing else: the runtime wires sinks to a ``SinkService`` with the
/// connector's delivery settings, adds endpoints to the ingress server and runs services in its one ServiceGroup.
public struct ConnectorParts: Sendable {
    /// Long-running parts (sources, reconnecting clients, views), started after the producer.
    public var services: [any Service]
    /// The target a sink delivers to; the runtime runs it under the connector's ``Connector/sinkDelivery(_:)``.
    public var sink: (any SinkTarget)?
    /// HTTP endpoints served on the ingress server.
    public var ingress: [IngressEndpoint]

    public init(services: [any Service] = [], sink: (any SinkTarget)? = nil, ingress: [IngressEndpoint] = []) {
        self.services = services
        self.sink = sink
        self.ingress = ingress
    }
}

/// A connector file as read from disk: its name, kind and the rest of its keys, with locations for errors.
public struct ConnectorFile: Sendable {
    /// The connector instance's name (`name:`), unique in the folder; used in topics, groups and metrics.
    public var name: String
    /// The `kind:` value.
    public var kind: String
    /// The file's path.
    public var path: String
    /// The file's top-level mapping.
    public var map: YAMLMapping

    /// The folder of the file: relative paths in settings (templates, programs) are taken from here.
    public var directory: String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return String(path[..<slash])
    }

    /// `relative` resolved against ``directory`` (absolute paths are kept).
    public func resolve(_ relative: String) -> String {
        relative.hasPrefix("/") ? relative : "\(directory)/\(relative)"
    }
}
