import CRMAdminHTTP
import CRMDelivery
import CRMHub
import CRMMasterData
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Prometheus
import Testing

@Suite("admin server authentication and listener split")
struct AdminAuthenticationTests {
    static let token = Array("admin-token-0123456789".utf8)

    func router(token: [UInt8]?) async throws -> Router<BasicRequestContext> {
        AdminServer.makeRouter(
            state: HubState(), routes: [], registry: PrometheusCollectorRegistry(),
            masterData: try await MasterDataResolver(store: InMemoryMasterDataStore()), token: token)
    }

    @Test("/mdm lookups are 401 without a bearer token or with a wrong one of the same length, 200 with the token")
    func masterDataNeedsTheBearerToken() async throws {
        let app = Application(router: try await router(token: Self.token))
        try await app.test(.router) { client in
            let uri = "/mdm/customers?email=ada%40example.com"
            try await client.execute(uri: uri, method: .get) { response in
                #expect(response.status == .unauthorized)
                #expect(response.headers[.wwwAuthenticate] == "Bearer")
            }
            try await client.execute(uri: uri, method: .get, headers: [.authorization: "Bearer admin-token-0123456788"])
            { #expect($0.status == .unauthorized) }
            try await client.execute(uri: uri, method: .get, headers: [.authorization: "Basic admin-token-0123456789"])
            { #expect($0.status == .unauthorized) }
            try await client.execute(uri: uri, method: .get, headers: [.authorization: "Bearer admin-token-0123456789"])
            { response in
                #expect(response.status == .ok)
                #expect(String(buffer: response.body) == "[]")
            }
            try await client.execute(
                uri: "/mdm/customers/nobody", method: .get, headers: [.authorization: "Bearer admin-token-0123456789"]
            ) { #expect($0.status == .notFound) }
            try await client.execute(uri: "/mdm/customers/nobody", method: .get) { #expect($0.status == .unauthorized) }
        }
    }

    @Test("without a configured token /mdm is not served at all, whatever the request carries")
    func masterDataIsNotServedWithoutAToken() async throws {
        let app = Application(router: try await router(token: nil))
        try await app.test(.router) { client in
            try await client.execute(
                uri: "/mdm/customers?email=ada%40example.com", method: .get,
                headers: [.authorization: "Bearer anything"]
            ) { #expect($0.status == .notFound) }
        }
    }

    @Test("health, readiness and metrics need no token, also when /mdm does")
    func healthAndMetricsStayOpen() async throws {
        let app = Application(router: try await router(token: Self.token))
        try await app.test(.router) { client in
            try await client.execute(uri: "/healthz", method: .get) { #expect($0.status == .ok) }
            try await client.execute(uri: "/metrics", method: .get) { #expect($0.status == .ok) }
            try await client.execute(uri: "/readyz", method: .get) { #expect($0.status != .unauthorized) }
        }
    }

    @Test("with metrics_port the admin listener serves /mdm behind the token and no health or metrics")
    func theAPIListenerServesOnlyMasterData() async throws {
        let resolver = try await MasterDataResolver(store: InMemoryMasterDataStore())
        let app = Application(router: AdminServer.makeAPIRouter(masterData: resolver, token: Self.token))
        try await app.test(.router) { client in
            try await client.execute(uri: "/metrics", method: .get) { #expect($0.status == .notFound) }
            try await client.execute(uri: "/healthz", method: .get) { #expect($0.status == .notFound) }
            try await client.execute(uri: "/mdm/customers?email=a%40b.c", method: .get) {
                #expect($0.status == .unauthorized)
            }
            try await client.execute(
                uri: "/mdm/customers?email=a%40b.c", method: .get,
                headers: [.authorization: "Bearer admin-token-0123456789"]
            ) { #expect($0.status == .ok) }
        }
    }
}
