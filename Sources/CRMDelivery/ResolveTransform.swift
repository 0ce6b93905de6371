import CRMModel
import CRMKafka
import CRMMasterData
import Foundation

/// The route step `resolve: true`: resolves each customer message against the master data and passes it on with
/// its golden customer id (field `goldenId` and header `crm-golden-id`), so every system downstream gets the same id.
///
/// The input is a customer record as JSON (`system`, `externalId`, `givenName`, `familyName`, `email`, `phone`,
/// `street`, `city`, `postcode`, `country`, `dateOfBirth`, ...). A message that is not one goes to the route's
/// dead-letter topic with the reason.
public struct ResolveTransform: MessageTransform {
    public let resolver: MasterDataResolver

    public init(resolver: MasterDataResolver) { self.resolver = resolver }

    public var description: String { "resolve" }

    public func transform(_ message: ConsumerMessage) async -> TransformOutcome {
        let record: CustomerRecord
        do {
            record = try JSONDecoder().decode(CustomerRecord.self, from: Data(message.value))
        } catch {
            return .failure(reason: "not a customer record: \(Self.describe(error))", errorClass: "validation")
        }
        let resolution: Resolution
        do {
            resolution = try await resolver.resolve(record)
        } catch {
            return .failure(reason: "master data could not store the resolution: \(error)", errorClass: "master-data")
        }
        var object = (try? JSONSerialization.jsonObject(with: Data(message.value)) as? [String: Any]) ?? [:]
        object["goldenId"] = resolution.goldenId
        object["resolution"] = resolution.decision.rawValue
        let value = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])).map(Array.init) ?? message.value
        var headers = message.headers.filter { $0.key != EnvelopeHeader.goldenID }
        headers.append(KafkaHeader(key: EnvelopeHeader.goldenID, text: resolution.goldenId))
        return .produce([TransformedRecord(key: message.key ?? Array(resolution.goldenId.utf8), value: value, headers: headers)])
    }

    /// A decoding error without the input's values (they are personal data).
    static func describe(_ error: any Error) -> String {
        switch error {
        case DecodingError.keyNotFound(let key, _): "missing field '\(key.stringValue)'"
        case DecodingError.typeMismatch(_, let context), DecodingError.valueNotFound(_, let context):
            "field '\(context.codingPath.map(\.stringValue).joined(separator: "."))' has the wrong type"
        case DecodingError.dataCorrupted: "the value is not JSON"
        default: "unreadable"
        }
    }
}

/// Publishes master-data change events to a topic (key: golden id, so one customer's events stay in order),
/// waiting for the broker's acknowledgement.
public struct KafkaMasterDataEventSink: MasterDataEventSink {
    public let topic: String
    public let producer: KafkaProducer

    public init(topic: String, producer: KafkaProducer) {
        self.topic = topic
        self.producer = producer
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
        }
    }
}
