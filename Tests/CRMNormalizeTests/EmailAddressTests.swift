import CRMNormalize
import Testing

@Suite("EmailAddress.normalize")
struct EmailAddressTests {
    @Test(
        "trims and lower-cases",
        arguments: [
            ("  Alice@Example.COM ", "alice@example.com"),
            ("Bob Smith <Bob.Smith+crm@Mail.Example.org>", "bob.smith+crm@mail.example.org"),
            ("mailto:info@acme.co.uk", "info@acme.co.uk"),
        ])
    func valid(raw: String, expected: String) throws {
        #expect(try EmailAddress.normalize(raw) == expected)
    }

    @Test(
        "rejects bad syntax",
        arguments: [
            "", "plainaddress", "a@b", "a@@b.com", ".a@b.com", "a..b@c.com", "a@-b.com", "a b@c.com",
            "a@b..com", "a@1.2.3.4", "a@b.c_m",
        ])
    func invalid(raw: String) {
        #expect(throws: NormalizationError.self) { try EmailAddress.normalize(raw) }
    }
}
