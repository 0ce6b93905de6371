import CRMDelivery
import CRMKafka
import CRMRedaction
import CRMTransport
import Foundation

/// Delivers each message as the body of an HTTP request (REST sinks: ERP, billing). Every attempt carries the
/// message id as `Idempotency-Key`, so a target that honours it applies a re-delivery once.
///
/// The request is shaped by a ``RESTRequestTemplate`` (URL placeholders from the message, JSON or form body) and a
/// success code list (default: any 2xx; an ERP that answers 409 to a create it already has can list 409).
///
/// Classification: success codes delivered; 408, 429, 5xx, connection refused, timeouts and resets are transient (429 and
/// 503 honour `Retry-After` in seconds or as an HTTP date); other 4xx are permanent, as are TLS and URL errors.
public struct HTTPSinkTarget: SinkTarget {
    public struct Settings: Sendable {
        /// The URL, possibly with placeholders (`https://erp/api/party/{key}`).
        public var url: String
        public var method: String = "POST"
        /// Extra headers (e.g. `Authorization`), already resolved from their secret references.
        public var headers: [(name: String, value: String)] = []
        public var body: RESTRequestTemplate.BodyEncoding = .json
        /// Status codes that mean delivered; empty means any 2xx.
        public var successCodes: Set<Int> = []
        public var timeout: Duration = .seconds(10)
        /// CA file and client certificate for `https://` targets.
        public var tls: HTTPTLSOptions?

        public init(
            url: String, method: String = "POST", headers: [(name: String, value: String)] = [],
            timeout: Duration = .seconds(10)
        ) {
            self.url = url
            self.method = method
            self.headers = headers
            self.timeout = timeout
        }
    }

    public let settings: Settings
    private let client: HTTPClient

    public init(settings: Settings, client: HTTPClient) {
        self.settings = settings
        self.client = client
    }

    public var description: String { "\(settings.method) \(HTTPClient.redacted(settings.url))" }

    public func deliver(_ message: SinkMessage) async -> SinkOutcome {
        let rendered: (url: String, contentType: String?, body: [UInt8])
        do {
            rendered = try RESTRequestTemplate(url: settings.url, encoding: settings.body).render(
                key: message.key, id: message.id, body: message.value)
        } catch {
            return .permanent(reason: RedactionPolicy.installed.redact(error.description))
        }
        var headers = settings.headers
        if let contentType = rendered.contentType { headers.append(("Content-Type", contentType)) }
        headers.append(("Idempotency-Key", message.id))
        headers.append(("X-Crmhub-Attempt", String(message.previousAttempts + 1)))
        let request = HTTPRequest(
            method: settings.method, url: rendered.url, headers: headers, body: rendered.body,
            timeout: settings.timeout, tls: settings.tls)
        do {
            let response = try await client.execute(request)
            let redaction = RedactionPolicy.installed
            return Self.classify(
                response, successCodes: settings.successCodes, redaction: redaction,
                echoing: redaction.personalValues(inJSON: message.value))
        } catch {
            let reason = RedactionPolicy.installed.redact(error.description)
            return error.isTransient ? .transient(reason: reason) : .permanent(reason: reason)
        }
    }

    /// The outcome an HTTP response means. The reason keeps the status and the body's size, and the body's first
    /// 200 characters after `redaction` (personal data by shape and key, and the `echoing` values the request sent).
    static func classify(
        _ response: HTTPResponse, successCodes: Set<Int> = [], now: Date = Date(),
        redaction: RedactionPolicy = .installed, echoing known: [String] = []
    ) -> SinkOutcome {
        let status = response.status
        if successCodes.contains(status) || (200..<300 ~= status && successCodes.isEmpty) { return .delivered }
        let text = redaction.redact(String(decoding: response.body.prefix(4096), as: UTF8.self), echoing: known)
        let snippet = "\(response.body.count) bytes: \(text.prefix(200))"
        switch status {
        case 408, 429, 500..<600:
            return .transient(
                reason: "HTTP \(status): \(snippet)",
                retryAfter: response.header("retry-after").flatMap { retryAfter($0, now: now) })
        default:
            return .permanent(reason: "HTTP \(status): \(snippet)")
        }
    }

    /// Parses `Retry-After`: delay seconds, or an HTTP date.
    static func retryAfter(_ value: String, now: Date) -> Duration? {
        if let seconds = Int(value.trimmingCharacters(in: .whitespaces)), seconds >= 0 { return .seconds(seconds) }
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss zzz"
        guard let date = formatter.date(from: value) else { return nil }
        return .seconds(max(0, date.timeIntervalSince(now)))
    }
}
