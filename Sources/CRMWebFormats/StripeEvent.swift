import Foundation

/// The parts of a Stripe event the ingress needs: its id, type and the customer it concerns.
public struct StripeEvent: Sendable {
    /// The event id (`evt_...`), at most 255 characters.
    public var id: String
    /// The event type (`invoice.paid`).
    public var type: String
    /// The customer id the event concerns (`data.object.customer`, or the object's id for customer events).
    public var customerKey: String?

    /// Why a body is not a Stripe event.
    public struct Invalid: Error, Sendable, CustomStringConvertible {
        public var description: String
    }

    /// Reads the envelope of a Stripe event from the raw request body.
    public init(_ payload: [UInt8]) throws(Invalid) {
        guard String(validating: payload, as: UTF8.self) != nil,
            let root = try? JSONSerialization.jsonObject(with: Data(payload)) as? [String: Any]
        else { throw Invalid(description: "the body is not a JSON object") }
        guard let id = root["id"] as? String, !id.isEmpty, id.count <= 255 else {
            throw Invalid(description: "the event has no id")
        }
        guard let type = root["type"] as? String, !type.isEmpty else {
            throw Invalid(description: "event \(id) has no type")
        }
        guard let object = (root["data"] as? [String: Any])?["object"] as? [String: Any] else {
            throw Invalid(description: "event \(id) has no data.object")
        }
        self.id = id
        self.type = type
        if let customer = object["customer"] as? String, !customer.isEmpty {
            customerKey = customer
        } else if let customer = (object["customer"] as? [String: Any])?["id"] as? String {
            customerKey = customer
        } else if object["object"] as? String == "customer" {
            customerKey = object["id"] as? String
        } else {
            customerKey = nil
        }
    }
}
