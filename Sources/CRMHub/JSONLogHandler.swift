import CRMRedaction
import Foundation
import Logging

/// A swift-log handler that writes one JSON object per line (the `json` log format), with personal data redacted by
/// the hub's ``RedactionPolicy``: metadata whose key names personal data (`email`, `phone`, `name`, `address`...) is
/// replaced whole by its keyed fingerprint, and personal data recognisable by shape in the message and in every
/// other metadata value is replaced where it stands.
public struct JSONLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level
    private let label: String
    private let redaction: RedactionPolicy
    private let output: LogOutput
    private static let timestampStyle = Date.ISO8601FormatStyle(includingFractionalSeconds: true)

    /// A handler for `label` that logs at `level` and above, redacts with `redaction` and writes to `output`
    /// (default: standard error).
    public init(
        label: String, level: Logger.Level, redaction: RedactionPolicy = .installed, output: LogOutput = .standardError
    ) {
        self.label = label
        self.logLevel = level
        self.redaction = redaction
        self.output = output
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var object: [String: Any] = [
            "ts": Date().formatted(Self.timestampStyle),
            "level": event.level.rawValue,
            "msg": redaction.redact(event.message.description),
            "logger": label,
        ]
        let merged = self.metadata.merging(event.metadata ?? [:]) { $1 }
        for (key, value) in merged {
            object[key] = redaction.redact(value: value.description, key: key)
        }
        guard
            let data = try? JSONSerialization.data(
                withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
        else { return }
        output.write(String(decoding: data, as: UTF8.self))
    }
}

/// Where a log handler writes its formatted lines: standard error in the daemon, memory in tests.
public struct LogOutput: Sendable {
    private let sink: @Sendable (String) -> Void

    /// An output that hands each formatted line (without its newline) to `write`.
    public init(_ write: @escaping @Sendable (String) -> Void) { sink = write }

    /// Each line and a newline to standard error.
    public static let standardError = LogOutput { line in
        FileHandle.standardError.write(Data((line + "\n").utf8))
    }

    /// Writes one formatted line.
    public func write(_ line: String) { sink(line) }
}
