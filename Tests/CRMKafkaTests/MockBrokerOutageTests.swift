import Foundation
import Logging
import Testing

@testable import CRMKafka

/// Broker outages on librdkafka's mock cluster (``KafkaMockCluster/setBrokerDown(_:)``). These run in the test run's
/// serial phase (`deploy/test.sh`): librdkafka re-binds a down broker's port and aborts the process if that fails,
/// which it does when a parallel test forks a child that still holds the old listening socket.
@Suite(.timeLimit(.minutes(2)))
struct MockBrokerOutageTests {
    let logger = Logger(label: "test")

    @Test func producedMessagesSurviveABrokerOutage() async throws {
        let cluster = try KafkaMockCluster(brokers: 1, logger: logger)
        try cluster.createTopic("outage", partitions: 1)
        var configuration = KafkaProducerConfiguration(bootstrapServers: cluster.bootstrapServers)
        configuration.deliveryTimeoutMilliseconds = 30_000
        let producer = try KafkaProducer(configuration: configuration, logger: logger)
        try await producer.send(ProducerMessage(topic: "outage", value: Array("before".utf8)))
        cluster.setBrokerDown(1)
        let pending = Task {
            try await producer.send(ProducerMessage(topic: "outage", value: Array("during".utf8)))
        }
        try await Task.sleep(for: .milliseconds(1_500))
        try cluster.setBrokerUp(1)
        let report = try await pending.value
        #expect(report.offset == 1)
        await producer.shutdown()
        withExtendedLifetime(cluster) {}  // outlives every client that used it
    }

    /// librdkafka aborts the process when a broker comes back up and another socket listens on its port, and most
    /// servers bind with `SO_REUSEADDR`, which librdkafka's idle socket would let them share.
    @Test func aDownBrokersPortCannotBeTakenByAnotherServer() async throws {
        let cluster = try KafkaMockCluster(brokers: 1, logger: logger)
        try cluster.createTopic("port", partitions: 1)
        let producer = try KafkaProducer(
            configuration: .init(bootstrapServers: cluster.bootstrapServers), logger: logger)
        try await producer.send(ProducerMessage(topic: "port", value: Array("before".utf8)))
        let port = try #require(cluster.bootstrapServers.first?.split(separator: ":").last.flatMap { UInt16($0) })

        cluster.setBrokerDown(1)
        let server = KafkaMockCluster.bindWithReuseAddress(port: port)
        if case .success(let socket) = server { close(socket) }
        #expect(
            server == .failure(KafkaMockCluster.Errno(code: EADDRINUSE)),
            "another server could bind the down broker's port")

        try cluster.setBrokerUp(1)
        let report = try await producer.send(ProducerMessage(topic: "port", value: Array("after".utf8)))
        #expect(report.offset == 1)
        await producer.shutdown()
        withExtendedLifetime(cluster) {}  // outlives every client that used it
    }
}
