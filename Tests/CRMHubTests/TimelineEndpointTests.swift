import CRMAdminHTTP
import CRMDelivery
import CRMMasterData
import Foundation
import Hummingbird
import HummingbirdTesting
import Prometheus
import Testing

/// `GET /customers/{id}/timeline` on the admin server: newest first, bounded, paged by cursor.
struct TimelineEndpointTests {
    func makeApp() async throws -> (some ApplicationProtocol, goldenId: String) {
        let resolver = try await MasterDataResolver(store: InMemoryMasterDataStore())
        let golden = try await resolver.resolve(
            CustomerRecord(system: "web", externalId: "1", givenName: "Ada", familyName: "Byron", email: "a@b.example"))
        try await resolver.recordInteractions(
            (1...5).map { n in
                TimelineEntry(
                    goldenId: golden.goldenId, at: Int64(n) * 1_000, channel: "email", kind: "email",
                    direction: "inbound", source: "imap", ref: "m-\(n)", summary: "Subject \(n)")
            })
        let app = Application(
            router: AdminServer.makeRouter(
                state: HubState(), routes: [], registry: PrometheusCollectorRegistry(), masterData: resolver,
                token: Array(Self.token.utf8)))
        return (app, golden.goldenId)
    }

    /// The admin token the router is built with: the timeline is personal data.
    static let token = "timeline-test-token"
    static let authorized: HTTPFields = [.authorization: "Bearer \(token)"]

    struct Page: Decodable {
        struct Entry: Decodable { var ref: String }
        var goldenId: String
        var entries: [Entry]
        var next: String?
    }

    @Test func theTimelineIsListedNewestFirstInPagesThatFollowTheNextCursor() async throws {
        let (app, id) = try await makeApp()
        try await app.test(.router) { client in
            let first = try await client.execute(
                uri: "/customers/\(id)/timeline?limit=3", method: .get, headers: Self.authorized
            ) { response in
                #expect(response.status == .ok)
                return try JSONDecoder().decode(Page.self, from: Data(String(buffer: response.body).utf8))
            }
            #expect(first.goldenId == id)
            #expect(first.entries.map(\.ref) == ["m-5", "m-4", "m-3"])
            let next = try #require(first.next)
            let second = try await client.execute(
                uri: "/customers/\(id)/timeline?limit=3&before=\(next)", method: .get, headers: Self.authorized
            ) { response in
                try JSONDecoder().decode(Page.self, from: Data(String(buffer: response.body).utf8))
            }
            #expect(second.entries.map(\.ref) == ["m-2", "m-1"])
            #expect(second.next == nil)
        }
    }

    @Test func theTimelineNeedsTheAdminToken() async throws {
        let (app, id) = try await makeApp()
        try await app.test(.router) { client in
            try await client.execute(uri: "/customers/\(id)/timeline", method: .get) { response in
                #expect(response.status == .unauthorized)
            }
        }
    }

    @Test func anUnknownCustomerIs404AndABadLimitOrCursorIs400() async throws {
        let (app, id) = try await makeApp()
        try await app.test(.router) { client in
            try await client.execute(uri: "/customers/nobody/timeline", method: .get, headers: Self.authorized) {
                response in
                #expect(response.status == .notFound)
            }
            try await client.execute(
                uri: "/customers/\(id)/timeline?limit=100000", method: .get, headers: Self.authorized
            ) { response in
                #expect(response.status == .badRequest)
            }
            try await client.execute(
                uri: "/customers/\(id)/timeline?before=yesterday", method: .get, headers: Self.authorized
            ) { response in
                #expect(response.status == .badRequest)
            }
        }
    }
}
