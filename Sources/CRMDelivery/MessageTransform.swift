import CRMKafka
import CRMModel

/// One message a transform wants produced. The route picks the topic from `output` and its destination.
public struct TransformedRecord: Sendable {
    /// The mapping output this record belongs to (`customer`, `ticket`...), nil for a single-output transform.
    public var output: String?
    public var key: [UInt8]?
    public var value: [UInt8]
    public var headers: [KafkaHeader]

    public init(output: String? = nil, key: [UInt8]?, value: [UInt8], headers: [KafkaHeader]) {
        self.output = output
        self.key = key
        self.value = value
        self.headers = headers
    }
}

/// What a transform decided for one consumed message.
public enum TransformOutcome: Sendable {
    /// Produce these records; the source message is finished when all are acknowledged.
    case produce([TransformedRecord])
    /// Deliberately drop the message (a mapping filter); it is finished at once.
    case drop(reason: String)
    /// The message cannot be handled; `reason` says why (never includes personal data).
    case failure(reason: String, errorClass: String)
}

/// The per-message step of a route between consuming and producing.
public protocol MessageTransform: Sendable {
    /// A label for logs and metrics (`identity`, `mapping:webform@3-a1b2c3`).
    var description: String { get }
    /// The version of the logic (a mapping's name and content hash), written to dead-letter headers.
    var version: String? { get }
    /// Decides what to do with one message. May suspend (a master-data lookup); never blocks a thread.
    func transform(_ message: ConsumerMessage) async -> TransformOutcome
    /// True when the outcome for a message depends on that message alone: the transform keeps no state between
    /// messages and writes none. A route then transforms a batch's messages on several tasks at once, ahead of
    /// producing them (still in order). False (the default) transforms one message at a time, in order.
    var isStateless: Bool { get }
}

extension MessageTransform {
    public var version: String? { nil }
    public var isStateless: Bool { false }
}

/// Passes messages through unchanged, adding the envelope headers.
public struct IdentityTransform: MessageTransform {
    public init() {}

    public var description: String { "identity" }
    public var isStateless: Bool { true }

    public func transform(_ message: ConsumerMessage) -> TransformOutcome {
        .produce([TransformedRecord(key: message.key, value: message.value, headers: message.headers)])
    }
}

extension ConsumerMessage {
    /// The message's `crm-id`, or one derived from where it was read, which is the same on every re-delivery.
    public var stableID: String { String(decoding: stableIDBytes, as: UTF8.self) }

    /// `stableID` as UTF-8 bytes: a `crm-id` header (valid UTF-8) as it came, else "topic-partition-offset".
    var stableIDBytes: [UInt8] {
        if let id = headers.first(where: { $0.key == EnvelopeHeader.id }),
            String(validating: id.value, as: UTF8.self) != nil
        {
            return id.value
        }
        return position(separator: "-")
    }

    /// Where the message was read, "topic/partition/offset" with the given separator, as UTF-8 bytes.
    func position(separator: Unicode.Scalar) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(topic.utf8.count + 24)
        bytes.append(contentsOf: topic.utf8)
        bytes.append(UInt8(ascii: separator))
        bytes.append(contentsOf: String(partition).utf8)
        bytes.append(UInt8(ascii: separator))
        bytes.append(contentsOf: String(offset).utf8)
        return bytes
    }
}
