import CRMKafka
import CRMModel
import Testing

@testable import CRMDelivery

@Suite("Route output: envelope headers")
struct RouteOutputTests {
    let route = RouteConfiguration(
        name: "orders", from: "erp.orders", to: .byOutput(["customer": "crm.customers", "order": "crm.orders"]))

    func message(headers: [KafkaHeader]) -> ConsumerMessage {
        ConsumerMessage(
            topicPartition: TopicPartition(topic: "erp.orders", partition: 2), offset: 41_007, key: Array("k".utf8),
            value: Array("{}".utf8), headers: headers)
    }

    func texts(_ message: ProducerMessage) -> [String: String] {
        Dictionary(message.headers.map { ($0.key, $0.text ?? "<bytes>") }, uniquingKeysWith: { first, _ in first })
    }

    @Test("an input without crm-id gets one from where it was read, which a re-delivery reproduces")
    func derivedID() throws {
        let input = message(headers: [KafkaHeader(key: "trace", text: "t-1")])
        let out = try route.outgoing(
            [TransformedRecord(output: "order", key: nil, value: [1], headers: input.headers)], for: input
        ).get()
        #expect(out.count == 1 && out[0].topic == "crm.orders")
        #expect(
            texts(out[0]) == [
                "trace": "t-1", EnvelopeHeader.id: "erp.orders-2-41007", EnvelopeHeader.origin: "erp.orders/2/41007",
                EnvelopeHeader.route: "orders",
            ])
        #expect(out[0].headers.map(\.key) == ["trace", EnvelopeHeader.id, EnvelopeHeader.origin, EnvelopeHeader.route])
        #expect(input.stableID == "erp.orders-2-41007")
    }

    @Test("a crm-id from the input is kept; stale origin and route headers are replaced; each output gets its own id")
    func keptIDAndSeveralOutputs() throws {
        let input = message(headers: [
            KafkaHeader(key: EnvelopeHeader.id, text: "web-7f3a"), KafkaHeader(key: EnvelopeHeader.origin, text: "old"),
            KafkaHeader(key: EnvelopeHeader.route, text: "upstream"),
        ])
        let records = [
            TransformedRecord(output: "customer", key: nil, value: [1], headers: input.headers),
            TransformedRecord(output: "order", key: nil, value: [2], headers: input.headers),
        ]
        let out = try route.outgoing(records, for: input).get()
        #expect(out.map(\.topic) == ["crm.customers", "crm.orders"])
        #expect(out.map { texts($0)[EnvelopeHeader.id] } == ["web-7f3a/customer", "web-7f3a/order"])
        #expect(out.allSatisfy { texts($0)[EnvelopeHeader.origin] == "erp.orders/2/41007" })
        #expect(out.allSatisfy { texts($0)[EnvelopeHeader.route] == "orders" })
        #expect(out.allSatisfy { $0.headers.count == 3 })
        #expect(input.stableID == "web-7f3a")
    }

    @Test("a crm-id that is not UTF-8 is replaced by the derived one")
    func invalidID() throws {
        let input = message(headers: [KafkaHeader(key: EnvelopeHeader.id, value: [0xFF, 0xFE])])
        let out = try route.outgoing(
            [TransformedRecord(output: "order", key: nil, value: [1], headers: input.headers)], for: input
        ).get()
        #expect(texts(out[0])[EnvelopeHeader.id] == "erp.orders-2-41007")
    }

    @Test("an output without a topic in the route is a configuration failure naming it")
    func unknownOutput() {
        let input = message(headers: [])
        let result = route.outgoing([TransformedRecord(output: "ticket", key: nil, value: [1], headers: [])], for: input)
        guard case .failure(let failure) = result else {
            Issue.record("expected a failure")
            return
        }
        #expect(failure.errorClass == "configuration" && failure.reason.contains("'ticket'"))
    }
}
