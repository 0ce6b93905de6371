import CRMHub
import CRMKafka
import CRMMapping
import CRMTransport
import Foundation
import Logging
import Metrics
import ServiceLifecycle

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
/// start and messages whose Message-ID is already known are skipped.
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
        /// Where mail the mapping cannot read goes (the parsed mail as JSON, the error in `crm-error`); nil logs it.
        public var deadLetterTopic: String?
        public var pollInterval: Duration
        /// The keyword set on finished messages.
        public var keyword: String
        /// At most this many messages per poll; a full batch is followed by the next poll at once.
        public var batchLimit: Int
        /// Only this many bytes of a message are fetched (headers and the text parts come first; attachments past
        /// the limit are not read). Default 10 MiB.
        public var maxMessageBytes: Int

        public init(
            name: String, mailbox: String = "INBOX", topic: String, deadLetterTopic: String? = nil, pollInterval: Duration = .seconds(30),
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

    public let settings: Settings
    private let client: IMAPClient
    private let producer: KafkaProducer
    private let mapping: CompiledMapping
    private let mappingContext: MappingContext
    private let state: MailboxStateStore
    private let logger: Logger
    private let metrics: SourceMetrics

    public init(
        settings: Settings, client: IMAPClient, producer: KafkaProducer, mapping: CompiledMapping, mappingContext: MappingContext = MappingContext(),
        state: MailboxStateStore, logger: Logger = Logger(label: "crmhub.imap-source")
    ) {
        self.settings = settings
        self.client = client
        self.producer = producer
        self.mapping = mapping
        self.mappingContext = mappingContext
        self.state = state
        var logger = logger
        logger[metadataKey: "source"] = "\(settings.name)"
        self.logger = logger
        metrics = SourceMetrics(connector: settings.name)
    }

    /// Polls every ``Settings/pollInterval`` until cancelled or the service group shuts down. A failed poll is
    /// logged and tried again at the next interval.
    public func run() async throws {
        try await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                var batchFull = false
                do {
                    let summary = try await self.poll()
                    batchFull = summary.batchFull
                    if summary.produced + summary.dropped + summary.failed > 0 {
                        self.logger.info("mailbox polled", metadata: ["produced": "\(summary.produced)", "dropped": "\(summary.dropped)", "failed": "\(summary.failed)"])
                    }
                } catch {
                    self.metrics.pollFailures.increment()
                    self.logger.warning("mailbox poll failed; retrying at the next interval", metadata: ["error": "\(error)"])
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
        let last = try await state.lastUID(source: settings.name, mailbox: mailbox, uidValidity: status.uidValidity) ?? 0
        guard status.uidNext == 0 || status.uidNext > last + 1 else { return summary }
        let uids = try await client.uids(mailbox: mailbox, after: last)
        summary.batchFull = uids.count > settings.batchLimit
        for uid in uids.prefix(settings.batchLimit) {
            let result = try await process(uid: uid, uidValidity: status.uidValidity)
            if result.warnings > 0 { summary.withWarnings += 1 }
            if result.truncated { summary.truncated += 1 }
            switch result.outcome {
            case .produced: summary.produced += 1
            case .dropped: summary.dropped += 1
            case .duplicate: summary.duplicates += 1
            case .failed: summary.failed += 1
            }
        }
        return summary
    }

    /// What became of one message and how it was read.
    private struct Processed {
        var outcome: MailboxStateStore.Outcome
        var warnings: Int
        var truncated: Bool
    }

    /// Fetches, maps, produces (waiting for Kafka) and records one message.
    private func process(uid: UInt32, uidValidity: UInt32) async throws -> Processed {
        let mailbox = settings.mailbox
        let fetched = try await client.fetch(mailbox: mailbox, uidValidity: uidValidity, uid: uid, limit: settings.maxMessageBytes)
        var mail = ParsedMail.parse(fetched.bytes)
        if fetched.truncated {
            mail.warnings.append("message longer than \(settings.maxMessageBytes) bytes: only the first \(settings.maxMessageBytes) were read")
            metrics.truncated.increment()
        }
        if !mail.warnings.isEmpty {
            metrics.readWarnings.increment()
            logger.notice("mail read best-effort", metadata: ["uid": "\(uid)", "warnings": "\(mail.warnings)"])
        }
        let messageID = mail.messageID ?? "imap-\(uidValidity)-\(uid)@\(settings.name)"
        let outcome: MailboxStateStore.Outcome
        if try await state.knows(source: settings.name, messageID: messageID) {
            outcome = .duplicate
        } else {
            let document = InboundMailDocument.make(
                mail, messageID: messageID, source: settings.name, mailbox: mailbox, uidValidity: uidValidity, uid: uid, truncated: fetched.truncated)
            outcome = try await produce(
                document, messageID: messageID, origin: "imap/\(settings.name)/\(mailbox)/\(uidValidity)/\(uid)", warnings: mail.warnings)
        }
        try await state.record(source: settings.name, mailbox: mailbox, uidValidity: uidValidity, uid: uid, messageID: messageID, outcome: outcome)
        metrics.count(outcome)
        do {
            try await client.addFlags([settings.keyword], mailbox: mailbox, uid: uid)
        } catch {
            logger.notice("cannot flag a finished message", metadata: ["uid": "\(uid)", "error": "\(error)"])
        }
        return Processed(outcome: outcome, warnings: mail.warnings.count, truncated: fetched.truncated)
    }

    /// Maps the document and produces its records; returns once Kafka acknowledged all of them.
    private func produce(_ document: [UInt8], messageID: String, origin: String, warnings: [String]) async throws -> MailboxStateStore.Outcome {
        let result: MappingResult
        do {
            result = try mapping.apply(document, context: mappingContext)
        } catch {
            logger.error(
                "the mapping cannot read a mail; it goes to the dead-letter topic",
                metadata: ["mapping": "\(mapping.name)", "origin": "\(origin)", "error": "\(error.description)", "dead_letter_topic": "\(settings.deadLetterTopic ?? "none")"])
            if let deadLetterTopic = settings.deadLetterTopic {
                let headers = [
                    KafkaHeader(key: EnvelopeHeader.origin, text: origin), KafkaHeader(key: "crm-error", text: error.description),
                ]
                try await producer.send(ProducerMessage(topic: deadLetterTopic, key: Array(messageID.utf8), value: document, headers: headers))
            }
            return .failed
        }
        guard case .output(let records) = result else {
            logger.debug("the mapping dropped a mail (auto-reply or bounce)", metadata: ["origin": "\(origin)"])
            return .dropped
        }
        for record in records {
            let id = record.value["id"]?.stringValue ?? messageID
            var headers = [
                KafkaHeader(key: EnvelopeHeader.id, text: id), KafkaHeader(key: EnvelopeHeader.origin, text: origin),
                KafkaHeader(key: EnvelopeHeader.mapping, text: "\(mapping.name)@\(mapping.version)"),
            ]
            if !warnings.isEmpty { headers.append(KafkaHeader(key: "crm-mail-warnings", text: warnings.joined(separator: "; "))) }
            let key = record.key.isEmpty ? Array(messageID.utf8) : Array(record.key.utf8)
            try await producer.send(ProducerMessage(topic: settings.topic, key: key, value: record.jsonBytes(), headers: headers))
        }
        return .produced
    }
}

/// The JSON document an inbound mail becomes (what `Mappings/inbound-email.yaml` reads): `message_id` (with
/// brackets), `from`, `to`, `subject`, `text`, `html`, `received_at` (the Date header, else now, ISO 8601),
/// `in_reply_to`, `references`, `thread_root` (the first References id, else In-Reply-To: the message that
/// opened the thread), `headers` (lower-cased names, first value) and `_mail` (source, mailbox, uidvalidity, uid,
/// `truncated` and `warnings` when the mail was read best-effort).
public enum InboundMailDocument {
    public static func make(
        _ mail: ParsedMail, messageID: String, source: String, mailbox: String, uidValidity: UInt32, uid: UInt32, truncated: Bool = false
    ) -> [UInt8] {
        var origin: [String: Any] = ["source": source, "mailbox": mailbox, "uidvalidity": Int(uidValidity), "uid": Int(uid)]
        if truncated { origin["truncated"] = true }
        if !mail.warnings.isEmpty { origin["warnings"] = mail.warnings }
        var headers: [String: String] = [:]
        for header in mail.headers where headers[header.name.lowercased()] == nil { headers[header.name.lowercased()] = header.value }
        var document: [String: Any] = [
            "message_id": "<\(messageID)>",
            "from": mail.header("From") ?? "",
            "to": mail.header("To") ?? "",
            "subject": mail.subject ?? "",
            "received_at": (mail.date ?? Date()).formatted(.iso8601),
            "headers": headers,
            "references": mail.references.map { "<\($0)>" },
            "_mail": origin,
        ]
        if let text = mail.text { document["text"] = text }
        if let html = mail.html { document["html"] = html }
        if let inReplyTo = mail.inReplyTo { document["in_reply_to"] = "<\(inReplyTo)>" }
        if let root = mail.references.first ?? mail.inReplyTo { document["thread_root"] = "<\(root)>" }
        return (try? JSONSerialization.data(withJSONObject: document, options: [.sortedKeys])).map(Array.init) ?? Array("{}".utf8)
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
                Counter(label: "crmhub_imap_messages_total", dimensions: [("connector", connector), ("outcome", outcome)])
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
