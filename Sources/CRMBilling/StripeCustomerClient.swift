import CRMModel
import CRMTransport
import Foundation

/// The few customer calls of the Stripe API the billing sink makes (form bodies, `Authorization: Bearer`), over the
/// hub's shared libcurl client (its own threads; nothing blocks the cooperative pool).
public struct StripeCustomerClient: Sendable {
    /// Where the API is (`https://api.stripe.com`, or localstripe), without a trailing slash.
    public let baseURL: String
    private let apiKey: String
    private let timeout: Duration
    private let http: HTTPClient

    public init(baseURL: String, apiKey: String, timeout: Duration = .seconds(15), http: HTTPClient) {
        var base = baseURL
        while base.hasSuffix("/") { base.removeLast() }
        self.baseURL = base
        self.apiKey = apiKey
        self.timeout = timeout
        self.http = http
    }

    /// `baseURL` without credentials or query, for logs.
    public var target: String { HTTPClient.redacted(baseURL) }

    /// Creates a customer; `idempotencyKey` makes a repeated create (a re-delivery) return the first one.
    public func create(_ fields: [(String, String)], idempotencyKey: String) async throws(StripeAPIError) -> JSONValue {
        try await call("POST", "/v1/customers", form: fields, idempotencyKey: idempotencyKey, operation: "create")
    }

    /// Updates customer `id` with `fields`.
    public func update(
        id: String, _ fields: [(String, String)], idempotencyKey: String
    ) async throws(StripeAPIError) -> JSONValue {
        try await call(
            "POST", "/v1/customers/\(Self.encode(id))", form: fields, idempotencyKey: idempotencyKey,
            operation: "update")
    }

    /// The customers with this exact e-mail address (`GET /v1/customers?email=`; the list call localstripe has too).
    public func customers(email: String) async throws(StripeAPIError) -> [JSONValue] {
        let object = try await call(
            "GET", "/v1/customers?email=\(Self.encode(email))&limit=100", form: nil, idempotencyKey: nil,
            operation: "list")
        return object["data"]?.arrayItems ?? []
    }

    // MARK: Transport

    private func call(
        _ method: String, _ path: String, form: [(String, String)]?, idempotencyKey: String?, operation: String
    ) async throws(StripeAPIError) -> JSONValue {
        var headers: [(name: String, value: String)] = [("Authorization", "Bearer \(apiKey)")]
        var body: [UInt8] = []
        if let form {
            headers.append(("Content-Type", "application/x-www-form-urlencoded"))
            body = Array(form.map { "\(Self.encode($0.0))=\(Self.encode($0.1))" }.joined(separator: "&").utf8)
        }
        if let idempotencyKey { headers.append(("Idempotency-Key", idempotencyKey)) }
        let response: HTTPResponse
        do {
            response = try await http.execute(
                HTTPRequest(method: method, url: baseURL + path, headers: headers, body: body, timeout: timeout))
        } catch {
            throw StripeAPIError(.transport(error), operation: operation, target: target)
        }
        guard (200..<300).contains(response.status) else {
            throw StripeAPIError(
                .http(status: response.status, StripeAPIError.Details(body: response.body)), operation: operation,
                target: target, retryAfter: response.header("retry-after").flatMap { Int($0) }.map { .seconds($0) })
        }
        do {
            return try JSONValue.parse(response.body)
        } catch {
            throw StripeAPIError(
                .protocolError("the answer is not JSON (\(error.kind.rawValue) at byte \(error.offset))"),
                operation: operation, target: target)
        }
    }

    /// Percent-encodes a form key or value (RFC 3986 unreserved characters stay).
    static func encode(_ text: String) -> String {
        text.addingPercentEncoding(withAllowedCharacters: unreserved) ?? text
    }

    private static let unreserved = CharacterSet(
        charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
}

/// A failed billing API call: which operation, against which API, and what went wrong. The description carries the
/// API's error type, code and parameter name but never its message, which may quote personal data ("No such
/// customer email: ...").
public struct StripeAPIError: Error, Sendable, CustomStringConvertible {
    /// The machine-readable part of an API error answer (`{"error": {"type", "code", "param"}}`).
    public struct Details: Sendable, Equatable {
        public var type: String?
        public var code: String?
        public var param: String?

        public init(type: String? = nil, code: String? = nil, param: String? = nil) {
            self.type = type
            self.code = code
            self.param = param
        }

        init(body: [UInt8]) {
            let error = (try? JSONValue.parse(body))?["error"]
            self.init(
                type: error?["type"]?.stringValue, code: error?["code"]?.stringValue,
                param: error?["param"]?.stringValue)
        }
    }

    /// What went wrong.
    public enum Kind: Sendable {
        /// The request did not get an answer (refused, timed out, reset, TLS).
        case transport(TransportError)
        /// The API answered with a status other than 2xx.
        case http(status: Int, Details)
        /// The API answered 2xx with something that is not what the API sends.
        case protocolError(String)
    }

    public var kind: Kind
    /// `create`, `update` or `list`.
    public var operation: String
    /// The API's base URL, redacted.
    public var target: String
    /// The API's `Retry-After` hint (429, 503).
    public var retryAfter: Duration?

    public init(_ kind: Kind, operation: String, target: String, retryAfter: Duration? = nil) {
        self.kind = kind
        self.operation = operation
        self.target = target
        self.retryAfter = retryAfter
    }

    /// Worth retrying: no answer (timeouts, refused connections), 408, 409 (Stripe: an idempotent request still in
    /// progress), 429, 5xx, and 401/403 (a key being rotated while the message waits).
    public var isTransient: Bool {
        switch kind {
        case .transport(let error): error.isTransient
        case .http(let status, _): [401, 403, 408, 409, 429].contains(status) || status >= 500
        case .protocolError: false
        }
    }

    /// The answer was 404: the customer is gone (deleted in the billing system).
    public var isMissing: Bool {
        if case .http(404, _) = kind { return true }
        return false
    }

    public var description: String {
        switch kind {
        case .transport(let error):
            return "billing API \(operation) failed: \(error.description)"
        case .http(let status, let details):
            let parts = [
                details.type.map { "type \($0)" }, details.code.map { "code \($0)" },
                details.param.map { "param \($0)" },
            ].compactMap { $0 }
            let suffix = parts.isEmpty ? "" : " (\(parts.joined(separator: ", ")))"
            return "billing API \(operation) at \(target) answered HTTP \(status)\(suffix)"
        case .protocolError(let message):
            return "billing API \(operation) at \(target): \(message)"
        }
    }
}
