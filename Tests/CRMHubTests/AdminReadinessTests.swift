import CRMAdminHTTP
import CRMDelivery
import Foundation
import Hummingbird
import HummingbirdTesting
import Prometheus
import ServiceLifecycle
import Testing

/// `/readyz` over every component (routes, sinks, sources) and the process metrics on `/metrics`, through the real
/// router in-process.
@Suite struct AdminReadinessTests {
    /// A source that runs until told to fail.
    struct ScriptedSource: Service {
        let failure: AsyncStream<String>
        func run() async throws {
            for await reason in failure { throw TestSourceError(description: reason) }
        }
    }

    struct TestSourceError: Error, CustomStringConvertible { var description: String }

    func readyz(_ client: some TestClientProtocol) async throws -> (HTTPResponse.Status, [String: Any]) {
        try await client.execute(uri: "/readyz", method: .get) { response in
            let body = try JSONSerialization.jsonObject(with: Data(String(buffer: response.body).utf8))
            return (response.status, body as? [String: Any] ?? [:])
        }
    }

    func component(_ body: [String: Any], kind: String, name: String) -> [String: Any]? {
        (body["components"] as? [[String: Any]])?.first {
            $0["kind"] as? String == kind && $0["name"] as? String == name
        }
    }

    @Test func readinessRequiresEveryRouteSinkAndSourceAndListsEachWithItsState() async throws {
        let state = HubState()
        state.registerKafka { nil }
        state.expect(.sink, name: "erp/main")
        let (failure, fail) = AsyncStream<String>.makeStream()
        let source = MonitoredService(ScriptedSource(failure: failure), kind: .source, name: "inbox", state: state)
        let app = Application(
            router: AdminServer.makeRouter(state: state, routes: ["r1"], registry: PrometheusCollectorRegistry()))
        try await app.test(.router) { client in
            var (status, body) = try await readyz(client)
            #expect(status == .serviceUnavailable)
            #expect(component(body, kind: "source", name: "inbox")?["running"] as? Bool == false)
            #expect(component(body, kind: "sink", name: "erp/main")?["running"] as? Bool == false)

            state.register(route: "r1") {
                .init(name: "r1", running: true, joinedGroup: true, assignedPartitions: 2, inFlight: 0, lastError: nil)
            }
            state.register(.sink, name: "erp/main") {
                .init(kind: .sink, name: "erp/main", running: true, joinedGroup: false, assignedPartitions: 0)
            }
            let running = Task { try await source.run() }
            try await Task.sleep(for: .milliseconds(50))
            (status, body) = try await readyz(client)
            #expect(status == .serviceUnavailable, "the sink has not joined its group")
            #expect(component(body, kind: "source", name: "inbox")?["running"] as? Bool == true)
            #expect(component(body, kind: "route", name: "r1")?["assignedPartitions"] as? Int == 2)

            state.register(.sink, name: "erp/main") {
                .init(kind: .sink, name: "erp/main", running: true, joinedGroup: true, assignedPartitions: 3)
            }
            (status, body) = try await readyz(client)
            #expect(status == .ok)
            #expect((body["components"] as? [[String: Any]])?.count == 3)

            fail.yield("mailbox login refused")
            _ = try? await running.value
            (status, body) = try await readyz(client)
            #expect(status == .serviceUnavailable, "a stopped source is not ready")
            let inbox = component(body, kind: "source", name: "inbox")
            #expect(inbox?["running"] as? Bool == false)
            #expect(inbox?["lastError"] as? String == "mailbox login refused")
        }
    }

    @Test func metricsIncludeTheProcessMetrics() async throws {
        let app = Application(
            router: AdminServer.makeRouter(state: HubState(), routes: [], registry: PrometheusCollectorRegistry()))
        try await app.test(.router) { client in
            try await client.execute(uri: "/metrics", method: .get) { response in
                let text = String(buffer: response.body)
                for name in [
                    "process_resident_memory_bytes", "process_cpu_seconds_total", "process_open_fds",
                    "process_start_time_seconds",
                ] {
                    #expect(text.contains("\n\(name) "), "\(name) in \(text)")
                }
                #expect(text.contains("# TYPE process_cpu_seconds_total counter"))
            }
        }
        let metrics = ProcessMetrics.current()
        #expect((metrics.residentMemoryBytes ?? 0) > 1_000_000)
        #expect((metrics.openFileDescriptors ?? 0) > 2)
        let started = try #require(metrics.startTimeSeconds)
        #expect(abs(started - Date().timeIntervalSince1970) < 3_600, "started within the last hour")
    }
}
