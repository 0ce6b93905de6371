import CRMDelivery
import CRMKafka
import CRMTestSupport
import Foundation
import Logging
import ServiceLifecycle
import Synchronization
import Testing

@testable import CRMHub

/// Routes against a real Kafka-protocol broker (Tansu).
@Suite(.timeLimit(.minutes(3)))
struct RouteIntegrationTests {
    let logger = Logger(label: "test")

    func makeRoute(
        _ broker: TansuBroker, name: String, from: String, to: String, producer: KafkaProducer, state: HubState
    )
        -> RouteService
    {
        let route = RouteConfiguration(
            name: name, from: from, to: .topic(to), mapping: nil, maxInFlight: 100,
            location: .init(file: "test", line: 1, column: 1))
        return RouteService(
            route: route,
            consumer: KafkaTestClient.consumerConfiguration(broker.bootstrap, group: "hub.\(name)", topics: [from]),
            producer: producer, transform: { IdentityTransform() }, state: state, logger: logger,
            drainTimeout: .seconds(10))
    }

    @Test func aRouteDeliversEveryMessageWithEnvelopeHeadersAndCommitsWhatItFinished() async throws {
        let broker = try TansuBroker()
        try await KafkaTestClient.createTopics(broker.bootstrap, ["in", "out"])
        let input = try KafkaTestClient.producer(broker.bootstrap)
        let count = 300
        for index in 0..<count {
            try await input.send(
                ProducerMessage(
                    topic: "in", key: Array("customer-\(index % 17)".utf8), value: Array("{\"n\":\(index)}".utf8)))
        }

        let hubProducer = try KafkaTestClient.producer(broker.bootstrap)
        let state = HubState()
        state.registerKafka { hubProducer.lastError }
        let route = makeRoute(broker, name: "r1", from: "in", to: "out", producer: hubProducer, state: state)
        let group = ServiceGroup(
            services: [ProducerService(producer: hubProducer, flushTimeout: .seconds(5), logger: logger), route],
            logger: logger)
        let running = Task { try await group.run() }

        let output = try await KafkaTestClient.collect(
            broker.bootstrap, topic: "out", count: count, timeout: .seconds(60))
        #expect(output.count == count)
        #expect(
            Set(output.map { String(decoding: $0.value, as: UTF8.self) }).count == count, "every input arrives once")
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
            configuration: KafkaTestClient.consumerConfiguration(broker.bootstrap, group: "hub.r1", topics: ["in"]),
            logger: logger)
        var iterator = resumed.makeAsyncIterator()
        let next = try #require(await iterator.next())
        #expect(next.keyText == "late")
        await resumed.close()
        await input.shutdown()
    }

    /// Decides by the number in the value alone: every 7th fails, every 5th is dropped, the rest are renamed.
    struct NumberRule: MessageTransform {
        var description: String { "number-rule" }
        var isStateless: Bool { true }
        func transform(_ message: ConsumerMessage) -> TransformOutcome {
            let number = Int(String(decoding: message.value, as: UTF8.self))!
            if number % 7 == 3 { return .failure(reason: "rule 7", errorClass: "mapping") }
            if number % 5 == 4 { return .drop(reason: "rule 5") }
            return .produce([TransformedRecord(key: message.key, value: Array("out-\(number)".utf8), headers: [])])
        }
    }

    @Test func aStatelessTransformDecidesWholeBatchesAheadAndTheRouteStillProducesInOrder() async throws {
        let broker = try TansuBroker()
        try await KafkaTestClient.createTopics(broker.bootstrap, ["in", "out", "dlq.batch"], partitions: 1)
        let input = try KafkaTestClient.producer(broker.bootstrap)
        let count = 1_200
        // Produced before the route starts, so it reads them in batches far above the size split between tasks.
        for number in 0..<count {
            try input.enqueue(
                ProducerMessage(topic: "in", key: Array("k\(number % 13)".utf8), value: Array("\(number)".utf8))
            ) {
                _ in
            }
        }
        #expect(await input.flush(timeout: .seconds(30)))
        let hubProducer = try KafkaTestClient.producer(broker.bootstrap)
        let route = RouteService(
            route: RouteConfiguration(name: "batch", from: "in", to: .topic("out"), maxInFlight: 500),
            consumer: KafkaTestClient.consumerConfiguration(broker.bootstrap, group: "hub.batch", topics: ["in"]),
            producer: hubProducer, transform: { NumberRule() }, state: HubState(), logger: logger)
        let group = ServiceGroup(
            services: [ProducerService(producer: hubProducer, flushTimeout: .seconds(5), logger: logger), route],
            logger: logger)
        let running = Task { try await group.run() }

        let numbers = Array(0..<count)
        let produced = numbers.filter { $0 % 7 != 3 && $0 % 5 != 4 }.map { "out-\($0)" }
        let failed = numbers.filter { $0 % 7 == 3 }.map(String.init)
        let output = try await KafkaTestClient.collect(
            broker.bootstrap, topic: "out", count: produced.count, timeout: .seconds(60))
        #expect(output.map { String(decoding: $0.value, as: UTF8.self) } == produced, "one partition: source order")
        let letters = try await KafkaTestClient.collect(
            broker.bootstrap, topic: "dlq.batch", count: failed.count, timeout: .seconds(60))
        #expect(letters.map { String(decoding: $0.value, as: UTF8.self) } == failed)
        #expect(letters.first?.headers.text("crm-dlq-reason") == "rule 7")

        // Every message finished, dropped ones included: the route commits past the last one.
        let deadline = ContinuousClock.now + .seconds(30)
        while route.finishedMessages < count, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(50))
        }
        #expect(route.finishedMessages == count)
        await group.triggerGracefulShutdown()
        try await running.value
        await input.shutdown()
    }

    /// Fails messages whose value starts with "poison" until `fixed` is set (as a corrected mapping would).
    final class Flag: Sendable {
        private let value = Atomic<Bool>(false)
        func set() { value.store(true, ordering: .relaxed) }
        var isSet: Bool { value.load(ordering: .relaxed) }
    }

    struct RejectPoison: MessageTransform {
        let fixed: Flag
        var description: String { "reject-poison" }
        var version: String? { "reject-poison@1" }
        func transform(_ message: ConsumerMessage) -> TransformOutcome {
            if !fixed.isSet, String(decoding: message.value, as: UTF8.self).hasPrefix("poison") {
                return .failure(reason: "field 'email': not an e-mail address", errorClass: "mapping")
            }
            return .produce([TransformedRecord(key: message.key, value: message.value, headers: message.headers)])
        }
    }

    @Test func aFailingMessageGoesToTheDeadLetterTopicAndIsDeliveredAfterAReplay() async throws {
        let broker = try TansuBroker()
        try await KafkaTestClient.createTopics(broker.bootstrap, ["in", "out", "dlq.r2"], partitions: 1)
        let input = try KafkaTestClient.producer(broker.bootstrap)
        let values = (0..<10).map { $0 % 4 == 1 ? "poison-\($0)" : "ok-\($0)" }
        for value in values {
            try await input.send(ProducerMessage(topic: "in", key: Array("k-\(value)".utf8), value: Array(value.utf8)))
        }
        let hubProducer = try KafkaTestClient.producer(broker.bootstrap)
        let fixed = Flag()
        let transform = RejectPoison(fixed: fixed)
        let routeConfiguration = RouteConfiguration(
            name: "r2", from: "in", to: .topic("out"), maxInFlight: 10, location: .init(file: "t", line: 1, column: 1))
        let route = RouteService(
            route: routeConfiguration,
            consumer: KafkaTestClient.consumerConfiguration(broker.bootstrap, group: "hub.r2", topics: ["in"]),
            producer: hubProducer, transform: { transform }, state: HubState(), logger: logger)
        let group = ServiceGroup(
            services: [ProducerService(producer: hubProducer, flushTimeout: .seconds(5), logger: logger), route],
            logger: logger)
        let running = Task { try await group.run() }

        // The route keeps running: every good message arrives, in order.
        let good = values.filter { $0.hasPrefix("ok") }
        let output = try await KafkaTestClient.collect(
            broker.bootstrap, topic: "out", count: good.count, timeout: .seconds(30))
        #expect(output.map { String(decoding: $0.value, as: UTF8.self) } == good)

        // The poison messages are in the dead-letter topic, original bytes untouched, with the reason in headers.
        // (Wait until all three are there: the good ones arriving says nothing about the dead letters' acks, and
        // `read` stops after `idle` without a record, which a loaded machine can take to fetch the first one.)
        _ = try await KafkaTestClient.collect(broker.bootstrap, topic: "dlq.r2", count: 3, timeout: .seconds(30))
        var client = KafkaClientConfiguration(bootstrapServers: [broker.bootstrap])
        client.clientID = "dlq-test"
        let queue = DeadLetterQueue(route: routeConfiguration, client: client, groupPrefix: "hub", logger: logger)
        let letters = try await queue.read(idle: .seconds(3))
        #expect(
            letters.map { String(decoding: $0.message.value, as: UTF8.self) } == ["poison-1", "poison-5", "poison-9"])
        let first = try #require(letters.first)
        #expect(first.message.keyText == "k-poison-1")
        #expect(first.reason == "field 'email': not an e-mail address")
        #expect(first.errorClass == "mapping")
        #expect(first.source == "in/0/1")
        #expect(first.route == "r2")
        #expect(first.attempts == 1)
        #expect(first.mapping == "reject-poison@1")
        #expect(first.id == "in-0-1")
        #expect(first.firstFailureAt != nil && first.deadLetteredAt != nil)

        // After the fix, replaying one key delivers it through the route with its history; the rest stay parked.
        fixed.set()
        let replayed = try await queue.replay(.init(keys: ["k-poison-5"]), producer: input, idle: .seconds(3))
        #expect(replayed.count == 1)
        let afterReplay = try await KafkaTestClient.collect(
            broker.bootstrap, topic: "out", count: good.count + 1, timeout: .seconds(30))
        let delivered = try #require(afterReplay.last)
        #expect(String(decoding: delivered.value, as: UTF8.self) == "poison-5")
        #expect(delivered.headers.text("crm-id") == "in-0-5", "the replayed message keeps its id")
        let history = try #require(delivered.headers.text("crm-history"))
        let entries = try #require(try JSONSerialization.jsonObject(with: Data(history.utf8)) as? [[String: String]])
        #expect(entries.count == 1)
        #expect(entries.first?["source"] == "in/0/5")
        #expect(entries.first?["reason"] == "field 'email': not an e-mail address")

        // Purging everything before the first unmatched record hides poison-1 only (poison-5 stays until poison-9...).
        #expect(try await queue.purge(.init(keys: ["k-poison-1", "k-poison-5"]), idle: .seconds(3)) == 2)
        #expect(try await queue.read(idle: .seconds(3)).map(\.id) == ["in-0-9"])

        await group.triggerGracefulShutdown()
        try await running.value
        await input.shutdown()
    }

    @Test func anOutputTooLargeForTheBrokerSendsTheOriginalToTheDeadLetterTopic() async throws {
        struct Inflate: MessageTransform {
            var description: String { "inflate" }
            func transform(_ message: ConsumerMessage) -> TransformOutcome {
                let size = message.value == Array("big".utf8) ? 2_000_000 : message.value.count
                return .produce([
                    TransformedRecord(key: message.key, value: [UInt8](repeating: 65, count: size), headers: [])
                ])
            }
        }
        let broker = try TansuBroker()
        try await KafkaTestClient.createTopics(broker.bootstrap, ["in", "out", "dlq.big"], partitions: 1)
        let input = try KafkaTestClient.producer(broker.bootstrap)
        for value in ["a", "big", "c"] { try await input.send(ProducerMessage(topic: "in", value: Array(value.utf8))) }
        let hubProducer = try KafkaTestClient.producer(broker.bootstrap)
        let route = RouteService(
            route: RouteConfiguration(name: "big", from: "in", to: .topic("out"), maxInFlight: 10),
            consumer: KafkaTestClient.consumerConfiguration(broker.bootstrap, group: "hub.big", topics: ["in"]),
            producer: hubProducer, transform: { Inflate() }, state: HubState(), logger: logger)
        let group = ServiceGroup(
            services: [ProducerService(producer: hubProducer, flushTimeout: .seconds(5), logger: logger), route],
            logger: logger)
        let running = Task { try await group.run() }
        let output = try await KafkaTestClient.collect(broker.bootstrap, topic: "out", count: 2, timeout: .seconds(30))
        #expect(output.map(\.value.count) == [1, 1])
        let parked = try await KafkaTestClient.collect(
            broker.bootstrap, topic: "dlq.big", count: 1, timeout: .seconds(30))
        let letter = DeadLetter(try #require(parked.first))
        #expect(letter.message.value == Array("big".utf8), "the original bytes, not the oversized output")
        #expect(letter.errorClass == "produce")
        #expect(letter.reason.contains("2000000 bytes"))
        await group.triggerGracefulShutdown()
        try await running.value
        await input.shutdown()
    }
}
