import CRMKafka
import Foundation

/// Header names on a dead-lettered message. The message's key and value are the original bytes, untouched;
/// its original headers are kept, and these are added (replacing any from an earlier dead-lettering).
public enum DeadLetterHeader {
    /// Why the message was dead-lettered, in words a person can act on (never personal data).
    public static let reason = "crm-dlq-reason"
    /// The class of failure: `mapping`, `validation`, `produce`, `configuration`, `target`...
    public static let errorClass = "crm-dlq-error-class"
    /// Where the message was read when it failed: `topic/partition/offset`.
    public static let source = "crm-dlq-source"
    /// The route (or sink) that dead-lettered it.
    public static let route = "crm-dlq-route"
    /// How many times the message failed, across replays.
    public static let attempts = "crm-dlq-attempts"
    /// When it failed the first time (ISO 8601, UTC), kept across replays.
    public static let firstFailureAt = "crm-dlq-first-failure-at"
    /// When it was dead-lettered this time (ISO 8601, UTC).
    public static let deadLetteredAt = "crm-dlq-at"
    /// Replay history: a JSON array, one entry per earlier dead-lettering that was replayed.
    public static let history = "crm-history"

    /// The headers a replay removes (the history keeps what they said).
    static let perFailure: Set<String> = [reason, errorClass, source, route, deadLetteredAt]
}

/// Why a route could not deliver a message; becomes the dead-letter headers.
public struct DeliveryFailure: Error, Sendable, Hashable, CustomStringConvertible {
    public var reason: String
    public var errorClass: String

    public init(reason: String, errorClass: String) {
        self.reason = reason
        self.errorClass = errorClass
    }

    public var description: String { "\(errorClass): \(reason)" }
}

/// A message read back from a dead-letter topic, with its dead-letter headers decoded.
public struct DeadLetter: Sendable {
    /// The dead-letter topic record itself.
    public var message: ConsumerMessage

    public init(_ message: ConsumerMessage) { self.message = message }

    public var id: String { message.stableID }
    public var reason: String { message.headers.text(DeadLetterHeader.reason) ?? "-" }
    public var errorClass: String { message.headers.text(DeadLetterHeader.errorClass) ?? "-" }
    public var source: String { message.headers.text(DeadLetterHeader.source) ?? "-" }
    public var route: String { message.headers.text(DeadLetterHeader.route) ?? "-" }
    public var mapping: String? { message.headers.text(EnvelopeHeader.mapping) }
    public var attempts: Int { message.headers.text(DeadLetterHeader.attempts).flatMap(Int.init) ?? 1 }
    public var deadLetteredAt: Date? { message.headers.text(DeadLetterHeader.deadLetteredAt).flatMap(DeadLetterClock.parse) }
    public var firstFailureAt: Date? { message.headers.text(DeadLetterHeader.firstFailureAt).flatMap(DeadLetterClock.parse) }

    /// Builds the dead-letter record for `message`, which failed in `route` with `failure` after `attempts`
    /// attempts (default 1), added to those of earlier dead-letterings.
    public static func record(
        for message: ConsumerMessage, failure: DeliveryFailure, route: String, mappingVersion: String?, topic: String,
        attempts: Int? = nil, now: Date = Date()
    ) -> ProducerMessage {
        let previousAttempts = message.headers.text(DeadLetterHeader.attempts).flatMap(Int.init) ?? 0
        let firstFailure = message.headers.text(DeadLetterHeader.firstFailureAt) ?? DeadLetterClock.format(now)
        var headers = message.headers.filter {
            !DeadLetterHeader.perFailure.contains($0.key) && $0.key != DeadLetterHeader.attempts
                && $0.key != DeadLetterHeader.firstFailureAt && $0.key != EnvelopeHeader.id
        }
        headers.append(KafkaHeader(key: EnvelopeHeader.id, text: message.stableID))
        headers.append(KafkaHeader(key: DeadLetterHeader.reason, text: failure.reason))
        headers.append(KafkaHeader(key: DeadLetterHeader.errorClass, text: failure.errorClass))
        headers.append(KafkaHeader(key: DeadLetterHeader.source, text: "\(message.topic)/\(message.partition)/\(message.offset)"))
        headers.append(KafkaHeader(key: DeadLetterHeader.route, text: route))
        headers.append(KafkaHeader(key: DeadLetterHeader.attempts, text: String(previousAttempts + (attempts ?? 1))))
        headers.append(KafkaHeader(key: DeadLetterHeader.firstFailureAt, text: firstFailure))
        headers.append(KafkaHeader(key: DeadLetterHeader.deadLetteredAt, text: DeadLetterClock.format(now)))
        if let mappingVersion, !headers.contains(where: { $0.key == EnvelopeHeader.mapping }) {
            headers.append(KafkaHeader(key: EnvelopeHeader.mapping, text: mappingVersion))
        }
        return ProducerMessage(topic: topic, key: message.key, value: message.value, headers: headers)
    }

    /// The message to re-inject into `topic` after a fix: original key and value, the original headers, the
    /// attempt count and first-failure time kept, and this dead-lettering appended to the `crm-history` header.
    public func replayRecord(to topic: String, now: Date = Date()) -> ProducerMessage {
        var history = (message.headers.text(DeadLetterHeader.history).flatMap { text in
            try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [[String: String]]
        }) ?? []
        history.append([
            "dead_lettered_at": message.headers.text(DeadLetterHeader.deadLetteredAt) ?? "-",
            "reason": reason, "error_class": errorClass, "source": source, "route": route,
            "dead_letter_offset": "\(message.topic)/\(message.partition)/\(message.offset)",
            "replayed_at": DeadLetterClock.format(now),
        ])
        let encoded = (try? JSONSerialization.data(withJSONObject: history, options: [.sortedKeys])) ?? Data("[]".utf8)
        var headers = message.headers.filter { !DeadLetterHeader.perFailure.contains($0.key) && $0.key != DeadLetterHeader.history }
        headers.append(KafkaHeader(key: DeadLetterHeader.history, value: Array(encoded)))
        return ProducerMessage(topic: topic, key: message.key, value: message.value, headers: headers)
    }
}

/// ISO 8601 timestamps in UTC with milliseconds, as the dead-letter headers carry them.
enum DeadLetterClock {
    static func format(_ date: Date) -> String {
        date.formatted(.iso8601.year().month().day().time(includingFractionalSeconds: true).timeZone(separator: .omitted))
    }

    static func parse(_ text: String) -> Date? {
        try? Date(text, strategy: .iso8601.year().month().day().time(includingFractionalSeconds: true).timeZone(separator: .omitted))
    }
}
