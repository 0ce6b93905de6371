import CRMIngress
import CRMKafka
import CRMTestSupport
import CRMTransport
import Foundation
import Logging
import ServiceLifecycle
import Testing

@testable import CRMTelephony

/// Kamailio's http_client input: Kamailio (driven by SIPp) POSTs each call event to the hub's ingress server, which
/// answers only once the broker acknowledged what the event produced.
@Suite("CTI events posted by Kamailio's http_client", .serialized)
struct CTIHTTPIngressTests {
    static let path = "/cti/kamailio"

    /// A CTI connector behind an in-process ingress server on a free port.
    struct Hub {
        let connector: CTIConnector
        let port: Int
        let group: ServiceGroup
        let running: Task<Void, any Error>

        /// `answerWithin`: the endpoint's deadline for the broker's acknowledgement. The tests give a loaded CI
        /// machine (every suite in parallel on two cores) room; the shipped 2 s is measured by the benchmark.
        init(bootstrap: String, name: String, answerWithin: Duration = .seconds(10)) async throws {
            let processor = CallEventProcessor(
                configuration: .init(name: name, interactionTopic: CTIPeerTests.interactions, screenPopTopic: CTIPeerTests.screenPops),
                producer: try CTIKafkaSupport.producer(bootstrap), lookup: try CTIKafkaSupport.customers(), logger: CTIKafkaSupport.logger)
            let connector = CTIConnector(source: .kamailioHTTP(path: CTIHTTPIngressTests.path), processor: processor, logger: CTIKafkaSupport.logger)
            var endpoint = EventIngress.Endpoint.callEvents(name: name, path: CTIHTTPIngressTests.path, connector: connector)
            endpoint.ackTimeout = answerWithin
            let port = try freePort()
            let app = IngressServer.makeApplication(
                host: "127.0.0.1", port: port, forms: [], events: [endpoint], producer: try CTIKafkaSupport.producer(bootstrap),
                attachmentsDirectory: FileManager.default.temporaryDirectory.path, logger: CTIKafkaSupport.logger)
            let group = ServiceGroup(services: [app, connector], logger: CTIKafkaSupport.logger)
            running = Task { try await group.run() }
            self.group = group
            self.port = port
            self.connector = connector
            while !canConnect(port: port) { try await Task.sleep(for: .milliseconds(50)) }
        }

        var url: String { "http://127.0.0.1:\(port)\(CTIHTTPIngressTests.path)" }

        func stop() async {
            await group.triggerGracefulShutdown()
            _ = try? await running.value
        }
    }

    @Test("calls through Kamailio posting with http_client become Interactions and screen-pops; the busy call fails with 486")
    func kamailioPostsEvents() async throws {
        let broker = try TansuBroker()
        defer { broker.stop() }
        try await CTIKafkaSupport.createTopics(broker.bootstrap, [CTIPeerTests.interactions, CTIPeerTests.screenPops])
        let hub = try await Hub(bootstrap: broker.bootstrap, name: "kamailio-http")
        let kamailio = try await offPool { try KamailioServer(defines: ["HUB_EVENTS_URL": "\"\(hub.url)\"", "HUB_EVENTS_TIMEOUT": "12"]) }
        defer { kamailio.stop() }

        let calls = 6
        try await CTIPeerTests.placeCalls(calls, through: kamailio, caller: "02079460018", agent: "2001")
        try await CTIPeerTests.placeBusyCall(through: kamailio, caller: "07700900999", agent: "2002")

        // Each POST was answered after the broker's acknowledgement, so everything is on the topics already.
        let interactions = try await CTIKafkaSupport.collect(broker.bootstrap, topic: CTIPeerTests.interactions, count: calls + 1, timeout: .seconds(30))
        let pops = try await CTIKafkaSupport.collect(broker.bootstrap, topic: CTIPeerTests.screenPops, count: calls + 1, timeout: .seconds(30))
        await hub.stop()
        #expect(interactions.count == calls + 1)
        #expect(pops.count == calls + 1)
        let answered = interactions.filter { $0.value["outcome"] == "answered" }
        #expect(answered.count == calls)
        #expect(answered.allSatisfy { $0.value["customerRef"] == "C-1001" && $0.value["agentExtension"] == "2001" })
        let failed = interactions.filter { $0.value["outcome"] == "failed" }
        #expect(failed.first?.value["sipCode"] == .number("486"))
        #expect(pops.filter { $0.key == "2001" }.allSatisfy { $0.value["customer"]?["displayName"] == "Ada Lovelace" })
        #expect(!kamailio.log.contains("crmhub CTI event not stored"), "Kamailio: \(kamailio.log.suffix(1500))")
    }

    @Test("a body that is not a call event is answered 400 with the reason; with the broker gone a ringing event is answered 503")
    func badInputAndBrokerOutage() async throws {
        let broker = try TansuBroker()
        defer { broker.stop() }
        try await CTIKafkaSupport.createTopics(broker.bootstrap, [CTIPeerTests.interactions, CTIPeerTests.screenPops])
        let hub = try await Hub(bootstrap: broker.bootstrap, name: "kamailio-http-bad", answerWithin: .seconds(2))
        let client = HTTPClient(concurrency: 2)
        func post(_ body: String) async throws -> CRMTransport.HTTPResponse {
            try await client.execute(
                HTTPRequest(method: "POST", url: hub.url, headers: [("Content-Type", "application/json")], body: Array(body.utf8), timeout: .seconds(10)))
        }

        let garbled = try await post("{\"event\":\"ringing\",\"call_id\":")
        #expect(garbled.status == 400)
        let unknown = try await post(#"{"source":"kamailio","event":"teleported","call_id":"x1","from":"1","to":"2","ts":1,"code":0}"#)
        #expect(unknown.status == 400)
        #expect(String(decoding: unknown.body, as: UTF8.self).contains("\"error\""))
        let ringing = #"{"source":"kamailio","event":"ringing","call_id":"c-1","from":"02079460018","to":"2001","ts":1700000000.5,"code":0}"#
        #expect(try await post(ringing).status == 200)

        broker.stop()
        let ringingAgain = ringing.replacingOccurrences(of: "c-1", with: "c-2")
        let refused = try await post(ringingAgain)
        #expect(refused.status == 503)
        #expect(refused.header("Retry-After") == "5")
        await hub.stop()
    }
}
