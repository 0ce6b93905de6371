import CRMDelivery
import CRMKafka
import CRMMasterData
import CRMStateStore
import CRMTransport
import Foundation
import GRDB
import Logging
import Synchronization

/// What the runtime lends a connector while it builds its parts: the shared producer, the hub's state folder,
/// clients and stores shared by every connector, and the hub's settings a connector may need. Built by the hub's
/// composition root once per connector instance.
public struct ConnectorContext: Sendable {
    /// The connector instance's name.
    public var name: String
    /// The connector's file, for error messages.
    public var file: String
    /// The hub's shared idempotent producer. Sources produce through ``emitter(deadLetterTopic:)``.
    public var producer: KafkaProducer
    /// The low-latency producer for ingress endpoints, whose callers wait for Kafka's acknowledgement. Endpoints
    /// produce through ``ingressEmitter(deadLetterTopic:)``; nil means they use ``producer``.
    public var ingressProducer: IngressProducer?
    /// The hub's state folder (`state_dir`).
    public var stateDirectory: String
    /// The HTTP client every HTTP-speaking connector shares (its own libcurl threads).
    public var http: HTTPClient
    /// The master data, when routes resolve customers (lookups for screen-pops).
    public var masterData: MasterDataResolver?
    /// The compiled mappings folder; SIGHUP reloads it, so a connector asks it for its mapping per message.
    public var mappings: MappingRegistry?
    /// The prefix of every consumer group of the hub.
    public var groupPrefix: String
    /// The hub's readiness state.
    public var state: HubState
    public var logger: Logger
    /// Consumer settings with the hub's client and group-session settings, for connectors that read a topic.
    public var consumerConfiguration: @Sendable (_ groupID: String, _ topics: [String]) -> KafkaConsumerConfiguration
    /// SQLite state files shared by connectors in this process (opened once each).
    public var stateFiles: StateFiles

    public init(
        name: String, file: String, producer: KafkaProducer, ingressProducer: IngressProducer? = nil,
        stateDirectory: String, http: HTTPClient,
        masterData: MasterDataResolver?,
        mappings: MappingRegistry?, groupPrefix: String, state: HubState, logger: Logger, stateFiles: StateFiles,
        consumerConfiguration: @escaping @Sendable (_ groupID: String, _ topics: [String]) -> KafkaConsumerConfiguration
    ) {
        self.name = name
        self.file = file
        self.producer = producer
        self.ingressProducer = ingressProducer
        self.stateDirectory = stateDirectory
        self.http = http
        self.masterData = masterData
        self.mappings = mappings
        self.groupPrefix = groupPrefix
        self.state = state
        var logger = logger
        logger[metadataKey: "connector"] = "\(name)"
        self.logger = logger
        self.stateFiles = stateFiles
        self.consumerConfiguration = consumerConfiguration
    }

    /// The emitter a source of this connector produces through.
    public func emitter(deadLetterTopic: String? = nil) -> SourceEmitter {
        SourceEmitter(connector: name, producer: producer, deadLetterTopic: deadLetterTopic)
    }

    /// The producer for messages someone waits on while they are produced (an ingress caller for its 202, an agent
    /// for a screen-pop): the hub's ingress producer, which hardly waits to fill batches, or the shared producer
    /// when the hub has none.
    public func lowLatencyProducer() throws(KafkaError) -> KafkaProducer {
        try ingressProducer?.producer() ?? producer
    }

    /// The emitter an ingress endpoint (a form, a webhook) produces through: ``lowLatencyProducer()``, as the
    /// endpoint's caller waits for the acknowledgement.
    public func ingressEmitter(deadLetterTopic: String? = nil) throws(KafkaError) -> SourceEmitter {
        SourceEmitter(connector: name, producer: try lowLatencyProducer(), deadLetterTopic: deadLetterTopic)
    }

    /// A path under the state folder (`cti/pbx-tickets.sqlite`).
    public func statePath(_ relative: String) -> String {
        URL(fileURLWithPath: stateDirectory).appendingPathComponent(relative).path
    }
}

/// SQLite state files (under `state_dir`) opened once per process and shared by the connectors that use them.
public final class StateFiles: Sendable {
    private let directory: String
    private let open = Mutex<[String: DatabaseQueue]>([:])

    public init(directory: String) { self.directory = directory }

    /// The database `name` (`sources.sqlite`), opened on first use (WAL, see ``StateDatabase``).
    public func database(_ name: String) throws -> DatabaseQueue {
        if let queue = open.withLock({ $0[name] }) { return queue }
        let queue = try StateDatabase.open(path: URL(fileURLWithPath: directory).appendingPathComponent(name).path)
        return open.withLock { opened in
            if let existing = opened[name] { return existing }
            opened[name] = queue
            return queue
        }
    }
}
