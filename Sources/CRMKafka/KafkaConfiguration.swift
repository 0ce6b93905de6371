/// Settings shared by every client. Anything librdkafka accepts can be passed through `extra`.
public struct KafkaClientConfiguration: Sendable {
    /// `host:port` of one or more brokers.
    public var bootstrapServers: [String]
    /// `client.id`, shown in broker logs. Default `crmhub`.
    public var clientID: String = "crmhub"
    /// `statistics.interval.ms`; 0 turns statistics off. Default 0.
    public var statisticsIntervalMilliseconds: Int = 0
    /// TLS and SASL: `security.protocol`, `ssl.*`, `sasl.*`. Default plaintext.
    public var security = KafkaSecurity()
    /// `socket.timeout.ms` and friends are left at librdkafka's defaults unless set here. Applied last, so they
    /// override the properties above.
    public var extra: [String: String] = [:]
    /// Extra properties whose values are secrets (`sasl.oauthbearer.client.secret`), read when a client is created.
    public var secretExtra: [String: KafkaSecret] = [:]

    public init(bootstrapServers: [String]) {
        self.bootstrapServers = bootstrapServers
    }

    var properties: [(String, String)] {
        var list: [(String, String)] = [
            ("bootstrap.servers", bootstrapServers.joined(separator: ",")),
            ("client.id", clientID),
            ("statistics.interval.ms", String(statisticsIntervalMilliseconds)),
            ("log.queue", "true"),
        ]
        list.append(contentsOf: security.properties)
        list.append(contentsOf: extra.sorted(by: { $0.key < $1.key }).map { ($0.key, $0.value) })
        return list
    }

    /// Properties whose values are secrets, resolved by the client when it is created and never printed.
    var secretProperties: [(String, KafkaSecret)] {
        security.secretProperties + secretExtra.sorted(by: { $0.key < $1.key }).map { ($0.key, $0.value) }
    }
}

/// Producer settings with crmhub's safe defaults: idempotent, `acks=all`, no reordering on retry.
public struct KafkaProducerConfiguration: Sendable {
    public var client: KafkaClientConfiguration
    /// `enable.idempotence`: no duplicates or reordering from producer retries. Default true.
    public var idempotent: Bool = true
    /// `acks`: `all` waits for every in-sync replica. Default `all`.
    public var acks: String = "all"
    /// `linger.ms`: how long to wait to fill a batch. Default 5.
    public var lingerMilliseconds: Int = 5
    /// `delivery.timeout.ms`: how long librdkafka keeps retrying a message before reporting failure. Default 120 s.
    public var deliveryTimeoutMilliseconds: Int = 120_000
    /// `compression.type`. Default `none`.
    public var compression: String = "none"
    /// `transactional.id` for exactly-once routes; nil for a plain idempotent producer.
    public var transactionalID: String?
    /// `transaction.timeout.ms`: the broker aborts a transaction open longer than this. Default 60 s. With a
    /// transactional id, the delivery timeout is capped at it (librdkafka requires that).
    public var transactionTimeoutMilliseconds: Int = 60_000
    /// What the producer serves (`hub`, `ingress`): the `producer` label of its metrics. Default `hub`.
    public var purpose: String = "hub"

    public init(bootstrapServers: [String]) {
        self.client = KafkaClientConfiguration(bootstrapServers: bootstrapServers)
    }

    var properties: [(String, String)] {
        var list: [(String, String)] = [
            ("enable.idempotence", idempotent ? "true" : "false"),
            ("acks", acks),
            ("linger.ms", String(lingerMilliseconds)),
            ("compression.type", compression),
        ]
        if let transactionalID {
            list.append(("transactional.id", transactionalID))
            list.append(("transaction.timeout.ms", String(transactionTimeoutMilliseconds)))
            list.append(
                ("delivery.timeout.ms", String(min(deliveryTimeoutMilliseconds, transactionTimeoutMilliseconds))))
        } else {
            list.append(("delivery.timeout.ms", String(deliveryTimeoutMilliseconds)))
        }
        // Client-level properties last, so `extra` can override anything above.
        return list + client.properties
    }
}

/// Consumer-group consumer settings. Offsets are never committed automatically: the caller commits.
public struct KafkaConsumerConfiguration: Sendable {
    public var client: KafkaClientConfiguration
    /// `group.id`.
    public var groupID: String
    /// Topics to subscribe to.
    public var topics: [String]
    /// `auto.offset.reset` when the group has no committed offset. Default `earliest` (never skip data).
    public var autoOffsetReset: String = "earliest"
    /// `session.timeout.ms`. Default 45 s (librdkafka's). Tests use 2000 with Tansu.
    public var sessionTimeoutMilliseconds: Int = 45_000
    /// `heartbeat.interval.ms`. Default 3 s.
    public var heartbeatIntervalMilliseconds: Int = 3_000
    /// `max.poll.interval.ms`. Default 300 s.
    public var maxPollIntervalMilliseconds: Int = 300_000
    /// `isolation.level`. Default `read_committed`.
    public var isolationLevel: String = "read_committed"
    /// `partition.assignment.strategy`. Default `cooperative-sticky`, so a rebalance only moves what it must.
    public var assignmentStrategy: String = "cooperative-sticky"
    /// Messages buffered between librdkafka and the caller. Memory bound: about twice this many messages
    /// (one buffer being filled while the caller works through the previous one). Default 2,000.
    public var bufferCapacity: Int = 2_000
    /// Messages taken from librdkafka per poll. Default 500.
    public var pollBatchSize: Int = 500
    /// `queued.max.messages.kbytes`: how much librdkafka fetches ahead of the caller, for all assigned partitions
    /// together. Default 16 MiB rather than librdkafka's 64 MiB: a route at full speed works through 16 MiB in about
    /// a quarter of a second, and the larger prefetch only holds memory (40 MB of a route's peak RSS).
    /// `fetch.max.bytes` follows it unless set.
    public var prefetchKilobytes: Int = 16_384
    /// `fetch.queue.backoff.ms`: how long a partition waits before fetching again once the prefetch is full.
    /// Default 20 rather than librdkafka's 1 000: with a smaller prefetch a one-second pause would empty it and
    /// halve a passthrough route's rate. Set only on librdkafka 2.1 and later, which know the property.
    public var fetchQueueBackoffMilliseconds: Int = defaultFetchQueueBackoffMilliseconds
    /// The default of ``fetchQueueBackoffMilliseconds``, also used by ``KafkaPartitionReader``.
    public static let defaultFetchQueueBackoffMilliseconds = 20

    public init(bootstrapServers: [String], groupID: String, topics: [String]) {
        self.client = KafkaClientConfiguration(bootstrapServers: bootstrapServers)
        self.groupID = groupID
        self.topics = topics
    }

    var properties: [(String, String)] {
        var list: [(String, String)] = [
            ("group.id", groupID),
            ("enable.auto.commit", "false"),
            ("enable.auto.offset.store", "false"),
            ("auto.offset.reset", autoOffsetReset),
            ("session.timeout.ms", String(sessionTimeoutMilliseconds)),
            ("heartbeat.interval.ms", String(heartbeatIntervalMilliseconds)),
            ("max.poll.interval.ms", String(maxPollIntervalMilliseconds)),
            ("isolation.level", isolationLevel),
            ("partition.assignment.strategy", assignmentStrategy),
            ("enable.partition.eof", "false"),
            ("queued.max.messages.kbytes", String(prefetchKilobytes)),
        ]
        list.append(contentsOf: Self.fetchQueueBackoff(milliseconds: fetchQueueBackoffMilliseconds))
        return list + client.properties
    }
}

extension KafkaConsumerConfiguration {
    /// `fetch.queue.backoff.ms` where the runtime knows it (librdkafka 2.1 and later); nothing on older ones, which
    /// would refuse the unknown property.
    static func fetchQueueBackoff(milliseconds: Int) -> [(String, String)] {
        KafkaRuntime.isAtLeast(major: 2, minor: 1) ? [("fetch.queue.backoff.ms", String(milliseconds))] : []
    }
}
