import CRMYAML
import Foundation

/// One connector instance: a YAML file in the connectors folder (`Connectors/erp-party.yaml`).
///
/// Secrets are never written inline: a value may be `${env:NAME}` (an environment variable) or `${file:PATH}` (a
/// file's contents, trimmed); header values that look like credentials (`Authorization`, `*token*`, `*key*`,
/// `*secret*`) must be such references, and URLs may not carry user info.
public struct ConnectorConfiguration: Sendable {
    public var name: String
    public var file: String
    public var kind: Kind

    public enum Kind: Sendable {
        /// Delivers a topic to a REST endpoint (see ``HTTPSinkTarget``).
        case httpSink(HTTPSinkSettings)
        /// Accepts web-form posts on the ingress server and produces each to a topic.
        case webForm(WebFormSettings)
        /// Accepts signed billing webhooks (Stripe-style) on the ingress server and produces each event to a topic.
        case stripeWebhook(StripeWebhookSettings)
        /// Runs a child program that speaks JSON lines (see ``ConnectorProcess``), as a sink or a source.
        case process(ProcessSettings)
        /// Reads call events from Kamailio (`cti-kamailio`: its evapi socket, or posted by its http_client) or Asterisk
        /// AMI (`cti-ami`); publishes screen-pops and Interactions (module CRMTelephony).
        case cti(CTISettings)
        /// Creates or updates Tryton parties from a topic of `ERPParty` documents (see ``TrytonPartySinkTarget``).
        case trytonPartySink(TrytonPartySinkSettings)
        /// Polls Tryton for confirmed sale orders and produces them to a topic (see ``TrytonSaleSource``).
        case trytonSaleSource(TrytonSaleSourceSettings)
        /// Sends each message of a topic as an e-mail rendered from templates (see ``SMTPSinkTarget``).
        case smtpSink(SMTPSinkSettings)
        /// Polls an IMAP mailbox and produces each new mail, mapped (e.g. to a Ticket), to a topic (module CRMMail).
        case imapSource(IMAPSourceSettings)
    }
}

extension ConnectorConfiguration {
    /// Reads every `*.yaml` file in `directory` (sorted by name), collecting each file's problems with locations.
    static func loadAll(directory: String, problems: inout ProblemCollector) -> [ConnectorConfiguration] {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory) else { return [] }
        var connectors: [ConnectorConfiguration] = []
        var seen: [String: String] = [:]
        var ingressPaths: [String: String] = [:]
        for name in names.sorted() where name.hasSuffix(".yaml") || name.hasSuffix(".yml") {
            let path = URL(fileURLWithPath: directory).appendingPathComponent(name).path
            guard let connector = problems.collect({ () throws(YAMLError) in try ConnectorConfiguration(path: path) }) else { continue }
            if let first = seen[connector.name] {
                problems.add(YAMLError("connector name '\(connector.name)' is also used by \(first)", at: .init(file: path, line: 1, column: 1)))
                continue
            }
            if let ingressPath = connector.kind.ingressPath {
                if let first = ingressPaths[ingressPath] {
                    problems.add(YAMLError("ingress path '\(ingressPath)' is also served by \(first)", at: .init(file: path, line: 1, column: 1)))
                    continue
                }
                ingressPaths[ingressPath] = path
            }
            seen[connector.name] = path
            connectors.append(connector)
        }
        return connectors
    }

    init(path: String) throws(YAMLError) {
        let root = try YAMLDocument.load(path: path)
        let map = try root.mapping()
        file = path
        name = try map.require("name").nonEmptyString()
        guard name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" || $0 == ".") }) else {
            throw try map.require("name").error("connector names may use letters, digits, '-', '_' and '.' only")
        }
        let kindValue = try map.require("kind")
        let kinds = [
            "http-sink", "webform", "stripe-webhook", "process", "cti-kamailio", "cti-ami", "tryton-party-sink", "tryton-sale-source",
            "smtp-sink", "imap-source",
        ]
        switch try kindValue.oneOf(kinds) {
        case "process":
            try map.allowOnly(Set(["name", "kind", "role", "command", "topic", "settings", "timeout_ms"]).union(Self.sinkDeliveryKeys))
            kind = .process(try Self.process(map, name: name, file: path))
        case "stripe-webhook":
            try map.allowOnly(["name", "kind", "path", "topic", "secrets", "tolerance_seconds", "events", "max_body_bytes", "ack_timeout_ms"])
            kind = .stripeWebhook(try Self.stripeWebhook(map))
        case "cti-kamailio", "cti-ami":
            kind = .cti(try Self.cti(map, ami: try kindValue.string() == "cti-ami"))
        case "tryton-party-sink":
            kind = .trytonPartySink(try Self.trytonPartySink(map, name: name))
        case "tryton-sale-source":
            kind = .trytonSaleSource(try Self.trytonSaleSource(map, name: name))
        case "smtp-sink":
            try map.allowOnly(Self.mailServerKeys.union([
                "topic", "from", "to", "cc", "in_reply_to", "headers", "template", "templates_dir", "message_id_domain",
            ]).union(Self.sinkDeliveryKeys))
            kind = .smtpSink(try Self.smtpSink(map, name: name, file: path))
        case "imap-source":
            try map.allowOnly(Self.mailServerKeys.union(["mailbox", "topic", "mapping", "poll_interval_ms", "keyword", "dead_letter_topic", "max_message_bytes", "max_in_flight"]))
            kind = .imapSource(try Self.imapSource(map, name: name))
        case "webform":
            try map.allowOnly(["name", "kind", "path", "topic", "key_field", "required", "honeypot_field", "max_body_bytes", "max_attachment_bytes", "ack_timeout_ms"])
            kind = .webForm(try Self.webForm(map))
        default:
            let keys: Set<String> = ["name", "kind", "topic", "url", "method", "headers", "body", "success_codes", "timeout_ms"]
            try map.allowOnly(keys.union(Self.sinkDeliveryKeys))
            kind = .httpSink(try Self.httpSink(map, name: name))
        }
    }

    /// The keys every sink kind takes for its delivery: `max_in_flight`, `dead_letter_topic`, `retry`, `when`.
    static let sinkDeliveryKeys: Set<String> = ["max_in_flight", "dead_letter_topic", "retry", "when"]

    /// A sink's delivery settings from its ``sinkDeliveryKeys``.
    static func sinkDelivery(_ map: YAMLMapping, name: String, topic: String) throws(YAMLError) -> SinkService.Configuration {
        var delivery = SinkService.Configuration(name: name, topic: topic)
        if let value = map.optional("max_in_flight") { delivery.maxInFlight = try value.int(in: 1...10_000) }
        if let value = map.optional("dead_letter_topic") { delivery.deadLetterTopic = try value.topicName() }
        if let value = map.optional("retry") { delivery.retry = try retryPolicy(value) }
        if let value = map.optional("when") { delivery.when = try SinkCondition(compiling: value) }
        return delivery
    }

    static func retryPolicy(_ value: YAMLValue) throws(YAMLError) -> RetryPolicy {
        let map = try value.mapping()
        try map.allowOnly(["in_place_attempts", "initial_backoff_ms", "max_backoff_ms", "jitter", "topics"])
        var policy = RetryPolicy()
        if let value = map.optional("in_place_attempts") { policy.inPlaceAttempts = try value.int(in: 1...100) }
        if let value = map.optional("initial_backoff_ms") { policy.initialBackoff = .milliseconds(try value.int(in: 1...600_000)) }
        if let value = map.optional("max_backoff_ms") { policy.maxBackoff = .milliseconds(try value.int(in: 1...3_600_000)) }
        if let value = map.optional("jitter") {
            let jitter = try value.double()
            guard (0...1).contains(jitter) else { throw value.error("jitter is a fraction between 0 and 1") }
            policy.jitter = jitter
        }
        if let value = map.optional("topics") {
            policy.retryTopicDelays = []
            for delay in try value.sequence() { policy.retryTopicDelays.append(try parseDelay(delay)) }
        }
        return policy
    }

    /// `500ms`, `30s`, `10m`, `1h`.
    public static func parseDelay(_ value: YAMLValue) throws(YAMLError) -> Duration {
        let text = try value.nonEmptyString()
        let units: [(String, Int64)] = [("ms", 1), ("s", 1_000), ("m", 60_000), ("h", 3_600_000)]
        for (unit, factor) in units where text.hasSuffix(unit) {
            if let number = Int64(text.dropLast(unit.count)), number > 0 { return .milliseconds(number * factor) }
        }
        throw value.error("'\(text)' is not a delay such as 500ms, 30s, 10m or 1h")
    }
}

extension ConnectorConfiguration.Kind {
    /// Topics the connector reads or writes, its retry and dead-letter topics included.
    public var topics: [String] {
        switch self {
        case .httpSink(let settings): settings.delivery.topics
        case .webForm(let settings): [settings.topic]
        case .stripeWebhook(let settings): [settings.topic]
        case .process(let settings): settings.delivery?.topics ?? [settings.topic]
        case .cti(let settings): [settings.interactionTopic, settings.screenPopTopic] + (settings.ticketsTopic.map { [$0] } ?? [])
        case .trytonPartySink(let settings): settings.delivery.topics
        case .trytonSaleSource(let settings): [settings.source.topic]
        case .smtpSink(let settings): settings.delivery.topics
        case .imapSource(let settings): [settings.topic] + (settings.deadLetterTopic.map { [$0] } ?? [])
        }
    }

    /// The path the connector serves on the ingress server (forms, webhooks, CTI events posted by Kamailio); `nil` for
    /// connectors that do not receive over HTTP.
    public var ingressPath: String? {
        switch self {
        case .webForm(let settings): settings.path
        case .stripeWebhook(let settings): settings.path
        case .cti(let settings):
            if case .kamailioHTTP(let path) = settings.source { path } else { nil }
        case .httpSink, .process, .trytonPartySink, .trytonSaleSource, .smtpSink, .imapSource: nil
        }
    }

    /// The delivery settings of a sink connector (retries, dead letters); `nil` for sources.
    public var sinkDelivery: SinkService.Configuration? {
        switch self {
        case .httpSink(let settings): settings.delivery
        case .process(let settings): settings.delivery
        case .trytonPartySink(let settings): settings.delivery
        case .smtpSink(let settings): settings.delivery
        case .webForm, .stripeWebhook, .cti, .trytonSaleSource, .imapSource: nil
        }
    }
}
