import CRMMasterData
import CRMModel
import Testing

@testable import CRMTelephony

@Suite("CTI call tracking and messages")
struct CallTrackerTests {
    static func event(
        _ kind: CallEvent.Kind, _ id: String = "c1", at time: Double, to: String = "2001", code: Int? = nil
    ) -> CallEvent {
        CallEvent(
            callID: id, kind: kind, from: "02079460018", to: to, timestamp: time, sipCode: code, source: "kamailio")
    }

    @Test("an answered call pops once at ringing and ends as one answered Interaction with its talk time")
    func answeredCall() async {
        let tracker = CallTracker()
        let ringing = Self.event(.ringing, at: 100)
        #expect(await tracker.handle(ringing) == [.screenPop(ringing)])
        #expect(await tracker.handle(Self.event(.answered, at: 103, code: 200)).isEmpty)
        #expect(await tracker.handle(Self.event(.answered, at: 104, code: 200)).isEmpty)
        let actions = await tracker.handle(Self.event(.hangup, at: 115.6))
        guard case .interaction(let record) = actions.first else {
            Issue.record("expected an interaction, got \(actions)")
            return
        }
        #expect(record.outcome == .answered)
        #expect(record.startedAt == 100 && record.answeredAt == 103 && record.endedAt == 115.6)
        #expect(record.durationSeconds == 13)
        #expect(record.sipCode == nil)
        #expect(await tracker.openCallCount == 0)
    }

    @Test("a busy call ends failed with 486, a cancelled one missed with 487, a hangup while ringing missed")
    func unansweredOutcomes() async {
        let tracker = CallTracker()
        _ = await tracker.handle(Self.event(.ringing, "busy", at: 1))
        _ = await tracker.handle(Self.event(.ringing, "cancel", at: 1))
        _ = await tracker.handle(Self.event(.ringing, "gaveup", at: 1))
        let busy = await tracker.handle(Self.event(.failed, "busy", at: 2, code: 486))
        let cancel = await tracker.handle(Self.event(.failed, "cancel", at: 2, code: 487))
        let gaveUp = await tracker.handle(Self.event(.hangup, "gaveup", at: 2))
        #expect(busy.first.flatMap(Self.record)?.outcome == .failed)
        #expect(busy.first.flatMap(Self.record)?.sipCode == 486)
        #expect(cancel.first.flatMap(Self.record)?.outcome == .missed)
        #expect(gaveUp.first.flatMap(Self.record)?.outcome == .missed)
        #expect(busy.first.flatMap(Self.record)?.durationSeconds == 0)
    }

    static func record(_ action: CallTracker.Action) -> CallRecord? {
        if case .interaction(let record) = action { return record }
        return nil
    }

    @Test("late events of an ended call are ignored (Asterisk DialEnd then Hangup)")
    func lateEvents() async {
        let tracker = CallTracker()
        _ = await tracker.handle(Self.event(.ringing, at: 1))
        #expect(await tracker.handle(Self.event(.failed, at: 2, code: 486)).count == 1)
        #expect(await tracker.handle(Self.event(.failed, at: 2.1, code: 486)).isEmpty)
        #expect(await tracker.handle(Self.event(.hangup, at: 2.2)).isEmpty)
        #expect(await tracker.handle(Self.event(.ringing, at: 2.3)).isEmpty)
    }

    @Test("a call that rings a second agent pops on that agent's screen too; the answering agent is recorded")
    func secondAgent() async {
        let tracker = CallTracker()
        _ = await tracker.handle(Self.event(.ringing, at: 1, to: "600"))
        let second = await tracker.handle(Self.event(.ringing, at: 1.1, to: "201"))
        #expect(second.count == 1)
        #expect(await tracker.handle(Self.event(.ringing, at: 1.2, to: "201")).isEmpty)
        _ = await tracker.handle(Self.event(.answered, at: 2, to: "201", code: 200))
        let end = await tracker.handle(Self.event(.hangup, at: 5, to: ""))
        #expect(end.first.flatMap(Self.record)?.agent == "201")
        #expect(end.first.flatMap(Self.record)?.to == "600")
    }

    @Test(
        "a call whose end event never comes is closed as unended after maxCallSeconds, once; its late hangup is ignored"
    )
    func unendedCallsStillGetAnInteraction() async {
        let tracker = CallTracker(maxCallSeconds: 600)
        _ = await tracker.handle(Self.event(.ringing, "lost", at: 100))
        _ = await tracker.handle(Self.event(.answered, "lost", at: 105, code: 200))
        _ = await tracker.handle(Self.event(.ringing, "live", at: 650))
        #expect(await tracker.expire(now: 700).isEmpty, "the last event of 'lost' is only 595 s old")
        let actions = await tracker.expire(now: 706)
        guard actions.count == 1, case .interaction(let record) = actions[0] else {
            Issue.record("expected one interaction, got \(actions)")
            return
        }
        #expect(
            record.callID == "lost" && record.outcome == .unended && record.endedAt == 105 && record.answeredAt == 105)
        #expect(await tracker.openCallCount == 1, "the live call stays open")
        #expect(await tracker.expire(now: 800).isEmpty)
        #expect(
            await tracker.handle(Self.event(.hangup, "lost", at: 900)).isEmpty,
            "the end arrived after all: already published")
    }

    @Test("an end without a ringing (hub started mid-call) still yields one Interaction")
    func unknownCall() async {
        let tracker = CallTracker()
        let actions = await tracker.handle(Self.event(.hangup, "x", at: 9))
        #expect(actions.first.flatMap(Self.record)?.startedAt == 9)
    }

    @Test("the Interaction message is a valid canonical Interaction")
    func interactionMessage() {
        let record = CallRecord(
            callID: "1-2@h", source: "kamailio", from: "02079460018", to: "2001", agent: "2001",
            startedAt: 1_782_911_000,
            answeredAt: 1_782_911_002, endedAt: 1_782_911_010, outcome: .answered, sipCode: nil, durationSeconds: 8)
        let value = CTIMessages.interaction(
            record, direction: .inbound, customerPhone: "+442079460018", customer: CustomerMatch(customerRef: "C-1"))
        #expect(CanonicalEntity.interaction.validate(value) == [])
        #expect(value["id"] == "call-1-2@h")
        #expect(value["customerRef"] == "C-1")
        #expect(value["durationSeconds"] == .number("8"))
    }

    @Test("the static table normalises numbers and reads open tickets; bad rows name file and row")
    func staticTable() async throws {
        let csv = """
            phone,customer_ref,display_name,open_tickets
            020 7946 0018,C-1001,Ada Lovelace,"T-77:open:Router keeps rebooting;T-78:pending:Refund: May"
            +44 7700 900123,C-1002,,

            """
        let table = try StaticCustomerTable(csv: Array(csv.utf8), defaultRegion: "GB")
        let ada = try await table.customer(forPhone: "+442079460018")
        #expect(ada?.customerRef == "C-1001")
        #expect(
            ada?.openTickets == [
                TicketSummary(id: "T-77", status: "open", subject: "Router keeps rebooting"),
                TicketSummary(id: "T-78", status: "pending", subject: "Refund: May"),
            ])
        #expect(try await table.customer(forPhone: "+447700900123")?.displayName == nil)
        #expect(try await table.customer(forPhone: "+15555550100") == nil)
        #expect(throws: StaticCustomerTable.LoadError.self) {
            try StaticCustomerTable(
                csv: Array("phone,customer_ref\nnot a number,C-1\n".utf8), file: "t.csv", defaultRegion: "GB")
        }
        do {
            _ = try StaticCustomerTable(
                csv: Array("phone,customer_ref\n12345,C-1\n".utf8), file: "t.csv", defaultRegion: "GB")
        } catch {
            #expect(error.description.hasPrefix("t.csv:2:"))
        }
    }

    @Test("the master-data lookup finds the golden record behind a caller's number")
    func masterDataLookup() async throws {
        let resolver = try await MasterDataResolver(store: InMemoryMasterDataStore())
        try await resolver.resolve(
            CustomerRecord(
                system: "crm", externalId: "42", givenName: "Ada", familyName: "Lovelace", phone: "020 7946 0018",
                country: "GB"))
        let lookup = MasterDataCustomerLookup(resolver: resolver)
        let match = try await lookup.customer(forPhone: "+442079460018")
        #expect(match?.displayName == "Ada Lovelace")
        #expect(match?.customerRef.isEmpty == false)
        #expect(match?.openTickets == [])
        #expect(try await lookup.customer(forPhone: "+447700900123") == nil)
    }
}
