// CRMMasterData — change events about golden records, handed to a sink the daemon publishes to Kafka.

/// A change to a golden record ("golden customer created / updated / merged / unmerged / erased").
public struct MasterDataEvent: Sendable, Hashable, Codable {
    /// The kind of change.
    public enum Kind: String, Sendable, Hashable, Codable {
        case created, updated, merged, unmerged, erased
    }
    public var kind: Kind
    /// The golden record the event is about (the survivor for merges).
    public var goldenId: String
    /// For `merged`: the absorbed id; for `unmerged`: the restored id; for a detach: the new id.
    public var relatedGoldenId: String?
    /// The golden record after the change (`nil` for `erased`: publish a tombstone).
    public var golden: GoldenRecord?
    /// Erased source records (for tombstones on per-system topics).
    public var erasedRecords: [RecordRef]
    /// For `erased`: the refs of the person's web-form entries on the timeline (`web-<ingress id>` with the shipped
    /// `web-form` mapping), so every instance can delete the attachments it stored for those posts.
    public var erasedFormPosts: [String]
    /// Seconds since 1970.
    public var at: Int64

    public init(
        kind: Kind, goldenId: String, relatedGoldenId: String? = nil, golden: GoldenRecord?,
        erasedRecords: [RecordRef] = [], erasedFormPosts: [String] = [],
        at: Int64
    ) {
        self.kind = kind
        self.goldenId = goldenId
        self.relatedGoldenId = relatedGoldenId
        self.golden = golden
        self.erasedRecords = erasedRecords
        self.erasedFormPosts = erasedFormPosts
        self.at = at
    }

    private enum CodingKeys: String, CodingKey {
        case kind, goldenId, relatedGoldenId, golden, erasedRecords, erasedFormPosts, at
    }

    /// Decodes an event; one stored by a version without ``erasedFormPosts`` has none.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        kind = try container.decode(Kind.self, forKey: .kind)
        goldenId = try container.decode(String.self, forKey: .goldenId)
        relatedGoldenId = try container.decodeIfPresent(String.self, forKey: .relatedGoldenId)
        golden = try container.decodeIfPresent(GoldenRecord.self, forKey: .golden)
        erasedRecords = try container.decodeIfPresent([RecordRef].self, forKey: .erasedRecords) ?? []
        erasedFormPosts = try container.decodeIfPresent([String].self, forKey: .erasedFormPosts) ?? []
        at = try container.decode(Int64.self, forKey: .at)
    }

    /// Encodes the event; ``erasedFormPosts`` only when there are some (events other than `erased` look as before).
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(kind, forKey: .kind)
        try container.encode(goldenId, forKey: .goldenId)
        try container.encodeIfPresent(relatedGoldenId, forKey: .relatedGoldenId)
        try container.encodeIfPresent(golden, forKey: .golden)
        try container.encode(erasedRecords, forKey: .erasedRecords)
        if !erasedFormPosts.isEmpty { try container.encode(erasedFormPosts, forKey: .erasedFormPosts) }
        try container.encode(at, forKey: .at)
    }
}

/// Where the resolver hands its events; the daemon's implementation publishes them to Kafka keyed by golden id.
public protocol MasterDataEventSink: Sendable {
    /// Called after the change is stored, in the order the changes happened.
    func publish(_ events: [MasterDataEvent]) async throws
}

/// A sink that exposes events as an `AsyncSequence` (unbounded buffer: the consumer must keep up).
public final class AsyncStreamEventSink: MasterDataEventSink {
    /// The events, in order.
    public let events: AsyncStream<MasterDataEvent>
    private let continuation: AsyncStream<MasterDataEvent>.Continuation

    public init() {
        (events, continuation) = AsyncStream.makeStream(of: MasterDataEvent.self)
    }

    public func publish(_ events: [MasterDataEvent]) async throws {
        for e in events { continuation.yield(e) }
    }

    /// Ends the sequence.
    public func finish() { continuation.finish() }
}

/// One audited action with its evidence.
public struct AuditEntry: Sendable, Hashable, Codable {
    /// created, joined, updated, review, merged, unmerged, detached, erased.
    public var action: String
    public var goldenId: String
    public var relatedGoldenId: String?
    public var records: [RecordRef]
    public var score: Double?
    public var evidence: [Evidence]
    /// Who asked (a user for manual actions, "resolver" for automatic ones).
    public var actor: String
    public var at: Int64

    public init(
        action: String, goldenId: String, relatedGoldenId: String? = nil, records: [RecordRef], score: Double? = nil,
        evidence: [Evidence] = [], actor: String, at: Int64
    ) {
        self.action = action
        self.goldenId = goldenId
        self.relatedGoldenId = relatedGoldenId
        self.records = records
        self.score = score
        self.evidence = evidence
        self.actor = actor
        self.at = at
    }
}
