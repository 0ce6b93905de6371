import CRMConnector
import CRMDelivery
import CRMKafka
import CRMMasterData
import CRMViews
import CRMYAML
import Foundation
import Logging
import ServiceLifecycle

/// Settings every CTI kind shares (`cti-kamailio`, `cti-ami`).
public struct CTISettings: Sendable {
    public enum Source: Sendable {
        /// `evapi: host:port` — Kamailio's evapi `bind_addr`.
        case kamailioEvapi(host: String, port: Int)
        /// `http_path: /cti/kamailio` — Kamailio's http_client POSTs each event to this path of the ingress server.
        case kamailioHTTP(path: String)
        /// `ami: host:port`, `username`, `secret` (a `${env:}`/`${file:}` reference) — Asterisk manager.conf.
        case asteriskAMI(host: String, port: Int, username: String, secret: SecretValue)
    }

    public var source: Source
    /// Topic for Interaction records (`interaction_topic`).
    public var interactionTopic: String
    /// Topic for screen-pops keyed by agent extension (`screen_pop_topic`).
    public var screenPopTopic: String
    /// Region for numbers without an international prefix (`default_region`). Default "GB".
    public var defaultRegion: String = "GB"
    /// `inbound` (the caller is the customer, default) or `outbound`.
    public var direction: String = "inbound"
    /// A static customer table (`customers_csv`: phone,customer_ref,display_name,open_tickets); without it the
    /// master-data resolver is asked (a route must use `resolve: true`).
    public var customersCSV: String?
    /// The ticket topic (`tickets_topic`, e.g. `crm.ticket`): its open tickets are added to the caller's screen-pop.
    public var ticketsTopic: String?

    static let commonKeys: Set<String> = [
        "interaction_topic", "screen_pop_topic", "default_region", "direction", "customers_csv", "tickets_topic",
    ]

    init(_ map: YAMLMapping, source: Source) throws(YAMLError) {
        self.source = source
        interactionTopic = try map.require("interaction_topic").topicName()
        screenPopTopic = try map.require("screen_pop_topic").topicName()
        if let value = map.optional("default_region") {
            let region = try value.nonEmptyString()
            guard region.count == 2, region.allSatisfy({ $0.isASCII && $0.isUppercase }) else {
                throw value.error("'\(region)' is not an ISO 3166 region such as GB")
            }
            defaultRegion = region
        }
        if let value = map.optional("direction") { direction = try value.oneOf(["inbound", "outbound"]) }
        customersCSV = try map.optional("customers_csv")?.nonEmptyString()
        ticketsTopic = try map.optional("tickets_topic").map { value throws(YAMLError) in try value.topicName() }
    }

    /// `host:port` of a socket source.
    static func address(_ value: YAMLValue) throws(YAMLError) -> (host: String, port: Int) {
        let address = try value.nonEmptyString()
        guard let colon = address.lastIndex(of: ":"), let port = Int(address[address.index(after: colon)...]),
            (1...65535).contains(port),
            colon > address.startIndex
        else {
            throw value.error("'\(address)' is not host:port")
        }
        return (String(address[..<colon]), port)
    }

    var topics: [String] { [interactionTopic, screenPopTopic] + (ticketsTopic.map { [$0] } ?? []) }
}

/// `kind: cti-kamailio`: call events from Kamailio, read from its evapi socket (`evapi: host:port`) or posted by its
/// http_client to the ingress server (`http_path: /cti/kamailio`); publishes screen-pops and Interactions.
public enum KamailioConnector: Connector {
    public typealias Settings = CTISettings
    public static let kind = "cti-kamailio"
    public static let keys = CTISettings.commonKeys.union(["evapi", "http_path"])

    public static func settings(_ file: ConnectorFile) throws(YAMLError) -> CTISettings {
        let map = file.map
        if let pathValue = map.optional("http_path") {
            if let evapi = map.optional("evapi") { throw evapi.error("give either evapi or http_path, not both") }
            let path = try pathValue.nonEmptyString()
            guard path.hasPrefix("/"), !path.contains(" ") else {
                throw pathValue.error("'\(path)' is not an absolute path such as /cti/kamailio")
            }
            return try CTISettings(map, source: .kamailioHTTP(path: path))
        }
        let (host, port) = try CTISettings.address(map.require("evapi"))
        return try CTISettings(map, source: .kamailioEvapi(host: host, port: port))
    }

    public static func topics(_ settings: CTISettings) -> [String] { settings.topics }

    public static func ingressPaths(_ settings: CTISettings) -> [String] {
        if case .kamailioHTTP(let path) = settings.source { [path] } else { [] }
    }

    /// Call events carry callers' numbers and drive screen-pops: the HTTP input needs `auth:` (a secret Kamailio
    /// sends, see `deploy/cti/kamailio.cfg`'s `HUB_EVENTS_TOKEN`) or an explicit `auth: none`.
    public static func requiresIngressAuth(_ settings: CTISettings) -> Bool { !ingressPaths(settings).isEmpty }

    public static func make(_ settings: CTISettings, in context: ConnectorContext) async throws -> ConnectorParts {
        try await CTIWiring.parts(settings, in: context)
    }
}

/// `kind: cti-ami`: call events from the Asterisk Manager Interface; publishes screen-pops and Interactions.
public enum AsteriskAMIConnector: Connector {
    public typealias Settings = CTISettings
    public static let kind = "cti-ami"
    public static let keys = CTISettings.commonKeys.union(["ami", "username", "secret"])

    public static func settings(_ file: ConnectorFile) throws(YAMLError) -> CTISettings {
        let map = file.map
        let (host, port) = try CTISettings.address(map.require("ami"))
        let secretValue = try map.require("secret")
        let secret = try secretValue.secretValue()
        guard secret.isReference else {
            throw secretValue.error("the AMI secret must be ${env:NAME} or ${file:PATH}, never inline")
        }
        let username = try map.require("username").nonEmptyString()
        return try CTISettings(map, source: .asteriskAMI(host: host, port: port, username: username, secret: secret))
    }

    public static func topics(_ settings: CTISettings) -> [String] { settings.topics }

    public static func make(_ settings: CTISettings, in context: ConnectorContext) async throws -> ConnectorParts {
        try await CTIWiring.parts(settings, in: context)
    }
}

/// A CTI connector that cannot start (missing customer table, master data or secret), said plainly.
public struct CTISetupError: Error, Sendable, CustomStringConvertible {
    public var description: String
}

/// Builds a CTI connector's parts: the connector service, the ticket view its screen-pops read when it names
/// `tickets_topic`, and the ingress endpoint when Kamailio posts its events (`http_path`).
enum CTIWiring {
    static func parts(
        _ settings: CTISettings, in context: ConnectorContext
    ) async throws(CTISetupError) -> ConnectorParts {
        var parts = ConnectorParts()
        var view: TicketView?
        if let topic = settings.ticketsTopic {
            let path = context.statePath("cti/\(context.name)-tickets.sqlite")
            do {
                view = TicketView(
                    name: "cti.\(context.name)", ticketsTopic: topic, customersTopic: nil,
                    openStatuses: ["new", "open", "pending"],
                    consumer: context.consumerConfiguration("", []), groupPrefix: context.groupPrefix,
                    store: try TicketViewStore(path: path), logger: context.logger)
            } catch {
                throw CTISetupError(description: "\(context.file): cannot open the ticket view \(path): \(error)")
            }
        }
        if let store = view?.store {
            let logger = context.logger
            await context.masterData?.onErasure { event in
                do {
                    try await store.erase(references: ErasureTombstones.references(of: event))
                } catch {
                    logger.warning(
                        "ticket view rows of an erased customer not deleted", metadata: ["error": "\(error)"])
                }
            }
        }
        parts.services += view.map { [$0] } ?? []
        let connector = try connector(settings, in: context, tickets: view?.store)
        parts.services.append(connector)
        if case .kamailioHTTP(let path) = settings.source {
            parts.ingress.append(
                EventIngress.Endpoint.callEvents(name: context.name, path: path, connector: connector).ingress(
                    logger: context.logger))
        }
        return parts
    }

    static func connector(
        _ settings: CTISettings, in context: ConnectorContext, tickets: TicketViewStore?
    ) throws(CTISetupError) -> CTIConnector {
        var lookup: any CustomerLookup
        if let path = settings.customersCSV {
            do {
                lookup = try StaticCustomerTable(csvPath: path, defaultRegion: settings.defaultRegion)
            } catch {
                throw CTISetupError(description: "\(context.file): customers_csv: \(error)")
            }
        } else if let resolver = context.masterData {
            lookup = MasterDataCustomerLookup(resolver: resolver)
        } else {
            throw CTISetupError(
                description: "\(context.file): no customers_csv and no master data (no route uses resolve: true)")
        }
        if let tickets {
            lookup = OpenTicketsLookup(base: lookup) { references in
                try await tickets.openTickets(references: references).map { ticket in
                    TicketSummary(
                        id: ticket["id"]?.scalarText ?? "-", status: ticket["status"]?.stringValue ?? "-",
                        subject: ticket["subject"]?.stringValue ?? "")
                }
            }
        }
        var processorConfiguration = CallEventProcessor.Configuration(
            name: context.name, interactionTopic: settings.interactionTopic, screenPopTopic: settings.screenPopTopic)
        processorConfiguration.defaultRegion = settings.defaultRegion
        processorConfiguration.direction = CallDirection(rawValue: settings.direction) ?? .inbound
        // An agent waits for the screen-pop: it goes through the hub's low-latency producer.
        let producer: KafkaProducer
        do {
            producer = try context.lowLatencyProducer()
        } catch {
            throw CTISetupError(description: "\(context.file): cannot create the screen-pop producer: \(error)")
        }
        let processor = CallEventProcessor(
            configuration: processorConfiguration, producer: producer, lookup: lookup, logger: context.logger)
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
                throw CTISetupError(description: "\(context.file): secret: \(error)")
            }
        }
        return CTIConnector(source: source, processor: processor, logger: context.logger)
    }
}
