import Foundation

/// OpenSSH's sshd, started for one test in the foreground (`sshd -D -e -f CONFIG`) on a free 127.0.0.1 port with
/// its own configuration, ed25519 host key and authorized client key in a temporary directory, serving SFTP with
/// `internal-sftp`. It lets in only the user the tests run as, by public key. Stopped by PID (see ``stop()``).
///
/// Needs Debian's `openssh-server` and `openssh-client` (for ssh-keygen).
public final class SSHServer: Sendable {
    public let port: Int
    /// The temporary directory holding the configuration, keys and ``dropDirectory``.
    public let root: URL
    /// An empty folder for tests to use as the remote drop folder (an absolute path on the server).
    public let dropDirectory: URL
    /// The login (the user the tests run as).
    public let user: String
    /// An ed25519 private key (no passphrase) the server accepts.
    public let clientKey: String
    /// The server's host key fingerprint, `SHA256:…`, as ssh-keygen prints it.
    public let hostKeySHA256: String
    private let process: ChildProcess

    public init() throws {
        let sshd = "/usr/sbin/sshd"
        guard FileManager.default.isExecutableFile(atPath: sshd),
            FileManager.default.isExecutableFile(atPath: Self.sshKeygen)
        else {
            throw TestSetupError(
                "OpenSSH not found: apt-get install openssh-server openssh-client (deploy/test.sh does)")
        }
        root = FileManager.default.temporaryDirectory.appendingPathComponent(
            "crmhub-sshd-\(UUID().uuidString.prefix(8))")
        dropDirectory = root.appendingPathComponent("drop")
        try FileManager.default.createDirectory(at: dropDirectory, withIntermediateDirectories: true)
        // Privilege separation directory, required when sshd runs as root.
        if getuid() == 0 {
            try? FileManager.default.createDirectory(atPath: "/run/sshd", withIntermediateDirectories: true)
        }

        guard let account = getpwuid(getuid()) else { throw TestSetupError("cannot find the name of uid \(getuid())") }
        user = String(cString: account.pointee.pw_name)
        let hostKey = root.appendingPathComponent("host_ed25519").path
        clientKey = root.appendingPathComponent("client_ed25519").path
        try Self.generateKey(at: hostKey)
        try Self.generateKey(at: clientKey)
        let authorizedKeys = root.appendingPathComponent("authorized_keys").path
        try FileManager.default.copyItem(atPath: clientKey + ".pub", toPath: authorizedKeys)
        hostKeySHA256 = try Self.fingerprint(of: hostKey + ".pub")

        port = try freePort()
        let config = """
            Port \(port)
            ListenAddress 127.0.0.1
            HostKey \(hostKey)
            PidFile \(root.appendingPathComponent("sshd.pid").path)
            UsePAM no
            StrictModes no
            PermitRootLogin prohibit-password
            PubkeyAuthentication yes
            PasswordAuthentication no
            KbdInteractiveAuthentication no
            AuthorizedKeysFile \(authorizedKeys)
            AllowUsers \(user)
            Subsystem sftp internal-sftp
            LogLevel VERBOSE

            """
        let configPath = root.appendingPathComponent("sshd_config").path
        try config.write(toFile: configPath, atomically: true, encoding: .utf8)
        let logPath = root.appendingPathComponent("sshd.log").path
        process = try ChildProcess(sshd, ["-D", "-e", "-f", configPath], outputPath: logPath)
        let deadline = Date().addingTimeInterval(10)
        while !canConnect(port: port) {
            guard Date() < deadline, process.isRunning else {
                stop()
                let output = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
                throw TestSetupError("sshd did not start listening on 127.0.0.1:\(port): \(output.suffix(600))")
            }
            usleep(50_000)
        }
    }

    deinit {
        stop()
        try? FileManager.default.removeItem(at: root)
    }

    /// Stops sshd (SIGTERM, SIGKILL after 2 s) and, first, the session processes it forked, so connections a client
    /// keeps open die too; reaps sshd.
    public func stop() {
        guard process.isRunning else { return }
        // The per-connection processes first, while they are still sshd's descendants.
        for session in descendants(of: process.pid) { kill(session, SIGKILL) }
        process.stop()
    }

    /// What sshd logged so far (authentication refusals and the like), for failing tests.
    public func log() -> String {
        (try? String(contentsOfFile: root.appendingPathComponent("sshd.log").path, encoding: .utf8)) ?? ""
    }

    /// A new ed25519 key pair (no passphrase) in the server's temporary directory that the server does NOT accept.
    public func makeUnauthorizedKey() throws -> String {
        let path = root.appendingPathComponent("stranger_\(UUID().uuidString.prefix(8))").path
        try Self.generateKey(at: path)
        return path
    }

    private static let sshKeygen = "/usr/bin/ssh-keygen"

    private static func generateKey(at path: String) throws {
        let output = try run(sshKeygen, ["-q", "-t", "ed25519", "-N", "", "-C", "crmhub-test", "-f", path])
        guard FileManager.default.fileExists(atPath: path) else {
            throw TestSetupError("ssh-keygen made no key at \(path): \(output)")
        }
    }

    /// `ssh-keygen -lf KEY.pub -E sha256` prints `256 SHA256:… comment (ED25519)`.
    private static func fingerprint(of publicKey: String) throws -> String {
        let output = try run(sshKeygen, ["-lf", publicKey, "-E", "sha256"])
        guard let field = output.split(separator: " ").first(where: { $0.hasPrefix("SHA256:") }) else {
            throw TestSetupError("no SHA256 fingerprint in ssh-keygen's output: \(output)")
        }
        return String(field)
    }

    /// Runs a short command (see ``runCapturingOutput(_:_:timeout:)``) and returns its output.
    private static func run(_ executable: String, _ arguments: [String]) throws -> String {
        try runCapturingOutput(executable, arguments)
    }
}

/// The processes descending from `pid` (children first found through /proc), deepest last.
func descendants(of pid: pid_t) -> [pid_t] {
    var parents: [pid_t: [pid_t]] = [:]
    let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
    for entry in entries {
        guard let child = pid_t(entry),
            let stat = try? String(contentsOfFile: "/proc/\(entry)/stat", encoding: .utf8),
            let close = stat.lastIndex(of: ")")
        else { continue }
        // Fields after "comm)": state ppid …
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        guard fields.count > 1, let parent = pid_t(fields[1]) else { continue }
        parents[parent, default: []].append(child)
    }
    var found: [pid_t] = []
    var queue = [pid]
    while let next = queue.popLast(), found.count < 10_000 {
        for child in parents[next] ?? [] {
            found.append(child)
            queue.append(child)
        }
    }
    return found
}
