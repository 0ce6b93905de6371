import CRMDelivery
import CRMKafka
import CRMModel
import CRMTestSupport
import Foundation
import Logging
import ServiceLifecycle
import Testing

@testable import CRMHub

/// Exactly-once routes on librdkafka's mock cluster (Tansu does not hide aborted transactions).
@Suite(.timeLimit(.minutes(2)))
struct TransactionalRouteTests {
    let logger = Logger(label: "test")

    struct RejectPoison: MessageTransform {
        var description: String { "reject-poison" }
        func transform(_ message: ConsumerMessage) -> TransformOutcome {
            String(decoding: message.value, as: UTF8.self).hasPrefix("poison")
                ? .failure(reason: "not a customer", errorClass: "mapping")
                : .produce([TransformedRecord(key: message.key, value: message.value, headers: [])])
        }
    }

    func consumer(
        _ cluster: KafkaMockCluster, group: String, topic: String, isolation: String = "read_committed"
    ) -> KafkaConsumerConfiguration {
        var configuration = KafkaConsumerConfiguration(
            bootstrapServers: cluster.bootstrapServers, groupID: group, topics: [topic])
        configuration.sessionTimeoutMilliseconds = 6_000
        configuration.heartbeatIntervalMilliseconds = 500
        configuration.isolationLevel = isolation
        return configuration
    }

    func readAll(
        _ cluster: KafkaMockCluster, topic: String, settle: Duration = .seconds(2)
    ) async throws -> [ConsumerMessage] {
        try await KafkaTestClient.collectSettled(
            consumer(cluster, group: "read-\(UUID())", topic: topic), settle: settle)
    }

    @Test func anAbortedTransactionIsRedoneAndEveryMessageIsDeliveredExactlyOnce() async throws {
        let cluster = try KafkaMockCluster(brokers: 1, logger: logger)
        for topic in ["in", "out", "dlq.eos"] { try cluster.createTopic(topic, partitions: 1) }
        let input = try KafkaProducer(configuration: .init(bootstrapServers: cluster.bootstrapServers), logger: logger)
        let values = (0..<40).map { $0 % 13 == 7 ? "poison-\($0)" : "ok-\($0)" }
        for value in values {
            try await input.send(
                ProducerMessage(topic: "in", key: Array("k\(value.count)".utf8), value: Array(value.utf8)))
        }

        // The first transaction fails with an abortable error: it must be aborted and its batch redone.
        cluster.pushRequestErrors(apiKey: .addPartitionsToTxn, [29])
        let route = TransactionalRouteService(
            route: RouteConfiguration(name: "eos", from: "in", to: .topic("out"), delivery: .exactlyOnce),
            consumer: consumer(cluster, group: "hub.eos", topic: "in"),
            producer: KafkaProducerConfiguration(bootstrapServers: cluster.bootstrapServers),
            transactionalIDPrefix: "hub.test", transform: { RejectPoison() }, state: HubState(), logger: logger)
        let group = ServiceGroup(services: [route], logger: logger)
        let running = Task { try await group.run() }
        await eventually(timeout: .seconds(60)) { route.finishedMessages >= values.count }
        #expect(route.finishedMessages == values.count)
        await group.triggerGracefulShutdown()
        try await running.value

        let delivered = try await readAll(cluster, topic: "out").map { String(decoding: $0.value, as: UTF8.self) }
        #expect(delivered == values.filter { $0.hasPrefix("ok") }, "each good message once, in order")
        let parked = try await readAll(cluster, topic: "dlq.eos")
        #expect(parked.map { String(decoding: $0.value, as: UTF8.self) } == values.filter { $0.hasPrefix("poison") })
        #expect(parked.first?.headers.text(DeadLetterHeader.reason) == "not a customer")

        // The consumed offsets were committed in the transactions: the route's group resumes after the last message.
        try await input.send(ProducerMessage(topic: "in", value: Array("late".utf8)))
        let resumed = try KafkaConsumer(configuration: consumer(cluster, group: "hub.eos", topic: "in"), logger: logger)
        var iterator = resumed.makeAsyncIterator()
        let next = await iterator.next()
        withKnownIssue(
            "librdkafka's mock cluster accepts TxnOffsetCommit but does not store the offsets; verified on Tansu instead"
        ) {
            #expect(next.map { String(decoding: $0.value, as: UTF8.self) } == "late", "offset \(next?.offset ?? -1)")
        }
        await resumed.close()
        await input.shutdown()
        withExtendedLifetime(cluster) {}  // outlives every client that used it
    }
}

/// Exactly-once routes on a real Kafka-protocol broker (Tansu): output, dead letters and offsets commit together.
@Suite(.timeLimit(.minutes(2)))
struct TransactionalRouteOnTansuTests {
    let logger = Logger(label: "test")

    @Test func anExactlyOnceRouteCommitsItsOffsetsInTheTransaction() async throws {
        let broker = try TansuBroker()
        try await KafkaTestClient.createTopics(broker.bootstrap, ["in", "out", "dlq.eos"], partitions: 1)
        let input = try KafkaTestClient.producer(broker.bootstrap)
        let values = (0..<30).map { $0 % 11 == 4 ? "poison-\($0)" : "ok-\($0)" }
        for value in values { try await input.send(ProducerMessage(topic: "in", value: Array(value.utf8))) }
        let route = TransactionalRouteService(
            route: RouteConfiguration(name: "eos", from: "in", to: .topic("out"), delivery: .exactlyOnce),
            consumer: KafkaTestClient.consumerConfiguration(broker.bootstrap, group: "hub.eos", topics: ["in"]),
            producer: KafkaProducerConfiguration(bootstrapServers: [broker.bootstrap]),
            transactionalIDPrefix: "hub.test", transform: { TransactionalRouteTests.RejectPoison() }, state: HubState(),
            logger: logger)
        let group = ServiceGroup(services: [route], logger: logger)
        let running = Task { try await group.run() }
        let output = try await KafkaTestClient.collect(broker.bootstrap, topic: "out", count: 27, timeout: .seconds(60))
        #expect(output.map { String(decoding: $0.value, as: UTF8.self) } == values.filter { $0.hasPrefix("ok") })
        let parked = try await KafkaTestClient.collect(
            broker.bootstrap, topic: "dlq.eos", count: 3, timeout: .seconds(30))
        #expect(parked.map { String(decoding: $0.value, as: UTF8.self) } == values.filter { $0.hasPrefix("poison") })
        await group.triggerGracefulShutdown()
        try await running.value

        try await input.send(ProducerMessage(topic: "in", value: Array("late".utf8)))
        let resumed = try KafkaConsumer(
            configuration: KafkaTestClient.consumerConfiguration(broker.bootstrap, group: "hub.eos", topics: ["in"]),
            logger: logger)
        var iterator = resumed.makeAsyncIterator()
        let next = await iterator.next()
        #expect(
            next.map { String(decoding: $0.value, as: UTF8.self) } == "late", "resumed at offset \(next?.offset ?? -1)")
        await resumed.close()
        await input.shutdown()
    }
}
