import CRDKafka
import Foundation
import Logging
import Synchronization

/// Owns one `rd_kafka_t` handle. Internal: the public clients wrap it.
final class RDKafkaClient: @unchecked Sendable {
    // The handle is only used through thread-safe librdkafka calls, and destroyed once in `destroy()`.
    let handle: OpaquePointer
    let logger: Logger
    private let destroyed = Mutex(false)

    private init(handle: OpaquePointer, logger: Logger) {
        self.handle = handle
        self.logger = logger
    }

    /// Creates a client. `secrets` are read now and set after `properties`. `configure` may register callbacks or an
    /// opaque on the configuration before creation.
    ///
    /// Errors name a refused property, never its value: librdkafka's own text echoes the value it refused
    /// ("Invalid value "..." for configuration property"), so every value set is removed from the texts reported.
    static func make(
        type: rd_kafka_type_t, properties: [(String, String)], secrets: [(String, KafkaSecret)] = [],
        logger: Logger, configure: (OpaquePointer) -> Void = { _ in }
    ) throws(KafkaError) -> RDKafkaClient {
        guard let conf = rd_kafka_conf_new() else {
            throw KafkaError(.configuration, reason: "rd_kafka_conf_new returned nil")
        }
        var resolved: [(String, String)] = []
        for (name, secret) in secrets {
            do {
                resolved.append((name, try secret.resolve()))
            } catch {
                rd_kafka_conf_destroy(conf)
                throw KafkaError(.configuration, reason: "property '\(name)' (\(secret.reference)): \(error)")
            }
        }
        let values = (properties + resolved).map(\.1)
        var errorText = [CChar](repeating: 0, count: 512)
        for (name, value) in properties + resolved {
            let result = rd_kafka_conf_set(conf, name, value, &errorText, errorText.count)
            guard result == RD_KAFKA_CONF_OK else {
                rd_kafka_conf_destroy(conf)
                let kind = result == RD_KAFKA_CONF_UNKNOWN ? "unknown property" : "invalid value"
                let detail = Self.redacting(values, in: Self.text(errorText)).map { ": \($0)" } ?? ""
                throw KafkaError(.configuration, reason: "property '\(name)': \(kind)\(detail)")
            }
        }
        configure(conf)
        guard let handle = rd_kafka_new(type, conf, &errorText, errorText.count) else {
            rd_kafka_conf_destroy(conf)
            let detail = Self.redacting(values, in: Self.text(errorText)) ?? "(details withheld: they quote a value)"
            throw KafkaError(.configuration, reason: "cannot create client: \(detail)")
        }
        return RDKafkaClient(handle: handle, logger: logger)
    }

    /// `text` with every occurrence of each of `values` replaced by `***`; nil when a value is too short to remove
    /// without mangling the text (fewer than 3 characters) yet occurs in it.
    static func redacting(_ values: [String], in text: String) -> String? {
        var text = text
        for value in values.sorted(by: { $0.count > $1.count }) where !value.isEmpty && text.contains(value) {
            guard value.count >= 3 else { return nil }
            text = text.replacingOccurrences(of: value, with: "***")
        }
        return text
    }

    /// Forwards one librdkafka log event to swift-log.
    func forwardLog(_ event: OpaquePointer) {
        var facility: UnsafePointer<CChar>?
        var message: UnsafePointer<CChar>?
        var level: Int32 = 0
        guard rd_kafka_event_log(event, &facility, &message, &level) == 0, let message else { return }
        let text = String(cString: message)
        let fac = facility.map { String(cString: $0) } ?? ""
        let swiftLevel: Logger.Level =
            switch level {
            case 0...3: .error
            case 4: .warning
            case 5, 6: .info
            default: .debug
            }
        logger.log(level: swiftLevel, "librdkafka: \(text)", metadata: ["kafka.facility": "\(fac)"])
    }

    /// Destroys the handle; safe to call more than once.
    func destroy() {
        let first = destroyed.withLock { done -> Bool in
            defer { done = true }
            return !done
        }
        if first { rd_kafka_destroy(handle) }
    }

    static func text(_ buffer: [CChar]) -> String {
        buffer.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
    }
}

/// Information about the librdkafka library the process runs on (which may differ from the headers it was built on).
public enum KafkaRuntime {
    /// The runtime version string, e.g. `2.16.1`.
    public static var versionString: String { String(cString: rd_kafka_version_str()) }
    /// The runtime version as (major, minor, patch).
    public static var version: (major: Int, minor: Int, patch: Int) {
        let raw = Int(rd_kafka_version())
        return ((raw >> 24) & 0xff, (raw >> 16) & 0xff, (raw >> 8) & 0xff)
    }
    /// librdkafka 2.0.x mis-parses the tagged fields that modern brokers (Tansu, Kafka 3.x flexible versions) send.
    public static var hasTaggedFieldBug: Bool { !isAtLeast(major: 2, minor: 1) }
    /// Whether the runtime is `major.minor` or later.
    public static func isAtLeast(major: Int, minor: Int) -> Bool {
        let version = version
        return (version.major, version.minor) >= (major, minor)
    }
}

extension KafkaRuntime {
    /// The file the dynamic loader mapped librdkafka from (`/opt/crmhub/lib/librdkafka.so.1`), read from
    /// `/proc/self/maps`; nil where that is not available.
    public static var libraryPath: String? {
        _ = rd_kafka_version()  // the library is mapped by now
        guard let maps = procFileText("/proc/self/maps") else { return nil }
        for line in maps.split(separator: "\n") where line.contains("librdkafka") {
            if let slash = line.firstIndex(of: "/") { return String(line[slash...]) }
        }
        return nil
    }

    /// The librdkafka version whose headers this binary was built against.
    public static var headerVersionString: String {
        let raw = Int(RD_KAFKA_VERSION)
        return "\((raw >> 24) & 0xff).\((raw >> 16) & 0xff).\((raw >> 8) & 0xff)"
    }
}
