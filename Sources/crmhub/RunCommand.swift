import ArgumentParser
import CRMAdminHTTP
import CRMHub
import CRMIngress
import CRMKafka
import CRMMail
import CRMWorkflow
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
            """)

    @OptionGroup var options: ConfigOptions

    @Option(help: "Override log.level from the configuration (trace, debug, info, warning, error).")
    var logLevel: String?

    @Option(help: "Override log.format from the configuration (json, text).")
    var logFormat: String?

    func run() async throws {
        let configuration = try options.load()
        let level = Logger.Level(rawValue: logLevel ?? configuration.log.level) ?? .info
        let format = logFormat.flatMap(HubConfiguration.LogSettings.Format.init(rawValue:)) ?? configuration.log.format
        LoggingSystem.bootstrap { label in
            switch format {
            case .json: return JSONLogHandler(label: label, level: level)
            case .text:
                var handler = StreamLogHandler.standardError(label: label)
                handler.logLevel = level
                return handler
            }
        }
        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
        let logger = Logger(label: "crmhub")

        let problems = HubValidation.mappingProblems(configuration) + HubValidation.ruleProblems(configuration)
        guard problems.isEmpty else {
            printError("\(problems.count) problem(s):\n" + problems.joined(separator: "\n"))
            throw ExitCode(2)
        }

        let runtime = HubRuntime(configuration: configuration, logger: logger)
        let workflow: Workflow
        do {
            workflow = try Workflow(configuration: configuration)
        } catch {
            logger.critical("cannot start", metadata: ["reason": "workflow rules: \(error)"])
            printError("workflow rules: \(error)")
            throw ExitCode(1)
        }
        do {
            try await runtime.preflight(additionalTopics: workflow.topics)
        } catch let error as HubRuntime.StartupError {
            logger.critical("cannot start", metadata: ["reason": "\(error.description)"])
            printError(error.description)
            throw ExitCode(1)
        }

        // Mappings are compiled once here (validation above already compiled them); SIGHUP recompiles the folder
        // and swaps it in only if every mapping compiles.
        let mappings = try configuration.routes.contains(where: { $0.mapping != nil })
            ? MappingRegistry(directory: configuration.mappingsDirectory) : nil
        let reloadSignal = mappings.map { Self.reloadOnSIGHUP($0, logger: logger) }
        defer { reloadSignal?.cancel() }
        let hub: HubRuntime.HubServices
        do {
            hub = try await runtime.makeServices { route in
                if let step = workflow.transform(for: route, logger: logger) { return step }
                guard let name = route.mapping else { return IdentityTransform() }
                return mappings?.transform(named: name) ?? UnavailableMappingTransform(name: name)
            }
        } catch let error as HubRuntime.StartupError {
            logger.critical("cannot start", metadata: ["reason": "\(error.description)"])
            printError(error.description)
            throw ExitCode(1)
        }
        var services = hub.services
        do {
            services += try IMAPSource.makeAll(configuration: configuration, producer: hub.producer, logger: logger) as [any Service]
            services += try workflow.escalationServices(runtime: runtime, producer: hub.producer, logger: logger) as [any Service]
        } catch {
            logger.critical("cannot start", metadata: ["reason": "\(error)"])
            printError("\(error)")
            throw ExitCode(1)
        }
        let forms = configuration.connectors.compactMap { connector -> WebFormIngress.Form? in
            guard case .webForm(let settings) = connector.kind else { return nil }
            return WebFormIngress.Form(name: connector.name, settings: settings)
        }
        var webhooks: [StripeWebhookIngress.Endpoint] = []
        for connector in configuration.connectors {
            guard case .stripeWebhook(let settings) = connector.kind else { continue }
            do {
                let secrets = try settings.secrets.map { secret throws(SecretError) in try secret.resolve() }
                webhooks.append(StripeWebhookIngress.Endpoint(name: connector.name, settings: settings, secrets: secrets))
            } catch {
                logger.critical("cannot start", metadata: ["connector": "\(connector.name)", "reason": "\(error.description)"])
                printError("connector \(connector.name) (\(connector.file)): \(error.description)")
                throw ExitCode(1)
            }
        }
        let cti: (services: [any Service], events: [EventIngress.Endpoint])
        do {
            cti = try CTIWiring.services(runtime, producer: hub.producer, resolver: hub.resolver, logger: logger)
        } catch {
            logger.critical("cannot start", metadata: ["reason": "\(error.description)"])
            printError(error.description)
            throw ExitCode(1)
        }
        services += cti.services
        if !forms.isEmpty || !webhooks.isEmpty || !cti.events.isEmpty {
            let paths = forms.map(\.settings.path) + webhooks.map(\.settings.path) + cti.events.map(\.path)
            services.append(
                IngressServer.makeApplication(
                    host: configuration.ingress.host, port: configuration.ingress.port, forms: forms, webhooks: webhooks, events: cti.events,
                    producer: hub.producer,
                    attachmentsDirectory: URL(fileURLWithPath: configuration.stateDirectory).appendingPathComponent("attachments").path,
                    logger: logger
                ) { port in
                    logger.info("ingress listening", metadata: ["host": "\(configuration.ingress.host)", "port": "\(port)", "paths": "\(paths)"])
                })
        }
        let admin = AdminServer.makeApplication(
            host: configuration.http.host, port: configuration.http.port, state: runtime.state,
            routes: configuration.routes.map(\.name), registry: registry, masterData: hub.resolver, logger: logger
        ) { port in
            logger.info("admin server listening", metadata: ["host": "\(configuration.http.host)", "port": "\(port)"])
        }
        services.append(admin)
        if let batch = try BatchCommand.scheduler(configuration, logger: logger) { services.append(batch) }

        let shutdownLimit = Duration.seconds(configuration.shutdownTimeoutSeconds)
        var groupConfiguration = ServiceGroupConfiguration(
            services: services.map { ServiceGroupConfiguration.ServiceConfiguration(service: $0) },
            gracefulShutdownSignals: [.sigterm, .sigint], cancellationSignals: [], logger: logger)
        groupConfiguration.maximumGracefulShutdownDuration = shutdownLimit
        groupConfiguration.maximumCancellationDuration = .seconds(5)
        logger.info(
            "crmhub starting",
            metadata: [
                "version": "\(CRMHubVersion.current)", "config": "\(configuration.file)", "routes": "\(configuration.routes.count)",
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
    static func reloadOnSIGHUP(_ registry: MappingRegistry, logger: Logger) -> any DispatchSourceSignal {
        signal(SIGHUP, SIG_IGN)
        let source = DispatchSource.makeSignalSource(signal: SIGHUP, queue: .global())
        source.setEventHandler {
            switch registry.reload() {
            case .success(let versions):
                logger.notice("mappings reloaded", metadata: ["versions": "\(versions.sorted { $0.key < $1.key })"])
            case .failure(let error):
                logger.error(
                    "mappings not reloaded: the folder has problems; the previous mappings keep running",
                    metadata: ["problems": "\(error.problems.map(\.description))"])
            }
        }
        source.resume()
        return source
    }
}
