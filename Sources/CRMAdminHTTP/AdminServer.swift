// CRMAdminHTTP: the hub's admin HTTP server (Hummingbird 2): `/healthz` (process up), `/readyz` (Kafka connected,
// every route, sink and source running, consumers joined their groups), `/metrics` (Prometheus text format, with
// the process metrics) and master-data lookups (`/mdm/...`), which return personal data and are served only with a
// configured bearer token (AdminTokenMiddleware). Health and metrics can have a listener of their own
// (`http.metrics_port`), which takes no token.

import CRMDelivery
import CRMMasterData
import CRMYAML
import Foundation
import Hummingbird
import Logging
import Prometheus

/// Builds the admin HTTP application. It is a `Service`: put it last in the service group so it stops first.
public enum AdminServer {
    /// - Parameters:
    ///   - state: the hub state `/readyz` reads.
    ///   - routes: route names that must be running for readiness (sinks and sources declare themselves in `state`).
    ///   - registry: the Prometheus registry `/metrics` emits.
    ///   - onListening: called with the bound port once the server listens (useful with port 0).
    ///   - masterData: when routes resolve customers, serves `/mdm/customers` lookups from it, to requests bearing
    ///     `token`; without a token they are not served.
    public static func makeApplication(
        host: String, port: Int, state: HubState, routes: [String], registry: PrometheusCollectorRegistry,
        masterData: MasterDataResolver? = nil, token: [UInt8]? = nil, logger: Logger,
        onListening: @escaping @Sendable (Int) async -> Void = { _ in }
    ) -> some ApplicationProtocol {
        Application(
            router: makeRouter(state: state, routes: routes, registry: registry, masterData: masterData, token: token),
            configuration: .init(address: .hostname(host, port: port), serverName: "crmhub"),
            onServerRunning: { channel in await onListening(channel.localAddress?.port ?? port) },
            logger: logger)
    }

    /// The admin API alone, `/mdm/...` behind `token`, for when health and metrics are served on their own listener
    /// (``makeApplication(host:port:state:routes:registry:masterData:token:logger:onListening:)`` without master data).
    public static func makeAPIApplication(
        host: String, port: Int, masterData: MasterDataResolver, token: [UInt8], logger: Logger,
        onListening: @escaping @Sendable (Int) async -> Void = { _ in }
    ) -> some ApplicationProtocol {
        Application(
            router: makeAPIRouter(masterData: masterData, token: token),
            configuration: .init(address: .hostname(host, port: port), serverName: "crmhub"),
            onServerRunning: { channel in await onListening(channel.localAddress?.port ?? port) },
            logger: logger)
    }

    /// The router of ``makeAPIApplication(host:port:masterData:token:logger:onListening:)`` alone, for tests.
    public static func makeAPIRouter(masterData: MasterDataResolver, token: [UInt8]) -> Router<BasicRequestContext> {
        let router = Router()
        addMasterDataRoutes(router, masterData, token: token)
        return router
    }

    /// The router alone, for in-process tests. `/mdm/...` is served only when both `masterData` and `token` are
    /// given.
    public static func makeRouter(
        state: HubState, routes: [String], registry: PrometheusCollectorRegistry, masterData: MasterDataResolver? = nil,
        token: [UInt8]? = nil
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
            // The registry's metrics, then the process metrics read from /proc/self now.
            var body = ByteBuffer(bytes: registry.emitToBuffer())
            body.writeString(ProcessMetrics.current().prometheusText)
            return Response(
                status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: .init(byteBuffer: body))
        }
        if let masterData, let token { addMasterDataRoutes(router, masterData, token: token) }
        return router
    }

    /// `GET /mdm/customers?email=...`, `?phone=...[&region=GB]`, `?system=...&external_id=...` (golden records, for
    /// screen-pops and enrichment), `GET /mdm/customers/{id}`, `DELETE /mdm/customers/{id}[?actor=NAME]` (erasure)
    /// and `GET /customers/{id}/timeline`, each requiring `Authorization: Bearer <token>`.
    private static func addMasterDataRoutes(
        _ router: Router<BasicRequestContext>, _ masterData: MasterDataResolver, token: [UInt8]
    ) {
        let mdm = router.group("mdm").add(middleware: AdminTokenMiddleware(token: token))
        mdm.get("customers") { request, _ -> Response in
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
        mdm.get("customers/:id") { _, context -> Response in
            let id = try context.parameters.require("id")
            guard let golden = await masterData.golden(id: id) else {
                return json(.notFound, ["error": "no golden customer \(id)"])
            }
            return encoded(.ok, golden)
        }
        // Right to erasure: the same as `crmhub mdm erase` (the erase event and tombstones follow from the daemon).
        mdm.delete("customers/:id") { request, context -> Response in
            let id = try context.parameters.require("id")
            let actor = request.uri.queryParameters["actor"].map(String.init) ?? "admin-api"
            guard let golden = await masterData.golden(id: id) else {
                return json(.notFound, ["error": "no golden customer \(id)"])
            }
            try await masterData.erase(goldenId: golden.id, actor: actor)
            return json(.ok, ["erased": golden.id])
        }
        // A customer's contact history: personal data, behind the same token.
        router.group("customers").add(middleware: AdminTokenMiddleware(token: token)).get(":id/timeline") {
            request, context in
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

/// Refuses a request without `Authorization: Bearer <token>` (compared in constant time) with 401.
struct AdminTokenMiddleware<Context: RequestContext>: RouterMiddleware {
    let token: [UInt8]

    func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        let presented = request.headers[.authorization].flatMap { value in
            value.lowercased().hasPrefix("bearer ") ? Array(value.utf8.dropFirst(7)) : nil
        }
        guard let presented, ConstantTime.equals(presented, token) else {
            let body = Array(#"{"error":"a valid bearer token is required"}"#.utf8)
            return Response(
                status: .unauthorized, headers: [.contentType: "application/json", .wwwAuthenticate: "Bearer"],
                body: .init(byteBuffer: ByteBuffer(bytes: body)))
        }
        return try await next(request, context)
    }
}

extension JSONEncoder {
    fileprivate static var sorted: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return encoder
    }
}
