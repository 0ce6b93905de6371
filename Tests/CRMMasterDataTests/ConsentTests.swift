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
}
