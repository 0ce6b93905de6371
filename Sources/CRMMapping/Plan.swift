import CRMModel
import Foundation

/// A compiled JSON path: `a.b[0].c`; `$.x` starts at the document root inside `each:`.
struct Path: Sendable {
    enum Step: Sendable {
        case key(String)
        case index(Int)
    }
    var fromRoot: Bool
    var steps: [Step]
    var text: String

    static func parse(_ text: String) -> Path? {
        var s = Substring(text)
        var fromRoot = false
        if s.hasPrefix("$.") {
            fromRoot = true
            s = s.dropFirst(2)
        } else if s == "$" {
            return Path(fromRoot: true, steps: [], text: text)
        }
        if s == "@" { return Path(fromRoot: false, steps: [], text: text) }
        var steps: [Step] = []
        var key = ""
        var i = s.startIndex
        func flushKey() -> Bool {
            if key.isEmpty { return false }
            steps.append(.key(key))
            key = ""
            return true
        }
        while i < s.endIndex {
            let c = s[i]
            if c == "." {
                if key.isEmpty { if case .index = steps.last {} else { return nil } } else { _ = flushKey() }
            } else if c == "[" {
                if !key.isEmpty { _ = flushKey() }
                guard let close = s[i...].firstIndex(of: "]"), let n = Int(s[s.index(after: i)..<close]) else {
                    return nil
                }
                steps.append(.index(n))
                i = close
            } else if c == "]" || c == " " {
                return nil
            } else {
                key.append(c)
            }
            i = s.index(after: i)
        }
        if !key.isEmpty { _ = flushKey() } else if text.hasSuffix(".") { return nil }
        if steps.isEmpty { return nil }
        return Path(fromRoot: fromRoot, steps: steps, text: text)
    }

    /// The member names when the path has no index steps (and at least one name).
    var keys: [String]? {
        var out: [String] = []
        for s in steps {
            guard case .key(let k) = s else { return nil }
            out.append(k)
        }
        return out.isEmpty ? nil : out
    }

    /// The last member named `key` of `value` when it is an object, or nil.
    @inline(__always) static func member(_ key: String, of value: JSONValue) -> JSONValue? {
        guard case .object(let members) = value else { return nil }
        return JSONValue.lastMember(key, in: members)
    }

    /// The value at this path (the last member of that name, as in ``JSONValue/subscript(_:)``), or nil, read from
    /// `start`: the message for a `$.` path, else the current value.
    @inline(__always) func resolve(from start: JSONValue) -> JSONValue? {
        var v = start
        for step in steps {
            switch step {
            case .key(let k):
                guard case .object(let members) = v, let found = JSONValue.lastMember(k, in: members) else {
                    return nil
                }
                v = found
            case .index(let n):
                guard let x = v[n] else { return nil }
                v = x
            }
        }
        return v
    }
}

/// Static value kinds the compiler tracks to reject impossible function chains at load time.
enum VType: String, Sendable {
    case any, string, number, bool, array, object
    func accepts(_ t: VType) -> Bool { self == .any || t == .any || self == t }
}

/// A regular expression compiled once at load time. A class, so plans that hold it copy one reference.
final class RegexBox: @unchecked Sendable {
    // Regex<AnyRegexOutput> is immutable after construction; matching does not mutate it.
    let regex: Regex<AnyRegexOutput>
    let pattern: String
    /// The byte-level matcher when the pattern is in its subset (used for ASCII texts without line breaks).
    let bytes: ByteRegex?

    init(regex: Regex<AnyRegexOutput>, pattern: String) {
        self.regex = regex
        self.pattern = pattern
        bytes = ByteRegex(pattern)
    }

    /// Group 1 of the first match (else the whole match), or nil when there is none.
    func extract(_ t: String) -> String? {
        if let fast = bytes?.extract(t) { return fast }
        guard let m = try? regex.firstMatch(in: t) else { return nil }
        let out = m.output
        if out.count > 1, let sub = out[1].substring { return String(sub) }
        return String(t[m.range])
    }

    /// Whether `t` contains a match.
    func matches(_ t: String) -> Bool {
        if let fast = bytes?.matches(t) { return fast }
        return (try? regex.firstMatch(in: t)) != nil
    }
}

enum Fn: Sendable {
    case trim, lower, upper, name, email
    case phone(region: String)
    case split(String)
    case join(String)
    case replace(String, String)
    case regexExtract(RegexBox)
    case string, int, number
    case decimal(scale: Int)
    case minorUnits(exponent: Int)
    case date(DateSpec)
    case prefix(String)
    case suffix(String)
    case list, compact
    case firstItem, lastItem, length, nonEmpty, bool, abs, negate

    var name: String {
        switch self {
        case .trim: "trim"
        case .lower: "lower"
        case .upper: "upper"
        case .name: "name"
        case .email: "email"
        case .phone: "phone"
        case .split: "split"
        case .join: "join"
        case .replace: "replace"
        case .regexExtract: "regex"
        case .string: "string"
        case .int: "int"
        case .number: "number"
        case .decimal: "decimal"
        case .minorUnits: "minor_units"
        case .date: "date"
        case .prefix: "prefix"
        case .suffix: "suffix"
        case .list: "list"
        case .compact: "compact"
        case .firstItem: "first"
        case .lastItem: "last"
        case .length: "length"
        case .nonEmpty: "non_empty"
        case .bool: "bool"
        case .abs: "abs"
        case .negate: "negate"
        }
    }

    var input: VType {
        switch self {
        case .trim, .lower, .upper, .name, .email, .phone, .split, .replace, .regexExtract, .prefix, .suffix: .string
        case .join, .compact, .firstItem, .lastItem: .array
        case .minorUnits, .abs, .negate: .any
        default: .any
        }
    }

    var output: VType {
        switch self {
        case .split, .list, .compact: .array
        case .int, .number, .length: .number
        case .bool: .bool
        case .firstItem, .lastItem, .nonEmpty: .any
        case .decimal, .minorUnits, .abs, .negate: .string
        default: .string
        }
    }
}

enum Step: Sendable {
    case fn(Fn)
    case map([String: JSONValue], fallback: JSONValue?, strict: Bool)
    case table(name: String, [String: JSONValue], strict: Bool)
    /// `lookup: {service: NAME, optional: BOOL}`: an optional service answers null where none is configured.
    case service(String, optional: Bool)
    case fallback(JSONValue)
}

struct FieldPlan: Sendable {
    var name: String
    var parts: [String]
    var expr: Expr
    var required: Bool
    var omitNull: Bool
}

indirect enum Cond: Sendable {
    case exists(Expr)
    case equals(Expr, JSONValue)
    case oneOf(Expr, [JSONValue])
    case matches(Expr, RegexBox)
    /// A numeric comparison; numbers and decimal strings compare, anything else is false.
    case compare(Expr, Comparison, Double)
    case all([Cond])
    case any([Cond])
    case not(Cond)
}

/// The numeric comparisons of a condition: `at_least` (≥), `at_most` (≤), `above` (>), `below` (<).
enum Comparison: String, Sendable, CaseIterable {
    case atLeast = "at_least"
    case atMost = "at_most"
    case above, below

    func holds(_ value: Double, _ bound: Double) -> Bool {
        switch self {
        case .atLeast: value >= bound
        case .atMost: value <= bound
        case .above: value > bound
        case .below: value < bound
        }
    }
}

indirect enum Expr: Sendable {
    case path(Path)
    case const(JSONValue)
    case concat([Expr], separator: String)
    case first([Expr])
    case each(Path, fields: [FieldPlan], filter: Cond?, value: Expr?)
    case object([FieldPlan])
    case when(Cond, then: Expr, otherwise: Expr?)
    case pipe(Expr, [Step])
    /// Evaluates the inner expression with `current` moved to a sub-document (null when absent).
    case scoped(Path, Expr)
}

/// One output of a mapping: an entity, its key expression and fields.
struct OutputPlan: Sendable {
    var entity: String
    var canonical: CanonicalEntity?
    var key: Expr
    var fields: [FieldPlan]
    var when: Cond?
}

/// The member names of every path in a plan (``CompiledMapping/memberNames``).
struct PathNames {
    var names: Set<String> = []

    mutating func add(_ p: Path) {
        for case .key(let k) in p.steps { names.insert(k) }
    }

    mutating func add(_ fields: [FieldPlan]) {
        for f in fields { add(f.expr) }
    }

    mutating func add(_ e: Expr) {
        switch e {
        case .path(let p): add(p)
        case .const: break
        case .concat(let parts, _): for x in parts { add(x) }
        case .first(let options): for x in options { add(x) }
        case .each(let p, let fields, let filter, let value):
            add(p)
            add(fields)
            if let filter { add(filter) }
            if let value { add(value) }
        case .object(let fields): add(fields)
        case .when(let c, let then, let otherwise):
            add(c)
            add(then)
            if let otherwise { add(otherwise) }
        case .pipe(let source, _): add(source)
        case .scoped(let p, let inner):
            add(p)
            add(inner)
        }
    }

    mutating func add(_ c: Cond) {
        switch c {
        case .exists(let e), .equals(let e, _), .oneOf(let e, _), .matches(let e, _), .compare(let e, _, _): add(e)
        case .all(let cs), .any(let cs): for x in cs { add(x) }
        case .not(let inner): add(inner)
        }
    }
}
