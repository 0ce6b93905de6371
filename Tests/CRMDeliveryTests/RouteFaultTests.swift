import CRMKafka
import CRMMapping
import CRMModel
import CRMTestSupport
import Foundation
import Logging
import ServiceLifecycle
import Testing

@testable import CRMDelivery

/// Routes under broker faults on librdkafka's mock cluster: nothing consumed is lost, whatever the broker does.
@Suite(.timeLimit(.minutes(2)))
struct RouteFaultTests {
    let logger = Logger(label: "test")

    func consumer(_ cluster: KafkaMockCluster, group: String, topic: String) -> KafkaConsumerConfiguration {
        var configuration = KafkaConsumerConfiguration(
            bootstrapServers: cluster.bootstrapServers, groupID: group, topics: [topic])
        configuration.sessionTimeoutMilliseconds = 6_000
        configuration.heartbeatIntervalMilliseconds = 500
        return configuration
    }

    @Test func brokerOutagesLeaderMovesAndRequestErrorsLoseNothing() async throws {
        let cluster = try KafkaMockCluster(brokers: 3, logger: logger)
        try cluster.createTopic("in", partitions: 3, replicationFactor: 3)
        try cluster.createTopic("out", partitions: 3, replicationFactor: 3)
        try cluster.createTopic("dlq.faults", partitions: 1, replicationFactor: 3)
        let input = try KafkaProducer(configuration: .init(bootstrapServers: cluster.bootstrapServers), logger: logger)
        let count = 600
        for index in 0..<count {
            try input.enqueue(
                ProducerMessage(topic: "in", key: Array("k\(index % 29)".utf8), value: Array("m\(index)".utf8))
            ) { _ in }
        }
        #expect(await input.flush(timeout: .seconds(30)))

        let hubProducer = try KafkaProducer(
            configuration: .init(bootstrapServers: cluster.bootstrapServers), logger: logger)
        let route = RouteService(
            route: RouteConfiguration(name: "faults", from: "in", to: .topic("out"), maxInFlight: 50),
            consumer: consumer(cluster, group: "hub.faults", topic: "in"), producer: hubProducer,
            transform: { IdentityTransform() },
            state: HubState(), logger: logger)
        let group = ServiceGroup(
            services: [ProducerService(producer: hubProducer, flushTimeout: .seconds(10), logger: logger), route],
            logger: logger)
        let running = Task { try await group.run() }

        // Faults while the route runs: produce errors the producer must retry, a leader move, a broker outage.
        cluster.pushRequestErrors(apiKey: .produce, [6, 7, 6])  // NOT_LEADER_OR_FOLLOWER, REQUEST_TIMED_OUT
        try await Task.sleep(for: .milliseconds(300))
        cluster.setLeader(topic: "out", partition: 0, broker: 2)
        cluster.setBrokerDown(3)
        try await Task.sleep(for: .seconds(2))
        try cluster.setBrokerUp(3)
        cluster.pushRequestErrors(apiKey: .offsetCommit, [15])  // COORDINATOR_NOT_AVAILABLE: the next commit retries

        await eventually(timeout: .seconds(60), poll: .milliseconds(100)) { route.finishedMessages >= count }
        #expect(route.finishedMessages >= count)
        await group.triggerGracefulShutdown()
        try await running.value

        // Every input value is in the output (re-deliveries are allowed, loss is not), per key in order.
        let messages = try await KafkaTestClient.collect(
            consumer(cluster, group: "check-\(UUID())", topic: "out"), timeout: .seconds(60)
        ) {
            Set($0.map(\.value)).count >= count
        }
        var seen: [String: [Int]] = [:]
        var total = 0
        for message in messages {
            seen[message.keyText ?? "", default: []].append(
                Int(String(decoding: message.value.dropFirst(), as: UTF8.self))!)
            total += 1
        }
        #expect(Set(seen.values.flatMap { $0 }).count == count, "no loss")
        for (key, values) in seen {
            var firstSeen: [Int] = []
            for value in values where !firstSeen.contains(value) { firstSeen.append(value) }
            #expect(firstSeen == firstSeen.sorted(), "order of first deliveries for \(key)")
        }
        await input.shutdown()
        withExtendedLifetime(cluster) {}  // outlives every client that used it
    }
}
