import CRMConnector
import CRMDelivery
import CRMYAML
import Foundation

/// `kind: stripe-customer-sink`: keeps one billing customer per golden customer in Stripe (or a Stripe-compatible
/// API) from a topic of resolved Customers (see ``StripeCustomerSinkTarget``).
///
/// ```yaml
/// name: billing-customers
/// kind: stripe-customer-sink
/// topic: crm.customer              # resolved customers (goldenId set by a resolve: true route)
/// url: https://api.stripe.com      # the default
/// api_key: ${env:STRIPE_API_KEY}   # or ${file:PATH}; never inline
/// link_topic: raw.customer         # optional: the resolving route's input, so billing events get the golden id
/// timeout_ms: 15000
/// retry: {in_place_attempts: 3, topics: [30s, 5m]}
/// ```
public enum StripeCustomerSinkConnector: Connector {
    /// Settings of a `stripe-customer-sink` connector.
    public struct Settings: Sendable {
        /// The API's base URL. Default `https://api.stripe.com`.
        public var url: String
        /// The secret API key, as a reference (`${env:...}`/`${file:...}`), resolved when the hub starts.
        public var apiKey: SecretValue
        /// Where link Customers (`externalIds.stripe`, `origin: billing`) go; nil: none.
        public var linkTopic: String?
        /// Per-request timeout. Default 15 s.
        public var timeout: Duration
        public var delivery: SinkService.Configuration
        /// `allow_plaintext_credentials: true` lets the API key go to an `http://` URL (a local test double).
        /// Default false.
        public var allowPlaintextCredentials = false
    }

    public static let kind = "stripe-customer-sink"
    public static let keys = Set([
        "topic", "url", "api_key", "link_topic", "timeout_ms", PlaintextCredentialRule.key,
    ]).union(
        SinkService.Configuration.keys)

    public static func settings(_ file: ConnectorFile) throws(YAMLError) -> Settings {
        let map = file.map
        let topic = try map.require("topic").topicName()
        var url = "https://api.stripe.com"
        if let value = map.optional("url") {
            let text = try value.nonEmptyString()
            guard let components = URLComponents(string: text), let scheme = components.scheme,
                ["http", "https"].contains(scheme), components.host != nil
            else {
                throw value.error("'\(text)' is not an http(s) URL")
            }
            if components.user != nil || components.password != nil {
                throw value.error(
                    "credentials may not be written in the URL; use api_key (${env:NAME} or ${file:PATH})")
            }
            if components.query != nil || !["", "/"].contains(components.path) {
                throw value.error("url is the API's base URL (https://api.stripe.com), without a path or query")
            }
            url = text
        }
        let apiKey = try map.require("api_key").secretReference("the billing API key")
        var allowPlaintext = false
        if let value = map.optional("url") {
            allowPlaintext = try PlaintextCredentialRule.check(
                map, url: .literal(url), urlValue: value, credential: "the API key")
        }
        let linkTopic = try map.optional("link_topic")?.topicName()
        let timeout = Duration.milliseconds(try map.optional("timeout_ms")?.int(in: 100...600_000) ?? 15_000)
        let delivery = try SinkService.Configuration(map, name: file.name, topic: topic)
        if let linkTopic, linkTopic == topic, let value = map.optional("link_topic") {
            throw value.error("link_topic must not be the sink's own topic: link Customers are resolved first")
        }
        var settings = Settings(
            url: url, apiKey: apiKey, linkTopic: linkTopic, timeout: timeout, delivery: delivery)
        settings.allowPlaintextCredentials = allowPlaintext
        return settings
    }

    public static func topics(_ settings: Settings) -> [String] {
        settings.delivery.topics + (settings.linkTopic.map { [$0] } ?? [])
    }

    public static func sinkDelivery(_ settings: Settings) -> SinkService.Configuration? { settings.delivery }

    public static func make(_ settings: Settings, in context: ConnectorContext) async throws -> ConnectorParts {
        let client = StripeCustomerClient(
            baseURL: settings.url, apiKey: try settings.apiKey.resolve(), timeout: settings.timeout,
            http: context.http)
        let store = try BillingLinkStore(database: try context.stateFiles.database("billing.sqlite"))
        let target = StripeCustomerSinkTarget(
            name: context.name, client: client, store: store,
            linkEmitter: settings.linkTopic == nil ? nil : context.emitter(), linkTopic: settings.linkTopic,
            logger: context.logger)
        return ConnectorParts(sink: target)
    }
}
