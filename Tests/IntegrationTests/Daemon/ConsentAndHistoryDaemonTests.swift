import CRMKafka
import CRMMasterData
import CRMTestSupport
import Foundation
import Testing

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// Consent and contact history as an operator runs them: a `crmhub run` daemon with an HTTP sink that declares
/// `purpose: marketing` and `store.history_topics`, fed consent statements and tickets over Kafka.
@Suite(.timeLimit(.minutes(3)))
struct ConsentAndHistoryDaemonTests {
    static let email = "ada.byron@analytical.engine.uk"

    /// The admin token (`http.token`, from the environment variable the test sets for the child).
    static let token = "consent-test-token"

    func get(_ url: String) async -> String? {
        var request = URLRequest(url: URL(string: url)!)
        request.setValue("Bearer \(Self.token)", forHTTPHeaderField: "Authorization")
        guard let (data, response) = try? await URLSession.shared.data(for: request),
            (response as? HTTPURLResponse)?.statusCode == 200
        else { return nil }
        return String(decoding: data, as: UTF8.self)
    }

    /// The value of a metric line that starts with `name{` and carries every label in `labels`.
    func metric(_ port: Int, _ name: String, _ labels: [String]) async -> Int {
        guard let text = await get("http://127.0.0.1:\(port)/metrics") else { return -1 }
        for line in text.split(separator: "\n") where line.hasPrefix("\(name){") {
            if labels.allSatisfy({ line.contains($0) }),
                let value = line.split(separator: " ").last.flatMap({ Int($0) })
            {
                return value
            }
        }
        return 0
    }

    @Test func aPurposeSinkFollowsStreamedConsentAndTheTimelineIsServedByTheAdminAPI() async throws {
        let broker = try TansuBroker()
        let target = try RecordingHTTPServer()
        let port = try freePort()
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("crmhub-consent-\(UUID())")
        let connectors = folder.appendingPathComponent("Connectors")
        try FileManager.default.createDirectory(at: connectors, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let tokenFile = folder.appendingPathComponent("admin-token")
        try Self.token.write(to: tokenFile, atomically: true, encoding: .utf8)
        let db = folder.appendingPathComponent("mdm.sqlite").path
        let ada = try await MasterDataResolver(store: try SQLiteMasterDataStore(path: db)).resolve(
            CustomerRecord(system: "shop", externalId: "1", givenName: "Ada", familyName: "Byron", email: Self.email))

        try """
        name: offers
        kind: http-sink
        topic: sink.offers
        url: \(target.url)/offers
        purpose: marketing
        consent_channel: email
        """.write(toFile: connectors.appendingPathComponent("offers.yaml").path, atomically: true, encoding: .utf8)
        let config = folder.appendingPathComponent("crmhub.yaml").path
        try """
        kafka:
          brokers: ["\(broker.bootstrap)"]
          session_timeout_ms: 2000
          heartbeat_interval_ms: 500
          connect_timeout_seconds: 3
          topic_partitions: 1
        store:
          path: \(db)
          history_topics: {crm.consent: consent, crm.ticket: ticket}
        connectors: \(connectors.path)
        state_dir: \(folder.appendingPathComponent("state").path)
        http:
          port: \(port)
          token: ${file:\(tokenFile.path)}
        log:
          format: json
        routes:
          - {name: forms, from: raw.forms, to: crm.forms}
        """.write(toFile: config, atomically: true, encoding: .utf8)
        let errors = folder.appendingPathComponent("crmhub.stderr").path
        let process = try ChildProcess.crmhub(["run", "--config", config], errorPath: errors)
        defer { process.kill9() }
        let up = await eventually(timeout: .seconds(30), poll: .milliseconds(100)) {
            await get("http://127.0.0.1:\(port)/healthz") != nil
        }
        try #require(up, "the daemon answers /healthz")

        let producer = try KafkaTestClient.producer(broker.bootstrap)
        func offer(_ n: Int) async throws {
            try await producer.send(
                ProducerMessage(
                    topic: "sink.offers", key: Array(Self.email.utf8),
                    value: Array(#"{"email":"\#(Self.email)","subject":"Offer \#(n)"}"#.utf8)))
        }
        func consent(_ status: String, at: String) async throws {
            try await producer.send(
                ProducerMessage(
                    topic: "crm.consent", key: nil,
                    value: Array(
                        #"{"email":"\#(Self.email)","purpose":"marketing","channel":"email","status":"\#(status)","at":"\#(at)","source":"web"}"#
                            .utf8)))
        }
        let suppressed = ["sink=\"offers\"", "reason=\"consent\""]
        let consents = ["topic=\"crm.consent\"", "outcome=\"recorded\""]

        try await offer(1)
        #expect(
            await eventually(timeout: .seconds(60)) {
                await metric(port, "crmhub_sink_suppressed_total", suppressed) == 1
            })
        try await consent("granted", at: "2026-01-01T10:00:00Z")
        #expect(
            await eventually(timeout: .seconds(60)) {
                await metric(port, "crmhub_history_messages_total", consents) == 1
            })
        try await offer(2)
        #expect(await eventually(timeout: .seconds(60)) { target.records().count == 1 })
        try await consent("revoked", at: "2026-01-02T10:00:00Z")
        #expect(
            await eventually(timeout: .seconds(60)) {
                await metric(port, "crmhub_history_messages_total", consents) == 2
            })
        try await offer(3)
        #expect(
            await eventually(timeout: .seconds(60)) {
                await metric(port, "crmhub_sink_suppressed_total", suppressed) == 2
            })
        #expect(target.records().count == 1, "only the offer sent while consent was granted arrived")
        #expect((target.records().first?["body"] as? String)?.contains("Offer 2") == true)

        try await producer.send(
            ProducerMessage(
                topic: "crm.ticket", key: nil,
                value: Array(
                    #"{"id":"email-1","subject":"Delivery date?","channel":"email","customerRef":"email:\#(Self.email)"}"#
                        .utf8)))
        let timeline = await eventually(timeout: .seconds(60)) {
            await get("http://127.0.0.1:\(port)/customers/\(ada.goldenId)/timeline?limit=10")?.contains("email-1")
                == true
        }
        #expect(timeline, "the ticket is on the customer's timeline")

        process.signal(SIGTERM)
        #expect(await process.waitForExit(timeout: .seconds(30)))
        await producer.shutdown()
        let log = (try? String(contentsOfFile: errors, encoding: .utf8)) ?? ""
        #expect(log.contains("no consent for the sink's purpose"))
        #expect(!log.contains(Self.email), "no e-mail address in the daemon's log")
    }
}
