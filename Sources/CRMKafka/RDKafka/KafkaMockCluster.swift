import CRDKafka
import Foundation
import Glibc
import Logging
import Synchronization

/// librdkafka's in-process mock cluster, for tests that inject broker faults (a broker down, request errors,
/// leader moves, round-trip delays). Clients connect to ``bootstrapServers`` like to a real cluster.
public final class KafkaMockCluster: @unchecked Sendable {
    // The mock cluster is driven through librdkafka's thread-safe mock API.
    private let client: RDKafkaClient
    private let cluster: OpaquePointer
    /// Sockets holding the listening ports of brokers that are down (see ``setBrokerDown(_:)``), by broker id.
    private let heldPorts = Mutex<[Int32: Int32]>([:])

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
        for socket in heldPorts.withLock({ $0.values }) { close(socket) }
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
    ///
    /// librdkafka closes the broker's listening socket, binds a new one to the same port at once (listening on it
    /// again in ``setBrokerUp(_:)``), and aborts the whole process when either step fails. So:
    /// - Call it only while nothing else in the process starts child processes. A child forked at that moment holds a
    ///   copy of the listening socket until it calls `exec`, the port is still in use when librdkafka binds it again,
    ///   and the process aborts (crmhub's own test run calls this in its serial phase, `deploy/test.sh`).
    /// - librdkafka's idle socket has `SO_REUSEADDR`, so any server binding the port with `SO_REUSEADDR` could take it
    ///   while the broker is down. A socket of ours holds the port meanwhile, bound without `SO_REUSEADDR`, which makes
    ///   every other bind to it fail.
    public func setBrokerDown(_ id: Int32) {
        rd_kafka_mock_broker_set_down(cluster, id)
        guard let port = port(ofBroker: id), let socket = Self.hold(port: port) else { return }
        heldPorts.withLock { $0[id] = socket }
    }

    /// Brings broker `id` back up on its old port.
    ///
    /// - Throws: ``KafkaError`` (`configuration`) without bringing the broker up when another socket listens on its
    ///   port, where librdkafka would abort the process.
    public func setBrokerUp(_ id: Int32) throws(KafkaError) {
        if let socket = heldPorts.withLock({ $0.removeValue(forKey: id) }) { close(socket) }
        if let port = port(ofBroker: id), Self.someoneListens(onPort: port) {
            throw KafkaError(
                .configuration, reason: "mock broker \(id) cannot come back up: another socket listens on port \(port)")
        }
        rd_kafka_mock_broker_set_up(cluster, id)
    }

    /// Broker `id`'s port: the mock cluster lists its brokers in id order.
    private func port(ofBroker id: Int32) -> UInt16? {
        let servers = bootstrapServers
        guard id >= 1, Int(id) <= servers.count, let colon = servers[Int(id) - 1].lastIndex(of: ":") else { return nil }
        return UInt16(servers[Int(id) - 1][servers[Int(id) - 1].index(after: colon)...])
    }

    /// A socket bound to 127.0.0.1:`port` (not listening) that no other socket can share, or nil when the port cannot
    /// be bound. It binds with `SO_REUSEADDR` (librdkafka's socket is there already) and then clears the option: the
    /// kernel refuses a later bind to the port when one of the sockets on it lacks `SO_REUSEADDR`.
    private static func hold(port: UInt16) -> Int32? {
        guard case .success(let socket) = bindWithReuseAddress(port: port) else { return nil }
        var reuse: Int32 = 0
        setsockopt(socket, SOL_SOCKET, SO_REUSEADDR, &reuse, socklen_t(MemoryLayout<Int32>.size))
        return socket
    }

    /// A TCP socket with `SO_REUSEADDR`, as most servers make them, bound to 127.0.0.1:`port` (not listening); or the
    /// `errno` of the failed call.
    static func bindWithReuseAddress(port: UInt16) -> Result<Int32, Errno> {
        let socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard socket >= 0 else { return .failure(Errno(code: errno)) }
        var reuse: Int32 = 1
        setsockopt(socket, SOL_SOCKET, SO_REUSEADDR, &reuse, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(socket, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard bound == 0 else {
            let failure = Errno(code: errno)
            close(socket)
            return .failure(failure)
        }
        return .success(socket)
    }

    /// An `errno` value as an error.
    struct Errno: Error, Equatable {
        let code: Int32
    }

    /// Whether a TCP socket listens on `port` on any local address (the LISTEN rows, state `0A`, of /proc/net/tcp and
    /// /proc/net/tcp6).
    private static func someoneListens(onPort port: UInt16) -> Bool {
        let suffix = String(format: ":%04X", port)
        for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
            guard let text = procFileText(table) else { continue }
            // "sl local_address rem_address st ..."
            for line in text.split(separator: "\n").dropFirst() {
                let fields = line.split(separator: " ", omittingEmptySubsequences: true)
                if fields.count > 3, fields[1].hasSuffix(suffix), fields[3] == "0A" { return true }
            }
        }
        return false
    }

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

/// The whole text of a file under /proc. Foundation's `String(contentsOfFile:)` trusts the size `stat` gives, which is
/// 0 for these files, and returns only the first 4 KiB.
func procFileText(_ path: String) -> String? {
    guard let handle = FileHandle(forReadingAtPath: path) else { return nil }
    defer { try? handle.close() }
    guard let data = try? handle.readToEnd() else { return nil }
    return String(decoding: data, as: UTF8.self)
}
