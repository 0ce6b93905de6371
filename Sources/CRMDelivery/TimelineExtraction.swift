import CRMKafka
import CRMMasterData
import CRMModel
import Foundation

/// What a topic the timeline recorder follows carries, and so how its messages become timeline entries (or, for
/// `consent`, consent statements). Written as the value of `store.history_topics` entries.
public enum HistoryTopicKind: String, Sendable, Hashable, CaseIterable {
    /// Canonical Interaction entities (CTI calls, chats): `id`, `type`, `channel`, `direction`, `startedAt`.
    case interaction
    /// Canonical Orders (`tryton-sale`): one entry per order and status.
    case order
    /// Canonical Tickets (`inbound-email`, `web-form`): an inbound e-mail or a web form, with its subject.
    case ticket
    /// OrderPaymentStatus records (`stripe-invoice`, `stripe-payment`): an invoice or a payment.
    case payment
    /// Messages a mail sink sends (`to`, `subject`): an outbound e-mail.
    case emailOut = "email-out"
    /// Consent statements (`{"goldenId"|"email", "purpose", "channel", "status": granted|revoked, "at"}`).
    case consent
}

/// Turns one message of a history topic into what the master data keeps. Pure: no I/O.
public enum TimelineExtraction {
    /// What one message contributes (without its golden id, which the recorder resolves from `reference`).
    public struct Extracted: Sendable, Equatable {
        /// Who the message is about.
        public var reference: CustomerReference
        /// Timeline entries (golden id left empty).
        public var entries: [TimelineEntry] = []
        /// Consent statements (golden id left empty).
        public var consents: [Consent] = []
    }

    /// Reads a message of a `kind` topic. `nil` when the message is not JSON or lacks what the kind needs (the
    /// recorder counts and skips those). `receivedAt` (ms) stands in for a missing time.
    public static func extract(
        kind: HistoryTopicKind, topic: String, value: [UInt8], headers: [KafkaHeader], messageID: String,
        receivedAt: Int64
    ) -> Extracted? {
        guard let body = try? JSONValue.parse(value), body.objectMembers != nil else { return nil }
        let reference = CustomerReference(headers: headers, body: body)
        let source = text(body, "source") ?? headers.text(CustomerMessage.sourceHeader) ?? topic
        var out = Extracted(reference: reference)
        switch kind {
        case .interaction:
            guard let id = text(body, "id") else { return nil }
            let type = text(body, "type") ?? "interaction"
            var summary: [String] = []
            if let outcome = text(body, "outcome") { summary.append(outcome) }
            if let seconds = text(body, "durationSeconds") { summary.append("\(seconds) s") }
            if let subject = text(body, "subject") { summary.append(subject) }
            out.entries = [
                TimelineEntry(
                    goldenId: "", at: time(body, ["startedAt", "endedAt"]) ?? receivedAt,
                    channel: text(body, "channel") ?? type, kind: type, direction: text(body, "direction") ?? "inbound",
                    source: source, ref: id, summary: summary.isEmpty ? nil : summary.joined(separator: ", "))
            ]
        case .order:
            guard let id = text(body, "id") else { return nil }
            let status = text(body, "status") ?? "unknown"
            let amount = [text(body, "total"), text(body, "currency")].compactMap { $0 }.joined(separator: " ")
            out.entries = [
                TimelineEntry(
                    goldenId: "", at: time(body, ["updatedAt", "orderedOn", "createdAt"]) ?? receivedAt,
                    channel: "shop", kind: "order", direction: "inbound", source: source, ref: "\(id)#\(status)",
                    summary: "Order \(id) \(status)" + (amount.isEmpty ? "" : ", \(amount)"))
            ]
        case .ticket:
            guard let id = text(body, "id") else { return nil }
            let channel = text(body, "channel") ?? "web"
            let kind = channel == "email" ? "email" : channel == "web" ? "form" : "ticket"
            out.entries = [
                TimelineEntry(
                    goldenId: "", at: time(body, ["receivedAt", "createdAt"]) ?? receivedAt, channel: channel,
                    kind: kind, direction: "inbound", source: source, ref: id, summary: text(body, "subject"))
            ]
        case .payment:
            let invoice = text(body, "invoiceRef")
            guard let ref = text(body, "paymentRef") ?? invoice ?? text(body, "orderRef") else { return nil }
            let status = text(body, "status") ?? "unknown"
            let amount = [text(body, "amountPaid"), text(body, "currency")].compactMap { $0 }.joined(separator: " ")
            var summary = invoice != nil ? "Invoice \(status)" : "Payment \(status)"
            if !amount.isEmpty { summary += ", \(amount)" }
            if let order = text(body, "orderRef") { summary += " for order \(order)" }
            out.entries = [
                TimelineEntry(
                    goldenId: "", at: time(body, ["paidAt", "updatedAt"]) ?? receivedAt, channel: "billing",
                    kind: invoice != nil ? "invoice" : "payment", direction: "internal", source: source,
                    ref: "\(ref)#\(status)", summary: summary)
            ]
        case .emailOut:
            out.entries = [
                TimelineEntry(
                    goldenId: "", at: time(body, ["sentAt", "createdAt"]) ?? receivedAt, channel: "email",
                    kind: "email", direction: "outbound", source: source, ref: messageID,
                    summary: text(body, "subject"))
            ]
        case .consent:
            guard let purpose = text(body, "purpose") else { return nil }
            let channel = text(body, "channel").flatMap { ConsentChannel(rawValue: $0.lowercased()) } ?? .any
            let status: ConsentStatus
            if let s = text(body, "status").flatMap({ ConsentStatus(rawValue: $0.lowercased()) }) {
                status = s
            } else if case .bool(let granted)? = body["granted"] {
                status = granted ? .granted : .revoked
            } else {
                return nil
            }
            out.consents = [
                Consent(
                    goldenId: "", purpose: purpose, channel: channel, status: status, source: source,
                    at: time(body, ["at", "grantedAt", "updatedAt"]) ?? receivedAt)
            ]
        }
        return out
    }

    static func text(_ body: JSONValue, _ key: String) -> String? {
        CustomerReference.value(at: key, in: body)?.scalarText.flatMap(CustomerReference.nonEmpty)
    }

    /// The first of `keys` that holds a time: RFC 3339 (with or without fractional seconds), a `yyyy-MM-dd` date,
    /// or a number of milliseconds since 1970.
    static func time(_ body: JSONValue, _ keys: [String]) -> Int64? {
        for key in keys {
            guard let value = body[key] else { continue }
            if case .number(let digits) = value, let ms = Int64(digits) { return ms }
            guard let text = value.stringValue else { continue }
            if let ms = parseTime(text) { return ms }
        }
        return nil
    }

    static func parseTime(_ text: String) -> Int64? {
        let plain = ISO8601DateFormatter()
        if let date = plain.date(from: text) { return Int64(date.timeIntervalSince1970 * 1_000) }
        let fractional = ISO8601DateFormatter()
        fractional.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        if let date = fractional.date(from: text) { return Int64(date.timeIntervalSince1970 * 1_000) }
        let day = ISO8601DateFormatter()
        day.formatOptions = [.withFullDate]
        if let date = day.date(from: text) { return Int64(date.timeIntervalSince1970 * 1_000) }
        return nil
    }
}
