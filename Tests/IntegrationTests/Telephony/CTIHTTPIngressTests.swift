import CRMIngress
import CRMKafka
import CRMTestSupport
import CRMTransport
import Foundation
import Logging
import ServiceLifecycle
import Testing

@testable import CRMTelephony

/// Kamailio's http_client input, in process: what the ingress answers for bad bodies and with the broker gone. Calls
/// through Kamailio posting to a real `crmhub run` are in ``CTIPeerTests`` (a separate process: its handlers never
/// wait behind the test process's busy cooperative pool).
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
                configuration: .init(
                    name: name, interactionTopic: CTIPeerTests.interactions, screenPopTopic: CTIPeerTests.screenPops),
                producer: try KafkaTestClient.producer(bootstrap, lingerMilliseconds: 1),
                lookup: try StaticCustomerTable(csv: Array(CTIFixtures.customersCSV.utf8), defaultRegion: "GB"),
                logger: KafkaTestClient.logger)
            let connector = CTIConnector(
                source: .kamailioHTTP(path: CTIHTTPIngressTests.path), processor: processor,
                logger: KafkaTestClient.logger)
            var endpoint = EventIngress.Endpoint.callEvents(
                name: name, path: CTIHTTPIngressTests.path, connector: connector)
            endpoint.ackTimeout = answerWithin
            let port = try freePort()
            let app = IngressServer.makeApplication(
                host: "127.0.0.1", port: port, endpoints: [endpoint.ingress(logger: KafkaTestClient.logger)],
                logger: KafkaTestClient.logger)
            let group = ServiceGroup(services: [app, connector], logger: KafkaTestClient.logger)
            running = Task { try await group.run() }
            self.group = group
            self.port = port
            self.connector = connector
            guard await eventually(timeout: .seconds(30), { canConnect(port: port) }) else {
                throw TestSetupError("the ingress server did not start listening on 127.0.0.1:\(port)")
            }
        }

        var url: String { "http://127.0.0.1:\(port)\(CTIHTTPIngressTests.path)" }

        func stop() async {
            await group.triggerGracefulShutdown()
            _ = try? await running.value
        }
    }

    @Test(
        "a body that is not a call event is answered 400 with the reason; with the broker gone a ringing event is answered 503"
    )
    func badInputAndBrokerOutage() async throws {
        let broker = try TansuBroker()
        defer { broker.stop() }
        try await KafkaTestClient.createTopics(broker.bootstrap, [CTIPeerTests.interactions, CTIPeerTests.screenPops])
        let hub = try await Hub(bootstrap: broker.bootstrap, name: "kamailio-http-bad", answerWithin: .seconds(2))
        let client = HTTPClient(concurrency: 2)
        func post(_ body: String) async throws -> CRMTransport.HTTPResponse {
            try await client.execute(
                HTTPRequest(
                    method: "POST", url: hub.url, headers: [("Content-Type", "application/json")],
                    body: Array(body.utf8), timeout: .seconds(10)))
        }

        let garbled = try await post("{\"event\":\"ringing\",\"call_id\":")
        #expect(garbled.status == 400)
        let unknown = try await post(
            #"{"source":"kamailio","event":"teleported","call_id":"x1","from":"1","to":"2","ts":1,"code":0}"#)
        #expect(unknown.status == 400)
        #expect(String(decoding: unknown.body, as: UTF8.self).contains("\"error\""))
        let ringing =
            #"{"source":"kamailio","event":"ringing","call_id":"c-1","from":"02079460018","to":"2001","ts":1700000000.5,"code":0}"#
        #expect(try await post(ringing).status == 200)

        broker.stop()
        let ringingAgain = ringing.replacingOccurrences(of: "c-1", with: "c-2")
        let refused = try await post(ringingAgain)
        #expect(refused.status == 503)
        #expect(refused.header("Retry-After") == "5")
        await hub.stop()
    }
}
