import CRMConnector
import CRMDelivery
import CRMModel
import CRMTransport
import CRMYAML
import Foundation

// CRMTryton: the Tryton ERP over JSON-RPC — a party sink keyed by the golden id (created once, updated on change)
// and sources of confirmed sales and changed parties whose checkpoints move only after Kafka's acknowledgement.

/// Where a Tryton connector connects (shared by both Tryton kinds).
public enum TrytonConnection {
    /// Where a Tryton connector connects: `url`, `database`, `user`, `password` (a secret reference, never inline),
    /// `timeout_ms`, `company` (an optional company id sent in the context).
    public struct Settings: Sendable {
        public var url: SecretValue
        public var database: String
        public var user: SecretValue
        public var password: SecretValue
        public var timeout: Duration
        public var company: Int?
        /// `allow_plaintext_credentials: true` lets the password go to an `http://` URL. Default false.
        public var allowPlaintextCredentials = false

        /// The endpoint, refused when it would send the password in plain text (`http://` without
        /// `allow_plaintext_credentials: true`).
        func checkedEndpoint(file: String) throws -> TrytonEndpoint {
            let endpoint = try endpoint()
            if let problem = PlaintextCredentialRule.problem(
                url: endpoint.url, credential: "the Tryton password", allowed: allowPlaintextCredentials)
            {
                throw TransportSecurityError(file: file, reason: problem)
            }
            return endpoint
        }

        /// The endpoint with its secrets resolved now.
        public func endpoint(
            environment: [String: String] = ProcessInfo.processInfo.environment
        ) throws(SecretError) -> TrytonEndpoint {
            var context: [(String, JSONValue)] = []
            if let company { context.append(("company", .number(String(company)))) }
            return TrytonEndpoint(
                url: try url.resolve(environment: environment), database: database,
                user: try user.resolve(environment: environment),
                password: try password.resolve(environment: environment), timeout: timeout, context: context)
        }
    }

    static let keys: Set<String> = [
        "topic", "url", "database", "user", "password", "timeout_ms", "company", PlaintextCredentialRule.key,
    ]

    static func settings(_ map: YAMLMapping) throws(YAMLError) -> Settings {
        let urlValue = try map.require("url")
        let url = try urlValue.secretValue()
        if case .literal(let text) = url {
            guard let components = URLComponents(string: text), let scheme = components.scheme,
                ["http", "https"].contains(scheme),
                components.host != nil
            else {
                throw urlValue.error("'\(text)' is not an http(s) URL")
            }
            if components.user != nil || components.password != nil {
                throw urlValue.error(
                    "credentials may not be written in the URL; use user and password (${env:NAME} or ${file:PATH})")
            }
        }
        let database = try map.require("database").nonEmptyString()
        let user = try map.require("user").secretValue()
        let passwordValue = try map.require("password")
        let password = SecretValue(parsing: try passwordValue.nonEmptyString())
        guard password.isReference else {
            throw passwordValue.error(
                "the Tryton password is a credential: write it as ${env:NAME} or ${file:PATH}, never inline")
        }
        let allowPlaintext = try PlaintextCredentialRule.check(
            map, url: url, urlValue: urlValue, credential: "the Tryton password")
        let timeout = Duration.milliseconds(try map.optional("timeout_ms")?.int(in: 100...600_000) ?? 15_000)
        let company = try map.optional("company")?.int(in: 1...Int(Int32.max))
        var settings = Settings(
            url: url, database: database, user: user, password: password, timeout: timeout, company: company)
        settings.allowPlaintextCredentials = allowPlaintext
        return settings
    }
}

/// `kind: tryton-party-sink`: creates or updates Tryton parties from a topic of `ERPParty` documents (see
/// ``TrytonPartySinkTarget``).
public enum TrytonPartySinkConnector: Connector {
    public struct Settings: Sendable {
        public var connection: TrytonConnection.Settings
        public var delivery: SinkService.Configuration
    }

    public static let kind = "tryton-party-sink"
    public static let keys = TrytonConnection.keys.union(SinkService.Configuration.keys)

    public static func settings(_ file: ConnectorFile) throws(YAMLError) -> Settings {
        let connection = try TrytonConnection.settings(file.map)
        let topic = try file.map.require("topic").topicName()
        return Settings(
            connection: connection, delivery: try SinkService.Configuration(file.map, name: file.name, topic: topic))
    }

    public static func topics(_ settings: Settings) -> [String] { settings.delivery.topics }

    public static func sinkDelivery(_ settings: Settings) -> SinkService.Configuration? { settings.delivery }

    public static func make(_ settings: Settings, in context: ConnectorContext) async throws -> ConnectorParts {
        let client = TrytonClient(
            endpoint: try settings.connection.checkedEndpoint(file: context.file), http: context.http,
            logger: context.logger)
        return ConnectorParts(sink: TrytonPartySinkTarget(client: client, logger: context.logger))
    }
}

/// `kind: tryton-sale-source`: polls Tryton for confirmed sale orders and produces them to a topic (see
/// ``TrytonSource`` and ``TrytonSourceModel/sales(states:)``).
public enum TrytonSaleSourceConnector: Connector {
    public typealias Settings = TrytonSourceSettings

    public static let kind = "tryton-sale-source"
    public static let keys = TrytonSourceSettings.keys.union(["states"])

    public static func settings(_ file: ConnectorFile) throws(YAMLError) -> Settings {
        var states = ["confirmed", "processing"]
        if let value = file.map.optional("states") {
            let allowed = ["draft", "quotation", "confirmed", "processing", "done", "cancelled"]
            states = try value.sequence().map { state throws(YAMLError) in try state.oneOf(allowed) }
            if states.isEmpty { throw value.error("states needs at least one sale state") }
        }
        return try TrytonSourceSettings(file, model: .sales(states: states))
    }

    public static func topics(_ settings: Settings) -> [String] { [settings.source.topic] }

    public static func make(_ settings: Settings, in context: ConnectorContext) async throws -> ConnectorParts {
        try settings.make(in: context)
    }
}

/// `kind: tryton-party-source`: polls Tryton for changed parties and produces them to a topic (map them with
/// Mappings/tryton-party.yaml, which marks them `origin: erp` so they are not sent back to Tryton).
public enum TrytonPartySourceConnector: Connector {
    public typealias Settings = TrytonSourceSettings

    public static let kind = "tryton-party-source"
    public static let keys = TrytonSourceSettings.keys

    public static func settings(_ file: ConnectorFile) throws(YAMLError) -> Settings {
        try TrytonSourceSettings(file, model: .parties)
    }

    public static func topics(_ settings: Settings) -> [String] { [settings.source.topic] }

    public static func make(_ settings: Settings, in context: ConnectorContext) async throws -> ConnectorParts {
        try settings.make(in: context)
    }
}

/// The settings of a Tryton source connector: the connection, the topic, `poll_interval_ms` and `batch_size`.
public struct TrytonSourceSettings: Sendable {
    public var connection: TrytonConnection.Settings
    public var source: TrytonSource.Settings

    static let keys = TrytonConnection.keys.union(["poll_interval_ms", "batch_size"])

    init(_ file: ConnectorFile, model: TrytonSourceModel) throws(YAMLError) {
        let map = file.map
        connection = try TrytonConnection.settings(map)
        source = TrytonSource.Settings(name: file.name, topic: try map.require("topic").topicName(), model: model)
        if let value = map.optional("poll_interval_ms") {
            source.pollInterval = .milliseconds(try value.int(in: 100...86_400_000))
        }
        if let value = map.optional("batch_size") { source.batchSize = try value.int(in: 1...10_000) }
    }

    func make(in context: ConnectorContext) throws -> ConnectorParts {
        let client = TrytonClient(
            endpoint: try connection.checkedEndpoint(file: context.file), http: context.http, logger: context.logger)
        let store = try SourceCheckpointStore(database: try context.stateFiles.database("sources.sqlite"))
        let service = TrytonSource(
            settings: source, client: client, emitter: context.emitter(), store: store, logger: context.logger)
        return ConnectorParts(services: [service])
    }
}
