// CRMAdminHTTP: the hub's admin HTTP server (Hummingbird 2): `/healthz` (process up), `/readyz` (Kafka connected,
// every route joined its consumer group) and `/metrics` (Prometheus text format).

import CRMHub
import Foundation
import Hummingbird
import Logging
import Prometheus

/// Builds the admin HTTP application. It is a `Service`: put it last in the service group so it stops first.
public enum AdminServer {
    /// - Parameters:
    ///   - state: the hub state `/readyz` reads.
    ///   - routes: route names that must be running for readiness.
    ///   - registry: the Prometheus registry `/metrics` emits.
    ///   - onListening: called with the bound port once the server listens (useful with port 0).
    public static func makeApplication(
        host: String, port: Int, state: HubState, routes: [String], registry: PrometheusCollectorRegistry, logger: Logger,
        onListening: @escaping @Sendable (Int) async -> Void = { _ in }
    ) -> some ApplicationProtocol {
        Application(
            router: makeRouter(state: state, routes: routes, registry: registry),
            configuration: .init(address: .hostname(host, port: port), serverName: "crmhub"),
            onServerRunning: { channel in await onListening(channel.localAddress?.port ?? port) },
            logger: logger)
    }

    /// The router alone, for in-process tests.
    public static func makeRouter(state: HubState, routes: [String], registry: PrometheusCollectorRegistry) -> Router<BasicRequestContext> {
        let router = Router()
        router.get("healthz") { _, _ -> Response in
            json(.ok, ["status": "up", "uptime_seconds": Int(Date().timeIntervalSince(state.startedAt))] as [String: Any])
        }
        router.get("readyz") { _, _ -> Response in
            let readiness = state.readiness(expectedRoutes: routes)
            let body = (try? JSONEncoder.sorted.encode(readiness)) ?? Data()
            return Response(
                status: readiness.ready ? .ok : .serviceUnavailable, headers: [.contentType: "application/json"],
                body: .init(byteBuffer: ByteBuffer(bytes: body)))
        }
        router.get("metrics") { _, _ -> Response in
            Response(
                status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(bytes: registry.emitToBuffer())))
        }
        return router
    }

    private static func json(_ status: HTTPResponse.Status, _ object: [String: Any]) -> Response {
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data()
        return Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }
}

extension JSONEncoder {
    fileprivate static var sorted: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return encoder
    }
}
