// CRMMasterData — customer messages on the stream: reading flat records and canonical Customer entities into
// resolver records, and writing the golden id back into the same JSON, byte-faithful otherwise.

import CRMModel

/// Why a message cannot be resolved as a customer. The message names fields and types, never values (it becomes
/// a dead-letter reason, and values are personal data).
public struct CustomerInputError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The reason, free of personal data.
    public var reason: String
    public init(_ reason: String) { self.reason = reason }
    public var description: String { "not a customer record: \(reason)" }
}

/// A customer message parsed for resolution: the resolver's record and the JSON it came from.
///
/// Two shapes are accepted:
/// - the **flat record** (`system`, `externalId`, `givenName`, `familyName`, `email`, `phone`, `street`, `street2`,
///   `city`, `postcode`, `country`, `dateOfBirth`, `updatedAt`, `consent`) — recognised by a `system` or `externalId` member;
/// - the **canonical Customer** as mappings emit it: `givenName`, `familyName` (else `displayName` split for a
///   person, `organisationName` for an organisation), `emails[]`, `phones[]`, `address{line1, line2, city,
///   postalCode, country}` (or the first of `addresses[]`), `dateOfBirth`/`birthDate`, `consent{}`, `externalIds{system: id}`.
///   The source system is the envelope's (`sourceSystem`, from the `crm-source` header) when `externalIds` has
///   an entry for it, else the only `externalIds` entry; without one, the envelope's system (or `customer`) with
///   the entity's `id`.
public struct CustomerMessage: Sendable {
    /// The envelope header that names the source system of a message.
    public static let sourceHeader = "crm-source"

    /// The record the resolver compares.
    public var record: CustomerRecord
    /// Whether the input was a canonical Customer entity (not a flat record).
    public var isCanonical: Bool
    /// The parsed message.
    public var json: JSONValue

    /// Parses a message value.
    public init(bytes: [UInt8], sourceSystem: String? = nil) throws(CustomerInputError) {
        let value: JSONValue
        do { value = try JSONValue.parse(bytes) } catch { throw CustomerInputError("the value is not JSON") }
        guard let members = value.objectMembers else { throw CustomerInputError("the value is not a JSON object") }
        json = value
        let keys = Set(members.map(\.0))
        if keys.contains("system") || keys.contains("externalId") {
            isCanonical = false
            record = try Self.flat(value)
        } else {
            isCanonical = true
            record = try Self.canonical(value, sourceSystem: sourceSystem)
        }
        let usable = [record.givenName, record.familyName, record.email, record.phone].contains { $0 != nil }
        guard usable else {
            throw CustomerInputError("no usable field: a customer needs a name, an e-mail address or a phone number")
        }
    }

    /// The message with the golden id written into it (`goldenId`; flat records also get `resolution`), members in
    /// their original order, numbers and strings as they were.
    public func resolved(goldenId: String, decision: ResolutionDecision) -> [UInt8] {
        var out = json
        out.replace(member: "goldenId", with: .string(goldenId))
        if !isCanonical { out.replace(member: "resolution", with: .string(decision.rawValue)) }
        return out.jsonBytes()
    }

    // MARK: Reading

    static func flat(_ v: JSONValue) throws(CustomerInputError) -> CustomerRecord {
        guard let system = try string(v, "system") else { throw CustomerInputError("missing field 'system'") }
        guard let externalId = try string(v, "externalId") else {
            throw CustomerInputError("missing field 'externalId'")
        }
        var r = CustomerRecord(system: system, externalId: externalId)
        r.givenName = try string(v, "givenName")
        r.familyName = try string(v, "familyName")
        r.email = try string(v, "email")
        r.phone = try string(v, "phone")
        r.street = try string(v, "street")
        r.street2 = try string(v, "street2")
        r.city = try string(v, "city")
        r.postcode = try string(v, "postcode")
        r.country = try string(v, "country")
        r.dateOfBirth = try string(v, "dateOfBirth")
        r.updatedAt = try integer(v, "updatedAt")
        r.consent = try flags(v, "consent")
        return r
    }

    static func canonical(_ v: JSONValue, sourceSystem: String?) throws(CustomerInputError) -> CustomerRecord {
        let id = try string(v, "id")
        var ref: RecordRef?
        if let ids = v["externalIds"], !ids.isNull {
            guard let members = ids.objectMembers else {
                throw CustomerInputError("field 'externalIds' has the wrong type")
            }
            var pairs: [(String, String)] = []
            for (system, value) in members {
                guard let text = value.scalarText, value.stringValue != nil || value.doubleValue != nil else {
                    throw CustomerInputError("field 'externalIds.\(Self.safeKey(system))' has the wrong type")
                }
                pairs.append((system, text))
            }
            if let s = sourceSystem, let hit = pairs.first(where: { $0.0 == s }) {
                ref = RecordRef(system: hit.0, externalId: hit.1)
            } else if pairs.count == 1 {
                ref = RecordRef(system: pairs[0].0, externalId: pairs[0].1)
            }
        }
        if ref == nil, let id { ref = RecordRef(system: sourceSystem ?? "customer", externalId: id) }
        guard let ref else { throw CustomerInputError("missing field 'id' (or one 'externalIds' entry)") }
        var r = CustomerRecord(system: ref.system, externalId: ref.externalId)
        r.givenName = try string(v, "givenName")
        r.familyName = try string(v, "familyName")
        let kind = try string(v, "kind")
        if kind == "organisation" {
            if r.familyName == nil { r.familyName = try string(v, "organisationName") }
        } else if r.givenName == nil && r.familyName == nil, let display = try string(v, "displayName") {
            let parts = display.split(separator: " ")
            if parts.count >= 2 {
                r.givenName = String(parts[0])
                r.familyName = String(parts[parts.count - 1])
            } else {
                r.familyName = display
            }
        }
        r.email = try strings(v, "emails").first
        if r.email == nil { r.email = try string(v, "email") }
        r.phone = try strings(v, "phones").first
        if r.phone == nil { r.phone = try string(v, "phone") }
        var address = v["address"]
        if address == nil || address?.isNull == true, let list = v["addresses"], !list.isNull {
            guard let items = list.arrayItems else { throw CustomerInputError("field 'addresses' has the wrong type") }
            address = items.first
        }
        if let a = address, !a.isNull {
            guard a.objectMembers != nil else { throw CustomerInputError("field 'address' has the wrong type") }
            r.street = try string(a, "line1", path: "address.line1")
            r.street2 = try string(a, "line2", path: "address.line2")
            r.city = try string(a, "city", path: "address.city")
            r.postcode = try string(a, "postalCode", path: "address.postalCode")
            r.country = try string(a, "country", path: "address.country")
        }
        r.dateOfBirth = try string(v, "dateOfBirth")
        if r.dateOfBirth == nil { r.dateOfBirth = try string(v, "birthDate") }
        r.consent = try flags(v, "consent")
        return r
    }

    static func string(_ v: JSONValue, _ key: String, path: String? = nil) throws(CustomerInputError) -> String? {
        guard let x = v[key], !x.isNull else { return nil }
        if let s = x.stringValue { return s.contains(where: { !$0.isWhitespace }) ? s : nil }
        if case .number(let n) = x { return n }
        throw CustomerInputError("field '\(path ?? key)' has the wrong type")
    }

    static func integer(_ v: JSONValue, _ key: String) throws(CustomerInputError) -> Int64? {
        guard let x = v[key], !x.isNull else { return nil }
        if case .number(let n) = x, let i = Int64(n) { return i }
        if let s = x.stringValue, let i = Int64(s) { return i }
        throw CustomerInputError("field '\(key)' has the wrong type")
    }

    static func strings(_ v: JSONValue, _ key: String) throws(CustomerInputError) -> [String] {
        guard let x = v[key], !x.isNull else { return [] }
        guard let items = x.arrayItems else { throw CustomerInputError("field '\(key)' has the wrong type") }
        var out: [String] = []
        for item in items {
            guard let s = item.stringValue else { throw CustomerInputError("field '\(key)' has the wrong type") }
            if s.contains(where: { !$0.isWhitespace }) { out.append(s) }
        }
        return out
    }

    static func flags(_ v: JSONValue, _ key: String) throws(CustomerInputError) -> [String: Bool]? {
        guard let x = v[key], !x.isNull else { return nil }
        guard let members = x.objectMembers else { throw CustomerInputError("field '\(key)' has the wrong type") }
        var out: [String: Bool] = [:]
        for (k, value) in members {
            guard case .bool(let b) = value else {
                throw CustomerInputError("field '\(key).\(safeKey(k))' has the wrong type")
            }
            out[k] = b
        }
        return out
    }

    /// A member name fit for an error message: system names are configuration, but cap and clean them.
    static func safeKey(_ k: String) -> String {
        String(k.prefix(32).filter { $0.isLetter || $0.isNumber || $0 == "_" || $0 == "-" })
    }
}

extension JSONValue {
    /// Sets a top-level member in place (keeping its position) or appends it. Other members are untouched.
    mutating func replace(member key: String, with value: JSONValue) {
        guard var members = objectMembers else { return }
        if let i = members.lastIndex(where: { $0.0 == key }) {
            members[i].1 = value
        } else {
            members.append((key, value))
        }
        self = .object(members)
    }
}
