import Foundation
import Metrics

/// Turns librdkafka's statistics JSON (`statistics.interval.ms`) into swift-metrics gauges:
/// consumer lag per partition, outstanding messages, broker round-trip times.
enum KafkaStatistics {
    static func publish(json: String, client: String) {
        guard let data = json.data(using: .utf8),
            let root = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any]
        else { return }
        if let messages = root["msg_cnt"] as? Int {
            Gauge(label: "crmhub_kafka_queued_messages", dimensions: [("client", client)]).record(messages)
        }
        if let brokers = root["brokers"] as? [String: Any] {
            for (name, value) in brokers {
                guard let broker = value as? [String: Any], let rtt = broker["rtt"] as? [String: Any],
                    let average = rtt["avg"] as? Int, average > 0
                else { continue }
                Gauge(label: "crmhub_kafka_broker_rtt_seconds", dimensions: [("client", client), ("broker", name)])
                    .record(Double(average) / 1_000_000)
            }
        }
        guard let topics = root["topics"] as? [String: Any] else { return }
        for (topic, value) in topics {
            guard let partitions = (value as? [String: Any])?["partitions"] as? [String: Any] else { continue }
            for (partition, entry) in partitions {
                guard partition != "-1", let stats = entry as? [String: Any],
                    let lag = stats["consumer_lag"] as? Int, lag >= 0
                else { continue }
                Gauge(label: "crmhub_kafka_consumer_lag", dimensions: [("topic", topic), ("partition", partition)])
                    .record(lag)
            }
        }
    }
}
