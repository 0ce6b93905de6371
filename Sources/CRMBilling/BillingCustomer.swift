// CRMBilling: the billing system's customers kept in step with the golden customers — the `stripe-customer-sink`
// kind (Stripe and Stripe-compatible APIs such as localstripe): created once per golden id, updated when the fields
// billing keeps change, linked back to the master data so billing events carry the golden id.

import CRMModel
import Crypto

/// The fields a billing customer keeps, read from a canonical Customer that a resolving route gave a golden id.
///
/// `name` is the `displayName`; `email`, `phone` and the address are the first of `emails`, `phones` and `addresses`.
/// The metadata carries `crm_golden_id` (how the hub finds the billing customer again) and `crm_id`.
public struct BillingCustomer: Sendable, Equatable {
    /// A postal address in the billing system's terms.
    public struct Address: Sendable, Equatable {
        public var line1: String?
        public var line2: String?
        public var city: String?
        public var state: String?
        public var postalCode: String?
        public var country: String?

        public init(
            line1: String? = nil, line2: String? = nil, city: String? = nil, state: String? = nil,
            postalCode: String? = nil, country: String? = nil
        ) {
            self.line1 = line1
            self.line2 = line2
            self.city = city
            self.state = state
            self.postalCode = postalCode
            self.country = country
        }

        /// The form fields, in Stripe's order and names.
        var fields: [(String, String?)] {
            [
                ("line1", line1), ("line2", line2), ("city", city), ("state", state), ("postal_code", postalCode),
                ("country", country),
            ]
        }

        var isEmpty: Bool { fields.allSatisfy { $0.1 == nil } }
    }

    /// The golden customer id (`goldenId`): one billing customer per golden id.
    public var goldenId: String
    /// The Customer's own id (`id`), kept in the metadata as `crm_id`.
    public var crmId: String?
    public var name: String?
    public var email: String?
    public var phone: String?
    public var address: Address?

    public init(
        goldenId: String, crmId: String? = nil, name: String? = nil, email: String? = nil, phone: String? = nil,
        address: Address? = nil
    ) {
        self.goldenId = goldenId
        self.crmId = crmId
        self.name = name
        self.email = email
        self.phone = phone
        self.address = address
    }

    /// Where a customer message came from (`origin`), when it says.
    public static func origin(of value: JSONValue) -> String? { value["origin"]?.stringValue }

    /// Reads a canonical Customer. Throws ``BillingInputError`` (naming fields and types, never values) when it has
    /// no golden id or a field has the wrong type.
    public init(customer value: JSONValue) throws(BillingInputError) {
        guard value.objectMembers != nil else { throw BillingInputError("the value is not a JSON object") }
        guard let goldenId = try Self.text(value, "goldenId") else {
            throw BillingInputError(
                "missing field 'goldenId': the sink takes customers a resolving route (resolve: true) wrote")
        }
        self.init(goldenId: goldenId)
        crmId = try Self.text(value, "id")
        name = try Self.text(value, "displayName")
        if name == nil {
            let parts = [try Self.text(value, "givenName"), try Self.text(value, "familyName")].compactMap { $0 }
            name = parts.isEmpty ? try Self.text(value, "organisationName") : parts.joined(separator: " ")
        }
        email = try Self.first(value, "emails")
        phone = try Self.first(value, "phones")
        if let list = value["addresses"], !list.isNull {
            guard let items = list.arrayItems else { throw BillingInputError("field 'addresses' has the wrong type") }
            if let first = items.first, !first.isNull {
                guard first.objectMembers != nil else {
                    throw BillingInputError("field 'addresses[0]' has the wrong type")
                }
                let address = Address(
                    line1: try Self.text(first, "line1", path: "addresses[0].line1"),
                    line2: try Self.text(first, "line2", path: "addresses[0].line2"),
                    city: try Self.text(first, "city", path: "addresses[0].city"),
                    state: try Self.text(first, "region", path: "addresses[0].region"),
                    postalCode: try Self.text(first, "postalCode", path: "addresses[0].postalCode"),
                    country: try Self.text(first, "country", path: "addresses[0].country"))
                self.address = address.isEmpty ? nil : address
            }
        }
    }

    /// The customer as the billing API's form fields (`name`, `email`, `address[city]`, `metadata[crm_golden_id]`).
    /// For an update, fields that are now empty are sent empty, which clears them.
    func formFields(clearing: Bool) -> [(String, String)] {
        var fields: [(String, String)] = []
        for (key, value) in [("name", name), ("email", email), ("phone", phone)] {
            if let value {
                fields.append((key, value))
            } else if clearing {
                fields.append((key, ""))
            }
        }
        if let address {
            for (key, value) in address.fields { fields.append(("address[\(key)]", value ?? "")) }
        } else if clearing {
            fields.append(("address", ""))
        }
        fields.append(("metadata[crm_golden_id]", goldenId))
        if let crmId { fields.append(("metadata[crm_id]", crmId)) }
        return fields
    }

    /// A digest of the fields the billing customer keeps: equal digests mean nothing to write.
    public var contentHash: String {
        var text = ""
        for (key, value) in formFields(clearing: true) {
            text += "\(key.utf8.count):\(key)\(value.utf8.count):\(value);"
        }
        return SHA256.hash(data: Array(text.utf8)).map { byte in
            let hex = String(byte, radix: 16)
            return byte < 16 ? "0" + hex : hex
        }.joined()
    }

    /// Reads a billing customer object as the API returns it (for comparison when the hub's own record is lost).
    init?(stripeObject object: JSONValue) {
        guard let goldenId = object["metadata"]?["crm_golden_id"]?.stringValue else { return nil }
        self.init(goldenId: goldenId)
        crmId = Self.nonEmpty(object["metadata"]?["crm_id"]?.stringValue)
        name = Self.nonEmpty(object["name"]?.stringValue)
        email = Self.nonEmpty(object["email"]?.stringValue)
        phone = Self.nonEmpty(object["phone"]?.stringValue)
        if let remote = object["address"], remote.objectMembers != nil {
            let address = Address(
                line1: Self.nonEmpty(remote["line1"]?.stringValue), line2: Self.nonEmpty(remote["line2"]?.stringValue),
                city: Self.nonEmpty(remote["city"]?.stringValue), state: Self.nonEmpty(remote["state"]?.stringValue),
                postalCode: Self.nonEmpty(remote["postal_code"]?.stringValue),
                country: Self.nonEmpty(remote["country"]?.stringValue))
            self.address = address.isEmpty ? nil : address
        }
    }

    // MARK: Reading

    private static func nonEmpty(_ text: String?) -> String? {
        guard let text, text.contains(where: { !$0.isWhitespace }) else { return nil }
        return text
    }

    private static func text(
        _ value: JSONValue, _ key: String, path: String? = nil
    ) throws(BillingInputError)
        -> String?
    {
        guard let member = value[key], !member.isNull else { return nil }
        guard let text = member.stringValue else {
            throw BillingInputError("field '\(path ?? key)' has the wrong type")
        }
        return nonEmpty(text)
    }

    private static func first(_ value: JSONValue, _ key: String) throws(BillingInputError) -> String? {
        guard let member = value[key], !member.isNull else { return nil }
        guard let items = member.arrayItems else { throw BillingInputError("field '\(key)' has the wrong type") }
        for item in items {
            guard let text = item.stringValue else { throw BillingInputError("field '\(key)' has the wrong type") }
            if let text = nonEmpty(text) { return text }
        }
        return nil
    }
}

/// Why a message cannot become a billing customer. Names fields and types, never values: it becomes a dead-letter
/// reason, and values are personal data.
public struct BillingInputError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The reason, free of personal data.
    public var reason: String

    public init(_ reason: String) { self.reason = reason }

    public var description: String { "not a billing customer: \(reason)" }
}
