import ArgumentParser
import CRMDelivery
import CRMHub
import CRMRedaction
import Foundation
import Logging
import Metrics
import Prometheus
import ServiceLifecycle

struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run the hub daemon: routes, connectors and the admin HTTP server.",
        discussion: """
            Stops gracefully on SIGTERM or SIGINT: stops consuming, finishes in-flight messages, commits, exits 0.
            Exit codes: 0 clean stop, 1 start-up failure (broker unreachable, topics missing, port in use), 2 bad configuration.
            Several instances may run one configuration (they share the consumer groups and the PostgreSQL master data);
            give each its own --state-dir, --http-port and --ingress-port.
            """)

    @OptionGroup var options: ConfigOptions

    @Option(help: "Override log.level from the configuration (trace, debug, info, warning, error).")
    var logLevel: String?

    @Option(help: "Override log.format from the configuration (json, text).")
    var logFormat: String?

    @Option(
        help: """
            Override state_dir (relative to the working directory): this instance's state folder. Several instances \
            running one configuration each need their own.
            """)
    var stateDir: String?

    @Option(help: "Override http.port: the admin HTTP server's port (1-65535).")
    var httpPort: Int?

    @Option(help: "Override ingress.port: the ingress server's port (1-65535).")
    var ingressPort: Int?

    func validate() throws {
        for (name, port) in [("--http-port", httpPort), ("--ingress-port", ingressPort)] {
            if let port, !(1...65_535).contains(port) { throw ValidationError("\(name) must be in 1...65535") }
        }
        if stateDir?.isEmpty == true { throw ValidationError("--state-dir must not be empty") }
    }

    func run() async throws {
        var configuration = try options.load()
        if let stateDir { configuration.stateDirectory = URL(fileURLWithPath: stateDir).standardized.path }
        if let httpPort { configuration.http.port = httpPort }
        if let ingressPort { configuration.ingress.port = ingressPort }
        let level = Logger.Level(rawValue: logLevel ?? configuration.log.level) ?? .info
        let format = logFormat.flatMap(HubConfiguration.LogSettings.Format.init(rawValue:)) ?? configuration.log.format
        try bootstrapLogging(configuration, level: level, format: format)
        let registry = PrometheusCollectorRegistry()
        var metrics = PrometheusMetricsFactory(registry: registry)
        // A broker acknowledges in milliseconds: the default buckets (5 ms, 10 ms, 25 ms...) cannot tell a 2 ms p50
        // from a 4 ms one, nor a 12 ms p99 from a 24 ms one.
        metrics.durationHistogramBuckets["crmhub_kafka_produce_latency_seconds"] = [
            1, 2, 3, 4, 5, 6, 8, 10, 12, 15, 20, 25, 30, 40, 50, 75, 100, 250, 500, 1_000, 2_500, 5_000, 10_000,
        ].map { .milliseconds($0) }
        MetricsSystem.bootstrap(metrics)
        // crmhub_build_info{version,revision,swift} 1, as Prometheus exporters name their build info.
        registry.makeGauge(
            descriptor: MetricNameDescriptor(
                namespace: "crmhub", metricName: "build", unitName: "info",
                helpText: "crmhub's version, source revision and Swift version; always 1."),
            labels: [
                ("version", CRMHubVersion.current), ("revision", CRMHubVersion.revision),
                ("swift", CRMHubVersion.swift),
            ]
        ).set(1.0)
        let logger = Logger(label: "crmhub")

        let daemon: HubDaemon
        do {
            daemon = try await HubDaemon.make(configuration: configuration, metrics: registry, logger: logger)
        } catch {
            logger.critical("cannot start", metadata: ["reason": "\(error.description)"])
            printError(error.description)
            if case .invalid = error { throw ExitCode(2) }
            throw ExitCode(1)
        }
        let reloadSignal = daemon.mappings.map { _ in Self.reloadOnSIGHUP(daemon, logger: logger) }
        defer { reloadSignal?.cancel() }
        let services = daemon.services

        let shutdownLimit = Duration.seconds(configuration.shutdownTimeoutSeconds)
        var groupConfiguration = ServiceGroupConfiguration(
            services: services.map { ServiceGroupConfiguration.ServiceConfiguration(service: $0) },
            gracefulShutdownSignals: [.sigterm, .sigint], cancellationSignals: [], logger: logger)
        groupConfiguration.maximumGracefulShutdownDuration = shutdownLimit
        groupConfiguration.maximumCancellationDuration = .seconds(5)
        logger.info(
            "crmhub starting",
            metadata: [
                "version": "\(CRMHubVersion.current)", "config": "\(configuration.file)",
                "routes": "\(configuration.routes.count)",
                "brokers": "\(configuration.kafka.brokers.joined(separator: ","))",
            ])
        do {
            try await ServiceGroup(configuration: groupConfiguration).run()
        } catch {
            logger.critical("crmhub stopped with an error", metadata: ["error": "\(error)"])
            printError("stopped with an error: \(error)")
            throw ExitCode(1)
        }
        logger.info("crmhub stopped cleanly")
    }

    /// Recompiles the mappings on SIGHUP; a folder that does not compile is refused and the old mappings keep running.
    /// Routes and connectors (IMAP sources) look their mapping up in the one registry, so all of them see the reload.
    static func reloadOnSIGHUP(_ daemon: HubDaemon, logger: Logger) -> any DispatchSourceSignal {
        signal(SIGHUP, SIG_IGN)
        let source = DispatchSource.makeSignalSource(signal: SIGHUP, queue: .global())
        source.setEventHandler {
            switch daemon.reloadMappings() {
            case .success(let versions):
                logger.notice("mappings reloaded", metadata: ["versions": "\(versions.sorted { $0.key < $1.key })"])
            case .failure(let error):
                logger.error(
                    "mappings not reloaded: the folder has problems; the previous mappings keep running",
                    metadata: ["problems": "\(error.problems.map(\.description))"])
            case nil:
                break
            }
        }
        source.resume()
        return source
    }
}
