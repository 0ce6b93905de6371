import Foundation

/// A configuration value that is either literal or a reference to a secret, resolved when the hub starts.
public enum SecretValue: Sendable, Hashable, CustomStringConvertible {
    case literal(String)
    case environment(String)
    case file(String)

    /// Reads `${env:NAME}`, `${file:PATH}` or a literal.
    public init(parsing text: String) {
        if text.hasPrefix("${env:"), text.hasSuffix("}") {
            self = .environment(String(text.dropFirst(6).dropLast()))
        } else if text.hasPrefix("${file:"), text.hasSuffix("}") {
            self = .file(String(text.dropFirst(7).dropLast()))
        } else {
            self = .literal(text)
        }
    }

    public var isReference: Bool {
        if case .literal = self { return false }
        return true
    }

    /// The value, read from the environment or the file now.
    public func resolve(
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws(SecretError) -> String {
        switch self {
        case .literal(let value):
            return value
        case .environment(let name):
            guard let value = environment[name], !value.isEmpty else {
                throw SecretError(description: "environment variable \(name) is not set")
            }
            return value
        case .file(let path):
            guard let value = try? String(contentsOfFile: path, encoding: .utf8) else {
                throw SecretError(description: "cannot read secret file \(path)")
            }
            return value.trimmingCharacters(in: .whitespacesAndNewlines)
        }
    }

    /// Never prints a secret: references print as written, literals as themselves.
    public var description: String {
        switch self {
        case .literal(let value): value
        case .environment(let name): "${env:\(name)}"
        case .file(let path): "${file:\(path)}"
        }
    }
}

/// A secret reference that cannot be resolved.
public struct SecretError: Error, Sendable, CustomStringConvertible {
    public var description: String

    public init(description: String) { self.description = description }
}
