import Foundation
import Metrics

/// Turns librdkafka's statistics JSON (`statistics.interval.ms`) into swift-metrics gauges:
/// consumer lag per partition (labelled with the consumer group, as kafka_exporter names it), outstanding messages,
/// broker round-trip times.
enum KafkaStatistics {
    /// Publishes one statistics document of a `client` (`producer`, `consumer`). `group` is the consumer group id the
    /// consumer was created with: librdkafka's statistics do not carry it. Lag is only published for consumers.
    static func publish(
        json: String, client: String, group: String? = nil, factory: any MetricsFactory = MetricsSystem.factory
    ) {
        guard let data = json.data(using: .utf8),
            let root = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any]
        else { return }
        if let messages = root["msg_cnt"] as? Int {
            Gauge(label: "crmhub_kafka_queued_messages", dimensions: [("client", client)], factory: factory).record(
                messages)
        }
        if let brokers = root["brokers"] as? [String: Any] {
            for (name, value) in brokers {
                guard let broker = value as? [String: Any], let rtt = broker["rtt"] as? [String: Any],
                    let average = rtt["avg"] as? Int, average > 0
                else { continue }
                Gauge(
                    label: "crmhub_kafka_broker_rtt_seconds", dimensions: [("client", client), ("broker", name)],
                    factory: factory
                )
                .record(Double(average) / 1_000_000)
            }
        }
        guard let group, let topics = root["topics"] as? [String: Any] else { return }
        for (topic, value) in topics {
            guard let partitions = (value as? [String: Any])?["partitions"] as? [String: Any] else { continue }
            for (partition, entry) in partitions {
                guard partition != "-1", let stats = entry as? [String: Any],
                    let lag = stats["consumer_lag"] as? Int, lag >= 0
                else { continue }
                Gauge(
                    label: "crmhub_kafka_consumer_lag",
                    dimensions: [("group", group), ("topic", topic), ("partition", partition)], factory: factory
                )
                .record(lag)
            }
        }
    }
}
