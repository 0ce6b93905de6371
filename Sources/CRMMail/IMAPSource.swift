import CRMHub
import CRMKafka
import CRMMapping
import CRMTransport
import Foundation
import Logging
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
        /// At most this many messages per poll (the rest follow on the next one).
        public var batchLimit: Int

        public init(
            name: String, mailbox: String = "INBOX", topic: String, deadLetterTopic: String? = nil, pollInterval: Duration = .seconds(30),
            keyword: String = "crmhub-processed", batchLimit: Int = 100
        ) {
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
        public var failed = 0
        public var uidValidity: UInt32 = 0
    }

    public let settings: Settings
    private let client: IMAPClient
    private let producer: KafkaProducer
    private let mapping: CompiledMapping
    private let mappingContext: MappingContext
    private let state: MailboxStateStore
    private let logger: Logger

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
    }

    /// Polls every ``Settings/pollInterval`` until cancelled or the service group shuts down. A failed poll is
    /// logged and tried again at the next interval.
    public func run() async throws {
        try await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do {
                    let summary = try await self.poll()
                    if summary.produced + summary.dropped + summary.failed > 0 {
                        self.logger.info("mailbox polled", metadata: ["produced": "\(summary.produced)", "dropped": "\(summary.dropped)", "failed": "\(summary.failed)"])
                    }
                } catch {
                    self.logger.warning("mailbox poll failed; retrying at the next interval", metadata: ["error": "\(error)"])
                }
                try? await Task.sleep(for: self.settings.pollInterval)
            }
        }
    }

    /// Reads the mailbox once: every message after the last finished UID, in UID order. Throws on an IMAP or Kafka
    /// failure; what finished before the failure stays finished.
    public func poll() async throws -> PollSummary {
        let mailbox = settings.mailbox
        let status = try await client.status(mailbox: mailbox)
        var summary = PollSummary(uidValidity: status.uidValidity)
        let last = try await state.lastUID(source: settings.name, mailbox: mailbox, uidValidity: status.uidValidity) ?? 0
        guard status.uidNext == 0 || status.uidNext > last + 1 else { return summary }
        let uids = try await client.uids(mailbox: mailbox, after: last)
        for uid in uids.prefix(settings.batchLimit) {
            let outcome = try await process(uid: uid, uidValidity: status.uidValidity)
            switch outcome {
            case .produced: summary.produced += 1
            case .dropped: summary.dropped += 1
            case .duplicate: summary.duplicates += 1
            case .failed: summary.failed += 1
            }
        }
        return summary
    }

    /// Fetches, maps, produces (waiting for Kafka) and records one message.
    private func process(uid: UInt32, uidValidity: UInt32) async throws -> MailboxStateStore.Outcome {
        let mailbox = settings.mailbox
        let raw = try await client.fetch(mailbox: mailbox, uidValidity: uidValidity, uid: uid)
        let mail = ParsedMail.parse(raw)
        let messageID = mail.messageID ?? "imap-\(uidValidity)-\(uid)@\(settings.name)"
        let outcome: MailboxStateStore.Outcome
        if try await state.knows(source: settings.name, messageID: messageID) {
            outcome = .duplicate
        } else {
            let document = InboundMailDocument.make(mail, messageID: messageID, source: settings.name, mailbox: mailbox, uidValidity: uidValidity, uid: uid)
            outcome = try await produce(document, messageID: messageID, origin: "imap/\(settings.name)/\(mailbox)/\(uidValidity)/\(uid)")
        }
        try await state.record(source: settings.name, mailbox: mailbox, uidValidity: uidValidity, uid: uid, messageID: messageID, outcome: outcome)
        do {
            try await client.addFlags([settings.keyword], mailbox: mailbox, uid: uid)
        } catch {
            logger.notice("cannot flag a finished message", metadata: ["uid": "\(uid)", "error": "\(error)"])
        }
        return outcome
    }

    /// Maps the document and produces its records; returns once Kafka acknowledged all of them.
    private func produce(_ document: [UInt8], messageID: String, origin: String) async throws -> MailboxStateStore.Outcome {
        let result: MappingResult
        do {
            result = try mapping.apply(document, context: mappingContext)
        } catch {
            logger.error("the mapping cannot read a mail", metadata: ["mapping": "\(mapping.name)", "error": "\(error.description)"])
            if let deadLetterTopic = settings.deadLetterTopic {
                let headers = [
                    KafkaHeader(key: EnvelopeHeader.origin, text: origin), KafkaHeader(key: "crm-error", text: error.description),
                ]
                try await producer.send(ProducerMessage(topic: deadLetterTopic, key: Array(messageID.utf8), value: document, headers: headers))
            }
            return .failed
        }
        guard case .output(let records) = result else { return .dropped }
        for record in records {
            let id = record.value["id"]?.stringValue ?? messageID
            let headers = [
                KafkaHeader(key: EnvelopeHeader.id, text: id), KafkaHeader(key: EnvelopeHeader.origin, text: origin),
                KafkaHeader(key: EnvelopeHeader.mapping, text: "\(mapping.name)@\(mapping.version)"),
            ]
            let key = record.key.isEmpty ? Array(messageID.utf8) : Array(record.key.utf8)
            try await producer.send(ProducerMessage(topic: settings.topic, key: key, value: record.jsonBytes(), headers: headers))
        }
        return .produced
    }
}

/// The JSON document an inbound mail becomes (what `Mappings/inbound-email.yaml` reads): `message_id` (with
/// brackets), `from`, `to`, `subject`, `text`, `html`, `received_at` (the Date header, else now, ISO 8601),
/// `in_reply_to`, `references`, `thread_root` (the first References id, else In-Reply-To: the message that
/// opened the thread), `headers` (lower-cased names, first value) and `_mail` (source, mailbox, uidvalidity, uid).
public enum InboundMailDocument {
    public static func make(_ mail: ParsedMail, messageID: String, source: String, mailbox: String, uidValidity: UInt32, uid: UInt32) -> [UInt8] {
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
            "_mail": ["source": source, "mailbox": mailbox, "uidvalidity": Int(uidValidity), "uid": Int(uid)] as [String: Any],
        ]
        if let text = mail.text { document["text"] = text }
        if let html = mail.html { document["html"] = html }
        if let inReplyTo = mail.inReplyTo { document["in_reply_to"] = "<\(inReplyTo)>" }
        if let root = mail.references.first ?? mail.inReplyTo { document["thread_root"] = "<\(root)>" }
        return (try? JSONSerialization.data(withJSONObject: document, options: [.sortedKeys])).map(Array.init) ?? Array("{}".utf8)
    }
}
