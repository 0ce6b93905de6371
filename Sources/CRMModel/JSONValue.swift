/// A JSON value with ordered object members and lossless numbers.
///
/// Numbers keep their source text (`.number("12.50")`) so decimal amounts survive a round trip without binary
/// floating-point error; use ``doubleValue`` or ``decimalText`` to read them.
public enum JSONValue: Sendable, Equatable, Hashable {
    case null
    case bool(Bool)
    /// A number in its JSON text form, e.g. `"42"`, `"-1.5e3"`.
    case number(String)
    case string(String)
    case array([JSONValue])
    /// Object members in document order (duplicate keys: the last one wins on lookup).
    case object([(String, JSONValue)])

    public static func == (a: JSONValue, b: JSONValue) -> Bool {
        switch (a, b) {
        case (.null, .null): return true
        case (.bool(let x), .bool(let y)): return x == y
        case (.number(let x), .number(let y)): return x == y || (Double(x) != nil && Double(x) == Double(y))
        case (.string(let x), .string(let y)): return x == y
        case (.array(let x), .array(let y)): return x == y
        case (.object(let x), .object(let y)):
            guard x.count == y.count else { return false }
            for (k, v) in x { guard let w = b[k], w == v else { return false } }
            return true
        default: return false
        }
    }

    public func hash(into h: inout Hasher) {
        switch self {
        case .null: h.combine(0)
        case .bool(let v): h.combine(v)
        case .number(let v): h.combine(Double(v) ?? 0)
        case .string(let v): h.combine(v)
        case .array(let v): h.combine(v)
        case .object(let v): h.combine(v.count)
        }
    }

    /// Member `key` of an object (last occurrence), or nil.
    public subscript(key: String) -> JSONValue? {
        guard case .object(let members) = self else { return nil }
        return JSONValue.lastMember(key, in: members)
    }

    /// The value of the last member named `key` in `members`, or nil. Names of a different UTF-8 length are
    /// skipped without a string comparison.
    @inlinable
    public static func lastMember(_ key: String, in members: [(String, JSONValue)]) -> JSONValue? {
        let n = key.utf8.count
        return members.withUnsafeBufferPointer { members in
            var i = members.count - 1
            while i >= 0 {
                if members[i].0.utf8.count == n && members[i].0 == key { return members[i].1 }
                i -= 1
            }
            return nil
        }
    }

    /// Element `index` of an array (negative counts from the end), or nil.
    public subscript(index: Int) -> JSONValue? {
        guard case .array(let items) = self else { return nil }
        let i = index < 0 ? items.count + index : index
        return items.indices.contains(i) ? items[i] : nil
    }

    /// The JSON type name: null, boolean, number, string, array, object.
    public var typeName: String {
        switch self {
        case .null: "null"
        case .bool: "boolean"
        case .number: "number"
        case .string: "string"
        case .array: "array"
        case .object: "object"
        }
    }

    public var isNull: Bool {
        if case .null = self { return true }
        return false
    }
    public var stringValue: String? {
        if case .string(let s) = self { return s }
        return nil
    }
    public var doubleValue: Double? {
        if case .number(let s) = self { return Double(s) }
        return nil
    }
    public var objectMembers: [(String, JSONValue)]? {
        if case .object(let m) = self { return m }
        return nil
    }
    public var arrayItems: [JSONValue]? {
        if case .array(let a) = self { return a }
        return nil
    }

    /// A scalar rendered as text (strings as-is, numbers and booleans in JSON form); nil for null, arrays, objects.
    public var scalarText: String? {
        switch self {
        case .string(let s): s
        case .number(let n): n
        case .bool(let b): b ? "true" : "false"
        default: nil
        }
    }

    /// Sets `value` at a dotted member path inside an object, creating intermediate objects.
    public mutating func set(path: ArraySlice<String>, to value: JSONValue) {
        guard let first = path.first else {
            self = value
            return
        }
        var members = objectMembers ?? []
        if let i = members.lastIndex(where: { $0.0 == first }) {
            members[i].1.set(path: path.dropFirst(), to: value)
        } else {
            var child = JSONValue.null
            child.set(path: path.dropFirst(), to: value)
            members.append((first, child))
        }
        self = .object(members)
    }
}

extension JSONValue: ExpressibleByStringLiteral, ExpressibleByBooleanLiteral, ExpressibleByIntegerLiteral,
    ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral, ExpressibleByNilLiteral
{
    public init(stringLiteral value: String) { self = .string(value) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(integerLiteral value: Int) { self = .number(String(value)) }
    public init(arrayLiteral elements: JSONValue...) { self = .array(elements) }
    public init(dictionaryLiteral elements: (String, JSONValue)...) { self = .object(elements) }
    public init(nilLiteral: ()) { self = .null }
}
