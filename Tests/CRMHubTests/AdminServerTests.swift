import CRMAdminHTTP
import CRMDelivery
import CRMHub
import Foundation
import Hummingbird
import HummingbirdTesting
import Prometheus
import Testing

@Suite struct AdminServerTests {
    @Test func healthzAnswersWhileTheProcessRuns() async throws {
        let app = Application(
            router: AdminServer.makeRouter(state: HubState(), routes: [], registry: PrometheusCollectorRegistry()))
        try await app.test(.router) { client in
            try await client.execute(uri: "/healthz", method: .get) { response in
                #expect(response.status == .ok)
                #expect(String(buffer: response.body).contains("\"status\":\"up\""))
            }
        }
    }

    @Test func readyzIsUnavailableUntilKafkaIsConnectedAndRoutesJoined() async throws {
        let state = HubState()
        let app = Application(
            router: AdminServer.makeRouter(state: state, routes: ["r1"], registry: PrometheusCollectorRegistry()))
        try await app.test(.router) { client in
            try await client.execute(uri: "/readyz", method: .get) { response in
                #expect(response.status == .serviceUnavailable)
            }
            state.registerKafka { nil }
            state.register(route: "r1") {
                .init(name: "r1", running: true, joinedGroup: true, assignedPartitions: 3, inFlight: 0, lastError: nil)
            }
            try await client.execute(uri: "/readyz", method: .get) { response in
                #expect(response.status == .ok)
                #expect(String(buffer: response.body).contains("\"assignedPartitions\":3"))
            }
            state.registerKafka { "1/1 brokers are down" }
            try await client.execute(uri: "/readyz", method: .get) { response in
                #expect(response.status == .serviceUnavailable)
                #expect(String(buffer: response.body).contains("brokers are down"))
            }
        }
    }

    @Test func metricsUsesThePrometheusTextFormat() async throws {
        let registry = PrometheusCollectorRegistry()
        let descriptor = MetricNameDescriptor(
            namespace: "crmhub", subsystem: "route", metricName: "messages_in", unitName: "total",
            helpText: "messages in")
        registry.makeCounter(descriptor: descriptor, labels: [("route", "r1")])
            .increment(by: Int64(3))
        let app = Application(router: AdminServer.makeRouter(state: HubState(), routes: [], registry: registry))
        try await app.test(.router) { client in
            try await client.execute(uri: "/metrics", method: .get) { response in
                #expect(response.status == .ok)
                #expect(response.headers[.contentType]?.hasPrefix("text/plain; version=0.0.4") == true)
                #expect(String(buffer: response.body).contains("crmhub_route_messages_in_total{route=\"r1\"} 3"))
            }
        }
    }
}
