/// A JSON document whose shape is fixed and whose string values are filled in per use: the encoding of an object
/// whose leaves are `.string(values[i])`, written straight from the values without building a ``JSONValue`` first.
///
/// Built once from a template value whose leaves are `.number("i")` (the index of the value that goes there). The
/// output is byte for byte `value.jsonBytes()` of the same object with the strings put in, because the punctuation
/// and member names are encoded once with the same writer, and each value is escaped as ``JSONValue/encode(into:)``
/// escapes strings.
public struct JSONTemplate: Sendable {
    private enum Piece: Sendable {
        /// Bytes copied as they are: braces, commas and encoded member names.
        case literal([UInt8])
        /// The string at this index of the values, escaped.
        case value(Int)
    }

    private let pieces: [Piece]
    /// How many values a use must supply (one more than the highest index).
    public let valueCount: Int

    /// The template for `shape`: an object, array or leaf, whose leaves are `.number` holding a value index; nil when
    /// a leaf is anything else.
    public init?(_ shape: JSONValue) {
        var pieces: [Piece] = []
        var pending: [UInt8] = []
        var highest = -1
        func literal(_ text: StaticString) {
            pending.append(contentsOf: UnsafeBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount))
        }
        func walk(_ value: JSONValue) -> Bool {
            switch value {
            case .number(let text):
                guard let index = Int(text), index >= 0 else { return false }
                if !pending.isEmpty { pieces.append(.literal(pending)) }
                pending = []
                pieces.append(.value(index))
                highest = max(highest, index)
                return true
            case .object(let members):
                literal("{")
                for (position, (name, member)) in members.enumerated() {
                    if position > 0 { literal(",") }
                    JSONValue.encodeString(name, into: &pending)
                    literal(":")
                    guard walk(member) else { return false }
                }
                literal("}")
                return true
            case .array(let elements):
                literal("[")
                for (position, element) in elements.enumerated() {
                    if position > 0 { literal(",") }
                    guard walk(element) else { return false }
                }
                literal("]")
                return true
            default:
                return false
            }
        }
        guard walk(shape) else { return nil }
        if !pending.isEmpty { pieces.append(.literal(pending)) }
        self.pieces = pieces
        valueCount = highest + 1
    }

    /// Appends the document with the texts of `text` put in to `out`: value `k` is the UTF-8 of
    /// `text[(k == 0 ? 0 : ends[k - 1])..<ends[k]]`. `ends` must hold at least ``valueCount`` ends.
    public func encode(text: [UInt8], ends: [Int], into out: inout [UInt8]) {
        precondition(ends.count >= valueCount, "a JSON template needs \(valueCount) values, got \(ends.count)")
        var writer = JSONWriter(capacity: text.count + 256)
        text.withUnsafeBufferPointer { input in
            for piece in pieces {
                switch piece {
                case .literal(let bytes): writer.write(bytes: bytes)
                case .value(let index):
                    let start = index == 0 ? 0 : ends[index - 1]
                    writer.writeString(utf8: UnsafeBufferPointer(rebasing: input[start..<ends[index]]))
                }
            }
        }
        writer.drain(into: &out)
    }

    /// Appends the document with `values` put in to `out`. `values` must hold at least ``valueCount`` strings.
    public func encode(_ values: [String], into out: inout [UInt8]) {
        precondition(values.count >= valueCount, "a JSON template needs \(valueCount) values, got \(values.count)")
        var writer = JSONWriter(capacity: 256)
        for piece in pieces {
            switch piece {
            case .literal(let bytes): writer.write(bytes: bytes)
            case .value(let index): writer.writeString(values[index])
            }
        }
        writer.drain(into: &out)
    }
}
