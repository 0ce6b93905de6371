import CRMKafka
import CRMMasterData
import CRMModel
import Foundation

/// Who a message is about, as far as its envelope and body say: the golden id (header `crm-golden-id`, or a
/// `goldenId` field), else a source record (`customerRef: "erp:C-1"`), an e-mail address (`email`, `to`,
/// `customerRef: "email:…"`) or a phone number the master data can look the customer up by.
/// Read by the consent check of sinks and by the timeline recorder; never logged (it holds personal data).
public struct CustomerReference: Sendable, Hashable {
    /// The golden id the message names (header `crm-golden-id`, or a `goldenId` field).
    public var goldenId: String?
    /// An e-mail address to look the customer up by.
    public var email: String?
    /// A phone number to look the customer up by.
    public var phone: String?
    /// A source record (`customerRef: "system:id"`), looked up in the cross-reference.
    public var record: RecordRef?
    /// A `customerRef` without a system prefix, which may be a golden id (CTI interactions carry the one their
    /// screen-pop found); used only when the master data knows it.
    public var possibleGoldenId: String?

    /// A reference made of known parts.
    public init(goldenId: String? = nil, email: String? = nil, phone: String? = nil, record: RecordRef? = nil) {
        self.goldenId = goldenId
        self.email = email
        self.phone = phone
        self.record = record
    }

    /// Where the fields are looked for, first match wins (dotted paths, `[0]` = the first list item).
    static let goldenIdPaths = ["goldenId", "golden_id", "customer.goldenId", "metadata.golden_id", "customerGoldenId"]
    static let emailPaths = [
        "email", "emails[0]", "customerEmail", "customer.email", "customer.emails[0]", "to", "from",
        "customer_email", "receipt_email",
    ]
    static let phonePaths = ["phone", "phones[0]", "customerPhone", "customer.phone", "customer.phones[0]"]

    /// Reads a message's reference from its headers and (when JSON) its value.
    public init(headers: [KafkaHeader], value: [UInt8]) {
        let body = try? JSONValue.parse(value)
        self.init(headers: headers, body: body)
    }

    /// Reads a reference from headers and an already parsed body.
    public init(headers: [KafkaHeader], body: JSONValue?) {
        goldenId = headers.text(EnvelopeHeader.goldenID).flatMap(Self.nonEmpty)
        guard let body else { return }
        if goldenId == nil { goldenId = Self.first(Self.goldenIdPaths, in: body) }
        email = Self.first(Self.emailPaths, in: body).flatMap { $0.contains("@") ? $0 : nil }
        phone = Self.first(Self.phonePaths, in: body)
        guard let customerRef = Self.first(["customerRef", "customer.ref"], in: body) else { return }
        if let colon = customerRef.firstIndex(of: ":") {
            let system = String(customerRef[..<colon])
            let id = String(customerRef[customerRef.index(after: colon)...])
            if id.contains("@") {
                if email == nil { email = id }
            } else if !system.isEmpty, !id.isEmpty {
                record = RecordRef(system: system, externalId: id)
            }
        } else {
            possibleGoldenId = customerRef
        }
    }

    /// Whether nothing identifies a customer.
    public var isEmpty: Bool {
        goldenId == nil && email == nil && phone == nil && record == nil && possibleGoldenId == nil
    }

    /// The golden ids the master data resolves this reference to (see
    /// `MasterDataResolver.goldenIds(goldenId:record:email:phone:)`); an explicit golden id (header or `goldenId`
    /// field) the resolver does not know is kept as is.
    public func resolve(with resolver: MasterDataResolver) async -> [String] {
        let found = await resolver.goldenIds(
            goldenId: goldenId ?? possibleGoldenId, record: record, email: email, phone: phone)
        if found.isEmpty, let goldenId { return [goldenId] }
        return found
    }

    static func first(_ paths: [String], in body: JSONValue) -> String? {
        for path in paths {
            if let text = value(at: path, in: body)?.scalarText.flatMap(nonEmpty) { return text }
        }
        return nil
    }

    /// The value at a dotted path; `name[0]` takes the first item of a list.
    static func value(at path: String, in body: JSONValue) -> JSONValue? {
        var current: JSONValue? = body
        for part in path.split(separator: ".") {
            if part.hasSuffix("[0]") {
                current = current?[String(part.dropLast(3))]?[0]
            } else {
                current = current?[String(part)]
            }
        }
        return current
    }

    static func nonEmpty(_ s: String) -> String? {
        let t = s.trimmingCharacters(in: .whitespaces)
        return t.isEmpty ? nil : t
    }
}
