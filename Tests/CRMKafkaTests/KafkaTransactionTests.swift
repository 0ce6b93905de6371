import CRMTestSupport
import Foundation
import Logging
import Testing

@testable import CRMKafka

/// Transactions against librdkafka's mock cluster: the client side (init, begin, abort on abortable errors,
/// commit) is real; the mock does not filter aborted records for read_committed consumers (a known issue below that
/// turns into a failure the day the mock learns it).
@Suite(.timeLimit(.minutes(2)))
struct KafkaTransactionTests {
    let logger = Logger(label: "test")

    func transactionalProducer(_ cluster: KafkaMockCluster, id: String) throws -> KafkaProducer {
        var configuration = KafkaProducerConfiguration(bootstrapServers: cluster.bootstrapServers)
        configuration.transactionalID = id
        return try KafkaProducer(configuration: configuration, logger: logger)
    }

    func values(
        _ cluster: KafkaMockCluster, topic: String, isolation: String, expecting count: Int
    ) async throws -> [String] {
        var configuration = KafkaConsumerConfiguration(
            bootstrapServers: cluster.bootstrapServers, groupID: "read-\(UUID())", topics: [topic])
        configuration.sessionTimeoutMilliseconds = 6_000
        configuration.heartbeatIntervalMilliseconds = 500
        configuration.isolationLevel = isolation
        // Once the consumer has its partitions, give it time to read everything there is (and anything beyond
        // what should be visible).
        let messages = try await KafkaTestClient.collectSettled(configuration, settle: .seconds(2)) {
            $0.count >= count
        }
        return messages.map { String(decoding: $0.value, as: UTF8.self) }
    }

    @Test func anAbortedTransactionIsMarkedAbortedAndACommittedOneIsVisible() async throws {
        let cluster = try KafkaMockCluster(brokers: 1, logger: logger)
        try cluster.createTopic("txn", partitions: 1)
        let producer = try transactionalProducer(cluster, id: "txn-test")
        try await producer.initTransactions()

        try producer.beginTransaction()
        for index in 0..<3 {
            try producer.enqueue(ProducerMessage(topic: "txn", value: Array("aborted-\(index)".utf8))) { _ in }
        }
        _ = await producer.flush(timeout: .seconds(10))
        try await producer.abortTransaction()

        try producer.beginTransaction()
        for index in 0..<2 {
            try producer.enqueue(ProducerMessage(topic: "txn", value: Array("committed-\(index)".utf8))) { _ in }
        }
        try await producer.commitTransaction()

        let committed = try await values(cluster, topic: "txn", isolation: "read_committed", expecting: 10)
        withKnownIssue(
            "librdkafka 2.16's mock cluster sends no aborted-transaction list in Fetch, so read_committed consumers see aborted records; a real Kafka broker hides them"
        ) {
            #expect(committed == ["committed-0", "committed-1"])
        }
        let uncommitted = try await values(cluster, topic: "txn", isolation: "read_uncommitted", expecting: 10)
        #expect(uncommitted == ["aborted-0", "aborted-1", "aborted-2", "committed-0", "committed-1"])
        await producer.shutdown()
        withExtendedLifetime(cluster) {}  // outlives every client that used it
    }

    @Test func anAbortableErrorIsReportedAsRequiringAbort() async throws {
        let cluster = try KafkaMockCluster(brokers: 1, logger: logger)
        try cluster.createTopic("abortable", partitions: 1)
        let producer = try transactionalProducer(cluster, id: "abortable-test")
        try await producer.initTransactions()
        // TOPIC_AUTHORIZATION_FAILED (29) on AddPartitionsToTxn makes the transaction abortable, not fatal.
        cluster.pushRequestErrors(apiKey: .addPartitionsToTxn, [29])
        try producer.beginTransaction()
        try producer.enqueue(ProducerMessage(topic: "abortable", value: Array("x".utf8))) { _ in }
        let error = await #expect(throws: KafkaError.self) { try await producer.commitTransaction() }
        #expect(error?.requiresTransactionAbort == true)
        #expect(error?.isFatal == false)
        try await producer.abortTransaction()
        await producer.shutdown()
        withExtendedLifetime(cluster) {}  // outlives every client that used it
    }
}
