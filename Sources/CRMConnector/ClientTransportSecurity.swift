import CRMTransport
import CRMYAML
import Foundation

/// The `tls:` section of an outbound HTTP connector (`http-sink`): whom to trust and which client certificate to
/// present. Paths are relative to the connector file's folder; the key password is a secret reference.
///
/// ```yaml
/// tls:
///   ca_file: private-ca.pem          # default: the system's CAs
///   certificate_file: client.pem     # mutual TLS; needs key_file
///   key_file: client.key
///   key_password: ${env:CLIENT_KEY_PASSWORD}
/// ```
public struct ClientTLSSettings: Sendable {
    public var caFile: String?
    public var certificateFile: String?
    public var keyFile: String?
    public var keyPassword: SecretValue?

    public static let keys: Set<String> = ["ca_file", "certificate_file", "key_file", "key_password"]

    public init(caFile: String? = nil, certificateFile: String? = nil, keyFile: String? = nil) {
        self.caFile = caFile
        self.certificateFile = certificateFile
        self.keyFile = keyFile
    }

    /// Reads the section; a certificate without its key (or a key without its certificate) is refused, as is a
    /// file that cannot be read.
    public init(_ value: YAMLValue, file: ConnectorFile) throws(YAMLError) {
        let map = try value.mapping()
        try map.allowOnly(Self.keys)
        func path(_ key: String) throws(YAMLError) -> String? {
            guard let entry = map.optional(key) else { return nil }
            let resolved = file.resolve(try entry.nonEmptyString())
            guard FileManager.default.isReadableFile(atPath: resolved) else {
                throw entry.error("\(key) '\(resolved)' cannot be read")
            }
            return resolved
        }
        caFile = try path("ca_file")
        certificateFile = try path("certificate_file")
        keyFile = try path("key_file")
        if certificateFile != nil, keyFile == nil {
            throw value.error("tls.certificate_file needs tls.key_file (the client certificate's private key)")
        }
        if keyFile != nil, certificateFile == nil {
            throw value.error("tls.key_file needs tls.certificate_file")
        }
        keyPassword = try map.optional("key_password").map { entry throws(YAMLError) in
            try entry.secretReference("tls.key_password")
        }
        if keyPassword != nil, keyFile == nil {
            throw value.error("tls.key_password needs tls.key_file")
        }
    }

    /// The transport options, with the key password read now.
    public func resolve() throws(SecretError) -> HTTPTLSOptions {
        HTTPTLSOptions(
            caFile: caFile, certificateFile: certificateFile, keyFile: keyFile, keyPassword: try keyPassword?.resolve())
    }
}

/// The rule that keeps credentials off plain-text HTTP: a connector that sends a credential (an `Authorization`
/// header, an API key, a password) to an `http://` URL is refused unless it says `allow_plaintext_credentials: true`
/// (a loopback test double, a sidecar on the same host).
public enum PlaintextCredentialRule {
    /// The connector key that lifts the rule.
    public static let key = "allow_plaintext_credentials"

    /// Whether a header name looks like it carries a credential (`Authorization`, `X-Api-Key`, `X-Auth-Token`...).
    public static func isCredentialHeader(_ name: String) -> Bool {
        let lowered = name.lowercased()
        return lowered == "authorization" || lowered == "proxy-authorization"
            || ["token", "key", "secret", "password", "auth"].contains { lowered.contains($0) }
    }

    /// Why sending `credential` to `url` is refused, or nil when the URL is not plain `http://` or it is allowed.
    public static func problem(url: String, credential: String, allowed: Bool) -> String? {
        guard !allowed, URLComponents(string: url)?.scheme?.lowercased() == "http" else { return nil }
        return
            "\(credential) would be sent in plain text to \(HTTPClient.redacted(url)): use https://, or set "
            + "\(key): true for a trusted local endpoint"
    }

    /// Reads `allow_plaintext_credentials` and, when the URL is written in the file, applies the rule there (the
    /// error names the URL's line). A URL given by reference is checked again when the connector starts.
    public static func check(
        _ map: YAMLMapping, url: SecretValue, urlValue: YAMLValue, credential: String?
    ) throws(YAMLError) -> Bool {
        let allowed = try map.optional(key)?.bool() ?? false
        if let credential, case .literal(let text) = url,
            let problem = problem(url: text, credential: credential, allowed: allowed)
        {
            throw urlValue.error(problem)
        }
        return allowed
    }
}

/// A connector that cannot start because its resolved settings break a transport-security rule.
public struct TransportSecurityError: Error, Sendable, CustomStringConvertible {
    /// The connector file.
    public var file: String
    public var reason: String

    public init(file: String, reason: String) {
        self.file = file
        self.reason = reason
    }

    public var description: String { "\(file): \(reason)" }
}
