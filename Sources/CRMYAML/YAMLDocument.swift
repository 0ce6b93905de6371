// CRMYAML: reads crmhub's YAML files (hub config, connector instances, mappings) into values that remember
// where they came from, so every error names the file, line and column a person has to fix.

import Foundation
import Yams

/// A place in a YAML file: file path, 1-based line and column.
public struct SourceLocation: Sendable, Hashable, CustomStringConvertible {
    public var file: String
    public var line: Int
    public var column: Int

    public init(file: String, line: Int, column: Int) {
        self.file = file
        self.line = line
        self.column = column
    }

    public var description: String { "\(file):\(line):\(column)" }
}

/// A problem found while reading a YAML file, with the location to fix.
public struct YAMLError: Error, Sendable, Hashable, CustomStringConvertible {
    public var location: SourceLocation
    public var message: String

    public init(_ message: String, at location: SourceLocation) {
        self.message = message
        self.location = location
    }

    public var description: String { "\(location): \(message)" }
}

/// Entry points for parsing YAML text into a located ``YAMLValue``.
public enum YAMLDocument {
    /// Reads and parses the file at `path`.
    public static func load(path: String) throws(YAMLError) -> YAMLValue {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw YAMLError(
                "cannot read file: \(error.localizedDescription)", at: .init(file: path, line: 0, column: 0))
        }
        return try parse(text, file: path)
    }

    /// Parses `text`; `file` is only used to label locations.
    public static func parse(_ text: String, file: String) throws(YAMLError) -> YAMLValue {
        let node: Node?
        do {
            node = try Yams.compose(yaml: text)
        } catch let error as YamlError {
            throw Self.translate(error, file: file)
        } catch {
            throw YAMLError("invalid YAML: \(error)", at: .init(file: file, line: 1, column: 1))
        }
        guard let node else {
            throw YAMLError("the file is empty", at: .init(file: file, line: 1, column: 1))
        }
        return YAMLValue(node: node, file: file, path: "")
    }

    private static func translate(_ error: YamlError, file: String) -> YAMLError {
        switch error {
        case .scanner(_, let problem, let mark, _), .parser(_, let problem, let mark, _),
            .composer(_, let problem, let mark, _):
            return YAMLError("invalid YAML: \(problem)", at: .init(file: file, line: mark.line, column: mark.column))
        case .duplicatedKeysInMapping(let duplicates, let context):
            let keys = duplicates.sorted().map { "'\($0)'" }.joined(separator: ", ")
            return YAMLError(
                "duplicate key \(keys) in the mapping that starts here",
                at: .init(file: file, line: context.mark.line, column: context.mark.column))
        default:
            return YAMLError("invalid YAML: \(error)", at: .init(file: file, line: 1, column: 1))
        }
    }
}
