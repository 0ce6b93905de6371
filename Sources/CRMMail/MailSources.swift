import CRMHub
import CRMKafka
import CRMMapping
import CRMTransport
import Foundation
import Logging
import ServiceLifecycle

extension IMAPSource {
    /// One source per `imap-source` connector of `configuration`, sharing the hub's producer and one state file
    /// (`<state_dir>/imap.sqlite`). Throws ``MailSourceSetupError`` for a missing mapping or secret.
    public static func makeAll(configuration: HubConfiguration, producer: KafkaProducer, logger: Logger) throws -> [IMAPSource] {
        let connectors = configuration.connectors.compactMap { connector -> (ConnectorConfiguration, ConnectorConfiguration.IMAPSourceSettings)? in
            guard case .imapSource(let settings) = connector.kind else { return nil }
            return (connector, settings)
        }
        guard !connectors.isEmpty else { return [] }
        let library: MappingLibrary
        do {
            library = try MappingLibrary.load(directory: configuration.mappingsDirectory)
        } catch {
            throw MailSourceSetupError("the mappings in \(configuration.mappingsDirectory) do not compile: \(error)")
        }
        let state: MailboxStateStore
        let statePath = URL(fileURLWithPath: configuration.stateDirectory).appendingPathComponent("imap.sqlite").path
        do {
            state = try MailboxStateStore(path: statePath)
        } catch {
            throw MailSourceSetupError("cannot open the mailbox state at \(statePath): \(error)")
        }
        var sources: [IMAPSource] = []
        for (connector, settings) in connectors {
            guard let mapping = library.mapping(named: settings.mapping) else {
                throw MailSourceSetupError("\(connector.file): no mapping named '\(settings.mapping)' in \(configuration.mappingsDirectory)")
            }
            let server: MailServerSettings
            do {
                server = try settings.server.resolve()
            } catch {
                throw MailSourceSetupError("\(connector.file): \(error)")
            }
            var sourceSettings = IMAPSource.Settings(
                name: connector.name, mailbox: settings.mailbox, topic: settings.topic, deadLetterTopic: settings.deadLetterTopic,
                pollInterval: settings.pollInterval, keyword: settings.keyword, maxMessageBytes: settings.maxMessageBytes)
            sourceSettings.maxInFlight = settings.maxInFlight
            sources.append(
                IMAPSource(
                    settings: sourceSettings, client: IMAPClient(settings: server), producer: producer, mapping: mapping,
                    mappingContext: library.context, state: state, logger: logger))
        }
        return sources
    }
}

/// A mail source that cannot start (missing mapping or secret, unreadable state), said plainly.
public struct MailSourceSetupError: Error, Sendable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
