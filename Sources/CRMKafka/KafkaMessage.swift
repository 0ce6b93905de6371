/// A topic and partition.
public struct TopicPartition: Hashable, Sendable, CustomStringConvertible {
    public var topic: String
    public var partition: Int32

    public init(topic: String, partition: Int32) {
        self.topic = topic
        self.partition = partition
    }

    public var description: String { "\(topic)[\(partition)]" }
}

/// An offset to commit: the *next* offset to read for a partition (last processed + 1).
public struct TopicPartitionOffset: Hashable, Sendable, CustomStringConvertible {
    public var topicPartition: TopicPartition
    public var offset: Int64

    public init(_ topicPartition: TopicPartition, offset: Int64) {
        self.topicPartition = topicPartition
        self.offset = offset
    }

    public var description: String { "\(topicPartition)@\(offset)" }
}

/// A Kafka record header. Values are raw bytes; crmhub's own headers are UTF-8 text.
public struct KafkaHeader: Hashable, Sendable {
    public var key: String
    public var value: [UInt8]

    public init(key: String, value: [UInt8]) {
        self.key = key
        self.value = value
    }

    public init(key: String, text: String) {
        self.key = key
        self.value = Array(text.utf8)
    }

    /// The value decoded as UTF-8, if valid.
    public var text: String? { String(validating: value, as: UTF8.self) }
}

extension Array where Element == KafkaHeader {
    /// The first header named `key`, decoded as UTF-8.
    public func text(_ key: String) -> String? { first(where: { $0.key == key })?.text }
}

/// A message to produce.
public struct ProducerMessage: Sendable {
    public var topic: String
    /// The partition, or nil to let the partitioner choose from the key.
    public var partition: Int32?
    public var key: [UInt8]?
    public var value: [UInt8]
    public var headers: [KafkaHeader]
    /// Produce a null value (a tombstone: log compaction deletes the key's earlier records) instead of `value`.
    /// Default false.
    public var isTombstone = false

    public init(
        topic: String, partition: Int32? = nil, key: [UInt8]? = nil, value: [UInt8], headers: [KafkaHeader] = []
    ) {
        self.topic = topic
        self.partition = partition
        self.key = key
        self.value = value
        self.headers = headers
    }

    /// A tombstone for `key` on `topic`: a record with a null value, which a compacted topic keeps only until
    /// `delete.retention.ms` after compaction removed the key's earlier records.
    public static func tombstone(
        topic: String, key: [UInt8], headers: [KafkaHeader] = []
    ) -> ProducerMessage {
        var message = ProducerMessage(topic: topic, key: key, value: [], headers: headers)
        message.isTombstone = true
        return message
    }
}

/// What the broker acknowledged for a produced message.
public struct DeliveryReport: Sendable, Hashable {
    public var topicPartition: TopicPartition
    public var offset: Int64
    /// Seconds from enqueue to acknowledgement.
    public var latency: Double
}

/// A consumed message. Its payload is copied out of librdkafka, so it outlives the poll that produced it.
public struct ConsumerMessage: Sendable {
    public var topicPartition: TopicPartition
    public var offset: Int64
    public var key: [UInt8]?
    public var value: [UInt8]
    public var headers: [KafkaHeader]
    /// Milliseconds since the epoch (create or log-append time), if the broker gave one.
    public var timestampMilliseconds: Int64?
    /// The record has a null value (a tombstone on a compacted topic); `value` is then empty.
    public var isTombstone = false

    public init(
        topicPartition: TopicPartition, offset: Int64, key: [UInt8]?, value: [UInt8], headers: [KafkaHeader],
        timestampMilliseconds: Int64? = nil
    ) {
        self.topicPartition = topicPartition
        self.offset = offset
        self.key = key
        self.value = value
        self.headers = headers
        self.timestampMilliseconds = timestampMilliseconds
    }

    public var topic: String { topicPartition.topic }
    public var partition: Int32 { topicPartition.partition }
    /// The key decoded as UTF-8, if there is one.
    public var keyText: String? { key.flatMap { String(validating: $0, as: UTF8.self) } }
}
