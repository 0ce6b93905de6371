import CRMBatch
import CRMDelivery
import CRMKafka
import CRMMapping
import CRMWorkflow
import Foundation
import Logging

// The jobs (batch bridges, workflow rules) read their settings from the hub configuration here, in the composition
// root, so that their modules never depend on the daemon.

extension BatchEnvironment {
    /// The environment the hub configuration describes: its Kafka settings, its mappings folder (the daemon passes
    /// its own `mappings`, which SIGHUP reloads; otherwise it is compiled here when one of `jobs` uses a mapping), the
    /// state file `<state_dir>/batch.sqlite` and scratch folder `<state_dir>/batch-work`.
    public init(
        hub configuration: HubConfiguration, jobs: [BatchJob], mappings: MappingRegistry? = nil, logger: Logger,
        drops: FileDropFactory = FileDropFactory(), onProgress: (@Sendable (String) -> Void)? = nil
    ) throws(BatchError) {
        let client = HubRuntime(configuration: configuration, logger: logger).clientConfiguration
        var library = mappings
        if library == nil, jobs.contains(where: { $0.mapping != nil }) {
            do {
                library = try MappingRegistry(directory: configuration.mappingsDirectory)
            } catch {
                throw BatchError(.configuration, "mappings in \(configuration.mappingsDirectory): \(error)")
            }
        }
        let state = try BatchStateStore(
            path: URL(fileURLWithPath: configuration.stateDirectory).appendingPathComponent("batch.sqlite").path)
        self.init(
            kafka: client, mappings: library, state: state, drops: drops,
            workDirectory: URL(fileURLWithPath: configuration.stateDirectory).appendingPathComponent("batch-work"),
            logger: logger,
            onProgress: onProgress)
    }
}

extension Workflow {
    /// The workflow rules of `configuration`'s rules folder, with lead books under its state folder.
    public init(configuration: HubConfiguration) throws {
        try self.init(
            rulesDirectory: configuration.rulesDirectory, stateDirectory: configuration.stateDirectory,
            routes: configuration.routes)
    }

    /// One service per escalation rule, reading with the hub's consumer settings and producing with `producer`.
    public func escalationServices(
        runtime: HubRuntime, producer: KafkaProducer, logger: Logger
    ) throws -> [EscalationService] {
        try escalationServices(
            consumer: runtime.consumerConfiguration(groupID: "", topics: []),
            groupPrefix: runtime.configuration.kafka.groupPrefix,
            producer: producer, logger: logger)
    }
}

extension WorkflowRules {
    /// Problems between the rules and the routes of `configuration`.
    public func problems(with configuration: HubConfiguration) -> [String] {
        problems(with: configuration.routes, rulesDirectory: configuration.rulesDirectory)
    }
}
