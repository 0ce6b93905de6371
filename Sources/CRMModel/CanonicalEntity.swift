/// The canonical CRM entities and their validation rules.
///
/// Mapped records are JSON objects; `validate` checks required fields, enumerations and formats so a mapping can
/// never emit a record the rest of the hub would reject. Field names are camelCase.
///
/// - Customer: `id`, `kind` (person|organisation), `displayName`, optional `givenName`, `familyName`,
///   `organisationName`, `emails` [string], `phones` [E.164 string], `addresses` [{`line1`, `city`, `postalCode`,
///   `country` (ISO 3166 alpha-2)}], `externalIds` {system: id}, `consent` {`email`,`sms`,`phone`: bool}.
/// - Order: `id`, `customerRef`, `currency` (ISO 4217), `total` (decimal string), `status`
///   (draft|confirmed|paid|partially_paid|shipped|cancelled|refunded), `lines` [{`sku`, `quantity`, `unitPrice`}].
/// - Ticket: `id`, `subject`, `channel` (web|email|phone|chat), `severity` (low|normal|high|urgent),
///   `status` (new|open|pending|solved|closed), optional `body`, `customerRef`.
/// - Interaction: `id`, `type` (call|email|form|chat), `channel`, `direction` (inbound|outbound), `startedAt`
///   (RFC 3339), optional `endedAt`, `customerRef`.
/// - Consent: `purpose` (lower case: marketing|newsletter|profiling…), `channel` (email|sms|phone|any), `status`
///   (granted|revoked), optional `at` (RFC 3339), `source`, and who: `goldenId`, `customerRef` or `email`.
/// - ERPParty: outbound party record for the ERP: `code`, `name`, optional `contactMechanisms`, `addresses`.
/// - OrderPaymentStatus: `status` (paid|partially_paid|unpaid|refunded|failed) and what was paid: `orderRef` and/or
///   `invoiceRef` (a subscription invoice names no order); optional `paymentRef`, `currency`, `amountPaid` (decimal
///   string), `goldenId`.
public enum CanonicalEntity: String, Sendable, CaseIterable {
    case customer = "Customer"
    case order = "Order"
    case ticket = "Ticket"
    case interaction = "Interaction"
    case erpParty = "ERPParty"
    case paymentStatus = "OrderPaymentStatus"
    case consent = "Consent"

    /// An entity's validation rules, built once (a class: validation reads them for every mapped record).
    final class Rule: Sendable {
        let required: [String]
        /// Groups of fields of which each record must carry at least one (who or what the record is about).
        let requiredOneOf: [[String]]
        /// Enumerated fields sorted by name (problems are reported in this order), with their values sorted (a few
        /// short strings: a scan compares fewer bytes than hashing for a `Set`).
        let enums: [(field: String, allowed: [String])]
        let decimals: [String]
        let timestamps: [String]
        let e164Lists: [String]
        let emailLists: [String]
        let currencies: [String]
        /// Every field the rules read, once each: ``CanonicalEntity/validatedFieldList``.
        let fields: [String]
        /// The rules' fields as positions in ``fields`` (same shapes as the lists above).
        let requiredAt: [Int]
        let requiredOneOfAt: [[Int]]
        let enumsAt: [Int]
        let decimalsAt: [Int]
        let timestampsAt: [Int]
        let e164ListsAt: [Int]
        let emailListsAt: [Int]
        let currenciesAt: [Int]

        init(
            required: [String], requiredOneOf: [[String]] = [], enums: [String: Set<String>] = [:],
            decimals: [String] = [], timestamps: [String] = [], e164Lists: [String] = [], emailLists: [String] = [],
            currencies: [String] = []
        ) {
            self.required = required
            self.requiredOneOf = requiredOneOf
            self.enums = enums.sorted { $0.key < $1.key }.map { (field: $0.key, allowed: $0.value.sorted()) }
            self.decimals = decimals
            self.timestamps = timestamps
            self.e164Lists = e164Lists
            self.emailLists = emailLists
            self.currencies = currencies
            var fields: [String] = []
            func at(_ names: [String]) -> [Int] {
                names.map { name in
                    if let k = fields.firstIndex(of: name) { return k }
                    fields.append(name)
                    return fields.count - 1
                }
            }
            requiredAt = at(required)
            requiredOneOfAt = requiredOneOf.map(at)
            enumsAt = at(self.enums.map(\.field))
            decimalsAt = at(decimals)
            timestampsAt = at(timestamps)
            e164ListsAt = at(e164Lists)
            emailListsAt = at(emailLists)
            currenciesAt = at(currencies)
            self.fields = fields
        }
    }

    var rule: Rule {
        switch self {
        case .customer: Self.customerRule
        case .order: Self.orderRule
        case .ticket: Self.ticketRule
        case .interaction: Self.interactionRule
        case .erpParty: Self.erpPartyRule
        case .paymentStatus: Self.paymentStatusRule
        case .consent: Self.consentRule
        }
    }

    // The rules are built once: validation runs for every mapped record.
    static let customerRule = makeRule(.customer)
    static let orderRule = makeRule(.order)
    static let ticketRule = makeRule(.ticket)
    static let interactionRule = makeRule(.interaction)
    static let erpPartyRule = makeRule(.erpParty)
    static let paymentStatusRule = makeRule(.paymentStatus)
    static let consentRule = makeRule(.consent)

    static func makeRule(_ entity: CanonicalEntity) -> Rule {
        switch entity {
        case .customer:
            Rule(
                required: ["id", "kind", "displayName"], enums: ["kind": ["person", "organisation"]],
                e164Lists: ["phones"], emailLists: ["emails"])
        case .order:
            Rule(
                required: ["id", "customerRef", "currency", "total", "status"],
                enums: [
                    "status": ["draft", "confirmed", "paid", "partially_paid", "shipped", "cancelled", "refunded"]
                ],
                decimals: ["total"], currencies: ["currency"])
        case .ticket:
            Rule(
                required: ["id", "subject", "channel", "severity", "status"],
                enums: [
                    "channel": ["web", "email", "phone", "chat"], "severity": ["low", "normal", "high", "urgent"],
                    "status": ["new", "open", "pending", "solved", "closed"],
                ])
        case .interaction:
            Rule(
                required: ["id", "type", "direction", "startedAt"],
                enums: ["type": ["call", "email", "form", "chat"], "direction": ["inbound", "outbound"]],
                timestamps: ["startedAt", "endedAt"])
        case .erpParty:
            Rule(required: ["code", "name"])
        case .consent:
            Rule(
                required: ["purpose", "channel", "status"],
                enums: ["channel": ["email", "sms", "phone", "any"], "status": ["granted", "revoked"]],
                timestamps: ["at"])
        case .paymentStatus:
            // An order's payment names the order; a subscription invoice names only itself.
            Rule(
                required: ["status"], requiredOneOf: [["orderRef", "invoiceRef"]],
                enums: ["status": ["paid", "partially_paid", "unpaid", "refunded", "failed"]],
                decimals: ["amountPaid"], currencies: ["currency"])
        }
    }

    /// Top-level fields every record of this entity must carry.
    public var requiredFields: [String] { rule.required }

    /// The top-level fields ``validate(member:)`` reads: a record's other members do not change its problems.
    public var validatedFields: Set<String> { Set(rule.fields) }

    /// ``validatedFields`` in a fixed order, each once: ``validate(memberAt:)`` asks for them by position here.
    public var validatedFieldList: [String] { rule.fields }

    /// Problems with `record` as an instance of this entity (empty when valid).
    public func validate(_ record: JSONValue) -> [String] {
        guard case .object = record else { return ["\(rawValue) must be a JSON object, found \(record.typeName)"] }
        return validate(member: { record[$0] })
    }

    /// Problems with a JSON object whose top-level member `name` (the last one of that name) is `member(name)`, nil
    /// when it has none: ``validate(_:)`` for a record that is not held as a ``JSONValue`` tree. Only the names in
    /// ``validatedFields`` are asked for.
    public func validate(member record: (String) -> JSONValue?) -> [String] {
        let fields = rule.fields
        return validate(memberAt: { record(fields[$0]) })
    }

    /// ``validate(member:)`` for a reader that has the record's members by position in ``validatedFieldList``:
    /// `member(k)` is the last top-level member named `validatedFieldList[k]`, nil when the record has none. No name
    /// is looked up.
    public func validate(memberAt record: (Int) -> JSONValue?) -> [String] {
        let count = rule.fields.count
        return withUnsafeTemporaryAllocation(of: JSONValue?.self, capacity: count) { members in
            for k in 0..<count { members.initializeElement(at: k, to: record(k)) }
            defer { members.deinitialize() }
            return validate(members: UnsafeBufferPointer(members))
        }
    }

    /// ``validate(memberAt:)`` for a reader that holds the record's members in memory by position in
    /// ``validatedFieldList``: `members[k]` is the last top-level member named `validatedFieldList[k]`, nil when the
    /// record has none (borrowed for the call; `members.count` is the list's count).
    public func validate(members: UnsafeBufferPointer<JSONValue?>) -> [String] {
        let r = rule
        precondition(members.count == r.fields.count, "validation needs one member per validated field")
        var problems: [String] = []
        // The rules' names are read only for the problems found: a valid record retains none of them.
        for i in r.requiredAt.indices {
            switch members[r.requiredAt[i]] {
            case nil, .null?: problems.append("required field '\(r.required[i])' is missing")
            case .string(let s)? where s.isEmpty: problems.append("required field '\(r.required[i])' is empty")
            default: break
            }
        }
        for i in r.requiredOneOfAt.indices
        where !r.requiredOneOfAt[i].contains(where: { members[$0].map { !$0.isNull && $0.stringValue != "" } ?? false })
        {
            let group = r.requiredOneOf[i]
            problems.append("one of the fields \(group.map { "'\($0)'" }.joined(separator: ", ")) is required")
        }
        for i in r.enumsAt.indices {
            switch members[r.enumsAt[i]] {
            case nil, .null?: break
            case .string(let s)? where r.enums[i].allowed.contains(s): break
            case let v?:
                let (f, allowed) = r.enums[i]
                problems.append("field '\(f)' must be one of \(allowed.joined(separator: "|")), found \(v.jsonText)")
            }
        }
        for i in r.decimalsAt.indices {
            switch members[r.decimalsAt[i]] {
            case nil, .null?: break
            case .string(let s)? where Self.isDecimal(s): break
            case let v?:
                problems.append(
                    "field '\(r.decimals[i])' must be a decimal string like \"12.50\", found \(v.jsonText)")
            }
        }
        for i in r.currenciesAt.indices {
            switch members[r.currenciesAt[i]] {
            case nil, .null?: break
            case .string(let s)? where s.count == 3 && s.allSatisfy({ $0.isUppercase && $0.isASCII }): break
            case let v?:
                problems.append(
                    "field '\(r.currencies[i])' must be an ISO 4217 code like \"EUR\", found \(v.jsonText)")
            }
        }
        for i in r.timestampsAt.indices {
            switch members[r.timestampsAt[i]] {
            case nil, .null?: break
            case .string(let s)? where Self.isRFC3339(s): break
            case let v?:
                problems.append("field '\(r.timestamps[i])' must be an RFC 3339 timestamp, found \(v.jsonText)")
            }
        }
        for i in r.e164ListsAt.indices {
            guard case .array(let items)? = members[r.e164ListsAt[i]] else { continue }
            for p in items {
                if case .string(let s) = p, Self.isE164(s) { continue }
                problems.append("field '\(r.e164Lists[i])' entries must be E.164 numbers, found \(p.jsonText)")
            }
        }
        for i in r.emailListsAt.indices {
            guard case .array(let items)? = members[r.emailListsAt[i]] else { continue }
            for p in items {
                if case .string(let s) = p, Self.hasAtSign(s) { continue }
                problems.append("field '\(r.emailLists[i])' entries must be e-mail addresses, found \(p.jsonText)")
            }
        }
        return problems
    }

    static func isDecimal(_ s: String) -> Bool {
        var u = Substring(s)
        if u.first == "-" { u = u.dropFirst() }
        let parts = u.split(separator: ".", omittingEmptySubsequences: false)
        return (1...2).contains(parts.count) && parts.allSatisfy { !$0.isEmpty && $0.allSatisfy(\.isASCIIDigit) }
    }

    static func isE164(_ s: String) -> Bool {
        // Byte-wise: any non-ASCII byte fails the digit test, so this equals the character-wise definition.
        let contiguous = s.utf8.withContiguousStorageIfAvailable { b -> Bool in
            guard b.count >= 8 && b.count <= 16 && b[0] == UInt8(ascii: "+") else { return false }
            for k in 1..<b.count where b[k] < 48 || b[k] > 57 { return false }
            return true
        }
        if let contiguous { return contiguous }
        let u = s.utf8
        return u.first == UInt8(ascii: "+") && (8...16).contains(u.count)
            && u.dropFirst().allSatisfy { $0 >= 48 && $0 <= 57 }
    }

    static func hasAtSign(_ s: String) -> Bool {
        // ASCII text (the usual address): a byte scan over the contiguous UTF-8; anything else by characters.
        let ascii = s.utf8.withContiguousStorageIfAvailable { b -> Bool? in
            var at = false
            for c in b {
                if c >= 0x80 { return nil }
                if c == UInt8(ascii: "@") { at = true }
            }
            return at
        }
        if let ascii, let found = ascii { return found }
        let u = s.utf8
        if u.allSatisfy({ $0 < 0x80 }) { return u.contains(UInt8(ascii: "@")) }
        return s.contains("@")
    }

    /// `YYYY-MM-DDTHH:MM:SS[.fff](Z|±HH:MM)`.
    static func isRFC3339(_ s: String) -> Bool {
        let c = Array(s.utf8)
        guard c.count >= 20 else { return false }
        func d(_ r: Range<Int>) -> Bool { r.allSatisfy { c[$0] >= 48 && c[$0] <= 57 } }
        guard d(0..<4), c[4] == 45, d(5..<7), c[7] == 45, d(8..<10), c[10] == 84, d(11..<13), c[13] == 58, d(14..<16),
            c[16] == 58, d(17..<19)
        else { return false }
        var i = 19
        if c[i] == 46 {
            i += 1
            while i < c.count && c[i] >= 48 && c[i] <= 57 { i += 1 }
        }
        if i == c.count - 1 { return c[i] == 90 }
        return i == c.count - 6 && (c[i] == 43 || c[i] == 45) && d((i + 1)..<(i + 3)) && c[i + 3] == 58
            && d((i + 4)..<(i + 6))
    }
}

extension Character {
    var isASCIIDigit: Bool { isASCII && isNumber }
}
