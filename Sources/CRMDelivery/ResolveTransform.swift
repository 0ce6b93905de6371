import CRMKafka
import CRMMasterData
import CRMModel
import Foundation
import Metrics

/// The route step `resolve: true`: resolves each customer message against the master data and passes it on with
/// its golden customer id (field `goldenId` and header `crm-golden-id`), so every system downstream gets the same id.
///
/// The input is a canonical Customer entity or a flat customer record (see `CustomerMessage`); the output is the same
/// JSON with the golden id added, keyed by the golden id: every message about one person lands on one partition in
/// order, a compacted customer topic keeps the latest per person, and erasure's golden-id tombstone covers every
/// record of the person there (the input key, such as the web-form mapping's `web:<e-mail>`, would outlive it).
/// A message that is not a customer goes to the route's dead-letter topic with a
/// reason that carries no personal data. A message about an erased person (its record reference or golden id is on
/// the erasure ledger, see `ErasureLedger`) is dropped, not dead-lettered (a dead-letter topic would keep the
/// personal data), and counted in `crmhub_resolve_erased_dropped_total`.
public struct ResolveTransform: MessageTransform {
    public let resolver: MasterDataResolver
    private let erasedDropped = Counter(label: "crmhub_resolve_erased_dropped_total")

    public init(resolver: MasterDataResolver) { self.resolver = resolver }

    public var description: String { "resolve" }

    public func transform(_ message: ConsumerMessage) async -> TransformOutcome {
        let input: CustomerMessage
        do {
            input = try CustomerMessage(
                bytes: message.value, sourceSystem: message.headers.text(CustomerMessage.sourceHeader))
        } catch {
            return .failure(reason: error.description, errorClass: "validation")
        }
        let record = input.record
        let resolution: Resolution
        do {
            let goldenId = input.json["goldenId"]?.scalarText ?? message.headers.text(EnvelopeHeader.goldenID)
            resolution = try await resolver.resolve(record, goldenId: goldenId)
        } catch let error as MasterDataError where error.kind == .erased {
            erasedDropped.increment()
            return .drop(reason: "the customer was erased")
        } catch {
            return .failure(reason: "master data could not store the resolution: \(error)", errorClass: "master-data")
        }
        let value = input.resolved(goldenId: resolution.goldenId, decision: resolution.decision)
        var headers = message.headers.filter { $0.key != EnvelopeHeader.goldenID }
        headers.append(KafkaHeader(key: EnvelopeHeader.goldenID, text: resolution.goldenId))
        return .produce([
            TransformedRecord(key: Array(resolution.goldenId.utf8), value: value, headers: headers)
        ])
    }
}

/// Publishes master-data change events to a topic (key: golden id, so one customer's events stay in order),
/// waiting for the broker's acknowledgement.
///
/// An `erased` event is published as `crm-event: golden-customer-erased` (its value carries the golden id and the
/// erased record references only), followed by tombstones: one for the golden id on the events topic, and one per
/// key on each of the ``ErasureTombstones/topics`` (see ``ErasureTombstones``). Compaction then removes the
/// person's records from those topics.
public struct KafkaMasterDataEventSink: MasterDataEventSink {
    public let topic: String
    public let producer: KafkaProducer
    /// The customer-keyed compacted topics that get tombstones on erasure.
    public let erasure: ErasureTombstones

    public init(topic: String, producer: KafkaProducer, erasure: ErasureTombstones = ErasureTombstones()) {
        self.topic = topic
        self.producer = producer
        self.erasure = erasure
    }

    public func publish(_ events: [MasterDataEvent]) async throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        for event in events {
            let value = Array(try encoder.encode(event))
            _ = try await producer.send(
                ProducerMessage(
                    topic: topic, key: Array(event.goldenId.utf8), value: value,
                    headers: [KafkaHeader(key: "crm-event", text: "golden-customer-\(event.kind.rawValue)")]))
            if event.kind == .erased { try await publishTombstones(for: event) }
        }
    }

    /// Tombstones for an erased person's keys: the golden id on the events topic, every configured key on every
    /// configured customer topic.
    private func publishTombstones(for event: MasterDataEvent) async throws {
        var messages = [ProducerMessage.tombstone(topic: topic, key: Array(event.goldenId.utf8))]
        let keys = erasure.keys(goldenId: event.goldenId, records: event.erasedRecords)
        for tombstoneTopic in erasure.topics where tombstoneTopic != topic {
            messages += keys.map { ProducerMessage.tombstone(topic: tombstoneTopic, key: Array($0.utf8)) }
        }
        for message in messages { _ = try await producer.send(message) }
    }
}
