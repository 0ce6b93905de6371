// CRMKafka: crmhub's Swift face over librdkafka. It is the only module that imports the C library (CRDKafka).
// Public surface: KafkaProducer, KafkaConsumer (an AsyncSequence of messages with manual commits), KafkaAdmin,
// KafkaMockCluster (librdkafka's in-process mock cluster, for fault tests), value-type configuration and errors.

import CRDKafka

/// An error from the Kafka binding: what failed, librdkafka's code and reason, and whether retrying can help.
public struct KafkaError: Error, Sendable, CustomStringConvertible {
    /// The kind of failure; extensible, compare with the static members.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        let name: String
        public var description: String { name }

        /// Creating a client or applying configuration failed.
        public static let configuration = Code(name: "configuration")
        /// Producing a message failed (enqueue or delivery).
        public static let produce = Code(name: "produce")
        /// Consuming or subscribing failed.
        public static let consume = Code(name: "consume")
        /// Committing offsets failed.
        public static let commit = Code(name: "commit")
        /// An admin operation (create topics) failed.
        public static let admin = Code(name: "admin")
        /// A transaction operation failed.
        public static let transaction = Code(name: "transaction")
        /// The client was already shut down.
        public static let shutdown = Code(name: "shutdown")
        /// The operation did not finish in time.
        public static let timeout = Code(name: "timeout")
    }

    /// What failed.
    public var code: Code
    /// Human-readable reason, usually librdkafka's error string plus context.
    public var reason: String
    /// librdkafka's numeric error code (`rd_kafka_resp_err_t`), 0 when not from librdkafka.
    public var rdkafkaCode: Int32
    /// True when the same operation may succeed later (broker down, timeout, queue full...).
    public var isRetriable: Bool
    /// True when the client instance is unusable and must be recreated.
    public var isFatal: Bool
    /// True when the current transaction failed and must be aborted (then the work can be redone).
    public var requiresTransactionAbort: Bool = false
    /// Where the error was raised.
    public var file: String
    public var line: UInt

    public init(
        _ code: Code, reason: String, rdkafkaCode: Int32 = 0, isRetriable: Bool = false, isFatal: Bool = false,
        file: String = #fileID, line: UInt = #line
    ) {
        self.code = code
        self.reason = reason
        self.rdkafkaCode = rdkafkaCode
        self.isRetriable = isRetriable
        self.isFatal = isFatal
        self.file = file
        self.line = line
    }

    /// Builds an error from a librdkafka response code.
    static func from(
        _ err: rd_kafka_resp_err_t, _ code: Code, context: String, file: String = #fileID, line: UInt = #line
    ) -> KafkaError {
        let text = String(cString: rd_kafka_err2str(err))
        return KafkaError(
            code, reason: "\(context): \(text)", rdkafkaCode: err.rawValue,
            isRetriable: Self.retriableCodes.contains(err), isFatal: err == RD_KAFKA_RESP_ERR__FATAL,
            file: file, line: line)
    }

    /// Builds an error from a librdkafka `rd_kafka_error_t` and destroys it.
    static func consuming(
        _ error: OpaquePointer, _ code: Code, context: String, file: String = #fileID, line: UInt = #line
    ) -> KafkaError {
        defer { rd_kafka_error_destroy(error) }
        var result = KafkaError(
            code, reason: "\(context): \(String(cString: rd_kafka_error_string(error)))",
            rdkafkaCode: rd_kafka_error_code(error).rawValue,
            isRetriable: rd_kafka_error_is_retriable(error) != 0
                || Self.retriableCodes.contains(rd_kafka_error_code(error)),
            isFatal: rd_kafka_error_is_fatal(error) != 0, file: file, line: line)
        result.requiresTransactionAbort = rd_kafka_error_txn_requires_abort(error) != 0
        return result
    }

    private static let retriableCodes: Set<rd_kafka_resp_err_t> = [
        RD_KAFKA_RESP_ERR__TRANSPORT, RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN, RD_KAFKA_RESP_ERR__TIMED_OUT,
        RD_KAFKA_RESP_ERR__MSG_TIMED_OUT, RD_KAFKA_RESP_ERR__QUEUE_FULL, RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT,
        RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION, RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE,
        RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS, RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND,
        RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART, RD_KAFKA_RESP_ERR_NETWORK_EXCEPTION,
        RD_KAFKA_RESP_ERR_COORDINATOR_NOT_AVAILABLE, RD_KAFKA_RESP_ERR_NOT_COORDINATOR,
        RD_KAFKA_RESP_ERR_COORDINATOR_LOAD_IN_PROGRESS, RD_KAFKA_RESP_ERR_REBALANCE_IN_PROGRESS,
        RD_KAFKA_RESP_ERR__PURGE_QUEUE, RD_KAFKA_RESP_ERR__PURGE_INFLIGHT, RD_KAFKA_RESP_ERR_KAFKA_STORAGE_ERROR,
    ]

    public var description: String {
        var flags: [String] = []
        if isFatal { flags.append("fatal") } else if isRetriable { flags.append("retriable") }
        let suffix = flags.isEmpty ? "" : " [\(flags.joined(separator: ","))]"
        return "kafka \(code) failed: \(reason)\(suffix)"
    }
}
