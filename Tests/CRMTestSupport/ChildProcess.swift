import Foundation

/// A child process started with `posix_spawn` and reaped with `waitpid`, for peers and helper commands in tests.
///
/// Unlike Foundation's `Process`, the child starts with an empty signal mask and default signal handlers (children of
/// Swift Testing otherwise inherit a mask that blocks SIGTERM), its output goes to a file (a pipe's write end would
/// leak into processes concurrent tests spawn), and waiting never depends on a run loop (`Process.waitUntilExit`
/// can hang when tests start processes in parallel).
public final class ChildProcess: @unchecked Sendable {
    /// The child's process id; signals go to it only while the child has not been reaped.
    public let pid: pid_t
    /// The file standard output goes to (and standard error, unless the child was given an `errorPath`).
    public let outputPath: String
    /// The file standard error goes to, when it is not `outputPath`.
    public let errorPath: String?
    private let lock = NSLock()
    private var exitStatus: Int32?  // guarded by `lock`

    /// Starts `executable` with `arguments`; standard input is /dev/null, standard output is appended to `outputPath`,
    /// standard error to `errorPath` (default: `outputPath` too). `environment` adds to (or overrides) this process's
    /// environment and `removingEnvironment` names variables the child does not inherit; `workingDirectory` is where
    /// the child starts (default: here).
    public init(
        _ executable: String, _ arguments: [String], outputPath: String, errorPath: String? = nil,
        environment: [String: String] = [:],
        removingEnvironment: [String] = [], workingDirectory: String? = nil
    ) throws {
        self.outputPath = outputPath
        self.errorPath = errorPath
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, outputPath, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        if let errorPath {
            posix_spawn_file_actions_addopen(&actions, 2, errorPath, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        } else {
            posix_spawn_file_actions_adddup2(&actions, 1, 2)
        }
        // Close every other inherited descriptor: a long-lived peer holding the pipe Foundation uses to notice another
        // child's exit makes that child's `waitUntilExit` hang for ever.
        for descriptor in Self.openDescriptors() where descriptor > 2 {
            posix_spawn_file_actions_addclose(&actions, descriptor)
        }

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var emptyMask = sigset_t()
        sigemptyset(&emptyMask)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for signal in [SIGTERM, SIGINT, SIGHUP, SIGPIPE, SIGCHLD] { sigaddset(&defaults, signal) }
        posix_spawnattr_setsigmask(&attributes, &emptyMask)
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))

        // `env -C DIR` changes directory and execs (posix_spawn_file_actions_addchdir_np is not visible from Swift).
        let command =
            workingDirectory.map { ["/usr/bin/env", "-C", $0, executable] + arguments } ?? [executable] + arguments
        let argv: [UnsafeMutablePointer<CChar>?] = command.map { strdup($0) } + [nil]
        defer { for argument in argv { free(argument) } }
        var merged = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        for name in removingEnvironment { merged[name] = nil }
        let envp: [UnsafeMutablePointer<CChar>?] = merged.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { for entry in envp { free(entry) } }
        var child: pid_t = 0
        let result = posix_spawn(&child, command[0], &actions, &attributes, argv, envp)
        guard result == 0 else {
            throw TestSetupError("cannot start \(executable): \(String(cString: strerror(result)))")
        }
        pid = child
    }

    /// The descriptors open in this process now (from /proc/self/fd), except the one used to list them.
    static func openDescriptors() -> [Int32] {
        guard let directory = opendir("/proc/self/fd") else { return [] }
        defer { closedir(directory) }
        let own = dirfd(directory)
        var descriptors: [Int32] = []
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) {
                String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self)
            }
            if let descriptor = Int32(name), descriptor != own, fcntl(descriptor, F_GETFD) != -1 {
                descriptors.append(descriptor)
            }
        }
        return descriptors
    }

    /// True until the process exited (reaps it when it did).
    public var isRunning: Bool {
        lock.withLock {
            guard exitStatus == nil else { return false }
            var status: Int32 = 0
            let result = waitpid(pid, &status, WNOHANG)
            if result == pid || (result < 0 && errno == ECHILD) { exitStatus = status }
            return exitStatus == nil
        }
    }

    /// How the process ended, as Foundation's `Process.terminationStatus` says it: the exit code when it exited, the
    /// signal's number when a signal killed it; -1 while it is still running.
    public var terminationStatus: Int32 {
        guard !isRunning, let status = lock.withLock({ exitStatus }) else { return -1 }
        return (status & 0x7f) == 0 ? (status >> 8) & 0xff : status & 0x7f
    }

    /// What the child wrote to `outputPath` so far (empty when it cannot be read, e.g. /dev/null).
    public var output: String {
        (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? ""
    }

    /// What the child wrote to standard error so far: the `errorPath` file, or `output` when both go to one file.
    public var errorOutput: String {
        errorPath.map { (try? String(contentsOfFile: $0, encoding: .utf8)) ?? "" } ?? output
    }

    /// Sends `signal` to the process by PID, unless it already exited (its PID may then belong to another process).
    public func signal(_ signal: Int32) {
        if isRunning { kill(pid, signal) }
    }

    /// Sends SIGTERM, then SIGKILL after `grace`, and reaps the process.
    public func stop(grace: TimeInterval = 2) {
        guard isRunning else { return }
        kill(pid, SIGTERM)
        let deadline = Date().addingTimeInterval(grace)
        while isRunning && Date() < deadline { usleep(20_000) }
        if isRunning { kill(pid, SIGKILL) }
        let hardDeadline = Date().addingTimeInterval(10)
        while isRunning && Date() < hardDeadline { usleep(10_000) }
    }

    /// Kills the process with SIGKILL by PID and reaps it (at most 10 s).
    public func kill9() {
        stop(grace: 0)
    }

    /// Kills the process with SIGKILL as soon as its standard error has a line satisfying `predicate`, watching from a
    /// thread of its own (a busy cooperative pool cannot delay the kill past the moment a test means to crash the child
    /// in). Checks for at most `timeout`; the process is killed and reaped in any case.
    ///
    /// - Returns: true if such a line was there (before the kill, or by the time the wait ended).
    public func kill9(
        onLine predicate: @escaping @Sendable (Substring) -> Bool, within timeout: TimeInterval
    ) async -> Bool {
        let seen =
            (try? await offPool { [self] in
                let deadline = Date().addingTimeInterval(timeout)
                while Date() < deadline && isRunning {
                    if errorOutput.split(separator: "\n").contains(where: predicate) {
                        kill(pid, SIGKILL)
                        return true
                    }
                    usleep(5_000)
                }
                return errorOutput.split(separator: "\n").contains(where: predicate)
            }) ?? false
        kill9()
        return seen
    }

    /// Waits (at most `timeout`) for the process to exit and returns its exit code, or nil when it was killed by a
    /// signal or is still running.
    public func wait(timeout: TimeInterval = 60) -> Int32? {
        let deadline = Date().addingTimeInterval(timeout)
        while isRunning && Date() < deadline { usleep(5_000) }
        guard let status = lock.withLock({ exitStatus }) else { return nil }
        return (status & 0x7f) == 0 ? (status >> 8) & 0xff : nil
    }

    /// Waits for the process to exit, suspending (not blocking a thread) for at most `timeout`.
    ///
    /// - Returns: true if it exited in time (see ``terminationStatus``); false if it is still running.
    public func waitForExit(timeout: Duration) async -> Bool {
        await eventually(timeout: timeout, poll: .milliseconds(20)) { !isRunning }
    }
}

extension ChildProcess {
    /// Starts the `crmhub` executable (``crmhubBinary()``) with `arguments`, standard output to `outputPath` (default:
    /// discarded) and standard error to `errorPath` (default: a fresh file under the temporary directory); read it
    /// with ``errorOutput``. The child does not inherit `CRMHUB_BINARY`.
    public static func crmhub(
        _ arguments: [String], outputPath: String = "/dev/null", errorPath: String? = nil
    ) throws -> ChildProcess {
        let errors =
            errorPath
            ?? FileManager.default.temporaryDirectory.appendingPathComponent("crmhub-child-\(UUID().uuidString).stderr")
            .path
        return try ChildProcess(
            try crmhubBinary(), arguments, outputPath: outputPath, errorPath: errors,
            removingEnvironment: ["CRMHUB_BINARY"])
    }
}

/// The `crmhub` executable the tests run: `CRMHUB_BINARY`, else next to the test bundle, else `.build/debug/crmhub`.
public func crmhubBinary() throws -> String {
    if let path = ProcessInfo.processInfo.environment["CRMHUB_BINARY"],
        FileManager.default.isExecutableFile(atPath: path)
    {
        return path
    }
    var candidates: [String] = []
    var directory = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
    for _ in 0..<4 {
        candidates.append(directory.appendingPathComponent("crmhub").path)
        directory = directory.deletingLastPathComponent()
    }
    candidates.append(repositoryRoot.appendingPathComponent(".build/debug/crmhub").path)
    for candidate in candidates where FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
    throw TestSetupError(
        "crmhub binary not found (looked at \(candidates)): build it (swift build) or set CRMHUB_BINARY")
}

extension ChildProcess {
    /// Runs `executable` to completion, blocking (at most `timeout`; it is then killed), and returns its
    /// ``terminationStatus`` and what it wrote on standard output, and on standard error too unless `errorPath` names
    /// a file (or /dev/null) for it.
    public static func run(
        _ executable: String, _ arguments: [String], errorPath: String? = nil, timeout: TimeInterval = 60
    ) throws -> (status: Int32, output: String) {
        let outputPath = FileManager.default.temporaryDirectory.appendingPathComponent(
            "crmhub-run-\(UUID().uuidString)"
        ).path
        defer { try? FileManager.default.removeItem(atPath: outputPath) }
        let child = try ChildProcess(executable, arguments, outputPath: outputPath, errorPath: errorPath)
        if child.wait(timeout: timeout) == nil { child.kill9() }
        return (child.terminationStatus, child.output)
    }
}

/// Runs `executable` to completion (at most `timeout`) and returns what it wrote on standard output and error;
/// throws when it does not exit with 0.
public func runCapturingOutput(_ executable: String, _ arguments: [String], timeout: TimeInterval = 60) throws -> String
{
    let (status, text) = try ChildProcess.run(executable, arguments, timeout: timeout)
    guard status == 0 else {
        throw TestSetupError("\(executable) \(arguments.joined(separator: " ")) failed (status \(status)): \(text)")
    }
    return text
}
