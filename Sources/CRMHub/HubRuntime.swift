import CRMConnector
import CRMDelivery
import CRMKafka
import CRMMapping
import CRMMasterData
import CRMMasterDataPostgres
import CRMTransport
import CRMWeb
import CRMYAML
import Foundation
import Logging
import ServiceLifecycle

/// Builds the hub's services from a configuration, after checking the configuration against the broker:
/// the broker must answer within `connect_timeout_seconds`, and every route topic must exist (or be created).
public struct HubRuntime: Sendable {
    public let configuration: HubConfiguration
    public let state = HubState()
    private let logger: Logger

    public init(configuration: HubConfiguration, logger: Logger) {
        self.configuration = configuration
        self.logger = logger
    }

    /// A problem that stops the hub from starting, said plainly.
    public struct StartupError: Error, CustomStringConvertible {
        public var description: String
    }

    /// Topics the routes and sinks read or write, retry and dead-letter topics included.
    public var routeTopics: [String] {
        let routes = configuration.routes.flatMap { [$0.from, $0.deadLetterTopic] + $0.to.topics }
        let sinks = configuration.connectors.flatMap(\.topics)
        let events = usesMasterData ? [configuration.store.eventsTopic] + configuration.store.erasure.topics : []
        let history = Array(configuration.store.historyTopics.keys)
        return Array(Set(routes + sinks + events + history)).sorted()
    }

    /// Whether the hub opens the master data: a route resolves customers, a sink serves a purpose (consent check)
    /// or history topics are followed.
    public var usesMasterData: Bool {
        configuration.routes.contains(where: \.resolve)
            || configuration.connectors.contains { $0.sinkDelivery?.purpose != nil }
            || !configuration.store.historyTopics.isEmpty
    }

    /// The librdkafka client settings every Kafka client of the hub shares.
    public var clientConfiguration: KafkaClientConfiguration {
        var client = KafkaClientConfiguration(bootstrapServers: configuration.kafka.brokers)
        client.clientID = configuration.kafka.clientID
        client.statisticsIntervalMilliseconds = configuration.kafka.statisticsIntervalMilliseconds
        client.security = configuration.kafka.security
        for (name, value) in configuration.kafka.properties {
            if case .literal(let text) = value {
                client.extra[name] = text
            } else {
                client.secretExtra[name] = KafkaSecret(value)
            }
        }
        return client
    }

    /// Logs the librdkafka runtime, checks the broker and the topics (``routeTopics`` plus `additionalTopics`, such as
    /// the workflow rules'). Throws ``StartupError`` with a clear message.
    public func preflight(additionalTopics: [String] = []) async throws {
        let runtime = KafkaRuntime.versionString
        logger.info(
            "librdkafka runtime",
            metadata: ["version": "\(runtime)", "library": "\(KafkaRuntime.libraryPath ?? "unknown")"])
        if KafkaRuntime.hasTaggedFieldBug {
            logger.warning(
                "librdkafka \(runtime) is older than 2.1 and mis-parses tagged fields that modern brokers send; run with a newer librdkafka (the set-up puts 2.16 where the binary's runpath looks; see README)",
                metadata: ["version": "\(runtime)"])
        }
        var client = clientConfiguration
        client.statisticsIntervalMilliseconds = 0
        let admin = KafkaAdmin(configuration: client, logger: logger)
        let brokers = configuration.kafka.brokers.joined(separator: ",")
        let metadata: KafkaAdmin.ClusterMetadata
        do {
            metadata = try await admin.metadata(timeout: .seconds(configuration.kafka.connectTimeoutSeconds))
        } catch {
            throw StartupError(
                description:
                    "cannot reach Kafka at \(brokers) within \(configuration.kafka.connectTimeoutSeconds) s: \(error.reason)"
            )
        }
        let missing = Array(Set(routeTopics + additionalTopics)).sorted().filter { metadata.topics[$0] == nil }
        // A sink creates its parked-keys topic itself, compacted; only an operator who creates topics must know it.
        let missingParked = configuration.connectors.compactMap(\.sinkDelivery).filter {
            metadata.topics[$0.parkedTopic] == nil
        }
        guard configuration.kafka.createTopics else {
            guard !missing.isEmpty || !missingParked.isEmpty else { return }
            let uses =
                missing.map { topic in
                    let routes = configuration.routes.filter {
                        [$0.from, $0.deadLetterTopic].contains(topic) || $0.to.topics.contains(topic)
                    }.map(\.name)
                    return routes.isEmpty
                        ? "'\(topic)' (a connector or rule)" : "'\(topic)' (route \(routes.joined(separator: ", ")))"
                }
                + missingParked.map {
                    "'\($0.parkedTopic)' (sink \($0.name)'s parked keys: cleanup.policy=compact, as many partitions as '\($0.topic)')"
                }
            throw StartupError(
                description:
                    "\(configuration.file): topics missing on \(brokers): \(uses.joined(separator: "; ")); create them or set kafka.create_topics: true"
            )
        }
        guard !missing.isEmpty else { return }
        do {
            let outcomes = try await admin.createTopics(
                missing.map { KafkaAdmin.NewTopic(name: $0, partitions: Int32(configuration.kafka.topicPartitions)) })
            logger.info("created topics", metadata: ["topics": "\(outcomes.keys.sorted())"])
        } catch {
            throw StartupError(description: "cannot create topics \(missing) on \(brokers): \(error.reason)")
        }
    }

    /// This instance's name in transactional ids: the host name, stable across restarts so that a restarted
    /// instance fences its predecessor's unfinished transactions.
    static var instanceName: String {
        let host = ProcessInfo.processInfo.hostName
        return host.isEmpty ? "local" : String(host.prefix(64))
    }

    /// The services to run, in start order (dependencies first): producer, routes, then every connector's parts —
    /// sinks under a ``SinkService`` each, sources and other services as the connector built them. Routes with
    /// `resolve: true` get a ``ResolveTransform`` over the master data (SQLite store, or PostgreSQL shared by several
    /// instances), whose change events go to `store.events_topic`; sinks with a `purpose` get a ``ConsentGate`` and
    /// `store.history_topics` a ``CustomerHistoryRecorder`` over the same master data. `mappings` is the compiled
    /// mappings folder that connectors (IMAP sources) look their mapping up in; SIGHUP reloads it. When its mappings
    /// look golden ids up (`lookup: {service: golden-by-email}` …), the master data is opened too and attached to
    /// `masterDataLookup`, the lookup the mappings were compiled with. The ingress endpoints connectors serve are
    /// returned for the ingress server; add the HTTP servers last.
    public func makeServices(
        mappings: MappingRegistry? = nil, masterDataLookup: MasterDataMappingLookup? = nil,
        transforms: @escaping @Sendable (RouteConfiguration) -> any MessageTransform
    ) async throws -> HubServices {
        var producerConfiguration = KafkaProducerConfiguration(bootstrapServers: configuration.kafka.brokers)
        producerConfiguration.client = clientConfiguration
        let producer = try KafkaProducer(configuration: producerConfiguration, logger: logger)
        var ingressConfiguration = producerConfiguration
        ingressConfiguration.lingerMilliseconds = configuration.ingress.lingerMilliseconds
        ingressConfiguration.purpose = "ingress"
        let ingressProducer = IngressProducer(configuration: ingressConfiguration, logger: logger)
        state.registerKafka { producer.lastError ?? ingressProducer.producerIfMade?.lastError }
        let flushTimeout = Duration.seconds(max(5, configuration.shutdownTimeoutSeconds / 3))
        var services: [any Service] = [
            ProducerService(producer: producer, flushTimeout: flushTimeout, logger: logger)
        ]
        let looksUpGoldenIds =
            mappings?.current.mappings.values.contains {
                !$0.services.isDisjoint(with: MasterDataMappingLookup.services)
            } ?? false
        let resolver = try await makeResolver(producer: producer, required: usesMasterData || looksUpGoldenIds)
        let resolve =
            configuration.routes.contains(where: \.resolve) ? resolver.map { ResolveTransform(resolver: $0) } : nil
        if let resolver {
            services.append(MasterDataFollower(resolver: resolver, logger: logger))
            masterDataLookup?.attach(resolver.index)
            if !configuration.store.historyTopics.isEmpty {
                services.append(
                    CustomerHistoryRecorder(
                        resolver: resolver, topics: configuration.store.historyTopics,
                        consumer: consumerConfiguration(
                            groupID: "\(configuration.kafka.groupPrefix).history", topics: []),
                        logger: logger))
            }
        }
        let transforms: @Sendable (RouteConfiguration) -> any MessageTransform = { route in
            if route.resolve, let resolve { return resolve }
            return transforms(route)
        }
        for route in configuration.routes {
            var consumer = consumerConfiguration(
                groupID: "\(configuration.kafka.groupPrefix).\(route.name)", topics: [route.from])
            consumer.bufferCapacity = max(route.maxInFlight, 100)
            switch route.delivery {
            case .atLeastOnce:
                services.append(
                    RouteService(
                        route: route, consumer: consumer, producer: producer, transform: { transforms(route) },
                        state: state,
                        logger: logger, drainTimeout: .seconds(max(2, configuration.shutdownTimeoutSeconds / 2))))
            case .exactlyOnce:
                services.append(
                    TransactionalRouteService(
                        route: route, consumer: consumer, producer: producerConfiguration,
                        transactionalIDPrefix: "\(configuration.kafka.groupPrefix).\(Self.instanceName)",
                        transform: { transforms(route) }, state: state, logger: logger))
            }
        }
        let connectors = try await makeConnectors(
            producer: producer, ingressProducer: ingressProducer, resolver: resolver, mappings: mappings)
        if let made = ingressProducer.producerIfMade {
            // Next to the shared producer, so it too is flushed after everything that produces through it stopped.
            services.insert(ProducerService(producer: made, flushTimeout: flushTimeout, logger: logger), at: 1)
        }
        services += connectors.services
        return HubServices(services: services, producer: producer, resolver: resolver, ingress: connectors.ingress)
    }

    /// The services to run and the shared producer (for source connectors such as the ingress).
    public struct HubServices: Sendable {
        public var services: [any Service]
        public let producer: KafkaProducer
        /// The master data, when the hub uses it (see ``HubRuntime/usesMasterData``).
        public let resolver: MasterDataResolver?
        /// The endpoints connectors serve on the ingress server.
        public var ingress: [IngressEndpoint] = []
    }

    private func makeResolver(producer: KafkaProducer, required: Bool) async throws -> MasterDataResolver? {
        guard required else { return nil }
        let location =
            configuration.store.kind == .postgres
            ? PostgresMasterDataStore.Configuration.redacted(configuration.store.location)
            : configuration.store.location
        do {
            let store: any MasterDataStore
            switch configuration.store.kind {
            case .sqlite: store = try SQLiteMasterDataStore(path: configuration.store.location)
            case .postgres:
                // The URL carries a password: it may be written as ${env:NAME} or ${file:PATH}.
                let url = try SecretValue(parsing: configuration.store.location).resolve()
                store = try await PostgresMasterDataStore(
                    configuration: try configuration.store.postgresConfiguration(url: url), logger: logger)
            }
            let resolver = try await MasterDataResolver(
                store: store,
                sink: KafkaMasterDataEventSink(
                    topic: configuration.store.eventsTopic, producer: producer,
                    erasure: configuration.store.erasure))
            let counts = await resolver.counts
            logger.info(
                "master data loaded",
                metadata: ["store": "\(location)", "records": "\(counts.records)", "golden": "\(counts.goldens)"])
            return resolver
        } catch {
            throw StartupError(description: "cannot open the master data store at \(location): \(error)")
        }
    }

    /// The connector's endpoints with its file's `auth:` (its secret resolved now), or as the connector made them.
    private static func authenticated(
        _ endpoints: [IngressEndpoint], by connector: ConfiguredConnector
    ) throws(StartupError) -> [IngressEndpoint] {
        guard let auth = connector.ingressAuth else { return endpoints }
        let authentication: IngressAuthentication
        do {
            authentication = try auth.resolve()
        } catch {
            throw StartupError(description: "\(connector.file): auth secret: \(error)")
        }
        return endpoints.map { endpoint in
            var endpoint = endpoint
            endpoint.authentication = authentication
            return endpoint
        }
    }

    /// Builds every connector through its kind: a ``SinkService`` per sink (sharing the delivery state store), the
    /// services sources and CTI connectors run, and the endpoints they serve on the ingress server.
    private func makeConnectors(
        producer: KafkaProducer, ingressProducer: IngressProducer, resolver: MasterDataResolver?,
        mappings: MappingRegistry?
    ) async throws -> (services: [any Service], ingress: [IngressEndpoint]) {
        guard !configuration.connectors.isEmpty else { return ([], []) }
        let deliveryStore = try DeliveryStateStore(
            path: URL(fileURLWithPath: configuration.stateDirectory).appendingPathComponent("delivery.sqlite").path)
        let logger = self.logger
        let attachments = URL(fileURLWithPath: configuration.stateDirectory).appendingPathComponent("attachments").path
        await resolver?.onErasure { event in
            // Every instance deletes the form attachments it stored itself (each has its own state directory).
            do {
                let removed = try WebFormIngress.removeAttachments(
                    ofTimelineRefs: event.erasedFormPosts, in: attachments)
                if removed > 0 {
                    logger.info(
                        "form attachments of an erased customer deleted",
                        metadata: ["golden_id": "\(event.goldenId)", "posts": "\(removed)"])
                }
            } catch {
                logger.warning("form attachments of an erased customer not deleted", metadata: ["error": "\(error)"])
            }
        }
        let http = HTTPClient(concurrency: 16)
        let stateFiles = StateFiles(directory: configuration.stateDirectory)
        let runtime = self
        var services: [any Service] = []
        var ingress: [IngressEndpoint] = []
        for connector in configuration.connectors {
            let context = ConnectorContext(
                name: connector.name, file: connector.file, producer: producer, ingressProducer: ingressProducer,
                stateDirectory: configuration.stateDirectory, http: http,
                masterData: resolver, mappings: mappings, groupPrefix: configuration.kafka.groupPrefix, state: state,
                logger: logger,
                stateFiles: stateFiles
            ) { groupID, topics in runtime.consumerConfiguration(groupID: groupID, topics: topics) }
            let parts: ConnectorParts
            do {
                parts = try await connector.make(in: context)
            } catch {
                throw StartupError(description: "\(connector.file): \(error)")
            }
            let kind: HubState.ComponentKind = connector.sinkDelivery == nil ? .source : .sink
            for (index, service) in parts.services.enumerated() {
                let name = parts.services.count == 1 ? connector.name : "\(connector.name)#\(index + 1)"
                services.append(MonitoredService(service, kind: kind, name: name, state: state))
            }
            ingress += try Self.authenticated(parts.ingress, by: connector)
            if let target = parts.sink, let delivery = connector.sinkDelivery {
                var consent: ConsentGate?
                if let purpose = delivery.purpose {
                    guard let resolver else {
                        throw StartupError(description: "\(connector.file): 'purpose' needs the master data store")
                    }
                    consent = ConsentGate(purpose: purpose, channel: delivery.consentChannel, resolver: resolver)
                }
                let consumer = consumerConfiguration(
                    groupID: "\(configuration.kafka.groupPrefix).sink.\(connector.name)", topics: [])
                services.append(
                    SinkService(
                        configuration: delivery, consumer: consumer, producer: producer, target: target,
                        store: deliveryStore, state: state,
                        logger: logger, consent: consent, erasure: resolver.map(ErasureGate.init)))
            }
        }
        return (services, ingress)
    }

    /// Settings of a consumer in group `groupID` with the hub's client and group-session settings.
    public func consumerConfiguration(groupID: String, topics: [String]) -> KafkaConsumerConfiguration {
        var consumer = KafkaConsumerConfiguration(
            bootstrapServers: configuration.kafka.brokers, groupID: groupID, topics: topics)
        consumer.client = clientConfiguration
        consumer.sessionTimeoutMilliseconds = configuration.kafka.sessionTimeoutMilliseconds
        consumer.heartbeatIntervalMilliseconds = configuration.kafka.heartbeatIntervalMilliseconds
        return consumer
    }
}
