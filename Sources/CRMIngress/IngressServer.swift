// CRMIngress: the public-side HTTP server of source connectors. It serves the IngressEndpoints that connectors
// (web forms, webhooks, CTI events) hand to the runtime and knows none of them. It is also the one place where the
// public side is bounded and authenticated: every request's secret or body signature is checked here, each
// endpoint's concurrency and each request's duration are capped, and slow or idle connections are closed
// (IngressConnectionGuard).

import CRMConnector
import CRMYAML
import Crypto
import HTTPTypes
import Hummingbird
import HummingbirdCore
import Logging
import Metrics
import NIOCore
import Synchronization

/// The ingress HTTP server (Hummingbird) for the endpoints of source connectors.
public enum IngressServer {
    /// Bounds of the public side; every default is safe for a hub behind a reverse proxy or directly exposed.
    public struct Limits: Sendable, Equatable {
        /// A connection that sends nothing (between requests, or stalls mid-request) for this long is closed.
        /// Default 30 s.
        public var idleTimeout: Duration = .seconds(30)
        /// A client must deliver a whole request, head and body, within this time of its first byte; a slower one
        /// (slowloris) is disconnected. Default 10 s.
        public var readTimeout: Duration = .seconds(10)
        /// An endpoint that has not answered a request this long after the server took it answers 503 with
        /// `Retry-After`. Default 30 s.
        public var requestTimeout: Duration = .seconds(30)
        /// Open connections at once; a connection beyond it is answered 503 with `Retry-After` and closed.
        /// Default 1024.
        public var maxConnections: Int = 1_024
        /// Requests one endpoint handles at once; more are answered 503 with `Retry-After`. Default 64.
        public var maxConcurrentRequestsPerEndpoint: Int = 64
        /// Largest request head (header field names and values together, and any one field); larger is 431.
        /// Default 16 KiB.
        public var maxHeaderBytes: Int = 16 << 10
        /// Most header fields in one request; more is 431. Default 100.
        public var maxHeaderFields: Int = 100

        /// The defaults above; set the fields to change them.
        public init() {}
    }

    /// The server application, listening on `host:port` (port 0 picks a free one; `onListening` gets the port).
    public static func makeApplication(
        host: String, port: Int, endpoints: [IngressEndpoint], limits: Limits = Limits(), logger: Logger,
        onListening: @escaping @Sendable (Int) async -> Void = { _ in }
    ) -> some ApplicationProtocol {
        let connections = IngressConnectionGuard.Counter()
        let channel = HTTP1Channel.Configuration(
            additionalChannelHandlers: [IngressConnectionGuard(limits: limits, connections: connections)],
            idleTimeout: TimeAmount(limits.idleTimeout),
            httpDecoderConfiguration: .init(
                maxHeaderFieldSize: limits.maxHeaderBytes, maxHeaderListSize: limits.maxHeaderBytes,
                maxHeaderFieldCount: limits.maxHeaderFields))
        return Application(
            router: makeRouter(endpoints: endpoints, limits: limits, logger: logger),
            server: .http1(configuration: channel),
            configuration: .init(address: .hostname(host, port: port), serverName: "crmhub-ingress"),
            onServerRunning: { channel in await onListening(channel.localAddress?.port ?? port) },
            logger: logger)
    }

    /// The router alone, for in-process tests: one `POST` route per endpoint, each authenticated, bounded in
    /// concurrency and in time.
    public static func makeRouter(
        endpoints: [IngressEndpoint], limits: Limits = Limits(), logger: Logger
    ) -> Router<BasicRequestContext> {
        let router = Router()
        for endpoint in endpoints {
            let gate = ConcurrencyGate(limit: limits.maxConcurrentRequestsPerEndpoint)
            router.post(RouterPath(endpoint.path)) { request, _ -> Response in
                if let refusal = IngressAuthenticator.checkHeaders(request.headers, for: endpoint, logger: logger) {
                    return response(refusal)
                }
                guard gate.enter() else {
                    var busy = IngressReply.unavailable(
                        "too many requests to \(endpoint.path) at once; retry shortly", reason: "busy",
                        connector: endpoint.connector, logger: logger)
                    busy.headers[.retryAfter] = "1"
                    return response(busy)
                }
                defer { gate.leave() }
                let answer: IngressResponse?
                if let respond = endpoint.respond {
                    answer = await answered(
                        request, endpoint: endpoint, respond: respond, within: limits.requestTimeout, logger: logger)
                } else {
                    answer = await withRequestTimeout(limits.requestTimeout) {
                        await serve(request, endpoint: endpoint, logger: logger)
                    }
                }
                return response(
                    answer
                        ?? IngressReply.unavailable(
                            "the request was not answered within \(limits.requestTimeout); retry later",
                            reason: "request_timeout", connector: endpoint.connector, logger: logger))
            }
        }
        return router
    }

    /// Collects the body up to the endpoint's limit, checks its signature when the endpoint takes one, and hands it
    /// to the endpoint.
    private static func serve(_ request: Request, endpoint: IngressEndpoint, logger: Logger) async -> IngressResponse {
        switch await collect(request, endpoint: endpoint, logger: logger) {
        case .request(let collected): await endpoint.handle(collected)
        case .refused(let refusal): refusal
        }
    }

    private enum Collected {
        case request(IngressRequest)
        case refused(IngressResponse)
    }

    /// The request with its body collected up to the endpoint's limit and its signature checked, or the refusal.
    private static func collect(_ request: Request, endpoint: IngressEndpoint, logger: Logger) async -> Collected {
        let body: [UInt8]
        do {
            body = Array(buffer: try await request.body.collect(upTo: endpoint.maxBodyBytes))
        } catch {
            return .refused(
                IngressReply.reject(
                    .contentTooLarge, "the body is larger than \(endpoint.maxBodyBytes) bytes", reason: "too_large",
                    connector: endpoint.connector, logger: logger))
        }
        if let refusal = IngressAuthenticator.checkBody(body, headers: request.headers, for: endpoint, logger: logger) {
            return .refused(refusal)
        }
        return .request(IngressRequest(headers: request.headers, body: body))
    }

    /// Serves an endpoint that answers through an ``IngressAnswer`` on the request's own task: no task of its own
    /// per request, and the delivery report that decides the answer resumes this task directly. The request timeout
    /// is the same entry in ``Deadlines`` as in ``withRequestTimeout(_:_:)``, taken before the body is read; as
    /// `respond` returns promptly, nothing but the answer is waited for, so the timeout answers 503 on time. One
    /// difference: the body is read on this task, so a body still arriving at the timeout is answered 503 once it
    /// is in (or the connection is closed at `readTimeout`, which is shorter by default).
    private static func answered(
        _ request: Request, endpoint: IngressEndpoint,
        respond: @escaping @Sendable (IngressRequest, IngressAnswer) -> Void, within timeout: Duration,
        logger: Logger
    ) async -> IngressResponse? {
        let answer = IngressAnswer(onDeadline: nil)
        Deadlines.shared.add(answer, after: timeout)
        let collected = await collect(request, endpoint: endpoint, logger: logger)
        return await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                answer.install(continuation)
                switch collected {
                case .request(let collected):
                    // Timed out (or cancelled) while the body came: answered already, nothing to produce.
                    if !answer.isFinished { respond(collected, answer) }
                case .refused(let refusal):
                    answer.finish(refusal)
                }
            }
        } onCancel: {
            answer.finish(nil)
        }
    }

    /// Runs `body`, or gives up after `timeout` (nil) or when the request is cancelled; the endpoint's own work is
    /// cancelled then and the answer does not wait for it. The deadline is an entry in the process's ``Deadlines``,
    /// not a sleeping task per request (at 2 000 requests a second a 30 s sleep each kept 60 000 dispatch timers).
    private static func withRequestTimeout(
        _ timeout: Duration, _ body: @escaping @Sendable () async -> IngressResponse
    ) async -> IngressResponse? {
        let answer = FirstResult<IngressResponse?>(onDeadline: nil)
        let work = Task { answer.finish(await body()) }
        Deadlines.shared.add(answer, after: timeout)
        let first = await withTaskCancellationHandler {
            await withCheckedContinuation { answer.install($0) }
        } onCancel: {
            answer.finish(nil)
        }
        if first == nil { work.cancel() }
        return first
    }

    private static func response(_ answer: IngressResponse) -> Response {
        Response(
            status: answer.status, headers: answer.headers, body: .init(byteBuffer: ByteBuffer(bytes: answer.body)))
    }
}

/// Requests one endpoint serves at once, refused beyond `limit` rather than queued.
final class ConcurrencyGate: Sendable {
    let limit: Int
    private let inFlight = Atomic<Int>(0)

    init(limit: Int) { self.limit = limit }

    /// Takes a slot; false when all are taken.
    func enter() -> Bool {
        if inFlight.add(1, ordering: .relaxed).newValue > limit {
            inFlight.subtract(1, ordering: .relaxed)
            return false
        }
        return true
    }

    /// Gives a slot back.
    func leave() { inFlight.subtract(1, ordering: .relaxed) }
}

/// The ingress's one authentication check: shared secrets in the head, before the body is read; HMAC signatures
/// over the collected body. A refusal is 401, counted as `unauthorized` and never says which part was wrong.
enum IngressAuthenticator {
    static func checkHeaders(_ headers: HTTPFields, for endpoint: IngressEndpoint, logger: Logger) -> IngressResponse? {
        guard case .sharedSecret(let secret) = endpoint.authentication else { return nil }
        let bearer = headers[.authorization].flatMap { value in
            value.lowercased().hasPrefix("bearer ") ? Array(value.utf8.dropFirst(7)) : nil
        }
        let presented = bearer ?? headers[IngressAuthentication.tokenHeader].map { Array($0.utf8) }
        if let presented, ConstantTime.equals(presented, secret) { return nil }
        var refusal = IngressReply.reject(
            .unauthorized, "a valid token is required (Authorization: Bearer or X-CRMHub-Token)",
            reason: "unauthorized", connector: endpoint.connector, logger: logger)
        refusal.headers[.wwwAuthenticate] = "Bearer"
        return refusal
    }

    static func checkBody(
        _ body: [UInt8], headers: HTTPFields, for endpoint: IngressEndpoint, logger: Logger
    ) -> IngressResponse? {
        guard case .hmacSHA256(let key, let header) = endpoint.authentication else { return nil }
        var value = headers[header] ?? ""
        if value.lowercased().hasPrefix("sha256=") { value = String(value.dropFirst(7)) }
        let digits = Array("0123456789abcdef".utf8)
        let expectedHex = HMAC<SHA256>.authenticationCode(for: body, using: SymmetricKey(data: key)).flatMap {
            [digits[Int($0 >> 4)], digits[Int($0 & 0x0f)]]
        }
        if ConstantTime.equals(Array(value.lowercased().utf8), expectedHex) { return nil }
        return IngressReply.reject(
            .unauthorized, "a valid \(header.rawName) signature (hex HMAC-SHA256 of the body) is required",
            reason: "unauthorized", connector: endpoint.connector, logger: logger)
    }
}

extension TimeAmount {
    init(_ duration: Duration) {
        let (seconds, attoseconds) = duration.components
        self = .nanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
    }
}
