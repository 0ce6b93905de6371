import Testing

@testable import CRMMasterData

/// How consent statements resolve into what holds for one purpose on one channel.
struct ConsentTests {
    func statement(
        _ purpose: String, _ channel: ConsentChannel, _ status: ConsentStatus, at: Int64, source: String = "web"
    ) -> Consent {
        Consent(goldenId: "G1", purpose: purpose, channel: channel, status: status, source: source, at: at)
    }

    @Test func theLatestStatementByTimeWinsWhateverTheOrderItWasRecordedIn() {
        let statements = [
            statement("marketing", .email, .granted, at: 3_000, source: "crm"),
            statement("marketing", .email, .revoked, at: 1_000, source: "web"),
        ]
        let decision = Consent.resolve(statements, purpose: "marketing", channel: .email)
        #expect(decision == .granted(statements[0]))
        #expect(decision.allows)
    }

    @Test func aLaterRevocationWithdrawsAGrant() {
        let statements = [
            statement("marketing", .email, .granted, at: 1_000),
            statement("marketing", .email, .revoked, at: 2_000),
        ]
        let decision = Consent.resolve(statements, purpose: "marketing", channel: .email)
        #expect(decision == .revoked(statements[1]))
        #expect(!decision.allows)
    }

    @Test func noStatementForThePurposeIsUnknownAndDoesNotAllow() {
        let statements = [statement("newsletter", .any, .granted, at: 1_000)]
        let decision = Consent.resolve(statements, purpose: "marketing", channel: .email)
        #expect(decision == .unknown)
        #expect(!decision.allows)
        #expect(Consent.resolve([], purpose: "marketing", channel: .any) == .unknown)
    }

    @Test func aStatementForAnyChannelCountsForEmailButAnEmailStatementDoesNotCountForSMS() {
        let anyChannel = [statement("marketing", .any, .granted, at: 1_000)]
        #expect(Consent.resolve(anyChannel, purpose: "marketing", channel: .email).allows)
        let emailOnly = [statement("marketing", .email, .granted, at: 1_000)]
        #expect(!Consent.resolve(emailOnly, purpose: "marketing", channel: .sms).allows)
        #expect(!Consent.resolve(emailOnly, purpose: "marketing", channel: .any).allows)
        let revokedEverywhere = emailOnly + [statement("marketing", .any, .revoked, at: 2_000)]
        #expect(!Consent.resolve(revokedEverywhere, purpose: "marketing", channel: .email).allows)
    }

    @Test func onEqualTimesTheStatementRecordedLastWins() {
        let statements = [
            statement("marketing", .email, .granted, at: 1_000),
            statement("marketing", .email, .revoked, at: 1_000),
        ]
        #expect(Consent.resolve(statements, purpose: "marketing", channel: .email) == .revoked(statements[1]))
    }

    @Test(arguments: [
        ("email", "marketing", ConsentChannel.email), ("sms", "marketing", .sms),
        ("marketing_email", "marketing", .email), ("Newsletter", "newsletter", .any),
        ("profiling", "profiling", .any), ("promo_phone", "promo", .phone),
    ])
    func consentFlagNamesBecomePurposeAndChannel(flag: String, purpose: String, channel: ConsentChannel) {
        let read = Consent.purposeAndChannel(ofFlag: flag)
        #expect(read.purpose == purpose)
        #expect(read.channel == channel)
    }

    @Test func aRecordsFlagsBecomeStatementsFromItsSystemAtItsUpdateTime() {
        let record = CustomerRecord(
            system: "shop", externalId: "7", email: "a@example.com", updatedAt: 1_700_000_000,
            consent: ["email": true, "newsletter": false])
        let statements = Consent.statements(from: record, goldenId: "G9", receivedAt: 5)
        #expect(
            statements == [
                Consent(
                    goldenId: "G9", purpose: "marketing", channel: .email, status: .granted, source: "shop",
                    at: 1_700_000_000_000),
                Consent(
                    goldenId: "G9", purpose: "newsletter", channel: .any, status: .revoked, source: "shop",
                    at: 1_700_000_000_000),
            ])
        let undated = CustomerRecord(system: "web", externalId: "8", consent: ["sms": true])
        #expect(Consent.statements(from: undated, goldenId: "G9", receivedAt: 42).map(\.at) == [42])
    }

    @Test func resolvingACustomerRecordsItsConsentFlagsAndANewerRevocationWithdrawsThem() async throws {
        let resolver = try await MasterDataResolver(store: InMemoryMasterDataStore())
        let granted = try await resolver.resolve(
            CustomerRecord(
                system: "web", externalId: "w1", givenName: "Ada", familyName: "Byron", email: "ada@example.com",
                updatedAt: 1_000, consent: ["email": true]))
        #expect(try await resolver.consent(goldenId: granted.goldenId, purpose: "marketing", channel: .email).allows)
        try await resolver.recordConsents([
            Consent(
                goldenId: granted.goldenId, purpose: "marketing", channel: .any, status: .revoked, source: "crm",
                at: 2_000_000)
        ])
        let after = try await resolver.consent(goldenId: granted.goldenId, purpose: "marketing", channel: .email)
        #expect(after.label == "revoked")
    }

    @Test func aSourceResendingAnUnchangedFlagDoesNotOverruleANewerStatementFromElsewhere() async throws {
        let resolver = try await MasterDataResolver(store: InMemoryMasterDataStore())
        let erp = CustomerRecord(
            system: "erp", externalId: "P-1", givenName: "Ann", familyName: "Lee", email: "ann@example.org",
            updatedAt: 100, consent: ["email": false])
        let ann = try await resolver.resolve(erp)
        try await resolver.recordConsents([
            Consent(
                goldenId: ann.goldenId, purpose: "marketing", channel: .email, status: .granted, source: "web",
                at: 150_000)
        ])
        var updated = erp
        updated.city = "Leeds"
        updated.updatedAt = 200
        try await resolver.resolve(updated)
        #expect(try await resolver.consent(goldenId: ann.goldenId, purpose: "marketing", channel: .email).allows)
        updated.consent = ["email": true]
        updated.updatedAt = 300
        try await resolver.resolve(updated)
        updated.consent = ["email": false]
        updated.updatedAt = 400
        try await resolver.resolve(updated)
        let now = try await resolver.consent(goldenId: ann.goldenId, purpose: "marketing", channel: .email)
        #expect(now.label == "revoked", "a changed flag is a new statement")
        #expect(try await resolver.consents(goldenId: ann.goldenId).count == 4)
    }

    @Test func statementsAndInteractionsOfAMergedCustomerCountForTheSurvivor() async throws {
        let resolver = try await MasterDataResolver(store: InMemoryMasterDataStore())
        let a = try await resolver.resolve(
            CustomerRecord(system: "web", externalId: "1", givenName: "Kim", familyName: "Park", email: "k@a.example"))
        let b = try await resolver.resolve(
            CustomerRecord(system: "erp", externalId: "2", givenName: "Lou", familyName: "Reed", phone: "07700900456"))
        #expect(a.goldenId != b.goldenId)
        try await resolver.recordConsents([
            Consent(goldenId: a.goldenId, purpose: "newsletter", channel: .any, status: .granted, source: "web", at: 1)
        ])
        try await resolver.recordInteractions([
            TimelineEntry(
                goldenId: a.goldenId, at: 5, channel: "web", kind: "form", direction: "inbound", source: "web",
                ref: "f-1")
        ])
        try await resolver.merge(survivor: b.goldenId, absorbed: a.goldenId, actor: "test")
        #expect(try await resolver.consent(goldenId: b.goldenId, purpose: "newsletter", channel: .email).allows)
        #expect(try await resolver.timeline(goldenId: b.goldenId, limit: 10).entries.map(\.ref) == ["f-1"])
    }
}
