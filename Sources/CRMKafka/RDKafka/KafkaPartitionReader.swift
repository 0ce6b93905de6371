import CRDKafka
import Foundation
import Logging

/// Reads chosen partitions from chosen offsets, without a consumer group: nothing is ever committed to Kafka, the
/// caller keeps its own positions (a batch job's checkpoint). Also answers watermark and partition-count queries.
///
/// Every blocking librdkafka call runs off the cooperative pool. One task at a time may call ``poll(maxMessages:timeout:)``.
public final class KafkaPartitionReader: Sendable {
    let client: RDKafkaClient
    private let queue: UnsafeSendableHandle
    private let logQueue: UnsafeSendableHandle

    /// How long a partition waits before fetching again once the 8 MiB prefetch is full (as a route's consumer).
    private static let fetchQueueBackoff = KafkaConsumerConfiguration.fetchQueueBackoff(
        milliseconds: KafkaConsumerConfiguration.defaultFetchQueueBackoffMilliseconds)

    /// Creates a reader (no partitions assigned yet). `isolationLevel` is `read_committed` by default.
    ///
    /// `endOfPartitionWait` is how long the broker holds a fetch of a partition that has nothing new before it answers
    /// empty (librdkafka's `fetch.wait.max.ms`): the time from reaching a partition's end to its
    /// ``Event/endOfPartition``. Short by default, for the scans that stop at the end (a batch import's dedup scan
    /// and end offsets, an export); a reader that tails a partition passes a longer one to make fewer empty fetches.
    /// librdkafka's own default, 500 ms, added half a second to every batch run's start.
    public init(
        configuration: KafkaClientConfiguration, isolationLevel: String = "read_committed",
        endOfPartitionWait: Duration = .milliseconds(20), logger: Logger
    ) throws(KafkaError) {
        // A group id is required by librdkafka for a consumer handle; it is never used to commit or join.
        let properties: [(String, String)] =
            [
                ("group.id", "crmhub-partition-reader-\(UUID().uuidString)"),
                ("enable.auto.commit", "false"),
                ("enable.auto.offset.store", "false"),
                ("enable.partition.eof", "true"),
                ("isolation.level", isolationLevel),
                ("auto.offset.reset", "earliest"),
                // Bounds librdkafka's prefetch (default 64 MB) so an export's memory stays small whatever the topic size.
                ("queued.max.messages.kbytes", "8192"),
            ] + Self.fetchQueueBackoff + configuration.properties
            + [("fetch.wait.max.ms", String(max(1, Self.milliseconds(endOfPartitionWait))))]
        let client = try RDKafkaClient.make(
            type: RD_KAFKA_CONSUMER, properties: properties, secrets: configuration.secretProperties, logger: logger)
        self.client = client
        rd_kafka_poll_set_consumer(client.handle)
        // Logs go to their own queue, drained (to swift-log) at each poll.
        let logQueue = rd_kafka_queue_new(client.handle)!
        rd_kafka_set_log_queue(client.handle, logQueue)
        self.logQueue = UnsafeSendableHandle(logQueue)
        queue = UnsafeSendableHandle(rd_kafka_queue_get_consumer(client.handle))
    }

    deinit {
        rd_kafka_queue_destroy(queue.pointer)
        rd_kafka_queue_destroy(logQueue.pointer)
        rd_kafka_consumer_close(client.handle)
        client.destroy()
    }

    /// The number of partitions of each topic (topics the cluster does not know are missing from the result).
    public func partitionCounts(
        _ topics: [String], timeout: Duration = .seconds(10)
    ) async throws(KafkaError) -> [String: Int32] {
        let handle = UnsafeSendableHandle(client.handle)
        let milliseconds = Self.milliseconds(timeout)
        let result: Result<[String: Int32], KafkaError> = await Blocking.run {
            var metadata: UnsafePointer<rd_kafka_metadata>?
            let err = rd_kafka_metadata(handle.pointer, 1, nil, &metadata, milliseconds)
            guard err == RD_KAFKA_RESP_ERR_NO_ERROR, let metadata else {
                return .failure(.from(err, .admin, context: "read metadata"))
            }
            defer { rd_kafka_metadata_destroy(metadata) }
            var counts: [String: Int32] = [:]
            for index in 0..<Int(metadata.pointee.topic_cnt) {
                let topic = metadata.pointee.topics[index]
                let name = String(cString: topic.topic)
                guard topic.err == RD_KAFKA_RESP_ERR_NO_ERROR, topics.contains(name) else { continue }
                counts[name] = topic.partition_cnt
            }
            return .success(counts)
        }
        return try result.get()
    }

    /// Low and high watermarks of `partition` (the high one is the offset the next message will get).
    public func watermarks(
        _ partition: TopicPartition, timeout: Duration = .seconds(10)
    ) async throws(KafkaError) -> (low: Int64, high: Int64) {
        let handle = UnsafeSendableHandle(client.handle)
        let milliseconds = Self.milliseconds(timeout)
        let result: Result<(Int64, Int64), KafkaError> = await Blocking.run {
            var low: Int64 = -1
            var high: Int64 = -1
            let err = rd_kafka_query_watermark_offsets(
                handle.pointer, partition.topic, partition.partition, &low, &high, milliseconds)
            guard err == RD_KAFKA_RESP_ERR_NO_ERROR else {
                return .failure(.from(err, .consume, context: "watermarks of \(partition)"))
            }
            return .success((low, high))
        }
        let (low, high) = try result.get()
        return (low, high)
    }

    /// The end offset (high watermark) of each partition as the broker reports it in fetch responses: assigns the
    /// partitions at `starts`, polls (discarding messages) until each partition's end is known, then unassigns.
    /// Prefer this to ``watermarks(_:timeout:)`` where the broker's ListOffsets answer is unreliable (Tansu 0.x
    /// answers 1 for a partition holding one record batch of many records).
    public func endOffsets(
        from starts: [TopicPartitionOffset], timeout: Duration = .seconds(30)
    ) async throws(KafkaError) -> [TopicPartition: Int64] {
        guard !starts.isEmpty else { return [:] }
        try assign(starts)
        var ends: [TopicPartition: Int64] = [:]
        let deadline = ContinuousClock.now + timeout
        while ends.count < starts.count {
            let events = try await poll(maxMessages: 1_000, timeout: .milliseconds(100))
            for event in events {
                if case .endOfPartition(let partition, let offset) = event {
                    ends[partition] = max(ends[partition] ?? 0, offset)
                }
            }
            for start in starts where ends[start.topicPartition] == nil {
                var low: Int64 = -1
                var high: Int64 = -1
                let err = rd_kafka_get_watermark_offsets(
                    client.handle, start.topicPartition.topic, start.topicPartition.partition, &low, &high)
                if err == RD_KAFKA_RESP_ERR_NO_ERROR && high >= 0 && high >= start.offset {
                    ends[start.topicPartition] = high
                }
            }
            if ContinuousClock.now > deadline {
                throw KafkaError(
                    .timeout, reason: "end offsets of \(starts.count - ends.count) partitions unknown after \(timeout)",
                    isRetriable: true)
            }
        }
        rd_kafka_assign(client.handle, nil)
        return ends
    }

    /// Starts reading each partition at its offset (replacing any earlier assignment).
    public func assign(_ offsets: [TopicPartitionOffset]) throws(KafkaError) {
        let list = TopicPartitionList(offsets)
        let err = rd_kafka_assign(client.handle, list.pointer)
        guard err == RD_KAFKA_RESP_ERR_NO_ERROR else { throw .from(err, .consume, context: "assign \(offsets)") }
    }

    /// What one poll returned.
    public enum Event: Sendable {
        /// A message.
        case message(ConsumerMessage)
        /// The reader reached the end of `partition`; `offset` is the next offset that will be written.
        case endOfPartition(TopicPartition, offset: Int64)
    }

    /// Waits up to `timeout` for up to `maxMessages` events. An error other than end-of-partition throws.
    public func poll(maxMessages: Int = 500, timeout: Duration = .milliseconds(200)) async throws(KafkaError) -> [Event]
    {
        let queue = self.queue
        let logQueue = self.logQueue
        let client = self.client
        let milliseconds = Int32(Self.milliseconds(timeout))
        let count = max(1, maxMessages)
        let result: Result<[Event], KafkaError> = await Blocking.run {
            var drained = 0
            while drained < 100, let event = rd_kafka_queue_poll(logQueue.pointer, 0) {
                if rd_kafka_event_type(event) == RD_KAFKA_EVENT_LOG { client.forwardLog(event) }
                rd_kafka_event_destroy(event)
                drained += 1
            }
            var raw = [UnsafeMutablePointer<rd_kafka_message_t>?](repeating: nil, count: count)
            let received = rd_kafka_consume_batch_queue(queue.pointer, milliseconds, &raw, count)
            guard received > 0 else { return .success([]) }
            var events: [Event] = []
            events.reserveCapacity(received)
            var failure: KafkaError?
            for index in 0..<received {
                guard let pointer = raw[index] else { continue }
                defer { rd_kafka_message_destroy(pointer) }
                let err = pointer.pointee.err
                if err == RD_KAFKA_RESP_ERR__PARTITION_EOF {
                    let topic = pointer.pointee.rkt.map { String(cString: rd_kafka_topic_name($0)) } ?? ""
                    events.append(
                        .endOfPartition(
                            TopicPartition(topic: topic, partition: pointer.pointee.partition),
                            offset: pointer.pointee.offset))
                } else if err != RD_KAFKA_RESP_ERR_NO_ERROR {
                    if failure == nil {
                        failure = .from(err, .consume, context: "read partition \(pointer.pointee.partition)")
                    }
                } else {
                    let topic = pointer.pointee.rkt.map { String(cString: rd_kafka_topic_name($0)) } ?? ""
                    events.append(.message(ConsumerMessage(copying: pointer, topic: topic)))
                }
            }
            if let failure, events.isEmpty { return .failure(failure) }
            return .success(events)
        }
        return try result.get()
    }

    private static func milliseconds(_ duration: Duration) -> Int32 {
        Int32(clamping: duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000)
    }
}
