import CRMYAML
import Foundation

extension ConnectorConfiguration {
    /// Settings of a `process` connector.
    public struct ProcessSettings: Sendable {
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
                executable = URL(fileURLWithPath: workingDirectory).appendingPathComponent(executable).standardizedFileURL.path
            }
            let program = executable.contains("/") ? [executable] : ["/usr/bin/env", executable]
            var process = ConnectorProcess.Settings(name: name, command: program + command.dropFirst(), role: delivery == nil ? .source : .sink)
            process.workingDirectory = workingDirectory
            for entry in settings { process.settings[entry.name] = try entry.value.resolve() }
            return process
        }
    }
}

extension ConnectorConfiguration {
    static func process(_ map: YAMLMapping, name: String, file: String) throws(YAMLError) -> ProcessSettings {
        let role = try map.require("role").oneOf(["sink", "source"])
        let commandValue = try map.require("command")
        let command = try commandValue.sequence().map { value throws(YAMLError) in try value.nonEmptyString() }
        guard !command.isEmpty else { throw commandValue.error("the command needs at least the program") }
        let topic = try RouteConfiguration.topicName(map.require("topic"))
        var settings = ProcessSettings(
            command: command, workingDirectory: URL(fileURLWithPath: file).deletingLastPathComponent().path, topic: topic)
        if let value = map.optional("settings") {
            for entry in try value.mapping().entries {
                let secret = SecretValue(parsing: try entry.value.string())
                let lowered = entry.key.lowercased()
                if ["token", "key", "secret", "password"].contains(where: { lowered.contains($0) }) && !secret.isReference {
                    throw entry.value.error("setting '\(entry.key)' holds a credential: write it as ${env:NAME} or ${file:PATH}, never inline")
                }
                settings.settings.append((entry.key, secret))
            }
        }
        if let value = map.optional("timeout_ms") { settings.timeout = .milliseconds(try value.int(in: 100...600_000)) }
        if role == "sink" {
            settings.delivery = try sinkDelivery(map, name: name, topic: topic)
        } else {
            for key in sinkDeliveryKeys.sorted() where map.optional(key) != nil {
                throw try map.require(key).error("'\(key)' applies to sinks only")
            }
        }
        return settings
    }
}
