import CRMKafka
import CRMModel

extension RouteConfiguration {
    /// The `crm-route` header of this route's records.
    var routeHeader: KafkaHeader { KafkaHeader(key: EnvelopeHeader.route, text: name) }

    /// The messages to produce for `records`, the transform's output for `message`: each sent to its output's topic
    /// with the envelope headers (id, origin, route). `route` is this route's ``routeHeader`` when the caller made it
    /// once for many messages (nil: made here). Fails when an output has no topic in this route.
    func outgoing(
        _ records: [TransformedRecord], for message: ConsumerMessage, route: KafkaHeader? = nil
    ) -> Result<[ProducerMessage], DeliveryFailure> {
        var outgoing: [ProducerMessage] = []
        outgoing.reserveCapacity(records.count)
        // The envelope's values, once per message and straight as bytes: this runs for every message a route handles.
        let origin = KafkaHeader(key: EnvelopeHeader.origin, value: message.position(separator: "/"))
        let route = route ?? routeHeader
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

/// What a route does with one consumed message, decided before anything of it is produced.
enum RouteStep: Sendable {
    /// Produce these records (none finishes the message at once).
    case produce([ProducerMessage])
    /// The transform dropped the message on purpose.
    case drop(reason: String)
    /// The message cannot be handled: it goes to the dead-letter topic.
    case deadLetter(DeliveryFailure)
}

extension RouteConfiguration {
    /// Transforms `message` and addresses its records. Touches no route state, so it may run ahead and in parallel.
    /// `routeHeader` is this route's ``routeHeader`` when the caller made it once for many messages.
    func step(
        for message: ConsumerMessage, using transform: any MessageTransform, routeHeader: KafkaHeader? = nil
    ) async -> RouteStep {
        switch await transform.transform(message) {
        case .produce(let records):
            guard !records.isEmpty else { return .produce([]) }
            switch outgoing(records, for: message, route: routeHeader) {
            case .success(let outgoing): return .produce(outgoing)
            case .failure(let failure): return .deadLetter(failure)
            }
        case .drop(let reason):
            return .drop(reason: reason)
        case .failure(let reason, let errorClass):
            return .deadLetter(DeliveryFailure(reason: reason, errorClass: errorClass))
        }
    }

    /// The steps for a whole batch, decided on several tasks at once, when `transform` is stateless; nil when it is
    /// not, and each message must be transformed in turn.
    func steps(for batch: [ConsumerMessage], using transform: any MessageTransform) async -> [RouteStep]? {
        guard transform.isStateless else { return nil }
        let routeHeader = self.routeHeader
        return await batch.concurrentMap { await self.step(for: $0, using: transform, routeHeader: routeHeader) }
    }
}
