import CRDKafka
import Dispatch
import Foundation
import Logging
import Metrics
import Synchronization

/// An idempotent Kafka producer. `send` returns when the broker acknowledged the message (`acks=all` by default);
/// `enqueue` hands the acknowledgement to a callback, for callers that keep many messages in flight.
///
/// librdkafka's delivery reports, logs, errors and statistics arrive on its event queue, which a dedicated
/// thread polls; no blocking call runs on Swift's cooperative pool.
public final class KafkaProducer: Sendable {
    /// Called once per message with the broker's acknowledgement or the final error.
    public typealias DeliveryHandler = @Sendable (Result<DeliveryReport, KafkaError>) -> Void

    let client: RDKafkaClient
    private let mainQueue: UnsafeSendableHandle
    private let poller: PollThread
    private let events: ProducerEventHandler

    /// Creates the producer and starts its poll thread.
    public init(configuration: KafkaProducerConfiguration, logger: Logger) throws(KafkaError) {
        let client = try RDKafkaClient.make(
            type: RD_KAFKA_PRODUCER, properties: configuration.properties,
            secrets: configuration.client.secretProperties, logger: logger
        ) {
            conf in
            rd_kafka_conf_set_events(
                conf, RD_KAFKA_EVENT_DR | RD_KAFKA_EVENT_LOG | RD_KAFKA_EVENT_ERROR | RD_KAFKA_EVENT_STATS)
        }
        self.client = client
        self.mainQueue = UnsafeSendableHandle(rd_kafka_queue_get_main(client.handle))
        rd_kafka_set_log_queue(client.handle, nil)  // logs go to the main queue as events
        let events = ProducerEventHandler(client: client, purpose: configuration.purpose)
        self.events = events
        self.poller = PollThread(name: "poll:producer")
        let queue = mainQueue
        poller.start {
            // Runs on the poll thread until stopped.
            guard let event = rd_kafka_queue_poll(queue.pointer, 100) else { return }
            defer { rd_kafka_event_destroy(event) }
            events.handle(event)
        }
    }

    deinit {
        poller.stop()
        rd_kafka_queue_destroy(mainQueue.pointer)
        client.destroy()
    }

    /// Produces `message` and waits for the broker's acknowledgement. When librdkafka's local queue is full it
    /// waits (asynchronously) for room.
    @discardableResult
    public func send(_ message: ProducerMessage) async throws(KafkaError) -> DeliveryReport {
        while true {
            let outcome = await withCheckedContinuation {
                (continuation: CheckedContinuation<Result<DeliveryReport, KafkaError>?, Never>) in
                do throws(KafkaError) {
                    try self.enqueue(message) { continuation.resume(returning: $0) }
                } catch  where error.rdkafkaCode == RD_KAFKA_RESP_ERR__QUEUE_FULL.rawValue {
                    continuation.resume(returning: nil)
                } catch {
                    continuation.resume(returning: .failure(error))
                }
            }
            if let outcome { return try outcome.get() }
            if Task.isCancelled { throw KafkaError(.produce, reason: "cancelled while the local queue was full") }
            try? await Task.sleep(for: .milliseconds(1))
        }
    }

    /// Enqueues `message`; `onDelivery` runs on the poll thread once the broker acknowledged it or it failed for good.
    /// Throws at once if librdkafka refuses it (queue full, message too large, unknown topic with auto-create off).
    public func enqueue(_ message: ProducerMessage, onDelivery: @escaping DeliveryHandler) throws(KafkaError) {
        try enqueue(message, context: DeliveryContext(.handler(onDelivery), payload: message.value))
    }

    /// Enqueues `message`; `receiver` gets its delivery report with `tag` on the poll thread, as `onDelivery` would in
    /// ``enqueue(_:onDelivery:)``. For callers with many messages in flight (batch imports): the message costs one
    /// allocation, where a closure that captures something costs one more, freed on the poll thread.
    public func enqueue(_ message: ProducerMessage, tag: Int, to receiver: any DeliveryReceiver) throws(KafkaError) {
        try enqueue(message, context: DeliveryContext(.receiver(receiver, tag: tag), payload: message.value))
    }

    private func enqueue(_ message: ProducerMessage, context: DeliveryContext) throws(KafkaError) {
        // The context keeps the payload alive until the delivery report: librdkafka sends it from where it is.
        let context = Unmanaged.passRetained(context)
        let error = Self.produce(message, on: client.handle, opaque: context.toOpaque())
        if let error {
            context.release()
            throw KafkaError.consuming(error, .produce, context: "enqueue to \(message.topic)")
        }
    }

    /// Waits until every enqueued message is acknowledged or failed, up to `timeout`. Returns false on timeout.
    public func flush(timeout: Duration) async -> Bool {
        let milliseconds = Int32(
            clamping: timeout.components.seconds * 1000 + timeout.components.attoseconds / 1_000_000_000_000_000)
        let handle = UnsafeSendableHandle(client.handle)
        return await Blocking.run { rd_kafka_flush(handle.pointer, milliseconds) == RD_KAFKA_RESP_ERR_NO_ERROR }
    }

    /// Messages enqueued but not yet acknowledged (librdkafka's out-queue length).
    public var outstandingMessages: Int { Int(rd_kafka_outq_len(client.handle)) }

    /// The last connection-level error librdkafka reported since the last successful delivery, if any.
    public var lastError: String? { events.lastError }

    /// Flushes up to `timeout`, fails what is left with a purge error (so every handler runs), and stops polling.
    public func shutdown(timeout: Duration = .seconds(10)) async {
        if await flush(timeout: timeout) == false {
            client.logger.warning(
                "producer flush timed out; purging undelivered messages",
                metadata: ["outstanding": "\(outstandingMessages)"])
            rd_kafka_purge(client.handle, Int32(RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT))
            _ = await flush(timeout: .seconds(2))
        }
        poller.stop()
    }

    // MARK: - Transactions (exactly-once consume-transform-produce)

    /// Initialises transactions; call once before the first `beginTransaction`. Requires `transactionalID`.
    public func initTransactions(timeout: Duration = .seconds(30)) async throws(KafkaError) {
        try await transactionCall("init transactions") { rd_kafka_init_transactions($0, Self.ms(timeout)) }
    }

    /// Begins a transaction.
    public func beginTransaction() throws(KafkaError) {
        if let error = rd_kafka_begin_transaction(client.handle) {
            throw KafkaError.consuming(error, .transaction, context: "begin transaction")
        }
    }

    /// Adds the consumer's offsets to the current transaction, so they commit atomically with the produced messages.
    public func sendOffsetsToTransaction(
        _ offsets: [TopicPartitionOffset], consumer: KafkaConsumer, timeout: Duration = .seconds(30)
    ) async throws(KafkaError) {
        let list = TopicPartitionList(offsets)
        guard let metadata = rd_kafka_consumer_group_metadata(consumer.client.handle) else {
            throw KafkaError(.transaction, reason: "consumer has no group metadata")
        }
        let sendableMetadata = UnsafeSendableHandle(metadata)
        defer { rd_kafka_consumer_group_metadata_destroy(metadata) }
        try await transactionCall("send offsets to transaction") {
            rd_kafka_send_offsets_to_transaction($0, list.pointer, sendableMetadata.pointer, Self.ms(timeout))
        }
    }

    /// Commits the current transaction (flushing its messages first).
    public func commitTransaction(timeout: Duration = .seconds(30)) async throws(KafkaError) {
        try await transactionCall("commit transaction") { rd_kafka_commit_transaction($0, Self.ms(timeout)) }
    }

    /// Aborts the current transaction; its messages are never visible to read_committed consumers.
    public func abortTransaction(timeout: Duration = .seconds(30)) async throws(KafkaError) {
        try await transactionCall("abort transaction") { rd_kafka_abort_transaction($0, Self.ms(timeout)) }
    }

    private func transactionCall(
        _ what: String, _ call: @escaping @Sendable (OpaquePointer) -> OpaquePointer?
    ) async throws(KafkaError) {
        let handle = UnsafeSendableHandle(client.handle)
        let error = await Blocking.run { call(handle.pointer).map(UnsafeSendableHandle.init) }
        if let error { throw KafkaError.consuming(error.pointer, .transaction, context: what) }
    }

    private static func ms(_ duration: Duration) -> Int32 {
        Int32(clamping: duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000)
    }

    // MARK: - C plumbing

    /// Calls `rd_kafka_produceva` for `message`.
    ///
    /// The value is not copied (no `RD_KAFKA_MSG_F_COPY`): librdkafka reads it from the array's storage until the
    /// delivery report, and the caller keeps that storage alive and unchanged until then (``DeliveryContext`` holds a
    /// reference to it; an array with another reference is copied before it is changed). The key, the topic and the
    /// headers are copied by librdkafka before `rd_kafka_produceva` returns; they are laid out in one temporary
    /// scratch buffer, and the argument list in another, so no heap allocation is made for them.
    private static func produce(
        _ message: ProducerMessage, on handle: OpaquePointer, opaque: UnsafeMutableRawPointer
    ) -> OpaquePointer? {
        var scratchSize = message.topic.utf8.count + 1
        for header in message.headers { scratchSize += header.key.utf8.count + 1 + header.value.count }
        let count = 4 + (message.key == nil ? 0 : 1) + (message.partition == nil ? 0 : 1) + message.headers.count
        return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: scratchSize) { scratch in
            withUnsafeTemporaryAllocation(of: rd_kafka_vu_t.self, capacity: count) { values in
                message.value.withUnsafeBytes { valueBytes in
                    (message.key ?? []).withUnsafeBytes { keyBytes in
                        var writer = ScratchWriter(buffer: scratch)
                        values.initialize(repeating: rd_kafka_vu_t())
                        var index = 0
                        values[index].vtype = RD_KAFKA_VTYPE_TOPIC
                        values[index].u.cstr = writer.cString(message.topic)
                        index += 1
                        values[index].vtype = RD_KAFKA_VTYPE_VALUE
                        // A tombstone is a null value (not an empty one): no pointer at all.
                        values[index].u.mem.ptr =
                            message.isTombstone ? nil : UnsafeMutableRawPointer(mutating: valueBytes.baseAddress)
                        values[index].u.mem.size = message.isTombstone ? 0 : valueBytes.count
                        index += 1
                        values[index].vtype = RD_KAFKA_VTYPE_MSGFLAGS
                        values[index].u.i = 0  // neither copied nor freed by librdkafka: see above
                        index += 1
                        values[index].vtype = RD_KAFKA_VTYPE_OPAQUE
                        values[index].u.ptr = opaque
                        index += 1
                        if message.key != nil {
                            values[index].vtype = RD_KAFKA_VTYPE_KEY
                            values[index].u.mem.ptr = UnsafeMutableRawPointer(mutating: keyBytes.baseAddress)
                            values[index].u.mem.size = keyBytes.count
                            index += 1
                        }
                        if let partition = message.partition {
                            values[index].vtype = RD_KAFKA_VTYPE_PARTITION
                            values[index].u.i32 = partition
                            index += 1
                        }
                        for header in message.headers {
                            values[index].vtype = RD_KAFKA_VTYPE_HEADER
                            values[index].u.header.name = writer.cString(header.key)
                            values[index].u.header.val = writer.bytes(header.value)
                            values[index].u.header.size = header.value.count
                            index += 1
                        }
                        return rd_kafka_produceva(handle, values.baseAddress, count)
                    }
                }
            }
        }
    }

    /// Appends C strings and byte arrays to a scratch buffer sized for all of them, returning where each starts.
    private struct ScratchWriter {
        let buffer: UnsafeMutableBufferPointer<UInt8>
        var offset = 0

        /// Copies `text` and a NUL terminator; returns its start.
        mutating func cString(_ text: String) -> UnsafePointer<CChar> {
            let start = UnsafeRawPointer(buffer.baseAddress! + offset).assumingMemoryBound(to: CChar.self)
            // Native and small strings lend their bytes for one copy; others go byte by byte.
            let copied = text.utf8.withContiguousStorageIfAvailable { source -> Int in
                if let base = source.baseAddress {
                    (buffer.baseAddress! + offset).initialize(from: base, count: source.count)
                }
                return source.count
            }
            if let copied {
                offset += copied
            } else {
                for byte in text.utf8 {
                    buffer[offset] = byte
                    offset += 1
                }
            }
            buffer[offset] = 0
            offset += 1
            return start
        }

        /// Copies `bytes`; returns their start (a valid pointer even for none, as librdkafka takes size 0 with it).
        mutating func bytes(_ bytes: [UInt8]) -> UnsafeRawPointer {
            let start = buffer.baseAddress! + offset
            bytes.withUnsafeBufferPointer { source in
                if let base = source.baseAddress { start.initialize(from: base, count: source.count) }
            }
            offset += bytes.count
            return UnsafeRawPointer(start)
        }
    }

}

/// Receives the delivery reports of many messages, each enqueued with a tag
/// (``KafkaProducer/enqueue(_:tag:to:)``): one shared object instead of a closure per message.
public protocol DeliveryReceiver: AnyObject, Sendable {
    /// The broker's acknowledgement or the final error of the message enqueued with `tag`; called once per message,
    /// on the producer's poll thread.
    func delivered(tag: Int, _ result: Result<DeliveryReport, KafkaError>)
}

/// Per-message context passed to librdkafka as the message opaque: who is told of the delivery, and the payload
/// librdkafka reads in place until it reports the delivery.
final class DeliveryContext: Sendable {
    enum Target {
        case handler(KafkaProducer.DeliveryHandler)
        case receiver(any DeliveryReceiver, tag: Int)
    }

    let target: Target
    let payload: [UInt8]

    init(_ target: Target, payload: [UInt8]) {
        self.target = target
        self.payload = payload
    }

    func deliver(_ result: Result<DeliveryReport, KafkaError>) {
        switch target {
        case .handler(let handler): handler(result)
        case .receiver(let receiver, let tag): receiver.delivered(tag: tag, result)
        }
    }
}

/// A C pointer we promise to use only through thread-safe librdkafka calls.
struct UnsafeSendableHandle: @unchecked Sendable {
    let pointer: OpaquePointer
    init(_ pointer: OpaquePointer) { self.pointer = pointer }
}

/// Handles the producer's events on its poll thread: delivery reports, logs, errors, statistics.
final class ProducerEventHandler: Sendable {
    private let client: RDKafkaClient
    /// Enqueue to acknowledgement (`crmhub_kafka_produce_latency_seconds{producer}`).
    private let produceLatency: Timer
    private let clientErrors = Counter(label: "crmhub_kafka_client_errors_total", dimensions: [("client", "producer")])
    /// Latest error the client reported (e.g. all brokers down), cleared by the next successful delivery.
    private let lastErrorText = Mutex<String?>(nil)

    init(client: RDKafkaClient, purpose: String) {
        self.client = client
        produceLatency = Timer(
            label: "crmhub_kafka_produce_latency_seconds", dimensions: [("producer", purpose)],
            preferredDisplayUnit: .seconds)
    }

    var lastError: String? { lastErrorText.withLock { $0 } }

    func handle(_ event: OpaquePointer) {
        switch rd_kafka_event_type(event) {
        case RD_KAFKA_EVENT_DR:
            var delivered = false
            // The topic of the previous message: an event's messages are nearly always one topic's.
            var lastTopic: (handle: OpaquePointer, name: String)?
            while let message = rd_kafka_event_message_next(event) {
                guard let opaque = message.pointee._private else { continue }
                let context = Unmanaged<DeliveryContext>.fromOpaque(opaque).takeRetainedValue()
                // Microseconds from the produce call, measured by librdkafka (no clock read of our own per message).
                let microseconds = max(0, rd_kafka_message_latency(message))
                let pointee = message.pointee
                let topic: String
                if let rkt = pointee.rkt {
                    if let lastTopic, lastTopic.handle == rkt {
                        topic = lastTopic.name
                    } else {
                        topic = String(cString: rd_kafka_topic_name(rkt))
                        lastTopic = (rkt, topic)
                    }
                } else {
                    topic = "?"
                }
                if pointee.err == RD_KAFKA_RESP_ERR_NO_ERROR {
                    delivered = true
                    produceLatency.recordMicroseconds(microseconds)
                    let seconds = Double(microseconds) / 1e6
                    context.deliver(
                        .success(
                            DeliveryReport(
                                topicPartition: TopicPartition(topic: topic, partition: pointee.partition),
                                offset: pointee.offset, latency: seconds)))
                } else {
                    context.deliver(.failure(.from(pointee.err, .produce, context: "delivery to \(topic)")))
                }
            }
            if delivered { lastErrorText.withLock { $0 = nil } }
        case RD_KAFKA_EVENT_LOG:
            client.forwardLog(event)
        case RD_KAFKA_EVENT_ERROR:
            let code = rd_kafka_event_error(event)
            let text = String(cString: rd_kafka_event_error_string(event))
            let fatal = rd_kafka_event_error_is_fatal(event) != 0
            client.logger.log(
                level: fatal ? .critical : .warning, "kafka producer error",
                metadata: ["error": "\(text)", "code": "\(code.rawValue)", "fatal": "\(fatal)"])
            lastErrorText.withLock { $0 = text }
            clientErrors.increment()
        case RD_KAFKA_EVENT_STATS:
            if let json = rd_kafka_event_stats(event) {
                KafkaStatistics.publish(json: String(cString: json), client: "producer")
            }
        default:
            break
        }
    }
}
