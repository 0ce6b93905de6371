// CRMMasterData — the golden record and survivorship.

/// The best-known view of one person, built from its member records by survivorship rules.
public struct GoldenRecord: Sendable, Hashable, Codable {
    /// Stable id: assigned when the cluster is created and kept while records join it; a cluster absorbed by a
    /// merge keeps its id as an alias pointing to the survivor and gets it back on unmerge.
    public var id: String
    /// Attribute values chosen by survivorship.
    public var attributes: [GoldenAttribute: String]
    /// For each attribute, the record it came from.
    public var provenance: [GoldenAttribute: RecordRef]
    /// Member records (the cross-reference).
    public var members: [RecordRef]
    /// Consent flags: per flag, the value of the most recently updated member that states it.
    public var consent: [String: Bool]
    /// Latest member update.
    public var updatedAt: Int64?

    /// Builds a golden record from members by the configured rules. Deterministic for a given member order.
    public static func build(
        id: String, members: [CustomerRecord], configuration c: ResolverConfiguration
    ) -> GoldenRecord {
        var attributes: [GoldenAttribute: String] = [:]
        var provenance: [GoldenAttribute: RecordRef] = [:]
        // Recency order: newest first; records without a timestamp count as oldest; stable by input order.
        let ordered = members.enumerated().sorted { l, r in
            let a = l.element.updatedAt ?? Int64.min
            let b = r.element.updatedAt ?? Int64.min
            return a != b ? a > b : l.offset > r.offset
        }.map(\.element)
        for attribute in GoldenAttribute.allCases where attribute != .street2 {
            let candidates = ordered.compactMap { r in r.value(of: attribute).map { (r, $0) } }
            guard let first = candidates.first else { continue }
            var chosen = first
            switch c.rule(for: attribute) {
            case .mostRecent:
                break
            case .mostComplete:
                chosen = candidates.max { $0.1.count < $1.1.count } ?? first
                if let tie = candidates.first(where: { $0.1.count == chosen.1.count }) { chosen = tie }
            case .mostTrustedSource(let systems):
                let rank = { (s: String) in systems.firstIndex(of: s) ?? Int.max }
                let best = candidates.map { rank($0.0.system) }.min() ?? Int.max
                chosen = candidates.first { rank($0.0.system) == best } ?? first
            case .mostFrequent:
                var counts: [String: Int] = [:]
                for (_, v) in candidates { counts[v.lowercased(), default: 0] += 1 }
                let top = counts.values.max() ?? 0
                chosen = candidates.first { counts[$0.1.lowercased()] == top } ?? first
            }
            attributes[attribute] = chosen.1
            provenance[attribute] = chosen.0.ref
        }
        // The second address line belongs to the first: it comes from the record that gave the street.
        if let source = provenance[.street], let record = ordered.first(where: { $0.ref == source }),
            let line2 = record.value(of: .street2)
        {
            attributes[.street2] = line2
            provenance[.street2] = source
        }
        var consent: [String: Bool] = [:]
        for r in ordered.reversed() { for (k, v) in r.consent ?? [:] { consent[k] = v } }
        return GoldenRecord(
            id: id, attributes: attributes, provenance: provenance, members: members.map(\.ref), consent: consent,
            updatedAt: members.compactMap(\.updatedAt).max())
    }

    /// Whether the members' latest flag `purpose` is true (absent means no). The flags only; what holds for a purpose
    /// across every source and consent message is `MasterDataResolver.consent(goldenId:purpose:channel:)`.
    public func hasConsent(_ purpose: String) -> Bool { consent[purpose] == true }
}
