// CRMTestSupport: a throwaway PostgreSQL 15 on a free loopback port, stopped by PID.

import Foundation

/// A real PostgreSQL 15 server (Debian's `postgresql` package) in a temporary directory, listening on a free
/// 127.0.0.1 port with password (SCRAM) authentication, `fsync` off. PostgreSQL refuses to run as root, so as root
/// the directory belongs to the `postgres` user and `initdb`/`postgres` run through `setpriv`, which execs: the
/// PID we hold is the postmaster's. `postgres -F` stays in the foreground; `stop()` sends SIGQUIT (immediate
/// shutdown) and SIGKILL if it lingers.
public final class PostgresServer: Sendable {
    /// Where Debian installs PostgreSQL 15.
    public static let binDirectory = "/usr/lib/postgresql/15/bin"

    public let port: Int
    public let user = "postgres"
    public let password: String
    /// The temporary directory (data directory, socket, log).
    public let directory: URL
    private let process: ChildProcess

    /// `postgres://postgres:…@127.0.0.1:PORT/DATABASE`.
    public func url(database: String = "postgres") -> String {
        "postgres://\(user):\(password)@127.0.0.1:\(port)/\(database)?sslmode=disable"
    }

    /// Starts a server; with `certificates` it also accepts TLS (`ssl=on`) with the test CA's server certificate.
    public init(certificates: TestCertificates? = nil) throws {
        let bin = Self.binDirectory
        for tool in ["initdb", "postgres", "psql"] where !FileManager.default.isExecutableFile(atPath: "\(bin)/\(tool)")
        {
            throw TestSetupError(
                "PostgreSQL 15 not found (\(bin)/\(tool)): apt-get install -y postgresql (deploy/lib/env.sh lists it)")
        }
        port = try freePort()
        password = "pw-\(UUID().uuidString.prefix(8))"
        directory = URL(fileURLWithPath: "/tmp/crmhub-pg-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: false)
        let owner = try Self.serverUser()
        let passwordFile = directory.appendingPathComponent("pwfile")
        try Data(password.utf8).write(to: passwordFile)
        if let owner {
            for path in [directory.path, passwordFile.path] where chown(path, owner.uid, owner.gid) != 0 {
                throw TestSetupError("cannot hand \(path) to the postgres user (errno \(errno))")
            }
        }
        let data = directory.appendingPathComponent("data").path
        let log = directory.appendingPathComponent("postgres.log")
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)

        let initdb = try Self.run(
            owner: owner,
            [
                "\(bin)/initdb", "-D", data, "-U", user, "--pwfile=\(passwordFile.path)", "--auth-host=scram-sha-256",
                "--auth-local=trust", "-E", "UTF8", "--no-locale", "--no-sync",
            ],
            in: directory, output: log)
        let status = initdb.wait(timeout: 120)
        guard status == 0 else {
            initdb.stop(grace: 0)
            throw TestSetupError("initdb failed (\(status.map(String.init) ?? "no exit")): \(Self.tail(log))")
        }
        var tlsArguments: [String] = []
        if let certificates {
            // The server reads its key only if the server's user owns it and no one else may read it.
            let certificate = directory.appendingPathComponent("server.pem").path
            let key = directory.appendingPathComponent("server.key").path
            try FileManager.default.copyItem(atPath: certificates.serverCertificateFile, toPath: certificate)
            try FileManager.default.copyItem(atPath: certificates.serverKeyFile, toPath: key)
            guard chmod(key, 0o600) == 0 else { throw TestSetupError("cannot chmod \(key) (errno \(errno))") }
            if let owner {
                for path in [certificate, key] where chown(path, owner.uid, owner.gid) != 0 {
                    throw TestSetupError("cannot hand \(path) to the postgres user (errno \(errno))")
                }
            }
            tlsArguments = ["-c", "ssl=on", "-c", "ssl_cert_file=\(certificate)", "-c", "ssl_key_file=\(key)"]
        }
        process = try Self.run(
            owner: owner,
            [
                "\(bin)/postgres", "-D", data, "-p", "\(port)", "-h", "127.0.0.1", "-k", directory.path, "-F",
                "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off", "-c",
                "max_connections=200",
            ] + tlsArguments,
            in: directory, output: log)
        let deadline = Date().addingTimeInterval(30)
        while !canConnect(port: port) {
            guard Date() < deadline, process.isRunning else {
                stop()
                throw TestSetupError("PostgreSQL did not start listening on 127.0.0.1:\(port): \(Self.tail(log))")
            }
            usleep(50_000)
        }
        // Listening is not ready: until recovery ends the server answers "the database system is starting up".
        while (try? psql("SELECT 1")) == nil {
            guard Date() < deadline, process.isRunning else {
                stop()
                throw TestSetupError("PostgreSQL on 127.0.0.1:\(port) did not accept queries: \(Self.tail(log))")
            }
            usleep(100_000)
        }
    }

    deinit { stop() }

    /// Creates an empty database and returns its URL.
    public func createDatabase(
        _ name: String = "t_\(UUID().uuidString.prefix(12).lowercased().replacingOccurrences(of: "-", with: ""))"
    ) throws -> String {
        try psql("CREATE DATABASE \"\(name)\"")
        return url(database: name)
    }

    /// Runs one SQL command with psql over TCP (as the superuser).
    public func psql(_ sql: String, database: String = "postgres") throws {
        let output = directory.appendingPathComponent("psql-\(UUID().uuidString).out").path
        defer { try? FileManager.default.removeItem(atPath: output) }
        let p = try ChildProcess(
            "\(Self.binDirectory)/psql",
            ["-h", "127.0.0.1", "-p", "\(port)", "-U", user, "-d", database, "-v", "ON_ERROR_STOP=1", "-q", "-c", sql],
            outputPath: output, environment: ["PGPASSWORD": password, "PGCONNECT_TIMEOUT": "10"])
        let status = p.wait(timeout: 60)
        guard status == 0 else {
            p.stop(grace: 0)
            throw TestSetupError("psql \(sql) failed: \((try? String(contentsOfFile: output, encoding: .utf8)) ?? "")")
        }
    }

    /// Stops the server by PID (SIGQUIT, then SIGKILL after 5 s) and removes its directory.
    public func stop() {
        if process.isRunning {
            kill(process.pid, SIGQUIT)
            process.stop(grace: 5)
        }
        try? FileManager.default.removeItem(at: directory)
    }

    // MARK: One server per test process

    private static let sharedState = SharedServer()

    /// The server shared by every test of this process: started on first use, stopped when the process exits.
    public static func shared() throws -> PostgresServer { try sharedState.get() }

    private final class SharedServer: @unchecked Sendable {
        private let lock = NSLock()
        private var server: Result<PostgresServer, any Error>?

        func get() throws -> PostgresServer {
            lock.lock()
            defer { lock.unlock() }
            if let server { return try server.get() }
            let result = Result { try PostgresServer() }
            server = result
            if case .success = result { atexit { PostgresServer.stopShared() } }
            return try result.get()
        }

        func stop() {
            lock.lock()
            defer { lock.unlock() }
            if case .success(let s) = server { s.stop() }
        }
    }

    private static func stopShared() { sharedState.stop() }

    // MARK: Helpers

    /// The postgres user's ids when running as root (PostgreSQL refuses root); `nil` otherwise.
    private static func serverUser() throws -> (uid: uid_t, gid: gid_t)? {
        guard getuid() == 0 else { return nil }
        guard let pw = getpwnam("postgres") else {
            throw TestSetupError("running as root but there is no postgres user: apt-get install -y postgresql")
        }
        return (pw.pointee.pw_uid, pw.pointee.pw_gid)
    }

    /// Starts a command, as the postgres user through `setpriv` (which execs) when running as root.
    private static func run(
        owner: (uid: uid_t, gid: gid_t)?, _ command: [String], in directory: URL, output: URL
    ) throws -> ChildProcess {
        // posix_spawn + waitpid (ChildProcess): Foundation's Process can miss a child's exit when tests run in parallel.
        let arguments =
            owner != nil
            ? ["--reuid=postgres", "--regid=postgres", "--init-groups", "--"] + command : Array(command.dropFirst())
        return try ChildProcess(
            owner != nil ? "/usr/bin/setpriv" : command[0], arguments, outputPath: output.path,
            environment: ["LC_ALL": "C"],
            workingDirectory: directory.path)
    }

    private static func tail(_ log: URL) -> String {
        let text = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
        return String(text.suffix(800))
    }
}
