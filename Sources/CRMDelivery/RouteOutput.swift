import CRMKafka
import CRMModel

extension RouteConfiguration {
    /// The messages to produce for `records`, the transform's output for `message`: each sent to its output's topic
    /// with the envelope headers (id, origin, route). Fails when an output has no topic in this route.
    func outgoing(
        _ records: [TransformedRecord], for message: ConsumerMessage
    ) -> Result<[ProducerMessage], DeliveryFailure> {
        var outgoing: [ProducerMessage] = []
        outgoing.reserveCapacity(records.count)
        let origin = "\(message.topic)/\(message.partition)/\(message.offset)"
        for record in records {
            let topic: String
            switch to {
            case .topic(let single):
                topic = single
            case .byOutput(let topics):
                guard let output = record.output,
                    let mapped = topics[output]
                        ?? topics.first(where: { $0.key.lowercased() == output.lowercased() })?.value
                else {
                    return .failure(
                        DeliveryFailure(
                            reason: "mapping output '\(record.output ?? "-")' has no topic in route '\(name)'",
                            errorClass: "configuration"))
                }
                topic = mapped
            }
            var headers = record.headers.filter {
                $0.key != EnvelopeHeader.id && $0.key != EnvelopeHeader.origin && $0.key != EnvelopeHeader.route
            }
            let id =
                records.count == 1 ? message.stableID : "\(message.stableID)/\(record.output ?? "\(outgoing.count)")"
            headers.append(KafkaHeader(key: EnvelopeHeader.id, text: id))
            headers.append(KafkaHeader(key: EnvelopeHeader.origin, text: origin))
            headers.append(KafkaHeader(key: EnvelopeHeader.route, text: name))
            outgoing.append(ProducerMessage(topic: topic, key: record.key, value: record.value, headers: headers))
        }
        return .success(outgoing)
    }
}
