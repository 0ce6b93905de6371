import CRMHub
import CRMIngress
import CRMKafka
import CRMMasterData
import CRMTelephony
import CRMWorkflow
import Foundation
import Logging
import ServiceLifecycle

/// Builds the CTI connector services (`cti-kamailio`, `cti-ami`) of a configuration.
enum CTIWiring {
    struct SetupError: Error, CustomStringConvertible {
        var description: String
    }

    /// The CTI connectors, each with the ticket view its screen-pops read when it names `tickets_topic`, and the
    /// ingress endpoints of those whose events are posted to the hub (`http_path`).
    static func services(
        _ runtime: HubRuntime, producer: KafkaProducer, resolver: MasterDataResolver?, logger: Logger
    ) throws(SetupError) -> (services: [any Service], events: [EventIngress.Endpoint]) {
        var services: [any Service] = []
        var events: [EventIngress.Endpoint] = []
        for connector in runtime.configuration.connectors {
            guard case .cti(let settings) = connector.kind else { continue }
            var view: TicketView?
            if let topic = settings.ticketsTopic {
                let path = URL(fileURLWithPath: runtime.configuration.stateDirectory).appendingPathComponent("cti/\(connector.name)-tickets.sqlite").path
                do {
                    view = TicketView(
                        name: "cti.\(connector.name)", ticketsTopic: topic, customersTopic: nil, openStatuses: ["new", "open", "pending"],
                        consumer: runtime.consumerConfiguration(groupID: "", topics: []), groupPrefix: runtime.configuration.kafka.groupPrefix,
                        store: try TicketViewStore(path: path), logger: logger)
                } catch {
                    throw SetupError(description: "\(connector.file): cannot open the ticket view \(path): \(error)")
                }
            }
            services += view.map { [$0] } ?? []
            let cti = try service(
                name: connector.name, file: connector.file, settings, producer: producer, resolver: resolver, tickets: view?.store, logger: logger)
            services.append(cti)
            if case .kamailioHTTP(let path) = settings.source {
                events.append(.callEvents(name: connector.name, path: path, connector: cti))
            }
        }
        return (services, events)
    }

    static func service(
        name: String, file: String, _ settings: ConnectorConfiguration.CTISettings, producer: KafkaProducer,
        resolver: MasterDataResolver?, tickets: TicketViewStore? = nil, logger: Logger
    ) throws(SetupError) -> CTIConnector {
        var lookup: any CustomerLookup
        if let path = settings.customersCSV {
            do {
                lookup = try StaticCustomerTable(csvPath: path, defaultRegion: settings.defaultRegion)
            } catch {
                throw SetupError(description: "\(file): customers_csv: \(error)")
            }
        } else if let resolver {
            lookup = MasterDataCustomerLookup(resolver: resolver)
        } else {
            throw SetupError(description: "\(file): no customers_csv and no master data (no route uses resolve: true)")
        }
        if let tickets {
            lookup = OpenTicketsLookup(base: lookup) { references in
                try await tickets.openTickets(references: references).map { ticket in
                    TicketSummary(
                        id: ticket["id"]?.scalarText ?? "-", status: ticket["status"]?.stringValue ?? "-", subject: ticket["subject"]?.stringValue ?? "")
                }
            }
        }
        var processorConfiguration = CallEventProcessor.Configuration(
            name: name, interactionTopic: settings.interactionTopic, screenPopTopic: settings.screenPopTopic)
        processorConfiguration.defaultRegion = settings.defaultRegion
        processorConfiguration.direction = CallDirection(rawValue: settings.direction) ?? .inbound
        let processor = CallEventProcessor(configuration: processorConfiguration, producer: producer, lookup: lookup, logger: logger)
        let source: CTIConnector.Source
        switch settings.source {
        case .kamailioEvapi(let host, let port):
            source = .kamailioEvapi(host: host, port: port)
        case .kamailioHTTP(let path):
            source = .kamailioHTTP(path: path)
        case .asteriskAMI(let host, let port, let username, let secret):
            do {
                source = .asteriskAMI(host: host, port: port, username: username, secret: try secret.resolve())
            } catch {
                throw SetupError(description: "\(file): secret: \(error)")
            }
        }
        return CTIConnector(source: source, processor: processor, logger: logger)
    }
}
