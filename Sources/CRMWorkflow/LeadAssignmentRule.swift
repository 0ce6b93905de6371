import CRMDelivery
import CRMModel
import CRMYAML
import Foundation

/// "Route a lead by territory and current workload": a route step (`rule: NAME` on a route) that gives each new lead
/// without an owner the owner of its territory who has the fewest open leads.
///
/// ```yaml
/// name: assign-leads
/// kind: lead-assignment
/// territories: territories.csv            # see TerritoryTable; relative to this file
/// fields: {id: id, country: address.country, postal_code: address.postalCode, status: status, owner: owner}
/// open_statuses: [new, contacted, qualified]
/// max_open_per_owner: 25                  # owners at the limit get no new lead while a colleague has room
/// fallback_owner: sales-queue             # for leads no territory covers; without it they go to the DLQ
/// ```
///
/// Each lead keeps its first owner: a redelivered or updated lead gets the same one, a lead that arrives with an
/// owner (set in the CRM) counts for that owner, and a lead whose status leaves `open_statuses` frees its owner.
public struct LeadAssignmentRule: Sendable {
    public var name: String
    public var file: String
    public var territories: TerritoryTable
    public var fields: Fields
    /// Lead statuses that count towards an owner's workload. A lead without status is open.
    public var openStatuses: Set<String> = ["new", "contacted", "qualified"]
    public var maxOpenPerOwner: Int?
    public var fallbackOwner: String?

    /// Where the lead's values are (dotted paths).
    public struct Fields: Sendable {
        public var id = "id"
        public var country = "country"
        public var postalCode = "postalCode"
        public var status = "status"
        public var owner = "owner"
    }

    init(_ map: YAMLMapping, name: String, file: String) throws(YAMLError) {
        try map.allowOnly([
            "name", "kind", "description", "territories", "fields", "open_statuses", "max_open_per_owner",
            "fallback_owner",
        ])
        self.name = name
        self.file = file
        let tableValue = try map.require("territories")
        let tableName = try tableValue.nonEmptyString()
        let tablePath =
            tableName.hasPrefix("/")
            ? tableName : URL(fileURLWithPath: file).deletingLastPathComponent().appendingPathComponent(tableName).path
        guard let text = try? String(contentsOfFile: tablePath, encoding: .utf8) else {
            throw tableValue.error("cannot read the territory table \(tablePath)")
        }
        do {
            territories = try TerritoryTable(csv: text, file: tablePath)
        } catch {
            throw tableValue.error("\(error)")
        }
        fields = Fields()
        if let value = map.optional("fields") {
            let fieldMap = try value.mapping()
            try fieldMap.allowOnly(["id", "country", "postal_code", "status", "owner"])
            if let path = try fieldMap.optional("id")?.nonEmptyString() { fields.id = path }
            if let path = try fieldMap.optional("country")?.nonEmptyString() { fields.country = path }
            if let path = try fieldMap.optional("postal_code")?.nonEmptyString() { fields.postalCode = path }
            if let path = try fieldMap.optional("status")?.nonEmptyString() { fields.status = path }
            if let path = try fieldMap.optional("owner")?.nonEmptyString() { fields.owner = path }
        }
        if let value = map.optional("open_statuses") {
            openStatuses = Set(try value.sequence().map { item throws(YAMLError) in try item.nonEmptyString() })
        }
        maxOpenPerOwner = try map.optional("max_open_per_owner")?.int(in: 1...1_000_000)
        fallbackOwner = try map.optional("fallback_owner")?.nonEmptyString()
    }

    /// The lead's value at a dotted path, as text.
    func text(_ lead: JSONValue, _ path: String) -> String? {
        var value: JSONValue? = lead
        for part in path.split(separator: ".") { value = value?[String(part)] }
        guard let text = value?.scalarText?.trimmingCharacters(in: .whitespaces), !text.isEmpty else { return nil }
        return text
    }

    /// Whether the lead counts towards its owner's workload.
    func isOpen(_ lead: JSONValue) -> Bool {
        text(lead, fields.status).map(openStatuses.contains) ?? true
    }

    /// Picks the owner for a new lead in `territory`: the one with the fewest open leads among those below the limit
    /// (all of them when everyone is at the limit); ties go to the owner listed first.
    public func chooseOwner(in territory: String, openLeads: [String: Int]) -> (owner: String, atLimit: Bool)? {
        let owners = territories.owners(of: territory)
        guard !owners.isEmpty else { return nil }
        let load = { (owner: String) in openLeads[owner] ?? 0 }
        let withRoom = maxOpenPerOwner.map { limit in owners.filter { load($0) < limit } } ?? owners
        let pool = withRoom.isEmpty ? owners : withRoom
        var best = pool[0]
        for owner in pool.dropFirst() where load(owner) < load(best) { best = owner }
        return (best, withRoom.isEmpty)
    }
}
