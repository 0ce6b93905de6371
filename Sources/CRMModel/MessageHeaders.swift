// The canonical envelope and the dead-letter record as Kafka header names. Every module that reads or writes
// messages uses these names; `crmhub dlq` reads the dead-letter ones back.

/// Header names every message crmhub produces carries (the canonical envelope as Kafka headers).
public enum EnvelopeHeader {
    /// Stable message id: kept from the input when present, else derived from its topic/partition/offset,
    /// so a re-delivery produces the same id (downstream deduplication relies on it).
    public static let id = "crm-id"
    /// Where the message came from (`topic/partition/offset` of the route's input).
    public static let origin = "crm-origin"
    /// The route that produced the message.
    public static let route = "crm-route"
    /// The mapping name and version that produced the message.
    public static let mapping = "crm-mapping"
    /// The golden customer id the master data resolved the message's customer to.
    public static let goldenID = "crm-golden-id"
}

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
    public static let perFailure: Set<String> = [reason, errorClass, source, route, deadLetteredAt]
}
