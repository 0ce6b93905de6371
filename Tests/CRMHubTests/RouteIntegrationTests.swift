import CRMKafka
import Foundation
import Logging
import ServiceLifecycle
import Testing

@testable import CRMHub

/// Routes against a real Kafka-protocol broker (Tansu).
@Suite(.timeLimit(.minutes(3)))
struct RouteIntegrationTests {
    let logger = Logger(label: "test")

    func makeRoute(_ broker: TansuBroker, name: String, from: String, to: String, producer: KafkaProducer, state: HubState)
        -> RouteService
    {
        let route = RouteConfiguration(
            name: name, from: from, to: .topic(to), mapping: nil, maxInFlight: 100,
            location: .init(file: "test", line: 1, column: 1))
        return RouteService(
            route: route,
            consumer: KafkaTestClient.consumerConfiguration(broker.bootstrap, group: "hub.\(name)", topics: [from]),
            producer: producer, transform: { IdentityTransform() }, state: state, logger: logger, drainTimeout: .seconds(10))
    }

    @Test func aRouteDeliversEveryMessageWithEnvelopeHeadersAndCommitsWhatItFinished() async throws {
        let broker = try TansuBroker()
        try await KafkaTestClient.createTopics(broker.bootstrap, ["in", "out"])
        let input = try KafkaTestClient.producer(broker.bootstrap)
        let count = 300
        for index in 0..<count {
            try await input.send(ProducerMessage(topic: "in", key: Array("customer-\(index % 17)".utf8), value: Array("{\"n\":\(index)}".utf8)))
        }

        let hubProducer = try KafkaTestClient.producer(broker.bootstrap)
        let state = HubState()
        state.registerKafka { hubProducer.lastError }
        let route = makeRoute(broker, name: "r1", from: "in", to: "out", producer: hubProducer, state: state)
        let group = ServiceGroup(services: [ProducerService(producer: hubProducer, flushTimeout: .seconds(5), logger: logger), route], logger: logger)
        let running = Task { try await group.run() }

        let output = try await KafkaTestClient.collect(broker.bootstrap, topic: "out", count: count, timeout: .seconds(60))
        #expect(output.count == count)
        #expect(Set(output.map { String(decoding: $0.value, as: UTF8.self) }).count == count, "every input arrives once")
        let first = try #require(output.first)
        #expect(first.headers.text("crm-route") == "r1")
        #expect(first.headers.text("crm-origin")?.hasPrefix("in/") == true)
        #expect(first.headers.text("crm-id") != nil)
        // Per-key order: within a key, values arrive in the order they were produced.
        var lastByKey: [String: Int] = [:]
        for message in output {
            let number = Int(String(decoding: message.value, as: UTF8.self).dropFirst(5).dropLast())!
            if let previous = lastByKey[message.keyText!] { #expect(previous < number) }
            lastByKey[message.keyText!] = number
        }
        #expect(state.readiness(expectedRoutes: ["r1"]).ready)

        await group.triggerGracefulShutdown()
        try await running.value

        // Everything was committed: a new member of the route's group starts after the last message.
        try await input.send(ProducerMessage(topic: "in", key: Array("late".utf8), value: Array("late".utf8)))
        let resumed = try KafkaConsumer(
            configuration: KafkaTestClient.consumerConfiguration(broker.bootstrap, group: "hub.r1", topics: ["in"]), logger: logger)
        var iterator = resumed.makeAsyncIterator()
        let next = try #require(await iterator.next())
        #expect(next.keyText == "late")
        await resumed.close()
        await input.shutdown()
    }

    @Test func aFailingMessageIsSkippedAndCountedWithoutStoppingTheRoute() async throws {
        struct RejectOdd: MessageTransform {
            var description: String { "reject-odd" }
            func transform(_ message: ConsumerMessage) -> TransformOutcome {
                message.offset % 2 == 1
                    ? .failure(reason: "odd offset", errorClass: "test")
                    : .produce([TransformedRecord(key: message.key, value: message.value, headers: [])])
            }
        }
        let broker = try TansuBroker()
        try await KafkaTestClient.createTopics(broker.bootstrap, ["in", "out"], partitions: 1)
        let input = try KafkaTestClient.producer(broker.bootstrap)
        for index in 0..<10 { try await input.send(ProducerMessage(topic: "in", value: Array("\(index)".utf8))) }
        let hubProducer = try KafkaTestClient.producer(broker.bootstrap)
        let route = RouteService(
            route: RouteConfiguration(name: "r2", from: "in", to: .topic("out"), mapping: nil, maxInFlight: 10, location: .init(file: "t", line: 1, column: 1)),
            consumer: KafkaTestClient.consumerConfiguration(broker.bootstrap, group: "hub.r2", topics: ["in"]),
            producer: hubProducer, transform: { RejectOdd() }, state: HubState(), logger: logger)
        let group = ServiceGroup(services: [ProducerService(producer: hubProducer, flushTimeout: .seconds(5), logger: logger), route], logger: logger)
        let running = Task { try await group.run() }
        let output = try await KafkaTestClient.collect(broker.bootstrap, topic: "out", count: 5, timeout: .seconds(30))
        #expect(output.map { String(decoding: $0.value, as: UTF8.self) } == ["0", "2", "4", "6", "8"])
        await group.triggerGracefulShutdown()
        try await running.value
        await input.shutdown()
    }
}
