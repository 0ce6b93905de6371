import CRMKafka
import CRMModel
import CRMRedaction
import Foundation

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
    public var deadLetteredAt: Date? {
        message.headers.text(DeadLetterHeader.deadLetteredAt).flatMap(DeadLetterClock.parse)
    }
    public var firstFailureAt: Date? {
        message.headers.text(DeadLetterHeader.firstFailureAt).flatMap(DeadLetterClock.parse)
    }

    /// Builds the dead-letter record for `message`, which failed in `route` with `failure` after `attempts`
    /// attempts (default 1), added to those of earlier dead-letterings.
    public static func record(
        for message: ConsumerMessage, failure: DeliveryFailure, route: String, mappingVersion: String?, topic: String,
        attempts: Int? = nil, now: Date = Date()
    ) -> ProducerMessage {
        record(
            key: message.key, value: message.value, headers: message.headers, id: message.stableID,
            source: "\(message.topic)/\(message.partition)/\(message.offset)", failure: failure, route: route,
            mappingVersion: mappingVersion, topic: topic, attempts: attempts, now: now)
    }

    /// Builds a dead-letter record from a message's parts: routes and sinks pass what they consumed, sources what
    /// they could not produce. `source` says where it was read (`topic/partition/offset`, a mailbox and uid, …);
    /// `id` is the message's stable id, when it has one. The reason header is passed through the installed
    /// ``RedactionPolicy``, which also redacts the personal values of `value` wherever the reason echoes them.
    public static func record(
        key: [UInt8]?, value: [UInt8], headers original: [KafkaHeader], id: String?, source: String,
        failure: DeliveryFailure,
        route: String, mappingVersion: String?, topic: String, attempts: Int? = nil, now: Date = Date()
    ) -> ProducerMessage {
        let previousAttempts = original.text(DeadLetterHeader.attempts).flatMap(Int.init) ?? 0
        let firstFailure = original.text(DeadLetterHeader.firstFailureAt) ?? DeadLetterClock.format(now)
        var headers = original.filter {
            !DeadLetterHeader.perFailure.contains($0.key) && $0.key != DeadLetterHeader.attempts
                && $0.key != DeadLetterHeader.firstFailureAt && $0.key != EnvelopeHeader.id
        }
        if let id { headers.append(KafkaHeader(key: EnvelopeHeader.id, text: id)) }
        let redaction = RedactionPolicy.installed
        let reason = redaction.redact(failure.reason, echoing: redaction.personalValues(inJSON: value))
        headers.append(KafkaHeader(key: DeadLetterHeader.reason, text: reason))
        headers.append(KafkaHeader(key: DeadLetterHeader.errorClass, text: failure.errorClass))
        headers.append(KafkaHeader(key: DeadLetterHeader.source, text: source))
        headers.append(KafkaHeader(key: DeadLetterHeader.route, text: route))
        headers.append(KafkaHeader(key: DeadLetterHeader.attempts, text: String(previousAttempts + (attempts ?? 1))))
        headers.append(KafkaHeader(key: DeadLetterHeader.firstFailureAt, text: firstFailure))
        headers.append(KafkaHeader(key: DeadLetterHeader.deadLetteredAt, text: DeadLetterClock.format(now)))
        if let mappingVersion, !headers.contains(where: { $0.key == EnvelopeHeader.mapping }) {
            headers.append(KafkaHeader(key: EnvelopeHeader.mapping, text: mappingVersion))
        }
        return ProducerMessage(topic: topic, key: key, value: value, headers: headers)
    }

    /// The message to re-inject into `topic` after a fix: original key and value, the original headers, the
    /// attempt count and first-failure time kept, and this dead-lettering appended to the `crm-history` header.
    public func replayRecord(to topic: String, now: Date = Date()) -> ProducerMessage {
        var history =
            (message.headers.text(DeadLetterHeader.history).flatMap { text in
                try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [[String: String]]
            }) ?? []
        history.append([
            "dead_lettered_at": message.headers.text(DeadLetterHeader.deadLetteredAt) ?? "-",
            "reason": reason, "error_class": errorClass, "source": source, "route": route,
            "dead_letter_offset": "\(message.topic)/\(message.partition)/\(message.offset)",
            "replayed_at": DeadLetterClock.format(now),
        ])
        let encoded = (try? JSONSerialization.data(withJSONObject: history, options: [.sortedKeys])) ?? Data("[]".utf8)
        var headers = message.headers.filter {
            !DeadLetterHeader.perFailure.contains($0.key) && $0.key != DeadLetterHeader.history
        }
        headers.append(KafkaHeader(key: DeadLetterHeader.history, value: Array(encoded)))
        return ProducerMessage(topic: topic, key: message.key, value: message.value, headers: headers)
    }
}

/// ISO 8601 timestamps in UTC with milliseconds, as the dead-letter headers carry them.
enum DeadLetterClock {
    static func format(_ date: Date) -> String {
        date.formatted(
            .iso8601.year().month().day().time(includingFractionalSeconds: true).timeZone(separator: .omitted))
    }

    static func parse(_ text: String) -> Date? {
        try? Date(
            text,
            strategy: .iso8601.year().month().day().time(includingFractionalSeconds: true).timeZone(separator: .omitted)
        )
    }
}
