// CRMHTTPConnector: the `http-sink` kind — delivers a topic to a REST endpoint (URL templates, JSON or form bodies,
// success codes, Idempotency-Key on every call).

import CRMConnector
import CRMDelivery
import CRMYAML
import Foundation

/// `kind: http-sink`: delivers each message of a topic to a REST endpoint (see ``HTTPSinkTarget``).
public enum HTTPSinkConnector: Connector {
    /// Settings of an `http-sink` connector.
    public struct Settings: Sendable {
        public var topic: String
        public var url: SecretValue
        public var method: String
        public var headers: [(name: String, value: SecretValue)]
        public var body: RESTRequestTemplate.BodyEncoding = .json
        public var successCodes: Set<Int> = []
        public var timeout: Duration
        public var delivery: SinkService.Configuration
        /// CA file and client certificate (`tls:`); the system's CAs and no client certificate when nil.
        public var tls: ClientTLSSettings?
        /// `allow_plaintext_credentials: true` lets credential headers go to an `http://` URL. Default false.
        public var allowPlaintextCredentials = false
    }
}

extension HTTPSinkConnector {
    public static let kind = "http-sink"
    public static let keys = Set([
        "topic", "url", "method", "headers", "body", "success_codes", "timeout_ms", "tls",
        PlaintextCredentialRule.key,
    ]).union(
        SinkService.Configuration.keys)

    public static func settings(_ file: ConnectorFile) throws(YAMLError) -> Settings {
        let map = file.map
        let name = file.name
        let topic = try map.require("topic").topicName()
        let urlValue = try map.require("url")
        let url = try urlValue.secretValue()
        if case .literal(let text) = url {
            let template = RESTRequestTemplate(url: text).placeholders.reduce(text) {
                $0.replacingOccurrences(of: "{\($1)}", with: "x")
            }
            guard let components = URLComponents(string: template), let scheme = components.scheme,
                ["http", "https"].contains(scheme), components.host != nil
            else {
                throw urlValue.error("'\(text)' is not an http(s) URL")
            }
            if components.user != nil || components.password != nil {
                throw urlValue.error(
                    "credentials may not be written in the URL; use a header with ${env:NAME} or ${file:PATH}")
            }
        }
        let method = try map.optional("method")?.oneOf(["POST", "PUT", "PATCH", "DELETE"]) ?? "POST"
        var headers: [(name: String, value: SecretValue)] = []
        if let value = map.optional("headers") {
            for entry in try value.mapping().entries {
                let secret = SecretValue(parsing: try entry.value.string())
                let looksSecret = PlaintextCredentialRule.isCredentialHeader(entry.key)
                if looksSecret && !secret.isReference {
                    throw entry.value.error(
                        "header '\(entry.key)' holds a credential: write it as ${env:NAME} or ${file:PATH}, never inline"
                    )
                }
                headers.append((entry.key, secret))
            }
        }
        let credentialHeader = headers.first { PlaintextCredentialRule.isCredentialHeader($0.name) }
        let allowPlaintext = try PlaintextCredentialRule.check(
            map, url: url, urlValue: urlValue, credential: credentialHeader.map { "header '\($0.name)'" })
        let tls = try map.optional("tls").map { value throws(YAMLError) in try ClientTLSSettings(value, file: file) }
        let timeout = Duration.milliseconds(try map.optional("timeout_ms")?.int(in: 100...600_000) ?? 10_000)
        let delivery = try SinkService.Configuration(map, name: name, topic: topic)
        var settings = Settings(
            topic: topic, url: url, method: method, headers: headers, timeout: timeout, delivery: delivery)
        settings.tls = tls
        settings.allowPlaintextCredentials = allowPlaintext
        if let value = map.optional("body") {
            settings.body =
                RESTRequestTemplate.BodyEncoding(rawValue: try value.oneOf(["json", "form", "none"])) ?? .json
        }
        if let value = map.optional("success_codes") {
            settings.successCodes = Set(
                try value.sequence().map { value throws(YAMLError) in try value.int(in: 100...599) })
        }
        return settings
    }

    public static func topics(_ settings: Settings) -> [String] { settings.delivery.topics }

    public static func sinkDelivery(_ settings: Settings) -> SinkService.Configuration? { settings.delivery }

    public static func make(_ settings: Settings, in context: ConnectorContext) async throws -> ConnectorParts {
        let url = try settings.url.resolve()
        if let header = settings.headers.first(where: { PlaintextCredentialRule.isCredentialHeader($0.name) }),
            let problem = PlaintextCredentialRule.problem(
                url: url, credential: "header '\(header.name)'", allowed: settings.allowPlaintextCredentials)
        {
            throw TransportSecurityError(file: context.file, reason: problem)
        }
        var target = HTTPSinkTarget.Settings(
            url: url, method: settings.method,
            headers: try settings.headers.map { ($0.name, try $0.value.resolve()) }, timeout: settings.timeout)
        target.tls = try settings.tls?.resolve()
        target.body = settings.body
        target.successCodes = settings.successCodes
        return ConnectorParts(sink: HTTPSinkTarget(settings: target, client: context.http))
    }
}
