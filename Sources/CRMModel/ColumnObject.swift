/// The object a row of text columns stands for (a CSV row under its header), worked out once from the columns' paths
/// (each column's name split at the dots): the object ``JSONValue/set(path:to:)`` makes when it sets every column's path
/// to the column's text in turn. Dotted names nest, and a later column with the same path replaces the earlier one's
/// value in its place. Filling it in per row gives that object without searching and copying member arrays for every
/// field, and ``jsonBytes(text:ends:)`` writes its JSON straight from the row's text.
public final class ColumnObject: Sendable {
    private enum Node: Sendable {
        case field(Int)
        case object([(String, Node)])
    }

    private let root: [(String, Node)]
    /// Each column's path, in column order.
    public let paths: [[String]]
    /// The names of the object's top-level members, in order (each once).
    public let rootNames: [String]
    /// The object's JSON with the columns' texts to fill in.
    private let encoding: JSONTemplate?

    /// The object for columns with these paths; nil when setting them does not make an object (an empty path, which
    /// replaces the whole value).
    public init?(paths: [[String]]) {
        self.paths = paths
        var probe = JSONValue.object([])
        for (column, path) in paths.enumerated() {
            probe.set(path: path[...], to: .number(String(column)))
        }
        func node(_ value: JSONValue) -> Node? {
            switch value {
            case .number(let text): return Int(text).map(Node.field)
            case .object(let members):
                var nodes: [(String, Node)] = []
                nodes.reserveCapacity(members.count)
                for (name, member) in members {
                    guard let child = node(member) else { return nil }
                    nodes.append((name, child))
                }
                return .object(nodes)
            default: return nil
            }
        }
        guard case .object(let members)? = node(probe) else { return nil }
        root = members
        rootNames = members.map(\.0)
        encoding = JSONTemplate(probe)
    }

    /// The object for a row whose columns' texts are `fields`.
    public func value(_ fields: [String]) -> JSONValue {
        .object(Self.members(root) { .string(fields[$0]) })
    }

    /// The object for a row whose columns' texts are in `text` (UTF-8), column `k` ending at `ends[k]`.
    public func value(text: UnsafeBufferPointer<UInt8>, ends: [Int]) -> JSONValue {
        .object(
            Self.members(root) { column in
                let start = column == 0 ? 0 : ends[column - 1]
                return .string(
                    String(decoding: UnsafeBufferPointer(rebasing: text[start..<ends[column]]), as: UTF8.self))
            })
    }

    /// `value(text:ends:).jsonBytes()`, written straight from `text`.
    public func jsonBytes(text: [UInt8], ends: [Int]) -> [UInt8] {
        guard let encoding else {
            return text.withUnsafeBufferPointer { value(text: $0, ends: ends) }.jsonBytes()
        }
        var bytes: [UInt8] = []
        encoding.encode(text: text, ends: ends, into: &bytes)
        return bytes
    }

    private static func members(_ nodes: [(String, Node)], _ field: (Int) -> JSONValue) -> [(String, JSONValue)] {
        var out: [(String, JSONValue)] = []
        out.reserveCapacity(nodes.count)
        for (name, node) in nodes {
            switch node {
            case .field(let column): out.append((name, field(column)))
            case .object(let children): out.append((name, .object(members(children, field))))
            }
        }
        return out
    }
}
