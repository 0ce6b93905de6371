import CRMYAML
import Foundation

extension ConnectorConfiguration {
    /// Settings of a `cti-kamailio` or `cti-ami` connector.
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
    }
}

extension ConnectorConfiguration {
    static func cti(_ map: YAMLMapping, ami: Bool) throws(YAMLError) -> CTISettings {
        let common = ["name", "kind", "interaction_topic", "screen_pop_topic", "default_region", "direction", "customers_csv", "tickets_topic"]
        try map.allowOnly(Set(common + (ami ? ["ami", "username", "secret"] : ["evapi", "http_path"])))
        if !ami, let pathValue = map.optional("http_path") {
            if let evapi = map.optional("evapi") { throw evapi.error("give either evapi or http_path, not both") }
            let path = try pathValue.nonEmptyString()
            guard path.hasPrefix("/"), !path.contains(" ") else { throw pathValue.error("'\(path)' is not an absolute path such as /cti/kamailio") }
            return try ctiSettings(map, source: .kamailioHTTP(path: path))
        }
        let addressValue = try map.require(ami ? "ami" : "evapi")
        let address = try addressValue.nonEmptyString()
        guard let colon = address.lastIndex(of: ":"), let port = Int(address[address.index(after: colon)...]), (1...65535).contains(port),
            colon > address.startIndex
        else {
            throw addressValue.error("'\(address)' is not host:port")
        }
        let host = String(address[..<colon])
        let source: CTISettings.Source
        if ami {
            let secretValue = try map.require("secret")
            let secret = SecretValue(parsing: try secretValue.nonEmptyString())
            guard secret.isReference else { throw secretValue.error("the AMI secret must be ${env:NAME} or ${file:PATH}, never inline") }
            source = .asteriskAMI(host: host, port: port, username: try map.require("username").nonEmptyString(), secret: secret)
        } else {
            source = .kamailioEvapi(host: host, port: port)
        }
        return try ctiSettings(map, source: source)
    }

    /// The settings every CTI kind shares.
    private static func ctiSettings(_ map: YAMLMapping, source: CTISettings.Source) throws(YAMLError) -> CTISettings {
        var settings = CTISettings(
            source: source, interactionTopic: try RouteConfiguration.topicName(map.require("interaction_topic")),
            screenPopTopic: try RouteConfiguration.topicName(map.require("screen_pop_topic")))
        if let value = map.optional("default_region") {
            let region = try value.nonEmptyString()
            guard region.count == 2, region.allSatisfy({ $0.isASCII && $0.isUppercase }) else {
                throw value.error("'\(region)' is not an ISO 3166 region such as GB")
            }
            settings.defaultRegion = region
        }
        if let value = map.optional("direction") { settings.direction = try value.oneOf(["inbound", "outbound"]) }
        settings.customersCSV = try map.optional("customers_csv")?.nonEmptyString()
        settings.ticketsTopic = try map.optional("tickets_topic").map { value throws(YAMLError) in try RouteConfiguration.topicName(value) }
        return settings
    }
}
