import CRDKafka
import Logging

/// librdkafka's in-process mock cluster, for tests that inject broker faults (a broker down, request errors,
/// leader moves, round-trip delays). Clients connect to ``bootstrapServers`` like to a real cluster.
public final class KafkaMockCluster: @unchecked Sendable {
    // The mock cluster is driven through librdkafka's thread-safe mock API.
    private let client: RDKafkaClient
    private let cluster: OpaquePointer

    /// Kafka API keys used with ``pushRequestErrors(apiKey:_:)``.
    public enum APIKey: Int16, Sendable {
        case produce = 0
        case fetch = 1
        case listOffsets = 2
        case metadata = 3
        case offsetCommit = 8
        case offsetFetch = 9
        case findCoordinator = 10
        case joinGroup = 11
        case heartbeat = 12
        case syncGroup = 14
        case initProducerID = 22
        case addPartitionsToTxn = 24
        case addOffsetsToTxn = 25
        case endTxn = 26
        case txnOffsetCommit = 28
    }

    /// Starts a mock cluster with `brokers` brokers.
    public init(brokers: Int32 = 3, logger: Logger) throws(KafkaError) {
        client = try RDKafkaClient.make(
            type: RD_KAFKA_PRODUCER, properties: [("log.queue", "false")], logger: logger)
        guard let cluster = rd_kafka_mock_cluster_new(client.handle, brokers) else {
            client.destroy()
            throw KafkaError(.configuration, reason: "cannot create mock cluster")
        }
        self.cluster = cluster
    }

    deinit {
        rd_kafka_mock_cluster_destroy(cluster)
        client.destroy()
    }

    /// `host:port,...` to use as `bootstrap.servers`.
    public var bootstrapServers: [String] {
        String(cString: rd_kafka_mock_cluster_bootstraps(cluster)).split(separator: ",").map(String.init)
    }

    /// Creates a topic.
    public func createTopic(_ name: String, partitions: Int32, replicationFactor: Int32 = 1) throws(KafkaError) {
        let err = rd_kafka_mock_topic_create(cluster, name, partitions, replicationFactor)
        if err != RD_KAFKA_RESP_ERR_NO_ERROR { throw .from(err, .admin, context: "mock create topic \(name)") }
    }

    /// Takes broker `id` (1-based) down: its connections are closed and it accepts no new ones.
    public func setBrokerDown(_ id: Int32) { rd_kafka_mock_broker_set_down(cluster, id) }

    /// Brings broker `id` back up.
    public func setBrokerUp(_ id: Int32) { rd_kafka_mock_broker_set_up(cluster, id) }

    /// Adds `milliseconds` of round-trip time to broker `id`.
    public func setRoundTripTime(broker id: Int32, milliseconds: Int32) {
        rd_kafka_mock_broker_set_rtt(cluster, id, milliseconds)
    }

    /// Moves the leader of a partition to broker `id`.
    public func setLeader(topic: String, partition: Int32, broker id: Int32) {
        rd_kafka_mock_partition_set_leader(cluster, topic, partition, id)
    }

    /// Makes the next requests with `apiKey` fail with the given Kafka error codes, one per request.
    public func pushRequestErrors(apiKey: APIKey, _ errorCodes: [Int32]) {
        var codes = errorCodes.map { rd_kafka_resp_err_t(rawValue: $0) }
        rd_kafka_mock_push_request_errors_array(cluster, apiKey.rawValue, codes.count, &codes)
    }
}
