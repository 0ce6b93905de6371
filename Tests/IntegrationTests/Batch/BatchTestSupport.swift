import CRMBatch
import CRMHub
import CRMKafka
import CRMTestSupport
import Foundation
import Logging

/// Helpers for batch tests: temp folders, hub configurations and the batch environment (Kafka through
/// `KafkaTestClient`, `crmhub` child processes through `ChildProcess.crmhub`).
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

    /// Writes a hub configuration with no routes, a batch folder and a state folder under `directory`.
    static func writeHubConfiguration(in directory: URL, broker: String, mappings: String? = nil) throws -> String {
        let path = directory.appendingPathComponent("crmhub.yaml").path
        let mappingsPath: String = mappings ?? repositoryRoot.appendingPathComponent("Mappings").path
        let connectorsPath: String = directory.appendingPathComponent("Connectors").path
        try FileManager.default.createDirectory(
            at: directory.appendingPathComponent("Batch"), withIntermediateDirectories: true)
        try FileManager.default.createDirectory(
            at: directory.appendingPathComponent("Connectors"), withIntermediateDirectories: true)
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

enum HubConfigurationLoader {
    static func load(_ path: String) throws -> HubConfiguration {
        do {
            return try HubConfiguration.load(path: path)
        } catch {
            throw TestSetupError("configuration: \(error)")
        }
    }
}
