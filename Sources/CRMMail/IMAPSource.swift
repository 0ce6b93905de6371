import CRMConnector
import CRMDelivery
import CRMKafka
import CRMMapping
import CRMModel
import CRMTransport
import Foundation
import Logging
import Metrics
import ServiceLifecycle
import Synchronization

/// Polls one IMAP mailbox and turns each new message into canonical records (a Ticket, through a mapping such as
/// `Mappings/inbound-email.yaml`) produced to Kafka.
///
/// Exactly what is finished is remembered in a ``MailboxStateStore`` by (mailbox, UIDVALIDITY, UID), written only
/// after Kafka acknowledged every record of the message; the message is then flagged with ``Settings/keyword`` on
/// the server for people looking at the mailbox (best effort: the store, not the flag, is the truth — fetching sets
/// `\Seen`, so that flag says nothing). Messages are handled in UID order and a Kafka failure stops the poll, so a
/// restart resumes at the first unfinished UID: no message is skipped. A crash between Kafka's acknowledgement and
/// the store's write produces that message again with the same `crm-id` (the Ticket id comes from the
/// Message-ID), which downstream deduplication drops. When UIDVALIDITY changes the mailbox is read again from the
/// start and messages whose Message-ID is already known are skipped. Up to ``Settings/maxInFlight`` messages'
/// records are enqueued to Kafka (in UID order) while the next ones are fetched; the store is still written in UID
/// order, each message after its own acknowledgement, so a failure leaves at most that many to be produced again
/// (same `crm-id`).
///
/// Bad input never stops the mailbox: mail the mapping cannot read (no From, ...) goes to the dead-letter topic
/// with the reason and its UID is finished; an unknown charset or broken MIME structure is read best-effort and
/// said in the document's `_mail.warnings` and the records' `crm-mail-warnings` header; a message longer than
/// ``Settings/maxMessageBytes`` is read up to that size only (`_mail.truncated`), so a 20 MiB attachment costs
/// neither memory nor time. Metrics: `crmhub_imap_messages_total{connector,outcome=produced|dropped|duplicate|dead_letter}`,
/// `crmhub_imap_read_warnings_total{connector}`, `crmhub_imap_truncated_total{connector}` and
/// `crmhub_imap_poll_failures_total{connector}`.
public final class IMAPSource: Service, Sendable {
    public struct Settings: Sendable {
        /// A name for logs, metrics and the state store (the connector name).
        public var name: String
        public var mailbox: String
        /// The topic for the mapping's records (e.g. `crm.ticket`).
        public var topic: String
        /// Where mail the mapping cannot read goes (the parsed mail as JSON, with the standard `crm-dlq-*` headers); nil
        /// logs it.
        public var deadLetterTopic: String?
        public var pollInterval: Duration
        /// The keyword set on finished messages.
        public var keyword: String
        /// At most this many messages per poll; a full batch is followed by the next poll at once.
        public var batchLimit: Int
        /// Messages whose records are enqueued to Kafka but not yet acknowledged, while the next ones are fetched.
        /// Default 32; 1 handles one message at a time.
        public var maxInFlight: Int = 32
        /// Only this many bytes of a message are fetched (headers and the text parts come first; attachments past
        /// the limit are not read). Default 10 MiB.
        public var maxMessageBytes: Int

        public init(
            name: String, mailbox: String = "INBOX", topic: String, deadLetterTopic: String? = nil,
            pollInterval: Duration = .seconds(30),
            keyword: String = "crmhub-processed", batchLimit: Int = 100, maxMessageBytes: Int = 10 << 20
        ) {
            self.maxMessageBytes = maxMessageBytes
            self.name = name
            self.mailbox = mailbox
            self.topic = topic
            self.deadLetterTopic = deadLetterTopic
            self.pollInterval = pollInterval
            self.keyword = keyword
            self.batchLimit = batchLimit
        }
    }

    /// What one poll did.
    public struct PollSummary: Sendable, Equatable {
        public var produced = 0
        public var dropped = 0
        public var duplicates = 0
        /// Mapping failures (sent to the dead-letter topic when there is one).
        public var failed = 0
        /// Messages read best-effort (see ``ParsedMail/warnings``).
        public var withWarnings = 0
        /// Messages longer than ``Settings/maxMessageBytes``, read up to it.
        public var truncated = 0
        public var uidValidity: UInt32 = 0
        /// Whether the batch limit was reached (more messages are waiting).
        public var batchFull = false
    }

    /// Where the source's mapping comes from: fixed, or looked up by name in the hub's mappings folder on every mail
    /// (so a SIGHUP reload reaches the source).
    public enum MappingSource: Sendable {
        case fixed(CompiledMapping, MappingContext)
        case registry(MappingRegistry, name: String)

        /// The mapping to apply now, or nil when a reload removed it.
        var current: (mapping: CompiledMapping, context: MappingContext)? {
            switch self {
            case .fixed(let mapping, let context): (mapping, context)
            case .registry(let registry, let name): registry.transform(named: name).map { ($0.mapping, $0.context) }
            }
        }

        var name: String {
            switch self {
            case .fixed(let mapping, _): mapping.name
            case .registry(_, let name): name
            }
        }
    }

    public let settings: Settings
    private let client: IMAPClient
    private let emitter: SourceEmitter
    private let mapping: MappingSource
    private let state: MailboxStateStore
    private let logger: Logger
    private let metrics: SourceMetrics

    public init(
        settings: Settings, client: IMAPClient, emitter: SourceEmitter, mapping: MappingSource,
        state: MailboxStateStore,
        logger: Logger = Logger(label: "crmhub.imap-source")
    ) {
        self.settings = settings
        self.client = client
        self.emitter = emitter
        self.mapping = mapping
        self.state = state
        var logger = logger
        logger[metadataKey: "source"] = "\(settings.name)"
        self.logger = logger
        metrics = SourceMetrics(connector: settings.name)
    }

    /// A source with a fixed mapping, producing through its own emitter on `producer`.
    public convenience init(
        settings: Settings, client: IMAPClient, producer: KafkaProducer, mapping: CompiledMapping,
        mappingContext: MappingContext = MappingContext(),
        state: MailboxStateStore, logger: Logger = Logger(label: "crmhub.imap-source")
    ) {
        self.init(
            settings: settings, client: client,
            emitter: SourceEmitter(
                connector: settings.name, producer: producer, deadLetterTopic: settings.deadLetterTopic),
            mapping: .fixed(mapping, mappingContext), state: state, logger: logger)
    }

    /// Polls every ``Settings/pollInterval`` until cancelled or the service group shuts down. A failed poll is
    /// logged and tried again at the next interval.
    public func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                var batchFull = false
                do {
                    let summary = try await self.poll()
                    batchFull = summary.batchFull
                    if summary.produced + summary.dropped + summary.failed > 0 {
                        self.logger.info(
                            "mailbox polled",
                            metadata: [
                                "produced": "\(summary.produced)", "dropped": "\(summary.dropped)",
                                "failed": "\(summary.failed)",
                            ])
                    }
                } catch {
                    self.metrics.pollFailures.increment()
                    self.logger.warning(
                        "mailbox poll failed; retrying at the next interval", metadata: ["error": "\(error)"])
                }
                if !batchFull { try? await Task.sleep(for: self.settings.pollInterval) }
            }
        }
    }

    /// Reads the mailbox once: every message after the last finished UID, in UID order. Throws on an IMAP or Kafka
    /// failure; what finished before the failure stays finished.
    public func poll() async throws -> PollSummary {
        let mailbox = settings.mailbox
        try await client.refresh(mailbox: mailbox)
        let status = try await client.status(mailbox: mailbox)
        var summary = PollSummary(uidValidity: status.uidValidity)
        let last =
            try await state.lastUID(source: settings.name, mailbox: mailbox, uidValidity: status.uidValidity) ?? 0
        guard status.uidNext == 0 || status.uidNext > last + 1 else { return summary }
        let uids = try await client.uids(mailbox: mailbox, after: last)
        summary.batchFull = uids.count > settings.batchLimit
        // Fetching the next messages overlaps with Kafka acknowledging the previous ones; the state is still
        // written in UID order, each message only once its own records are acknowledged.
        var window: [InFlight] = []
        var finished: [UInt32] = []
        do {
            for uid in uids.prefix(settings.batchLimit) {
                window.append(
                    try await prepare(uid: uid, uidValidity: status.uidValidity, inWindow: Set(window.map(\.messageID)))
                )
                while window.count > settings.maxInFlight {
                    let head = window.removeFirst()
                    try await settle(head, uidValidity: status.uidValidity, summary: &summary)
                    finished.append(head.uid)
                }
            }
            while !window.isEmpty {
                let head = window.removeFirst()
                try await settle(head, uidValidity: status.uidValidity, summary: &summary)
                finished.append(head.uid)
            }
        } catch {
            await flag(finished)
            throw error
        }
        await flag(finished)
        return summary
    }

    /// One message whose records are enqueued: its state is written once Kafka acknowledged every one.
    private struct InFlight {
        var uid: UInt32
        var messageID: String
        var outcome: MailboxStateStore.Outcome
        var acknowledgements: [Acknowledgement]
        var warnings: Int
        var truncated: Bool
    }

    /// Fetches and maps one message and enqueues its records (or its dead letter) to Kafka.
    private func prepare(uid: UInt32, uidValidity: UInt32, inWindow: Set<String>) async throws -> InFlight {
        let mailbox = settings.mailbox
        let fetched = try await client.fetch(
            mailbox: mailbox, uidValidity: uidValidity, uid: uid, limit: settings.maxMessageBytes)
        var mail = ParsedMail.parse(fetched.bytes)
        if fetched.truncated {
            mail.warnings.append(
                "message longer than \(settings.maxMessageBytes) bytes: only the first \(settings.maxMessageBytes) were read"
            )
            metrics.truncated.increment()
        }
        if !mail.warnings.isEmpty {
            metrics.readWarnings.increment()
            logger.notice("mail read best-effort", metadata: ["uid": "\(uid)", "warnings": "\(mail.warnings)"])
        }
        let messageID = mail.messageID ?? "imap-\(uidValidity)-\(uid)@\(settings.name)"
        var inFlight = InFlight(
            uid: uid, messageID: messageID, outcome: .duplicate, acknowledgements: [], warnings: mail.warnings.count,
            truncated: fetched.truncated)
        let known = try await state.knows(source: settings.name, messageID: messageID)
        if known || inWindow.contains(messageID) { return inFlight }
        let document = InboundMailDocument.make(
            mail, messageID: messageID, source: settings.name, mailbox: mailbox, uidValidity: uidValidity, uid: uid,
            truncated: fetched.truncated)
        let origin = "imap/\(settings.name)/\(mailbox)/\(uidValidity)/\(uid)"
        (inFlight.outcome, inFlight.acknowledgements) = try await produce(
            document, messageID: messageID, origin: origin, warnings: mail.warnings)
        return inFlight
    }

    /// Waits for Kafka's acknowledgements of one message, then records it (throws, recording nothing, if one failed).
    private func settle(_ inFlight: InFlight, uidValidity: UInt32, summary: inout PollSummary) async throws {
        for acknowledgement in inFlight.acknowledgements {
            let result = await acknowledgement.wait()
            try result.get()
        }
        try await state.record(
            source: settings.name, mailbox: settings.mailbox, uidValidity: uidValidity, uid: inFlight.uid,
            messageID: inFlight.messageID,
            outcome: inFlight.outcome)
        metrics.count(inFlight.outcome)
        if inFlight.warnings > 0 { summary.withWarnings += 1 }
        if inFlight.truncated { summary.truncated += 1 }
        switch inFlight.outcome {
        case .produced: summary.produced += 1
        case .dropped: summary.dropped += 1
        case .duplicate: summary.duplicates += 1
        case .failed: summary.failed += 1
        }
    }

    /// Sets the keyword on finished messages, in one command (best effort).
    private func flag(_ uids: [UInt32]) async {
        guard !uids.isEmpty else { return }
        do {
            try await client.addFlags([settings.keyword], mailbox: settings.mailbox, uids: uids)
        } catch {
            logger.notice("cannot flag finished messages", metadata: ["uids": "\(uids.count)", "error": "\(error)"])
        }
    }

    /// Maps the document and enqueues its records (or its dead letter); the acknowledgements are awaited later.
    private func produce(
        _ document: [UInt8], messageID: String, origin: String, warnings: [String]
    ) async throws -> (MailboxStateStore.Outcome, [Acknowledgement]) {
        let failure: DeliveryFailure
        let result: MappingResult?
        let version: String
        if let (current, context) = mapping.current {
            version = "\(current.name)@\(current.version)"
            do {
                result = try current.apply(document, context: context)
                failure = DeliveryFailure(reason: "", errorClass: "")
            } catch {
                result = nil
                failure = DeliveryFailure(reason: error.description, errorClass: "mapping-\(error.kind.rawValue)")
            }
        } else {
            version = mapping.name
            result = nil
            failure = DeliveryFailure(
                reason: "mapping '\(mapping.name)' is no longer in the mappings folder", errorClass: "configuration")
        }
        guard let result else {
            logger.error(
                "the mapping cannot read a mail; it goes to the dead-letter topic",
                metadata: [
                    "mapping": "\(version)", "origin": "\(origin)", "error": "\(failure.reason)",
                    "dead_letter_topic": "\(settings.deadLetterTopic ?? "none")",
                ])
            guard settings.deadLetterTopic != nil else { return (.failed, []) }
            let headers = [
                KafkaHeader(key: EnvelopeHeader.origin, text: origin),
                KafkaHeader(key: EnvelopeHeader.mapping, text: version),
            ]
            let original = ProducerMessage(
                topic: settings.topic, key: Array(messageID.utf8), value: document, headers: headers)
            let acknowledgement = Acknowledgement()
            do {
                try emitter.enqueueDeadLetter(original, failure: failure, source: origin) { result in
                    acknowledgement.complete(result.map { _ in () })
                }
            } catch {
                try await emitter.deadLetter(original, failure: failure, source: origin)
                acknowledgement.complete(.success(()))
            }
            return (.failed, [acknowledgement])
        }
        guard case .output(let records) = result else {
            logger.debug("the mapping dropped a mail (auto-reply or bounce)", metadata: ["origin": "\(origin)"])
            return (.dropped, [])
        }
        var acknowledgements: [Acknowledgement] = []
        for record in records {
            let id = record.value["id"]?.stringValue ?? messageID
            var headers = [
                KafkaHeader(key: EnvelopeHeader.id, text: id), KafkaHeader(key: EnvelopeHeader.origin, text: origin),
                KafkaHeader(key: EnvelopeHeader.mapping, text: version),
            ]
            if !warnings.isEmpty {
                headers.append(KafkaHeader(key: "crm-mail-warnings", text: warnings.joined(separator: "; ")))
            }
            let key = record.key.isEmpty ? Array(messageID.utf8) : Array(record.key.utf8)
            acknowledgements.append(
                try await enqueue(
                    ProducerMessage(topic: settings.topic, key: key, value: record.jsonBytes(), headers: headers)))
        }
        return (.produced, acknowledgements)
    }

    /// Enqueues in call order (so the topic holds the mail in UID order); when librdkafka's queue is full, waits for
    /// this message's acknowledgement instead.
    private func enqueue(_ message: ProducerMessage) async throws -> Acknowledgement {
        let acknowledgement = Acknowledgement()
        do {
            try emitter.enqueue(message) { result in acknowledgement.complete(result.map { _ in () }) }
        } catch {
            try await emitter.emit(message)
            acknowledgement.complete(.success(()))
        }
        return acknowledgement
    }
}

/// Kafka's answer for one enqueued record, awaited later.
final class Acknowledgement: Sendable {
    private struct State {
        var result: Result<Void, KafkaError>?
        var waiter: CheckedContinuation<Result<Void, KafkaError>, Never>?
    }
    private let state = Mutex(State())

    /// Stores the answer and wakes the waiter, if any (once; later calls are ignored).
    func complete(_ result: Result<Void, KafkaError>) {
        let waiter = state.withLock { state -> CheckedContinuation<Result<Void, KafkaError>, Never>? in
            guard state.result == nil else { return nil }
            state.result = result
            let waiter = state.waiter
            state.waiter = nil
            return waiter
        }
        waiter?.resume(returning: result)
    }

    /// The answer, once there is one.
    func wait() async -> Result<Void, KafkaError> {
        await withCheckedContinuation { (continuation: CheckedContinuation<Result<Void, KafkaError>, Never>) in
            let ready = state.withLock { state -> Result<Void, KafkaError>? in
                if let result = state.result { return result }
                state.waiter = continuation
                return nil
            }
            if let ready { continuation.resume(returning: ready) }
        }
    }
}

extension IMAPSource {
    /// The source's counters (see the type's documentation).
    struct SourceMetrics: Sendable {
        let produced: Counter
        let dropped: Counter
        let duplicates: Counter
        let deadLettered: Counter
        let readWarnings: Counter
        let truncated: Counter
        let pollFailures: Counter

        init(connector: String) {
            func messages(_ outcome: String) -> Counter {
                Counter(
                    label: "crmhub_imap_messages_total", dimensions: [("connector", connector), ("outcome", outcome)])
            }
            produced = messages("produced")
            dropped = messages("dropped")
            duplicates = messages("duplicate")
            deadLettered = messages("dead_letter")
            readWarnings = Counter(label: "crmhub_imap_read_warnings_total", dimensions: [("connector", connector)])
            truncated = Counter(label: "crmhub_imap_truncated_total", dimensions: [("connector", connector)])
            pollFailures = Counter(label: "crmhub_imap_poll_failures_total", dimensions: [("connector", connector)])
        }

        func count(_ outcome: MailboxStateStore.Outcome) {
            switch outcome {
            case .produced: produced.increment()
            case .dropped: dropped.increment()
            case .duplicate: duplicates.increment()
            case .failed: deadLettered.increment()
            }
        }
    }
}
