import CRMConnector
import CRMKafka
import CRMModel
import Logging
import Metrics
import ServiceLifecycle

/// Polls Tryton for confirmed sale orders and produces each to a Kafka topic as the JSON document
/// Mappings/tryton-sale.yaml reads (`number`, `state`, `sale_date`, `party.code`, `currency.code`, `total_amount`,
/// `untaxed_amount`, `lines[].product.code`...; dates and decimals as text).
///
/// Sales are read in `(write_date, id)` order after the stored checkpoint; the checkpoint moves past a sale only
/// after Kafka acknowledged its message, so a crash re-produces at most the unacknowledged tail. The message id
/// (`crm-id` header) is `tryton:sale:<id>:<write_date>`: a re-poll after a crash produces the same id, and a later
/// change of the sale (new `write_date`) a new one.
public final class TrytonSaleSource: Service, Sendable {
    public struct Settings: Sendable {
        /// The connector name (checkpoint key, logs, metrics).
        public var name: String
        public var topic: String
        /// Sale states that are produced. Default `confirmed`, `processing`.
        public var states: [String] = ["confirmed", "processing"]
        /// Pause between polls when the last poll found nothing more. Default 30 s.
        public var pollInterval: Duration = .seconds(30)
        /// Most sales read per poll. Default 100.
        public var batchSize: Int = 100

        public init(name: String, topic: String) {
            self.name = name
            self.topic = topic
        }
    }

    public let settings: Settings
    private let client: TrytonClient
    private let emitter: SourceEmitter
    private let store: SourceCheckpointStore
    private let logger: Logger
    private let produced: Counter
    private let failures: Counter

    public init(
        settings: Settings, client: TrytonClient, emitter: SourceEmitter, store: SourceCheckpointStore, logger: Logger
    ) {
        self.settings = settings
        self.client = client
        self.emitter = emitter
        self.store = store
        self.logger = logger
        produced = Counter(label: "crmhub_source_produced_total", dimensions: [("source", settings.name)])
        failures = Counter(label: "crmhub_source_poll_failures_total", dimensions: [("source", settings.name)])
    }

    /// A source producing through its own emitter on `producer`.
    public convenience init(
        settings: Settings, client: TrytonClient, producer: KafkaProducer, store: SourceCheckpointStore, logger: Logger
    ) {
        self.init(
            settings: settings, client: client, emitter: SourceEmitter(connector: settings.name, producer: producer),
            store: store, logger: logger)
    }

    /// Polls until graceful shutdown; a failed poll is logged, counted and tried again after the interval.
    public func run() async throws {
        logger.info(
            "Tryton sale source started", metadata: ["source": "\(settings.name)", "topic": "\(settings.topic)"])
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            let count = await pollLogged()
            if count >= settings.batchSize { continue }
            let interval = settings.pollInterval
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
        }
    }

    private func pollLogged() async -> Int {
        do {
            return try await pollOnce()
        } catch {
            failures.increment()
            logger.warning(
                "Tryton sale poll failed; trying again later",
                metadata: ["source": "\(settings.name)", "error": "\(error)"])
            return 0
        }
    }

    /// One poll: produces the sales changed after the checkpoint (at most `batchSize`), advancing the checkpoint
    /// after each acknowledgement. Returns how many sales were produced.
    @discardableResult
    public func pollOnce() async throws -> Int {
        let checkpoint = try await store.checkpoint(source: settings.name)
        let sales = try await changedSales(after: checkpoint)
        guard !sales.isEmpty else { return 0 }
        let lines = try await saleLines(of: sales)
        var count = 0
        for sale in sales {
            let document = Self.document(sale, lines: lines)
            guard let next = Self.checkpoint(of: document) else {
                throw TrytonSourceError(description: "sale without id or write_date in the reply")
            }
            try await produce(document, checkpoint: next)
            try await store.save(next, source: settings.name)
            count += 1
        }
        logger.info("Tryton sales produced", metadata: ["source": "\(settings.name)", "count": "\(count)"])
        return count
    }

    private func produce(_ document: JSONValue, checkpoint: SourceCheckpointStore.Checkpoint) async throws {
        let id = "tryton:sale:\(checkpoint.id):\(checkpoint.modified)"
        let key = document["number"]?.stringValue ?? "tryton:sale:\(checkpoint.id)"
        let headers = [
            KafkaHeader(key: EnvelopeHeader.id, text: id),
            KafkaHeader(key: EnvelopeHeader.origin, text: "tryton/\(settings.name)"),
        ]
        let message = ProducerMessage(
            topic: settings.topic, key: Array(key.utf8), value: document.jsonBytes(), headers: headers)
        do {
            try await emitter.emit(message)
        } catch {
            throw TrytonSourceError(
                description: "Kafka did not acknowledge \(id) on \(settings.topic): \(error.reason)")
        }
        produced.increment()
    }

    static let saleFields = [
        "id", "number", "reference", "state", "sale_date", "write_date", "create_date", "party", "party.code",
        "party.name",
        "currency", "currency.code", "total_amount", "untaxed_amount", "tax_amount", "lines", "comment",
    ]
    static let lineFields = [
        "id", "sale", "type", "sequence", "product", "product.code", "description", "quantity", "unit_price", "amount",
    ]

    private func changedSales(
        after checkpoint: SourceCheckpointStore.Checkpoint?
    ) async throws(TrytonError) -> [JSONValue] {
        var domain: [JSONValue] = [["state", "in", .array(settings.states.map { .string($0) })]]
        if let checkpoint, let time = TrytonValue.datetime(checkpoint.modified) {
            let later: JSONValue = [["write_date", ">", time]]
            let sameTimeLaterID: JSONValue = [["write_date", "=", time], ["id", ">", .number(String(checkpoint.id))]]
            domain.append(["OR", later, sameTimeLaterID])
        }
        let order: JSONValue = [["write_date", "ASC"], ["id", "ASC"]]
        return try await client.searchRead(
            "sale.sale", domain: .array(domain), fields: Self.saleFields, limit: settings.batchSize, order: order)
    }

    private func saleLines(of sales: [JSONValue]) async throws(TrytonError) -> [String: JSONValue] {
        var ids: [Int] = []
        for sale in sales {
            for line in sale["lines"]?.arrayItems ?? [] {
                if let text = line.scalarText, let id = Int(text) { ids.append(id) }
            }
        }
        guard !ids.isEmpty else { return [:] }
        let records = try await client.read("sale.line", ids: ids, fields: Self.lineFields)
        var byID: [String: JSONValue] = [:]
        for record in records {
            if let id = record["id"]?.scalarText { byID[id] = record }
        }
        return byID
    }

    /// The produced document: the sale with tagged values made plain, related records as nested objects
    /// (`party: {id, code, name}`) and the lines in sale order.
    static func document(_ sale: JSONValue, lines: [String: JSONValue]) -> JSONValue {
        var members: [(String, JSONValue)] = []
        for (name, value) in nested(sale) where name != "lines" {
            members.append((name, value))
        }
        var saleLines: [JSONValue] = []
        for line in sale["lines"]?.arrayItems ?? [] {
            guard let id = line.scalarText, let record = lines[id] else { continue }
            saleLines.append(.object(nested(record).filter { $0.0 != "sale" }))
        }
        members.append(("lines", .array(saleLines)))
        return TrytonValue.plain(.object(members))
    }

    /// Tryton returns `party` (the id) and `party.` (the related record's requested fields); this folds them into
    /// one object `party: {id, code, ...}`.
    private static func nested(_ record: JSONValue) -> [(String, JSONValue)] {
        guard let members = record.objectMembers else { return [] }
        var result: [(String, JSONValue)] = []
        for (name, value) in members where !name.hasSuffix(".") {
            guard let related = record["\(name)."]?.objectMembers else {
                result.append((name, value))
                continue
            }
            var object: [(String, JSONValue)] = [("id", value)]
            object.append(contentsOf: related.filter { $0.0 != "id" })
            result.append((name, .object(object)))
        }
        return result
    }

    static func checkpoint(of document: JSONValue) -> SourceCheckpointStore.Checkpoint? {
        guard let idText = document["id"]?.scalarText, let id = Int(idText) else { return nil }
        let modified = document["write_date"]?.stringValue ?? document["create_date"]?.stringValue
        guard let modified else { return nil }
        return SourceCheckpointStore.Checkpoint(modified: modified, id: id)
    }
}

/// A poll of a source connector that could not finish (nothing after the failed record was produced).
public struct TrytonSourceError: Error, Sendable, CustomStringConvertible {
    public var description: String
}
