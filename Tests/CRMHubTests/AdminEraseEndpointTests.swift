import CRMAdminHTTP
import CRMDelivery
import CRMMasterData
import Foundation
import Hummingbird
import HummingbirdTesting
import Prometheus
import Testing

/// `DELETE /mdm/customers/{id}` on the admin server: the right to erasure, behind the admin token.
struct AdminEraseEndpointTests {
    static let token = "erase-test-token"

    func makeApp() async throws -> (some ApplicationProtocol, MasterDataResolver, goldenId: String) {
        let resolver = try await MasterDataResolver(store: InMemoryMasterDataStore())
        let golden = try await resolver.resolve(
            CustomerRecord(system: "web", externalId: "1", givenName: "Ada", familyName: "Byron", email: "a@b.example"))
        let app = Application(
            router: AdminServer.makeRouter(
                state: HubState(), routes: [], registry: PrometheusCollectorRegistry(), masterData: resolver,
                token: Array(Self.token.utf8)))
        return (app, resolver, golden.goldenId)
    }

    @Test func anAuthorizedDeleteErasesTheCustomerAndPutsTheRecordOnTheLedger() async throws {
        let (app, resolver, id) = try await makeApp()
        try await app.test(.router) { client in
            try await client.execute(
                uri: "/mdm/customers/\(id)?actor=dpo", method: .delete,
                headers: [.authorization: "Bearer \(Self.token)"]
            ) { response in
                #expect(response.status == .ok)
            }
            try await client.execute(
                uri: "/mdm/customers/\(id)", method: .delete, headers: [.authorization: "Bearer \(Self.token)"]
            ) { response in
                #expect(response.status == .notFound)
            }
        }
        #expect(await resolver.golden(id: id) == nil)
        #expect(await resolver.isErased(RecordRef(system: "web", externalId: "1")))
        #expect(try await resolver.auditTrail(goldenId: id).last?.actor == "dpo")
    }

    @Test func aDeleteWithoutTheTokenIsRefusedAndErasesNothing() async throws {
        let (app, resolver, id) = try await makeApp()
        try await app.test(.router) { client in
            try await client.execute(uri: "/mdm/customers/\(id)", method: .delete) { response in
                #expect(response.status == .unauthorized)
            }
        }
        #expect(await resolver.golden(id: id) != nil)
    }
}
