import CRMConnector
import Foundation
import HTTPTypes
import Logging
import Metrics

/// Event endpoints: a `POST` path whose body a connector handles itself (a CTI connector takes Kamailio's call
/// events this way), answered only once the connector says what became of it.
///
/// Answers: **200** `{"status":"stored"}` once every message the event produced was acknowledged by the broker;
/// **400** the body is not an event (the reason, never the content); **413** the body is larger than the endpoint
/// takes; **503** with `Retry-After` when the broker refused or did not confirm within `ackTimeout`.
public enum EventIngress {
    /// What a connector made of one posted body.
    public enum Answer: Sendable, Equatable {
        case stored
        case invalid(reason: String)
        case notStored(reason: String)
    }

    /// One event endpoint.
    public struct Endpoint: Sendable {
        /// The connector's name (logs, metrics).
        public var name: String
        public var path: String
        /// Largest accepted body. Default 64 KiB (a call event is a few hundred bytes).
        public var maxBodyBytes: Int = 64 << 10
        /// How long a request waits for the connector before answering 503. Default 5 s.
        public var ackTimeout: Duration = .seconds(5)
        /// Handles one body and says what became of it.
        public var handle: @Sendable (_ body: [UInt8], _ arrivedAt: ContinuousClock.Instant) async -> Answer

        public init(
            name: String, path: String,
            handle: @escaping @Sendable (_ body: [UInt8], _ arrivedAt: ContinuousClock.Instant) async -> Answer
        ) {
            self.name = name
            self.path = path
            self.handle = handle
        }
    }
}

extension EventIngress.Endpoint {
    /// The endpoint of a CTI connector whose events Kamailio's http_client posts (source `kamailioHTTP`); it answers
    /// within 2 s.
    public static func callEvents(name: String, path: String, connector: CTIConnector) -> Self {
        var endpoint = Self(name: name, path: path) { body, arrived in
            switch await connector.receive(body, arrivedAt: arrived) {
            case .stored: .stored
            case .invalid(let reason): .invalid(reason: reason)
            case .notStored(let reason): .notStored(reason: reason)
            }
        }
        // Kamailio holds a SIP worker for the request and gives up after 3 s (deploy/cti/kamailio.cfg): answer first.
        endpoint.ackTimeout = .seconds(2)
        return endpoint
    }

    /// This endpoint as the ingress server serves it.
    public func ingress(logger: Logger) -> IngressEndpoint {
        let handler = EventHandler(endpoint: self, logger: logger)
        return IngressEndpoint(connector: name, path: path, maxBodyBytes: maxBodyBytes) { request in
            await handler.handle(request)
        }
    }
}

struct EventHandler: Sendable {
    let endpoint: EventIngress.Endpoint
    let logger: Logger
    let accepted: Counter

    init(endpoint: EventIngress.Endpoint, logger: Logger) {
        self.endpoint = endpoint
        var logger = logger
        logger[metadataKey: "connector"] = "\(endpoint.name)"
        self.logger = logger
        accepted = Counter(label: "crmhub_ingress_accepted_total", dimensions: [("connector", endpoint.name)])
    }

    func handle(_ request: IngressRequest) async -> IngressResponse {
        let arrived = ContinuousClock.now
        let body = request.body
        let handle = endpoint.handle
        let answer: EventIngress.Answer? = await withTaskGroup(of: EventIngress.Answer?.self) { group in
            group.addTask { await handle(body, arrived) }
            group.addTask { [timeout = endpoint.ackTimeout] in
                try? await Task.sleep(for: timeout)
                return nil
            }
            let first = await group.next() ?? nil
            group.cancelAll()
            return first
        }
        switch answer {
        case .stored:
            accepted.increment()
            return IngressReply.json(.ok, ["status": "stored"])
        case .invalid(let reason):
            return reject(.badRequest, reason, reason: "invalid_event")
        case .notStored(let reason):
            logger.error("event not stored", metadata: ["reason": "\(reason)"])
            return IngressReply.unavailable(
                "the event could not be stored (\(reason))", reason: "kafka", connector: endpoint.name, logger: logger)
        case nil:
            logger.warning("event not confirmed in time", metadata: ["timeout": "\(endpoint.ackTimeout)"])
            return IngressReply.unavailable(
                "the message store did not confirm in time", reason: "kafka_timeout", connector: endpoint.name,
                logger: logger)
        }
    }

    private func reject(_ status: HTTPResponse.Status, _ message: String, reason: String) -> IngressResponse {
        IngressReply.reject(status, message, reason: reason, connector: endpoint.name, logger: logger)
    }
}
