import CRMYAML

/// One route: consume a topic, transform each message, produce the results.
public struct RouteConfiguration: Sendable, Hashable {
    public var name: String
    /// Source topic.
    public var from: String
    /// Destination: one topic for every output, or a topic per mapping output (`customer: crm.customer`).
    public var to: Destination
    /// Mapping name (a file in the mappings folder); nil passes messages through unchanged.
    public var mapping: String?
    /// Most messages in flight (consumed, not yet acknowledged downstream) at once. Default 1000.
    public var maxInFlight: Int = 1_000
    /// Where messages the route cannot handle go, original bytes untouched. Default `dlq.<route name>`.
    public var deadLetterTopic: String
    /// How the route delivers: at least once (default) or exactly once with Kafka transactions.
    public var delivery: DeliveryMode = .atLeastOnce
    /// Resolve each (customer) message against the master data and add its golden id. Default false.
    public var resolve: Bool = false
    /// A workflow rule (a file in the rules folder) applied as the route's step, e.g. a lead-assignment rule.
    public var rule: String?
    /// Where the route is declared, for messages that point back to the file.
    public var location: SourceLocation

    public init(
        name: String, from: String, to: Destination, mapping: String? = nil, maxInFlight: Int = 1_000,
        deadLetterTopic: String? = nil, delivery: DeliveryMode = .atLeastOnce,
        location: SourceLocation = SourceLocation(file: "-", line: 0, column: 0)
    ) {
        self.name = name
        self.from = from
        self.to = to
        self.mapping = mapping
        self.maxInFlight = maxInFlight
        self.deadLetterTopic = deadLetterTopic ?? "dlq.\(name)"
        self.delivery = delivery
        self.location = location
    }

    /// A route's delivery guarantee.
    public enum DeliveryMode: String, Sendable, Hashable {
        /// Offsets are committed after the produced records were acknowledged; a crash can repeat a message.
        case atLeastOnce = "at_least_once"
        /// Produced records and the consumed offsets commit in one Kafka transaction; read_committed consumers
        /// downstream see each message once.
        case exactlyOnce = "exactly_once"
    }

    public enum Destination: Sendable, Hashable {
        case topic(String)
        case byOutput([String: String])

        /// Every topic this destination may write to.
        public var topics: [String] {
            switch self {
            case .topic(let topic): [topic]
            case .byOutput(let map): map.values.sorted()
            }
        }
    }
}

extension RouteConfiguration {
    /// Reads one entry of the configuration's `routes:` list.
    public init(_ value: YAMLValue) throws(YAMLError) {
        let map = try value.mapping()
        try map.allowOnly([
            "name", "from", "to", "mapping", "max_in_flight", "dead_letter_topic", "delivery", "resolve", "rule",
        ])
        location = value.location
        name = try map.require("name").nonEmptyString()
        guard name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" || $0 == "." }) else {
            throw try map.require("name").error("route names may use letters, digits, '-', '_' and '.' only")
        }
        from = try map.require("from").topicName()
        let toValue = try map.require("to")
        if case .mapping = toValue.node {
            var outputs: [String: String] = [:]
            for entry in try toValue.mapping().entries { outputs[entry.key] = try entry.value.topicName() }
            guard !outputs.isEmpty else { throw toValue.error("name at least one output topic") }
            to = .byOutput(outputs)
        } else {
            to = .topic(try toValue.topicName())
        }
        if to.topics.contains(from) { throw toValue.error("a route cannot write to the topic it reads (\(from))") }
        mapping = try map.optional("mapping")?.nonEmptyString()
        if let value = map.optional("max_in_flight") { maxInFlight = try value.int(in: 1...1_000_000) }
        deadLetterTopic = "dlq.\(name)"
        if let value = map.optional("dead_letter_topic") {
            deadLetterTopic = try value.topicName()
            if deadLetterTopic == from || to.topics.contains(deadLetterTopic) {
                throw value.error("the dead-letter topic must differ from the route's input and output topics")
            }
        }
        resolve = try map.optional("resolve")?.bool() ?? false
        if let value = map.optional("rule") {
            rule = try value.nonEmptyString()
            if mapping != nil || resolve {
                throw value.error("a route has one step: 'rule', 'mapping' or 'resolve'; chain routes for more")
            }
        }
        if let value = map.optional("delivery") {
            delivery = DeliveryMode(rawValue: try value.oneOf(["at_least_once", "exactly_once"]))!
        }
        if case .byOutput = to, mapping == nil {
            throw toValue.error("per-output topics need a mapping that names its outputs")
        }
    }
}
