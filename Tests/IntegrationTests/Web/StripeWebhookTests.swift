import CRMConnector
import CRMHub
import CRMKafka
import CRMMapping
import CRMTestSupport
import CRMTransport
import CRMWeb
import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import ServiceLifecycle
import Testing

@testable import CRMIngress

@Suite struct StripeSignatureTests {
    let payload = Array(
        #"{"id":"evt_1","type":"customer.created","data":{"object":{"id":"cus_1","object":"customer"}}}"#.utf8)
    let now = Date(timeIntervalSince1970: 1_800_000_000)
    var t: Int64 { Int64(now.timeIntervalSince1970) }

    @Test func aSignatureUnderTheSecretIsAccepted() throws {
        let header = StripeSignatureVerifier.header(for: payload, secret: "whsec_a", timestamp: t - 10)
        try StripeSignatureVerifier(secrets: ["whsec_a"]).verify(header: header, payload: payload, now: now)
    }

    @Test func duringARotationEitherSecretAndEitherSignatureIsAccepted() throws {
        let old = StripeSignatureVerifier.header(for: payload, secret: "whsec_old", timestamp: t)
        let new = StripeSignatureVerifier.header(for: payload, secret: "whsec_new", timestamp: t)
        let verifier = StripeSignatureVerifier(secrets: ["whsec_new", "whsec_old"])
        try verifier.verify(header: old, payload: payload, now: now)
        // The sender signs with both while it rotates: "t=..,v1=<new>,v1=<old>".
        let both = new + "," + old.split(separator: ",")[1]
        try StripeSignatureVerifier(secrets: ["whsec_old"]).verify(header: both, payload: payload, now: now)
    }

    @Test func aChangedBodyOrAnotherSecretIsRefused() {
        let header = StripeSignatureVerifier.header(for: payload, secret: "whsec_a", timestamp: t)
        var forged = payload
        forged[forged.count - 3] = UInt8(ascii: "x")
        #expect(throws: StripeSignatureError.noMatchingSignature) {
            try StripeSignatureVerifier(secrets: ["whsec_a"]).verify(header: header, payload: forged, now: now)
        }
        #expect(throws: StripeSignatureError.noMatchingSignature) {
            try StripeSignatureVerifier(secrets: ["whsec_b"]).verify(header: header, payload: payload, now: now)
        }
    }

    @Test func aStaleOrFutureTimestampIsRefusedAsAReplay() {
        let verifier = StripeSignatureVerifier(secrets: ["whsec_a"], tolerance: .seconds(300))
        let stale = StripeSignatureVerifier.header(for: payload, secret: "whsec_a", timestamp: t - 301)
        #expect(throws: StripeSignatureError.outsideTolerance(ageSeconds: 301, toleranceSeconds: 300)) {
            try verifier.verify(header: stale, payload: payload, now: now)
        }
        let future = StripeSignatureVerifier.header(for: payload, secret: "whsec_a", timestamp: t + 3_600)
        #expect(throws: StripeSignatureError.self) { try verifier.verify(header: future, payload: payload, now: now) }
    }

    @Test(
        arguments: [
            (nil, StripeSignatureError.missingHeader),
            ("", .missingHeader),
            ("v1=abc", .malformed("no timestamp (t=)")),
            ("t=1800000000", .noSignatures),
            ("t=1800000000,v1=zz", .noSignatures),
            ("t=1800000000,v0=\(String(repeating: "0", count: 64))", .noSignatures),
            ("t=abc,v1=00", .malformed("bad or repeated timestamp")),
            ("garbage", .malformed("'garbage' is not key=value")),
        ] as [(String?, StripeSignatureError)])
    func aMalformedHeaderIsRefusedWithItsReason(header: String?, expected: StripeSignatureError) {
        #expect(throws: expected) {
            try StripeSignatureVerifier(secrets: ["whsec_a"]).verify(header: header, payload: payload, now: now)
        }
    }
}

/// Billing webhooks from a real Stripe API fake (localstripe) into a real broker (Tansu).
@Suite(.timeLimit(.minutes(3)))
struct StripeWebhookIngressTests {
    let logger = Logger(label: "test")

    func endpoint(topic: String, secrets: [String] = ["whsec_test"]) -> StripeWebhookIngress.Endpoint {
        var settings = StripeWebhookConnector.Settings(
            path: "/webhooks/stripe", topic: topic, secrets: [.environment("UNUSED")])
        settings.events = ["customer.*", "payment_intent.*"]
        settings.ackTimeout = .seconds(2)
        return StripeWebhookIngress.Endpoint(name: "billing", settings: settings, secrets: secrets)
    }

    /// The webhook as the ingress server serves it, producing with `producer`.
    func ingress(_ endpoint: StripeWebhookIngress.Endpoint, _ producer: KafkaProducer) -> IngressEndpoint {
        StripeWebhookIngress.endpoint(
            endpoint, emitter: SourceEmitter(connector: endpoint.name, producer: producer), logger: logger)
    }

    /// POSTs a form to localstripe's API with a test key and returns the JSON object it answers.
    func stripe(
        _ client: HTTPClient, _ base: String, _ path: String, _ form: [(String, String)]
    ) async throws -> [String: Any] {
        let body = form.map {
            "\($0.0.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? $0.0)=\($0.1.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? $0.1)"
        }
        .joined(separator: "&")
        let response = try await client.execute(
            CRMTransport.HTTPRequest(
                method: "POST", url: base + path,
                headers: [
                    ("Authorization", "Bearer sk_test_crmhub"), ("Content-Type", "application/x-www-form-urlencoded"),
                ], body: Array(body.utf8)))
        #expect(response.status == 200, "\(path): \(String(decoding: response.body, as: UTF8.self))")
        guard !response.body.isEmpty else { return [:] }
        return try #require(try JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any])
    }

    @Test func signedEventsFromLocalstripeReachTheTopicAndMapToAnOrderPaymentStatus() async throws {
        let broker = try TansuBroker()
        let localstripe = try await offPool { try LocalStripeServer() }
        try await KafkaTestClient.createTopics(broker.bootstrap, ["billing.stripe.event"], partitions: 1)
        let producer = try KafkaTestClient.producer(broker.bootstrap)
        let port = try freePort()
        let app = IngressServer.makeApplication(
            host: "127.0.0.1", port: port, endpoints: [ingress(endpoint(topic: "billing.stripe.event"), producer)],
            logger: logger)
        let group = ServiceGroup(services: [app], logger: logger)
        let running = Task { try await group.run() }
        guard await eventually(timeout: .seconds(30), { canConnect(port: port) }) else {
            throw TestSetupError("the ingress server did not start listening on 127.0.0.1:\(port)")
        }

        let client = HTTPClient(concurrency: 2)
        _ = try await stripe(
            client, localstripe.url, "/_config/webhooks/crmhub",
            [
                ("url", "http://127.0.0.1:\(port)/webhooks/stripe"), ("secret", "whsec_test"),
            ])
        let customer = try await stripe(
            client, localstripe.url, "/v1/customers", [("email", "ana@example.com"), ("name", "Ana Ruiz")])
        let customerID = try #require(customer["id"] as? String)
        let card = try await stripe(
            client, localstripe.url, "/v1/payment_methods",
            [
                ("type", "card"), ("card[number]", "4242424242424242"), ("card[exp_month]", "12"),
                ("card[exp_year]", "2030"), ("card[cvc]", "123"),
            ])
        _ = try await stripe(
            client, localstripe.url, "/v1/payment_intents",
            [
                ("amount", "4999"), ("currency", "gbp"), ("customer", customerID), ("metadata[order_id]", "SO-9"),
                ("payment_method", try #require(card["id"] as? String)), ("confirm", "true"),
            ])

        let messages = try await KafkaTestClient.collect(
            broker.bootstrap, topic: "billing.stripe.event", timeout: .seconds(30),
            until: { messages in
                messages.contains { $0.headers.text("crm-event-type") == "payment_intent.succeeded" }
            })
        let types = messages.compactMap { $0.headers.text("crm-event-type") }
        #expect(types.contains("customer.created"))
        #expect(
            messages.allSatisfy { $0.headers.text("crm-id")?.hasPrefix("evt_") == true },
            "the event id is the message id")
        #expect(
            messages.allSatisfy { $0.keyText == customerID },
            "one customer's events share its key: \(messages.map(\.keyText))")

        // The route's mapping turns the payment event into the order's payment status.
        let payment = try #require(messages.first { $0.headers.text("crm-event-type") == "payment_intent.succeeded" })
        // The mapping looks up the golden id of the billing customer (golden-by-ref); the daemon answers it from the
        // master data (StripeBillingRoundTripTests), a static table stands in here.
        let library = try MappingLibrary.load(
            directory: repositoryRoot.appendingPathComponent("Mappings").path,
            lookup: StaticLookup(["golden-by-ref": ["stripe/\(customerID)": "G-ana"]]))
        let mapping = try #require(library.mapping(named: "stripe-payment"))
        guard case .output(let records) = try mapping.apply(payment.value, context: library.context) else {
            Issue.record("the payment event was dropped")
            return
        }
        #expect(records.first?.value["orderRef"]?.stringValue == "SO-9")
        #expect(records.first?.value["status"]?.stringValue == "paid")
        #expect(records.first?.value["currency"]?.stringValue == "GBP")
        #expect(records.first?.value["goldenId"]?.stringValue == "G-ana")

        await group.triggerGracefulShutdown()
        try await running.value
        await producer.shutdown()
    }

    @Test func forgedStaleAndUnsignedWebhooksAre400AndNothingIsProduced() async throws {
        // The producer points at a closed port: any attempt to produce would answer 503, not 400.
        let producer = try KafkaTestClient.producer("127.0.0.1:\(try freePort())")
        let router = IngressServer.makeRouter(endpoints: [ingress(endpoint(topic: "t"), producer)], logger: logger)
        let body = #"{"id":"evt_9","type":"customer.updated","data":{"object":{"id":"cus_9","object":"customer"}}}"#
        let now = Int64(Date().timeIntervalSince1970)
        let json: HTTPFields = [.contentType: "application/json"]
        @Sendable func signed(_ header: String) -> HTTPFields {
            [.contentType: "application/json", .init("Stripe-Signature")!: header]
        }
        try await Application(router: router).test(.router) { client in
            try await client.execute(
                uri: "/webhooks/stripe", method: .post, headers: json, body: ByteBuffer(string: body)
            ) {
                #expect($0.status == .badRequest)
                #expect(String(buffer: $0.body).contains("Stripe-Signature header is missing"))
            }
            let forged = StripeSignatureVerifier.header(for: Array(body.utf8), secret: "whsec_attacker", timestamp: now)
            try await client.execute(
                uri: "/webhooks/stripe", method: .post, headers: signed(forged), body: ByteBuffer(string: body)
            ) {
                #expect($0.status == .badRequest)
                #expect(String(buffer: $0.body).contains("no v1 signature matches"))
            }
            let replayed = StripeSignatureVerifier.header(
                for: Array(body.utf8), secret: "whsec_test", timestamp: now - 3_600)
            try await client.execute(
                uri: "/webhooks/stripe", method: .post, headers: signed(replayed), body: ByteBuffer(string: body)
            ) {
                #expect($0.status == .badRequest)
                #expect(String(buffer: $0.body).contains("outside the 300 s tolerance"))
            }
            let notAnEvent = #"{"hello":"world"}"#
            let header = StripeSignatureVerifier.header(
                for: Array(notAnEvent.utf8), secret: "whsec_test", timestamp: now)
            try await client.execute(
                uri: "/webhooks/stripe", method: .post, headers: signed(header), body: ByteBuffer(string: notAnEvent)
            ) {
                #expect($0.status == .badRequest)
            }
            let ignoredBody = #"{"id":"evt_10","type":"payout.created","data":{"object":{"id":"po_1"}}}"#
            let ignored = StripeSignatureVerifier.header(
                for: Array(ignoredBody.utf8), secret: "whsec_test", timestamp: now)
            try await client.execute(
                uri: "/webhooks/stripe", method: .post, headers: signed(ignored), body: ByteBuffer(string: ignoredBody)
            ) {
                #expect($0.status == .ok)
                #expect(String(buffer: $0.body).contains("ignored"))
            }
            // A valid event with Kafka down: 503 so the sender retries, never a 2xx.
            let valid = StripeSignatureVerifier.header(for: Array(body.utf8), secret: "whsec_test", timestamp: now)
            try await client.execute(
                uri: "/webhooks/stripe", method: .post, headers: signed(valid), body: ByteBuffer(string: body)
            ) {
                #expect($0.status == .serviceUnavailable)
            }
        }
        await producer.shutdown(timeout: .milliseconds(100))
    }

    @Test("the same signed webhook sent twice is refused the second time as replayed; more than 8 v1 values is 400")
    func replayedWebhookIsRefused() async throws {
        let producer = try KafkaTestClient.producer("127.0.0.1:\(try freePort())")
        let router = IngressServer.makeRouter(endpoints: [ingress(endpoint(topic: "t"), producer)], logger: logger)
        // An event type the connector does not take is answered 200 without Kafka, so no broker is needed.
        let body = #"{"id":"evt_11","type":"payout.created","data":{"object":{"id":"po_2"}}}"#
        let header = StripeSignatureVerifier.header(
            for: Array(body.utf8), secret: "whsec_test", timestamp: Int64(Date().timeIntervalSince1970))
        let headers: HTTPFields = [.contentType: "application/json", .init("Stripe-Signature")!: header]
        try await Application(router: router).test(.router) { client in
            try await client.execute(
                uri: "/webhooks/stripe", method: .post, headers: headers, body: ByteBuffer(string: body)
            ) { #expect($0.status == .ok) }
            try await client.execute(
                uri: "/webhooks/stripe", method: .post, headers: headers, body: ByteBuffer(string: body)
            ) { response in
                #expect(response.status == .badRequest)
                #expect(String(buffer: response.body).contains("already accepted"))
            }
            let crowded = header + String(repeating: ",v1=" + String(repeating: "0", count: 64), count: 8)
            try await client.execute(
                uri: "/webhooks/stripe", method: .post,
                headers: [.contentType: "application/json", .init("Stripe-Signature")!: crowded],
                body: ByteBuffer(string: body)
            ) { response in
                #expect(response.status == .badRequest)
                #expect(String(buffer: response.body).contains("more than 8 v1 signatures"))
            }
        }
        await producer.shutdown(timeout: .milliseconds(100))
    }
}
