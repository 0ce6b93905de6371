import Foundation
import Logging

/// A swift-log handler that writes one JSON object per line to standard error, with personal data redacted:
/// metadata whose key names personal data (`email`, `phone`, `name`, `address`...) is replaced by a short,
/// stable fingerprint so a person can still correlate lines without reading the value.
public struct JSONLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level
    private let label: String
    private static let timestampStyle = Date.ISO8601FormatStyle(includingFractionalSeconds: true)

    public init(label: String, level: Logger.Level) {
        self.label = label
        self.logLevel = level
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var object: [String: Any] = [
            "ts": Date().formatted(Self.timestampStyle),
            "level": event.level.rawValue,
            "msg": event.message.description,
            "logger": label,
        ]
        let merged = self.metadata.merging(event.metadata ?? [:]) { $1 }
        for (key, value) in merged {
            object[key] = PersonalData.isPersonal(key) ? PersonalData.fingerprint(value.description) : value.description
        }
        guard
            var data = try? JSONSerialization.data(
                withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
        else { return }
        data.append(0x0A)
        FileHandle.standardError.write(data)
    }
}

/// Recognises and redacts personal data in log metadata.
public enum PersonalData {
    private static let personalKeys = [
        "email", "phone", "name", "address", "street", "postcode", "dob", "birth", "msisdn", "caller", "callee",
    ]

    /// True when a metadata key names personal data.
    public static func isPersonal(_ key: String) -> Bool {
        let lowered = key.lowercased()
        return personalKeys.contains { lowered.contains($0) }
    }

    /// A stable, non-reversible stand-in for a value: `<redacted len=12 #a1b2c3>`.
    public static func fingerprint(_ value: String) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in value.utf8 {
            hash ^= UInt64(byte)
            hash &*= 0x100_0000_01b3
        }
        return "<redacted len=\(value.count) #\(String(hash & 0xff_ffff, radix: 16))>"
    }
}
