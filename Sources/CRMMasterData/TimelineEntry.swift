// CRMMasterData — contact history: interactions on a golden customer (the 360° timeline) and their pages.

/// One interaction with a golden customer: a web form, an e-mail in or out, a call, an order, an invoice, a payment,
/// a ticket. Only what a timeline shows is kept — no free text beyond a subject. Unique per (`source`, `ref`), so a
/// redelivered message records nothing new.
public struct TimelineEntry: Sendable, Hashable, Codable {
    /// The golden customer.
    public var goldenId: String
    /// When it happened (milliseconds since 1970, UTC).
    public var at: Int64
    /// How it reached us: `web`, `email`, `phone`, `shop`, `billing`, `erp`…
    public var channel: String
    /// What it was: `form`, `email`, `call`, `order`, `invoice`, `payment`, `ticket`, `chat`.
    public var kind: String
    /// `inbound` (from the customer), `outbound` (to the customer) or `internal`.
    public var direction: String
    /// The source system (`web`, `tryton`, `stripe`, `kamailio`, …).
    public var source: String
    /// The source's id of the message or record (with `source`, the idempotency key).
    public var ref: String
    /// A short summary: a subject, an order status and total; never a message body.
    public var summary: String?

    /// An entry; a summary longer than ``maximumSummaryLength`` (or over several lines) is cut.
    public init(
        goldenId: String, at: Int64, channel: String, kind: String, direction: String, source: String, ref: String,
        summary: String? = nil
    ) {
        self.goldenId = goldenId
        self.at = at
        self.channel = channel
        self.kind = kind
        self.direction = direction
        self.source = source
        self.ref = ref
        self.summary = summary.map { TimelineEntry.shorten($0) }
    }

    /// The longest summary kept (longer ones are cut with "…").
    public static let maximumSummaryLength = 160

    static func shorten(_ s: String) -> String {
        let line = s.split(whereSeparator: \.isNewline).first.map(String.init) ?? ""
        return line.count <= maximumSummaryLength ? line : String(line.prefix(maximumSummaryLength - 1)) + "…"
    }
}

/// Where a timeline page ends: the next page lists entries strictly older than this (time, then store order).
public struct TimelineCursor: Sendable, Hashable, CustomStringConvertible {
    /// Milliseconds since 1970 of the last entry shown.
    public var at: Int64
    /// The store's sequence number of the last entry shown (orders entries with equal times).
    public var seq: Int64

    /// A cursor after the entry at `at` with sequence number `seq`.
    public init(at: Int64, seq: Int64) {
        self.at = at
        self.seq = seq
    }

    /// Reads the text form `<at>.<seq>`; `nil` when it is not one.
    public init?(_ text: String) {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 2, let at = Int64(parts[0]), let seq = Int64(parts[1]), seq >= 0 else { return nil }
        self.init(at: at, seq: seq)
    }

    /// `<at>.<seq>`, as `--before` and `?before=` take it.
    public var description: String { "\(at).\(seq)" }
}

/// One page of a timeline, newest first.
public struct TimelinePage: Sendable, Hashable {
    /// The entries, newest first.
    public var entries: [TimelineEntry]
    /// Where the next (older) page starts; `nil` when this page is the last.
    public var next: TimelineCursor?

    /// A page and where the next one starts.
    public init(entries: [TimelineEntry], next: TimelineCursor?) {
        self.entries = entries
        self.next = next
    }

    /// The largest page a store returns.
    public static let maximumLimit = 500
}

/// The per-customer history a master-data store keeps besides golden records: consent statements and the
/// interaction timeline. Conformances: `SQLiteMasterDataStore`, `InMemoryMasterDataStore`,
/// `PostgresMasterDataStore`. Golden ids are taken as given; the resolver passes a customer's id together with the
/// ids merged into it.
public protocol CustomerHistoryStore: Sendable {
    /// Stores consent statements (a statement identical to a stored one is kept once).
    func recordConsents(_ consents: [Consent]) async throws
    /// Every consent statement about these golden ids, in the order they were recorded.
    func consents(goldenIds: [String]) async throws -> [Consent]
    /// Stores interactions; one whose (source, ref) is stored already is skipped.
    /// - Returns: how many were new.
    @discardableResult
    func recordInteractions(_ entries: [TimelineEntry]) async throws -> Int
    /// The interactions of these golden ids, newest first, at most `limit` (capped at
    /// ``TimelinePage/maximumLimit``), older than `before` when given.
    func timeline(goldenIds: [String], limit: Int, before: TimelineCursor?) async throws -> TimelinePage
    /// Deletes the consent statements and interactions of these golden ids (right to erasure).
    func eraseHistory(goldenIds: [String]) async throws
}
