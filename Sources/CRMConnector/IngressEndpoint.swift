import CRMKafka
import CRMModel
import Foundation
import HTTPTypes
import Logging
import Metrics

/// One `POST` endpoint a source connector serves on the ingress server (a web form, a webhook, CTI events). The
/// server collects the body up to ``maxBodyBytes`` (413 beyond), calls ``handle`` and writes its answer; connectors
/// never see the HTTP framework.
public struct IngressEndpoint: Sendable {
    /// The connector that serves it (metrics, logs).
    public var connector: String
    /// The absolute path, unique across connectors.
    public var path: String
    /// Largest accepted body; a larger one is answered 413 without calling ``handle``.
    public var maxBodyBytes: Int
    /// What a request must prove before ``handle`` sees it (checked by the ingress server: 401 otherwise). The
    /// runtime sets it from the connector file's `auth:`. Default ``IngressAuthentication/none``.
    public var authentication: IngressAuthentication
    /// Answers one request.
    public var handle: @Sendable (IngressRequest) async -> IngressResponse
    /// Answers one request without a task of its own, for endpoints made with ``init(connector:path:maxBodyBytes:authentication:respond:)``:
    /// the server calls it on the request's own task and waits for the ``IngressAnswer`` (or its request timeout)
    /// instead of starting a task for ``handle`` and racing it.
    public var respond: (@Sendable (IngressRequest, IngressAnswer) -> Void)?

    public init(
        connector: String, path: String, maxBodyBytes: Int, authentication: IngressAuthentication = .none,
        handle: @escaping @Sendable (IngressRequest) async -> IngressResponse
    ) {
        self.connector = connector
        self.path = path
        self.maxBodyBytes = maxBodyBytes
        self.authentication = authentication
        self.handle = handle
        self.respond = nil
    }

    /// An endpoint that answers through an ``IngressAnswer``: `respond` must return promptly (no blocking or
    /// unbounded work on the caller's thread; a task of its own for that) and give the answer once, then or later
    /// from any thread, e.g. from Kafka's delivery report (``IngressReply/stored(_:emitter:timeout:id:retryHint:logger:answer:accepted:)``).
    /// It saves a task and a thread hop per request: the delivery report resumes the request's task directly.
    public init(
        connector: String, path: String, maxBodyBytes: Int, authentication: IngressAuthentication = .none,
        respond: @escaping @Sendable (IngressRequest, IngressAnswer) -> Void
    ) {
        self.connector = connector
        self.path = path
        self.maxBodyBytes = maxBodyBytes
        self.authentication = authentication
        self.respond = respond
        self.handle = { request in
            let answer = IngressAnswer(onDeadline: nil)
            let response = await withCheckedContinuation { continuation in
                answer.install(continuation)
                respond(request, answer)
            }
            return response ?? IngressResponse(status: .serviceUnavailable)
        }
    }
}

/// Where an endpoint's ``IngressEndpoint/respond`` gives its answer: the first ``FirstResult/finish(_:)`` is sent,
/// later ones are ignored (`false`). nil is the server's own: the request timed out or its client went away.
public typealias IngressAnswer = FirstResult<IngressResponse?>

/// A request as an endpoint sees it: header fields and the whole body.
public struct IngressRequest: Sendable {
    public var headers: HTTPFields
    public var body: [UInt8]

    public init(headers: HTTPFields, body: [UInt8]) {
        self.headers = headers
        self.body = body
    }
}

/// An endpoint's answer.
public struct IngressResponse: Sendable {
    public var status: HTTPResponse.Status
    public var headers: HTTPFields
    public var body: [UInt8]

    public init(status: HTTPResponse.Status, headers: HTTPFields = [:], body: [UInt8] = []) {
        self.status = status
        self.headers = headers
        self.body = body
    }
}

/// Answers shared by the ingress endpoints: JSON bodies, refusals counted by connector and reason
/// (`crmhub_ingress_rejected_total`), and the answer that depends on Kafka's acknowledgement.
public enum IngressReply {
    /// Emits `message` and answers once Kafka decided: `accepted()` after the acknowledgement; 503 with
    /// `Retry-After` when Kafka refused it or did not confirm within `timeout`. Nothing is ever answered 2xx that
    /// was not stored.
    public static func stored(
        _ message: ProducerMessage, emitter: SourceEmitter, timeout: Duration, id: String, retryHint: String,
        logger: Logger,
        accepted: () -> IngressResponse
    ) async -> IngressResponse {
        reply(
            to: await emitter.emit(message, within: timeout), emitter: emitter, timeout: timeout, id: id,
            retryHint: retryHint, logger: logger, accepted: accepted)
    }

    /// As ``stored(_:emitter:timeout:id:retryHint:logger:accepted:)``, but gives the answer to `answer` from the
    /// delivery report (or the deadline) instead of waiting; `accepted` runs there too. `then`, if given, sees the
    /// answer just before it is given (e.g. to remove files a refused message referred to).
    public static func stored(
        _ message: ProducerMessage, emitter: SourceEmitter, timeout: Duration, id: String, retryHint: String,
        logger: Logger, answer: IngressAnswer, then: (@Sendable (IngressResponse) -> Void)? = nil,
        accepted: @escaping @Sendable () -> IngressResponse
    ) {
        emitter.emit(message, within: timeout) { outcome in
            let response = reply(
                to: outcome, emitter: emitter, timeout: timeout, id: id, retryHint: retryHint, logger: logger,
                accepted: accepted)
            then?(response)
            answer.finish(response)
        }
    }

    private static func reply(
        to outcome: SourceEmitter.Outcome, emitter: SourceEmitter, timeout: Duration, id: String,
        retryHint: String, logger: Logger, accepted: () -> IngressResponse
    ) -> IngressResponse {
        switch outcome {
        case .acknowledged:
            return accepted()
        case .failed(let error):
            logger.error("Kafka refused the message", metadata: ["id": "\(id)", "error": "\(error)"])
            return unavailable(
                "the message could not be stored (\(error.reason)); \(retryHint)", reason: "kafka",
                connector: emitter.connector, logger: logger)
        case .timedOut:
            logger.warning("Kafka did not acknowledge in time", metadata: ["id": "\(id)", "timeout": "\(timeout)"])
            return unavailable(
                "the message store did not confirm in time; \(retryHint)", reason: "kafka_timeout",
                connector: emitter.connector, logger: logger)
        }
    }

    /// 503 with `Retry-After: 5`: the message store did not take the message; the sender should try again.
    public static func unavailable(
        _ message: String, reason: String, connector: String, logger: Logger
    ) -> IngressResponse {
        var response = reject(.serviceUnavailable, message, reason: reason, connector: connector, logger: logger)
        response.headers[.retryAfter] = "5"
        return response
    }

    /// A refusal with a JSON `{"error": message}` body, counted under `reason`.
    public static func reject(
        _ status: HTTPResponse.Status, _ message: String, reason: String, connector: String, logger: Logger
    ) -> IngressResponse {
        Counter(label: "crmhub_ingress_rejected_total", dimensions: [("connector", connector), ("reason", reason)])
            .increment()
        logger.info("ingress request refused", metadata: ["status": "\(status.code)", "reason": "\(reason)"])
        return json(status, ["error": message])
    }

    /// A JSON object body with sorted keys.
    public static func json(_ status: HTTPResponse.Status, _ object: [String: String]) -> IngressResponse {
        let body = JSONValue.object(object.sorted { $0.key < $1.key }.map { ($0.key, .string($0.value)) })
        return IngressResponse(status: status, headers: [.contentType: "application/json"], body: body.jsonBytes())
    }
}
