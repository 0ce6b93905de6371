import CRMTestSupport
import Foundation
import Testing

@testable import CRMTransport

/// The libcurl HTTP client against a real HTTP server on loopback.
@Suite(.timeLimit(.minutes(1)))
struct HTTPClientTests {
    let client = HTTPClient(concurrency: 4)

    @Test func aPostCarriesItsHeadersAndBodyAndTheResponseIsParsed() async throws {
        let server = try RecordingHTTPServer()
        let body = Array("{\"name\":\"Zoë\"}".utf8)
        let response = try await client.execute(
            HTTPRequest(
                method: "POST", url: "\(server.url)/api/party?token=secret",
                headers: [("Content-Type", "application/json"), ("Idempotency-Key", "msg-1")], body: body))
        #expect(response.status == 201)
        #expect(response.header("Content-Type") == "application/json")
        #expect(String(decoding: response.body, as: UTF8.self) == "{\"ok\":true}")
        let record = try #require(server.records().first)
        #expect(record["path"] as? String == "/api/party?token=secret")
        #expect(record["idempotency_key"] as? String == "msg-1")
        #expect(record["body"] as? String == "{\"name\":\"Zoë\"}")
    }

    @Test func statusCodesAndRetryAfterAreReturnedNotThrown() async throws {
        let server = try RecordingHTTPServer()
        try server.setMode("429:7")
        let response = try await client.execute(
            HTTPRequest(method: "POST", url: "\(server.url)/x", body: Array("{}".utf8)))
        #expect(response.status == 429)
        #expect(response.header("retry-after") == "7")
        #expect(server.records().isEmpty)
    }

    @Test func aRefusedConnectionIsATransientConnectError() async throws {
        let port = try freePort()  // nothing listens there
        let error = await #expect(throws: TransportError.self) {
            try await client.execute(HTTPRequest(url: "http://user:pw@127.0.0.1:\(port)/path?secret=1"))
        }
        #expect(error?.kind == .connect)
        #expect(error?.isTransient == true)
        #expect(error?.target == "http://127.0.0.1:\(port)/path", "credentials and query are not logged")
    }

    @Test func aSlowTargetTimesOut() async throws {
        let server = try RecordingHTTPServer()
        try server.setMode("slow:2000")
        let error = await #expect(throws: TransportError.self) {
            try await client.execute(
                HTTPRequest(method: "POST", url: "\(server.url)/slow", body: [1], timeout: .milliseconds(300)))
        }
        #expect(error?.kind == .timeout)
        #expect(error?.isTransient == true)
    }

    @Test func manyConcurrentRequestsAllComplete() async throws {
        let server = try RecordingHTTPServer()
        let statuses = try await withThrowingTaskGroup(of: Int.self) { group in
            for index in 0..<50 {
                group.addTask {
                    try await client.execute(
                        HTTPRequest(method: "PUT", url: "\(server.url)/n/\(index)", body: Array("\(index)".utf8))
                    ).status
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(statuses.count == 50 && statuses.allSatisfy { $0 == 201 })
        #expect(Set(server.records().compactMap { $0["body"] as? String }).count == 50)
    }
}
