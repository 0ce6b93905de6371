import CRDKafka
import Foundation
import Logging
import Synchronization

/// Administrative calls: create topics, read cluster metadata. Each call uses a short-lived client and runs its
/// blocking librdkafka requests off the cooperative pool.
public struct KafkaAdmin: Sendable {
    /// A topic to create.
    public struct NewTopic: Sendable, Hashable {
        public var name: String
        public var partitions: Int32
        public var replicationFactor: Int32
        /// Topic configuration (`cleanup.policy`: `compact`…); empty leaves the broker's defaults.
        public var configs: [String: String]

        public init(
            name: String, partitions: Int32 = 1, replicationFactor: Int32 = 1, configs: [String: String] = [:]
        ) {
            self.name = name
            self.partitions = partitions
            self.replicationFactor = replicationFactor
            self.configs = configs
        }
    }

    /// What happened to each requested topic.
    public enum CreationOutcome: Sendable, Hashable {
        case created
        case alreadyExisted
    }

    /// What the cluster told us about its topics.
    public struct ClusterMetadata: Sendable {
        public var brokerCount: Int
        /// Topic name → number of partitions.
        public var topics: [String: Int]
    }

    public var configuration: KafkaClientConfiguration
    public var logger: Logger

    public init(configuration: KafkaClientConfiguration, logger: Logger) {
        self.configuration = configuration
        self.logger = logger
    }

    /// Creates `topics`; a topic that already exists is reported, not an error.
    public func createTopics(
        _ topics: [NewTopic], timeout: Duration = .seconds(15)
    ) async throws(KafkaError) -> [String: CreationOutcome] {
        guard !topics.isEmpty else { return [:] }
        let client = try makeClient()
        defer { client.destroy() }
        let milliseconds = Self.milliseconds(timeout)
        let handle = UnsafeSendableHandle(client.handle)
        let result: Result<[String: CreationOutcome], KafkaError> = await Blocking.run {
            Self.createTopicsBlocking(topics, handle: handle.pointer, timeoutMilliseconds: milliseconds)
        }
        return try result.get()
    }

    /// Reads the cluster's metadata: fails when no broker answers within `timeout`.
    /// The reason names the last error the client saw (a TLS handshake or SASL failure), not only the timeout.
    public func metadata(timeout: Duration = .seconds(10)) async throws(KafkaError) -> ClusterMetadata {
        let errors = ClientErrors()
        let client = try makeClient(errors: errors)
        defer {
            client.destroy()
            withExtendedLifetime(errors) {}
        }
        let milliseconds = Self.milliseconds(timeout)
        let handle = UnsafeSendableHandle(client.handle)
        let result: Result<ClusterMetadata, KafkaError> = await Blocking.run {
            var metadata: UnsafePointer<rd_kafka_metadata>?
            let err = rd_kafka_metadata(handle.pointer, 1, nil, &metadata, milliseconds)
            guard err == RD_KAFKA_RESP_ERR_NO_ERROR, let metadata else {
                rd_kafka_poll(handle.pointer, 0)  // serves the error callback
                var error = KafkaError.from(err, .admin, context: "read metadata")
                if let last = errors.last { error.reason += " (last client error: \(last))" }
                return .failure(error)
            }
            defer { rd_kafka_metadata_destroy(metadata) }
            var topics: [String: Int] = [:]
            for index in 0..<Int(metadata.pointee.topic_cnt) {
                let topic = metadata.pointee.topics[index]
                guard topic.err == RD_KAFKA_RESP_ERR_NO_ERROR else { continue }
                topics[String(cString: topic.topic)] = Int(topic.partition_cnt)
            }
            return .success(ClusterMetadata(brokerCount: Int(metadata.pointee.broker_cnt), topics: topics))
        }
        return try result.get()
    }

    private func makeClient(errors: ClientErrors? = nil) throws(KafkaError) -> RDKafkaClient {
        try RDKafkaClient.make(
            type: RD_KAFKA_PRODUCER, properties: configuration.properties, secrets: configuration.secretProperties,
            logger: logger
        ) { conf in
            guard let errors else { return }
            // The box outlives the client: the caller keeps it until after `destroy()`.
            rd_kafka_conf_set_opaque(conf, Unmanaged.passUnretained(errors).toOpaque())
            rd_kafka_conf_set_error_cb(conf, adminErrorCallback)
        }
    }

    private static func createTopicsBlocking(
        _ topics: [NewTopic], handle: OpaquePointer, timeoutMilliseconds: Int32
    ) -> Result<[String: CreationOutcome], KafkaError> {
        var errorText = [CChar](repeating: 0, count: 512)
        var newTopics: [OpaquePointer?] = []
        defer { for topic in newTopics { rd_kafka_NewTopic_destroy(topic) } }
        for topic in topics {
            guard
                let newTopic = rd_kafka_NewTopic_new(
                    topic.name, topic.partitions, topic.replicationFactor, &errorText, errorText.count)
            else {
                return .failure(KafkaError(.admin, reason: "topic '\(topic.name)': \(RDKafkaClient.text(errorText))"))
            }
            newTopics.append(newTopic)
            for (name, value) in topic.configs.sorted(by: { $0.key < $1.key }) {
                _ = rd_kafka_NewTopic_set_config(newTopic, name, value)
            }
        }
        let queue = rd_kafka_queue_new(handle)
        defer { rd_kafka_queue_destroy(queue) }
        let options = rd_kafka_AdminOptions_new(handle, RD_KAFKA_ADMIN_OP_CREATETOPICS)
        defer { rd_kafka_AdminOptions_destroy(options) }
        rd_kafka_AdminOptions_set_operation_timeout(options, timeoutMilliseconds, &errorText, errorText.count)
        rd_kafka_AdminOptions_set_request_timeout(options, timeoutMilliseconds, &errorText, errorText.count)
        rd_kafka_CreateTopics(handle, &newTopics, newTopics.count, options, queue)
        guard let event = rd_kafka_queue_poll(queue, timeoutMilliseconds + 2_000) else {
            return .failure(
                KafkaError(
                    .timeout, reason: "create topics: no answer within \(timeoutMilliseconds) ms", isRetriable: true))
        }
        defer { rd_kafka_event_destroy(event) }
        let eventError = rd_kafka_event_error(event)
        guard eventError == RD_KAFKA_RESP_ERR_NO_ERROR else {
            return .failure(.from(eventError, .admin, context: "create topics"))
        }
        var count = 0
        guard let result = rd_kafka_event_CreateTopics_result(event),
            let results = rd_kafka_CreateTopics_result_topics(result, &count)
        else {
            return .failure(KafkaError(.admin, reason: "create topics: no result"))
        }
        var outcomes: [String: CreationOutcome] = [:]
        for index in 0..<count {
            let topicResult = results[index]
            let name = String(cString: rd_kafka_topic_result_name(topicResult))
            let err = rd_kafka_topic_result_error(topicResult)
            switch err {
            case RD_KAFKA_RESP_ERR_NO_ERROR: outcomes[name] = .created
            case RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS: outcomes[name] = .alreadyExisted
            default:
                let detail = rd_kafka_topic_result_error_string(topicResult).map { String(cString: $0) } ?? ""
                return .failure(.from(err, .admin, context: "create topic '\(name)' \(detail)"))
            }
        }
        return .success(outcomes)
    }

    private static func milliseconds(_ duration: Duration) -> Int32 {
        Int32(clamping: duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000)
    }
}

/// The last client-level error (transport, TLS, SASL) an admin client reported through its error callback.
final class ClientErrors: Sendable {
    private let text = Mutex<String?>(nil)
    var last: String? { text.withLock { $0 } }
    func record(_ reason: String) { text.withLock { $0 = reason } }
}

private let adminErrorCallback:
    @convention(c) (OpaquePointer?, Int32, UnsafePointer<CChar>?, UnsafeMutableRawPointer?) -> Void = {
        _, _, reason, opaque in
        guard let opaque, let reason else { return }
        Unmanaged<ClientErrors>.fromOpaque(opaque).takeUnretainedValue().record(String(cString: reason))
    }
