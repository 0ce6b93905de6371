import CRMDelivery
import CRMRedaction
import Foundation
import Logging
import Metrics
import Synchronization

/// A connector written in any language, run as a child program that speaks JSON lines on stdin/stdout.
///
/// The protocol (version 1; one JSON object per line, UTF-8):
///
/// | Direction | Frame | Meaning |
/// |---|---|---|
/// | hub → child | `{"type":"config","protocol":1,"connector":NAME,"role":"sink"|"source","settings":{...}}` | first line after each start |
/// | child → hub | `{"type":"hello","protocol":1}` | ready; the hub sends nothing else before it |
/// | hub → child | `{"type":"message","id":ID,"key":KEY|null,"headers":{...},"value":JSON}` | sink: deliver this |
/// | child → hub | `{"type":"ack","id":ID}` / `{"type":"nack","id":ID,"reason":TEXT,"retry":BOOL}` | sink: outcome |
/// | child → hub | `{"type":"message","id":ID,"key":KEY,"value":JSON}` | source: store this |
/// | hub → child | `{"type":"ack","id":ID}` / `{"type":"nack","id":ID,"reason":TEXT}` | source: stored in Kafka, or not |
/// | child → hub | `{"type":"log","level":"info","message":TEXT}` | a log line, re-emitted by the hub |
///
/// A value that is not JSON travels as `"value_base64"` instead of `"value"`. Anything the child writes to stderr is
/// logged. When the child exits or breaks the protocol, the hub fails whatever it had in flight as retriable (a
/// sink's messages are retried and keep their offsets; a source must re-send what it has not seen acknowledged), and
/// restarts it with exponential backoff (0.5 s doubling to 30 s, reset after a minute of health).
public actor ConnectorProcess {
    public struct Settings: Sendable {
        public var name: String
        /// Program and arguments.
        public var command: [String]
        public var role: Role
        /// Passed to the child in the `config` frame (secrets already resolved).
        public var settings: [String: String] = [:]
        public var environment: [String: String] = [:]
        /// The folder the child runs in (`nil`: the hub's).
        public var workingDirectory: String?
        /// Waits between restarts of a child that exited: 0.5 s doubling to 30 s, reset after a minute of health.
        public var restartBackoff = Backoff(initial: .milliseconds(500), maximum: .seconds(30))

        public init(name: String, command: [String], role: Role) {
            self.name = name
            self.command = command
            self.role = role
        }
    }

    public enum Role: String, Sendable { case sink, source }

    /// Lines a child sends, already parsed.
    public enum Frame: Sendable {
        case hello
        case ack(id: String)
        case nack(id: String, reason: String, retry: Bool)
        case message(id: String, key: String?, value: [UInt8])
        case log(level: Logger.Level, message: String)
    }

    public let settings: Settings
    private let logger: Logger
    private let restarts: Counter
    private var process: Process?
    private var input: FileHandle?
    private var generation = 0
    private var ready = false
    private var readyWaiters: [CheckedContinuation<Void, Never>] = []
    private var frameHandler: (@Sendable (Frame) async -> Void)?
    private var exitHandler: (@Sendable () async -> Void)?
    private var restartAttempt = 0
    private var startedAt = ContinuousClock.now
    private var stopped = false
    private let writer = DispatchQueue(label: "crmhub.connector-process.writer")
    /// The personal values of the last messages sent to the child, redacted wherever its stderr or log frames
    /// echo them.
    private var recentPersonalValues: [[String]] = []

    public init(settings: Settings, logger: Logger) {
        self.settings = settings
        var logger = logger
        logger[metadataKey: "connector"] = "\(settings.name)"
        self.logger = logger
        restarts = Counter(label: "crmhub_connector_process_restarts_total", dimensions: [("connector", settings.name)])
    }

    /// Sets what happens with the child's frames and exits, then starts it.
    public func start(onFrame: @escaping @Sendable (Frame) async -> Void, onExit: @escaping @Sendable () async -> Void)
    {
        frameHandler = onFrame
        exitHandler = onExit
        launch()
    }

    /// Stops the child (SIGTERM, then SIGKILL after 2 s) and does not restart it.
    public func stop() async {
        stopped = true
        guard let process, process.isRunning else { return }
        process.terminate()
        let pid = process.processIdentifier
        let deadline = ContinuousClock.now + .seconds(2)
        while process.isRunning && ContinuousClock.now < deadline { try? await Task.sleep(for: .milliseconds(20)) }
        if process.isRunning { kill(pid, SIGKILL) }
    }

    /// Waits until the child said hello (after a restart too).
    public func waitUntilReady() async {
        if ready { return }
        await withCheckedContinuation { readyWaiters.append($0) }
    }

    /// One frame as a line (JSON and a newline).
    public static func line(_ object: [String: Any]) -> Data {
        var line = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data("{}".utf8)
        line.append(UInt8(ascii: "\n"))
        return line
    }

    /// Sends one frame (from ``line(_:)``) to the child. Returns false when no child is ready (the caller treats it
    /// as retriable).
    @discardableResult
    public func send(_ line: Data) -> Bool {
        guard ready, let input else { return false }
        let name = settings.name
        let logger = logger
        // Pipe writes can block while the child is busy: never on the cooperative pool.
        writer.async {
            do { try input.write(contentsOf: line) } catch {
                logger.warning(
                    "cannot write to connector process", metadata: ["connector": "\(name)", "error": "\(error)"])
            }
        }
        return true
    }

    /// Remembers the personal values of a message about to be sent (the last 32 are kept), so that the child's
    /// stderr and log lines that echo them are redacted.
    public func remember(sent value: [UInt8]) {
        let personal = RedactionPolicy.installed.personalValues(inJSON: value)
        guard !personal.isEmpty else { return }
        recentPersonalValues.append(personal)
        if recentPersonalValues.count > 32 { recentPersonalValues.removeFirst() }
    }

    /// `text` from the child, through the installed ``RedactionPolicy`` and the values it was sent lately.
    public func redacted(_ text: String) -> String {
        RedactionPolicy.installed.redact(text, echoing: recentPersonalValues.flatMap { $0 })
    }

    private func logStandardError(_ line: [UInt8]) {
        logger.info(
            "connector process stderr",
            metadata: ["line": "\(redacted(String(decoding: line.prefix(500), as: UTF8.self)))"])
    }

    /// The child's process id, while it runs (tests, diagnostics).
    public var processIdentifier: Int32? { process?.isRunning == true ? process?.processIdentifier : nil }

    private func launch() {
        guard !stopped else { return }
        generation += 1
        let current = generation
        ready = false
        let child = Process()
        child.executableURL = URL(fileURLWithPath: settings.command[0])
        child.arguments = Array(settings.command.dropFirst())
        child.environment = ProcessInfo.processInfo.environment.merging(settings.environment) { $1 }
        if let directory = settings.workingDirectory { child.currentDirectoryURL = URL(fileURLWithPath: directory) }
        let stdin = Pipe()
        let stdout = Pipe()
        let stderr = Pipe()
        child.standardInput = stdin
        child.standardOutput = stdout
        child.standardError = stderr
        child.terminationHandler = { [weak self] finished in
            let status = finished.terminationStatus
            Task { await self?.exited(generation: current, status: status) }
        }
        do {
            try child.run()
        } catch {
            logger.error(
                "cannot start connector process", metadata: ["command": "\(settings.command[0])", "error": "\(error)"])
            scheduleRestart()
            return
        }
        process = child
        input = stdin.fileHandleForWriting
        startedAt = .now
        logger.info("connector process started", metadata: ["pid": "\(child.processIdentifier)"])
        LineReader.start(stdout.fileHandleForReading, name: "\(settings.name)-out") { [weak self] line in
            await self?.received(line, generation: current)
        }
        LineReader.start(stderr.fileHandleForReading, name: "\(settings.name)-err") { [weak self] line in
            await self?.logStandardError(line)
        }
        let config: [String: Any] = [
            "type": "config", "protocol": 1, "connector": settings.name, "role": settings.role.rawValue,
            "settings": settings.settings,
        ]
        let line = Self.line(config)
        let handle = stdin.fileHandleForWriting
        writer.async { try? handle.write(contentsOf: line) }
    }

    private func received(_ line: [UInt8], generation current: Int) async {
        guard current == generation, !line.isEmpty else { return }
        let frame: Frame
        do {
            frame = try Self.parse(line)
        } catch {
            logger.error(
                "connector process broke the protocol; restarting it", metadata: ["error": "\(error.description)"])
            process?.terminate()
            return
        }
        if case .hello = frame {
            ready = true
            let waiters = readyWaiters
            readyWaiters = []
            for waiter in waiters { waiter.resume() }
        }
        if case .log(let level, let message) = frame {
            logger.log(level: level, "\(redacted(message))", metadata: ["source": "connector process"])
            return
        }
        await frameHandler?(frame)
    }

    private func exited(generation current: Int, status: Int32) async {
        guard current == generation else { return }
        ready = false
        input = nil
        if stopped {
            logger.info("connector process stopped", metadata: ["status": "\(status)"])
        } else {
            logger.warning(
                "connector process exited; in-flight messages are retried", metadata: ["status": "\(status)"])
        }
        await exitHandler?()
        scheduleRestart()
    }

    private func scheduleRestart() {
        guard !stopped else {
            let waiters = readyWaiters
            readyWaiters = []
            for waiter in waiters { waiter.resume() }
            return
        }
        if startedAt.duration(to: .now) > .seconds(60) { restartAttempt = 0 }
        restartAttempt += 1
        let delay = settings.restartBackoff.delay(afterAttempt: restartAttempt)
        restarts.increment()
        logger.info("restarting connector process", metadata: ["in": "\(delay)"])
        Task {
            try? await Task.sleep(for: delay)
            self.launch()
        }
    }

    /// Parses one line from the child.
    static func parse(_ line: [UInt8]) throws(ProtocolError) -> Frame {
        guard let object = try? JSONSerialization.jsonObject(with: Data(line)) as? [String: Any],
            let type = object["type"] as? String
        else {
            throw ProtocolError(
                description: "not a JSON object with a type: \(String(decoding: line.prefix(120), as: UTF8.self))")
        }
        let id = object["id"] as? String
        switch type {
        case "hello":
            guard (object["protocol"] as? Int) == 1 else {
                throw ProtocolError(description: "hello must say protocol 1")
            }
            return .hello
        case "ack":
            guard let id else { throw ProtocolError(description: "ack without id") }
            return .ack(id: id)
        case "nack":
            guard let id else { throw ProtocolError(description: "nack without id") }
            return .nack(
                id: id, reason: object["reason"] as? String ?? "no reason given",
                retry: object["retry"] as? Bool ?? true)
        case "message":
            guard let id, !id.isEmpty else { throw ProtocolError(description: "message without id") }
            let value: [UInt8]
            if let encoded = object["value_base64"] as? String {
                guard let data = Data(base64Encoded: encoded) else {
                    throw ProtocolError(description: "message \(id): value_base64 is not base64")
                }
                value = Array(data)
            } else if let json = object["value"],
                let data = try? JSONSerialization.data(withJSONObject: json, options: [.fragmentsAllowed, .sortedKeys])
            {
                value = Array(data)
            } else {
                throw ProtocolError(description: "message \(id) has no value")
            }
            return .message(id: id, key: object["key"] as? String, value: value)
        case "log":
            let level = (object["level"] as? String).flatMap(Logger.Level.init(rawValue:)) ?? .info
            return .log(level: level, message: object["message"] as? String ?? "")
        default:
            throw ProtocolError(description: "unknown frame type '\(type)'")
        }
    }

    /// The `message` frame for one Kafka record (sink side).
    static func messageFrame(id: String, key: String?, headers: [String: String], value: [UInt8]) -> [String: Any] {
        var frame: [String: Any] = ["type": "message", "id": id, "key": key ?? NSNull(), "headers": headers]
        if let json = try? JSONSerialization.jsonObject(with: Data(value), options: [.fragmentsAllowed]) {
            frame["value"] = json
        } else {
            frame["value_base64"] = Data(value).base64EncodedString()
        }
        return frame
    }

    public struct ProtocolError: Error, Sendable, CustomStringConvertible {
        public var description: String
    }
}

/// Reads lines from a pipe on a dedicated thread (blocking reads stay off the cooperative pool).
enum LineReader {
    static func start(_ handle: FileHandle, name: String, onLine: @escaping @Sendable ([UInt8]) async -> Void) {
        let (lines, continuation) = AsyncStream.makeStream(of: [UInt8].self, bufferingPolicy: .unbounded)
        let thread = Thread {
            var pending: [UInt8] = []
            while true {
                let chunk = handle.availableData
                if chunk.isEmpty { break }
                pending.append(contentsOf: chunk)
                while let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
                    continuation.yield(Array(pending[..<newline]))
                    pending.removeSubrange(...newline)
                }
                if pending.count > 16 << 20 { pending.removeAll() }  // a runaway line without newline
            }
            continuation.finish()
        }
        thread.name = name
        thread.start()
        Task {
            for await line in lines { await onLine(line) }
        }
    }
}
