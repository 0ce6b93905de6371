import CRMKafka
import CRMModel
import CRMTransport
import Testing

@testable import CRMBilling

@Suite struct BillingCustomerTests {
    let ada: JSONValue = [
        "id": "web:ada@example.com", "goldenId": "G-7", "kind": "person", "displayName": "Ada Byron",
        "emails": ["ada@example.com", "ada@work.example"], "phones": ["+447700900123"],
        "addresses": [["line1": "1 High Street", "city": "London", "postalCode": "EC1A 1BB", "country": "GB"]],
        "consent": ["email": true],
    ]

    @Test func aResolvedCustomerBecomesTheFieldsBillingKeepsWithItsGoldenIdInTheMetadata() throws {
        let customer = try BillingCustomer(customer: ada)
        let fields = customer.formFields(clearing: false)
        #expect(fields.first { $0.0 == "name" }?.1 == "Ada Byron")
        #expect(fields.first { $0.0 == "email" }?.1 == "ada@example.com", "the first e-mail address")
        #expect(fields.first { $0.0 == "phone" }?.1 == "+447700900123")
        #expect(fields.first { $0.0 == "address[postal_code]" }?.1 == "EC1A 1BB")
        #expect(fields.first { $0.0 == "metadata[crm_golden_id]" }?.1 == "G-7")
        #expect(fields.first { $0.0 == "metadata[crm_id]" }?.1 == "web:ada@example.com")
    }

    @Test func anUpdateClearsFieldsTheCustomerNoLongerHas() throws {
        let customer = try BillingCustomer(customer: ["goldenId": "G-7", "displayName": "Ada Byron"])
        let fields = customer.formFields(clearing: true)
        #expect(fields.contains { $0 == ("email", "") })
        #expect(fields.contains { $0 == ("address", "") })
        #expect(!customer.formFields(clearing: false).contains { $0.0 == "email" }, "a create sends no empty fields")
    }

    @Test func theDigestChangesWithABillingFieldAndNotWithOthers() throws {
        let base = try BillingCustomer(customer: ada).contentHash
        var consent = ada
        if case .object(var members) = consent {
            members.removeAll { $0.0 == "consent" }
            consent = .object(members)
        }
        #expect(try BillingCustomer(customer: consent).contentHash == base, "consent is not kept in billing")
        var moved = try BillingCustomer(customer: ada)
        moved.address?.city = "Leeds"
        #expect(moved.contentHash != base)
    }

    @Test func whatBillingHoldsReadsBackToTheSameDigest() throws {
        let customer = try BillingCustomer(customer: ada)
        let object: JSONValue = [
            "id": "cus_1", "name": "Ada Byron", "email": "ada@example.com", "phone": "+447700900123",
            "address": [
                "line1": "1 High Street", "line2": nil, "city": "London", "state": nil, "postal_code": "EC1A 1BB",
                "country": "GB",
            ],
            "metadata": ["crm_golden_id": "G-7", "crm_id": "web:ada@example.com"],
        ]
        #expect(BillingCustomer(stripeObject: object) == customer)
        #expect(BillingCustomer(stripeObject: object)?.contentHash == customer.contentHash)
        #expect(BillingCustomer(stripeObject: ["id": "cus_2", "metadata": [:]]) == nil, "not made by the hub")
    }

    @Test(
        arguments: [
            (["displayName": "Ada"], "missing field 'goldenId'"),
            (["goldenId": "G-1", "emails": "ada@example.com"], "field 'emails' has the wrong type"),
            (["goldenId": "G-1", "addresses": [["city": 7]]], "field 'addresses[0].city' has the wrong type"),
            ("ada@example.com", "the value is not a JSON object"),
        ] as [(JSONValue, String)])
    func aMessageThatIsNotAResolvedCustomerIsRefusedWithoutItsValues(value: JSONValue, reason: String) {
        #expect {
            try BillingCustomer(customer: value)
        } throws: { error in
            let text = (error as? BillingInputError)?.description ?? ""
            return text.contains(reason) && !text.contains("ada@example.com")
        }
    }

    @Test func anAPIRefusalNamesTypeCodeAndParameterButNeverTheMessage() {
        let body = Array(
            #"{"error": {"type": "invalid_request_error", "code": "email_invalid", "param": "email", "message": "Invalid email address: ada@@example.com"}}"#
                .utf8)
        let error = StripeAPIError(
            .http(status: 400, .init(body: body)), operation: "create", target: "https://api.stripe.com")
        #expect(!error.isTransient)
        #expect(
            error.description
                == "billing API create at https://api.stripe.com answered HTTP 400 (type invalid_request_error, code email_invalid, param email)"
        )
        #expect(!error.description.contains("ada@"))
    }

    @Test(arguments: [(408, true), (409, true), (429, true), (500, true), (503, true), (400, false), (404, false)])
    func statusesThatAreWorthARetry(status: Int, transient: Bool) {
        let error = StripeAPIError(.http(status: status, .init()), operation: "update", target: "t")
        #expect(error.isTransient == transient)
    }

    @Test func theLinkCustomerCarriesTheBillingIdAndOriginButNoGoldenIdOrConsent() throws {
        let message = StripeCustomerSinkTarget.linkMessage(
            ada, customerId: "cus_9", golden: "G-7", topic: "raw.customer")
        let value = try JSONValue.parse(message.value)
        #expect(value["externalIds"] == ["stripe": "cus_9"])
        #expect(value["origin"] == "billing")
        #expect(value["emails"] == ada["emails"])
        #expect(value["goldenId"] == nil)
        #expect(value["consent"] == nil)
        #expect(message.headers.text("crm-source") == "stripe")
        #expect(message.headers.text("crm-id") == "stripe-link-cus_9")
    }

    @Test func formValuesArePercentEncoded() {
        #expect(StripeCustomerClient.encode("metadata[crm_id]") == "metadata%5Bcrm_id%5D")
        #expect(StripeCustomerClient.encode("a+b@x.example & co") == "a%2Bb%40x.example%20%26%20co")
    }
}
