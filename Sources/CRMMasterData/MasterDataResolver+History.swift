// CRMMasterData — the resolver's face over a store's consent statements and interaction timeline.

import Foundation

extension MasterDataResolver {
    /// The store's consent and timeline side, when it keeps one (every store crmhub ships does).
    nonisolated var historyStore: (any CustomerHistoryStore)? { store as? any CustomerHistoryStore }

    /// A golden id as it is now (following merges) and every id merged into it: consent statements and
    /// interactions recorded under an absorbed id count for the survivor.
    func historyIds(of goldenId: String) -> [String] {
        graph.read { graph in
            let live = graph.canonicalGoldenId(goldenId) ?? goldenId
            var ids: Set<String> = [live]
            for absorbed in graph.aliases.keys where graph.canonicalGoldenId(absorbed) == live { ids.insert(absorbed) }
            return ids.sorted()
        }
    }

    private func requireHistory() throws -> any CustomerHistoryStore {
        guard let history = historyStore else {
            throw MasterDataError(.configuration, "this master data store keeps no consent or timeline")
        }
        return history
    }

    /// Records consent statements (each under the golden id as it is now).
    public func recordConsents(_ consents: [Consent]) async throws {
        let history = try requireHistory()
        let live = consents.map { c in
            var c = c
            c.goldenId = graph.read { $0.canonicalGoldenId(c.goldenId) } ?? c.goldenId
            return c
        }
        try await history.recordConsents(live)
    }

    /// Every consent statement about a golden customer (and the ids merged into it), in recording order.
    public func consents(goldenId: String) async throws -> [Consent] {
        try await requireHistory().consents(goldenIds: historyIds(of: goldenId))
    }

    /// What holds now for `purpose` on `channel` for a golden customer (read from the store at every call, so a
    /// revocation counts for the next question). See ``Consent/resolve(_:purpose:channel:)``.
    public func consent(goldenId: String, purpose: String, channel: ConsentChannel) async throws -> ConsentDecision {
        Consent.resolve(try await consents(goldenId: goldenId), purpose: purpose, channel: channel)
    }

    /// Records interactions (each under the golden id as it is now); ones already stored are skipped.
    /// - Returns: how many were new.
    @discardableResult
    public func recordInteractions(_ entries: [TimelineEntry]) async throws -> Int {
        let history = try requireHistory()
        let live = entries.map { e in
            var e = e
            e.goldenId = graph.read { $0.canonicalGoldenId(e.goldenId) } ?? e.goldenId
            return e
        }
        return try await history.recordInteractions(live)
    }

    /// A page of a golden customer's timeline, newest first (see ``CustomerHistoryStore/timeline(goldenIds:limit:before:)``).
    public func timeline(goldenId: String, limit: Int, before: TimelineCursor? = nil) async throws -> TimelinePage {
        try await requireHistory().timeline(goldenIds: historyIds(of: goldenId), limit: limit, before: before)
    }

    /// The golden ids a message's customer references resolve to: the golden id itself when the graph knows it,
    /// else the golden record of the source record, else the golden records with this e-mail, else with this phone
    /// number. Empty when nothing matches.
    public func goldenIds(goldenId: String?, record: RecordRef? = nil, email: String?, phone: String?) -> [String] {
        if let goldenId, let live = graph.read({ $0.canonicalGoldenId(goldenId) }) { return [live] }
        if let record,
            let id = graph.read({ graph in graph.goldenId(for: record).map { graph.canonicalGoldenId($0) ?? $0 } })
        {
            return [id]
        }
        if let email {
            let found = lookup(email: email).map(\.id)
            if !found.isEmpty { return found }
        }
        if let phone { return lookup(phone: phone).map(\.id) }
        return []
    }

    /// Turns a resolved record's `consent{}` flags into consent statements (see
    /// ``Consent/statements(from:goldenId:receivedAt:)``). A flag is recorded only when it says something new: when
    /// the same source's latest statement for that purpose and channel differs (or there is none). So a source that
    /// re-sends an unchanged flag with every update does not overrule a newer statement from elsewhere.
    func recordConsentFlags(of record: CustomerRecord, goldenId: String) async throws {
        guard let flags = record.consent, !flags.isEmpty, let history = historyStore else { return }
        let receivedAt = Int64(Date().timeIntervalSince1970 * 1_000)
        let known = try await history.consents(goldenIds: historyIds(of: goldenId))
        let new = Consent.statements(from: record, goldenId: goldenId, receivedAt: receivedAt).filter { s in
            let same = known.filter { $0.source == s.source && $0.purpose == s.purpose && $0.channel == s.channel }
            switch Consent.resolve(same, purpose: s.purpose, channel: s.channel) {
            case .granted: return s.status != .granted
            case .revoked: return s.status != .revoked
            case .unknown: return true
            }
        }
        try await history.recordConsents(new)
    }
}
