// CRMAdminHTTP: the hub's admin HTTP server (Hummingbird 2): `/healthz` (process up), `/readyz` (Kafka connected,
// every route joined its consumer group), `/metrics` (Prometheus text format) and master-data lookups (`/mdm/...`).

import CRMDelivery
import CRMMasterData
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
    ///   - masterData: when routes resolve customers, serves `/mdm/customers` lookups from it.
    public static func makeApplication(
        host: String, port: Int, state: HubState, routes: [String], registry: PrometheusCollectorRegistry,
        masterData: MasterDataResolver? = nil, logger: Logger,
        onListening: @escaping @Sendable (Int) async -> Void = { _ in }
    ) -> some ApplicationProtocol {
        Application(
            router: makeRouter(state: state, routes: routes, registry: registry, masterData: masterData),
            configuration: .init(address: .hostname(host, port: port), serverName: "crmhub"),
            onServerRunning: { channel in await onListening(channel.localAddress?.port ?? port) },
            logger: logger)
    }

    /// The router alone, for in-process tests.
    public static func makeRouter(
        state: HubState, routes: [String], registry: PrometheusCollectorRegistry, masterData: MasterDataResolver? = nil
    ) -> Router<BasicRequestContext> {
        let router = Router()
        router.get("healthz") { _, _ -> Response in
            json(
                .ok,
                ["status": "up", "uptime_seconds": Int(Date().timeIntervalSince(state.startedAt))] as [String: Any])
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
        if let masterData { addMasterDataRoutes(router, masterData) }
        return router
    }

    /// `GET /mdm/customers?email=...`, `?phone=...[&region=GB]`, `?system=...&external_id=...` (golden records, for
    /// screen-pops and enrichment) and `GET /mdm/customers/{id}`.
    private static func addMasterDataRoutes(_ router: Router<BasicRequestContext>, _ masterData: MasterDataResolver) {
        router.get("mdm/customers") { request, _ -> Response in
            let query = request.uri.queryParameters
            let found: [GoldenRecord]
            if let email = query["email"].map(String.init) {
                found = await masterData.lookup(email: email)
            } else if let phone = query["phone"].map(String.init) {
                found = await masterData.lookup(phone: phone, defaultRegion: query["region"].map(String.init))
            } else if let system = query["system"].map(String.init), let id = query["external_id"].map(String.init) {
                if let goldenID = await masterData.goldenId(for: RecordRef(system: system, externalId: id)),
                    let golden = await masterData.golden(id: goldenID)
                {
                    found = [golden]
                } else {
                    found = []
                }
            } else {
                return json(
                    .badRequest, ["error": "look up by email, phone (with optional region) or system and external_id"])
            }
            return encoded(.ok, found)
        }
        router.get("mdm/customers/:id") { _, context -> Response in
            let id = try context.parameters.require("id")
            guard let golden = await masterData.golden(id: id) else {
                return json(.notFound, ["error": "no golden customer \(id)"])
            }
            return encoded(.ok, golden)
        }
        router.get("customers/:id/timeline") { request, context in
            try await TimelineEndpoint.respond(to: request, context: context, masterData: masterData)
        }
    }

    private static func encoded(_ status: HTTPResponse.Status, _ value: some Encodable) -> Response {
        let data = (try? JSONEncoder.sorted.encode(value)) ?? Data()
        return Response(
            status: status, headers: [.contentType: "application/json"],
            body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    private static func json(_ status: HTTPResponse.Status, _ object: [String: Any]) -> Response {
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data()
        return Response(
            status: status, headers: [.contentType: "application/json"],
            body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }
}

extension JSONEncoder {
    fileprivate static var sorted: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return encoder
    }
}
