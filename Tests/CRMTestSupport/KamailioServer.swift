import Foundation

/// Kamailio (Debian `kamailio` + `kamailio-extra-modules` for evapi) started in the foreground (`-DD -E`) with the
/// shipped `deploy/cti/kamailio.cfg`, its own runtime directory and PID file in a temp directory, SIP on
/// `udp:127.0.0.1:sipPort` and evapi on `127.0.0.1:evapiPort`. Stopped by PID: its worker processes are found by
/// parent PID first, so none outlive the test even if the main process ignores SIGTERM.
public final class KamailioServer: Sendable {
    public let sipPort: Int
    public let evapiPort: Int
    public let directory: URL
    private let process: ChildProcess

    /// Starts Kamailio and waits until evapi accepts connections. Pass the ports of a stopped instance to start it
    /// again where its clients look for it; `defines` are extra `-A NAME=VALUE` preprocessor defines.
    public init(
        configuration: URL = repositoryRoot.appendingPathComponent("deploy/cti/kamailio.cfg"), sipPort: Int? = nil,
        evapiPort: Int? = nil,
        defines: [String: String] = [:]
    ) throws {
        let binary = try locateExecutable("kamailio", package: "kamailio kamailio-extra-modules")
        guard
            FileManager.default.fileExists(atPath: "/usr/lib/x86_64-linux-gnu/kamailio/modules/evapi.so")
                || FileManager.default.fileExists(atPath: "/usr/lib/kamailio/modules/evapi.so")
                || FileManager.default.fileExists(atPath: "/usr/lib/aarch64-linux-gnu/kamailio/modules/evapi.so")
        else {
            throw TestSetupError("Kamailio's evapi module is missing: apt-get install -y kamailio-extra-modules")
        }
        self.sipPort = try sipPort ?? freeUDPPort()
        self.evapiPort = try evapiPort ?? freePort()
        directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "crmhub-kamailio-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let log = directory.appendingPathComponent("kamailio.log")
        // posix_spawn + waitpid (ChildProcess), not Foundation's Process: see SIPpAgent.
        process = try ChildProcess(
            binary,
            [
                "-DD", "-E", "-f", configuration.path, "-Y", directory.path, "-P",
                directory.appendingPathComponent("kamailio.pid").path,
                "-m", "32", "-M", "4", "-A", "SIP_LISTEN=udp:127.0.0.1:\(self.sipPort)", "-A",
                "EVAPI_BIND=\"127.0.0.1:\(self.evapiPort)\"",
            ] + defines.sorted(by: { $0.key < $1.key }).flatMap { ["-A", "\($0.key)=\($0.value)"] },
            outputPath: log.path)
        let deadline = Date().addingTimeInterval(15)
        while !canConnect(port: self.evapiPort) {
            guard Date() < deadline, process.isRunning else {
                stop()
                let text = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
                throw TestSetupError(
                    "Kamailio did not open evapi on 127.0.0.1:\(self.evapiPort); log:\n\(text.suffix(2000))")
            }
            usleep(50_000)
        }
    }

    deinit { stop() }

    /// What Kamailio logged so far.
    public var log: String {
        (try? String(contentsOf: directory.appendingPathComponent("kamailio.log"), encoding: .utf8)) ?? ""
    }

    /// Kills Kamailio and its workers with SIGKILL, as a crash would (the evapi clients see their connection drop).
    public func crash() {
        let workers = childProcesses(of: process.pid)
        kill(process.pid, SIGKILL)
        for worker in workers { kill(worker, SIGKILL) }
        process.stop(grace: 0)
    }

    /// Stops Kamailio and its workers by PID (SIGTERM, then SIGKILL after 2 s) and removes the temp directory.
    public func stop() {
        guard process.isRunning else {
            try? FileManager.default.removeItem(at: directory)
            return
        }
        let workers = childProcesses(of: process.pid)
        kill(process.pid, SIGTERM)
        let deadline = Date().addingTimeInterval(2)
        while process.isRunning && Date() < deadline { usleep(20_000) }
        for worker in workers { kill(worker, SIGKILL) }
        process.stop(grace: 0)
        try? FileManager.default.removeItem(at: directory)
    }
}

/// PIDs whose parent is `parent` (from /proc).
public func childProcesses(of parent: pid_t) -> [pid_t] {
    guard let entries = try? FileManager.default.contentsOfDirectory(atPath: "/proc") else { return [] }
    var children: [pid_t] = []
    for entry in entries {
        guard let pid = pid_t(entry),
            let stat = try? String(contentsOfFile: "/proc/\(entry)/stat", encoding: .utf8),
            let close = stat.lastIndex(of: ")")
        else { continue }
        // "pid (comm) state ppid ..."
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        if fields.count > 1, pid_t(fields[1]) == parent { children.append(pid) }
    }
    return children
}

/// The path of `name` in the usual system directories or PATH, or a setup error naming the Debian package.
public func locateExecutable(_ name: String, package: String) throws -> String {
    let path = ProcessInfo.processInfo.environment["PATH"] ?? ""
    let directories =
        ["/usr/sbin", "/usr/bin", "/usr/local/sbin", "/usr/local/bin", "/sbin", "/bin"]
        + path.split(separator: ":").map(String.init)
    for directory in directories {
        let candidate = URL(fileURLWithPath: directory).appendingPathComponent(name).path
        if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
    }
    throw TestSetupError("\(name) is not installed: apt-get install -y \(package)")
}
