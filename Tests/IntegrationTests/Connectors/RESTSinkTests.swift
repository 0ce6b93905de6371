import CRMDelivery
import CRMKafka
import CRMTestSupport
import CRMTransport
import Foundation
import Testing

@testable import CRMHTTPConnector
@testable import CRMHub

@Suite struct RESTRequestTemplateTests {
    @Test func placeholdersAreFilledFromTheKeyTheIdAndTheBodyAndPercentEncoded() throws {
        let template = RESTRequestTemplate(url: "https://erp.example/api/{kind}/{key}/{customer.code}?req={id}")
        #expect(template.placeholders == ["kind", "key", "customer.code", "id"])
        let body = Array(#"{"kind":"party","customer":{"code":"C 1/2"}}"#.utf8)
        let rendered = try template.render(key: "golden:7", id: "m-1", body: body)
        #expect(rendered.url == "https://erp.example/api/party/golden:7/C%201%2F2?req=m-1")
        #expect(rendered.body == body)
        #expect(rendered.contentType == "application/json")
    }

    @Test func aMissingPlaceholderValueIsAFailureNamingTheField() {
        #expect(
            throws: RESTRequestTemplate.Failure(description: "the URL needs 'code', which the message does not have")
        ) {
            try RESTRequestTemplate(url: "https://erp/{code}").render(key: nil, id: "m", body: Array("{}".utf8))
        }
        #expect(throws: RESTRequestTemplate.Failure.self) {
            try RESTRequestTemplate(url: "https://erp/{key}").render(key: nil, id: "m", body: [])
        }
    }

    @Test func formBodiesNestObjectsAndListsAndSpellBooleans() throws {
        let body = Array(
            #"{"name":"Zoë & Co","metadata":{"golden_id":"G1"},"tags":["a","b"],"active":true,"n":3,"gone":null}"#.utf8)
        let rendered = try RESTRequestTemplate(url: "https://api/x", encoding: .form).render(
            key: nil, id: "m", body: body)
        #expect(rendered.contentType == "application/x-www-form-urlencoded")
        #expect(
            String(decoding: rendered.body, as: UTF8.self)
                == "active=true&metadata%5Bgolden_id%5D=G1&n=3&name=Zo%C3%AB%20%26%20Co&tags%5B0%5D=a&tags%5B1%5D=b")
    }

    @Test func successCodesReplaceTheDefault2xx() {
        let conflict = HTTPResponse(status: 409, headers: [], body: [])
        #expect(HTTPSinkTarget.classify(conflict, successCodes: [201, 409]) == .delivered)
        #expect(
            HTTPSinkTarget.classify(HTTPResponse(status: 200, headers: [], body: []), successCodes: [201]) != .delivered
        )
        #expect(
            HTTPSinkTarget.classify(HTTPResponse(status: 200, headers: [], body: []), successCodes: []) == .delivered)
    }
}

/// The generic REST sink against a real billing API (localstripe): customers created and updated with form bodies.
@Suite(.timeLimit(.minutes(2)))
struct RESTSinkBillingTests {
    @Test func customersAreCreatedAndUpdatedInTheBillingSystemThroughTheRESTSink() async throws {
        let stripe = try await offPool { try LocalStripeServer() }
        let client = HTTPClient(concurrency: 2)
        let auth = [(name: "Authorization", value: "Bearer sk_test_crmhub")]
        var create = HTTPSinkTarget.Settings(url: "\(stripe.url)/v1/customers", headers: auth)
        create.body = .form
        let created = await HTTPSinkTarget(settings: create, client: client).deliver(
            SinkMessage(
                id: "m-1", key: "G1",
                value: Array(#"{"email":"ana@example.com","name":"Ana Ruiz","metadata":{"golden_id":"G1"}}"#.utf8),
                headers: [], previousAttempts: 0))
        #expect(created == .delivered)

        let list = try await client.execute(
            HTTPRequest(method: "GET", url: "\(stripe.url)/v1/customers", headers: auth, body: []))
        let customers = try #require(
            (try JSONSerialization.jsonObject(with: Data(list.body)) as? [String: Any])?["data"] as? [[String: Any]])
        let customer = try #require(
            customers.first { ($0["metadata"] as? [String: Any])?["golden_id"] as? String == "G1" })
        let stripeID = try #require(customer["id"] as? String)
        #expect(customer["email"] as? String == "ana@example.com")

        var update = HTTPSinkTarget.Settings(url: "\(stripe.url)/v1/customers/{stripe_id}", headers: auth)
        update.body = .form
        let target = HTTPSinkTarget(settings: update, client: client)
        let updated = await target.deliver(
            SinkMessage(
                id: "m-2", key: "G1",
                value: Array(#"{"stripe_id":"\#(stripeID)","email":"ana.ruiz@example.com"}"#.utf8), headers: [],
                previousAttempts: 0))
        #expect(updated == .delivered)
        let read = try await client.execute(
            HTTPRequest(method: "GET", url: "\(stripe.url)/v1/customers/\(stripeID)", headers: auth, body: []))
        #expect(
            (try JSONSerialization.jsonObject(with: Data(read.body)) as? [String: Any])?["email"] as? String
                == "ana.ruiz@example.com")

        // An unknown customer is the billing system's 404: permanent, to the DLQ. A message without the id: permanent too.
        let unknown = await target.deliver(
            SinkMessage(
                id: "m-3", key: "G2", value: Array(#"{"stripe_id":"cus_missing","email":"x@example.com"}"#.utf8),
                headers: [], previousAttempts: 0))
        guard case .permanent(let reason) = unknown else {
            Issue.record("expected permanent, got \(unknown)")
            return
        }
        #expect(reason.contains("404"))
        let incomplete = await target.deliver(
            SinkMessage(
                id: "m-4", key: "G3", value: Array(#"{"email":"y@example.com"}"#.utf8), headers: [], previousAttempts: 0
            ))
        #expect(incomplete == .permanent(reason: "the URL needs 'stripe_id', which the message does not have"))

        // The billing API down: transient, retried.
        stripe.stop()
        let down = await HTTPSinkTarget(settings: create, client: client).deliver(
            SinkMessage(
                id: "m-5", key: "G4", value: Array(#"{"email":"z@example.com"}"#.utf8), headers: [], previousAttempts: 0
            ))
        guard case .transient = down else {
            Issue.record("expected transient, got \(down)")
            return
        }
    }
}
