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
        // The envelope's values, once per message and straight as bytes: this runs for every message a route handles.
        let origin = KafkaHeader(key: EnvelopeHeader.origin, value: message.position(separator: "/"))
        let route = KafkaHeader(key: EnvelopeHeader.route, text: name)
        let stableID = message.stableIDBytes
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
            var headers: [KafkaHeader] = []
            headers.reserveCapacity(record.headers.count + 3)
            for header in record.headers
            where header.key != EnvelopeHeader.id && header.key != EnvelopeHeader.origin
                && header.key != EnvelopeHeader.route
            {
                headers.append(header)
            }
            let id =
                records.count == 1 ? stableID : stableID + Array("/\(record.output ?? "\(outgoing.count)")".utf8)
            headers.append(KafkaHeader(key: EnvelopeHeader.id, value: id))
            headers.append(origin)
            headers.append(route)
            outgoing.append(ProducerMessage(topic: topic, key: record.key, value: record.value, headers: headers))
        }
        return .success(outgoing)
    }
}
