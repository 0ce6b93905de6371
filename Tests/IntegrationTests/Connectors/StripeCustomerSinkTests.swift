import CRMBilling
import CRMConnector
import CRMDelivery
import CRMKafka
import CRMModel
import CRMTestSupport
import CRMTransport
import CRMWeb
import CRMYAML
import Foundation
import Logging
import Prometheus
import ServiceLifecycle
import Testing

@testable import CRMHub

/// localstripe's API with the test key: the customers having `email`, and direct calls as billing staff would make.
struct LocalStripeAPI {
    let url: String
    let http = HTTPClient(concurrency: 2)
    let auth = [(name: "Authorization", value: "Bearer sk_test_crmhub")]

    func customers(email: String) async throws -> [JSONValue] {
        let encoded = email.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? email
        let response = try await http.execute(
            HTTPRequest(method: "GET", url: "\(url)/v1/customers?email=\(encoded)", headers: auth, body: []))
        #expect(response.status == 200)
        return try JSONValue.parse(response.body)["data"]?.arrayItems ?? []
    }

    @discardableResult
    func post(_ path: String, _ form: [(String, String)]) async throws -> JSONValue {
        let body = form.map {
            "\($0.0.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? $0.0)=\($0.1.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? $0.1)"
        }.joined(separator: "&")
        let response = try await http.execute(
            HTTPRequest(
                method: "POST", url: url + path,
                headers: auth + [(name: "Content-Type", value: "application/x-www-form-urlencoded")],
                body: Array(body.utf8)))
        #expect(response.status == 200, "\(path): \(String(decoding: response.body, as: UTF8.self))")
        return response.body.isEmpty ? .null : try JSONValue.parse(response.body)
    }
}

/// The billing sink's target against a real Stripe API fake (localstripe): one customer per golden id, updated
/// only on change.
@Suite(.timeLimit(.minutes(2)))
struct StripeCustomerSinkTargetTests {
    let logger = Logger(label: "test")

    func target(_ stripe: LocalStripeServer, store: BillingLinkStore) -> StripeCustomerSinkTarget {
        StripeCustomerSinkTarget(
            name: "billing",
            client: StripeCustomerClient(baseURL: stripe.url, apiKey: "sk_test_crmhub", http: HTTPClient()),
            store: store, linkEmitter: nil, linkTopic: nil, logger: logger)
    }

    func message(_ id: String, _ json: String) -> SinkMessage {
        SinkMessage(id: id, key: "G-ada", value: Array(json.utf8), headers: [], previousAttempts: 0)
    }

    let ada =
        #"{"id": "web:ada@engines.example", "goldenId": "G-ada", "kind": "person", "displayName": "Ada Byron", "emails": ["ada@engines.example"], "phones": ["+447700900123"]"#

    @Test func aRedeliveredCustomerIsCreatedOnceAndUpdatedOnlyWhenItChanges() async throws {
        let stripe = try await offPool { try LocalStripeServer() }
        let api = LocalStripeAPI(url: stripe.url)
        let sink = target(stripe, store: try BillingLinkStore(path: nil))

        let first = try await sink.upsert(message("m-1", ada + "}"))
        guard case .created(let customerId) = first else {
            Issue.record("expected a create, got \(first)")
            return
        }
        #expect(try await sink.upsert(message("m-1", ada + "}")) == .unchanged(customerId: customerId))
        #expect(try await sink.upsert(message("m-2", ada + "}")) == .unchanged(customerId: customerId))
        var customers = try await api.customers(email: "ada@engines.example")
        #expect(customers.count == 1, "one billing customer for the golden id")
        #expect(customers.first?["metadata"]?["crm_golden_id"] == "G-ada")
        #expect(customers.first?["metadata"]?["crm_id"] == "web:ada@engines.example")
        #expect(customers.first?["phone"] == "+447700900123")

        // Billing staff edit the name; an unchanged re-delivery makes no call, so their edit stays.
        try await api.post("/v1/customers/\(customerId)", [("name", "A. Byron (billing)")])
        #expect(try await sink.upsert(message("m-3", ada + "}")) == .unchanged(customerId: customerId))
        #expect(try await api.customers(email: "ada@engines.example").first?["name"] == "A. Byron (billing)")

        // A change on the CRM side is written once, with every field billing keeps.
        let moved = ada + #", "addresses": [{"line1": "1 High Street", "city": "London", "country": "GB"}]}"#
        #expect(try await sink.upsert(message("m-4", moved)) == .updated(customerId: customerId))
        #expect(try await sink.upsert(message("m-4", moved)) == .unchanged(customerId: customerId))
        customers = try await api.customers(email: "ada@engines.example")
        #expect(customers.count == 1)
        #expect(customers.first?["name"] == "Ada Byron")
        #expect(customers.first?["address"]?["city"] == "London")

        // The sink's state lost: the customer is found by its golden id, billing already holds it, nothing written.
        let forgetful = target(stripe, store: try BillingLinkStore(path: nil))
        #expect(try await forgetful.upsert(message("m-4", moved)) == .unchanged(customerId: customerId))
        #expect(try await api.customers(email: "ada@engines.example").count == 1)

        // Deleted in billing: created again (a new customer, not an error).
        let deleted = try await api.http.execute(
            HTTPRequest(method: "DELETE", url: "\(stripe.url)/v1/customers/\(customerId)", headers: api.auth, body: []))
        #expect(deleted.status == 200)
        let again = try await sink.upsert(message("m-5", ada + #", "phones": ["+447700900999"]}"#))
        guard case .created(let replacement) = again else {
            Issue.record("expected a new customer, got \(again)")
            return
        }
        #expect(replacement != customerId)
    }

    @Test func customersFromBillingAreNotSentBackAndBadInputIsPermanentWithoutPersonalData() async throws {
        let stripe = try await offPool { try LocalStripeServer() }
        let api = LocalStripeAPI(url: stripe.url)
        let sink = target(stripe, store: try BillingLinkStore(path: nil))

        let echo =
            #"{"id": "erp:C1", "goldenId": "G-bob", "displayName": "Bob Ray", "emails": ["bob@ray.example"], "origin": "billing"}"#
        #expect(await sink.deliver(message("m-1", echo)) == .delivered)
        #expect(try await sink.upsert(message("m-1", echo)) == .echo)
        #expect(try await api.customers(email: "bob@ray.example").isEmpty, "nothing sent back to billing")

        let unresolved = #"{"id": "web:eve@example.com", "displayName": "Eve", "emails": ["eve@example.com"]}"#
        guard case .permanent(let reason) = await sink.deliver(message("m-2", unresolved)) else {
            Issue.record("a customer without a golden id is permanent")
            return
        }
        #expect(reason.contains("missing field 'goldenId'"))
        #expect(!reason.contains("eve@"), "no personal data in the dead-letter reason: \(reason)")

        // The billing API down: transient, retried.
        stripe.stop()
        guard case .transient = await sink.deliver(message("m-3", ada + "}")) else {
            Issue.record("an unreachable billing API is transient")
            return
        }
    }
}

/// The billing sink's classification against a scripted HTTP target (what localstripe never answers).
@Suite(.timeLimit(.minutes(2)))
struct StripeCustomerSinkClassificationTests {
    @Test func aRefusedCustomerIsPermanentWithoutItsDataAndARateLimitIsRetriedAfterTheHint() async throws {
        let server = try await offPool { try RecordingHTTPServer() }
        defer { server.stop() }
        let sink = StripeCustomerSinkTarget(
            name: "billing", client: StripeCustomerClient(baseURL: server.url, apiKey: "sk_test_x", http: HTTPClient()),
            store: try BillingLinkStore(path: nil), linkEmitter: nil, linkTopic: nil, logger: Logger(label: "test"))
        // No e-mail address: nothing to look up, the sink goes straight to the create.
        let zed = #"{"id": "web:zed", "goldenId": "G-zed", "displayName": "Zed Quux", "phones": ["+447700900555"]}"#
        func message(_ id: String) -> SinkMessage {
            SinkMessage(id: id, key: "G-zed", value: Array(zed.utf8), headers: [], previousAttempts: 0)
        }

        try server.setMode("422-if:Quux")
        guard case .permanent(let reason) = await sink.deliver(message("m-1")) else {
            Issue.record("a refused customer is permanent")
            return
        }
        #expect(reason.contains("answered HTTP 422"), "\(reason)")
        #expect(!reason.contains("Zed") && !reason.contains("+44"), "no personal data: \(reason)")

        try server.setMode("429:7")
        #expect(await sink.deliver(message("m-2")).retryHint == .seconds(7))

        // What the create carries: the golden id's idempotency key and the metadata the sink finds it by.
        try server.setMode("ok")
        _ = await sink.deliver(message("m-3"))
        let create = try #require(server.records().last)
        #expect(create["path"] as? String == "/v1/customers")
        #expect(create["idempotency_key"] as? String == "crmhub-G-zed-create")
        #expect((create["body"] as? String)?.contains("metadata%5Bcrm_golden_id%5D=G-zed") == true)
        #expect((create["headers"] as? [String: String])?["authorization"] == "Bearer sk_test_x")
    }
}

extension SinkOutcome {
    /// The `Retry-After` hint of a transient outcome.
    fileprivate var retryHint: Duration? {
        if case .transient(_, let retryAfter) = self { return retryAfter }
        return nil
    }
}

/// Billing out and back in the running daemon, against localstripe and a real broker: resolved customers become one
/// billing customer each, the sink links it back to the master data, and a payment for that customer arrives
/// through the signed webhook carrying the same golden id.
@Suite(.timeLimit(.minutes(5)))
struct StripeBillingRoundTripTests {
    let logger = Logger(label: "test")

    @Test func aGoldenCustomerIsBilledOnceAndItsPaymentComesBackWithTheSameGoldenId() async throws {
        let broker = try TansuBroker()
        defer { broker.stop() }
        let stripe = try await offPool { try LocalStripeServer() }
        let api = LocalStripeAPI(url: stripe.url)
        let directory = URL(fileURLWithPath: try temporaryFolder([:], prefix: "crmhub-billing"))
        let connectors = directory.appendingPathComponent("connectors")
        try FileManager.default.createDirectory(at: connectors, withIntermediateDirectories: true)
        let keyFile = directory.appendingPathComponent("stripe-key")
        try "sk_test_crmhub\n".write(to: keyFile, atomically: true, encoding: .utf8)
        let secretFile = directory.appendingPathComponent("stripe-webhook-secret")
        try "whsec_crmhub\n".write(to: secretFile, atomically: true, encoding: .utf8)
        try """
        name: billing-customers
        kind: stripe-customer-sink
        topic: crm.customer
        url: \(stripe.url)
        allow_plaintext_credentials: true
        api_key: ${file:\(keyFile.path)}
        link_topic: raw.customer
        retry: {in_place_attempts: 3, initial_backoff_ms: 200, max_backoff_ms: 1000, topics: []}
        """.write(to: connectors.appendingPathComponent("billing-customers.yaml"), atomically: true, encoding: .utf8)
        try """
        name: billing-webhook
        kind: stripe-webhook
        path: /webhooks/stripe
        topic: billing.stripe.event
        secrets: ["${file:\(secretFile.path)}"]
        events: ["invoice.*", "payment_intent.*"]
        """.write(to: connectors.appendingPathComponent("billing-webhook.yaml"), atomically: true, encoding: .utf8)
        let ingressPort = try freePort()
        let path = directory.appendingPathComponent("hub.yaml").path
        try """
        kafka:
          brokers: ["\(broker.bootstrap)"]
          session_timeout_ms: 2000
          heartbeat_interval_ms: 500
          topic_partitions: 1
        store: {path: md.sqlite}
        state_dir: state
        mappings: \(repositoryRoot.appendingPathComponent("Mappings").path)
        connectors: connectors
        http: {host: 127.0.0.1, port: \(try freePort())}
        ingress: {host: 127.0.0.1, port: \(ingressPort)}
        routes:
          - {name: customers, from: raw.customer, to: crm.customer, resolve: true}
          - {name: payments, from: billing.stripe.event, mapping: stripe-payment, to: crm.payment}
          - {name: invoices, from: billing.stripe.event, mapping: stripe-invoice, to: crm.payment}
        """.write(toFile: path, atomically: true, encoding: .utf8)
        let daemon = try await HubDaemon.make(
            configuration: try HubConfiguration.load(path: path), metrics: PrometheusCollectorRegistry(),
            logger: logger)
        let group = ServiceGroup(services: daemon.services, logger: logger)
        let running = Task { try await group.run() }
        let input = try KafkaTestClient.producer(broker.bootstrap)

        // The same customer arrives twice (a form re-sent, a replayed import): one golden id, one billing customer.
        let grace =
            #"{"id": "web:grace@cobol-navy.example", "kind": "person", "displayName": "Grace Hopper", "emails": ["grace@cobol-navy.example"], "phones": ["+14155552671"]"#
        for _ in 0..<2 {
            try await input.send(ProducerMessage(topic: "raw.customer", value: Array((grace + "}").utf8)))
        }
        var billed: [JSONValue] = []
        let created = await eventually(timeout: .seconds(60), poll: .milliseconds(300)) {
            billed = (try? await api.customers(email: "grace@cobol-navy.example")) ?? []
            return !billed.isEmpty
        }
        #expect(created, "the golden customer reached billing")
        let customerId = try #require(billed.first?["id"]?.stringValue)
        let goldenId = try #require(billed.first?["metadata"]?["crm_golden_id"]?.stringValue)

        // The link comes back as a billing Customer resolved to the same golden id (and is not sent out again).
        var link: JSONValue?
        let linked = await eventually(timeout: .seconds(60), poll: .milliseconds(500)) {
            let customers =
                (try? await KafkaTestClient.collect(
                    broker.bootstrap, topic: "crm.customer", count: 3, timeout: .seconds(2))) ?? []
            link = customers.compactMap { try? JSONValue.parse($0.value) }.first { $0["origin"] == "billing" }
            return link != nil
        }
        #expect(linked, "the sink linked the billing customer to the master data")
        #expect(link?["externalIds"]?["stripe"]?.stringValue == customerId)
        #expect(link?["goldenId"]?.stringValue == goldenId, "the link resolved to the same golden customer")

        // A change: one update; the billing customer keeps its id.
        try await input.send(
            ProducerMessage(
                topic: "raw.customer",
                value: Array(
                    (grace + #", "addresses": [{"line1": "1 Navy Way", "city": "Arlington", "country": "US"}]}"#).utf8))
        )
        let updated = await eventually(timeout: .seconds(60), poll: .milliseconds(300)) {
            (try? await api.customers(email: "grace@cobol-navy.example"))?.first?["address"]?["city"] == "Arlington"
        }
        #expect(updated, "the change reached billing")

        // A payment for that customer, signed by localstripe and posted to the webhook ingress.
        try await api.post(
            "/_config/webhooks/crmhub",
            [("url", "http://127.0.0.1:\(ingressPort)/webhooks/stripe"), ("secret", "whsec_crmhub")])
        let card = try await api.post(
            "/v1/payment_methods",
            [
                ("type", "card"), ("card[number]", "4242424242424242"), ("card[exp_month]", "12"),
                ("card[exp_year]", "2030"), ("card[cvc]", "123"),
            ])
        try await api.post(
            "/v1/payment_intents",
            [
                ("amount", "4999"), ("currency", "usd"), ("customer", customerId), ("metadata[order_id]", "SO-42"),
                ("payment_method", try #require(card["id"]?.stringValue)), ("confirm", "true"),
            ])
        let payments = try await KafkaTestClient.collect(
            broker.bootstrap, topic: "crm.payment", count: 1, timeout: .seconds(60))
        let payment = try JSONValue.parse(try #require(payments.first).value)
        #expect(payment["orderRef"] == "SO-42")
        #expect(payment["status"] == "paid")
        #expect(payment["goldenId"]?.stringValue == goldenId, "the payment carries the golden id of the customer")

        // A monthly plan she subscribes to, paid with her default card: localstripe invoices it at once (an invoice
        // names no order), and the invoice's payment comes back with the same golden id. The invoice's own payment
        // intent is left to the invoice event.
        let cardId = try #require(card["id"]?.stringValue)
        try await api.post("/v1/payment_methods/\(cardId)/attach", [("customer", customerId)])
        try await api.post("/v1/customers/\(customerId)", [("invoice_settings[default_payment_method]", cardId)])
        let plan = try await api.post(
            "/v1/plans",
            [("amount", "11900"), ("currency", "gbp"), ("interval", "month"), ("product[name]", "Guidance support")])
        try await api.post(
            "/v1/subscriptions",
            [("customer", customerId), ("items[0][plan]", try #require(plan["id"]?.stringValue))])
        var statuses: [JSONValue] = []
        let invoiced = await eventually(timeout: .seconds(60), poll: .milliseconds(500)) {
            statuses =
                ((try? await KafkaTestClient.readAll(broker.bootstrap, topic: "crm.payment")) ?? [])
                .compactMap { try? JSONValue.parse($0.value) }
            return statuses.contains { $0["invoiceRef"] != nil }
        }
        #expect(invoiced, "the paid subscription invoice came back")
        let paidInvoice = statuses.first { $0["invoiceRef"] != nil }
        #expect(paidInvoice?["status"] == "paid")
        #expect(paidInvoice?["amountPaid"] == "119.00")
        #expect(paidInvoice?["goldenId"]?.stringValue == goldenId, "the invoice carries the golden id of the customer")

        // Settled: still one billing customer, and the sink saw the link Customer without sending it back.
        try await Task.sleep(for: .seconds(2))
        let finalCustomers = try await api.customers(email: "grace@cobol-navy.example")
        #expect(finalCustomers.count == 1, "one billing customer after a re-delivery, a change and the link")
        #expect(finalCustomers.first?["address"]?["city"] == "Arlington")
        let deadLetters = try await KafkaTestClient.readAll(broker.bootstrap, topic: "dlq.payments")
        #expect(deadLetters.isEmpty, "the invoice's payment intent is not dead-lettered for lacking an order")

        await group.triggerGracefulShutdown()
        try await running.value
        await input.shutdown()
    }
}

/// The `stripe-customer-sink` connector kind's settings.
@Suite struct StripeCustomerSinkConfigurationTests {
    @Test func theShippedExampleLoadsWithItsKeyAsAReference() throws {
        let path = repositoryRoot.appendingPathComponent("Connectors/examples/billing-customers-stripe.yaml").path
        let connector = try ConnectorRegistry.standard.load(path: path)
        let settings = try #require(connector.settings(as: StripeCustomerSinkConnector.Settings.self))
        #expect(settings.apiKey == .environment("STRIPE_API_KEY"))
        #expect(settings.url == "https://api.stripe.com")
        #expect(settings.linkTopic == "raw.customer")
        #expect(settings.delivery.topic == "crm.customer")
        #expect(settings.delivery.retryTopics.count == 3)
        #expect(connector.topics.contains("raw.customer"), "the link topic is created or checked at start")
    }

    @Test(
        arguments: [
            ("api_key: sk_live_123\n", 4, "never inline"),
            ("api_key: ${env:K}\nurl: https://api.stripe.com/v1/customers\n", 5, "without a path or query"),
            ("api_key: ${env:K}\nlink_topic: crm.customer\n", 5, "must not be the sink's own topic"),
            ("url: https://api.stripe.com\n", 1, "api_key"),
        ])
    func aMistakeIsRefusedWithItsLine(settings: String, line: Int, message: String) throws {
        let directory = URL(fileURLWithPath: try temporaryFolder([:], prefix: "crmhub-billing-config"))
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("billing.yaml").path
        try "name: billing\nkind: stripe-customer-sink\ntopic: crm.customer\n\(settings)"
            .write(toFile: path, atomically: true, encoding: .utf8)
        let error = #expect(throws: YAMLError.self) { try ConnectorRegistry.standard.load(path: path) }
        #expect(error?.location.line == line, "\(String(describing: error))")
        #expect(error?.message.contains(message) == true, "\(String(describing: error))")
    }
}
