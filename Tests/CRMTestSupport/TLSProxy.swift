import Foundation

/// A test certificate authority and a server certificate for 127.0.0.1 / localhost (subjectAltName), made with
/// `openssl` in a fresh folder, plus a second, unrelated CA (for "wrong CA" tests).
public struct TestCertificates: Sendable {
    /// The folder holding every file.
    public let directory: String
    /// PEM of the CA that signed the server certificate.
    public var caFile: String { "\(directory)/ca.pem" }
    /// PEM of a CA that signed nothing here.
    public var otherCAFile: String { "\(directory)/other-ca.pem" }
    /// The server's PEM certificate and unencrypted key.
    public var serverCertificateFile: String { "\(directory)/server.pem" }
    public var serverKeyFile: String { "\(directory)/server.key" }
    /// A client certificate signed by the CA (for mutual TLS) and its unencrypted key.
    public var clientCertificateFile: String { "\(directory)/client.pem" }
    public var clientKeyFile: String { "\(directory)/client.key" }

    public init() throws {
        directory = try temporaryFolder([:], prefix: "crmhub-tls")
        try "subjectAltName=IP:127.0.0.1,DNS:localhost\n".write(
            toFile: "\(directory)/san.ext", atomically: true, encoding: .utf8)
        let steps: [[String]] = [
            [
                "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=crmhub test CA",
                "-keyout", "\(directory)/ca.key", "-out", "\(directory)/ca.pem",
            ],
            [
                "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=another CA",
                "-keyout", "\(directory)/other-ca.key", "-out", "\(directory)/other-ca.pem",
            ],
            [
                "req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost", "-keyout", "\(directory)/server.key",
                "-out",
                "\(directory)/server.csr",
            ],
            [
                "x509", "-req", "-in", "\(directory)/server.csr", "-CA", "\(directory)/ca.pem", "-CAkey",
                "\(directory)/ca.key", "-CAcreateserial", "-days",
                "2", "-extfile", "\(directory)/san.ext", "-out", "\(directory)/server.pem",
            ],
            [
                "req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=crmhub test client", "-keyout",
                "\(directory)/client.key", "-out", "\(directory)/client.csr",
            ],
            [
                "x509", "-req", "-in", "\(directory)/client.csr", "-CA", "\(directory)/ca.pem", "-CAkey",
                "\(directory)/ca.key", "-CAcreateserial", "-days", "2", "-out", "\(directory)/client.pem",
            ],
        ]
        for step in steps {
            let (status, _) = try ChildProcess.run(
                "/usr/bin/openssl", step, errorPath: "\(directory)/openssl.log", timeout: 60)
            guard status == 0 else {
                throw TestSetupError("openssl \(step[0]) failed; see \(directory)/openssl.log")
            }
        }
    }
}

/// stunnel (Debian `stunnel4`) terminating TLS on a free 127.0.0.1 port and forwarding plaintext to `targetPort`:
/// a TLS listener in front of a broker without TLS. Stopped by its PID.
public final class TLSProxy: Sendable {
    public let port: Int
    private let process: ChildProcess

    /// Starts the proxy on `port` (pick it first with ``freePort()`` when the broker must advertise it). With
    /// `requireClientCertificate` a client must present a certificate signed by the test CA (stunnel `verify = 2`).
    public init(
        port: Int, targetPort: Int, certificates: TestCertificates, requireClientCertificate: Bool = false
    ) throws {
        self.port = port
        let binary = ["/usr/bin/stunnel4", "/usr/bin/stunnel"].first {
            FileManager.default.isExecutableFile(atPath: $0)
        }
        guard let binary else {
            throw TestSetupError("stunnel not found: apt-get install stunnel4 (deploy/lib/env.sh lists it)")
        }
        let configuration = "\(certificates.directory)/stunnel-\(port).conf"
        try """
        foreground = yes
        pid =
        debug = notice
        [kafka]
        accept = 127.0.0.1:\(port)
        connect = 127.0.0.1:\(targetPort)
        cert = \(certificates.serverCertificateFile)
        key = \(certificates.serverKeyFile)
        \(requireClientCertificate ? "verify = 2\nCAfile = \(certificates.caFile)" : "")
        """.write(toFile: configuration, atomically: true, encoding: .utf8)
        process = try ChildProcess(
            binary, [configuration], outputPath: "\(certificates.directory)/stunnel-\(port).log")
        let deadline = Date().addingTimeInterval(10)
        while !canConnect(port: port) {
            guard Date() < deadline, process.isRunning else {
                stop()
                throw TestSetupError("stunnel did not listen on 127.0.0.1:\(port); see \(configuration)")
            }
            usleep(50_000)
        }
    }

    deinit { stop() }

    /// Stops the proxy by PID and waits for it.
    public func stop() {
        process.stop(grace: 5)
    }
}
