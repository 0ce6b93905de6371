import CRMConnector
import CRMKafka
import CRMModel
import Foundation
import Logging
import Metrics
import ServiceLifecycle

/// The source side of an external-process connector: each `message` frame the child writes is produced to the
/// connector's topic (in the order received, with the child's id as the message id) and answered `ack` only after
/// Kafka acknowledged it, or `nack` with the reason. The child acknowledges its own origin (deletes the file, commits
/// its cursor) only on `ack`; after a restart it re-sends what it never saw acknowledged, with the same ids.
public struct ProcessSourceService: Service {
    public let topic: String
    private let process: ConnectorProcess
    private let emitter: SourceEmitter
    private let logger: Logger

    public init(settings: ConnectorProcess.Settings, topic: String, emitter: SourceEmitter, logger: Logger) {
        process = ConnectorProcess(settings: settings, logger: logger)
        self.topic = topic
        self.emitter = emitter
        self.logger = logger
    }

    /// A source producing through its own emitter on `producer`.
    public init(settings: ConnectorProcess.Settings, topic: String, producer: KafkaProducer, logger: Logger) {
        self.init(
            settings: settings, topic: topic, emitter: SourceEmitter(connector: settings.name, producer: producer),
            logger: logger)
    }

    public func run() async throws {
        let process = process
        let emitter = emitter
        let topic = topic
        let name = process.settings.name
        let produced = Counter(label: "crmhub_connector_process_produced_total", dimensions: [("connector", name)])
        let refused = Counter(label: "crmhub_connector_process_refused_total", dimensions: [("connector", name)])
        await process.start(
            onFrame: { frame in
                guard case .message(let id, let key, let value) = frame else { return }
                let message = ProducerMessage(
                    topic: topic, key: key.map { Array($0.utf8) }, value: value,
                    headers: [
                        KafkaHeader(key: EnvelopeHeader.id, text: id),
                        KafkaHeader(key: EnvelopeHeader.origin, text: "process/\(name)"),
                    ])
                do {
                    try emitter.enqueue(message) { result in
                        Task {
                            switch result {
                            case .success:
                                produced.increment()
                                await process.send(ConnectorProcess.line(["type": "ack", "id": id]))
                            case .failure(let error):
                                refused.increment()
                                await process.send(
                                    ConnectorProcess.line(["type": "nack", "id": id, "reason": error.description]))
                            }
                        }
                    }
                } catch {
                    refused.increment()
                    await process.send(ConnectorProcess.line(["type": "nack", "id": id, "reason": "\(error)"]))
                }
            },
            onExit: {})
        try? await gracefulShutdown()
        logger.info("stopping connector process", metadata: ["connector": "\(name)"])
        await process.stop()
    }

    /// The child's pid (tests).
    public var childProcessIdentifier: Int32? { get async { await process.processIdentifier } }
}
