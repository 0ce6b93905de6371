import CRMConnector
import CRMHub
import CRMIngress
import CRMTelephony
import CRMTestSupport
import CRMYAML
import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import Testing

@Suite("ingress authentication and per-endpoint bounds")
struct IngressAuthenticationTests {
    let logger = Logger(label: "test")

    /// An endpoint that answers 200 with the body it was given, after `delay`.
    func endpoint(
        _ authentication: IngressAuthentication, path: String = "/in", delay: Duration = .zero
    ) -> IngressEndpoint {
        IngressEndpoint(connector: "test", path: path, maxBodyBytes: 1_024, authentication: authentication) { request in
            if delay > .zero { try? await Task.sleep(for: delay) }
            return IngressResponse(status: .ok, body: request.body)
        }
    }

    @Test("a shared secret is required as Bearer or X-CRMHub-Token: 401 without or with a wrong one of the same length")
    func sharedSecret() async throws {
        let router = IngressServer.makeRouter(
            endpoints: [endpoint(.sharedSecret(Array("s3cret-token".utf8)))], logger: logger)
        try await Application(router: router).test(.router) { client in
            let body = ByteBuffer(string: "hello")
            try await client.execute(uri: "/in", method: .post, body: body) { response in
                #expect(response.status == .unauthorized)
                #expect(response.headers[.wwwAuthenticate] == "Bearer")
            }
            try await client.execute(
                uri: "/in", method: .post, headers: [.authorization: "Bearer s3cret-tokeN"], body: body
            ) { #expect($0.status == .unauthorized) }
            try await client.execute(
                uri: "/in", method: .post, headers: [.authorization: "Bearer s3cret-token-and-more"], body: body
            ) { #expect($0.status == .unauthorized) }
            try await client.execute(
                uri: "/in", method: .post, headers: [.authorization: "Bearer s3cret-token"], body: body
            ) { response in
                #expect(response.status == .ok)
                #expect(String(buffer: response.body) == "hello")
            }
            try await client.execute(
                uri: "/in", method: .post, headers: [IngressAuthentication.tokenHeader: "s3cret-token"], body: body
            ) { #expect($0.status == .ok) }
        }
    }

    @Test("an HMAC-SHA256 of the body is required in its header: a signature of another body or key is 401")
    func bodySignature() async throws {
        let key = Array("hmac-key".utf8)
        let header = HTTPField.Name("X-Shop-Signature")!
        @Sendable func sign(_ body: String, key: [UInt8]) -> String {
            HMAC<SHA256>.authenticationCode(for: Array(body.utf8), using: SymmetricKey(data: key))
                .map { String(format: "%02x", $0) }.joined()
        }
        let router = IngressServer.makeRouter(
            endpoints: [endpoint(.hmacSHA256(key: key, header: header))], logger: logger)
        try await Application(router: router).test(.router) { client in
            let body = #"{"order":1}"#
            try await client.execute(uri: "/in", method: .post, body: ByteBuffer(string: body)) {
                #expect($0.status == .unauthorized)
            }
            try await client.execute(
                uri: "/in", method: .post, headers: [header: sign(#"{"order":2}"#, key: key)],
                body: ByteBuffer(string: body)
            ) { #expect($0.status == .unauthorized) }
            try await client.execute(
                uri: "/in", method: .post, headers: [header: sign(body, key: Array("other-k!".utf8))],
                body: ByteBuffer(string: body)
            ) { #expect($0.status == .unauthorized) }
            try await client.execute(
                uri: "/in", method: .post, headers: [header: "sha256=" + sign(body, key: key)],
                body: ByteBuffer(string: body)
            ) { #expect($0.status == .ok) }
        }
    }

    @Test("beyond an endpoint's concurrency limit a request is answered 503 with Retry-After at once")
    func concurrencyLimit() async throws {
        var limits = IngressServer.Limits()
        limits.maxConcurrentRequestsPerEndpoint = 1
        let router = IngressServer.makeRouter(
            endpoints: [endpoint(.none, delay: .seconds(2))], limits: limits, logger: logger)
        try await Application(router: router).test(.router) { client in
            async let first = client.execute(uri: "/in", method: .post, body: ByteBuffer(string: "1")) { $0.status }
            try await Task.sleep(for: .milliseconds(300))
            let started = ContinuousClock.now
            try await client.execute(uri: "/in", method: .post, body: ByteBuffer(string: "2")) { response in
                #expect(response.status == .serviceUnavailable)
                #expect(response.headers[.retryAfter] == "1")
            }
            #expect(started.duration(to: .now) < .seconds(1))
            #expect(try await first == .ok)
        }
    }

    @Test("an endpoint that does not answer within request_timeout is answered 503 with Retry-After")
    func requestTimeout() async throws {
        var limits = IngressServer.Limits()
        limits.requestTimeout = .milliseconds(300)
        let router = IngressServer.makeRouter(
            endpoints: [endpoint(.none, delay: .seconds(5))], limits: limits, logger: logger)
        try await Application(router: router).test(.router) { client in
            let started = ContinuousClock.now
            try await client.execute(uri: "/in", method: .post, body: ByteBuffer(string: "x")) { response in
                #expect(response.status == .serviceUnavailable)
                #expect(response.headers[.retryAfter] != nil)
            }
            #expect(started.duration(to: .now) < .seconds(3))
        }
    }

    @Test("an endpoint that ignores cancellation is still answered 503 at request_timeout, not when it ends")
    func requestTimeoutDoesNotWaitForTheEndpoint() async throws {
        var limits = IngressServer.Limits()
        limits.requestTimeout = .milliseconds(300)
        let stubborn = IngressEndpoint(connector: "test", path: "/in", maxBodyBytes: 1_024, authentication: .none) {
            request in
            // Sleeps through cancellation: a handler stuck in a call that does not check for it.
            await withCheckedContinuation { continuation in
                DispatchQueue.global().asyncAfter(deadline: .now() + 4) { continuation.resume() }
            }
            return IngressResponse(status: .ok, body: request.body)
        }
        let router = IngressServer.makeRouter(endpoints: [stubborn], limits: limits, logger: logger)
        try await Application(router: router).test(.router) { client in
            let started = ContinuousClock.now
            try await client.execute(uri: "/in", method: .post, body: ByteBuffer(string: "x")) { response in
                #expect(response.status == .serviceUnavailable)
            }
            #expect(started.duration(to: .now) < .seconds(3))
        }
    }

    @Test("an endpoint that answers through an IngressAnswer is answered from any thread, and 503 at request_timeout")
    func answeringEndpoints() async throws {
        var limits = IngressServer.Limits()
        limits.requestTimeout = .milliseconds(300)
        // Answers from another thread later, like a delivery report.
        let later = IngressEndpoint(connector: "test", path: "/later", maxBodyBytes: 1_024) { request, answer in
            DispatchQueue.global().asyncAfter(deadline: .now() + 0.05) {
                answer.finish(IngressResponse(status: .accepted, body: request.body))
            }
        }
        // Answers at once, on the request's task.
        let now = IngressEndpoint(connector: "test", path: "/now", maxBodyBytes: 1_024) { request, answer in
            answer.finish(IngressResponse(status: .ok, body: request.body))
        }
        // Never answers: the request timeout does.
        let never = IngressEndpoint(connector: "test", path: "/never", maxBodyBytes: 1_024) { _, _ in }
        let signed = IngressEndpoint(
            connector: "test", path: "/signed", maxBodyBytes: 4,
            authentication: .hmacSHA256(key: Array("k".utf8), header: HTTPField.Name("X-Signature")!)
        ) { _, answer in
            answer.finish(IngressResponse(status: .ok))
        }
        let router = IngressServer.makeRouter(endpoints: [later, now, never, signed], limits: limits, logger: logger)
        try await Application(router: router).test(.router) { client in
            try await client.execute(uri: "/later", method: .post, body: ByteBuffer(string: "a")) { response in
                #expect(response.status == .accepted)
                #expect(String(buffer: response.body) == "a")
            }
            try await client.execute(uri: "/now", method: .post, body: ByteBuffer(string: "b")) { response in
                #expect(response.status == .ok)
                #expect(String(buffer: response.body) == "b")
            }
            let started = ContinuousClock.now
            try await client.execute(uri: "/never", method: .post, body: ByteBuffer(string: "c")) { response in
                #expect(response.status == .serviceUnavailable)
                #expect(response.headers[.retryAfter] != nil)
            }
            #expect(started.duration(to: .now) < .seconds(3))
            try await client.execute(uri: "/signed", method: .post, body: ByteBuffer(string: "d")) { response in
                #expect(response.status == .unauthorized)
            }
            try await client.execute(uri: "/signed", method: .post, body: ByteBuffer(string: "too long")) { response in
                #expect(response.status == .contentTooLarge)
            }
        }
        // Called directly (not through the server), `handle` waits for the answer.
        #expect(await later.handle(IngressRequest(headers: [:], body: [1])).status == .accepted)
    }

    @Test("the event loops follow the CPUs of the affinity mask (Cpus_allowed)")
    func affinityMask() {
        #expect(EventLoopThreads.allowedCPUs(mask: "\t3\n") == 2)
        #expect(EventLoopThreads.allowedCPUs(mask: "\tff,ffffffff\n") == 40)
        #expect(EventLoopThreads.allowedCPUs(mask: "0") == nil)
        #expect(EventLoopThreads.allowedCPUs(mask: "3g") == nil)
        #expect((EventLoopThreads.allowedCPUs() ?? 0) >= 1)
    }

    func kamailioFile(_ extra: String) throws -> String {
        let folder = try temporaryFolder([
            "pbx.yaml": "name: pbx\nkind: cti-kamailio\nhttp_path: /cti/kamailio\ninteraction_topic: a\n"
                + "screen_pop_topic: b\ncustomers_csv: c.csv\n" + extra
        ])
        return folder + "/pbx.yaml"
    }

    @Test("the CTI HTTP input without auth is refused by validation; auth: none must be said explicitly")
    func ctiHTTPInputRequiresAuth() throws {
        let path = try kamailioFile("")
        let error = #expect(throws: YAMLError.self) { try ConnectorRegistry.standard.load(path: path) }
        #expect(error?.message.contains("needs auth:") == true, "\(String(describing: error))")
        let open = try ConnectorRegistry.standard.load(path: try kamailioFile("auth: none\n"))
        #expect(open.ingressAuth == IngressAuthSettings.none)
        let inline = try kamailioFile("auth:\n  scheme: bearer\n  secret: plain-text\n")
        #expect(throws: YAMLError.self) { try ConnectorRegistry.standard.load(path: inline) }
        let evapi = try temporaryFolder([
            "pbx.yaml": "name: pbx\nkind: cti-kamailio\nevapi: 127.0.0.1:8448\ninteraction_topic: a\n"
                + "screen_pop_topic: b\nauth: none\n"
        ])
        #expect(throws: YAMLError.self) { try ConnectorRegistry.standard.load(path: evapi + "/pbx.yaml") }
    }

    @Test("the CTI HTTP input with its auth: 401 without the secret, 200 with it")
    func ctiHTTPInputWithItsSecret() async throws {
        let secretFile = try temporaryFolder(["token": "cti-token-123\n"]) + "/token"
        let connector = try ConnectorRegistry.standard.load(
            path: try kamailioFile("auth:\n  scheme: bearer\n  secret: ${file:\(secretFile)}\n"))
        let authentication = try #require(connector.ingressAuth).resolve()
        var events = EventIngress.Endpoint(name: "pbx", path: "/cti/kamailio") { _, _ in .stored }.ingress(
            logger: logger)
        events.authentication = authentication
        let router = IngressServer.makeRouter(endpoints: [events], logger: logger)
        try await Application(router: router).test(.router) { client in
            let event = ByteBuffer(string: #"{"event":"ringing"}"#)
            try await client.execute(uri: "/cti/kamailio", method: .post, body: event) {
                #expect($0.status == .unauthorized)
            }
            try await client.execute(
                uri: "/cti/kamailio", method: .post, headers: [.authorization: "Bearer cti-token-124"], body: event
            ) { #expect($0.status == .unauthorized) }
            try await client.execute(
                uri: "/cti/kamailio", method: .post, headers: [.authorization: "Bearer cti-token-123"], body: event
            ) { response in
                #expect(response.status == .ok)
                #expect(String(buffer: response.body).contains("stored"))
            }
        }
    }

    @Test("an empty secret file is refused when the hub starts, never compared")
    func emptySecretIsRefused() throws {
        let empty = try temporaryFolder(["token": "\n"]) + "/token"
        #expect(throws: SecretError.self) {
            try IngressAuthSettings.bearer(secret: .file(empty)).resolve()
        }
    }

    @Test("constant-time comparison: equal bytes only, whatever the lengths")
    func constantTimeEquality() {
        #expect(ConstantTime.equals(Array("abc".utf8), Array("abc".utf8)))
        #expect(!ConstantTime.equals(Array("abd".utf8), Array("abc".utf8)))
        #expect(!ConstantTime.equals(Array("ab".utf8), Array("abc".utf8)))
        #expect(!ConstantTime.equals(Array("abcabc".utf8), Array("abc".utf8)))
        #expect(!ConstantTime.equals([UInt8](), Array("abc".utf8)))
        #expect(!ConstantTime.equals(Array("a".utf8), [UInt8]()))
        #expect(!ConstantTime.equals([UInt8](), [UInt8]()), "an empty secret matches nothing")
    }
}
