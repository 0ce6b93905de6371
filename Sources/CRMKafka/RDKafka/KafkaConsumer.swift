import CRDKafka
import Foundation
import Logging
import Metrics
import Synchronization

/// A consumer-group consumer. Iterate it as an `AsyncSequence` of ``ConsumerMessage``s; nothing is committed until
/// the caller calls ``commit(_:)`` with the offsets it has finished.
///
/// A dedicated thread polls librdkafka in batches into a bounded buffer (``KafkaConsumerConfiguration/bufferCapacity``)
/// and serves rebalances. When partitions are revoked, buffered messages of those partitions are dropped (they will
/// be delivered again to the new owner) and the `revocationHandler` is asked which offsets to commit before the
/// partitions go.
public final class KafkaConsumer: AsyncSequence, Sendable {
    public typealias Element = ConsumerMessage

    /// Given the partitions being revoked, returns the offsets (next offset to read) that are done and must be
    /// committed before they go. Called on the poll thread; must not block for long.
    public typealias RevocationHandler = @Sendable ([TopicPartition]) -> [TopicPartitionOffset]

    let client: RDKafkaClient
    let core: ConsumerCore
    private let poller: PollThread
    private let queues: Queues
    private let closed = Atomic<Bool>(false)

    private struct Queues: @unchecked Sendable {
        let consumer: OpaquePointer
        let log: OpaquePointer
    }

    /// Creates the consumer, subscribes to `configuration.topics` and starts polling.
    public init(
        configuration: KafkaConsumerConfiguration, logger: Logger, revocationHandler: RevocationHandler? = nil
    ) throws(KafkaError) {
        let core = ConsumerCore(
            capacity: configuration.bufferCapacity, groupID: configuration.groupID, logger: logger,
            revocationHandler: revocationHandler)
        let opaque = Unmanaged.passUnretained(core).toOpaque()
        let client = try RDKafkaClient.make(
            type: RD_KAFKA_CONSUMER, properties: configuration.properties,
            secrets: configuration.client.secretProperties, logger: logger
        ) {
            conf in
            rd_kafka_conf_set_opaque(conf, opaque)
            rd_kafka_conf_set_rebalance_cb(conf, consumerRebalanceCallback)
            rd_kafka_conf_set_error_cb(conf, consumerErrorCallback)
            rd_kafka_conf_set_stats_cb(conf, consumerStatsCallback)
        }
        self.client = client
        self.core = core
        rd_kafka_poll_set_consumer(client.handle)
        let logQueue = rd_kafka_queue_new(client.handle)!
        rd_kafka_set_log_queue(client.handle, logQueue)
        self.queues = Queues(consumer: rd_kafka_queue_get_consumer(client.handle), log: logQueue)

        let subscription = TopicPartitionList(configuration.topics.map { TopicPartition(topic: $0, partition: -1) })
        let err = rd_kafka_subscribe(client.handle, subscription.pointer)
        guard err == RD_KAFKA_RESP_ERR_NO_ERROR else {
            rd_kafka_queue_destroy(queues.consumer)
            rd_kafka_queue_destroy(queues.log)
            client.destroy()
            throw .from(err, .consume, context: "subscribe to \(configuration.topics.joined(separator: ","))")
        }
        self.poller = PollThread(name: "poll:consumer")
        let batchSize = configuration.pollBatchSize
        let queues = self.queues
        poller.start {
            core.pollStep(consumerQueue: queues.consumer, logQueue: queues.log, client: client, batchSize: batchSize)
        }
    }

    deinit {
        if !closed.exchange(true, ordering: .sequentiallyConsistent) {
            core.finish()
            poller.stop()
            rd_kafka_consumer_close(client.handle)
            rd_kafka_queue_destroy(queues.consumer)
            rd_kafka_queue_destroy(queues.log)
            client.destroy()
        }
    }

    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(core: core) }

    /// The same messages as the consumer itself, grouped as they arrive: each element is everything buffered at
    /// the time (never empty), without messages of partitions revoked since. For consume-transform-produce in
    /// transactions, where a batch is the unit of work. Iterate either the consumer or its batches, not both.
    public var batches: Batches { Batches(core: core) }

    /// An `AsyncSequence` of message batches; see ``batches``.
    public struct Batches: AsyncSequence, Sendable {
        public typealias Element = [ConsumerMessage]
        let core: ConsumerCore

        public func makeAsyncIterator() -> Iterator { Iterator(core: core) }

        public struct Iterator: AsyncIteratorProtocol {
            let core: ConsumerCore

            public mutating func next() async -> [ConsumerMessage]? {
                while let batch = await core.take() {
                    let messages =
                        core.currentEpoch == batch.epoch
                        ? batch.messages : core.stillOwned(batch.messages, takenAt: batch.epoch).0
                    if !messages.isEmpty { return messages }
                }
                return nil
            }
        }
    }

    /// Iterates consumed messages. Returns nil after ``close()`` or a fatal error (see ``fatalError``).
    public struct AsyncIterator: AsyncIteratorProtocol {
        let core: ConsumerCore
        private var batch: [ConsumerMessage] = []
        private var index = 0
        private var epoch = 0

        init(core: ConsumerCore) { self.core = core }

        public mutating func next() async -> ConsumerMessage? {
            while true {
                if index < batch.count {
                    if core.currentEpoch != epoch {
                        // A rebalance revoked partitions since this batch was taken: drop their messages.
                        (batch, epoch) = core.stillOwned(Array(batch[index...]), takenAt: epoch)
                        index = 0
                        continue
                    }
                    defer { index += 1 }
                    return batch[index]
                }
                guard let next = await core.take() else { return nil }
                (batch, epoch, index) = (next.messages, next.epoch, 0)
            }
        }
    }

    /// Commits `offsets` (each the next offset to read) synchronously with the group coordinator.
    public func commit(_ offsets: [TopicPartitionOffset]) async throws(KafkaError) {
        guard !offsets.isEmpty else { return }
        let list = TopicPartitionList(offsets)
        let handle = UnsafeSendableHandle(client.handle)
        let failure: KafkaError? = await Blocking.run {
            let err = rd_kafka_commit(handle.pointer, list.pointer, 0)
            if err != RD_KAFKA_RESP_ERR_NO_ERROR { return .from(err, .commit, context: "commit \(offsets)") }
            if let (partition, err) = TopicPartitionList.firstError(in: list.pointer) {
                return .from(err, .commit, context: "commit \(partition)")
            }
            return nil
        }
        if let failure { throw failure }
    }

    /// Stops fetching from `partitions` until ``resume(_:)``; already buffered messages are still delivered.
    public func pause(_ partitions: [TopicPartition]) throws(KafkaError) {
        let list = TopicPartitionList(partitions)
        let err = rd_kafka_pause_partitions(client.handle, list.pointer)
        if err != RD_KAFKA_RESP_ERR_NO_ERROR { throw .from(err, .consume, context: "pause \(partitions)") }
    }

    /// Resumes fetching from `partitions`.
    public func resume(_ partitions: [TopicPartition]) throws(KafkaError) {
        let list = TopicPartitionList(partitions)
        let err = rd_kafka_resume_partitions(client.handle, list.pointer)
        if err != RD_KAFKA_RESP_ERR_NO_ERROR { throw .from(err, .consume, context: "resume \(partitions)") }
    }

    /// Partitions currently assigned to this consumer.
    public var assignment: Set<TopicPartition> { core.assignment }

    /// True while `partition` is assigned to this consumer (cheaper than ``assignment`` for one partition).
    public func isAssigned(_ partition: TopicPartition) -> Bool { core.isAssigned(partition) }

    /// True once the group coordinator has given this member an assignment (possibly empty).
    public var hasJoinedGroup: Bool { core.hasJoinedGroup }

    /// The last client-level error (broker down, ...), cleared when messages flow again.
    public var lastError: String? { core.lastError }

    /// The fatal error that ended the sequence, if any.
    public var fatalError: KafkaError? { core.fatalError }

    /// Ends iteration, leaves the group (serving a final revocation, so done offsets are committed) and frees the
    /// client. Safe to call more than once.
    public func close() async {
        guard !closed.exchange(true, ordering: .sequentiallyConsistent) else { return }
        core.finish()
        poller.stop()
        let handle = UnsafeSendableHandle(client.handle)
        let queues = self.queues
        let client = self.client
        await Blocking.run {
            rd_kafka_consumer_close(handle.pointer)
            rd_kafka_queue_destroy(queues.consumer)
            rd_kafka_queue_destroy(queues.log)
            client.destroy()
        }
    }
}

// MARK: - C callbacks (no captures: context comes through the configuration opaque)

private let consumerRebalanceCallback:
    @convention(c) (
        OpaquePointer?, rd_kafka_resp_err_t, UnsafeMutablePointer<rd_kafka_topic_partition_list_t>?,
        UnsafeMutableRawPointer?
    ) -> Void = { handle, err, partitions, opaque in
        guard let handle, let opaque else { return }
        Unmanaged<ConsumerCore>.fromOpaque(opaque).takeUnretainedValue().rebalance(handle, err, partitions)
    }

private let consumerErrorCallback:
    @convention(c) (OpaquePointer?, Int32, UnsafePointer<CChar>?, UnsafeMutableRawPointer?) -> Void = {
        handle, err, reason, opaque in
        guard let opaque else { return }
        Unmanaged<ConsumerCore>.fromOpaque(opaque).takeUnretainedValue()
            .clientError(code: err, reason: reason.map { String(cString: $0) } ?? "unknown", handle: handle)
    }

private let consumerStatsCallback:
    @convention(c) (OpaquePointer?, UnsafeMutablePointer<CChar>?, Int, UnsafeMutableRawPointer?) -> Int32 = {
        _, json, _, opaque in
        guard let json, let opaque else { return 0 }
        let group = Unmanaged<ConsumerCore>.fromOpaque(opaque).takeUnretainedValue().groupID
        KafkaStatistics.publish(json: String(cString: json), client: "consumer", group: group)
        return 0  // librdkafka frees the JSON
    }

// MARK: - Shared state between the poll thread and the iterator

/// State shared by the poll thread (producer side of the buffer, rebalance callbacks) and the iterating task.
final class ConsumerCore: @unchecked Sendable {
    /// The consumer group id, for the lag metric's `group` label.
    let groupID: String
    // Everything below `condition` is guarded by it; `epoch` is also mirrored in an atomic for a cheap check.
    private let condition = NSCondition()
    private var buffer: [ConsumerMessage] = []
    private var waiter: CheckedContinuation<Batch?, Never>?
    private var finished = false
    private var assigned: Set<TopicPartition> = []
    private var revokedAtEpoch: [TopicPartition: Int] = [:]
    private var joined = false
    private var lastErrorText: String?
    private var fatal: KafkaError?
    private let epochCounter = Atomic<Int>(0)

    private let capacity: Int
    let logger: Logger
    private let revocationHandler: KafkaConsumer.RevocationHandler?
    private var topicNames: [OpaquePointer: String] = [:]  // poll thread only
    private var pausedForBackPressure: Set<TopicPartition> = []  // poll thread only
    private var fullSince: ContinuousClock.Instant?  // poll thread only
    private let consumedCounter = Counter(label: "crmhub_kafka_consumed_messages_total")

    struct Batch {
        var messages: [ConsumerMessage]
        var epoch: Int
    }

    init(capacity: Int, groupID: String, logger: Logger, revocationHandler: KafkaConsumer.RevocationHandler?) {
        self.capacity = max(capacity, 1)
        self.groupID = groupID
        self.logger = logger
        self.revocationHandler = revocationHandler
    }

    var currentEpoch: Int { epochCounter.load(ordering: .acquiring) }
    var assignment: Set<TopicPartition> { condition.withLock { assigned } }
    func isAssigned(_ partition: TopicPartition) -> Bool { condition.withLock { assigned.contains(partition) } }
    var hasJoinedGroup: Bool { condition.withLock { joined } }
    var lastError: String? { condition.withLock { lastErrorText } }
    var fatalError: KafkaError? { condition.withLock { fatal } }

    // MARK: Iterator side

    /// Takes everything buffered, waiting for messages if there are none. Nil when finished.
    func take() async -> Batch? {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Batch?, Never>) in
                condition.lock()
                if !buffer.isEmpty {
                    let batch = Batch(messages: buffer, epoch: epochCounter.load(ordering: .relaxed))
                    buffer = []
                    condition.broadcast()
                    condition.unlock()
                    continuation.resume(returning: batch)
                } else if finished || Task.isCancelled {
                    condition.unlock()
                    continuation.resume(returning: nil)
                } else {
                    waiter = continuation
                    condition.unlock()
                }
            }
        } onCancel: {
            condition.lock()
            let pending = waiter
            waiter = nil
            condition.unlock()
            pending?.resume(returning: nil)
        }
    }

    /// Filters messages taken at `epoch` down to partitions that were not revoked since.
    func stillOwned(_ messages: [ConsumerMessage], takenAt epoch: Int) -> ([ConsumerMessage], Int) {
        condition.withLock {
            let now = epochCounter.load(ordering: .relaxed)
            let kept = messages.filter { message in
                guard let revokedAt = revokedAtEpoch[message.topicPartition] else { return true }
                return revokedAt <= epoch
            }
            return (kept, now)
        }
    }

    /// Ends the sequence and wakes everyone.
    func finish(error: KafkaError? = nil) {
        condition.lock()
        finished = true
        if let error, fatal == nil { fatal = error }
        let pending = waiter
        waiter = nil
        // Messages still buffered are abandoned: they were never handed out, so they are not committed either.
        buffer = []
        condition.broadcast()
        condition.unlock()
        pending?.resume(returning: nil)
    }

    // MARK: Poll-thread side

    func pollStep(consumerQueue: OpaquePointer, logQueue: OpaquePointer, client: RDKafkaClient, batchSize: Int) {
        var drained = 0
        while drained < 100, let event = rd_kafka_queue_poll(logQueue, 0) {
            if rd_kafka_event_type(event) == RD_KAFKA_EVENT_LOG { client.forwardLog(event) }
            rd_kafka_event_destroy(event)
            drained += 1
        }
        // Back-pressure. A full buffer first just stops this thread from taking more (librdkafka's own fetch queue,
        // bounded by queued.max.messages.kbytes, then stops fetching): the cheap case of a consumer that is briefly
        // behind. If the buffer stays full for a second (a slow target, a retry tier waiting for a due time), the
        // assigned partitions are paused and the queue is served again, so rebalances and max.poll.interval.ms keep
        // working however long the application takes; they resume once the buffer is half empty. (Never call
        // rd_kafka_poll here: with the main queue forwarded to the consumer queue, librdkafka asserts on the fetched
        // messages it finds there.)
        condition.lock()
        if buffer.count >= capacity && !finished {
            _ = condition.wait(until: Date(timeIntervalSinceNow: 0.05))
        }
        let count = buffer.count
        let done = finished
        let assignedNow = assigned
        condition.unlock()
        if done {
            usleep(10_000)
            return
        }
        if count >= capacity {
            let since = fullSince ?? .now
            fullSince = since
            guard since.duration(to: .now) >= .seconds(1) else { return }
            let toPause = assignedNow.subtracting(pausedForBackPressure)
            if !toPause.isEmpty {
                let list = TopicPartitionList(Array(toPause))
                if rd_kafka_pause_partitions(client.handle, list.pointer) == RD_KAFKA_RESP_ERR_NO_ERROR {
                    pausedForBackPressure.formUnion(toPause)
                    logger.debug(
                        "buffer full for 1 s: partitions paused",
                        metadata: ["partitions": "\(toPause.map(\.description).sorted())"])
                }
            }
        } else {
            fullSince = nil
            if count <= capacity / 2 && !pausedForBackPressure.isEmpty {
                let toResume = pausedForBackPressure.intersection(assignedNow)
                if !toResume.isEmpty {
                    let list = TopicPartitionList(Array(toResume))
                    _ = rd_kafka_resume_partitions(client.handle, list.pointer)
                }
                pausedForBackPressure = []
            }
        }
        var raw = [UnsafeMutablePointer<rd_kafka_message_t>?](repeating: nil, count: batchSize)
        let received = rd_kafka_consume_batch_queue(consumerQueue, 100, &raw, batchSize)
        guard received > 0 else { return }
        var messages: [ConsumerMessage] = []
        messages.reserveCapacity(received)
        for index in 0..<received {
            guard let pointer = raw[index] else { continue }
            defer { rd_kafka_message_destroy(pointer) }
            if pointer.pointee.err != RD_KAFKA_RESP_ERR_NO_ERROR {
                messageError(pointer)
                continue
            }
            messages.append(convert(pointer))
        }
        guard !messages.isEmpty else { return }
        consumedCounter.increment(by: messages.count)
        condition.lock()
        lastErrorText = nil
        if finished {
            condition.unlock()
            return
        }
        if buffer.isEmpty {
            buffer = messages
        } else {
            buffer.append(contentsOf: messages)
        }
        if let pending = waiter {
            waiter = nil
            let batch = Batch(messages: buffer, epoch: epochCounter.load(ordering: .relaxed))
            buffer = []
            condition.unlock()
            pending.resume(returning: batch)
        } else {
            condition.unlock()
        }
    }

    private func convert(_ pointer: UnsafeMutablePointer<rd_kafka_message_t>) -> ConsumerMessage {
        let handle: OpaquePointer = pointer.pointee.rkt
        let topic: String
        if let cached = topicNames[handle] {
            topic = cached
        } else {
            topic = String(cString: rd_kafka_topic_name(handle))
            topicNames[handle] = topic
        }
        return ConsumerMessage(copying: pointer, topic: topic)
    }

    private func messageError(_ pointer: UnsafeMutablePointer<rd_kafka_message_t>) {
        let err = pointer.pointee.err
        let text = String(cString: rd_kafka_err2str(err))
        let topic = pointer.pointee.rkt.map { String(cString: rd_kafka_topic_name($0)) } ?? "-"
        logger.warning(
            "kafka consumer error",
            metadata: ["error": "\(text)", "topic": "\(topic)", "partition": "\(pointer.pointee.partition)"])
        condition.withLock { lastErrorText = text }
        if err == RD_KAFKA_RESP_ERR__FATAL {
            finish(error: .from(err, .consume, context: "consumer"))
        }
    }

    func clientError(code: Int32, reason: String, handle: OpaquePointer?) {
        let err = rd_kafka_resp_err_t(rawValue: code)
        if err == RD_KAFKA_RESP_ERR__FATAL, let handle {
            var text = [CChar](repeating: 0, count: 512)
            let original = rd_kafka_fatal_error(handle, &text, text.count)
            let error = KafkaError.from(
                original, .consume, context: "fatal consumer error: \(RDKafkaClient.text(text))")
            logger.critical("kafka consumer fatal error", metadata: ["error": "\(error.reason)"])
            finish(error: error)
            return
        }
        logger.warning("kafka consumer error", metadata: ["error": "\(reason)", "code": "\(code)"])
        condition.withLock { lastErrorText = reason }
        Counter(label: "crmhub_kafka_client_errors_total", dimensions: [("client", "consumer")]).increment()
    }

    func rebalance(
        _ handle: OpaquePointer, _ err: rd_kafka_resp_err_t,
        _ list: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>?
    ) {
        let partitions = TopicPartitionList.partitions(of: list).map(\.topicPartition)
        let cooperative = String(cString: rd_kafka_rebalance_protocol(handle)) == "COOPERATIVE"
        switch err {
        case RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS:
            if cooperative {
                if let error = rd_kafka_incremental_assign(handle, list) {
                    logger.error(
                        "incremental assign failed",
                        metadata: ["error": "\(String(cString: rd_kafka_error_string(error)))"])
                    rd_kafka_error_destroy(error)
                }
            } else {
                rd_kafka_assign(handle, list)
            }
            condition.withLock {
                assigned.formUnion(partitions)
                joined = true
            }
            pausedForBackPressure.subtract(partitions)  // a new assignment starts unpaused
            logger.info("partitions assigned", metadata: ["partitions": "\(partitions.map(\.description).sorted())"])
        case RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS:
            condition.withLock {
                let epoch = epochCounter.wrappingAdd(1, ordering: .releasing).newValue
                let revoked = Set(partitions)
                assigned.subtract(revoked)
                for partition in revoked { revokedAtEpoch[partition] = epoch }
                buffer.removeAll { revoked.contains($0.topicPartition) }
                condition.broadcast()
            }
            pausedForBackPressure.subtract(partitions)
            let lost = rd_kafka_assignment_lost(handle) != 0
            if !lost, let revocationHandler {
                let offsets = revocationHandler(partitions)
                if !offsets.isEmpty {
                    let commitList = TopicPartitionList(offsets)
                    let result = rd_kafka_commit(handle, commitList.pointer, 0)
                    logger.info(
                        "committed done offsets of revoked partitions",
                        metadata: [
                            "offsets": "\(offsets.map(\.description))",
                            "result": "\(String(cString: rd_kafka_err2str(result)))",
                        ])
                }
            }
            if cooperative {
                if let error = rd_kafka_incremental_unassign(handle, list) { rd_kafka_error_destroy(error) }
            } else {
                rd_kafka_assign(handle, nil)
            }
            logger.info(
                "partitions revoked",
                metadata: ["partitions": "\(partitions.map(\.description).sorted())", "lost": "\(lost)"])
        default:
            logger.error("rebalance error", metadata: ["error": "\(String(cString: rd_kafka_err2str(err)))"])
            rd_kafka_assign(handle, nil)
            condition.withLock { assigned = [] }
        }
    }
}

extension ConsumerMessage {
    /// Copies a librdkafka message (key, value, headers, timestamp) into Swift values; `topic` is its topic's name.
    init(copying pointer: UnsafeMutablePointer<rd_kafka_message_t>, topic: String) {
        let message = pointer.pointee
        let value = message.payload.map { Array(UnsafeRawBufferPointer(start: $0, count: message.len)) } ?? []
        let key = message.key.map { Array(UnsafeRawBufferPointer(start: $0, count: message.key_len)) }
        var headers: [KafkaHeader] = []
        var headerList: OpaquePointer?
        if rd_kafka_message_headers(pointer, &headerList) == RD_KAFKA_RESP_ERR_NO_ERROR, let headerList {
            var index = 0
            var name: UnsafePointer<CChar>?
            var valuePointer: UnsafeRawPointer?
            var size = 0
            while rd_kafka_header_get_all(headerList, index, &name, &valuePointer, &size) == RD_KAFKA_RESP_ERR_NO_ERROR
            {
                let bytes = valuePointer.map { Array(UnsafeRawBufferPointer(start: $0, count: size)) } ?? []
                headers.append(KafkaHeader(key: name.map { String(cString: $0) } ?? "", value: bytes))
                index += 1
            }
        }
        var timestampType = RD_KAFKA_TIMESTAMP_NOT_AVAILABLE
        let timestamp = rd_kafka_message_timestamp(pointer, &timestampType)
        self.init(
            topicPartition: TopicPartition(topic: topic, partition: message.partition), offset: message.offset,
            key: key, value: value, headers: headers, timestampMilliseconds: timestamp >= 0 ? timestamp : nil,
            isTombstone: message.payload == nil)
    }
}
