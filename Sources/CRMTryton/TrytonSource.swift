import CRMConnector
import CRMKafka
import CRMModel
import Logging
import Metrics
import ServiceLifecycle

/// What a Tryton source reads: a model, its fields, which records, and the one-to-many fields it nests (sale lines,
/// a party's contact mechanisms and addresses).
public struct TrytonSourceModel: Sendable {
    /// The short name in message ids (`tryton:<name>:<id>:<write_date>`) and logs: `sale`, `party`.
    public let name: String
    /// The Tryton model, e.g. `sale.sale`.
    public let model: String
    let fields: [String]
    /// Search-domain terms every read record satisfies (besides the checkpoint).
    public let filter: [JSONValue]
    let related: [Related]
    /// The field whose value keys the message (`number`, `code`); `tryton:<name>:<id>` when it is empty.
    let keyField: String

    /// A one-to-many field read from its own model and nested as an array of objects (without the back reference).
    struct Related: Sendable {
        var field: String
        var model: String
        var fields: [String]
        var parentField: String
    }

    /// Sale orders in `states`, with their lines: the document Mappings/tryton-sale.yaml reads (`number`, `state`,
    /// `sale_date`, `party: {id, code, name}`, `currency.code`, `total_amount`, `lines[].product.code`...).
    public static func sales(states: [String]) -> Self {
        Self(
            name: "sale", model: "sale.sale",
            fields: [
                "id", "number", "reference", "state", "sale_date", "write_date", "create_date", "party", "party.code",
                "party.name", "currency", "currency.code", "total_amount", "untaxed_amount", "tax_amount", "lines",
                "comment",
            ],
            filter: [["state", "in", .array(states.map { .string($0) })]],
            related: [
                Related(
                    field: "lines", model: "sale.line",
                    fields: [
                        "id", "sale", "type", "sequence", "product", "product.code", "description", "quantity",
                        "unit_price", "amount",
                    ],
                    parentField: "sale")
            ],
            keyField: "number")
    }

    /// Active parties with their contact mechanisms and addresses: the document Mappings/tryton-party.yaml reads
    /// (`code`, `name`, `lang.code`, `contact_mechanisms[].type/value`, `addresses[].street/city/postal_code/
    /// country.code/active`). A change to a contact mechanism or address alone does not move the party's
    /// `write_date`, so it is produced with the party's next change.
    public static let parties = Self(
        name: "party", model: "party.party",
        fields: [
            "id", "code", "name", "write_date", "create_date", "lang", "lang.code", "contact_mechanisms", "addresses",
        ],
        filter: [],
        related: [
            Related(
                field: "contact_mechanisms", model: "party.contact_mechanism",
                fields: ["id", "party", "type", "value"], parentField: "party"),
            Related(
                field: "addresses", model: "party.address",
                fields: ["id", "party", "street", "city", "postal_code", "country", "country.code", "active"],
                parentField: "party"),
        ],
        keyField: "code")
}

/// Polls a Tryton model (sale orders, parties) and produces each changed record to a Kafka topic as a plain JSON
/// document (tagged values made plain, related records nested; see ``TrytonSourceModel``).
///
/// Records are read in `(write_date, id)` order after the stored checkpoint; the checkpoint moves past a record
/// only after Kafka acknowledged its message, so a crash re-produces at most the unacknowledged tail. The message id
/// (`crm-id` header) is `tryton:<model name>:<id>:<write_date>`: a re-poll after a crash produces the same id, and
/// a later change of the record (new `write_date`) a new one. The `crm-origin` header is `tryton/<connector>`.
public final class TrytonSource: Service, Sendable {
    public struct Settings: Sendable {
        /// The connector name (checkpoint key, logs, metrics).
        public var name: String
        public var topic: String
        /// What is read.
        public var model: TrytonSourceModel
        /// Pause between polls when the last poll found nothing more. Default 30 s.
        public var pollInterval: Duration = .seconds(30)
        /// Most records read per poll. Default 100.
        public var batchSize: Int = 100

        public init(name: String, topic: String, model: TrytonSourceModel) {
            self.name = name
            self.topic = topic
            self.model = model
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
            "Tryton source started",
            metadata: [
                "source": "\(settings.name)", "model": "\(settings.model.model)", "topic": "\(settings.topic)",
            ])
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
                "Tryton poll failed; trying again later",
                metadata: ["source": "\(settings.name)", "error": "\(error)"])
            return 0
        }
    }

    /// One poll: produces the records changed after the checkpoint (at most `batchSize`), advancing the checkpoint
    /// after each acknowledgement. Returns how many records were produced.
    @discardableResult
    public func pollOnce() async throws -> Int {
        let checkpoint = try await store.checkpoint(source: settings.name)
        let records = try await changedRecords(after: checkpoint)
        guard !records.isEmpty else { return 0 }
        var related: [String: [String: JSONValue]] = [:]
        for field in settings.model.related { related[field.field] = try await read(field, of: records) }
        var count = 0
        for record in records {
            let document = Self.document(record, related: related, model: settings.model)
            guard let next = Self.checkpoint(of: document) else {
                throw TrytonSourceError(
                    description: "\(settings.model.model) record without id or write_date in the reply")
            }
            try await produce(document, checkpoint: next)
            try await store.save(next, source: settings.name)
            count += 1
        }
        logger.info(
            "Tryton records produced",
            metadata: ["source": "\(settings.name)", "model": "\(settings.model.model)", "count": "\(count)"])
        return count
    }

    private func produce(_ document: JSONValue, checkpoint: SourceCheckpointStore.Checkpoint) async throws {
        let model = settings.model
        let id = "tryton:\(model.name):\(checkpoint.id):\(checkpoint.modified)"
        let key =
            document[model.keyField]?.scalarText.flatMap { $0.isEmpty ? nil : $0 }
            ?? "tryton:\(model.name):\(checkpoint.id)"
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

    private func changedRecords(
        after checkpoint: SourceCheckpointStore.Checkpoint?
    ) async throws(TrytonError) -> [JSONValue] {
        var domain = settings.model.filter
        if let checkpoint, let time = TrytonValue.datetime(checkpoint.modified) {
            let later: JSONValue = [["write_date", ">", time]]
            let sameTimeLaterID: JSONValue = [["write_date", "=", time], ["id", ">", .number(String(checkpoint.id))]]
            domain.append(["OR", later, sameTimeLaterID])
        }
        let order: JSONValue = [["write_date", "ASC"], ["id", "ASC"]]
        return try await client.searchRead(
            settings.model.model, domain: .array(domain), fields: settings.model.fields, limit: settings.batchSize,
            order: order)
    }

    /// The related records `records` refer to through `field`, by id.
    private func read(
        _ field: TrytonSourceModel.Related, of records: [JSONValue]
    ) async throws(TrytonError) -> [String: JSONValue] {
        var ids: [Int] = []
        for record in records {
            for item in record[field.field]?.arrayItems ?? [] {
                if let text = item.scalarText, let id = Int(text) { ids.append(id) }
            }
        }
        guard !ids.isEmpty else { return [:] }
        var byID: [String: JSONValue] = [:]
        for record in try await client.read(field.model, ids: ids, fields: field.fields) {
            if let id = record["id"]?.scalarText { byID[id] = record }
        }
        return byID
    }

    /// The produced document: the record with tagged values made plain, related records as nested objects
    /// (`party: {id, code, name}`) and each one-to-many field as an array of its records, in the record's order.
    static func document(
        _ record: JSONValue, related: [String: [String: JSONValue]], model: TrytonSourceModel
    ) -> JSONValue {
        var members: [(String, JSONValue)] = []
        for (name, value) in nested(record) {
            guard let field = model.related.first(where: { $0.field == name }) else {
                members.append((name, value))
                continue
            }
            let items = (value.arrayItems ?? []).compactMap { item -> JSONValue? in
                guard let id = item.scalarText, let found = related[name]?[id] else { return nil }
                return .object(nested(found).filter { $0.0 != field.parentField })
            }
            members.append((name, .array(items)))
        }
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
