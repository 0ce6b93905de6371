// crmhub-bench-cti: runs the CTI connector against a Kamailio evapi socket (or serves the ingress endpoint Kamailio's
// http_client posts to) and a Kafka broker until the expected number of calls ended, then prints the event →
// screen-pop (acknowledged) latency percentiles.
// Driven by Benchmarks/cti-bench.sh (Kamailio + SIPp + Tansu).
import ArgumentParser
import CRMIngress
import CRMKafka
import CRMTelephony
import Foundation
import Logging
import ServiceLifecycle

@main
struct CTIBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "crmhub-bench-cti", abstract: "Measure CTI event → screen-pop latency through a real broker.")

    @Option(help: "Kamailio evapi address host:port.") var evapi: String?
    @Option(help: "Serve /cti/kamailio on this 127.0.0.1 port for Kamailio's http_client instead of reading evapi.")
    var httpPort: Int?
    @Option(help: "Kafka bootstrap servers.") var bootstrap: String
    @Option(help: "Static customer table (CSV: phone,customer_ref,display_name,open_tickets).") var customers: String
    @Option(help: "Stop after this many Interactions were published.") var calls: Int
    @Option(help: "Give up after this many seconds.") var timeout: Int = 120
    @Option(help: "Stop when no call ended for this many seconds (after the first one).") var idleSeconds: Int = 10
    @Option(help: "Producer linger in milliseconds.") var lingerMs: Int = 1
    @Option(help: "Default region for caller numbers.") var region: String = "GB"

    func run() async throws {
        var logger = Logger(label: "crmhub-bench-cti")
        logger.logLevel = .warning
        let source: CTIConnector.Source
        if httpPort != nil {
            guard evapi == nil else { throw ValidationError("give --evapi or --http-port, not both") }
            source = .kamailioHTTP(path: "/cti/kamailio")
        } else {
            let parts = (evapi ?? "").split(separator: ":")
            guard parts.count == 2, let port = Int(parts[1]) else { throw ValidationError("--evapi must be host:port") }
            source = .kamailioEvapi(host: String(parts[0]), port: port)
        }
        var producerConfiguration = KafkaProducerConfiguration(bootstrapServers: [bootstrap])
        producerConfiguration.lingerMilliseconds = lingerMs
        let producer = try KafkaProducer(configuration: producerConfiguration, logger: logger)
        let admin = KafkaAdmin(configuration: .init(bootstrapServers: [bootstrap]), logger: logger)
        _ = try await admin.createTopics([
            .init(name: "cti.interactions", partitions: 3), .init(name: "cti.screenpops", partitions: 3),
        ])
        let table = try StaticCustomerTable(csvPath: customers, defaultRegion: region)
        let processor = CallEventProcessor(
            configuration: .init(name: "bench", interactionTopic: "cti.interactions", screenPopTopic: "cti.screenpops"),
            producer: producer, lookup: table, logger: logger)
        let connector = CTIConnector(source: source, processor: processor, logger: logger)
        var services: [any Service] = [connector]
        if let httpPort {
            services.append(
                IngressServer.makeApplication(
                    host: "127.0.0.1", port: httpPort,
                    endpoints: [
                        EventIngress.Endpoint.callEvents(name: "bench", path: "/cti/kamailio", connector: connector)
                            .ingress(logger: logger)
                    ],
                    logger: logger))
        }
        let group = ServiceGroup(services: services, logger: logger)
        let task = Task { try await group.run() }
        let connectDeadline = ContinuousClock.now + .seconds(10)
        while !connector.status.isConnected && ContinuousClock.now < connectDeadline {
            try await Task.sleep(for: .milliseconds(20))
        }
        guard connector.status.isConnected else { throw ValidationError("cannot connect to evapi at \(evapi ?? "-")") }
        let deadline = ContinuousClock.now + .seconds(timeout)
        print("READY", to: &StandardError.stream)
        var lastCount = 0
        var lastProgress = ContinuousClock.now
        while ContinuousClock.now < deadline {
            let ended = await processor.published.interactions
            if ended >= calls { break }
            if ended != lastCount {
                lastCount = ended
                lastProgress = ContinuousClock.now
            } else if ended > 0 && ContinuousClock.now - lastProgress > .seconds(idleSeconds) {
                break
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        _ = await producer.flush(timeout: .seconds(10))
        await group.triggerGracefulShutdown()
        _ = try? await task.value
        let published = await processor.published
        let summary = processor.latencies.summary()
        print("calls=\(published.interactions) screenpops=\(published.screenPops) acked=\(summary.count) \(summary)")
        await producer.shutdown()
    }
}

enum StandardError {
    nonisolated(unsafe) static var stream = Stream()
    struct Stream: TextOutputStream {
        mutating func write(_ string: String) { FileHandle.standardError.write(Data(string.utf8)) }
    }
}
