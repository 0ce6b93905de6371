import CRMRedaction
import CRMTransport

/// A Tryton JSON-RPC call that failed, with the method it was for and what the server (or the network) said.
public struct TrytonError: Error, Sendable, CustomStringConvertible {
    public enum Kind: Sendable {
        /// No HTTP response: connection refused, timeout, reset (see ``TransportError``).
        case transport(TransportError)
        /// The login was refused (HTTP 401/403 on `common.db.login`), or the session stayed invalid after a new login.
        case authentication(status: Int)
        /// Tryton refused the data (`UserError`, `UserWarning`, access errors): retrying the same call cannot help.
        case user(type: String, message: String, detail: String)
        /// A transient server-side condition (`ConcurrencyException`, `RateLimitException`, HTTP 429/5xx, an
        /// unhandled exception in the server).
        case server(status: Int, message: String)
        /// The server answered something that is not a JSON-RPC reply, or the method is not allowed (HTTP 403/404).
        case protocolError(status: Int, message: String)
    }

    public var kind: Kind
    /// The JSON-RPC method, e.g. `model.party.party.create`.
    public var method: String
    /// The server without credentials (safe to log).
    public var target: String

    public init(_ kind: Kind, method: String, target: String) {
        self.kind = kind
        self.method = method
        self.target = target
    }

    /// True when trying again later may succeed: network problems, server errors, rejected credentials (they may
    /// be rotated while the message waits).
    public var isTransient: Bool {
        switch kind {
        case .transport(let error): error.isTransient
        case .authentication, .server: true
        case .user, .protocolError: false
        }
    }

    /// The method, the target and what went wrong; the server's text is passed through the installed
    /// ``RedactionPolicy`` (Tryton's messages quote the values they refuse).
    public var description: String {
        RedactionPolicy.installed.redact(unredactedDescription)
    }

    private var unredactedDescription: String {
        switch kind {
        case .transport(let error): "\(method) on \(target): \(error.description)"
        case .authentication(let status):
            "\(method) on \(target): login refused (HTTP \(status)); check the Tryton user and password"
        case .user(let type, let message, let detail):
            detail.isEmpty
                ? "\(method) on \(target): \(type): \(message)"
                : "\(method) on \(target): \(type): \(message) (\(detail))"
        case .server(let status, let message): "\(method) on \(target): server error (HTTP \(status)): \(message)"
        case .protocolError(let status, let message):
            "\(method) on \(target): unexpected reply (HTTP \(status)): \(message)"
        }
    }
}
