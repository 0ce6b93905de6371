import Foundation

/// A child process started with `posix_spawn` and reaped with `waitpid`, for peers and helper commands in tests.
///
/// Unlike Foundation's `Process`, the child starts with an empty signal mask and default signal handlers (children of
/// Swift Testing otherwise inherit a mask that blocks SIGTERM), its output goes to a file (a pipe's write end would
/// leak into processes concurrent tests spawn), and waiting never depends on a run loop (`Process.waitUntilExit`
/// can hang when tests start processes in parallel).
public final class ChildProcess: @unchecked Sendable {
    public let pid: pid_t
    private let lock = NSLock()
    private var exitStatus: Int32?  // guarded by `lock`

    /// Starts `executable` with `arguments`; standard input is /dev/null, standard output and error are appended to
    /// `outputPath`. `environment` adds to (or overrides) this process's environment; `workingDirectory` is where the
    /// child starts (default: here).
    public init(
        _ executable: String, _ arguments: [String], outputPath: String, environment: [String: String] = [:], workingDirectory: String? = nil
    ) throws {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, outputPath, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        // Close every other inherited descriptor: a long-lived peer holding the pipe Foundation uses to notice another
        // child's exit makes that child's `waitUntilExit` hang for ever.
        for descriptor in Self.openDescriptors() where descriptor > 2 { posix_spawn_file_actions_addclose(&actions, descriptor) }

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
        let command = workingDirectory.map { ["/usr/bin/env", "-C", $0, executable] + arguments } ?? [executable] + arguments
        let argv: [UnsafeMutablePointer<CChar>?] = command.map { strdup($0) } + [nil]
        defer { for argument in argv { free(argument) } }
        let merged = ProcessInfo.processInfo.environment.merging(environment) { $1 }
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
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            if let descriptor = Int32(name), descriptor != own, fcntl(descriptor, F_GETFD) != -1 { descriptors.append(descriptor) }
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

    /// Waits (at most `timeout`) for the process to exit and returns its exit code, or nil when it was killed by a
    /// signal or is still running.
    public func wait(timeout: TimeInterval = 60) -> Int32? {
        let deadline = Date().addingTimeInterval(timeout)
        while isRunning && Date() < deadline { usleep(5_000) }
        guard let status = lock.withLock({ exitStatus }) else { return nil }
        return (status & 0x7f) == 0 ? (status >> 8) & 0xff : nil
    }
}

/// Runs `executable` to completion (at most `timeout`) and returns what it wrote on standard output and error.
public func runCapturingOutput(_ executable: String, _ arguments: [String], timeout: TimeInterval = 60) throws -> String {
    let outputPath = FileManager.default.temporaryDirectory.appendingPathComponent("crmhub-run-\(UUID().uuidString)").path
    defer { try? FileManager.default.removeItem(atPath: outputPath) }
    let child = try ChildProcess(executable, arguments, outputPath: outputPath)
    let code = child.wait(timeout: timeout)
    if code == nil { child.stop(grace: 0) }
    let text = (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? ""
    guard code == 0 else {
        throw TestSetupError("\(executable) \(arguments.joined(separator: " ")) failed (\(code.map(String.init) ?? "no exit")): \(text)")
    }
    return text
}
