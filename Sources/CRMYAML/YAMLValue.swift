import Foundation
import Yams

/// One node of a parsed YAML document together with its file, its location and its path from the root
/// (`routes[2].from`). Accessors throw ``YAMLError``s that say what was expected and where.
public struct YAMLValue: @unchecked Sendable {
    // Yams.Node is a value type made of strings, arrays and marks; it is not declared Sendable upstream.
    /// The underlying Yams node, for callers that need raw access (for example to keep a literal value).
    public let node: Node
    /// The file this value was read from.
    public let file: String
    /// Dotted path from the document root, e.g. `routes[0].to`; empty for the root.
    public let path: String

    public init(node: Node, file: String, path: String) {
        self.node = node
        self.file = file
        self.path = path
    }

    /// Where this value starts in its file.
    public var location: SourceLocation {
        let mark = node.mark
        return SourceLocation(file: file, line: mark?.line ?? 0, column: mark?.column ?? 0)
    }

    /// Builds an error located at this value, prefixed with its path.
    public func error(_ message: String) -> YAMLError {
        YAMLError(path.isEmpty ? message : "\(path): \(message)", at: location)
    }

    /// True for `null`, `~` and an empty scalar.
    public var isNull: Bool {
        node.null != nil
    }

    /// The value as a mapping with keys in document order.
    public func mapping() throws(YAMLError) -> YAMLMapping {
        guard case .mapping(let mapping) = node else {
            throw error("expected a mapping (key: value pairs), found \(kindName)")
        }
        var entries: [(key: String, keyLocation: SourceLocation, value: YAMLValue)] = []
        var seen: Set<String> = []
        for (keyNode, valueNode) in mapping {
            guard case .scalar(let scalar) = keyNode else {
                throw error("mapping keys must be plain strings")
            }
            let key = scalar.string
            let keyLocation = SourceLocation(
                file: file, line: keyNode.mark?.line ?? 0, column: keyNode.mark?.column ?? 0)
            if !seen.insert(key).inserted {
                throw YAMLError("\(childPath(key)): duplicate key '\(key)'", at: keyLocation)
            }
            entries.append((key, keyLocation, YAMLValue(node: valueNode, file: file, path: childPath(key))))
        }
        return YAMLMapping(owner: self, entries: entries)
    }

    /// The value as a sequence of values.
    public func sequence() throws(YAMLError) -> [YAMLValue] {
        guard case .sequence(let sequence) = node else {
            throw error("expected a list, found \(kindName)")
        }
        return sequence.enumerated().map { index, child in
            YAMLValue(node: child, file: file, path: "\(path)[\(index)]")
        }
    }

    /// The scalar text of this value.
    public func string() throws(YAMLError) -> String {
        guard case .scalar(let scalar) = node else {
            throw error("expected a text value, found \(kindName)")
        }
        return scalar.string
    }

    /// A non-empty string.
    public func nonEmptyString() throws(YAMLError) -> String {
        let text = try string()
        guard !text.trimmingCharacters(in: .whitespaces).isEmpty else { throw error("must not be empty") }
        return text
    }

    /// An integer, optionally range-checked.
    public func int(in range: ClosedRange<Int>? = nil) throws(YAMLError) -> Int {
        guard case .scalar(let scalar) = node, let value = Int(scalar.string.replacingOccurrences(of: "_", with: ""))
        else {
            throw error("expected a whole number, found \(describe)")
        }
        if let range, !range.contains(value) {
            throw error("\(value) is out of range \(range.lowerBound)...\(range.upperBound)")
        }
        return value
    }

    /// A floating-point number.
    public func double() throws(YAMLError) -> Double {
        guard case .scalar(let scalar) = node, let value = Double(scalar.string) else {
            throw error("expected a number, found \(describe)")
        }
        return value
    }

    /// A boolean (`true`/`false`, `yes`/`no`, `on`/`off`).
    public func bool() throws(YAMLError) -> Bool {
        guard case .scalar(let scalar) = node else { throw error("expected true or false, found \(kindName)") }
        switch scalar.string.lowercased() {
        case "true", "yes", "on": return true
        case "false", "no", "off": return false
        default: throw error("expected true or false, found '\(scalar.string)'")
        }
    }

    /// A value that must be one of `choices`.
    public func oneOf(_ choices: [String]) throws(YAMLError) -> String {
        let text = try string()
        guard choices.contains(text) else {
            throw error("'\(text)' is not one of: \(choices.joined(separator: ", "))")
        }
        return text
    }

    /// A human name for the kind of node, for error messages.
    public var kindName: String {
        switch node {
        case .scalar: return "a text value"
        case .mapping: return "a mapping"
        case .sequence: return "a list"
        case .alias: return "an alias"
        }
    }

    private var describe: String {
        if case .scalar(let scalar) = node { return "'\(scalar.string)'" }
        return kindName
    }

    private func childPath(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }
}

/// A YAML mapping whose keys are checked: every key must be known to the reader, so a typo fails loudly.
public struct YAMLMapping: Sendable {
    /// The value that holds this mapping.
    public let owner: YAMLValue
    /// Entries in document order.
    public let entries: [(key: String, keyLocation: SourceLocation, value: YAMLValue)]

    /// Keys in document order.
    public var keys: [String] { entries.map(\.key) }

    /// The value for `key`, or nil when absent or explicitly null.
    public func optional(_ key: String) -> YAMLValue? {
        guard let value = entries.first(where: { $0.key == key })?.value, !value.isNull else { return nil }
        return value
    }

    /// The value for `key`; throws a located error when it is missing.
    public func require(_ key: String) throws(YAMLError) -> YAMLValue {
        guard let value = optional(key) else { throw owner.error("missing required key '\(key)'") }
        return value
    }

    /// Throws at the first key that is not in `allowed`, suggesting the closest known key.
    public func allowOnly(_ allowed: Set<String>) throws(YAMLError) {
        for entry in entries where !allowed.contains(entry.key) {
            var message = "unknown key '\(entry.key)'"
            if let suggestion = Self.closest(to: entry.key, in: allowed) {
                message += " (did you mean '\(suggestion)'?)"
            }
            message += "; allowed here: \(allowed.sorted().joined(separator: ", "))"
            let prefix = owner.path.isEmpty ? "" : "\(owner.path): "
            throw YAMLError(prefix + message, at: entry.keyLocation)
        }
    }

    static func closest(to key: String, in candidates: Set<String>) -> String? {
        let scored = candidates.map { ($0, editDistance(key.lowercased(), $0.lowercased())) }
        guard let best = scored.min(by: { $0.1 < $1.1 || ($0.1 == $1.1 && $0.0 < $1.0) }) else { return nil }
        return best.1 <= max(2, key.count / 3) ? best.0 : nil
    }

    static func editDistance(_ a: String, _ b: String) -> Int {
        let a = Array(a)
        let b = Array(b)
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var previous = Array(0...b.count)
        var current = [Int](repeating: 0, count: b.count + 1)
        for i in 1...a.count {
            current[0] = i
            for j in 1...b.count {
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            swap(&previous, &current)
        }
        return previous[b.count]
    }
}
