import Foundation

/// Where and how ``SFTPFileDrop`` connects: one remote folder on one SSH server, public-key authentication only, and
/// the server's host key pinned by its SHA-256 fingerprint.
public struct SFTPConfiguration: Sendable {
    /// Server name or address.
    public var host: String
    /// SSH port. Default 22.
    public var port: Int
    /// Login name on the server.
    public var user: String
    /// The remote folder as an absolute path (`/srv/drop`), or relative to the login's home with `/~/` (`/~/drop`).
    public var directory: String
    /// Path of the private key file (ed25519 recommended: libssh2 1.10 signs RSA keys with SHA-1, which current
    /// OpenSSH servers refuse). Never logged.
    public var privateKey: String
    /// Path of the matching public key file, when libssh2 cannot derive it from the private key. Default none.
    public var publicKey: String?
    /// Passphrase of the private key, if it has one. Never logged.
    public var keyPassphrase: String?
    /// The server's host key fingerprint as `ssh-keygen -lf KEY.pub -E sha256` prints it (`SHA256:` and 43 base64
    /// characters; the prefix is optional). Connections to a server presenting another key are refused.
    public var hostKeySHA256: String?
    /// Connect to any server key when no ``hostKeySHA256`` is set. Only for tests and first contact: without a pin
    /// anyone on the path can impersonate the server. Default false (no pin → configuration error).
    public var insecureSkipHostKeyCheck: Bool
    /// Time allowed to connect, exchange keys and authenticate. Default 10 s.
    public var connectTimeout: Duration
    /// Time allowed for one whole operation (a listing, a fetch, a publish). Default 30 min.
    public var timeout: Duration
    /// An operation that moves no data for this long is aborted (a hung server). Default 60 s.
    public var stallTimeout: Duration
    /// Transfers that may run at once (each keeps its own SSH connection open between operations). Default 2.
    public var connections: Int

    public init(
        host: String, port: Int = 22, user: String, directory: String, privateKey: String, publicKey: String? = nil,
        keyPassphrase: String? = nil, hostKeySHA256: String?, insecureSkipHostKeyCheck: Bool = false,
        connectTimeout: Duration = .seconds(10), timeout: Duration = .seconds(1800),
        stallTimeout: Duration = .seconds(60),
        connections: Int = 2
    ) {
        self.host = host
        self.port = port
        self.user = user
        self.directory = directory
        self.privateKey = privateKey
        self.publicKey = publicKey
        self.keyPassphrase = keyPassphrase
        self.hostKeySHA256 = hostKeySHA256
        self.insecureSkipHostKeyCheck = insecureSkipHostKeyCheck
        self.connectTimeout = connectTimeout
        self.timeout = timeout
        self.stallTimeout = stallTimeout
        self.connections = connections
    }

    /// A configuration from `sftp://user@host:port/dir` (port optional; `/~/dir` is relative to the login's home).
    /// A password in the URL is refused: only key authentication is supported.
    public init(
        url: String, privateKey: String, publicKey: String? = nil, keyPassphrase: String? = nil, hostKeySHA256: String?,
        insecureSkipHostKeyCheck: Bool = false
    ) throws(TransportError) {
        guard let components = URLComponents(string: url), components.scheme?.lowercased() == "sftp",
            let host = components.host, !host.isEmpty
        else {
            throw TransportError(
                kind: .configuration, curlCode: 0, message: "not an sftp://user@host[:port]/dir URL", target: "sftp")
        }
        guard let user = components.user, !user.isEmpty else {
            throw TransportError(
                kind: .configuration, curlCode: 0, message: "the SFTP URL names no user (sftp://user@host/dir)",
                target: "sftp://\(host)")
        }
        guard components.password == nil else {
            throw TransportError(
                kind: .configuration, curlCode: 0, message: "passwords are not supported: use privateKey",
                target: "sftp://\(user)@\(host)")
        }
        let path = components.path.isEmpty ? "/" : components.path
        self.init(
            host: host, port: components.port ?? 22, user: user, directory: path, privateKey: privateKey,
            publicKey: publicKey,
            keyPassphrase: keyPassphrase, hostKeySHA256: hostKeySHA256,
            insecureSkipHostKeyCheck: insecureSkipHostKeyCheck)
    }

    /// `sftp://user@host:port/dir` (no key, passphrase or pin).
    public var label: String {
        let hostPart = host.contains(":") ? "[\(host)]" : host
        return "sftp://\(user)@\(hostPart):\(port)\(remoteDirectory)"
    }

    /// ``directory`` with a leading and without a trailing slash (`/` stays `/`).
    var remoteDirectory: String {
        var path = directory.hasPrefix("/") ? directory : "/" + directory
        while path.count > 1 && path.hasSuffix("/") { path.removeLast() }
        return path
    }

    /// The pin without its `SHA256:` prefix, as libcurl expects it; nil when none is set.
    var hostKeyBase64: String? {
        guard let pin = hostKeySHA256?.trimmingCharacters(in: .whitespaces), !pin.isEmpty else { return nil }
        return pin.hasPrefix("SHA256:") ? String(pin.dropFirst("SHA256:".count)) : pin
    }

    /// Checks what can be checked before connecting: a readable key file, a well-formed pin (or the explicit opt-out).
    func validate() throws(TransportError) {
        func invalid(_ message: String) -> TransportError {
            TransportError(kind: .configuration, curlCode: 0, message: message, target: label)
        }
        guard !host.isEmpty, !user.isEmpty else { throw invalid("host and user are required") }
        guard (1...65535).contains(port) else { throw invalid("port \(port) is out of range") }
        guard FileManager.default.isReadableFile(atPath: privateKey) else {
            throw invalid("the private key file \(privateKey) is missing or unreadable")
        }
        if let publicKey, !FileManager.default.isReadableFile(atPath: publicKey) {
            throw invalid("the public key file \(publicKey) is missing or unreadable")
        }
        if let pin = hostKeyBase64 {
            guard Self.isSHA256Base64(pin) else {
                throw invalid(
                    "hostKeySHA256 must be SHA256: and the 43 base64 characters ssh-keygen -lf -E sha256 prints")
            }
        } else if !insecureSkipHostKeyCheck {
            throw invalid(
                "no hostKeySHA256 pin: refusing to connect to an unverified server (set insecureSkipHostKeyCheck to override)"
            )
        }
    }

    /// True for the base64 of 32 bytes, with or without `=` padding.
    static func isSHA256Base64(_ text: String) -> Bool {
        var padded = text
        while padded.count % 4 != 0 { padded += "=" }
        return Data(base64Encoded: padded)?.count == 32
    }
}
