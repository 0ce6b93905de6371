// CRMProcessConnector: the `process` kind — a child program in any language speaking JSON lines on stdin/stdout
// (Connectors/README.md), as a sink or a source.

import CRMConnector
import CRMDelivery
import CRMYAML
import Foundation

/// `kind: process`: runs a child program that speaks JSON lines (see ``ConnectorProcess``), as a sink
/// (`role: sink`) or a source (`role: source`).
public enum ProcessConnector: Connector {
    /// Settings of a `process` connector.
    public struct Settings: Sendable {
        /// Program and arguments; a relative program path is taken from the connector file's folder.
        public var command: [String]
        /// The folder the child runs in: the connector file's folder.
        public var workingDirectory: String
        /// The topic a sink reads, or a source writes.
        public var topic: String
        /// Free settings handed to the child in its `config` frame; values may be secret references.
        public var settings: [(name: String, value: SecretValue)] = []
        /// How long a sink waits for the child's answer to one message.
        public var timeout: Duration = .seconds(30)
        /// Delivery settings when the role is `sink`; `nil` for a source.
        public var delivery: SinkService.Configuration?

        /// The child's settings with secrets resolved.
        public func processSettings(name: String) throws(SecretError) -> ConnectorProcess.Settings {
            var executable = command[0]
            if !executable.hasPrefix("/") && executable.contains("/") {
                executable =
                    URL(fileURLWithPath: workingDirectory).appendingPathComponent(executable).standardizedFileURL.path
            }
            let program = executable.contains("/") ? [executable] : ["/usr/bin/env", executable]
            var process = ConnectorProcess.Settings(
                name: name, command: program + command.dropFirst(), role: delivery == nil ? .source : .sink)
            process.workingDirectory = workingDirectory
            for entry in settings { process.settings[entry.name] = try entry.value.resolve() }
            return process
        }
    }
}

extension ProcessConnector {
    public static let kind = "process"
    public static let keys = Set(["role", "command", "topic", "settings", "timeout_ms"]).union(
        SinkService.Configuration.keys)

    public static func settings(_ file: ConnectorFile) throws(YAMLError) -> Settings {
        let map = file.map
        let name = file.name
        let role = try map.require("role").oneOf(["sink", "source"])
        let commandValue = try map.require("command")
        let command = try commandValue.sequence().map { value throws(YAMLError) in try value.nonEmptyString() }
        guard !command.isEmpty else { throw commandValue.error("the command needs at least the program") }
        let topic = try map.require("topic").topicName()
        var settings = Settings(command: command, workingDirectory: file.directory, topic: topic)
        if let value = map.optional("settings") {
            for entry in try value.mapping().entries {
                let secret = SecretValue(parsing: try entry.value.string())
                let lowered = entry.key.lowercased()
                if ["token", "key", "secret", "password"].contains(where: { lowered.contains($0) })
                    && !secret.isReference
                {
                    throw entry.value.error(
                        "setting '\(entry.key)' holds a credential: write it as ${env:NAME} or ${file:PATH}, never inline"
                    )
                }
                settings.settings.append((entry.key, secret))
            }
        }
        if let value = map.optional("timeout_ms") { settings.timeout = .milliseconds(try value.int(in: 100...600_000)) }
        if role == "sink" {
            settings.delivery = try SinkService.Configuration(map, name: name, topic: topic)
        } else {
            try SinkService.Configuration.refuseKeys(in: map)
        }
        return settings
    }

    public static func topics(_ settings: Settings) -> [String] { settings.delivery?.topics ?? [settings.topic] }

    public static func sinkDelivery(_ settings: Settings) -> SinkService.Configuration? { settings.delivery }

    public static func make(_ settings: Settings, in context: ConnectorContext) async throws -> ConnectorParts {
        let process = try settings.processSettings(name: context.name)
        guard settings.delivery != nil else {
            let source = ProcessSourceService(
                settings: process, topic: settings.topic, emitter: context.emitter(), logger: context.logger)
            return ConnectorParts(services: [source])
        }
        return ConnectorParts(
            sink: await ProcessSinkTarget(settings: process, timeout: settings.timeout, logger: context.logger))
    }
}
