/// How every client of the hub authenticates to the brokers and protects the connection: librdkafka's
/// `security.protocol` with its TLS (`ssl.*`) and SASL (`sasl.*`) properties. Default: plaintext, no TLS, no SASL.
public struct KafkaSecurity: Sendable {
    /// librdkafka's `security.protocol`.
    public enum SecurityProtocol: String, Sendable, CaseIterable {
        case plaintext
        case ssl
        case saslPlaintext = "sasl_plaintext"
        case saslSSL = "sasl_ssl"

        /// True for `ssl` and `sasl_ssl`: the connection is TLS.
        public var usesTLS: Bool { self == .ssl || self == .saslSSL }
        /// True for `sasl_plaintext` and `sasl_ssl`: the client authenticates with SASL.
        public var usesSASL: Bool { self == .saslPlaintext || self == .saslSSL }
    }

    /// TLS settings: the CA that signed the brokers' certificates and, for mutual TLS, the client's certificate.
    public struct TLS: Sendable {
        /// `ssl.ca.location`: PEM file of the CA(s) to trust; nil uses the system's trust store.
        public var caFile: String?
        /// `ssl.certificate.location`: the client's PEM certificate (mutual TLS); nil for none.
        public var certificateFile: String?
        /// `ssl.key.location`: the client's PEM private key (mutual TLS); nil for none.
        public var keyFile: String?
        /// `ssl.key.password`: the private key's password, read when a client is created; nil when unencrypted.
        public var keyPassword: KafkaSecret?

        public init(
            caFile: String? = nil, certificateFile: String? = nil, keyFile: String? = nil,
            keyPassword: KafkaSecret? = nil
        ) {
            self.caFile = caFile
            self.certificateFile = certificateFile
            self.keyFile = keyFile
            self.keyPassword = keyPassword
        }
    }

    /// SASL settings: mechanism and credentials.
    public struct SASL: Sendable {
        /// librdkafka's `sasl.mechanisms` values crmhub supports.
        public enum Mechanism: String, Sendable, CaseIterable {
            case plain = "PLAIN"
            case scramSHA256 = "SCRAM-SHA-256"
            case scramSHA512 = "SCRAM-SHA-512"
        }

        /// `sasl.mechanisms`.
        public var mechanism: Mechanism
        /// `sasl.username`.
        public var username: String
        /// `sasl.password`, read when a client is created.
        public var password: KafkaSecret

        public init(mechanism: Mechanism, username: String, password: KafkaSecret) {
            self.mechanism = mechanism
            self.username = username
            self.password = password
        }
    }

    /// `security.protocol`. Default `plaintext`.
    public var securityProtocol: SecurityProtocol
    /// TLS settings; only used with `ssl` and `sasl_ssl`.
    public var tls: TLS?
    /// SASL settings; required with `sasl_plaintext` and `sasl_ssl`.
    public var sasl: SASL?

    public init(securityProtocol: SecurityProtocol = .plaintext, tls: TLS? = nil, sasl: SASL? = nil) {
        self.securityProtocol = securityProtocol
        self.tls = tls
        self.sasl = sasl
    }

    /// The plain librdkafka properties these settings map to (`security.protocol`, `ssl.*.location`,
    /// `sasl.mechanisms`, `sasl.username`). Secrets are in ``secretProperties``.
    public var properties: [(String, String)] {
        var list: [(String, String)] = [("security.protocol", securityProtocol.rawValue)]
        if let tls {
            if let caFile = tls.caFile { list.append(("ssl.ca.location", caFile)) }
            if let certificateFile = tls.certificateFile { list.append(("ssl.certificate.location", certificateFile)) }
            if let keyFile = tls.keyFile { list.append(("ssl.key.location", keyFile)) }
        }
        if let sasl {
            list.append(("sasl.mechanisms", sasl.mechanism.rawValue))
            list.append(("sasl.username", sasl.username))
        }
        return list
    }

    /// The secret librdkafka properties (`ssl.key.password`, `sasl.password`), resolved when a client is created.
    public var secretProperties: [(String, KafkaSecret)] {
        var list: [(String, KafkaSecret)] = []
        if let password = tls?.keyPassword { list.append(("ssl.key.password", password)) }
        if let sasl { list.append(("sasl.password", sasl.password)) }
        return list
    }

    /// Contradictions in these settings, said plainly (empty when consistent): SASL settings without a `sasl_*`
    /// protocol and the reverse, TLS settings with a protocol that does not use TLS, a client certificate without its
    /// key and the reverse.
    public var problems: [String] {
        var problems: [String] = []
        let name = securityProtocol.rawValue
        if sasl != nil, !securityProtocol.usesSASL {
            problems.append("sasl is set but protocol is \(name); use sasl_plaintext or sasl_ssl")
        }
        if sasl == nil, securityProtocol.usesSASL {
            problems.append("protocol \(name) needs sasl settings (mechanism, username, password)")
        }
        if tls != nil, !securityProtocol.usesTLS {
            problems.append("tls is set but protocol is \(name), which does not use TLS; use ssl or sasl_ssl")
        }
        if let tls {
            if tls.certificateFile != nil, tls.keyFile == nil {
                problems.append("tls.certificate_file needs tls.key_file")
            }
            if tls.keyFile != nil, tls.certificateFile == nil {
                problems.append("tls.key_file needs tls.certificate_file")
            }
            if tls.keyPassword != nil, tls.keyFile == nil { problems.append("tls.key_password needs tls.key_file") }
        }
        return problems
    }

    /// The files these settings read (`(setting, path)`), for checking they are readable before start.
    public var files: [(setting: String, path: String)] {
        guard let tls else { return [] }
        return [
            ("tls.ca_file", tls.caFile), ("tls.certificate_file", tls.certificateFile), ("tls.key_file", tls.keyFile),
        ]
        .compactMap { setting, path in path.map { (setting, $0) } }
    }
}

/// A secret property value (a password), read only when a client is created and never printed: its description is
/// the reference it was configured with (`${env:KAFKA_PASSWORD}`), not the value.
public struct KafkaSecret: Sendable, CustomStringConvertible {
    /// How the value was configured, safe to print (`${env:NAME}`, `${file:PATH}`).
    public let reference: String
    private let read: @Sendable () throws -> String

    /// A secret read by `read` each time a client is created.
    public init(reference: String, read: @escaping @Sendable () throws -> String) {
        self.reference = reference
        self.read = read
    }

    /// A secret given as a value (tests, tools).
    public static func value(_ value: String) -> KafkaSecret {
        KafkaSecret(reference: "<inline>") { value }
    }

    /// Reads the value now.
    public func resolve() throws -> String { try read() }

    public var description: String { reference }
}
