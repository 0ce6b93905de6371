import CRMDelivery
import CRMYAML
import Foundation

/// One connector instance read through its kind: what the runtime and `crmhub validate` need to know about it,
/// and how to build it. Its settings stay typed behind ``settings(as:)``.
public struct ConfiguredConnector: Sendable {
    public let name: String
    public let kind: String
    public let file: String
    /// Topics the connector reads or writes (see ``Connector/topics(_:)``).
    public let topics: [String]
    /// Paths it serves on the ingress server.
    public let ingressPaths: [String]
    /// Delivery settings when it is a sink.
    public let sinkDelivery: SinkService.Configuration?
    /// Mappings it applies.
    public let mappings: [String]
    /// Its `auth:` setting for the paths it serves; nil when the file has none (the endpoints keep their own).
    public let ingressAuth: IngressAuthSettings?
    private let settings: any Sendable
    private let build: @Sendable (ConnectorContext) async throws -> ConnectorParts

    init<Kind: Connector>(
        _ kind: Kind.Type, file: ConnectorFile, settings: Kind.Settings, ingressAuth: IngressAuthSettings?
    ) {
        name = file.name
        self.kind = file.kind
        self.file = file.path
        topics = Kind.topics(settings)
        ingressPaths = Kind.ingressPaths(settings)
        sinkDelivery = Kind.sinkDelivery(settings)
        mappings = Kind.mappings(settings)
        self.ingressAuth = ingressAuth
        self.settings = settings
        build = { context in try await Kind.make(settings, in: context) }
    }

    /// The typed settings, when the connector is of the kind whose settings are `S`.
    public func settings<S>(as type: S.Type) -> S? { settings as? S }

    /// Builds the connector's parts in `context`.
    public func make(in context: ConnectorContext) async throws -> ConnectorParts { try await build(context) }
}

/// The connector kinds a hub knows, by `kind:` value. The hub's composition root lists them; connector modules
/// never know about each other.
public struct ConnectorRegistry: Sendable {
    private let kinds: [String: any Connector.Type]

    public init(_ kinds: [any Connector.Type]) {
        var byName: [String: any Connector.Type] = [:]
        for kind in kinds { byName[kind.kind] = kind }
        self.kinds = byName
    }

    /// The known `kind:` values, sorted.
    public var kindNames: [String] { kinds.keys.sorted() }

    /// Reads one connector file.
    public func load(path: String) throws(YAMLError) -> ConfiguredConnector {
        let root = try YAMLDocument.load(path: path)
        let map = try root.mapping()
        let nameValue = try map.require("name")
        let name = try nameValue.nonEmptyString()
        guard name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" || $0 == ".") })
        else {
            throw nameValue.error("connector names may use letters, digits, '-', '_' and '.' only")
        }
        let kindName = try map.require("kind").oneOf(kindNames)
        guard let kind = kinds[kindName] else { throw try map.require("kind").error("unknown kind '\(kindName)'") }
        try map.allowOnly(kind.keys.union(["name", "kind", "auth"]))
        return try Self.configure(kind, ConnectorFile(name: name, kind: kindName, path: path, map: map))
    }

    /// Reads the kind's settings, then `auth:`, which every kind serving ingress paths takes: refused on a
    /// connector that serves none, required (a secret, or an explicit `auth: none`) where the kind says so.
    private static func configure<Kind: Connector>(
        _ kind: Kind.Type, _ file: ConnectorFile
    ) throws(YAMLError) -> ConfiguredConnector {
        let settings = try Kind.settings(file)
        let authValue = file.map.optional("auth")
        let auth = try authValue.map { value throws(YAMLError) in try IngressAuthSettings(value) }
        if let authValue, Kind.ingressPaths(settings).isEmpty {
            throw authValue.error("auth applies to connectors that serve ingress paths; \(file.kind) serves none here")
        }
        if auth == nil, Kind.requiresIngressAuth(settings) {
            let top = SourceLocation(file: file.path, line: 1, column: 1)
            throw YAMLError(
                "\(file.kind) serving \(Kind.ingressPaths(settings).joined(separator: ", ")) needs auth: (scheme bearer or "
                    + "hmac-sha256 with a ${env:}/${file:} secret), or auth: none to accept unauthenticated posts",
                at: top)
        }
        return ConfiguredConnector(kind, file: file, settings: settings, ingressAuth: auth)
    }

    /// Reads every `*.yaml` file in `directory` (sorted by name), collecting each file's problems with locations;
    /// names and ingress paths must be unique across the folder.
    public func loadAll(directory: String, problems: inout ProblemCollector) -> [ConfiguredConnector] {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory) else { return [] }
        var connectors: [ConfiguredConnector] = []
        var seen: [String: String] = [:]
        var ingressPaths: [String: String] = [:]
        for name in names.sorted() where name.hasSuffix(".yaml") || name.hasSuffix(".yml") {
            let path = URL(fileURLWithPath: directory).appendingPathComponent(name).path
            guard let connector = problems.collect({ () throws(YAMLError) in try load(path: path) }) else { continue }
            let top = SourceLocation(file: path, line: 1, column: 1)
            if let first = seen[connector.name] {
                problems.add(YAMLError("connector name '\(connector.name)' is also used by \(first)", at: top))
                continue
            }
            if let clash = connector.ingressPaths.first(where: { ingressPaths[$0] != nil }) {
                problems.add(
                    YAMLError("ingress path '\(clash)' is also served by \(ingressPaths[clash] ?? "-")", at: top))
                continue
            }
            for ingressPath in connector.ingressPaths { ingressPaths[ingressPath] = path }
            seen[connector.name] = path
            connectors.append(connector)
        }
        return connectors
    }
}
