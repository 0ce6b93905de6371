import CRMBatch
import CRMKafka
import CRMTestSupport
import Foundation
import Logging

/// Helpers for batch tests against a real broker: produce, read a topic to its end, temp folders, the CLI binary.
enum BatchTestSupport {
    static let logger: Logger = {
        var logger = Logger(label: "batch-test")
        logger.logLevel = .warning
        return logger
    }()

    static func temporaryDirectory(_ prefix: String) throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("\(prefix)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    static func createTopics(_ bootstrap: String, _ names: [String], partitions: Int32 = 3) async throws {
        let admin = KafkaAdmin(configuration: .init(bootstrapServers: [bootstrap]), logger: logger)
        _ = try await admin.createTopics(names.map { .init(name: $0, partitions: partitions) })
    }

    /// Produces `values` (keyed by index) and waits for every acknowledgement.
    static func produce(_ bootstrap: String, topic: String, values: [String]) async throws {
        let producer = try KafkaProducer(configuration: .init(bootstrapServers: [bootstrap]), logger: logger)
        for (index, value) in values.enumerated() {
            let message = ProducerMessage(topic: topic, key: Array("k\(index)".utf8), value: Array(value.utf8))
            try await enqueue(message, producer: producer)
        }
        guard await producer.flush(timeout: .seconds(60)) else { throw TestSetupError("produce to \(topic) did not finish") }
        await producer.shutdown()
    }

    /// Enqueues one message, waiting for room in librdkafka's queue (bounded: about 10 s).
    static func enqueue(_ message: ProducerMessage, producer: KafkaProducer) async throws {
        for _ in 0..<10_000 {
            if tryEnqueue(message, producer: producer) { return }
            try await Task.sleep(for: .milliseconds(1))
        }
        throw TestSetupError("the producer queue stayed full")
    }

    static func tryEnqueue(_ message: ProducerMessage, producer: KafkaProducer) -> Bool {
        do {
            try producer.enqueue(message) { _ in }
            return true
        } catch {
            return false
        }
    }

    /// The `crmhub` executable: `CRMHUB_BINARY`, else next to the test bundle, else `.build*/debug/crmhub`.
    static func binary() throws -> String {
        if let path = ProcessInfo.processInfo.environment["CRMHUB_BINARY"], FileManager.default.isExecutableFile(atPath: path) {
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
        throw TestSetupError("crmhub binary not found (looked at \(candidates)): build it (swift build) or set CRMHUB_BINARY")
    }

    /// Writes a hub configuration with no routes, a batch folder and a state folder under `directory`.
    static func writeHubConfiguration(in directory: URL, broker: String, mappings: String? = nil) throws -> String {
        let path = directory.appendingPathComponent("crmhub.yaml").path
        let mappingsPath: String = mappings ?? repositoryRoot.appendingPathComponent("Mappings").path
        let connectorsPath: String = directory.appendingPathComponent("Connectors").path
        try FileManager.default.createDirectory(at: directory.appendingPathComponent("Batch"), withIntermediateDirectories: true)
        try FileManager.default.createDirectory(at: directory.appendingPathComponent("Connectors"), withIntermediateDirectories: true)
        try """
        kafka:
          brokers: ["\(broker)"]
          connect_timeout_seconds: 5
        mappings: \(mappingsPath)
        connectors: \(connectorsPath)
        batch: Batch
        state_dir: state
        routes: []
        """.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    static func environment(configuration: String, logger: Logger = logger) throws -> (BatchEnvironment, [BatchJob]) {
        let hub = try HubConfigurationLoader.load(configuration)
        let jobs = try BatchJob.loadAll(directory: hub.batchDirectory)
        return (try BatchEnvironment(hub: hub, jobs: jobs, logger: logger), jobs)
    }
}

import CRMHub

enum HubConfigurationLoader {
    static func load(_ path: String) throws -> HubConfiguration {
        do {
            return try HubConfiguration.load(path: path)
        } catch {
            throw TestSetupError("configuration: \(error)")
        }
    }
}

/// A child `crmhub` process whose stderr goes to a file, read on demand (no dispatch source on a pipe: a readability
/// handler left on a pipe whose handle is released can crash libdispatch).
final class ChildProcess: @unchecked Sendable {
    let process = Process()
    private let errorFile: URL

    init(_ arguments: [String]) throws {
        process.executableURL = URL(fileURLWithPath: try BatchTestSupport.binary())
        process.arguments = arguments
        var environment = ProcessInfo.processInfo.environment
        environment["CRMHUB_BINARY"] = nil
        process.environment = environment
        errorFile = FileManager.default.temporaryDirectory.appendingPathComponent("crmhub-child-\(UUID().uuidString).stderr")
        FileManager.default.createFile(atPath: errorFile.path, contents: nil)
        process.standardError = try FileHandle(forWritingTo: errorFile)
        process.standardOutput = FileHandle.nullDevice
        try process.run()
    }

    deinit { try? FileManager.default.removeItem(at: errorFile) }

    var stderr: String {
        (try? String(contentsOf: errorFile, encoding: .utf8)) ?? ""
    }

    /// Kills the process with SIGKILL as soon as stderr has a line satisfying `predicate`; true if it had one in
    /// time. Watches from a thread of its own, so a busy cooperative pool cannot delay the kill past the moment the
    /// test means to crash the run in.
    func kill9(onLine predicate: @escaping @Sendable (Substring) -> Bool, within seconds: Double) async -> Bool {
        let seen = (try? await offPool { [self] in
            let deadline = Date().addingTimeInterval(seconds)
            while Date() < deadline && process.isRunning {
                if stderr.split(separator: "\n").contains(where: predicate) {
                    kill(process.processIdentifier, SIGKILL)
                    return true
                }
                usleep(5_000)
            }
            return stderr.split(separator: "\n").contains(where: predicate)
        }) ?? false
        kill9()
        return seen
    }

    func kill9() {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
    }

    /// Waits for the exit (SIGKILL after `seconds`); returns the exit status.
    func waitForExit(within seconds: Double) async -> Int32 {
        let deadline = Date().addingTimeInterval(seconds)
        while process.isRunning && Date() < deadline { try? await Task.sleep(for: .milliseconds(20)) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
        return process.terminationStatus
    }
}
