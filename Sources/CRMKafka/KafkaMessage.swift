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
///
/// A value type whose fields live in one shared, copy-on-write box: a route copies each message into several
/// places (its batch, the task deciding it, the delivery callback), and a copy costs one reference count rather than
/// one per field.
public struct ConsumerMessage: Sendable {
    private final class Storage: @unchecked Sendable {
        // Changed only through `ConsumerMessage`'s setters, on a box no other message shares (copy on write).
        var topicPartition: TopicPartition
        var offset: Int64
        var key: [UInt8]?
        var value: [UInt8]
        var headers: [KafkaHeader]
        var timestampMilliseconds: Int64?
        var isTombstone: Bool

        init(
            topicPartition: TopicPartition, offset: Int64, key: [UInt8]?, value: [UInt8], headers: [KafkaHeader],
            timestampMilliseconds: Int64?, isTombstone: Bool
        ) {
            self.topicPartition = topicPartition
            self.offset = offset
            self.key = key
            self.value = value
            self.headers = headers
            self.timestampMilliseconds = timestampMilliseconds
            self.isTombstone = isTombstone
        }

        func copy() -> Storage {
            Storage(
                topicPartition: topicPartition, offset: offset, key: key, value: value, headers: headers,
                timestampMilliseconds: timestampMilliseconds, isTombstone: isTombstone)
        }
    }

    private var storage: Storage

    public init(
        topicPartition: TopicPartition, offset: Int64, key: [UInt8]?, value: [UInt8], headers: [KafkaHeader],
        timestampMilliseconds: Int64? = nil, isTombstone: Bool = false
    ) {
        storage = Storage(
            topicPartition: topicPartition, offset: offset, key: key, value: value, headers: headers,
            timestampMilliseconds: timestampMilliseconds, isTombstone: isTombstone)
    }

    /// The box, copied first if another message shares it.
    private var uniqueStorage: Storage {
        mutating get {
            if !isKnownUniquelyReferenced(&storage) { storage = storage.copy() }
            return storage
        }
    }

    public var topicPartition: TopicPartition {
        get { storage.topicPartition }
        set { uniqueStorage.topicPartition = newValue }
    }
    public var offset: Int64 {
        get { storage.offset }
        set { uniqueStorage.offset = newValue }
    }
    public var key: [UInt8]? {
        get { storage.key }
        set { uniqueStorage.key = newValue }
    }
    public var value: [UInt8] {
        get { storage.value }
        set { uniqueStorage.value = newValue }
    }
    public var headers: [KafkaHeader] {
        get { storage.headers }
        set { uniqueStorage.headers = newValue }
    }
    /// Milliseconds since the epoch (create or log-append time), if the broker gave one.
    public var timestampMilliseconds: Int64? {
        get { storage.timestampMilliseconds }
        set { uniqueStorage.timestampMilliseconds = newValue }
    }
    /// The record has a null value (a tombstone on a compacted topic); `value` is then empty.
    public var isTombstone: Bool {
        get { storage.isTombstone }
        set { uniqueStorage.isTombstone = newValue }
    }

    public var topic: String { topicPartition.topic }
    public var partition: Int32 { topicPartition.partition }
    /// The key decoded as UTF-8, if there is one.
    public var keyText: String? { key.flatMap { String(validating: $0, as: UTF8.self) } }
}
