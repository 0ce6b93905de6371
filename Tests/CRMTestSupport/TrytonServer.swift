import Foundation

/// A real Tryton server (trytond with party, sale, company and accounting) started for one test on a free
/// 127.0.0.1 port, on a copy of a template SQLite database, and stopped by its PID.
///
/// The template (company, fiscal year, chart of accounts, payment term, product `WID-1`) is built once by
/// `deploy/testing/tryton_template.py` and cached (by trytond version, script and month) under
/// `.venv-tryton/crmhub-templates/` (or `CRMHUB_TRYTON_CACHE`), so tests do not pay for the initialisation.
/// Tryton comes from the venv `.venv-tryton` (or `CRMHUB_TRYTON_VENV`) that `deploy/lib/env.sh` creates.
public final class TrytonServer: Sendable {
    public static let database = "crmhub"
    public static let user = "admin"
    public static let password = "crmhub-admin"

    public let port: Int
    /// The temporary folder with the database copy, the configuration and the server log.
    public let directory: URL
    private let process: ChildProcess

    /// `http://127.0.0.1:PORT`.
    public var url: String { "http://127.0.0.1:\(port)" }

    /// Builds or reuses the template, then starts trytond on a copy of it and waits until it accepts connections.
    public static func start() async throws -> TrytonServer {
        let venv = try locateVenv()
        let template = try await templatePath(venv: venv)
        let server = try TrytonServer(venv: venv, template: template)
        await eventually(timeout: .seconds(120), poll: .milliseconds(100)) {
            canConnect(port: server.port) || !server.process.isRunning
        }
        guard canConnect(port: server.port) else {
            let log = server.logTail()
            server.stop()
            throw TestSetupError("trytond did not start listening on 127.0.0.1:\(server.port); log:\n\(log)")
        }
        return server
    }

    private init(venv: URL, template: String) throws {
        port = try freePort()
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("crmhub-tryton-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try FileManager.default.copyItem(
            atPath: template, toPath: directory.appendingPathComponent("\(Self.database).sqlite").path)
        let configuration = directory.appendingPathComponent("trytond.conf")
        let text = """
            [web]
            listen = 127.0.0.1:\(port)

            [database]
            uri = sqlite://
            path = \(directory.path)

            [session]
            timeout = 3600
            """
        try text.write(to: configuration, atomically: true, encoding: .utf8)
        let log = directory.appendingPathComponent("trytond.log")
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        // posix_spawn + waitpid (ChildProcess): Foundation's Process can miss a child's exit when tests run in parallel.
        process = try ChildProcess(
            venv.appendingPathComponent("bin/trytond").path, ["-c", configuration.path, "-d", Self.database],
            outputPath: log.path,
            workingDirectory: directory.path)
    }

    deinit {
        stop()
        try? FileManager.default.removeItem(at: directory)
    }

    /// The server's process id.
    public var pid: Int32 { process.pid }

    /// Stops the server by PID (SIGTERM, then SIGKILL: children of Swift Testing may ignore SIGTERM) and waits.
    public func stop() {
        guard process.isRunning else { return }
        kill(process.pid, SIGCONT)
        process.stop(grace: 2)
    }

    /// Freezes the server (SIGSTOP): connections are accepted by the kernel but never answered, like a hung ERP.
    public func pause() { kill(process.pid, SIGSTOP) }

    /// Thaws a paused server (SIGCONT).
    public func resume() { kill(process.pid, SIGCONT) }

    /// The last lines of the server log (for failure messages).
    public func logTail(_ characters: Int = 3_000) -> String {
        let text = (try? String(contentsOf: directory.appendingPathComponent("trytond.log"), encoding: .utf8)) ?? ""
        return String(text.suffix(characters))
    }

    // MARK: Setup

    public static func locateVenv() throws -> URL {
        let environment = ProcessInfo.processInfo.environment
        let venv =
            environment["CRMHUB_TRYTON_VENV"].map { URL(fileURLWithPath: $0) }
            ?? repositoryRoot.appendingPathComponent(".venv-tryton")
        guard FileManager.default.isExecutableFile(atPath: venv.appendingPathComponent("bin/trytond").path) else {
            throw TestSetupError(
                "trytond not found in \(venv.path): run deploy/test.sh (its ensure_tryton_env installs it) or set CRMHUB_TRYTON_VENV"
            )
        }
        return venv
    }

    /// Runs `deploy/testing/tryton_template.py` (fast when the template is cached) and returns the template file.
    static func templatePath(venv: URL) async throws -> String {
        let environment = ProcessInfo.processInfo.environment
        let cache = environment["CRMHUB_TRYTON_CACHE"] ?? venv.appendingPathComponent("crmhub-templates").path
        let output = FileManager.default.temporaryDirectory.appendingPathComponent(
            "crmhub-tryton-template-\(UUID().uuidString).out")
        _ = FileManager.default.createFile(atPath: output.path, contents: nil)
        defer { try? FileManager.default.removeItem(at: output) }
        let script = try ChildProcess(
            venv.appendingPathComponent("bin/python").path,
            [repositoryRoot.appendingPathComponent("deploy/testing/tryton_template.py").path, cache],
            outputPath: output.path)
        // The first build initialises the database (a minute or more on a busy machine); later runs reuse it.
        guard await script.waitForExit(timeout: .seconds(1_200)) else {
            script.stop(grace: 0)
            throw TestSetupError("building the Tryton template database took longer than 20 minutes")
        }
        let status = script.wait(timeout: 0)
        let text = (try? String(contentsOf: output, encoding: .utf8)) ?? ""
        let lastLine = text.split(separator: "\n").last.map(String.init) ?? ""
        guard status == 0, lastLine.hasSuffix(".sqlite"), FileManager.default.fileExists(atPath: lastLine) else {
            throw TestSetupError(
                "tryton_template.py failed (status \(status.map(String.init) ?? "killed")):\n\(text.suffix(3_000))")
        }
        return lastLine
    }
}
