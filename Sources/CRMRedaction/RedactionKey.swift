import Foundation

/// The per-installation key of the redaction fingerprints.
public enum RedactionKey {
    /// The file in the state folder that holds the generated key when none is configured.
    public static let fileName = "redaction.key"

    /// 32 random bytes.
    public static func generate() -> [UInt8] {
        var generator = SystemRandomNumberGenerator()
        return (0..<32).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
    }

    /// The key stored in `stateDirectory`/redaction.key, created there (64 hex digits, mode 0600) on first use.
    /// The key is never logged.
    public static func loadOrCreate(stateDirectory: String) throws -> [UInt8] {
        let url = URL(fileURLWithPath: stateDirectory).appendingPathComponent(fileName)
        if let text = try? String(contentsOf: url, encoding: .utf8) {
            let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
            if !trimmed.isEmpty { return Array(trimmed.utf8) }
        }
        try FileManager.default.createDirectory(
            atPath: stateDirectory, withIntermediateDirectories: true)
        let hex = generate().map { byte in (byte < 16 ? "0" : "") + String(byte, radix: 16) }.joined()
        let created = FileManager.default.createFile(
            atPath: url.path, contents: Data((hex + "\n").utf8), attributes: [.posixPermissions: 0o600])
        guard created else { throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: url.path]) }
        return Array(hex.utf8)
    }
}
