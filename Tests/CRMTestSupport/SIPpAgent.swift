import Foundation

/// A SIPp process (Debian `sip-tester`) running one scenario file from `deploy/cti/`, in the foreground (never
/// `-bg`), with its screen and error log in a temp directory. UAS agents are started first and exit after `-m`
/// calls; UAC agents are awaited with ``waitForExit(timeout:)``.
public final class SIPpAgent: Sendable {
    public let port: Int
    public let directory: URL
    private let process: ChildProcess

    /// Starts `sipp -sf SCENARIO -i 127.0.0.1 -p PORT -nostdin ARGUMENTS`.
    public init(scenario: String, port: Int? = nil, arguments: [String]) throws {
        let binary = try locateExecutable("sipp", package: "sip-tester")
        self.port = try port ?? freePort()
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("crmhub-sipp-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let scenarioPath = repositoryRoot.appendingPathComponent("deploy/cti/\(scenario)").path
        let screen = directory.appendingPathComponent("screen.log")
        // posix_spawn + waitpid (ChildProcess): Foundation's Process sometimes never notices a child's exit when tests
        // start processes in parallel, and SIPp was left defunct while the test waited.
        process = try ChildProcess(
            binary,
            [
                "-sf", scenarioPath, "-i", "127.0.0.1", "-p", String(self.port), "-nostdin", "-trace_err",
                "-error_file", directory.appendingPathComponent("errors.log").path,
            ] + arguments,
            outputPath: screen.path)
    }

    deinit { stop() }

    public var isRunning: Bool { process.isRunning }

    /// SIPp's errors and the tail of its screen, for failure messages.
    public var diagnostics: String {
        let errors = (try? String(contentsOf: directory.appendingPathComponent("errors.log"), encoding: .utf8)) ?? ""
        let screen = (try? String(contentsOf: directory.appendingPathComponent("screen.log"), encoding: .utf8)) ?? ""
        return "errors:\n\(errors.suffix(1500))\nscreen:\n\(screen.suffix(1500))"
    }

    /// Waits for SIPp to exit; returns its status (0: every call succeeded), nil if it was still running at the
    /// deadline (it is then killed).
    public func waitForExit(timeout: Duration) async -> Int32? {
        if !(await process.waitForExit(timeout: timeout)) {
            stop()
            return nil
        }
        return process.wait(timeout: 0) ?? -1
    }

    /// Kills SIPp by PID (SIGKILL: children of Swift Testing ignore SIGTERM).
    public func stop() {
        process.stop(grace: 0)
    }
}
