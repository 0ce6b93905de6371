import CRMKafka
import Foundation
import Logging
import Synchronization

/// A sink's parked keys, shared by every instance through Kafka: the compacted topic `parked.<sink>` holds one
/// marker per parked message, keyed `<key fingerprint>/<message id>`, whose value is `<tier> <order>` (the retry tier
/// it waits in and its offset in the sink's topic, which orders a key's queue). Delivering or dead-lettering the
/// message writes a tombstone for its marker. A key's markers all go to one partition (chosen from the key's
/// fingerprint), so whoever reads up to a marker has also read every earlier change to that key.
///
/// Every instance tails the whole topic into memory. A marker is acknowledged by the broker before its message's
/// retry record is produced and before its offset is committed, so a consumer that takes a partition over and
/// ``catchUp()``s before delivering sees every key the previous owner parked. A view that lags only ever shows a key
/// as parked longer than it is (its followers wait), never shorter. Markers carry a fingerprint of the key, not the
/// key itself.
final class ParkedKeys: Sendable {
    /// One message parked in a retry topic.
    struct Entry: Sendable, Hashable {
        var id: String
        /// The retry tier (0-based) it waits in.
        var tier: Int
        /// Its offset in the sink's topic: a key's parked messages are delivered in this order.
        var order: Int64
    }

    /// The compacted topic.
    let topic: String
    private let client: KafkaClientConfiguration
    private let logger: Logger
    private let reader = Mutex<KafkaPartitionReader?>(nil)

    private struct State {
        /// Key fingerprint → message id → entry.
        var lanes: [String: [String: Entry]] = [:]
        /// The next offset the tail will read, per partition.
        var positions: [TopicPartition: Int64] = [:]
        var partitionCount: Int32 = 0
    }
    private let state = Mutex(State())

    init(topic: String, client: KafkaClientConfiguration, logger: Logger) {
        self.topic = topic
        self.client = client
        self.logger = logger
    }

    /// The key's parked messages in delivery order (the first is the head).
    func entries(lane: String) -> [Entry] {
        let fingerprint = Self.fingerprint(lane)
        return state.withLock { state in
            (state.lanes[fingerprint]?.values).map { $0.sorted { ($0.order, $0.id) < ($1.order, $1.id) } } ?? []
        }
    }

    /// Parked messages in the view.
    var count: Int { state.withLock { $0.lanes.values.map(\.count).reduce(0, +) } }

    /// Records `entry` as parked (in this instance's view at once) and returns the marker to produce.
    func park(lane: String, _ entry: Entry) -> ProducerMessage {
        let fingerprint = Self.fingerprint(lane)
        let partition = state.withLock { state in
            state.lanes[fingerprint, default: [:]][entry.id] = entry
            return Self.partition(of: fingerprint, count: state.partitionCount)
        }
        return ProducerMessage(
            topic: topic, partition: partition, key: Array("\(fingerprint)/\(entry.id)".utf8),
            value: Array("\(entry.tier) \(entry.order)".utf8))
    }

    /// Forgets `id` (in this instance's view at once) and returns the tombstone to produce.
    func unpark(lane: String, id: String) -> ProducerMessage {
        let fingerprint = Self.fingerprint(lane)
        let partition = state.withLock { state in
            state.lanes[fingerprint]?[id] = nil
            if state.lanes[fingerprint]?.isEmpty == true { state.lanes[fingerprint] = nil }
            return Self.partition(of: fingerprint, count: state.partitionCount)
        }
        var tombstone = ProducerMessage.tombstone(topic: topic, key: Array("\(fingerprint)/\(id)".utf8))
        tombstone.partition = partition
        return tombstone
    }

    // MARK: - Reading the topic

    /// Creates the topic if it is missing (compacted, with `partitions` partitions), starts reading it from the
    /// beginning and returns once the view holds everything written so far.
    func open(partitions: Int32) async throws {
        let admin = KafkaAdmin(configuration: client, logger: logger)
        // It tails the topic (``tail()``): librdkafka's usual end-of-partition wait, not a scan's short one.
        let reader = try KafkaPartitionReader(
            configuration: client, endOfPartitionWait: .milliseconds(500), logger: logger)
        var counts = try await reader.partitionCounts([topic])
        if counts[topic] == nil {
            do {
                _ = try await admin.createTopics([
                    .init(name: topic, partitions: max(partitions, 1), configs: ["cleanup.policy": "compact"])
                ])
            } catch {
                // A broker that refuses the setting still gets the topic: it is correct uncompacted, only longer.
                logger.warning(
                    "cannot create the parked keys topic compacted; creating it with the broker's defaults",
                    metadata: ["topic": "\(topic)", "error": "\(error)"])
                _ = try await admin.createTopics([.init(name: topic, partitions: max(partitions, 1))])
            }
            let deadline = ContinuousClock.now + .seconds(30)
            while counts[topic] == nil, ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(200))
                counts = try await reader.partitionCounts([topic])
            }
        }
        guard let count = counts[topic], count > 0 else {
            throw KafkaError(.admin, reason: "topic \(topic) has no partitions", isRetriable: true)
        }
        let starts = (0..<count).map { TopicPartition(topic: topic, partition: $0) }
        state.withLock { state in
            state.partitionCount = count
            for partition in starts { state.positions[partition] = 0 }
        }
        try reader.assign(starts.map { TopicPartitionOffset($0, offset: Self.beginning) })
        self.reader.withLock { $0 = reader }
    }

    /// Applies the topic to the view until cancelled. Call after ``open(partitions:)``.
    func tail() async {
        guard let reader = reader.withLock({ $0 }) else { return }
        var failures = 0
        while !Task.isCancelled {
            do {
                let events = try await reader.poll(maxMessages: 1_000, timeout: .milliseconds(100))
                failures = 0
                state.withLock { state in
                    for event in events { Self.apply(event, to: &state) }
                }
            } catch {
                failures += 1
                if failures == 1 {
                    logger.warning(
                        "cannot read the parked keys; retrying", metadata: ["topic": "\(topic)", "error": "\(error)"])
                }
                try? await Task.sleep(for: .milliseconds(min(100 * (1 << min(failures, 5)), 2_000)))
            }
        }
    }

    /// Returns once the view holds every marker the broker acknowledged before the call (the tail reached the end
    /// offsets read now); retries while the broker cannot answer. False when cancelled or shutting down first.
    func catchUp() async -> Bool {
        var attempt = 0
        while true {
            let starts = state.withLock { state in
                state.positions.map { TopicPartitionOffset($0.key, offset: $0.value) }
            }
            do {
                // A fresh reader: end offsets come from its own fetch responses, never from a stale cache.
                let probe = try KafkaPartitionReader(configuration: client, logger: logger)
                let ends = try await probe.endOffsets(from: starts, timeout: .seconds(30))
                while !state.withLock({ state in ends.allSatisfy { (state.positions[$0.key] ?? 0) >= $0.value } }) {
                    if Task.isCancelled { return false }
                    try await Task.sleep(for: .milliseconds(20))
                }
                return true
            } catch {
                attempt += 1
                if Task.isCancelled || Task.isShuttingDownGracefully { return false }
                logger.warning(
                    "cannot read the end of the parked keys; retrying",
                    metadata: ["topic": "\(topic)", "error": "\(error)", "attempt": "\(attempt)"])
                try? await Task.sleep(for: .milliseconds(min(100 * (1 << min(attempt, 5)), 2_000)))
            }
        }
    }

    private static func apply(_ event: KafkaPartitionReader.Event, to state: inout State) {
        switch event {
        case .endOfPartition(let partition, let offset):
            state.positions[partition] = max(state.positions[partition] ?? 0, offset)
        case .message(let message):
            state.positions[message.topicPartition] = max(
                state.positions[message.topicPartition] ?? 0, message.offset + 1)
            guard let key = message.keyText, let slash = key.firstIndex(of: "/") else { return }
            let fingerprint = String(key[..<slash])
            let id = String(key[key.index(after: slash)...])
            let fields = String(decoding: message.value, as: UTF8.self).split(separator: " ")
            if message.isTombstone || message.value.isEmpty || fields.count != 2 {
                state.lanes[fingerprint]?[id] = nil
                if state.lanes[fingerprint]?.isEmpty == true { state.lanes[fingerprint] = nil }
            } else if let tier = Int(fields[0]), let order = Int64(fields[1]) {
                state.lanes[fingerprint, default: [:]][id] = Entry(id: id, tier: tier, order: order)
            }
        }
    }

    /// librdkafka's "from the beginning" logical offset.
    private static let beginning: Int64 = -2

    /// A stable fingerprint of a lane (FNV-1a, hex).
    static func fingerprint(_ lane: String) -> String { SinkService.fingerprint(Array(lane.utf8)) }

    private static func partition(of fingerprint: String, count: Int32) -> Int32 {
        guard count > 1, let hash = UInt64(fingerprint, radix: 16) else { return 0 }
        return Int32(hash % UInt64(count))
    }
}
