// CRMHub: the daemon's composition root. It reads the top configuration file (and through the connector registry
// every connector file), checks it against the broker, and builds every service — producer, routes, sinks, sources,
// ingress and admin servers, batch scheduler, workflow rules — into one ServiceGroup. Nothing below imports it.

import CRMConnector
import CRMDelivery
import CRMIngress
import CRMKafka
import CRMMasterData
import CRMMasterDataPostgres
import CRMRedaction
import CRMYAML
import Foundation

/// The daemon's configuration, read from one YAML file (see `deploy/demo/crmhub.yaml` for an annotated example).
/// Relative paths are resolved against the directory of that file.
public struct HubConfiguration: Sendable {
    public var file: String
    public var kafka: KafkaSettings
    public var http: HTTPSettings
    /// The ingress server for web-form connectors (public side; the admin server stays private). Default
    /// 127.0.0.1:8090, bounded by ``IngressServer/Limits``' defaults.
    public var ingress: IngressSettings
    public var store: StoreSettings
    /// Folder of connector instance files (`*.yaml`).
    public var connectorsDirectory: String
    /// Folder of mapping files (`*.yaml`).
    public var mappingsDirectory: String
    public var routes: [RouteConfiguration]
    /// The connector instances found in ``connectorsDirectory``.
    public var connectors: [ConfiguredConnector]
    /// Folder for the hub's own state (sinks' dedup window and parked keys). Default `data`.
    public var stateDirectory: String
    /// Folder of batch job files (`*.yaml`, see CRMBatch). Default `Batch`.
    public var batchDirectory: String = "Batch"
    /// Folder of workflow rule files (`*.yaml`: escalation and lead-assignment rules, see CRMWorkflow). Default `Rules`.
    public var rulesDirectory: String = "Rules"
    /// How long a graceful shutdown may take before in-flight work is cancelled. Default 30 s.
    public var shutdownTimeoutSeconds: Int
    public var log: LogSettings

    /// Kafka connection settings.
    public struct KafkaSettings: Sendable {
        public var brokers: [String]
        /// `client.id`. Default `crmhub`.
        public var clientID: String = "crmhub"
        /// Prefix of every route's consumer group (`<prefix>.<route>`). Default `crmhub`.
        public var groupPrefix: String = "crmhub"
        /// Default 45000 (librdkafka's). Use 2000 against Tansu in tests.
        public var sessionTimeoutMilliseconds: Int = 45_000
        /// Default 3000.
        public var heartbeatIntervalMilliseconds: Int = 3_000
        /// librdkafka statistics (consumer lag, broker RTT) every N ms; 0 = off. Default 5000.
        public var statisticsIntervalMilliseconds: Int = 5_000
        /// Create missing route topics at start. Default true.
        public var createTopics: Bool = true
        /// Partitions of topics the hub creates. Default 3.
        public var topicPartitions: Int = 3
        /// How long to wait for the broker at start before failing. Default 15 s.
        public var connectTimeoutSeconds: Int = 15
        /// TLS and SASL for every client the hub makes (`kafka.security`). Default plaintext. Secrets are read from
        /// their `${env:NAME}` / `${file:PATH}` references when each client is created.
        public var security = KafkaSecurity()
        /// Extra librdkafka properties for every client (`kafka.properties`). Values may be `${env:NAME}` or
        /// `${file:PATH}`; properties that carry credentials (names with `password` or `secret`, `ssl.key.pem`) must be.
        public var properties: [String: SecretValue] = [:]
    }

    /// Admin HTTP server settings.
    public struct HTTPSettings: Sendable {
        /// Default 127.0.0.1.
        public var host: String = "127.0.0.1"
        /// Default 8080.
        public var port: Int = 8080
        /// The bearer token `/mdm/...` (personal data) requires, as `${env:NAME}` or `${file:PATH}`. Without it those
        /// endpoints are not served at all. Default none.
        public var token: SecretValue?
        /// When set, `/healthz`, `/readyz` and `/metrics` are served on this port (same host, no token) and no longer
        /// on ``port``. Default none: they stay on ``port``, unauthenticated.
        public var metricsPort: Int?
    }

    /// Ingress (public) HTTP server settings.
    public struct IngressSettings: Sendable {
        /// Default 127.0.0.1.
        public var host: String = "127.0.0.1"
        /// Default 8090.
        public var port: Int = 8090
        /// Timeouts, connection and concurrency limits, header caps (see ``IngressServer/Limits`` for defaults).
        public var limits = IngressServer.Limits()
        /// `linger.ms` of the producer the ingress endpoints produce through (`linger_ms`). Each reply waits for
        /// Kafka's acknowledgement, so this producer waits only 2 ms to fill a batch (the shared producer of routes and
        /// sinks waits 5). Less sends more, smaller requests, which costs more CPU per message and, under load, more
        /// latency (docs/performance.md, "Ingress linger 2 ms"). Default 2.
        public var lingerMilliseconds: Int = 2
    }

    /// Master-data store settings.
    public struct StoreSettings: Sendable {
        public enum Kind: String, Sendable { case sqlite, postgres }
        /// Default sqlite.
        public var kind: Kind = .sqlite
        /// SQLite file path (kind sqlite) or connection URL (kind postgres; may be `${env:NAME}` or `${file:PATH}`, as
        /// it carries a password). Default `data/crmhub.sqlite`.
        public var location: String
        /// Where golden-record change events (created, updated, merged, unmerged) are produced.
        /// Default `crm.golden.customer`.
        public var eventsTopic: String = "crm.golden.customer"
        /// Topics whose messages become contact-history entries (or consent statements) on the golden customer they
        /// are about (`history_topics: {crm.order: order, crm.consent: consent}`). Default none.
        public var historyTopics: [String: HistoryTopicKind] = [:]
        /// PostgreSQL TLS (`tls: {mode, ca_file}`; kind postgres): `mode` is `verify-full` (default), `verify-ca`,
        /// `require` or `disable`; `ca_file` the PEM bundle of trusted CAs (default: the system's). Either may also
        /// be given in the URL as `sslmode`/`sslrootcert`; a setting given in both places must agree.
        public var tlsMode: PostgresMasterDataStore.Configuration.TLSMode?
        public var caFile: String?

        /// The PostgreSQL client configuration for the resolved URL, with `tls:` applied.
        public func postgresConfiguration(url: String) throws(MasterDataError) -> PostgresMasterDataStore.Configuration
        {
            var configuration = try PostgresMasterDataStore.Configuration(url: url)
            let query = URLComponents(string: url)?.queryItems ?? []
            if let tlsMode {
                if query.contains(where: { $0.name == "sslmode" }), configuration.tls != tlsMode {
                    throw MasterDataError(
                        .configuration,
                        "store.tls.mode \(tlsMode.rawValue) contradicts the URL's sslmode \(configuration.tls.rawValue)"
                    )
                }
                configuration.tls = tlsMode
            }
            if let caFile {
                if let root = query.first(where: { $0.name == "sslrootcert" })?.value, root != caFile {
                    throw MasterDataError(
                        .configuration, "store.tls.ca_file \(caFile) contradicts the URL's sslrootcert \(root)")
                }
                configuration.caFile = caFile
            }
            if configuration.tls == .disable, configuration.caFile != nil {
                throw MasterDataError(.configuration, "a CA file is set but TLS is disabled (sslmode disable)")
            }
            return configuration
        }
        /// The compacted, customer-keyed topics that get tombstones when a person is erased, and their key kinds
        /// (`erasure: {tombstone_topics: [crm.customer], keys: [golden_id, record]}`). Default: no topics (the events
        /// topic always gets the golden id's tombstone), keys `golden_id` and `record`.
        public var erasure = ErasureTombstones()
    }

    /// Logging settings.
    public struct LogSettings: Sendable {
        public enum Format: String, Sendable { case json, text }
        /// Default info.
        public var level: String = "info"
        /// Default json.
        public var format: Format = .json
        /// `log.redaction_key`: the key of the redaction fingerprints, usually `${file:PATH}` or `${env:NAME}`.
        /// Default nil: a key generated on first start and kept in `state_dir/redaction.key`.
        public var redactionKey: SecretValue?
    }
}

/// Every problem found in a configuration file, each with its location.
public struct ConfigurationError: Error, Sendable, CustomStringConvertible {
    public var problems: [YAMLError]

    public init(_ problems: [YAMLError]) { self.problems = problems }

    public var description: String {
        problems.map(\.description).joined(separator: "\n")
    }
}

extension HubConfiguration {
    /// Reads and validates the configuration at `path`. Collects every problem it can before throwing.
    public static func load(path: String) throws(ConfigurationError) -> HubConfiguration {
        let root: YAMLValue
        do {
            root = try YAMLDocument.load(path: path)
        } catch {
            throw ConfigurationError([error])
        }
        var problems = ProblemCollector()
        do {
            let configuration = try HubConfiguration(root: root, path: path, problems: &problems)
            if problems.problems.isEmpty { return configuration }
        } catch {
            problems.add(error)
        }
        throw ConfigurationError(problems.problems)
    }

    private static let topLevelKeys: Set<String> = [
        "kafka", "http", "store", "connectors", "mappings", "routes", "shutdown_timeout_seconds", "log", "state_dir",
        "ingress", "batch",
        "rules",
    ]

    init(root: YAMLValue, path: String, problems: inout ProblemCollector) throws(YAMLError) {
        let top = try root.mapping()
        try top.allowOnly(Self.topLevelKeys)
        let baseDirectory = URL(fileURLWithPath: path).deletingLastPathComponent().path
        func resolve(_ relative: String) -> String {
            relative.hasPrefix("/")
                ? relative : URL(fileURLWithPath: baseDirectory).appendingPathComponent(relative).standardized.path
        }

        self.file = path
        self.kafka = try KafkaSettings(top.require("kafka"), resolve: resolve)
        self.http =
            try top.optional("http").map { value throws(YAMLError) in try HTTPSettings(value) } ?? HTTPSettings()
        self.ingress =
            try top.optional("ingress").map { value throws(YAMLError) in try IngressSettings(value) }
            ?? IngressSettings()
        self.store =
            try top.optional("store").map { value throws(YAMLError) in try StoreSettings(value, resolve: resolve) }
            ?? StoreSettings(location: resolve("data/crmhub.sqlite"))
        self.connectorsDirectory = resolve(try top.optional("connectors")?.nonEmptyString() ?? "Connectors")
        self.mappingsDirectory = resolve(try top.optional("mappings")?.nonEmptyString() ?? "Mappings")
        self.shutdownTimeoutSeconds = try top.optional("shutdown_timeout_seconds")?.int(in: 1...3_600) ?? 30
        self.log = try top.optional("log").map { value throws(YAMLError) in try LogSettings(value) } ?? LogSettings()

        var routes: [RouteConfiguration] = []
        var names: [String: SourceLocation] = [:]
        for value in try top.require("routes").sequence() {
            guard let route = problems.collect({ () throws(YAMLError) in try RouteConfiguration(value) }) else {
                continue
            }
            if let first = names[route.name] {
                problems.add(value.error("duplicate route name '\(route.name)' (first declared at \(first))"))
                continue
            }
            names[route.name] = route.location
            routes.append(route)
        }
        self.routes = routes
        self.stateDirectory = resolve(try top.optional("state_dir")?.nonEmptyString() ?? "data")
        self.batchDirectory = resolve(try top.optional("batch")?.nonEmptyString() ?? "Batch")
        self.rulesDirectory = resolve(try top.optional("rules")?.nonEmptyString() ?? "Rules")
        self.connectors = ConnectorRegistry.standard.loadAll(directory: connectorsDirectory, problems: &problems)
    }
}

extension HubConfiguration.KafkaSettings {
    init(_ value: YAMLValue, resolve: (String) -> String) throws(YAMLError) {
        let map = try value.mapping()
        try map.allowOnly([
            "brokers", "client_id", "group_prefix", "session_timeout_ms", "heartbeat_interval_ms",
            "statistics_interval_ms", "create_topics", "topic_partitions", "connect_timeout_seconds", "properties",
            "security",
        ])
        let brokersValue = try map.require("brokers")
        let brokers: [String]
        if case .sequence = brokersValue.node {
            brokers = try brokersValue.sequence().map { item throws(YAMLError) in try item.nonEmptyString() }
        } else {
            brokers = try brokersValue.nonEmptyString().split(separator: ",").map {
                $0.trimmingCharacters(in: .whitespaces)
            }
        }
        guard !brokers.isEmpty else { throw brokersValue.error("at least one broker is needed") }
        for broker in brokers {
            let parts = broker.split(separator: ":")
            guard parts.count == 2, let port = Int(parts[1]), (1...65_535).contains(port), !parts[0].isEmpty else {
                throw brokersValue.error("'\(broker)' is not host:port with a port in 1...65535")
            }
        }
        self.brokers = brokers
        if let value = map.optional("client_id") { clientID = try value.nonEmptyString() }
        if let value = map.optional("group_prefix") { groupPrefix = try value.nonEmptyString() }
        if let value = map.optional("session_timeout_ms") {
            sessionTimeoutMilliseconds = try value.int(in: 1_000...3_600_000)
        }
        if let value = map.optional("heartbeat_interval_ms") {
            heartbeatIntervalMilliseconds = try value.int(in: 100...3_600_000)
        }
        if let value = map.optional("statistics_interval_ms") {
            statisticsIntervalMilliseconds = try value.int(in: 0...86_400_000)
        }
        if let value = map.optional("create_topics") { createTopics = try value.bool() }
        if let value = map.optional("topic_partitions") { topicPartitions = try value.int(in: 1...10_000) }
        if let value = map.optional("connect_timeout_seconds") { connectTimeoutSeconds = try value.int(in: 1...600) }
        if let value = map.optional("security") { security = try KafkaSecurity(value, resolve: resolve) }
        if let value = map.optional("properties") {
            for entry in try value.mapping().entries {
                let name = entry.key
                if map.optional("security") != nil, KafkaSecurity.settingNames.contains(name) {
                    throw entry.value.error("\(name) is set by kafka.security; set it there only")
                }
                properties[name] =
                    Self.isCredential(name)
                    ? try entry.value.secretReference("kafka property \(name)")
                    : SecretValue(parsing: try entry.value.string())
            }
        }
        if heartbeatIntervalMilliseconds >= sessionTimeoutMilliseconds {
            throw value.error("heartbeat_interval_ms must be lower than session_timeout_ms")
        }
    }

    /// True for librdkafka properties whose values are credentials: they must be `${env:}` / `${file:}` references.
    static func isCredential(_ name: String) -> Bool {
        name.contains("password") || name.contains("secret") || name == "ssl.key.pem"
            || name == "sasl.oauthbearer.config"
    }
}

extension KafkaSecurity {
    /// The librdkafka properties `kafka.security` controls; `kafka.properties` may not set them as well.
    static let settingNames: Set<String> = [
        "security.protocol", "ssl.ca.location", "ssl.certificate.location", "ssl.key.location", "ssl.key.password",
        "sasl.mechanisms", "sasl.mechanism", "sasl.username", "sasl.password",
    ]

    /// Reads `kafka.security`: `protocol`, `tls` (`ca_file`, `certificate_file`, `key_file`, `key_password`) and
    /// `sasl` (`mechanism`, `username`, `password`). Passwords must be `${env:NAME}` / `${file:PATH}` references;
    /// contradictions (SASL settings without a `sasl_*` protocol, a certificate without its key...) are refused.
    init(_ value: YAMLValue, resolve: (String) -> String) throws(YAMLError) {
        let map = try value.mapping()
        try map.allowOnly(["protocol", "tls", "sasl"])
        self.init()
        if let value = map.optional("protocol") {
            securityProtocol = SecurityProtocol(
                rawValue: try value.oneOf(SecurityProtocol.allCases.map(\.rawValue)))!
        }
        if let value = map.optional("tls") {
            let tlsMap = try value.mapping()
            try tlsMap.allowOnly(["ca_file", "certificate_file", "key_file", "key_password"])
            var tls = TLS()
            tls.caFile = try tlsMap.optional("ca_file").map { file throws(YAMLError) in
                resolve(try file.nonEmptyString())
            }
            tls.certificateFile = try tlsMap.optional("certificate_file").map { file throws(YAMLError) in
                resolve(try file.nonEmptyString())
            }
            tls.keyFile = try tlsMap.optional("key_file").map { file throws(YAMLError) in
                resolve(try file.nonEmptyString())
            }
            tls.keyPassword = try tlsMap.optional("key_password").map { password throws(YAMLError) in
                KafkaSecret(try password.secretReference("kafka.security.tls.key_password"))
            }
            self.tls = tls
        }
        if let value = map.optional("sasl") {
            let saslMap = try value.mapping()
            try saslMap.allowOnly(["mechanism", "username", "password"])
            let mechanism = try saslMap.require("mechanism").oneOf(SASL.Mechanism.allCases.map(\.rawValue))
            sasl = SASL(
                mechanism: SASL.Mechanism(rawValue: mechanism)!,
                username: try saslMap.require("username").nonEmptyString(),
                password: KafkaSecret(try saslMap.require("password").secretReference("kafka.security.sasl.password")))
        }
        let problems = self.problems
        guard problems.isEmpty else { throw value.error(problems.joined(separator: "; ")) }
    }
}

extension KafkaSecret {
    /// A Kafka secret read from a `${env:NAME}` / `${file:PATH}` reference when each client is created.
    init(_ secret: SecretValue) {
        self.init(reference: secret.description) { try secret.resolve() }
    }
}

extension HubConfiguration.HTTPSettings {
    init(_ value: YAMLValue) throws(YAMLError) {
        let map = try value.mapping()
        try map.allowOnly(["host", "port", "token", "metrics_port"])
        if let value = map.optional("host") { host = try value.nonEmptyString() }
        if let value = map.optional("port") { port = try value.int(in: 1...65_535) }
        token = try map.optional("token")?.secretReference("the admin token")
        if let value = map.optional("metrics_port") {
            let metricsPort = try value.int(in: 1...65_535)
            guard metricsPort != port else { throw value.error("metrics_port must differ from port (\(port))") }
            self.metricsPort = metricsPort
        }
    }
}

extension HubConfiguration.IngressSettings {
    init(_ value: YAMLValue) throws(YAMLError) {
        let map = try value.mapping()
        try map.allowOnly([
            "host", "port", "idle_timeout", "read_timeout", "request_timeout", "max_connections",
            "max_concurrent_requests", "max_header_bytes", "max_header_fields", "linger_ms",
        ])
        if let value = map.optional("linger_ms") { lingerMilliseconds = try value.int(in: 0...1_000) }
        if let value = map.optional("host") { host = try value.nonEmptyString() }
        if let value = map.optional("port") { port = try value.int(in: 1...65_535) }
        if let value = map.optional("idle_timeout") { limits.idleTimeout = try value.delay() }
        if let value = map.optional("read_timeout") { limits.readTimeout = try value.delay() }
        if let value = map.optional("request_timeout") { limits.requestTimeout = try value.delay() }
        if let value = map.optional("max_connections") { limits.maxConnections = try value.int(in: 1...1_000_000) }
        if let value = map.optional("max_concurrent_requests") {
            limits.maxConcurrentRequestsPerEndpoint = try value.int(in: 1...100_000)
        }
        if let value = map.optional("max_header_bytes") {
            limits.maxHeaderBytes = try value.int(in: 1_024...(1 << 20))
        }
        if let value = map.optional("max_header_fields") { limits.maxHeaderFields = try value.int(in: 8...10_000) }
    }
}

extension HubConfiguration.StoreSettings {
    init(_ value: YAMLValue, resolve: (String) -> String) throws(YAMLError) {
        let map = try value.mapping()
        try map.allowOnly(["kind", "path", "url", "events_topic", "history_topics", "tls", "erasure"])
        if let value = map.optional("events_topic") { eventsTopic = try value.topicName() }
        if let value = map.optional("erasure") { erasure = try Self.erasure(value) }
        if let value = map.optional("history_topics") {
            for entry in try value.mapping().entries {
                let topic = entry.key
                guard !topic.isEmpty, topic.count <= 249,
                    topic.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "._-".contains($0)) })
                else {
                    throw YAMLError(
                        "'\(topic)' is not a valid Kafka topic name (1-249 of a-z A-Z 0-9 . _ -)", at: entry.keyLocation
                    )
                }
                historyTopics[topic] = HistoryTopicKind(
                    rawValue: try entry.value.oneOf(HistoryTopicKind.allCases.map(\.rawValue)))!
            }
        }
        kind = Kind(rawValue: try map.optional("kind")?.oneOf(["sqlite", "postgres"]) ?? "sqlite")!
        switch kind {
        case .sqlite:
            if let value = map.optional("tls") { throw value.error("tls applies to kind postgres only") }
            location = resolve(try map.optional("path")?.nonEmptyString() ?? "data/crmhub.sqlite")
        case .postgres:
            let urlValue = try map.require("url")
            location = try urlValue.nonEmptyString()
            if let value = map.optional("tls") {
                let tlsMap = try value.mapping()
                try tlsMap.allowOnly(["mode", "ca_file"])
                if let mode = tlsMap.optional("mode") {
                    let text = try mode.nonEmptyString()
                    do {
                        tlsMode = try .init(sslmode: text)
                    } catch {
                        throw mode.error(error.message)
                    }
                }
                caFile = try tlsMap.optional("ca_file").map { file throws(YAMLError) in
                    resolve(try file.nonEmptyString())
                }
            }
            // A URL written in the file is checked now (sslmode, and agreement with tls:), naming its line.
            if case .literal(let text) = SecretValue(parsing: location) {
                do {
                    _ = try postgresConfiguration(url: text)
                } catch {
                    throw (map.optional("tls") ?? urlValue).error(error.message)
                }
            }
        }
    }
}

extension HubConfiguration.StoreSettings {
    /// `erasure: {tombstone_topics: [TOPIC, ...], keys: [golden_id | record, ...]}`.
    static func erasure(_ value: YAMLValue) throws(YAMLError) -> ErasureTombstones {
        let map = try value.mapping()
        try map.allowOnly(["tombstone_topics", "keys"])
        var erasure = ErasureTombstones()
        if let value = map.optional("tombstone_topics") {
            erasure.topics = []
            for topic in try value.sequence() { erasure.topics.append(try topic.topicName()) }
        }
        if let value = map.optional("keys") {
            erasure.keys = []
            for key in try value.sequence() {
                let name = try key.oneOf(ErasureTombstones.Key.allCases.map(\.rawValue))
                erasure.keys.append(ErasureTombstones.Key(rawValue: name)!)
            }
            if erasure.keys.isEmpty { throw YAMLError("name at least one key kind", at: value.location) }
        }
        return erasure
    }
}

extension HubConfiguration.LogSettings {
    init(_ value: YAMLValue) throws(YAMLError) {
        let map = try value.mapping()
        try map.allowOnly(["level", "format", "redaction_key"])
        if let value = map.optional("level") {
            level = try value.oneOf(["trace", "debug", "info", "notice", "warning", "error", "critical"])
        }
        if let value = map.optional("format") { format = Format(rawValue: try value.oneOf(["json", "text"]))! }
        if let value = map.optional("redaction_key") { redactionKey = SecretValue(parsing: try value.nonEmptyString()) }
    }
}

extension HubConfiguration {
    /// The installation's redaction policy: keyed by `log.redaction_key`, or by the key generated and kept in
    /// `state_dir/redaction.key` when none is configured.
    public func redactionPolicy() throws(ConfigurationError) -> RedactionPolicy {
        do {
            if let configured = log.redactionKey {
                return RedactionPolicy(key: Array(try configured.resolve().utf8))
            }
            return RedactionPolicy(key: try RedactionKey.loadOrCreate(stateDirectory: stateDirectory))
        } catch {
            throw ConfigurationError([
                YAMLError("log.redaction_key: \(error)", at: .init(file: file, line: 0, column: 0))
            ])
        }
    }
}
