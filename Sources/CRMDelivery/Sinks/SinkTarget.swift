import CRMKafka

/// One message offered to a sink's target system (ERP, billing, SMTP...).
public struct SinkMessage: Sendable {
    /// The stable message id (`crm-id`); targets send it as `Idempotency-Key` (or their equivalent).
    public var id: String
    public var key: String?
    public var value: [UInt8]
    public var headers: [KafkaHeader]
    /// Delivery attempts before this one, across in-place retries and retry topics.
    public var previousAttempts: Int

    public init(id: String, key: String?, value: [UInt8], headers: [KafkaHeader], previousAttempts: Int) {
        self.id = id
        self.key = key
        self.value = value
        self.headers = headers
        self.previousAttempts = previousAttempts
    }
}

/// What a target said about one delivery.
public enum SinkOutcome: Sendable, Equatable {
    /// The target acknowledged the message; the offset may move past it.
    case delivered
    /// Worth retrying later (timeout, connection refused, 5xx, 408, 429). `retryAfter` honours the target's hint.
    case transient(reason: String, retryAfter: Duration? = nil)
    /// Retrying cannot help (4xx other than 408/429, a payload the target rejects): the message goes to the DLQ.
    case permanent(reason: String)
}

/// The target side of a sink connector: delivers one message and classifies the result. Must be safe to call
/// concurrently for messages with different keys; the sink never calls it concurrently for one key.
public protocol SinkTarget: Sendable {
    /// A label for logs and metrics.
    var description: String { get }
    func deliver(_ message: SinkMessage) async -> SinkOutcome
}
