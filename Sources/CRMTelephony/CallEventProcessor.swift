import CRMConnector
import CRMDelivery
import CRMKafka
import CRMModel
import CRMNormalize
import Logging
import Metrics

/// Turns call events into Kafka messages: a screen-pop (caller normalised to E.164 and looked up) when a call rings,
/// one Interaction when it ends. Messages are enqueued without waiting for the acknowledgement (the next event must
/// not wait for the broker); the acknowledgement of each screen-pop records the latency from the event's arrival at
/// the hub to the broker's acknowledgement in the `crmhub_cti_screenpop_latency_seconds` timer and in ``latencies``.
public actor CallEventProcessor {
    /// Where and how to publish.
    public struct Configuration: Sendable {
        /// The connector's name (metric dimension, message header).
        public var name: String
        /// Topic for Interaction records, keyed `call-<Call-ID>`.
        public var interactionTopic: String
        /// Topic for screen-pops, keyed by the agent's extension.
        public var screenPopTopic: String
        /// ISO 3166 region for numbers dialled without an international prefix. Default "GB".
        public var defaultRegion: String = "GB"
        /// Default inbound: the caller is the customer.
        public var direction: CallDirection = .inbound
        /// The first wait before an Interaction the broker did not take is enqueued again (doubling to 30 s).
        public var redeliveryBackoff: Duration = .seconds(1)
        /// Interactions that may wait for a redelivery at once. Default 100,000 (about 60 MB).
        public var maxRedeliveries: Int = 100_000

        public init(name: String, interactionTopic: String, screenPopTopic: String) {
            self.name = name
            self.interactionTopic = interactionTopic
            self.screenPopTopic = screenPopTopic
        }
    }

    public nonisolated let configuration: Configuration
    /// Event-arrival → screen-pop acknowledged, most recent samples.
    public nonisolated let latencies: LatencyRecorder
    private let emitter: SourceEmitter
    private let lookup: any CustomerLookup
    private let tracker: CallTracker
    private let logger: Logger
    private let latencyTimer: Timer
    private let produceFailures: Counter
    private var customers: [String: (e164: String?, match: CustomerMatch?)] = [:]
    private var counts = (screenPops: 0, interactions: 0)

    public init(
        configuration: Configuration, producer: KafkaProducer, lookup: any CustomerLookup,
        tracker: CallTracker = CallTracker(),
        latencies: LatencyRecorder = LatencyRecorder(), logger: Logger
    ) {
        self.configuration = configuration
        emitter = SourceEmitter(connector: configuration.name, producer: producer)
        self.lookup = lookup
        self.tracker = tracker
        self.latencies = latencies
        self.logger = logger
        latencyTimer = Timer(
            label: "crmhub_cti_screenpop_latency_seconds", dimensions: [("connector", configuration.name)],
            preferredDisplayUnit: .seconds)
        produceFailures = Counter(
            label: "crmhub_cti_produce_failures_total", dimensions: [("connector", configuration.name)])
    }

    /// Screen-pops and Interactions enqueued so far.
    public var published: (screenPops: Int, interactions: Int) { counts }

    /// Handles one event that arrived at `arrivedAt`; returns once its messages are enqueued (not acknowledged).
    public func process(_ event: CallEvent, arrivedAt: ContinuousClock.Instant) async {
        _ = await handle(event, arrivedAt: arrivedAt, report: nil)
    }

    /// Handles one event and returns once the broker decided on every message it produced, for a source that can
    /// tell its sender (Kamailio's http_client) whether the event was stored. Cancelling the caller stops the wait,
    /// not the messages.
    public func processAcknowledged(_ event: CallEvent, arrivedAt: ContinuousClock.Instant) async -> CallEventReceipt {
        let (reports, continuation) = AsyncStream.makeStream(of: String?.self)
        let produced = await handle(event, arrivedAt: arrivedAt, report: continuation)
        guard produced > 0 else { return .stored(messages: 0) }
        var settled = 0
        var failure: String?
        for await report in reports {
            settled += 1
            if let report, failure == nil { failure = report }
            if settled == produced { break }
        }
        if let failure { return .notStored(reason: failure) }
        return settled == produced
            ? .stored(messages: produced) : .notStored(reason: "cancelled while waiting for the broker")
    }

    /// Applies `event` and enqueues what it produces; each message's outcome (nil: acknowledged, else the reason) goes
    /// to `report`. Returns how many messages it enqueued or tried to.
    private func handle(
        _ event: CallEvent, arrivedAt: ContinuousClock.Instant, report: AsyncStream<String?>.Continuation?
    ) async -> Int {
        Counter(
            label: "crmhub_cti_events_total",
            dimensions: [("connector", configuration.name), ("event", event.kind.rawValue)]
        )
        .increment()
        let actions = await tracker.handle(event)
        for action in actions {
            switch action {
            case .screenPop(let ringing): await screenPop(ringing, arrivedAt: arrivedAt, report: report)
            case .interaction(let record): await interaction(record, report: report)
            }
        }
        return actions.count
    }

    /// Publishes the Interactions of calls whose end event never came (see ``CallTracker/expire(now:)``).
    public func expireCalls(now: Double) async {
        for action in await tracker.expire(now: now) {
            if case .interaction(let record) = action { await interaction(record) }
        }
    }

    /// After a reconnect: publishes, as `unended`, the Interactions of `source`'s open calls that are no longer active
    /// (see ``CallTracker/closeCalls(of:notIn:)``).
    public func resync(source: String, activeCalls: Set<String>) async {
        let actions = await tracker.closeCalls(of: source, notIn: activeCalls)
        logger.info(
            "CTI source resynchronised after connecting",
            metadata: [
                "connector": "\(configuration.name)", "active": "\(activeCalls.count)",
                "endedWhileAway": "\(actions.count)",
            ])
        for action in actions {
            if case .interaction(let record) = action { await interaction(record) }
        }
    }

    private func customerNumber(from: String, to: String) -> String {
        configuration.direction == .inbound ? from : to
    }

    private func resolve(_ number: String, callID: String) async -> (e164: String?, match: CustomerMatch?) {
        if let known = customers[callID] { return known }
        let e164: String?
        do {
            e164 = try PhoneNumber.e164(number, defaultRegion: configuration.defaultRegion)
        } catch {
            logger.debug(
                "caller number not normalisable", metadata: ["call": "\(callID)", "reason": "\(error.reason)"])
            e164 = nil
        }
        var match: CustomerMatch?
        if let e164 {
            do {
                match = try await lookup.customer(forPhone: e164)
            } catch {
                logger.warning("customer lookup failed", metadata: ["call": "\(callID)", "error": "\(error)"])
            }
        }
        if customers.count >= 50_000 { customers.removeAll() }  // calls that never ended; bounded memory
        customers[callID] = (e164, match)
        return (e164, match)
    }

    private func screenPop(
        _ event: CallEvent, arrivedAt: ContinuousClock.Instant, report: AsyncStream<String?>.Continuation? = nil
    ) async {
        let number = customerNumber(from: event.from, to: event.to)
        let agent = configuration.direction == .inbound ? event.to : event.from
        let (e164, match) = await resolve(number, callID: event.callID)
        let value = CTIMessages.screenPop(event, agent: agent, callerNumber: number, callerE164: e164, customer: match)
        let message = ProducerMessage(
            topic: configuration.screenPopTopic, key: Array(agent.utf8), value: value.jsonBytes(),
            headers: [KafkaHeader(key: "crmhub-connector", text: configuration.name)])
        let latencies = latencies
        let timer = latencyTimer
        let failures = produceFailures
        let logger = logger
        let callID = event.callID
        counts.screenPops += 1
        do {
            try emitter.enqueue(message) { result in
                switch result {
                case .success:
                    let elapsed = ContinuousClock.now - arrivedAt
                    latencies.record(elapsed)
                    timer.recordNanoseconds(Self.nanoseconds(elapsed))
                    report?.yield(nil)
                case .failure(let error):
                    failures.increment()
                    logger.error("screen-pop not delivered", metadata: ["call": "\(callID)", "error": "\(error)"])
                    report?.yield("screen-pop not delivered: \(error.reason)")
                }
            }
        } catch {
            failures.increment()
            logger.error("screen-pop not enqueued", metadata: ["call": "\(callID)", "error": "\(error)"])
            report?.yield("screen-pop not enqueued: \(error.reason)")
        }
    }

    private func interaction(_ record: CallRecord, report: AsyncStream<String?>.Continuation? = nil) async {
        if record.outcome == .unended {
            Counter(label: "crmhub_cti_calls_unended_total", dimensions: [("connector", configuration.name)])
                .increment()
            logger.warning(
                "call closed without an end event (events lost while disconnected?); its Interaction says outcome unended",
                metadata: ["call": "\(record.callID)"])
        }
        let number = customerNumber(from: record.from, to: record.to)
        let (e164, match) = await resolve(number, callID: record.callID)
        customers.removeValue(forKey: record.callID)
        let value = CTIMessages.interaction(
            record, direction: configuration.direction, customerPhone: e164, customer: match)
        let message = ProducerMessage(
            topic: configuration.interactionTopic, key: Array("call-\(record.callID)".utf8), value: value.jsonBytes(),
            headers: [
                KafkaHeader(key: "crmhub-connector", text: configuration.name),
                KafkaHeader(key: "crmhub-entity", text: "Interaction"),
            ])
        counts.interactions += 1
        publishInteraction(message, callID: record.callID, attempt: 1, report: report)
    }

    /// Enqueues an Interaction; one the broker did not take (an outage longer than the producer's delivery timeout)
    /// is enqueued again after a backoff (1 s doubling to 30 s), for as long as the hub runs. At most
    /// `maxRedeliveries` wait at once; beyond that further ones are given up, counted and logged.
    /// Screen-pops are not retried: a late one would pop a call that is over.
    private func publishInteraction(
        _ message: ProducerMessage, callID: String, attempt: Int, report: AsyncStream<String?>.Continuation?
    ) {
        let failures = produceFailures
        let logger = logger
        do {
            try emitter.enqueue(message) { [weak self] result in
                switch result {
                case .success:
                    report?.yield(nil)
                case .failure(let error):
                    failures.increment()
                    logger.error(
                        "interaction not delivered; retrying",
                        metadata: ["call": "\(callID)", "attempt": "\(attempt)", "error": "\(error)"])
                    report?.yield("interaction not delivered: \(error.reason)")
                    Task { await self?.redeliver(message, callID: callID, attempt: attempt + 1) }
                }
            }
        } catch {
            failures.increment()
            logger.error(
                "interaction not enqueued; retrying",
                metadata: ["call": "\(callID)", "attempt": "\(attempt)", "error": "\(error)"])
            report?.yield("interaction not enqueued: \(error.reason)")
            Task { await redeliver(message, callID: callID, attempt: attempt + 1) }
        }
    }

    /// Interactions waiting to be enqueued again (see ``publishInteraction``).
    public private(set) var waitingRedeliveries = 0

    private func redeliver(_ message: ProducerMessage, callID: String, attempt: Int) async {
        guard waitingRedeliveries < configuration.maxRedeliveries else {
            Counter(label: "crmhub_cti_interactions_dropped_total", dimensions: [("connector", configuration.name)])
                .increment()
            logger.critical(
                "interaction given up: too many waiting for the broker",
                metadata: ["call": "\(callID)", "waiting": "\(waitingRedeliveries)"])
            return
        }
        waitingRedeliveries += 1
        Counter(label: "crmhub_cti_interaction_retries_total", dimensions: [("connector", configuration.name)])
            .increment()
        let backoff = Backoff(initial: configuration.redeliveryBackoff, maximum: .seconds(30)).delay(
            afterAttempt: attempt - 1)
        try? await Task.sleep(for: backoff)
        waitingRedeliveries -= 1
        publishInteraction(message, callID: callID, attempt: attempt, report: nil)
    }

    static func nanoseconds(_ duration: Duration) -> Int64 {
        let (seconds, attoseconds) = duration.components
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }
}

/// What became of one call event handed over by a sender that waits for the answer (Kamailio's http_client).
public enum CallEventReceipt: Sendable, Equatable {
    /// Handled; the broker acknowledged every message it produced (`messages`, possibly none: an answer only updates
    /// the call's state).
    case stored(messages: Int)
    /// Not a call event; the reason names what is wrong (never the content).
    case invalid(reason: String)
    /// Handled, but the broker refused or did not confirm a message it produced.
    case notStored(reason: String)
}
