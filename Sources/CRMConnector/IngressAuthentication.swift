import CRMYAML
import Foundation
import HTTPTypes

/// What an ingress endpoint requires of a request before its connector sees it. The ingress server checks it, in one
/// place, for every endpoint; connectors never do.
public enum IngressAuthentication: Sendable, Equatable {
    /// Anyone may post (said explicitly with `auth: none`, or the default of kinds that do not require a secret).
    case none
    /// The request carries the shared secret as `Authorization: Bearer <secret>` or `X-CRMHub-Token: <secret>`,
    /// compared in constant time.
    case sharedSecret([UInt8])
    /// The request carries, in `header`, the hex HMAC-SHA256 of its body under `key` (optionally prefixed
    /// `sha256=`, as GitHub-style senders write it), compared in constant time.
    case hmacSHA256(key: [UInt8], header: HTTPField.Name)

    /// The header a shared secret may be sent in besides `Authorization: Bearer`.
    public static let tokenHeader = HTTPField.Name("X-CRMHub-Token")!
    /// The default header of an HMAC-SHA256 body signature.
    public static let signatureHeader = HTTPField.Name("X-CRMHub-Signature")!
}

/// The `auth:` setting of a connector that serves ingress paths, as written in its file; the secret stays a reference
/// until the hub starts.
///
/// ```yaml
/// auth: none                          # explicitly unauthenticated
/// auth:
///   scheme: bearer                    # or hmac-sha256
///   secret: ${env:CTI_INGRESS_TOKEN}  # ${env:NAME} or ${file:PATH}, never inline
///   header: X-Shop-Signature          # hmac-sha256 only; default X-CRMHub-Signature
/// ```
public enum IngressAuthSettings: Sendable, Equatable {
    /// `auth: none`.
    case none
    /// `scheme: bearer`.
    case bearer(secret: SecretValue)
    /// `scheme: hmac-sha256`.
    case hmacSHA256(secret: SecretValue, header: String)

    /// Reads an `auth:` value.
    public init(_ value: YAMLValue) throws(YAMLError) {
        if case .scalar = value.node {
            guard try value.string() == "none" else {
                throw value.error("auth is 'none' or a mapping with scheme (bearer, hmac-sha256) and secret")
            }
            self = .none
            return
        }
        let map = try value.mapping()
        try map.allowOnly(["scheme", "secret", "header"])
        let scheme = try map.require("scheme").oneOf(["bearer", "hmac-sha256"])
        let secret = try map.require("secret").secretReference("the ingress secret")
        switch scheme {
        case "bearer":
            if let header = map.optional("header") {
                throw header.error("header applies to hmac-sha256; a bearer secret is sent as Authorization: Bearer")
            }
            self = .bearer(secret: secret)
        default:
            let header = try map.optional("header")?.nonEmptyString() ?? "X-CRMHub-Signature"
            guard HTTPField.Name(header) != nil else {
                throw try map.require("header").error("'\(header)' is not an HTTP header name")
            }
            self = .hmacSHA256(secret: secret, header: header)
        }
    }

    /// Resolves the secret (environment or file) into what the ingress server checks; an empty secret is refused.
    public func resolve(
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws(SecretError) -> IngressAuthentication {
        func bytes(_ secret: SecretValue) throws(SecretError) -> [UInt8] {
            let value = try secret.resolve(environment: environment)
            guard !value.isEmpty else { throw SecretError(description: "the ingress secret \(secret) is empty") }
            return Array(value.utf8)
        }
        switch self {
        case .none:
            return .none
        case .bearer(let secret):
            return .sharedSecret(try bytes(secret))
        case .hmacSHA256(let secret, let header):
            return .hmacSHA256(
                key: try bytes(secret), header: HTTPField.Name(header) ?? IngressAuthentication.signatureHeader)
        }
    }
}
