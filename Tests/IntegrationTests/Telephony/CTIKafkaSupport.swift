import CRMKafka
import CRMModel
import CRMTelephony
import CRMTestSupport
import Foundation
import Logging

/// Topic creation and collection against a real broker, and the pieces every CTI peer test wires up.
enum CTIKafkaSupport {
    static let logger = Logger(label: "cti-test")

    static func createTopics(_ bootstrap: String, _ names: [String]) async throws {
        try await KafkaTestClient.createTopics(bootstrap, names)
    }

    static func producer(_ bootstrap: String) throws -> KafkaProducer {
        var configuration = KafkaProducerConfiguration(bootstrapServers: [bootstrap])
        configuration.lingerMilliseconds = 1
        return try KafkaProducer(configuration: configuration, logger: logger)
    }

    /// Reads JSON messages from `topic` with a fresh group until `count` arrived or `timeout` passed.
    static func collect(_ bootstrap: String, topic: String, count: Int, timeout: Duration) async throws -> [(key: String, value: JSONValue)] {
        let messages = try await KafkaTestClient.collect(bootstrap, topic: topic, count: count, timeout: timeout)
        var decoded: [(key: String, value: JSONValue)] = []
        for message in messages {
            decoded.append((String(decoding: message.key ?? [], as: UTF8.self), try JSONValue.parse(message.value)))
        }
        return decoded
    }

    static let customersCSV = """
        phone,customer_ref,display_name,open_tickets
        020 7946 0018,C-1001,Ada Lovelace,T-77:open:Router keeps rebooting

        """

    static func customers() throws -> StaticCustomerTable {
        try StaticCustomerTable(csv: Array(customersCSV.utf8), defaultRegion: "GB")
    }

    /// Waits until `condition` holds, checking every 50 ms, at most `timeout`.
    static func waitUntil(timeout: Duration, _ condition: () async -> Bool) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if await condition() { return true }
            try? await Task.sleep(for: .milliseconds(50))
        }
        return await condition()
    }
}
