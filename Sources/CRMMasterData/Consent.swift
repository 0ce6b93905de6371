// CRMMasterData — consent: canonical consent statements per golden customer and how they resolve.

/// The channel a consent statement covers. `any` covers every channel.
public enum ConsentChannel: String, Sendable, Hashable, Codable, CaseIterable {
    case email, sms, phone, any
}

/// Whether a consent statement grants or revokes.
public enum ConsentStatus: String, Sendable, Hashable, Codable {
    case granted, revoked
}

/// One consent statement about a golden customer, as a source system reported it: the person granted or revoked
/// `purpose` (marketing, newsletter, profiling…) on `channel` at `at`. The master data keeps every statement from
/// every source; ``Consent/resolve(_:purpose:channel:)`` decides what holds now.
public struct Consent: Sendable, Hashable, Codable {
    /// The golden customer the statement is about.
    public var goldenId: String
    /// What the person agreed to or refused (lower case: `marketing`, `newsletter`, `profiling`).
    public var purpose: String
    /// The channel it covers (`any`: every channel).
    public var channel: ConsentChannel
    /// Granted or revoked.
    public var status: ConsentStatus
    /// The system that reported it (the envelope's source system, `web`, `crm`…).
    public var source: String
    /// When the person made the statement (milliseconds since 1970, UTC).
    public var at: Int64

    /// A statement; `purpose` is kept in lower case.
    public init(
        goldenId: String, purpose: String, channel: ConsentChannel, status: ConsentStatus, source: String, at: Int64
    ) {
        self.goldenId = goldenId
        self.purpose = purpose.lowercased()
        self.channel = channel
        self.status = status
        self.source = source
        self.at = at
    }

    /// The statements a customer record's `consent{}` flags make (`source` = the record's system, time = its
    /// `updatedAt`, else `receivedAt`). A flag named after a channel (`email: true`) is marketing on that channel;
    /// `<purpose>_<channel>` (`marketing_email`) is that purpose on that channel; any other name is a purpose on
    /// every channel (`newsletter`, `profiling`).
    /// - Parameter receivedAt: milliseconds since 1970, used when the record has no `updatedAt`.
    public static func statements(
        from record: CustomerRecord, goldenId: String, receivedAt: Int64
    ) -> [Consent] {
        let at = record.updatedAt.map { $0 * 1_000 } ?? receivedAt
        return (record.consent ?? [:]).sorted { $0.key < $1.key }.map { flag, value in
            let (purpose, channel) = Self.purposeAndChannel(ofFlag: flag)
            return Consent(
                goldenId: goldenId, purpose: purpose, channel: channel, status: value ? .granted : .revoked,
                source: record.system, at: at)
        }
    }

    /// The purpose and channel a `consent{}` flag name stands for (see ``statements(from:goldenId:receivedAt:)``).
    public static func purposeAndChannel(ofFlag flag: String) -> (purpose: String, channel: ConsentChannel) {
        let name = flag.lowercased()
        if let channel = ConsentChannel(rawValue: name), channel != .any { return ("marketing", channel) }
        if let underscore = name.lastIndex(of: "_"),
            let channel = ConsentChannel(rawValue: String(name[name.index(after: underscore)...])),
            underscore > name.startIndex
        {
            return (String(name[..<underscore]), channel)
        }
        return (name, .any)
    }

    /// What holds for `purpose` on `channel`, given every statement about one customer in the order they were
    /// recorded: the latest statement by time among those for the purpose on that channel or on `any` wins (on equal
    /// times, the one recorded last). No statement means ``ConsentDecision/unknown``, which callers treat as no.
    /// Asking for channel `any` considers only statements that cover every channel.
    public static func resolve(_ statements: [Consent], purpose: String, channel: ConsentChannel) -> ConsentDecision {
        let purpose = purpose.lowercased()
        var latest: Consent?
        for s in statements where s.purpose == purpose && (s.channel == channel || s.channel == .any) {
            if let l = latest, l.at > s.at { continue }
            latest = s
        }
        guard let latest else { return .unknown }
        return latest.status == .granted ? .granted(latest) : .revoked(latest)
    }
}

/// What holds for one purpose on one channel.
public enum ConsentDecision: Sendable, Hashable {
    /// The latest statement grants.
    case granted(Consent)
    /// The latest statement revokes.
    case revoked(Consent)
    /// No statement: treat as no.
    case unknown

    /// Whether the purpose may be served (only an explicit grant allows it).
    public var allows: Bool {
        if case .granted = self { return true }
        return false
    }

    /// `granted`, `revoked` or `unknown` (for metrics, logs and the CLI).
    public var label: String {
        switch self {
        case .granted: "granted"
        case .revoked: "revoked"
        case .unknown: "unknown"
        }
    }
}
