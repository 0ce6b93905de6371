import CRMConnector
import CRMDelivery
import CRMKafka
import CRMMapping
import CRMModel
import CRMTestSupport
import CRMTransport
import CRMYAML
import Foundation
import Logging
import ServiceLifecycle
import Testing

@testable import CRMHub
@testable import CRMTryton

/// The Tryton ERP connector against a real trytond (party, sale, accounting; SQLite copy of a template database)
/// started per test on a free loopback port, and a real Kafka broker (Tansu) for the sale source.
@Suite(.timeLimit(.minutes(10)))
struct TrytonConnectorTests {
    let logger = Logger(label: "test")

    // MARK: Helpers

    static func endpoint(_ server: TrytonServer, timeout: Duration = .seconds(20)) -> TrytonEndpoint {
        TrytonEndpoint(
            url: server.url, database: TrytonServer.database, user: TrytonServer.user, password: TrytonServer.password,
            timeout: timeout)
    }

    static func mapping(_ name: String) throws -> CompiledMapping {
        let path = repositoryRoot.appendingPathComponent("Mappings").path
        let library = try MappingLibrary.load(directory: path)
        return try #require(library.mapping(named: name))
    }

    /// The ERPParty message the `customer-to-erp-party` mapping makes of a canonical customer.
    static func partyMessage(_ customer: JSONValue, id: String) throws -> SinkMessage {
        let result = try mapping("customer-to-erp-party").apply(customer)
        guard case .output(let records) = result, let record = records.first else {
            throw TestSetupError("customer-to-erp-party produced no record: \(result)")
        }
        return SinkMessage(id: id, key: record.key, value: record.jsonBytes(), headers: [], previousAttempts: 0)
    }

    static func customer(_ id: String, name: String, emails: [String], phone: String = "+447700900123") -> JSONValue {
        .object([
            ("id", .string(id)), ("kind", "person"), ("displayName", .string(name)),
            ("emails", .array(emails.map { .string($0) })), ("phones", .array([.string(phone)])),
            (
                "addresses",
                [
                    .object([
                        ("line1", "1 High Street"), ("city", "London"), ("postalCode", "EC1A 1BB"), ("country", "GB"),
                    ])
                ]
            ),
            ("consent", .object([("email", true)])),
        ])
    }

    /// Parties with `code`, read back through JSON-RPC (inactive ones included).
    static func parties(_ client: TrytonClient, code: String) async throws -> [JSONValue] {
        let result = try await client.call(
            "model.party.party.search_read",
            [[["code", "=", .string(code)]], 0, .null, .null, ["id", "name", "code"]],
            context: [("active_test", false)])
        return result.arrayItems ?? []
    }

    static func emails(_ client: TrytonClient, party: Int) async throws -> Set<String> {
        let records = try await client.searchRead(
            "party.contact_mechanism", domain: [["party", "=", .number(String(party))], ["type", "=", "email"]],
            fields: ["value"])
        return Set(records.compactMap { $0["value"]?.stringValue })
    }

    // MARK: Party sink

    @Test func redeliveredCustomerBecomesOnePartyThatLaterChangesUpdate() async throws {
        let server = try await TrytonServer.start()
        defer { server.stop() }
        let http = HTTPClient(concurrency: 4)
        let client = TrytonClient(endpoint: Self.endpoint(server), http: http, logger: logger)
        let target = TrytonPartySinkTarget(client: client, logger: logger)

        let mary = Self.customer("golden:0001", name: "Mary O'Neill", emails: ["mary@example.com"])
        let first = try Self.partyMessage(mary, id: "m-1")
        #expect(await target.deliver(first) == .delivered)
        #expect(await target.deliver(first) == .delivered)  // re-delivery of the same message
        let created = try await Self.parties(client, code: "golden:0001")
        #expect(created.count == 1)
        let partyID = try #require(created.first?["id"]?.scalarText.flatMap { Int($0) })
        #expect(created.first?["name"]?.stringValue == "Mary O'Neill")
        #expect(try await Self.emails(client, party: partyID) == ["mary@example.com"])

        // The customer changes name and gains an e-mail address: the same party is updated, nothing duplicated.
        let changed = Self.customer(
            "golden:0001", name: "Mary O'Neill-Smith", emails: ["mary@example.com", "mary.smith@example.org"])
        #expect(await target.deliver(try Self.partyMessage(changed, id: "m-2")) == .delivered)
        #expect(await target.deliver(try Self.partyMessage(changed, id: "m-2")) == .delivered)
        let updated = try await Self.parties(client, code: "golden:0001")
        #expect(updated.count == 1)
        #expect(updated.first?["id"]?.scalarText == String(partyID))
        #expect(updated.first?["name"]?.stringValue == "Mary O'Neill-Smith")
        #expect(try await Self.emails(client, party: partyID) == ["mary@example.com", "mary.smith@example.org"])
        let addresses = try await client.searchRead(
            "party.address", domain: [["party", "=", .number(String(partyID))]], fields: ["city"])
        #expect(addresses.count == 1)

        // An unchanged re-delivery writes nothing.
        let unchanged = try await target.upsert(
            try #require(try? ERPParty.parse(Self.partyMessage(changed, id: "m-3").value).get()), messageID: "m-3")
        #expect(unchanged == .unchanged(id: partyID))

        // A second customer is a second party.
        let john = Self.customer(
            "golden:0002", name: "John Smith", emails: ["john@example.com"], phone: "+447700900456")
        #expect(await target.deliver(try Self.partyMessage(john, id: "j-1")) == .delivered)
        #expect(try await Self.parties(client, code: "golden:0002").count == 1)
        let all = try await client.search("party.party", domain: [["code", "like", "golden:%"]])
        #expect(all.count == 2)
    }

    @Test func unreachableOrHungTrytonIsTransientAndRefusedDataPermanent() async throws {
        let server = try await TrytonServer.start()
        defer { server.stop() }
        let http = HTTPClient(concurrency: 4)
        let client = TrytonClient(endpoint: Self.endpoint(server, timeout: .seconds(2)), http: http, logger: logger)
        let target = TrytonPartySinkTarget(client: client, logger: logger)

        // Tryton's own validation refuses a contact mechanism type it does not know: permanent, with its message.
        let refused = SinkMessage(
            id: "bad-1", key: "golden:0009",
            value: Array(
                #"{"code":"golden:0009","name":"Pigeon Fancier","email_mechanisms":[{"type":"pigeon","value":"coo"}]}"#
                    .utf8),
            headers: [], previousAttempts: 0)
        let refusedOutcome = await target.deliver(refused)
        guard case .permanent(let reason) = refusedOutcome else {
            Issue.record("expected a permanent outcome, got \(refusedOutcome)")
            return
        }
        #expect(reason.contains("UserError"))
        #expect(try await Self.parties(client, code: "golden:0009").isEmpty)

        // A document without the golden id is refused before any call.
        let noCode = SinkMessage(
            id: "bad-2", key: nil, value: Array(#"{"name":"X"}"#.utf8), headers: [], previousAttempts: 0)
        #expect(
            await target.deliver(noCode)
                == .permanent(reason: "message bad-2: ERPParty without 'code' (the golden customer id)"))

        // A hung ERP (the process frozen): the call times out, transient.
        let message = try Self.partyMessage(
            Self.customer("golden:0010", name: "Ann Lee", emails: ["ann@example.com"]), id: "a-1")
        server.pause()
        let hung = await target.deliver(message)
        server.resume()
        guard case .transient(let hungReason, _) = hung else {
            Issue.record("expected a transient outcome while Tryton hangs, got \(hung)")
            return
        }
        #expect(hungReason.contains("timeout"))

        // After the outage the same message is delivered once.
        #expect(await target.deliver(message) == .delivered)
        #expect(try await Self.parties(client, code: "golden:0010").count == 1)

        // Tryton stopped: connection refused, transient.
        server.stop()
        let stopped = await target.deliver(message)
        guard case .transient(let stoppedReason, _) = stopped else {
            Issue.record("expected a transient outcome with Tryton stopped, got \(stopped)")
            return
        }
        #expect(stoppedReason.contains("connect"))
    }

    @Test func wrongPasswordIsTransientAuthenticationFailure() async throws {
        let server = try await TrytonServer.start()
        defer { server.stop() }
        var endpoint = Self.endpoint(server)
        endpoint.password = "not-the-password"
        let target = TrytonPartySinkTarget(
            client: TrytonClient(endpoint: endpoint, http: HTTPClient(concurrency: 2), logger: logger), logger: logger)
        let message = try Self.partyMessage(
            Self.customer("golden:0020", name: "Eve Adams", emails: ["eve@example.com"]), id: "e-1")
        let outcome = await target.deliver(message)
        guard case .transient(let reason, _) = outcome else {
            Issue.record("expected a transient outcome for a refused login, got \(outcome)")
            return
        }
        #expect(reason.contains("login refused"))
    }

    @Test func anERPFrontAnswering503IsTransient() async throws {
        // A proxy in front of Tryton that answers 503 (maintenance, overload).
        let front = try RecordingHTTPServer()
        defer { front.stop() }
        try front.setMode("503")
        let endpoint = TrytonEndpoint(
            url: front.url, database: "crmhub", user: "admin", password: "pw", timeout: .seconds(5))
        let target = TrytonPartySinkTarget(
            client: TrytonClient(endpoint: endpoint, http: HTTPClient(concurrency: 2), logger: logger), logger: logger)
        let message = try Self.partyMessage(
            Self.customer("golden:0030", name: "Zoe Park", emails: ["zoe@example.com"]), id: "z-1")
        let outcome = await target.deliver(message)
        guard case .transient(let reason, _) = outcome else {
            Issue.record("expected a transient outcome for HTTP 503, got \(outcome)")
            return
        }
        #expect(reason.contains("HTTP 503"))
    }

    // MARK: Sale source

    /// Creates a sale for `party` with two widgets through JSON-RPC, quotes and confirms it; returns its id.
    static func confirmedSale(_ client: TrytonClient, party: Int) async throws -> Int {
        let products = try await client.searchRead(
            "product.product", domain: [["code", "=", "WID-1"]], fields: ["id", "sale_uom"])
        let product = try #require(products.first)
        let productID = try #require(product["id"])
        let unit = try #require(product["sale_uom"])
        let addresses = try await client.search("party.address", domain: [["party", "=", .number(String(party))]])
        let address = JSONValue.number(String(try #require(addresses.first)))
        let line: JSONValue = .object([
            ("type", "line"), ("product", productID), ("unit", unit), ("quantity", .number("2.0")),
            ("description", " Widget "),
            ("unit_price", .object([("__class__", "Decimal"), ("decimal", "49.9950")])),
        ])
        let sale: JSONValue = .object([
            ("party", .number(String(party))), ("invoice_address", address), ("shipment_address", address),
            ("lines", [["create", [line]]]),
        ])
        let ids = try await client.create("sale.sale", [sale])
        try await client.button("sale.sale", "quote", ids: ids)
        try await client.button("sale.sale", "confirm", ids: ids)
        // Tryton processes a confirmed sale (invoice, shipment) in a queued task after the commit, which changes its
        // state to processing and its write_date: wait for that, so the tests see the sale settled.
        let id = try #require(ids.first)
        let processed = try await eventually(timeout: .seconds(60), poll: .milliseconds(200)) {
            try await client.read("sale.sale", ids: [id], fields: ["state"]).first?["state"]?.stringValue
                == "processing"
        }
        if processed { return id }
        throw TestSetupError("sale \(id) was confirmed but Tryton did not process it within 60 s")
    }

    @Test func confirmedSaleBecomesOneOrderOnKafkaEvenAfterARestart() async throws {
        let server = try await TrytonServer.start()
        defer { server.stop() }
        let broker = try TansuBroker()
        defer { broker.stop() }
        let topic = "erp.tryton.sale"
        try await KafkaTestClient.createTopics(broker.bootstrap, [topic], partitions: 1)
        let http = HTTPClient(concurrency: 4)
        let client = TrytonClient(endpoint: Self.endpoint(server), http: http, logger: logger)

        // The customer reaches Tryton through the party sink, then sells.
        let target = TrytonPartySinkTarget(client: client, logger: logger)
        let party = try await target.upsert(
            try ERPParty.parse(
                try Self.partyMessage(
                    Self.customer("golden:0100", name: "Acme Buyer", emails: ["buyer@acme.example"]), id: "c-1"
                ).value
            ).get(),
            messageID: "c-1")
        guard case .created(let partyID) = party else {
            Issue.record("expected a new party, got \(party)")
            return
        }
        // A draft: not produced.
        let draft = try await client.create("sale.sale", [.object([("party", .number(String(partyID)))])])
        #expect(draft.count == 1)
        let saleID = try await Self.confirmedSale(client, party: partyID)

        let stateDirectory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "crmhub-tryton-state-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: stateDirectory) }
        let stateFile = stateDirectory.appendingPathComponent("sources.sqlite").path
        var settings = TrytonSource.Settings(
            name: "erp-sales", topic: topic, model: .sales(states: ["confirmed", "processing"]))
        settings.batchSize = 10

        // Kafka unreachable: the poll fails and the checkpoint does not move, so the sale is not lost.
        var unreachable = KafkaProducerConfiguration(bootstrapServers: ["127.0.0.1:\(try freePort())"])
        unreachable.deliveryTimeoutMilliseconds = 1_500
        let deadProducer = try KafkaProducer(configuration: unreachable, logger: logger)
        let blocked = TrytonSource(
            settings: settings, client: client, producer: deadProducer,
            store: try SourceCheckpointStore(path: stateFile), logger: logger)
        await #expect(throws: TrytonSourceError.self) { try await blocked.pollOnce() }
        #expect(try await SourceCheckpointStore(path: stateFile).checkpoint(source: "erp-sales") == nil)
        await deadProducer.shutdown(timeout: .seconds(1))

        let producer = try KafkaTestClient.producer(broker.bootstrap)
        let source = TrytonSource(
            settings: settings, client: client, producer: producer, store: try SourceCheckpointStore(path: stateFile),
            logger: logger)
        #expect(try await source.pollOnce() == 1)
        #expect(try await source.pollOnce() == 0)

        // A restarted source (new client, new store handle on the same file) finds nothing new.
        let restarted = TrytonSource(
            settings: settings, client: TrytonClient(endpoint: Self.endpoint(server), http: http, logger: logger),
            producer: producer,
            store: try SourceCheckpointStore(path: stateFile), logger: logger)
        #expect(try await restarted.pollOnce() == 0)

        let messages = try await KafkaTestClient.collect(broker.bootstrap, topic: topic, count: 2, timeout: .seconds(8))
        #expect(messages.count == 1)
        let message = try #require(messages.first)
        let crmID = try #require(message.headers.text(EnvelopeHeader.id))
        #expect(crmID.hasPrefix("tryton:sale:\(saleID):"))

        // The tryton-sale mapping makes a valid canonical Order of it.
        let result = try Self.mapping("tryton-sale").apply(message.value)
        guard case .output(let records) = result, let order = records.first?.value else {
            Issue.record(
                "tryton-sale did not produce an Order: \(result) from \(String(decoding: message.value, as: UTF8.self))"
            )
            return
        }
        #expect(order["customerRef"]?.stringValue == "erp:golden:0100")
        #expect(order["status"]?.stringValue == "confirmed")
        #expect(order["currency"]?.stringValue == "EUR")
        #expect(order["total"]?.scalarText == "99.99")
        #expect(order["lines"]?[0]?["sku"]?.stringValue == "WID-1")
        #expect(order["lines"]?[0]?["quantity"]?.scalarText == "2")
        #expect(order["lines"]?[0]?["description"]?.stringValue == "Widget")
        let number = try #require(order["id"]?.stringValue)
        #expect(!number.isEmpty)
        #expect(message.key.map { String(decoding: $0, as: UTF8.self) } == number)
    }
}

/// The daemon's pieces end to end: a SinkService feeding the party sink from Kafka, and the sale source polling as a
/// service, against real Tryton and Tansu.
@Suite(.timeLimit(.minutes(10)))
struct TrytonEndToEndTests {
    let logger = Logger(label: "test")

    @Test func customersFromKafkaReachTrytonOnceThroughAHangAndSalesComeBack() async throws {
        let server = try await TrytonServer.start()
        defer { server.stop() }
        let broker = try TansuBroker()
        defer { broker.stop() }
        let producer = try KafkaTestClient.producer(broker.bootstrap)
        let http = HTTPClient(concurrency: 4)
        let endpoint = TrytonConnectorTests.endpoint(server, timeout: .seconds(2))
        let client = TrytonClient(endpoint: endpoint, http: http, logger: logger)
        // The test's own reads, with a patient timeout (Tryton works off its backlog after the hang).
        let checker = TrytonClient(
            endpoint: TrytonConnectorTests.endpoint(server, timeout: .seconds(30)), http: http, logger: logger)

        let policy = RetryPolicy(
            inPlaceAttempts: 2, initialBackoff: .milliseconds(100), maxBackoff: .milliseconds(500),
            retryTopicDelays: [.seconds(1), .seconds(2), .seconds(20)])
        let delivery = SinkService.Configuration(name: "tryton-e2e", topic: "sink.erp.party", retry: policy)
        try await KafkaTestClient.createTopics(broker.bootstrap, delivery.topics + ["erp.tryton.sale"], partitions: 1)
        let sink = SinkService(
            configuration: delivery,
            consumer: KafkaTestClient.consumerConfiguration(broker.bootstrap, group: "hub.sink.tryton-e2e", topics: []),
            producer: producer, target: TrytonPartySinkTarget(client: client, logger: logger),
            store: try DeliveryStateStore(path: nil),
            state: HubState(), logger: logger)
        var saleSettings = TrytonSource.Settings(
            name: "tryton-sales", topic: "erp.tryton.sale", model: .sales(states: ["confirmed", "processing"]))
        saleSettings.pollInterval = .milliseconds(500)
        let source = TrytonSource(
            settings: saleSettings, client: client, producer: producer, store: try SourceCheckpointStore(path: nil),
            logger: logger)
        let group = ServiceGroup(services: [sink, source], logger: logger)
        let running = Task { try await group.run() }

        // Tryton hangs while the first customer arrives; the same customer is sent twice, plus one Tryton refuses.
        let mary = try TrytonConnectorTests.partyMessage(
            TrytonConnectorTests.customer("golden:0500", name: "Mary Major", emails: ["mary.major@example.com"]),
            id: "unused")
        server.pause()
        for index in 0..<2 {
            let headers = [KafkaHeader(key: EnvelopeHeader.id, text: "party-\(index)")]
            try await producer.send(
                ProducerMessage(
                    topic: delivery.topic, key: Array("golden:0500".utf8), value: mary.value, headers: headers))
        }
        let refused = Array(
            #"{"code":"golden:0501","name":"Pigeon","email_mechanisms":[{"type":"pigeon","value":"coo"}]}"#.utf8)
        try await producer.send(
            ProducerMessage(
                topic: delivery.topic, key: Array("golden:0501".utf8), value: refused,
                headers: [KafkaHeader(key: EnvelopeHeader.id, text: "bad")]))
        try await Task.sleep(for: .seconds(3))
        server.resume()

        let arrived = await eventually(timeout: .seconds(90), poll: .milliseconds(250)) {
            ((try? await TrytonConnectorTests.parties(checker, code: "golden:0500"))?.count ?? 0) >= 1
        }
        #expect(arrived, "the customer reached Tryton after the hang")
        let letters = try await KafkaTestClient.collect(
            broker.bootstrap, topic: delivery.deadLetterTopic, count: 1, timeout: .seconds(60))
        #expect(letters.count == 1)
        #expect(letters.first.map { DeadLetter($0).reason.contains("pigeon") } == true)
        try await Task.sleep(for: .seconds(2))
        let parties = try await TrytonConnectorTests.parties(checker, code: "golden:0500")
        #expect(parties.count == 1, "never duplicated")

        // A sale confirmed in Tryton comes back as one message while the source polls.
        let partyID = try #require(parties.first?["id"]?.scalarText.flatMap { Int($0) })
        let saleID = try await TrytonConnectorTests.confirmedSale(checker, party: partyID)
        // A poll may catch the sale between confirmation and processing (two versions: two messages with distinct ids,
        // same key); the last one is the processing sale.
        let sales = try await KafkaTestClient.collect(
            broker.bootstrap, topic: "erp.tryton.sale", count: 3, timeout: .seconds(15))
        #expect((1...2).contains(sales.count))
        let ids = sales.compactMap { $0.headers.text(EnvelopeHeader.id) }
        #expect(ids.count == sales.count && Set(ids).count == ids.count, "distinct ids: \(ids)")
        #expect(ids.allSatisfy { $0.hasPrefix("tryton:sale:\(saleID):") })
        #expect(Set(sales.compactMap { $0.key }).count == 1, "one key: the sale number")
        let last = try JSONValue.parse(try #require(sales.last).value)
        #expect(last["state"]?.stringValue == "processing")

        await group.triggerGracefulShutdown()
        try await running.value
        await producer.shutdown()
    }
}

/// Tryton's tagged JSON values and error replies (pure logic).
@Suite struct TrytonValueTests {
    @Test func taggedValuesBecomePlainJSON() throws {
        let tagged = try JSONValue.parse(
            Array(
                #"{"a":{"__class__":"Decimal","decimal":"119.00"},"d":{"__class__":"date","year":2026,"month":1,"day":5},"t":{"__class__":"datetime","year":2026,"month":11,"day":25,"hour":9,"minute":3,"second":7,"microsecond":42},"l":[{"__class__":"Decimal","decimal":"1"}]}"#
                    .utf8))
        let plain = TrytonValue.plain(tagged)
        #expect(plain["a"] == .string("119.00"))
        #expect(plain["d"] == .string("2026-01-05"))
        #expect(plain["t"] == .string("2026-11-25T09:03:07.000042"))
        #expect(plain["l"]?[0] == .string("1"))
        // The checkpoint text turns back into the tagged datetime for search domains.
        #expect(TrytonValue.datetime("2026-11-25T09:03:07.000042") == tagged["t"])
    }

    @Test func contactMechanismsAndAddressesCompareLikeTheSinkAddsThem() throws {
        #expect(
            ContactKey(type: "phone", value: "+44 7700 900-123") == ContactKey(type: "phone", value: "+447700900123"))
        #expect(
            ContactKey(type: "email", value: " Mary@Example.com")
                == ContactKey(type: "email", value: "mary@example.com"))
        #expect(ContactKey(type: "email", value: "a@example.com") != ContactKey(type: "phone", value: "a@example.com"))
        #expect(
            AddressKey(street: "1 High  Street\nFlat 2", city: "LONDON", postalCode: "ec1a 1bb")
                == AddressKey(street: "1 high street flat 2", city: "London", postalCode: "EC1A 1BB"))
    }

    @Test func rpcErrorsAreClassified() throws {
        let user = TrytonClient.rpcError(
            try JSONValue.parse(Array(#"["UserError",["The code on party must be unique.","",null]]"#.utf8)))
        let userError = TrytonError(user, method: "model.party.party.create", target: "t")
        #expect(!userError.isTransient)
        #expect(userError.description.contains("The code on party must be unique."))
        let concurrency = TrytonError(
            TrytonClient.rpcError(
                try JSONValue.parse(Array(#"["ConcurrencyException",["Records were modified in the meanwhile"]]"#.utf8))
            ),
            method: "m", target: "t")
        #expect(concurrency.isTransient)
        let crash = TrytonError(
            TrytonClient.rpcError(try JSONValue.parse(Array(#"["division by zero","Traceback..."]"#.utf8))),
            method: "m", target: "t")
        #expect(crash.isTransient)
        #expect(!crash.description.contains("Traceback"))
    }
}

/// The `tryton-party-sink`, `tryton-sale-source` and `tryton-party-source` connector kinds.
@Suite struct TrytonConnectorConfigurationTests {
    @Test func theShippedTrytonExamplesLoad() throws {
        let sinkPath = repositoryRoot.appendingPathComponent("Connectors/examples/tryton-party.yaml").path
        let sink = try ConnectorRegistry.standard.load(path: sinkPath)
        guard let settings = sink.settings(as: TrytonPartySinkConnector.Settings.self) else {
            Issue.record("not a tryton-party-sink")
            return
        }
        #expect(settings.connection.password == .environment("TRYTON_PASSWORD"))
        #expect(settings.connection.database == "tryton")
        #expect(settings.delivery.topic == "sink.erp.party")
        #expect(settings.delivery.deadLetterTopic == "dlq.tryton-party")
        #expect(settings.delivery.retryTopics.count == 3)
        let endpoint = try settings.connection.endpoint(environment: [
            "TRYTON_URL": "http://127.0.0.1:8000", "TRYTON_PASSWORD": "pw",
        ])
        #expect(endpoint.rpcURL == "http://127.0.0.1:8000/tryton/rpc/")

        let sourcePath = repositoryRoot.appendingPathComponent("Connectors/examples/tryton-sales.yaml").path
        let source = try ConnectorRegistry.standard.load(path: sourcePath)
        guard let sourceSettings = source.settings(as: TrytonSaleSourceConnector.Settings.self) else {
            Issue.record("not a tryton-sale-source")
            return
        }
        #expect(sourceSettings.source.topic == "erp.tryton.sale")
        #expect(sourceSettings.source.model.model == "sale.sale")
        #expect(sourceSettings.source.model.filter == [["state", "in", ["confirmed", "processing"]]])
        #expect(sourceSettings.source.pollInterval == .seconds(30))
        #expect(sourceSettings.connection.company == 1)

        let partiesPath = repositoryRoot.appendingPathComponent("Connectors/examples/tryton-parties.yaml").path
        let parties = try ConnectorRegistry.standard.load(path: partiesPath)
        #expect(parties.kind == "tryton-party-source")
        #expect(parties.settings(as: TrytonPartySourceConnector.Settings.self)?.source.model.model == "party.party")
    }

    @Test func anInlineTrytonPasswordIsRefusedWithItsLine() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "crmhub-tryton-config-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("tryton.yaml").path
        try
            "name: t\nkind: tryton-party-sink\ntopic: t\nurl: http://127.0.0.1:8000\ndatabase: d\nuser: u\npassword: hunter2\n"
            .write(toFile: path, atomically: true, encoding: .utf8)
        let error = #expect(throws: YAMLError.self) { try ConnectorRegistry.standard.load(path: path) }
        #expect(error?.location.line == 7)
        #expect(error?.message.contains("never inline") == true)
    }
}
