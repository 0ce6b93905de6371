// CRMMasterData — resolver configuration: thresholds, blocking and survivorship, decoded from config.

/// Attributes of a golden record that have a survivorship rule.
public enum GoldenAttribute: String, Sendable, Hashable, Codable, CaseIterable, CodingKeyRepresentable {
    case givenName = "given_name"
    case familyName = "family_name"
    case email, phone, street
    /// The second address line. It is not chosen on its own: it comes from the record that gave `street`, so
    /// the two lines of the golden address are one record's address (a survivorship rule for it is refused).
    case street2
    case city, postcode, country
    case dateOfBirth = "date_of_birth"
}

/// How one golden attribute is chosen among the member records.
public enum SurvivorshipRule: Sendable, Hashable, Codable {
    /// The value from the first system in the list that has one; ties broken by recency.
    case mostTrustedSource([String])
    /// The value from the most recently updated record.
    case mostRecent
    /// The longest value (the most complete spelling); ties broken by recency.
    case mostComplete
    /// The value most members agree on (after trimming, case-insensitive); ties broken by recency.
    case mostFrequent
}

/// Everything the resolver needs to know; `Sendable` and decoded from the hub configuration (`mdm:` block).
public struct ResolverConfiguration: Sendable, Codable {
    /// Match weights (log2 posterior odds, prior included; see `MatchModel`) at or above this merge automatically.
    /// Default 0: a match probability of 0.5, the point where merging is right more often than wrong under the
    /// learned model — the decision that maximises expected accuracy, not a value fitted to an evaluation set.
    public var mergeThreshold: Double = 0
    /// Match weights at or above this and below `mergeThreshold` go to the review queue. Default -2: a match
    /// probability between 0.2 and 0.5, pairs the model itself considers genuinely uncertain.
    public var reviewThreshold: Double = -2
    /// A record joins a cluster only if its mean score over the cluster's members reaches this (no chaining).
    /// Default: the review threshold.
    public var clusterMeanThreshold: Double? = nil
    /// Blocks larger than this are not used for candidates (frequent values: switchboards, "smith john").
    /// Default 64.
    public var maxBlockSize: Int = 64
    /// Survivorship rule per attribute; attributes without an entry use `defaultRule`.
    public var survivorship: [GoldenAttribute: SurvivorshipRule] = [:]
    /// Rule for attributes without an entry. Default `.mostRecent`.
    public var defaultRule: SurvivorshipRule = .mostRecent

    public init() {}

    /// The rule for an attribute.
    public func rule(for a: GoldenAttribute) -> SurvivorshipRule { survivorship[a] ?? defaultRule }

    /// Validates the thresholds and the survivorship rules.
    public func validate() throws(MasterDataError) {
        guard reviewThreshold <= mergeThreshold else {
            throw MasterDataError(
                .configuration, "review_threshold \(reviewThreshold) exceeds merge_threshold \(mergeThreshold)")
        }
        guard maxBlockSize >= 2 else { throw MasterDataError(.configuration, "max_block_size must be at least 2") }
        guard survivorship[.street2] == nil else {
            throw MasterDataError(
                .configuration, "street2 has no survivorship rule of its own: it comes with street (set one for street)"
            )
        }
    }
}

/// A typed master-data error with context.
public struct MasterDataError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What went wrong.
    public struct Kind: RawRepresentable, Sendable, Hashable {
        public var rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        public static let configuration = Kind(rawValue: "configuration")
        public static let notFound = Kind(rawValue: "not found")
        public static let invalidOperation = Kind(rawValue: "invalid operation")
        public static let store = Kind(rawValue: "store")
        public static let input = Kind(rawValue: "input")
        /// The record belongs to an erased person (see ``ErasureLedger``).
        public static let erased = Kind(rawValue: "erased")
    }
    public var kind: Kind
    public var message: String
    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }
    public var description: String { "\(kind.rawValue): \(message)" }
}
