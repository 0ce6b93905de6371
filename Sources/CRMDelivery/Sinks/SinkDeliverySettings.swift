import CRMMasterData
import CRMYAML

extension SinkService.Configuration {
    /// The keys every sink kind takes for its delivery: `max_in_flight`, `dead_letter_topic`, `retry`, `when`,
    /// `purpose` and `consent_channel`.
    public static let keys: Set<String> = [
        "max_in_flight", "dead_letter_topic", "retry", "when", "purpose", "consent_channel",
    ]

    /// A sink's delivery settings from its ``keys`` in a connector file.
    public init(_ map: YAMLMapping, name: String, topic: String) throws(YAMLError) {
        self.init(name: name, topic: topic)
        if let value = map.optional("max_in_flight") { maxInFlight = try value.int(in: 1...10_000) }
        if let value = map.optional("dead_letter_topic") { deadLetterTopic = try value.topicName() }
        if let value = map.optional("retry") { retry = try RetryPolicy(value) }
        if let value = map.optional("when") { when = try SinkCondition(compiling: value) }
        if let value = map.optional("purpose") {
            let text = try value.nonEmptyString().lowercased()
            guard text.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" || $0 == "-" }) else {
                throw value.error("a purpose is one word (marketing, newsletter, profiling)")
            }
            purpose = text
        }
        if let value = map.optional("consent_channel") {
            guard map.optional("purpose") != nil else { throw value.error("'consent_channel' needs a 'purpose'") }
            consentChannel = try ConsentChannel(value)
        }
    }

    /// Refuses the delivery keys in a connector that is not a sink (`'retry' applies to sinks only`).
    public static func refuseKeys(in map: YAMLMapping) throws(YAMLError) {
        for key in keys.sorted() where map.optional(key) != nil {
            throw try map.require(key).error("'\(key)' applies to sinks only")
        }
    }
}

extension RetryPolicy {
    /// Reads a sink's `retry:` block.
    public init(_ value: YAMLValue) throws(YAMLError) {
        let map = try value.mapping()
        try map.allowOnly(["in_place_attempts", "initial_backoff_ms", "max_backoff_ms", "jitter", "topics"])
        self.init()
        if let value = map.optional("in_place_attempts") { inPlaceAttempts = try value.int(in: 1...100) }
        if let value = map.optional("initial_backoff_ms") {
            initialBackoff = .milliseconds(try value.int(in: 1...600_000))
        }
        if let value = map.optional("max_backoff_ms") { maxBackoff = .milliseconds(try value.int(in: 1...3_600_000)) }
        if let value = map.optional("jitter") {
            let jitter = try value.double()
            guard (0...1).contains(jitter) else { throw value.error("jitter is a fraction between 0 and 1") }
            self.jitter = jitter
        }
        if let value = map.optional("topics") {
            retryTopicDelays = []
            for delay in try value.sequence() { retryTopicDelays.append(try delay.delay()) }
        }
    }
}
