import CRMModel
import CRMYAML
import Foundation

extension ConnectorConfiguration {
    /// Where a Tryton connector connects: `url`, `database`, `user`, `password` (a secret reference, never inline),
    /// `timeout_ms`, `company` (an optional company id sent in the context).
    public struct TrytonConnectionSettings: Sendable {
        public var url: SecretValue
        public var database: String
        public var user: SecretValue
        public var password: SecretValue
        public var timeout: Duration
        public var company: Int?

        /// The endpoint with its secrets resolved now.
        public func endpoint(environment: [String: String] = ProcessInfo.processInfo.environment) throws(SecretError) -> TrytonEndpoint {
            var context: [(String, JSONValue)] = []
            if let company { context.append(("company", .number(String(company)))) }
            return TrytonEndpoint(
                url: try url.resolve(environment: environment), database: database, user: try user.resolve(environment: environment),
                password: try password.resolve(environment: environment), timeout: timeout, context: context)
        }
    }

    /// Settings of a `tryton-party-sink` connector (see ``TrytonPartySinkTarget``).
    public struct TrytonPartySinkSettings: Sendable {
        public var connection: TrytonConnectionSettings
        public var delivery: SinkService.Configuration
    }

    /// Settings of a `tryton-sale-source` connector (see ``TrytonSaleSource``).
    public struct TrytonSaleSourceSettings: Sendable {
        public var connection: TrytonConnectionSettings
        public var source: TrytonSaleSource.Settings
    }

    static let trytonConnectionKeys: Set<String> = ["name", "kind", "topic", "url", "database", "user", "password", "timeout_ms", "company"]

    static func trytonPartySink(_ map: YAMLMapping, name: String) throws(YAMLError) -> TrytonPartySinkSettings {
        try map.allowOnly(trytonConnectionKeys.union(sinkDeliveryKeys))
        let connection = try trytonConnection(map)
        let topic = try RouteConfiguration.topicName(map.require("topic"))
        return TrytonPartySinkSettings(connection: connection, delivery: try sinkDelivery(map, name: name, topic: topic))
    }

    static func trytonSaleSource(_ map: YAMLMapping, name: String) throws(YAMLError) -> TrytonSaleSourceSettings {
        try map.allowOnly(trytonConnectionKeys.union(["states", "poll_interval_ms", "batch_size"]))
        let connection = try trytonConnection(map)
        var source = TrytonSaleSource.Settings(name: name, topic: try RouteConfiguration.topicName(map.require("topic")))
        if let value = map.optional("states") {
            let allowed = ["draft", "quotation", "confirmed", "processing", "done", "cancelled"]
            source.states = try value.sequence().map { state throws(YAMLError) in try state.oneOf(allowed) }
            if source.states.isEmpty { throw value.error("states needs at least one sale state") }
        }
        if let value = map.optional("poll_interval_ms") { source.pollInterval = .milliseconds(try value.int(in: 100...86_400_000)) }
        if let value = map.optional("batch_size") { source.batchSize = try value.int(in: 1...10_000) }
        return TrytonSaleSourceSettings(connection: connection, source: source)
    }

    private static func trytonConnection(_ map: YAMLMapping) throws(YAMLError) -> TrytonConnectionSettings {
        let urlValue = try map.require("url")
        let url = SecretValue(parsing: try urlValue.nonEmptyString())
        if case .literal(let text) = url {
            guard let components = URLComponents(string: text), let scheme = components.scheme, ["http", "https"].contains(scheme),
                components.host != nil
            else {
                throw urlValue.error("'\(text)' is not an http(s) URL")
            }
            if components.user != nil || components.password != nil {
                throw urlValue.error("credentials may not be written in the URL; use user and password (${env:NAME} or ${file:PATH})")
            }
        }
        let database = try map.require("database").nonEmptyString()
        let user = SecretValue(parsing: try map.require("user").nonEmptyString())
        let passwordValue = try map.require("password")
        let password = SecretValue(parsing: try passwordValue.nonEmptyString())
        guard password.isReference else {
            throw passwordValue.error("the Tryton password is a credential: write it as ${env:NAME} or ${file:PATH}, never inline")
        }
        let timeout = Duration.milliseconds(try map.optional("timeout_ms")?.int(in: 100...600_000) ?? 15_000)
        let company = try map.optional("company")?.int(in: 1...Int(Int32.max))
        return TrytonConnectionSettings(url: url, database: database, user: user, password: password, timeout: timeout, company: company)
    }
}
