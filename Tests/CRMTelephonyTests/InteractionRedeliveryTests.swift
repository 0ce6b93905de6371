import CRMKafka
import CRMModel
import CRMTestSupport
import Foundation
import Testing

@testable import CRMTelephony

/// A broker outage longer than the producer's delivery timeout, on librdkafka's mock cluster: the Interaction is
/// enqueued again until the broker is back, so the call's record is not lost.
@Suite("CTI Interactions across a broker outage")
struct InteractionRedeliveryTests {
    @Test("an Interaction the broker did not take within the delivery timeout is redelivered once the broker is back")
    func interactionSurvivesAnOutageLongerThanTheDeliveryTimeout() async throws {
        let cluster = try KafkaMockCluster(brokers: 1, logger: KafkaTestClient.logger)
        try cluster.createTopic("cti.interactions", partitions: 1)
        try cluster.createTopic("cti.screenpops", partitions: 1)
        var producerConfiguration = KafkaProducerConfiguration(bootstrapServers: cluster.bootstrapServers)
        producerConfiguration.lingerMilliseconds = 1
        producerConfiguration.deliveryTimeoutMilliseconds = 1_500
        let producer = try KafkaProducer(configuration: producerConfiguration, logger: KafkaTestClient.logger)
        var configuration = CallEventProcessor.Configuration(
            name: "outage", interactionTopic: "cti.interactions", screenPopTopic: "cti.screenpops")
        configuration.redeliveryBackoff = .milliseconds(200)
        let processor = CallEventProcessor(
            configuration: configuration, producer: producer,
            lookup: try StaticCustomerTable(csv: Array(CTIFixtures.customersCSV.utf8), defaultRegion: "GB"),
            logger: KafkaTestClient.logger)

        cluster.setBrokerDown(1)
        let now = ContinuousClock.now
        await processor.process(CallTrackerTests.event(.ringing, "outage-1", at: 100), arrivedAt: now)
        await processor.process(CallTrackerTests.event(.answered, "outage-1", at: 102, code: 200), arrivedAt: now)
        await processor.process(CallTrackerTests.event(.hangup, "outage-1", at: 130), arrivedAt: now)
        // Longer than the delivery timeout: the first attempt fails and the record waits for a redelivery.
        let retrying = await eventually(timeout: .seconds(10)) { await processor.waitingRedeliveries > 0 }
        #expect(retrying, "the failed Interaction was not scheduled again")
        try await Task.sleep(for: .seconds(2))
        try cluster.setBrokerUp(1)

        // librdkafka reconnects with backoff, so a redelivery may time out again before it gets through: wait for the
        // record itself (bounded), not for the queue to drain.
        let bootstrap = cluster.bootstrapServers.joined(separator: ",")
        var interactions: [ConsumerMessage] = []
        try await eventually(timeout: .seconds(60), poll: .milliseconds(500)) {
            interactions = try await KafkaTestClient.readAll(bootstrap, topic: "cti.interactions")
            return !interactions.isEmpty
        }
        // At least once: a redelivery whose acknowledgement was late may land twice, under the call's key.
        #expect(!interactions.isEmpty)
        #expect(Set(interactions.map(\.keyText)) == ["call-outage-1"])
        let record = try JSONValue.parse(interactions.first?.value ?? [])
        #expect(record["outcome"] == "answered")
        #expect(record["durationSeconds"] == .number("28"))
        // The screen-pop of a call that is long over is not sent again.
        #expect(try await KafkaTestClient.readAll(bootstrap, topic: "cti.screenpops").isEmpty)
        await producer.shutdown()
        withExtendedLifetime(cluster) {}  // outlives every client that used it
    }
}
