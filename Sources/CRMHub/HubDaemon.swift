import CRMAdminHTTP
import CRMBatch
import CRMConnector
import CRMDelivery
import CRMIngress
import CRMKafka
import CRMMapping
import CRMRedaction
import CRMWorkflow
import CRMYAML
import Foundation
import Logging
import Prometheus
import ServiceLifecycle

/// The whole daemon built from one configuration: every service in start order (producer, routes, connectors,
/// workflow, batch scheduler, then the ingress and admin HTTP servers, which stop first), ready for one ServiceGroup.
public struct HubDaemon: Sendable {
    public let runtime: HubRuntime
    /// Start order: dependencies first, HTTP servers last.
    public let services: [any Service]
    /// The compiled mappings folder that routes, connectors and scheduled batch jobs use; ``reloadMappings()`` swaps
    /// in a new compile.
    public let mappings: MappingRegistry?

    /// Why the daemon cannot start.
    public enum StartupFailure: Error, CustomStringConvertible {
        /// The configuration has problems (exit code 2), each as `file:line:column: message`.
        case invalid([String])
        /// A peer or resource is not usable (exit code 1).
        case cannotStart(String)

        public var description: String {
            switch self {
            case .invalid(let problems): "\(problems.count) problem(s):\n" + problems.joined(separator: "\n")
            case .cannotStart(let reason): reason
            }
        }
    }

    /// Checks the configuration, the broker and the topics, and builds every service. `metrics` is the registry the
    /// admin server's `/metrics` renders. Installs the installation's ``RedactionPolicy`` (see
    /// ``HubConfiguration/redactionPolicy()``) for dead-letter reasons and error messages.
    public static func make(
        configuration: HubConfiguration, metrics: PrometheusCollectorRegistry, logger: Logger
    ) async throws(StartupFailure) -> HubDaemon {
        let problems =
            HubValidation.mappingProblems(configuration) + HubValidation.ruleProblems(configuration)
            + HubValidation.kafkaProblems(configuration)
        guard problems.isEmpty else { throw .invalid(problems) }
        do {
            RedactionPolicy.install(try configuration.redactionPolicy())
        } catch {
            throw .invalid(error.problems.map(\.description))
        }
        let jobs: [BatchJob]
        do {
            jobs = try BatchJob.loadAll(directory: configuration.batchDirectory)
        } catch {
            throw .invalid(error.problems.map(\.description))
        }

        let runtime = HubRuntime(configuration: configuration, logger: logger)
        let workflow: Workflow
        do {
            workflow = try Workflow(configuration: configuration)
        } catch {
            throw .cannotStart("workflow rules: \(error)")
        }
        do {
            try await runtime.preflight(additionalTopics: workflow.topics)
        } catch {
            throw .cannotStart("\(error)")
        }

        // Mappings are compiled once here (validation above already compiled them); SIGHUP recompiles the folder
        // and swaps it in only if every mapping compiles.
        let needsMappings =
            configuration.routes.contains { $0.mapping != nil }
            || configuration.connectors.contains { !$0.mappings.isEmpty }
            || jobs.contains { $0.schedule != nil && $0.mapping != nil }
        let mappings: MappingRegistry?
        let masterDataLookup = MasterDataMappingLookup()
        do {
            mappings =
                needsMappings
                ? try MappingRegistry(directory: configuration.mappingsDirectory, lookup: masterDataLookup) : nil
        } catch {
            throw .invalid(error.problems.map(\.description))
        }
        var services: [any Service]
        let hub: HubRuntime.HubServices
        do {
            hub = try await runtime.makeServices(mappings: mappings, masterDataLookup: masterDataLookup) { route in
                if let step = workflow.transform(for: route, logger: logger) { return step }
                guard let name = route.mapping else { return IdentityTransform() }
                return mappings?.transform(named: name) ?? UnavailableMappingTransform(name: name)
            }
            services = hub.services
            let escalations = try workflow.escalationServices(runtime: runtime, producer: hub.producer, logger: logger)
            if let resolver = hub.resolver {
                // An erasure deletes the person's customers and tickets from every rule's ticket view.
                let stores = escalations.map(\.ticketStore)
                await resolver.onErasure { event in
                    for store in stores {
                        do {
                            try await store.erase(references: ErasureTombstones.references(of: event))
                        } catch {
                            logger.warning(
                                "ticket view rows of an erased customer not deleted", metadata: ["error": "\(error)"])
                        }
                    }
                }
            }
            services += escalations as [any Service]
        } catch {
            throw .cannotStart("\(error)")
        }
        if jobs.contains(where: { $0.schedule != nil }) {
            do {
                let environment = try BatchEnvironment(
                    hub: configuration, jobs: jobs, mappings: mappings, logger: logger)
                services.append(BatchSchedulerService(runner: BatchRunner(environment: environment), jobs: jobs))
            } catch {
                throw .invalid([error.description])
            }
        }
        if !hub.ingress.isEmpty {
            let ingress = configuration.ingress
            let paths = hub.ingress.map(\.path)
            services.append(
                IngressServer.makeApplication(
                    host: ingress.host, port: ingress.port, endpoints: hub.ingress, limits: ingress.limits,
                    logger: logger
                ) { port in
                    logger.info(
                        "ingress listening",
                        metadata: ["host": "\(ingress.host)", "port": "\(port)", "paths": "\(paths)"])
                })
        }
        services += try adminServers(configuration.http, runtime: runtime, metrics: metrics, hub: hub, logger: logger)
        return HubDaemon(runtime: runtime, services: services, mappings: mappings)
    }

    /// The admin listener, and the health and metrics listener when `http.metrics_port` splits them off. `/mdm/...`
    /// is served only with `http.token`; without it that is said once at start.
    private static func adminServers(
        _ admin: HubConfiguration.HTTPSettings, runtime: HubRuntime, metrics: PrometheusCollectorRegistry,
        hub: HubRuntime.HubServices, logger: Logger
    ) throws(StartupFailure) -> [any Service] {
        let token: [UInt8]?
        do {
            token = try admin.token.map { secret throws(SecretError) in Array(try secret.resolve().utf8) }
        } catch {
            throw .cannotStart("http.token: \(error)")
        }
        if let token, token.isEmpty { throw .cannotStart("http.token: the admin token is empty") }
        if hub.resolver != nil, token == nil {
            logger.notice("admin /mdm endpoints are disabled: they return personal data and need http.token")
        }
        let routes = runtime.configuration.routes.map(\.name)
        guard let metricsPort = admin.metricsPort else {
            return [
                AdminServer.makeApplication(
                    host: admin.host, port: admin.port, state: runtime.state, routes: routes, registry: metrics,
                    masterData: hub.resolver, token: token, logger: logger
                ) { port in
                    logger.info("admin server listening", metadata: ["host": "\(admin.host)", "port": "\(port)"])
                }
            ]
        }
        var services: [any Service] = [
            AdminServer.makeApplication(
                host: admin.host, port: metricsPort, state: runtime.state, routes: routes, registry: metrics,
                logger: logger
            ) { port in
                logger.info("health and metrics listening", metadata: ["host": "\(admin.host)", "port": "\(port)"])
            }
        ]
        if let resolver = hub.resolver, let token {
            services.append(
                AdminServer.makeAPIApplication(
                    host: admin.host, port: admin.port, masterData: resolver, token: token, logger: logger
                ) { port in
                    logger.info("admin server listening", metadata: ["host": "\(admin.host)", "port": "\(port)"])
                })
        }
        return services
    }

    /// Recompiles the mappings folder; on success the new mappings serve every message from now on, on failure the
    /// old ones keep running. Nil when no route or connector uses a mapping.
    public func reloadMappings() -> Result<[String: String], MappingLoadError>? {
        mappings?.reload()
    }
}
