import CRMKafka
import CRMMail
import CRMMasterData
import CRMModel
import CRMTestSupport
import CRMTransport
import CRMTryton
import CRMViews
import Foundation
import Logging
import Testing

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// One customer across every system the hub connects, on real peers, through one `crmhub run` daemon (issue 15,
/// "a journey test on real peers"):
///
/// 1. she posts the website's contact form from headless chromium → a canonical Customer → resolved (`resolve: true`)
///    to one golden customer;
/// 2. → one Tryton party (real trytond, `customer-to-erp-party` + `tryton-party-sink`, code = golden id), which the
///    party source reads back (`tryton-party`, origin erp) so the master data knows `tryton/<party id>`;
/// 3. a sale confirmed in Tryton (`tryton-sale-source` + `tryton-sale`) → an Order with the same golden id;
/// 4. she e-mails support (Postfix + Dovecot, `imap-source` + `inbound-email`) → a Ticket with the same golden id;
/// 5. she calls (Kamailio's http_client posting to the CTI input, SIPp as phone and agent) → a screen-pop with her
///    name and the open ticket, and an Interaction on her golden id;
/// 6. `GET /customers/{id}/timeline` lists the form, the order, the e-mail and the call, in that order;
/// 7. a marketing sink (`http-sink`, `purpose: marketing`) suppresses an offer while she has not consented
///    (`crmhub_sink_suppressed_total{sink,reason="consent"}`), and after she ticks the subscribe box in a second form
///    delivers the next one, once;
/// 8. `DELETE /mdm/customers/{id}`: the timeline is gone and `crm.customer` (listed in
///    `store.erasure.tombstone_topics`) carries null-valued records for every key her customer messages had there
///    (the resolving route keys them by golden id) and for her source records.
///
/// Nothing in the daemon's log names her e-mail address. Every server runs on 127.0.0.1 on a free port and is stopped
/// by its PID; every wait is bounded.
@Suite(.timeLimit(.minutes(10)))
struct CustomerJourneyTests {
    static let email = "margaret.hamilton@apollo-guidance.co.uk"
    static let phone = "07700 900461"
    static let token = "journey-admin-token"
    static let ctiToken = "journey-cti-token"
    let logger = Logger(label: "journey")

    @Test func oneCustomerFromTheWebFormThroughERPMailAndPhoneToConsentTimelineAndErasure() async throws {
        let chromium = ["/usr/bin/chromium", "/usr/bin/chromium-browser"].first {
            FileManager.default.isExecutableFile(atPath: $0)
        }
        let browser = try #require(chromium, "chromium is installed by deploy/lib/env.sh")
        let tryton = try await TrytonServer.start()
        defer { tryton.stop() }
        let mail = try await offPool { try MailServer(users: ["support"]) }
        let broker = try TansuBroker()
        // Mail first, broker last: the broker's exit is only noticed once no mail daemon holds inherited descriptors.
        defer {
            mail.stop()
            broker.stop()
        }
        let target = try RecordingHTTPServer()
        defer { target.stop() }
        let ingressPort = try freePort()
        let adminPort = try freePort()
        let kamailio = try await offPool {
            try KamailioServer(defines: [
                "HUB_EVENTS_URL": "\"http://127.0.0.1:\(ingressPort)/cti/kamailio\"",
                "HUB_EVENTS_TIMEOUT": "12", "HUB_EVENTS_TOKEN": "\"\(Self.ctiToken)\"",
            ])
        }
        defer { kamailio.stop() }

        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("crmhub-journey-\(UUID())")
        defer { try? FileManager.default.removeItem(at: folder) }
        let database = folder.appendingPathComponent("md.sqlite").path
        let config = try Self.writeHub(
            in: folder, broker: broker, tryton: tryton, mail: mail, target: target, adminPort: adminPort,
            ingressPort: ingressPort, database: database)
        let errors = folder.appendingPathComponent("crmhub.stderr").path
        let daemon = try ChildProcess.crmhub(["run", "--config", config], errorPath: errors)
        defer { daemon.kill9() }
        let admin = "http://127.0.0.1:\(adminPort)"
        let ready = await eventually(timeout: .seconds(90), poll: .milliseconds(250)) {
            await Self.get("\(admin)/readyz") != nil || !daemon.isRunning
        }
        try #require(ready && daemon.isRunning, "the daemon is ready: \(daemon.errorOutput.suffix(3000))")
        let erp = TrytonClient(
            endpoint: TrytonConnectorTests.endpoint(tryton), http: HTTPClient(concurrency: 2), logger: logger)

        // 1. The contact form, posted by a real browser, becomes one golden customer.
        let pages = folder.appendingPathComponent("pages")
        try FileManager.default.createDirectory(at: pages, withIntermediateDirectories: true)
        try await Self.post(
            browser, form: "contact", ingressPort: ingressPort, in: pages,
            fields: """
                <input name="first_name" value="Margaret"><input name="last_name" value="Hamilton">
                <input name="email" value="Margaret.Hamilton@Apollo-Guidance.co.uk">
                <input name="phone" value="\(Self.phone)">
                <textarea name="message">Do you ship guidance computers to Houston?</textarea>
                <input name="website" value="">
                """)
        var golden: [String: Any]?
        let resolved = await eventually(timeout: .seconds(90), poll: .milliseconds(300)) {
            let found = await Self.goldens(admin)
            golden = found.count == 1 ? found[0] : nil
            return golden != nil
        }
        try #require(resolved, "the form became one golden customer: \(daemon.errorOutput.suffix(3000))")
        let goldenId = try #require(golden?["id"] as? String)
        let forms = try await KafkaTestClient.collect(
            broker.bootstrap, topic: "raw.webform", count: 1, timeout: .seconds(30))
        let agent = (try? JSONValue.parse(try #require(forms.first).value))?["_form"]?["user_agent"]?.stringValue
        #expect(agent?.contains("HeadlessChrome") == true, "a real browser posted the form: \(agent ?? "-")")

        // 2. One Tryton party for her, coded with the golden id; the party source reads it back, and identity
        // resolution joins it to the same golden customer (the master data now knows tryton/<party id>).
        var party: JSONValue?
        let created = await eventually(timeout: .seconds(90), poll: .milliseconds(500)) {
            party = try? await Self.parties(erp, email: Self.email).first
            return party != nil
        }
        try #require(created, "the customer reached Tryton: \(tryton.logTail())")
        #expect(party?["code"]?.stringValue == goldenId, "the party's code is the golden id")
        let partyId = try #require(party?["id"]?.scalarText.flatMap { Int($0) })
        let linked = await eventually(timeout: .seconds(90), poll: .milliseconds(500)) {
            let members = (await Self.goldens(admin).first?["members"] as? [[String: Any]]) ?? []
            return members.contains {
                $0["system"] as? String == "tryton" && $0["externalId"] as? String == "\(partyId)"
            }
        }
        #expect(linked, "the party read back from Tryton joined the golden customer")

        // 3. A sale confirmed in Tryton becomes an Order with her golden id.
        let saleId = try await Self.confirmedSale(erp, party: partyId)
        let saleNumber = try #require(
            try await erp.read("sale.sale", ids: [saleId], fields: ["number"]).first?["number"]?.stringValue)
        let orders = try await KafkaTestClient.collectJSON(
            broker.bootstrap, topic: "crm.order", count: 1, timeout: .seconds(90))
        let order = try #require(orders.first { $0.value["id"]?.stringValue == saleNumber }?.value)
        #expect(order["goldenId"]?.stringValue == goldenId, "the order carries the golden id: \(order)")

        // 4. She e-mails support: a Ticket with her golden id.
        let smtp = SMTPClient(settings: MailServerSettings(url: mail.smtpURL, security: .none, timeout: .seconds(15)))
        let sent = await smtp.send(
            MailMessage(
                from: MailAddress(Self.email, name: "Margaret Hamilton"),
                to: [MailAddress(MailServer.address("support"))], subject: "Guidance computer arrived without manual",
                text: "The AGC arrived today, but the manual is missing.", messageID: "agc-1@apollo-guidance.co.uk"))
        #expect(sent.delivered.count == 1, "postfix accepted the mail: \(sent)")
        var ticket: JSONValue?
        let ticketed = await eventually(timeout: .seconds(90), poll: .milliseconds(500)) {
            let tickets =
                (try? await KafkaTestClient.collectJSON(
                    broker.bootstrap, topic: "crm.ticket", count: 2, timeout: .seconds(3))) ?? []
            ticket = tickets.first { $0.value["channel"] == "email" }?.value
            return ticket != nil
        }
        #expect(ticketed, "the e-mail became a ticket: \(daemon.errorOutput.suffix(2000))")
        #expect(ticket?["id"]?.stringValue == "email-agc-1@apollo-guidance.co.uk")
        #expect(ticket?["goldenId"]?.stringValue == goldenId, "the ticket carries the golden id")

        // 5. She calls: the agent's screen-pop shows her name and the open ticket; the call is an Interaction on her
        // golden id. (She calls once the CTI connector's ticket view has the ticket, read from its state file.)
        let view = try TicketViewStore(
            path: folder.appendingPathComponent("state/cti/pbx-tickets.sqlite").path)
        let viewed = await eventually(timeout: .seconds(60), poll: .milliseconds(200)) {
            let open = (try? await view.openTickets(references: ["email:\(Self.email)"])) ?? []
            return open.contains { $0["id"]?.stringValue == "email-agc-1@apollo-guidance.co.uk" }
        }
        #expect(viewed, "the CTI ticket view has the open ticket")
        try await CTIPeerTests.placeCalls(1, through: kamailio, caller: "07700900461", agent: "2001")
        let pops = try await KafkaTestClient.collectJSON(
            broker.bootstrap, topic: "cti.screenpop", count: 1, timeout: .seconds(60))
        let pop = try #require(pops.first { $0.key == "2001" }?.value, "a screen-pop for the agent")
        #expect(pop["customer"]?["displayName"]?.stringValue == "Margaret Hamilton")
        #expect(pop["customer"]?["ref"]?.stringValue == goldenId)
        let openTickets = pop["openTickets"]?.arrayItems ?? []
        #expect(
            openTickets.contains { $0["id"]?.stringValue == "email-agc-1@apollo-guidance.co.uk" },
            "the open ticket is on the screen-pop: \(openTickets.compactMap { $0["id"]?.stringValue })")
        let calls = try await KafkaTestClient.collectJSON(
            broker.bootstrap, topic: "crm.interaction", count: 1, timeout: .seconds(60))
        #expect(calls.first?.value["customerRef"]?.stringValue == goldenId)
        #expect(calls.first?.value["outcome"] == "answered")

        // 6. The timeline: form, order, e-mail, call (newest first on the wire).
        var kinds: [String] = []
        let listed = await eventually(timeout: .seconds(60), poll: .milliseconds(500)) {
            kinds = await Self.timeline(admin, goldenId)?.compactMap { $0["kind"] as? String } ?? []
            return kinds.count >= 4
        }
        #expect(listed, "four contacts on the timeline: \(kinds)")
        #expect(kinds == ["call", "email", "order", "form"], "newest first: \(kinds)")

        // 7. Marketing: without consent the offer is suppressed (and counted); after she ticks the subscribe box in
        // a second form, the next offer is delivered, once.
        let producer = try KafkaTestClient.producer(broker.bootstrap)
        func offer(_ n: Int) async throws {
            try await producer.send(
                ProducerMessage(
                    topic: "sink.offers", key: Array(goldenId.utf8),
                    value: Array(#"{"goldenId":"\#(goldenId)","subject":"Offer \#(n)"}"#.utf8)))
        }
        let suppressedLabels = ["sink=\"offers\"", "reason=\"consent\""]
        try await offer(1)
        #expect(
            await eventually(timeout: .seconds(60), poll: .milliseconds(300)) {
                await Self.metric(admin, "crmhub_sink_suppressed_total", suppressedLabels) == 1
            }, "the offer without consent is suppressed")
        #expect(target.records().isEmpty)
        try await Self.post(
            browser, form: "subscribe", ingressPort: ingressPort, in: pages,
            fields: """
                <input name="first_name" value="Margaret"><input name="last_name" value="Hamilton">
                <input name="email" value="margaret.hamilton@apollo-guidance.co.uk">
                <input type="checkbox" name="marketing_opt_in" value="yes" checked>
                """)
        let consented = await eventually(timeout: .seconds(60), poll: .milliseconds(300)) {
            await Self.metric(
                admin, "crmhub_history_messages_total", ["topic=\"crm.consent\"", "outcome=\"recorded\""])
                >= 1
        }
        #expect(consented, "the subscribe box became a consent statement")
        try await offer(2)
        #expect(await eventually(timeout: .seconds(60), poll: .milliseconds(300)) { target.records().count >= 1 })
        try await Task.sleep(for: .seconds(2))  // room for a wrong second delivery
        #expect(target.records().count == 1, "delivered once")
        #expect((target.records().first?["body"] as? String)?.contains("Offer 2") == true)
        #expect(await Self.metric(admin, "crmhub_sink_suppressed_total", suppressedLabels) == 1)

        // Exactly one party in Tryton for her, after both forms and the read-back.
        #expect(try await Self.parties(erp, email: Self.email).count == 1, "one Tryton party")

        // She uploads a purchase order through the form; the ingress keeps the file under the state directory.
        let upload = folder.appendingPathComponent("purchase-order.txt")
        try "PO 4711, 2 guidance computers".write(to: upload, atomically: true, encoding: .utf8)
        let uploaded = try await offPool {
            try ChildProcess.run(
                "/usr/bin/curl",
                [
                    "-s", "-F", "email=\(Self.email)", "-F", "first_name=Margaret", "-F", "last_name=Hamilton",
                    "-F", "submission_id=po-4711", "-F", "message=Purchase order attached",
                    "-F", "po=@\(upload.path);type=text/plain", "http://127.0.0.1:\(ingressPort)/forms/contact",
                ], errorPath: "/dev/null", timeout: 60
            ).output
        }
        #expect(uploaded.contains("accepted"), "the upload was accepted: \(uploaded)")
        let uploadFolder = folder.appendingPathComponent("state/attachments/contact-form/po-4711")
        #expect(FileManager.default.fileExists(atPath: uploadFolder.path), "the attachment is stored")
        let onTimeline = await eventually(timeout: .seconds(60), poll: .milliseconds(500)) {
            (await Self.timeline(admin, goldenId) ?? []).contains { $0["ref"] as? String == "web-po-4711" }
        }
        #expect(onTimeline, "the upload is on her timeline as web-po-4711")

        // 8. Erasure: the admin API erases her; the timeline is gone and crm.customer has tombstones for her keys;
        // the attachments of her form posts are deleted.
        var request = URLRequest(url: URL(string: "\(admin)/mdm/customers/\(goldenId)?actor=journey-test")!)
        request.httpMethod = "DELETE"
        request.setValue("Bearer \(Self.token)", forHTTPHeaderField: "Authorization")
        let (_, response) = try await URLSession.shared.data(for: request)
        #expect((response as? HTTPURLResponse)?.statusCode == 200)
        #expect(await Self.timeline(admin, goldenId) == nil, "the timeline endpoint no longer knows her")
        #expect(
            await eventually(timeout: .seconds(10), poll: .milliseconds(200)) {
                !FileManager.default.fileExists(atPath: uploadFolder.path)
            }, "her uploaded purchase order is deleted")
        // Every key her customer messages had on crm.customer is tombstoned after them, so compaction removes them.
        var keys: Set<String> = []
        var tombstones: Set<String> = []
        let cleaned = await eventually(timeout: .seconds(30), poll: .milliseconds(500)) {
            let messages = (try? await KafkaTestClient.readAll(broker.bootstrap, topic: "crm.customer")) ?? []
            keys = Set(
                messages.filter { $0.headers.text("crm-golden-id") == goldenId }.compactMap(\.keyText))
            tombstones = Set(messages.filter(\.isTombstone).compactMap(\.keyText))
            return !keys.isEmpty && keys.isSubset(of: tombstones) && tombstones.contains("tryton:\(partyId)")
        }
        #expect(
            cleaned,
            "tombstones for every key of her customer messages and her Tryton record: \(keys.subtracting(tombstones).count) missing"
        )

        daemon.signal(SIGTERM)
        #expect(await daemon.waitForExit(timeout: .seconds(30)))
        await producer.shutdown()
        let store = try await MasterDataResolver(store: try SQLiteMasterDataStore(path: database))
        #expect(try await store.timeline(goldenId: goldenId, limit: 50).entries.isEmpty, "no timeline entries left")
        #expect(try await store.consents(goldenId: goldenId).isEmpty, "no consent statements left")
        let log = (try? String(contentsOfFile: errors, encoding: .utf8)) ?? ""
        #expect(!log.lowercased().contains(Self.email), "no e-mail address in the daemon's log")
    }

    // MARK: The hub

    /// Writes the connector files and `crmhub.yaml` into `folder`; returns the configuration's path.
    static func writeHub(
        in folder: URL, broker: TansuBroker, tryton: TrytonServer, mail: MailServer, target: RecordingHTTPServer,
        adminPort: Int, ingressPort: Int, database: String
    ) throws -> String {
        let connectors = folder.appendingPathComponent("connectors")
        try FileManager.default.createDirectory(at: connectors, withIntermediateDirectories: true)
        func secret(_ name: String, _ value: String) throws -> String {
            let file = folder.appendingPathComponent(name)
            try value.write(to: file, atomically: true, encoding: .utf8)
            return "${file:\(file.path)}"
        }
        let trytonConnection = """
            url: \(tryton.url)
            allow_plaintext_credentials: true
            database: \(TrytonServer.database)
            user: \(TrytonServer.user)
            password: \(try secret("tryton-password", TrytonServer.password))
            """
        let files: [String: String] = [
            "contact-form": """
            name: contact-form
            kind: webform
            path: /forms/contact
            topic: raw.webform
            key_field: email
            id_field: submission_id
            required: [email]
            honeypot_field: website
            """,
            "erp-party": """
            name: erp-party
            kind: tryton-party-sink
            topic: sink.erp.party
            \(trytonConnection)
            retry: {in_place_attempts: 3, initial_backoff_ms: 200, max_backoff_ms: 1000, topics: []}
            """,
            "erp-parties": """
            name: erp-parties
            kind: tryton-party-source
            topic: erp.tryton.party
            \(trytonConnection)
            poll_interval_ms: 300
            """,
            "erp-sales": """
            name: erp-sales
            kind: tryton-sale-source
            topic: erp.tryton.sale
            \(trytonConnection)
            states: [confirmed, processing]
            poll_interval_ms: 300
            """,
            "support-inbox": """
            name: support-inbox
            kind: imap-source
            url: \(mail.imapURL)
            security: none
            allow_plaintext_credentials: true
            username: \(MailServer.address("support"))
            password: \(try secret("imap-password", MailServer.password))
            topic: crm.ticket
            mapping: inbound-email
            poll_interval_ms: 1000
            """,
            "pbx": """
            name: pbx
            kind: cti-kamailio
            http_path: /cti/kamailio
            auth:
              scheme: bearer
              secret: \(try secret("cti-token", ctiToken))
            interaction_topic: crm.interaction
            screen_pop_topic: cti.screenpop
            tickets_topic: crm.ticket
            """,
            "offers": """
            name: offers
            kind: http-sink
            topic: sink.offers
            url: \(target.url)/offers
            purpose: marketing
            consent_channel: email
            """,
        ]
        for (name, text) in files {
            try text.write(to: connectors.appendingPathComponent("\(name).yaml"), atomically: true, encoding: .utf8)
        }
        let path = folder.appendingPathComponent("crmhub.yaml").path
        try """
        kafka:
          brokers: ["\(broker.bootstrap)"]
          session_timeout_ms: 2000
          heartbeat_interval_ms: 500
          connect_timeout_seconds: 3
          topic_partitions: 1
        store:
          path: \(database)
          history_topics: {crm.interaction: interaction, crm.order: order, crm.ticket: ticket, crm.consent: consent}
          erasure: {tombstone_topics: [crm.customer]}
        mappings: \(repositoryRoot.appendingPathComponent("Mappings").path)
        connectors: \(connectors.path)
        state_dir: \(folder.appendingPathComponent("state").path)
        http:
          host: 127.0.0.1
          port: \(adminPort)
          token: \(try secret("admin-token", token))
        ingress:
          host: 127.0.0.1
          port: \(ingressPort)
        log:
          format: json
        routes:
          - {name: forms, from: raw.webform, mapping: web-form, to: {customer: raw.customer, ticket: crm.ticket, consent: crm.consent}}
          - {name: erp-parties, from: erp.tryton.party, mapping: tryton-party, to: raw.customer}
          - {name: customers, from: raw.customer, to: crm.customer, resolve: true}
          - {name: customer-to-erp, from: crm.customer, mapping: customer-to-erp-party, to: sink.erp.party}
          - {name: sales, from: erp.tryton.sale, mapping: tryton-sale, to: crm.order}
        """.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    // MARK: Peers

    /// Loads a page in headless chromium whose form (`fields`) submits itself to the contact form.
    static func post(_ browser: String, form name: String, ingressPort: Int, in pages: URL, fields: String) async throws
    {
        let page = pages.appendingPathComponent("\(name).html")
        try """
        <!doctype html><html><body onload="document.forms[0].submit()">
        <form method="post" enctype="application/x-www-form-urlencoded" action="http://127.0.0.1:\(ingressPort)/forms/contact">
        \(fields)
        </form></body></html>
        """.write(to: page, atomically: true, encoding: .utf8)
        let profile = pages.appendingPathComponent("profile-\(name)")
        _ = try await offPool {
            try ChildProcess.run(
                browser,
                [
                    "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--user-data-dir=\(profile.path)", "--virtual-time-budget=10000", "--dump-dom",
                    page.absoluteString,
                ], errorPath: pages.appendingPathComponent("chromium-\(name).log").path, timeout: 120)
        }
    }

    /// Parties with a contact mechanism of this e-mail address (`id`, `code`, `name`).
    static func parties(_ client: TrytonClient, email: String) async throws -> [JSONValue] {
        let mechanisms = try await client.searchRead(
            "party.contact_mechanism", domain: [["type", "=", "email"], ["value", "=", .string(email)]],
            fields: ["party"])
        let ids = Set(mechanisms.compactMap { $0["party"]?.scalarText.flatMap { Int($0) } })
        return try await client.read("party.party", ids: ids.sorted(), fields: ["id", "code", "name"])
    }

    /// A sales clerk's sale of two widgets to `party` (an address is added first when the party has none), quoted
    /// and confirmed; returns its id once Tryton processed it.
    static func confirmedSale(_ client: TrytonClient, party: Int) async throws -> Int {
        let partyValue = JSONValue.number(String(party))
        if try await client.search("party.address", domain: [["party", "=", partyValue]]).isEmpty {
            _ = try await client.create(
                "party.address", [.object([("party", partyValue), ("street", "1 Guidance Way"), ("city", "London")])])
        }
        return try await TrytonConnectorTests.confirmedSale(client, party: party)
    }

    // MARK: Admin API

    static func get(_ url: String) async -> Data? {
        var request = URLRequest(url: URL(string: url)!)
        request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization")
        guard let (data, response) = try? await URLSession.shared.data(for: request),
            (response as? HTTPURLResponse)?.statusCode == 200
        else { return nil }
        return data
    }

    /// The golden records with her e-mail address.
    static func goldens(_ admin: String) async -> [[String: Any]] {
        guard let data = await get("\(admin)/mdm/customers?email=\(email.replacingOccurrences(of: "@", with: "%40"))")
        else { return [] }
        return (try? JSONSerialization.jsonObject(with: data) as? [[String: Any]]) ?? []
    }

    /// The first page of a golden customer's timeline, newest first; nil when the admin API does not know them.
    static func timeline(_ admin: String, _ goldenId: String) async -> [[String: Any]]? {
        guard let data = await get("\(admin)/customers/\(goldenId)/timeline?limit=50"),
            let page = try? JSONSerialization.jsonObject(with: data) as? [String: Any]
        else { return nil }
        return page["entries"] as? [[String: Any]]
    }

    /// The value of the metric line `name{…}` that carries every label in `labels` (0 when there is none).
    static func metric(_ admin: String, _ name: String, _ labels: [String]) async -> Int {
        guard let data = await get("\(admin)/metrics") else { return -1 }
        for line in String(decoding: data, as: UTF8.self).split(separator: "\n") where line.hasPrefix("\(name){") {
            if labels.allSatisfy({ line.contains($0) }),
                let value = line.split(separator: " ").last.flatMap({ Int($0) })
            {
                return value
            }
        }
        return 0
    }
}
