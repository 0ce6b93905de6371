import CRMModel

/// The `ERPParty` document the `customer-to-erp-party` mapping produces (Mappings/customer-to-erp-party.yaml): the
/// golden customer id as `code`, name, language, e-mail/phone contact mechanisms and addresses.
public struct ERPParty: Sendable, Equatable {
    public struct Address: Sendable, Equatable {
        /// `street` and `streetbis` joined by a line break (Tryton's street is multi-line).
        public var street: String
        public var city: String?
        public var postalCode: String?
        /// ISO 3166 alpha-2 code.
        public var country: String?

        var key: AddressKey { AddressKey(street: street, city: city, postalCode: postalCode) }
    }

    /// The golden customer id; the Tryton party's `code`.
    public var code: String
    public var name: String
    /// Language code (`en`); nil keeps Tryton's default.
    public var lang: String?
    /// E-mail and phone mechanisms, in document order, without duplicates.
    var mechanisms: [ContactKey]
    public var addresses: [Address]

    /// Why a message is not an `ERPParty`.
    public struct Problem: Error, Sendable, CustomStringConvertible {
        public var description: String
    }

    /// Parses one message value. Values are never quoted in the problem (they are personal data).
    public static func parse(_ bytes: [UInt8]) -> Result<ERPParty, Problem> {
        let document: JSONValue
        do {
            document = try JSONValue.parse(bytes)
        } catch {
            return .failure(Problem(description: "not an ERPParty document: \(error.description)"))
        }
        return parse(document)
    }

    public static func parse(_ document: JSONValue) -> Result<ERPParty, Problem> {
        guard let code = document["code"]?.scalarText?.trimmingCharacters(in: .whitespaces), !code.isEmpty else {
            return .failure(Problem(description: "ERPParty without 'code' (the golden customer id)"))
        }
        guard let name = document["name"]?.stringValue?.trimmingCharacters(in: .whitespaces), !name.isEmpty else {
            return .failure(Problem(description: "ERPParty without 'name'"))
        }
        var mechanisms: [ContactKey] = []
        let lists: [JSONValue] = [document["email_mechanisms"] ?? .null, document["phone_mechanisms"] ?? .null]
        for list in lists {
            for item in list.arrayItems ?? [] {
                guard let mechanism = ContactKey(tryton: item), !mechanism.value.isEmpty else { continue }
                if !mechanisms.contains(mechanism) { mechanisms.append(mechanism) }
            }
        }
        var addresses: [Address] = []
        for item in document["addresses"]?.arrayItems ?? [] {
            let address = Self.address(item)
            if !addresses.contains(where: { $0.key == address.key }) { addresses.append(address) }
        }
        let lang = document["lang"]?.stringValue
        return .success(ERPParty(code: code, name: name, lang: lang, mechanisms: mechanisms, addresses: addresses))
    }

    private static func address(_ item: JSONValue) -> Address {
        let lines = [item["street"]?.stringValue, item["streetbis"]?.stringValue].compactMap { $0 }.filter {
            !$0.isEmpty
        }
        let country = item["country"]?["code"]?.stringValue ?? item["country"]?.stringValue
        return Address(
            street: lines.joined(separator: "\n"), city: item["city"]?.stringValue, postalCode: item["zip"]?.scalarText,
            country: country)
    }
}
