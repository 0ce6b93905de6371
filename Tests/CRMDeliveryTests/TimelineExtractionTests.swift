import CRMDelivery
import CRMKafka
import CRMMasterData
import CRMModel
import Testing

/// How messages of the history topics become timeline entries and consent statements.
struct TimelineExtractionTests {
    func extract(_ kind: HistoryTopicKind, _ json: String, headers: [KafkaHeader] = []) -> TimelineExtraction.Extracted?
    {
        TimelineExtraction.extract(
            kind: kind, topic: "crm.\(kind.rawValue)", value: Array(json.utf8), headers: headers, messageID: "msg-1",
            receivedAt: 42)
    }

    @Test func aCTICallBecomesAPhoneEntryWithItsOutcomeAndNoCallerNumber() throws {
        let call = try #require(
            extract(
                .interaction,
                #"{"id":"call-abc","type":"call","channel":"phone","direction":"inbound","startedAt":"2026-07-24T08:30:00Z","outcome":"answered","durationSeconds":12,"customerPhone":"+447700900123","customerRef":"crm:C-1","source":"kamailio"}"#
            ))
        let entry = try #require(call.entries.first)
        #expect(entry.kind == "call" && entry.channel == "phone" && entry.direction == "inbound")
        #expect(entry.source == "kamailio" && entry.ref == "call-abc")
        #expect(entry.at == 1_784_881_800_000)
        #expect(entry.summary == "answered, 12 s")
        #expect(call.reference.record == RecordRef(system: "crm", externalId: "C-1"))
        #expect(call.reference.phone == "+447700900123")
        let screenPopped = try #require(
            extract(
                .interaction,
                #"{"id":"call-def","type":"call","direction":"inbound","startedAt":"2026-07-24T08:30:00Z","customerRef":"G00000000000000ab"}"#
            ))
        #expect(screenPopped.reference.possibleGoldenId == "G00000000000000ab")
        #expect(screenPopped.reference.goldenId == nil, "a bare customerRef is not taken as a golden id unless known")
    }

    @Test func eachOrderStatusIsItsOwnEntryAndTheGoldenIdHeaderNamesTheCustomer() throws {
        let order = #"{"id":"SO-7","customerRef":"erp:P-1","currency":"EUR","total":"120.00","status":"confirmed"}"#
        let confirmed = try #require(
            extract(.order, order, headers: [KafkaHeader(key: EnvelopeHeader.goldenID, text: "G-7")]))
        #expect(confirmed.reference.goldenId == "G-7")
        #expect(confirmed.entries.first?.ref == "SO-7#confirmed")
        #expect(confirmed.entries.first?.summary == "Order SO-7 confirmed, 120.00 EUR")
        #expect(confirmed.entries.first?.at == 42, "no time in the order: the receipt time")
        let shipped = try #require(extract(.order, order.replacingOccurrences(of: "confirmed", with: "shipped")))
        #expect(shipped.entries.first?.ref == "SO-7#shipped")
    }

    @Test func anInboundEmailTicketKeepsItsSubjectButNotItsBody() throws {
        let ticket = try #require(
            extract(
                .ticket,
                #"{"id":"email-1@x","subject":"Where is my order?","body":"secret free text","channel":"email","customerRef":"email:ann@example.org","receivedAt":"2026-07-24T08:30:00Z"}"#
            ))
        let entry = try #require(ticket.entries.first)
        #expect(entry.kind == "email" && entry.direction == "inbound")
        #expect(entry.summary == "Where is my order?")
        #expect(ticket.reference.email == "ann@example.org")
        #expect(!"\(entry)".contains("secret free text"))
    }

    @Test func aConsentMessageBecomesAStatementAndOneWithoutStatusIsUnreadable() throws {
        let consent = try #require(
            extract(
                .consent,
                #"{"email":"ann@example.org","purpose":"Marketing","channel":"email","status":"revoked","at":"2026-07-24T08:30:00Z","source":"web"}"#
            ))
        #expect(consent.entries.isEmpty)
        #expect(
            consent.consents == [
                Consent(
                    goldenId: "", purpose: "marketing", channel: .email, status: .revoked, source: "web",
                    at: 1_784_881_800_000)
            ])
        #expect(extract(.consent, #"{"email":"ann@example.org","purpose":"marketing"}"#) == nil)
        #expect(extract(.order, "not json") == nil)
    }
}
