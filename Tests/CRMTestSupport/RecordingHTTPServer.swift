import Foundation

/// `deploy/testing/recording_http_server.py`, a loopback HTTP target that records what it accepts, started on a
/// free port and stopped by PID. See the script for its modes (`ok`, `503`, `429:N`, `422-if:TEXT`, `slow:MS`).
public final class RecordingHTTPServer: Sendable {
    public let port: Int
    /// The JSON-lines file of accepted requests.
    public let recordPath: String
    private let process: ChildProcess

    public var url: String { "http://127.0.0.1:\(port)" }

    public init() throws {
        port = try freePort()
        recordPath = FileManager.default.temporaryDirectory.appendingPathComponent("crmhub-target-\(UUID()).jsonl").path
        // posix_spawn + waitpid (ChildProcess): Foundation's Process can miss a child's exit when tests run in parallel.
        process = try ChildProcess(
            "/usr/bin/python3",
            [
                repositoryRoot.appendingPathComponent("deploy/testing/recording_http_server.py").path, String(port),
                recordPath,
            ],
            outputPath: "/dev/null")
        let deadline = Date().addingTimeInterval(10)
        while !canConnect(port: port) {
            guard Date() < deadline, process.isRunning else {
                stop()
                throw TestSetupError("recording HTTP server did not start on 127.0.0.1:\(port)")
            }
            usleep(50_000)
        }
    }

    deinit {
        stop()
        try? FileManager.default.removeItem(atPath: recordPath)
    }

    /// Every accepted request, oldest first.
    public func records() -> [[String: Any]] {
        guard let text = try? String(contentsOfFile: recordPath, encoding: .utf8) else { return [] }
        return text.split(separator: "\n").compactMap { line in
            try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
        }
    }

    /// Switches the answer mode (through the server's control endpoint, with curl(1) to stay independent of the
    /// code under test).
    public func setMode(_ mode: String) throws {
        do {
            _ = try runCapturingOutput(
                "/usr/bin/curl", ["-sf", "-X", "POST", "--data", mode, "\(url)/_control/mode"], timeout: 30)
        } catch {
            throw TestSetupError("cannot set the recording server's mode to \(mode): \(error)")
        }
    }

    /// Stops the server by PID (SIGKILL: it holds no state that needs flushing; every record is written whole).
    public func stop() {
        process.stop(grace: 0)
    }
}
