// CRMHub: the daemon's composition root. It reads the top configuration file (and through the connector registry
// every connector file), checks it against the broker, and builds every service — producer, routes, sinks, sources,
// ingress and admin servers, batch scheduler, workflow rules — into one ServiceGroup. Nothing below imports it.

import CRMConnector
import CRMDelivery
import CRMYAML
import Foundation

/// The daemon's configuration, read from one YAML file (see `deploy/demo/crmhub.yaml` for an annotated example).
/// Relative paths are resolved against the directory of that file.
public struct HubConfiguration: Sendable {
    public var file: String
    public var kafka: KafkaSettings
    public var http: HTTPSettings
    /// The ingress server for web-form connectors (public side; the admin server stays private). Default
    /// 127.0.0.1:8090.
    public var ingress: HTTPSettings
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
        /// Extra librdkafka properties for every client.
        public var properties: [String: String] = [:]
    }

    /// Admin HTTP server settings.
    public struct HTTPSettings: Sendable {
        /// Default 127.0.0.1.
        public var host: String = "127.0.0.1"
        /// Default 8080.
        public var port: Int = 8080
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
    }

    /// Logging settings.
    public struct LogSettings: Sendable {
        public enum Format: String, Sendable { case json, text }
        /// Default info.
        public var level: String = "info"
        /// Default json.
        public var format: Format = .json
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
        self.kafka = try KafkaSettings(top.require("kafka"))
        self.http =
            try top.optional("http").map { value throws(YAMLError) in try HTTPSettings(value) } ?? HTTPSettings()
        self.ingress =
            try top.optional("ingress").map { value throws(YAMLError) in try HTTPSettings(value) }
            ?? HTTPSettings(port: 8090)
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
    init(_ value: YAMLValue) throws(YAMLError) {
        let map = try value.mapping()
        try map.allowOnly([
            "brokers", "client_id", "group_prefix", "session_timeout_ms", "heartbeat_interval_ms",
            "statistics_interval_ms", "create_topics", "topic_partitions", "connect_timeout_seconds", "properties",
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
        if let value = map.optional("properties") {
            for entry in try value.mapping().entries { properties[entry.key] = try entry.value.string() }
        }
        if heartbeatIntervalMilliseconds >= sessionTimeoutMilliseconds {
            throw value.error("heartbeat_interval_ms must be lower than session_timeout_ms")
        }
    }
}

extension HubConfiguration.HTTPSettings {
    init(_ value: YAMLValue) throws(YAMLError) {
        let map = try value.mapping()
        try map.allowOnly(["host", "port"])
        if let value = map.optional("host") { host = try value.nonEmptyString() }
        if let value = map.optional("port") { port = try value.int(in: 1...65_535) }
    }
}

extension HubConfiguration.StoreSettings {
    init(_ value: YAMLValue, resolve: (String) -> String) throws(YAMLError) {
        let map = try value.mapping()
        try map.allowOnly(["kind", "path", "url", "events_topic", "history_topics"])
        if let value = map.optional("events_topic") { eventsTopic = try value.topicName() }
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
            location = resolve(try map.optional("path")?.nonEmptyString() ?? "data/crmhub.sqlite")
        case .postgres:
            location = try map.require("url").nonEmptyString()
        }
    }
}

extension HubConfiguration.LogSettings {
    init(_ value: YAMLValue) throws(YAMLError) {
        let map = try value.mapping()
        try map.allowOnly(["level", "format"])
        if let value = map.optional("level") {
            level = try value.oneOf(["trace", "debug", "info", "notice", "warning", "error", "critical"])
        }
        if let value = map.optional("format") { format = Format(rawValue: try value.oneOf(["json", "text"]))! }
    }
}
