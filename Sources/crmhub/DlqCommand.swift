import ArgumentParser
import CRMDelivery
import CRMHub
import CRMKafka
import CRMModel
import Foundation
import Logging

/// `crmhub dlq list|show|replay|purge`: inspect and re-inject a route's dead-letter topic.
struct DlqCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dlq",
        abstract: "Inspect, replay and purge a route's or sink's dead-letter topic.",
        discussion: """
            A message a route cannot handle goes to its dead-letter topic (dlq.<route> unless the route names one) with
            its original bytes and headers saying why (crm-dlq-reason, crm-dlq-error-class, crm-dlq-source, ...).
            After a fix, `replay` re-injects selected messages into the route's input with their history; `purge`
            hides handled ones from later listings (the records stay until Kafka's retention removes them).
            """,
        subcommands: [List.self, Show.self, Replay.self, Purge.self])

    /// Options every dlq subcommand shares.
    struct Common: ParsableArguments {
        @OptionGroup var options: ConfigOptions
        @Option(help: "The route or sink (connector) whose dead-letter topic to work on.") var route: String
        @Option(help: "Stop reading after this many milliseconds without a new record.") var idleMs: Int = 2_000

        func queue() throws -> (DeadLetterQueue, HubRuntime) {
            let configuration = try options.load()
            var logger = Logger(label: "crmhub.dlq")
            logger.logLevel = .warning
            let runtime = HubRuntime(configuration: configuration, logger: logger)
            let client = runtime.clientConfiguration
            let prefix = configuration.kafka.groupPrefix
            if let route = configuration.routes.first(where: { $0.name == self.route }) {
                return (DeadLetterQueue(route: route, client: client, groupPrefix: prefix, logger: logger), runtime)
            }
            for connector in configuration.connectors where connector.name == self.route {
                if let delivery = connector.sinkDelivery {
                    return (
                        DeadLetterQueue(sink: delivery, client: client, groupPrefix: prefix, logger: logger), runtime
                    )
                }
            }
            let known = configuration.routes.map(\.name) + configuration.connectors.map(\.name)
            printError(
                "no route or sink named '\(self.route)' in \(configuration.file); known: \(known.joined(separator: ", "))"
            )
            throw ExitCode(2)
        }

        var idle: Duration { .milliseconds(idleMs) }
    }

    /// Which dead letters to act on.
    struct SelectionOptions: ParsableArguments {
        @Option(name: .customLong("id"), help: "A message id (crm-id); repeat for several.") var ids: [String] = []
        @Option(name: .customLong("key"), help: "A message key; repeat for several.") var keys: [String] = []
        @Option(help: "Dead-lettered at or after this ISO 8601 time (e.g. 2026-11-24T00:00:00Z).") var since: String?
        @Option(help: "Dead-lettered before this ISO 8601 time.") var until: String?
        @Flag(help: "Select every dead letter (required when no other criterion is given).") var all = false

        func selection() throws -> DeadLetterQueue.Selection {
            let selection = DeadLetterQueue.Selection(
                ids: Set(ids), keys: Set(keys), since: try since.map { try Self.date($0, "--since") },
                until: try until.map { try Self.date($0, "--until") })
            if ids.isEmpty && keys.isEmpty && since == nil && until == nil && !all {
                throw ValidationError("select messages with --id, --key, --since/--until, or --all")
            }
            return selection
        }

        static func date(_ text: String, _ option: String) throws -> Date {
            guard let date = try? Date(text, strategy: .iso8601) else {
                throw ValidationError("\(option) '\(text)' is not an ISO 8601 time such as 2026-11-24T00:00:00Z")
            }
            return date
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the dead letters of a route (newest last).")
        @OptionGroup var common: Common
        @Option(help: "Show at most this many (the newest).") var limit: Int = 100

        func run() async throws {
            let (queue, _) = try common.queue()
            let letters = try await queue.read(idle: common.idle)
            print("\(letters.count) dead letter(s) in \(queue.topic) (\(queue.name))")
            guard !letters.isEmpty else { return }
            let rows = letters.suffix(limit).map { letter in
                [
                    "\(letter.message.partition)/\(letter.message.offset)", letter.id, letter.message.keyText ?? "-",
                    letter.message.headers.text(DeadLetterHeader.deadLetteredAt) ?? "-", letter.errorClass,
                    String(letter.attempts),
                    String(letter.reason.prefix(80)),
                ]
            }
            printTable(
                header: ["PART/OFFSET", "ID", "KEY", "DEAD-LETTERED AT", "CLASS", "ATTEMPTS", "REASON"], rows: rows)
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show one dead letter's headers (and value with --value).")
        @OptionGroup var common: Common
        @Argument(help: "The message id (crm-id).") var id: String
        @Flag(help: "Also print the original value (it may hold personal data).") var value = false

        func run() async throws {
            let (queue, _) = try common.queue()
            guard let letter = try await queue.read(idle: common.idle).last(where: { $0.id == id }) else {
                printError("no dead letter with id '\(id)' in \(queue.topic)")
                throw ExitCode(1)
            }
            print("topic:     \(letter.message.topic)/\(letter.message.partition)/\(letter.message.offset)")
            print("key:       \(letter.message.keyText ?? "-")")
            print("bytes:     \(letter.message.value.count)")
            for header in letter.message.headers {
                print("header:    \(header.key) = \(header.text ?? "<\(header.value.count) bytes>")")
            }
            if value { print(String(decoding: letter.message.value, as: UTF8.self)) }
        }
    }

    struct Replay: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Re-inject selected dead letters into the route's input topic, in order, with their history.")
        @OptionGroup var common: Common
        @OptionGroup var select: SelectionOptions
        @Flag(help: "List what would be replayed without producing.") var dryRun = false
        @Flag(help: "Purge the replayed messages from the dead-letter listing afterwards.") var purge = false

        func run() async throws {
            let (queue, runtime) = try common.queue()
            let selection = try select.selection()
            if dryRun {
                let letters = try await queue.read(idle: common.idle).filter(selection.matches)
                print(
                    "would replay \(letters.count) message(s) into \(queue.replayTopic): \(letters.map(\.id).joined(separator: ", "))"
                )
                return
            }
            var producerConfiguration = KafkaProducerConfiguration(
                bootstrapServers: runtime.configuration.kafka.brokers)
            producerConfiguration.client = runtime.clientConfiguration
            var logger = Logger(label: "crmhub.dlq")
            logger.logLevel = .warning
            let producer = try KafkaProducer(configuration: producerConfiguration, logger: logger)
            let replayed = try await queue.replay(selection, producer: producer, idle: common.idle)
            await producer.shutdown()
            print("replayed \(replayed.count) message(s) into \(queue.replayTopic)")
            if purge {
                let purged = try await queue.purge(selection, idle: common.idle)
                print("purged \(purged) message(s) from the listing")
            }
        }
    }

    struct Purge: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Hide handled dead letters from later listings (per partition, up to the first unselected one).")
        @OptionGroup var common: Common
        @OptionGroup var select: SelectionOptions

        func run() async throws {
            let (queue, _) = try common.queue()
            let purged = try await queue.purge(try select.selection(), idle: common.idle)
            print("purged \(purged) message(s) from \(queue.topic)'s listing")
        }
    }
}

/// Prints rows as a left-aligned table.
func printTable(header: [String], rows: [[String]]) {
    var widths = header.map(\.count)
    for row in rows { for (index, cell) in row.enumerated() { widths[index] = max(widths[index], cell.count) } }
    func line(_ cells: [String]) -> String {
        cells.enumerated().map { $0.element.padding(toLength: widths[$0.offset], withPad: " ", startingAt: 0) }.joined(
            separator: "  ")
    }
    print(line(header))
    for row in rows { print(line(row)) }
}
