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
        self.port = try port ?? freeUDPPort()
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
                "-error_file", directory.appendingPathComponent("errors.log").path, "-trace_msg", "-message_file",
                directory.appendingPathComponent("messages.log").path,
            ] + arguments,
            outputPath: screen.path)
    }

    deinit { stop() }

    public var isRunning: Bool { process.isRunning }

    /// SIPp's errors, the tail of its screen, every message of the calls that have no 200 to their BYE (that did not end) and
    /// the last SIP messages it sent and received, for failure messages.
    public var diagnostics: String {
        func text(_ file: String) -> String {
            (try? String(contentsOf: directory.appendingPathComponent(file), encoding: .utf8)) ?? ""
        }
        let messages = text("messages.log")
        return """
            errors:
            \(text("errors.log").suffix(1500))
            screen:
            \(text("screen.log").suffix(1500))
            calls without a 200 to their BYE:
            \(Self.unendedCalls(in: messages).suffix(6000))
            last messages:
            \(messages.suffix(3000))
            """
    }

    /// The messages (from a `-trace_msg` log) of every call that has no 200 answer to its BYE, in log order.
    public static func unendedCalls(in log: String) -> String {
        // The log is a run of entries, each opened by a line of dashes and a timestamp.
        var entries: [Substring] = []
        for line in log.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline) {
            if line.hasPrefix("-----") || entries.isEmpty {
                entries.append(line)
            } else {
                entries[entries.count - 1] = log[entries[entries.count - 1].startIndex..<line.endIndex]
            }
        }
        func callID(_ entry: Substring) -> Substring? {
            entry.split(whereSeparator: \.isNewline).first { $0.hasPrefix("Call-ID:") }
        }
        let ended = Set(
            entries.filter { $0.contains("SIP/2.0 200") && $0.contains("CSeq: 2 BYE") }.compactMap(callID))
        return entries.filter { entry in callID(entry).map { !ended.contains($0) } ?? false }.joined(separator: "\n")
    }

    /// Waits until SIPp itself holds its UDP port on 127.0.0.1 (as /proc shows), so that a UAC started next
    /// does not send its first INVITE to a callee that is not there yet. Throws with the diagnostics if SIPp exits
    /// first (for example because the port was taken) or the deadline passes.
    public func waitUntilListening(timeout: Duration = .seconds(10)) async throws {
        let deadline = ContinuousClock.now.advanced(by: timeout)
        while !holdsUDPPort(port, pid: process.pid) {
            guard process.isRunning, ContinuousClock.now < deadline else {
                stop()
                throw TestSetupError("SIPp did not listen on udp 127.0.0.1:\(port): \(diagnostics)")
            }
            try await Task.sleep(for: .milliseconds(20))
        }
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
