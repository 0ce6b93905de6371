import CRMModel

/// Whether calls on a connector are customers calling in (the caller is the customer, the callee the agent) or
/// agents calling out (the other way round).
public enum CallDirection: String, Sendable {
    case inbound
    case outbound
}

/// The JSON values the connector publishes.
public enum CTIMessages {
    /// The canonical Interaction (see `CanonicalEntity.interaction`) for a finished call.
    ///
    /// `{"id":"call-<Call-ID>","type":"call","channel":"phone","direction":"inbound","startedAt":...,"answeredAt":...,
    /// "endedAt":...,"outcome":"answered|missed|failed","sipCode":486,"durationSeconds":12,
    /// "customerPhone":"+44...","customerRef":"C-1","agentExtension":"2001","source":"kamailio"}`
    public static func interaction(
        _ record: CallRecord, direction: CallDirection, customerPhone: String?, customer: CustomerMatch?
    ) -> JSONValue {
        var members: [(String, JSONValue)] = [
            ("id", .string("call-" + record.callID)),
            ("type", "call"),
            ("channel", "phone"),
            ("direction", .string(direction.rawValue)),
            ("startedAt", .string(rfc3339(record.startedAt))),
        ]
        if let answeredAt = record.answeredAt { members.append(("answeredAt", .string(rfc3339(answeredAt)))) }
        members.append(("endedAt", .string(rfc3339(record.endedAt))))
        members.append(("outcome", .string(record.outcome.rawValue)))
        if let code = record.sipCode { members.append(("sipCode", .number(String(code)))) }
        members.append(("durationSeconds", .number(String(record.durationSeconds))))
        members.append(("customerPhone", customerPhone.map(JSONValue.string) ?? .null))
        members.append(("customerRef", customer.map { .string($0.customerRef) } ?? .null))
        let agent = direction == .inbound ? record.agent : record.from
        members.append(("agentExtension", agent.isEmpty ? .null : .string(agent)))
        members.append(("source", .string(record.source)))
        return .object(members)
    }

    /// The screen-pop for `agent`'s desktop.
    ///
    /// `{"type":"screen-pop","callId":...,"agent":"2001","callerNumber":"020 7946 0018","callerE164":"+442079460018",
    /// "customer":{"ref":"C-1","displayName":"Ada Lovelace","matches":1},"openTickets":[{"id","status","subject"}],
    /// "ringingAt":"2026-...Z","source":"kamailio"}`; `customer` is null for unknown callers.
    public static func screenPop(
        _ event: CallEvent, agent: String, callerNumber: String, callerE164: String?, customer: CustomerMatch?
    ) -> JSONValue {
        let customerValue: JSONValue =
            customer.map { match in
                .object([
                    ("ref", .string(match.customerRef)),
                    ("displayName", match.displayName.map(JSONValue.string) ?? .null),
                    ("matches", .number(String(match.matchCount))),
                ])
            } ?? .null
        let tickets: [JSONValue] = (customer?.openTickets ?? []).map { ticket in
            .object([
                ("id", .string(ticket.id)), ("status", .string(ticket.status)), ("subject", .string(ticket.subject)),
            ])
        }
        return .object([
            ("type", "screen-pop"),
            ("callId", .string(event.callID)),
            ("agent", .string(agent)),
            ("callerNumber", .string(callerNumber)),
            ("callerE164", callerE164.map(JSONValue.string) ?? .null),
            ("customer", customerValue),
            ("openTickets", .array(tickets)),
            ("ringingAt", .string(rfc3339(event.timestamp))),
            ("source", .string(event.source)),
        ])
    }

    /// `YYYY-MM-DDTHH:MM:SS.mmmZ` for seconds since 1970 (UTC). Times beyond ±1e12 s (and NaN) are clamped
    /// into that range rather than trapping in the conversion to milliseconds.
    public static func rfc3339(_ seconds: Double) -> String {
        let clamped = seconds.isNaN ? 0 : min(max(seconds, -1e12), 1e12)
        let totalMillis = Int64((clamped * 1000).rounded())
        let days = totalMillis >= 0 ? totalMillis / 86_400_000 : (totalMillis - 86_399_999) / 86_400_000
        let millisOfDay = totalMillis - days * 86_400_000
        let (year, month, day) = Timestamp.civil(daysSince1970: days)
        let hour = millisOfDay / 3_600_000
        let minute = millisOfDay / 60_000 % 60
        let second = millisOfDay / 1000 % 60
        let millis = millisOfDay % 1000
        return
            "\(pad(year, 4))-\(pad(month, 2))-\(pad(day, 2))T\(pad(hour, 2)):\(pad(minute, 2)):\(pad(second, 2)).\(pad(millis, 3))Z"
    }

    static func pad(_ value: Int64, _ width: Int) -> String {
        let text = String(value)
        return text.count >= width ? text : String(repeating: "0", count: width - text.count) + text
    }
}
