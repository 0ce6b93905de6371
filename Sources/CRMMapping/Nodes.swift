import CRMModel
import CRMNormalize
import CRMRedaction
import Foundation

// The executable form of a mapping: the compiler's `Expr`, `Cond` and `Step` values are lowered once, at load time,
// into a tree of immutable final classes. Evaluating a record walks object references: no enum payloads are copied
// per node (the indirect-enum interpreter spent about a fifth of its time copying and releasing them).

/// A compiled value expression: `path`, `const`, `concat`, `first`, `each`, `fields`, `when`, a pipeline, a scope.
protocol ValueNode: AnyObject, Sendable {
    func value(_ ev: Evaluator, _ cur: JSONValue) throws(FieldFailure) -> JSONValue
}

/// A compiled condition (`when`, `drop_when`, `filter`, `each ... filter`, `RecordCondition`).
protocol ConditionNode: AnyObject, Sendable {
    func holds(_ ev: Evaluator, _ cur: JSONValue) throws(FieldFailure) -> Bool
}

/// A compiled modifier of a pipeline: a function, a value map, a table or service lookup, a default. A step owns
/// the value it is given, so one that passes it on (null, a default not needed, `non_empty`) moves it instead of
/// copying it.
protocol StepNode: AnyObject, Sendable {
    func apply(_ ev: Evaluator, _ v: consuming JSONValue) throws(FieldFailure) -> JSONValue
}

/// One output field: its dotted name, value and null handling.
final class FieldNode: Sendable {
    let name: String
    let parts: [String]
    let value: any ValueNode
    let required: Bool
    let omitNull: Bool
    /// How many fields of the same object share this field's first name part: the capacity of the nested object
    /// a dotted name creates (`address.line1`, `address.city`, ... → 4).
    let nestedCapacity: Int
    /// How a laid-out record writes the value without making it, when it can (see TextPipeline.swift).
    let direct: (any DirectValue)?

    init(_ plan: FieldPlan, nestedCapacity: Int, lowering: Lowering) {
        name = plan.name
        parts = plan.parts
        value = lowering.value(plan.expr)
        direct = directValue(value)
        required = plan.required
        omitNull = plan.omitNull
        self.nestedCapacity = nestedCapacity
    }

    /// The field's value at `cur`; nil when the field is left out (null or empty, with `omit_null`). A null or empty
    /// required field fails.
    @inline(__always)
    func member(ev: Evaluator, _ cur: JSONValue) throws(FieldFailure) -> JSONValue? {
        let v: JSONValue
        do throws(FieldFailure) { v = try value.value(ev, cur) } catch {
            var e = error
            e.field = name + (e.field.isEmpty ? "" : (e.field.hasPrefix("[") ? "" : ".") + e.field)
            throw e
        }
        if v.isNullOrEmpty {
            if required {
                throw FieldFailure(reason: "required value is missing or empty", value: redact(v), field: name)
            }
            if omitNull { return nil }
        }
        return v
    }
}

extension Unmanaged where Instance == FieldNode {
    /// ``FieldNode/member(ev:_:)`` of the node, called without retaining it: its owner keeps it alive.
    @inline(__always)
    func member(ev: Evaluator, _ cur: JSONValue) throws(FieldFailure) -> JSONValue? {
        var failure: FieldFailure?
        let v = _withUnsafeGuaranteedRef { (node) -> JSONValue? in
            do throws(FieldFailure) { return try node.member(ev: ev, cur) } catch {
                failure = error
                return nil
            }
        }
        if let failure { throw failure }
        return v
    }
}

/// One output of a mapping in executable form.
final class OutputNode: Sendable {
    let entity: String
    let canonical: CanonicalEntity?
    let key: any ValueNode
    let fields: [FieldNode]
    let when: (any ConditionNode)?
    /// How the fields are written directly as JSON; nil when only the tree path gives the right bytes.
    let layout: OutputLayout?

    /// The output of `plan`, whose expressions run at the message's root object.
    init(_ plan: OutputPlan, lowering: Lowering) {
        entity = plan.entity
        canonical = plan.canonical
        key = lowering.value(plan.key)
        fields = lowering.fields(plan.fields)
        when = plan.when.map(lowering.condition)
        layout = OutputLayout(fields: fields, validated: plan.canonical?.validatedFieldList ?? [])
    }
}

/// Builds nodes from the compiler's plan.
struct Lowering {
    /// The member-name table the parser indexes the root object's members with (nil: the nodes use no index).
    var names: JSONMemberNames?
    /// Whether the expressions lowered run with the message's root object as the current value.
    var atRoot: Bool
    /// The ``Evaluator/made`` slots of the expressions computed more than once per message (see
    /// ``RepeatedExpressions``), by key; used at the root only.
    var memo: [String: Int] = [:]
    /// The slots of the root members' members read by name (see ``RootReads``): by the root member's table entry,
    /// then by member name.
    var nested: [Int: [String: Int]] = [:]
    /// Where the reads of root members by table entry are noted, when they are (see ``RootReads``).
    var reads: RootReads? = nil

    /// Lowering for nodes that never see an indexed message (record conditions).
    static var unindexed: Lowering { Lowering(names: nil, atRoot: false) }

    /// Lowering for what runs below the current value: `each` items, scoped sub-documents.
    var below: Lowering { Lowering(names: names, atRoot: false, nested: nested, reads: reads) }

    /// The table entry of the first member of a path of member names, when the path starts at the root object.
    func rootEntry(_ p: Path) -> Int? {
        guard p.fromRoot || atRoot, let names, let first = p.keys?.first else { return nil }
        return names.index(of: first)
    }

    func fields(_ plans: [FieldPlan]) -> [FieldNode] {
        var heads: [String: Int] = [:]
        for p in plans { heads[p.parts[0], default: 0] += 1 }
        return plans.map { FieldNode($0, nestedCapacity: heads[$0.parts[0]] ?? 1, lowering: self) }
    }

    func value(_ e: Expr) -> any ValueNode {
        switch e {
        case .path(let p): path(p)
        case .const(let v): ConstNode(v)
        case .concat(let parts, let separator): ConcatNode(parts.map(value), separator: separator)
        case .first(let options): FirstNode(options.map(value))
        case .each(let p, let fields, let filter, let v):
            eachNode(p, fields, filter, v)
        case .object(let fields): ObjectNode(self.fields(fields))
        case .when(let c, let then, let otherwise):
            WhenNode(condition(c), then: value(then), otherwise: otherwise.map(value))
        case .pipe(let source, let steps): pipe(source, steps)
        case .scoped(let p, let inner): ScopedNode(p, atRoot: atRoot, below.value(inner))
        }
    }

    func path(_ p: Path) -> any ValueNode {
        guard let keys = p.keys else { return PathNode(p, atRoot: atRoot) }
        let entry = rootEntry(p)
        if keys.count == 1 {
            if let entry { reads?.whole.insert(entry) }
            return MemberNode(keys[0], fromRoot: p.fromRoot || atRoot, rootEntry: entry)
        }
        if let entry { reads?.members[entry, default: []].insert(keys[1]) }
        return MembersNode(
            keys, fromRoot: p.fromRoot || atRoot, rootEntry: entry, nestedSlot: entry.flatMap { nested[$0]?[keys[1]] })
    }

    /// `each: p` with `fields`, `filter` and `value`.
    func eachNode(_ p: Path, _ fields: [FieldPlan], _ filter: Cond?, _ v: Expr?) -> EachNode {
        let entry = rootEntry(p)
        let node = EachNode(
            p, atRoot: atRoot, rootEntry: entry, fields: below.fields(fields), filter: filter.map(below.condition),
            value: v.map(below.value))
        // A path of one member name is read by its entry (a longer one from the whole message).
        if let entry = node.rootEntry {
            reads?.whole.insert(entry)
            if node.filter == nil, let item = node.itemValue, TextPipeline(item) != nil {
                reads?.textLists.insert(entry)
            }
        }
        return node
    }

    /// `source` with `steps`, the repeated prefixes (at the root) computed once per message.
    func pipe(_ source: Expr, _ steps: [Step]) -> any ValueNode {
        let keys = atRoot && !memo.isEmpty ? RepeatedExpressions.keys(source, steps) : []
        var node = value(source)
        for (k, s) in steps.enumerated() {
            let step = Lowering.step(s)
            node = RootTextNode(node, step: step) ?? PipeNode(node, step: step)
            if k < keys.count, let slot = memo[keys[k]] { node = MemoNode(slot: slot, node) }
        }
        return node
    }

    func condition(_ c: Cond) -> any ConditionNode {
        switch c {
        case .exists(let e): ExistsNode(value(e))
        case .equals(let e, let v): EqualsNode(value(e), v)
        case .oneOf(let e, let set): OneOfNode(value(e), set)
        case .matches(let e, let r): MatchesNode(value(e), r)
        case .compare(let e, let op, let bound): CompareNode(value(e), op, bound)
        case .all(let cs): AllNode(cs.map(condition))
        case .any(let cs): AnyNode(cs.map(condition))
        case .not(let c): NotNode(condition(c))
        }
    }

    /// The step of `fn: f`: the most common text functions as steps of their own (no dispatch over every function
    /// per call), the rest through ``Evaluator/call(_:_:)``.
    static func functionStep(_ f: Fn) -> any StepNode {
        switch f {
        case .trim: TrimStep()
        case .lower: LowerStep()
        case .upper: UpperStep()
        case .name: NameStep()
        case .nonEmpty: NonEmptyStep()
        case .email: EmailStep()
        case .phone(let region): PhoneStep(region: region)
        case .string: StringStep()
        case .prefix(let p): PrefixStep(p)
        case .list: ListStep()
        case .bool: BoolStep()
        case .decimal(let scale): DecimalStep(scale: scale)
        case .date(let spec): DateStep(spec)
        case .regexExtract(let box): RegexStep(box)
        default: FunctionStep(f)
        }
    }

    static func step(_ s: Step) -> any StepNode {
        switch s {
        case .fn(let f): functionStep(f)
        case .map(let table, let fallback, let strict): MapStep(table, fallback: fallback, strict: strict)
        case .table(let name, let table, let strict): TableStep(name: name, table, strict: strict)
        case .service(let name, let optional): ServiceStep(name, optional: optional)
        case .fallback(let d): FallbackStep(d)
        }
    }
}

/// How the nodes lowered at the root read the root object's members by table entry, noted by a first lowering: a
/// member read whole (a path of its one name, `each:` over it) or only through its own members (`address.city`,
/// `address.zip`). A member read only through members that the table names has them put in slots of their own by
/// the parse (``JSONNestedMembers``), and no object is built for it.
final class RootReads {
    /// The entries read whole.
    var whole: Set<Int> = []
    /// The names of the members read of each entry's member.
    var members: [Int: Set<String>] = [:]
    /// The entries read by an `each:` whose items are text (a ``TextPipeline``): their arrays of plain strings are kept
    /// as byte ranges by the parse (``JSONTextLists``) and made values only when something reads them as values.
    var textLists: Set<Int> = []

    /// The slots for the nested members read, numbered from `names.count`: by root entry, then by member name.
    func nestedSlots(_ names: JSONMemberNames) -> (slots: [Int: [String: Int]], table: JSONNestedMembers) {
        var slots: [Int: [String: Int]] = [:]
        var list: [(root: Int, member: Int)] = []
        for (entry, read) in members.sorted(by: { $0.key < $1.key }) where !whole.contains(entry) {
            // A member the table does not name (longer than 16 bytes) is not found by the parse.
            let found = read.sorted().map { ($0, names.index(of: $0)) }
            guard found.allSatisfy({ $0.1 != nil }) else { continue }
            for (name, member) in found {
                slots[entry, default: [:]][name] = names.count + list.count
                list.append((entry, member!))
            }
        }
        return (slots, JSONNestedMembers(nameCount: names.count, slots: list))
    }
}

// MARK: - Values

// Nodes lowered at the root (``Lowering/atRoot``) read the message as ``Evaluator/root``, not as their current value:
// a message read member by member (``Evaluator/Root/values``) is evaluated with `.null` as the current value there.

final class PathNode: ValueNode {
    let path: Path
    /// Whether the current value is the message (the path is read from ``Evaluator/root``).
    let atRoot: Bool
    init(_ path: Path, atRoot: Bool) {
        self.path = path
        self.atRoot = atRoot
    }
    func value(_ ev: Evaluator, _ cur: JSONValue) throws(FieldFailure) -> JSONValue {
        path.resolve(from: path.fromRoot || atRoot ? ev.root : cur) ?? .null
    }
}

/// A path of one member name (`status`), the most common source.
final class MemberNode: ValueNode {
    let key: String
    /// Whether the member is read from the message (a `$.` path, or one whose current value is the message).
    let fromRoot: Bool
    /// The key's entry in the evaluator's root index, when the path starts at the root object.
    let rootEntry: Int?
    init(_ key: String, fromRoot: Bool, rootEntry: Int?) {
        self.key = key
        self.fromRoot = fromRoot
        self.rootEntry = rootEntry
    }
    func value(_ ev: Evaluator, _ cur: JSONValue) throws(FieldFailure) -> JSONValue {
        if let rootEntry, let found = ev.rootMember(rootEntry) { return found ?? .null }
        return Path.member(key, of: fromRoot ? ev.root : cur) ?? .null
    }
}

/// A path of member names only (`address.city`).
final class MembersNode: ValueNode {
    let keys: [String]
    /// Whether the first member is read from the message (a `$.` path, or one whose current value is the message).
    let fromRoot: Bool
    /// The first key's entry in the evaluator's root index, when the path starts at the root object.
    let rootEntry: Int?
    /// The evaluator's root slot of the second key's member of the first key's member, when the parse puts it there
    /// (see ``RootReads``).
    let nestedSlot: Int?
    init(_ keys: [String], fromRoot: Bool, rootEntry: Int?, nestedSlot: Int? = nil) {
        self.keys = keys
        self.fromRoot = fromRoot
        self.rootEntry = rootEntry
        self.nestedSlot = nestedSlot
    }
    func value(_ ev: Evaluator, _ cur: JSONValue) throws(FieldFailure) -> JSONValue {
        // A message read member by member has the second member in a slot of its own.
        if let nestedSlot, let found = ev.rootMember(nestedSlot) {
            guard var v = found else { return .null }
            for k in 2..<keys.count {
                guard let next = Path.member(keys[k], of: v) else { return .null }
                v = next
            }
            return v
        }
        let first: JSONValue?
        if let rootEntry, let found = ev.rootMember(rootEntry) {
            first = found
        } else {
            first = Path.member(keys[0], of: fromRoot ? ev.root : cur)
        }
        guard var v = first else { return .null }
        for k in 1..<keys.count {
            guard let next = Path.member(keys[k], of: v) else { return .null }
            v = next
        }
        return v
    }
}

final class ConstNode: ValueNode {
    let constant: JSONValue
    init(_ constant: JSONValue) { self.constant = constant }
    func value(_ ev: Evaluator, _ cur: JSONValue) throws(FieldFailure) -> JSONValue { constant }
}

final class ConcatNode: ValueNode {
    let parts: [any ValueNode]
    let separator: String
    init(_ parts: [any ValueNode], separator: String) {
        self.parts = parts
        self.separator = separator
    }
    func value(_ ev: Evaluator, _ cur: JSONValue) throws(FieldFailure) -> JSONValue {
        var out: String? = nil
        for p in parts {
            let v = try p.value(ev, cur)
            guard let t = v.scalarText, !t.isEmpty else { continue }
            out = out.map { ConcatNode.joined($0, separator, t) } ?? t
        }
        return out.map(JSONValue.string) ?? .null
    }

    /// `a + separator + b`, made at once (appending grew the string part by part).
    static func joined(_ a: String, _ separator: String, _ b: String) -> String {
        let count = a.utf8.count + separator.utf8.count + b.utf8.count
        return String(unsafeUninitializedCapacity: count) { out in
            var n = 0
            func put(_ part: String) {
                n += TextFunctions.withBytes(part) {
                    UnsafeMutableBufferPointer(rebasing: out[n...]).update(fromContentsOf: $0)
                }
            }
            put(a)
            put(separator)
            put(b)
            return n
        }
    }
}

final class FirstNode: ValueNode {
    let options: [any ValueNode]
    init(_ options: [any ValueNode]) { self.options = options }
    func value(_ ev: Evaluator, _ cur: JSONValue) throws(FieldFailure) -> JSONValue {
        for o in options {
            let v = try o.value(ev, cur)
            if !v.isNullOrEmpty { return v }
        }
        return .null
    }
}

final class EachNode: ValueNode {
    let path: Path
    /// Whether the current value is the message (the path is read from ``Evaluator/root``).
    let atRoot: Bool
    /// The path's entry in the evaluator's root index, when it is one member name of the root object.
    let rootEntry: Int?
    let fields: [FieldNode]
    let filter: (any ConditionNode)?
    let itemValue: (any ValueNode)?
    init(
        _ path: Path, atRoot: Bool, rootEntry: Int?, fields: [FieldNode], filter: (any ConditionNode)?,
        value: (any ValueNode)?
    ) {
        self.path = path
        self.atRoot = atRoot
        self.rootEntry = path.keys?.count == 1 ? rootEntry : nil
        self.fields = fields
        self.filter = filter
        itemValue = value
    }
    func value(_ ev: Evaluator, _ cur: JSONValue) throws(FieldFailure) -> JSONValue {
        let source: JSONValue?
        if let rootEntry, let found = ev.rootMember(rootEntry) {
            source = found
        } else {
            source = path.resolve(from: path.fromRoot || atRoot ? ev.root : cur)
        }
        guard let src = source, !src.isNull else { return .array([]) }
        guard case .array(let items) = src else {
            throw FieldFailure(
                reason: "'each: \(path.text)' expects an array, found \(src.typeName)", value: redact(src))
        }
        var out: [JSONValue] = []
        out.reserveCapacity(items.count)
        for (n, item) in items.enumerated() {
            if let filter, !(try filter.holds(ev, item)) { continue }
            do throws(FieldFailure) {
                if let itemValue {
                    out.append(try itemValue.value(ev, item))
                } else {
                    out.append(try ev.object(fields, item))
                }
            } catch {
                var e = error
                e.field = "[\(n)]" + (e.field.isEmpty ? "" : "." + e.field)
                throw e
            }
        }
        return .array(out)
    }
}

final class ObjectNode: ValueNode {
    let fields: [FieldNode]
    init(_ fields: [FieldNode]) { self.fields = fields }
    func value(_ ev: Evaluator, _ cur: JSONValue) throws(FieldFailure) -> JSONValue { try ev.object(fields, cur) }
}

final class WhenNode: ValueNode {
    let condition: any ConditionNode
    let then: any ValueNode
    let otherwise: (any ValueNode)?
    init(_ condition: any ConditionNode, then: any ValueNode, otherwise: (any ValueNode)?) {
        self.condition = condition
        self.then = then
        self.otherwise = otherwise
    }
    func value(_ ev: Evaluator, _ cur: JSONValue) throws(FieldFailure) -> JSONValue {
        if try condition.holds(ev, cur) { return try then.value(ev, cur) }
        guard let otherwise else { return .null }
        return try otherwise.value(ev, cur)
    }
}

/// One step of a pipeline applied to the value of what comes before it: `{path: x, fn: [trim, lower]}` is
/// `PipeNode(PipeNode(x, trim), lower)`. Each node reads its source and step as its own constants, which needs no
/// retain and release per record (reading steps out of an array retained and released each one).
final class PipeNode: ValueNode {
    let source: any ValueNode
    let step: any StepNode
    init(_ source: any ValueNode, step: any StepNode) {
        self.source = source
        self.step = step
    }

    func value(_ ev: Evaluator, _ cur: JSONValue) throws(FieldFailure) -> JSONValue {
        try step.apply(ev, try source.value(ev, cur))
    }
}

/// An expression computed once per message (see ``RepeatedExpressions``): its value is kept in the evaluator's
/// ``Evaluator/made`` slot `slot`.
final class MemoNode: ValueNode {
    let slot: Int
    let inner: any ValueNode
    init(slot: Int, _ inner: any ValueNode) {
        self.slot = slot
        self.inner = inner
    }
    func value(_ ev: Evaluator, _ cur: JSONValue) throws(FieldFailure) -> JSONValue {
        if let v = ev.made[slot] { return v }
        let v = try inner.value(ev, cur)
        ev.made[slot] = v
        return v
    }
}

/// Evaluates the inner expression with `current` moved to a sub-document (null when absent).
final class ScopedNode: ValueNode {
    let path: Path
    /// Whether the current value is the message (the path is read from ``Evaluator/root``).
    let atRoot: Bool
    let inner: any ValueNode
    init(_ path: Path, atRoot: Bool, _ inner: any ValueNode) {
        self.path = path
        self.atRoot = atRoot
        self.inner = inner
    }
    func value(_ ev: Evaluator, _ cur: JSONValue) throws(FieldFailure) -> JSONValue {
        guard let sub = path.resolve(from: path.fromRoot || atRoot ? ev.root : cur), !sub.isNull else { return .null }
        return try inner.value(ev, sub)
    }
}

// MARK: - Conditions

final class ExistsNode: ConditionNode {
    let subject: any ValueNode
    init(_ subject: any ValueNode) { self.subject = subject }
    func holds(_ ev: Evaluator, _ cur: JSONValue) throws(FieldFailure) -> Bool {
        !(try subject.value(ev, cur).isNullOrEmpty)
    }
}

final class EqualsNode: ConditionNode {
    let subject: any ValueNode
    let expected: JSONValue
    /// The subject's root slot, when it is a root member and `expected` is an ASCII string: a member the parse kept as
    /// ASCII bytes is compared by its bytes (for ASCII texts `==` is byte equality), without making its string.
    let rootEntry: Int?
    /// `expected`'s bytes, when it is an ASCII string.
    let expectedASCII: [UInt8]
    init(_ subject: any ValueNode, _ expected: JSONValue) {
        self.subject = subject
        self.expected = expected
        let ascii = expected.stringValue.map { Array($0.utf8) }.flatMap { $0.allSatisfy { $0 < 0x80 } ? $0 : nil }
        rootEntry = ascii == nil ? nil : (subject as? MemberNode)?.rootEntry
        expectedASCII = ascii ?? []
    }
    func holds(_ ev: Evaluator, _ cur: JSONValue) throws(FieldFailure) -> Bool {
        if let rootEntry, let text = ev.rootText(rootEntry), TextFunctions.isASCII(text) {
            return expectedASCII.withUnsafeBufferPointer { $0.elementsEqual(text) }
        }
        return try subject.value(ev, cur) == expected
    }
}

final class OneOfNode: ConditionNode {
    let subject: any ValueNode
    let candidates: [JSONValue]
    init(_ subject: any ValueNode, _ candidates: [JSONValue]) {
        self.subject = subject
        self.candidates = candidates
    }
    func holds(_ ev: Evaluator, _ cur: JSONValue) throws(FieldFailure) -> Bool {
        candidates.contains(try subject.value(ev, cur))
    }
}

final class MatchesNode: ConditionNode {
    let subject: any ValueNode
    let regex: RegexBox
    init(_ subject: any ValueNode, _ regex: RegexBox) {
        self.subject = subject
        self.regex = regex
    }
    func holds(_ ev: Evaluator, _ cur: JSONValue) throws(FieldFailure) -> Bool {
        guard let t = try subject.value(ev, cur).scalarText else { return false }
        return regex.matches(t)
    }
}

/// A numeric comparison; numbers and decimal strings compare, anything else is false.
final class CompareNode: ConditionNode {
    let subject: any ValueNode
    let comparison: Comparison
    let bound: Double
    init(_ subject: any ValueNode, _ comparison: Comparison, _ bound: Double) {
        self.subject = subject
        self.comparison = comparison
        self.bound = bound
    }
    func holds(_ ev: Evaluator, _ cur: JSONValue) throws(FieldFailure) -> Bool {
        let v = try subject.value(ev, cur)
        guard let number = v.doubleValue ?? v.stringValue.flatMap({ Double($0.trimmingCharacters(in: .whitespaces)) }),
            number.isFinite
        else {
            return false
        }
        return comparison.holds(number, bound)
    }
}

final class AllNode: ConditionNode {
    let conditions: [any ConditionNode]
    init(_ conditions: [any ConditionNode]) { self.conditions = conditions }
    func holds(_ ev: Evaluator, _ cur: JSONValue) throws(FieldFailure) -> Bool {
        for c in conditions where !(try c.holds(ev, cur)) { return false }
        return true
    }
}

final class AnyNode: ConditionNode {
    let conditions: [any ConditionNode]
    init(_ conditions: [any ConditionNode]) { self.conditions = conditions }
    func holds(_ ev: Evaluator, _ cur: JSONValue) throws(FieldFailure) -> Bool {
        for c in conditions where try c.holds(ev, cur) { return true }
        return false
    }
}

final class NotNode: ConditionNode {
    let condition: any ConditionNode
    init(_ condition: any ConditionNode) { self.condition = condition }
    func holds(_ ev: Evaluator, _ cur: JSONValue) throws(FieldFailure) -> Bool { !(try condition.holds(ev, cur)) }
}

// MARK: - Steps

/// `fn:` entry; null passes through untouched.
final class FunctionStep: StepNode {
    let function: Fn
    init(_ function: Fn) { self.function = function }
    func apply(_ ev: Evaluator, _ v: consuming JSONValue) throws(FieldFailure) -> JSONValue {
        if v.isNull { return .null }
        return try ev.call(function, v)
    }
}

// The steps of the most common functions: exactly ``Evaluator/call(_:_:)``'s case of their function behind
// ``FunctionStep``'s null check.

/// `fn: trim`.
final class TrimStep: StepNode {
    func apply(_ ev: Evaluator, _ v: consuming JSONValue) throws(FieldFailure) -> JSONValue {
        if v.isNull { return .null }
        return .string(TextFunctions.trimmed(try ev.text(.trim, v)))
    }
}

/// `fn: lower`.
final class LowerStep: StepNode {
    func apply(_ ev: Evaluator, _ v: consuming JSONValue) throws(FieldFailure) -> JSONValue {
        if v.isNull { return .null }
        return .string(TextFunctions.lowercased(try ev.text(.lower, v)))
    }
}

/// `fn: upper`.
final class UpperStep: StepNode {
    func apply(_ ev: Evaluator, _ v: consuming JSONValue) throws(FieldFailure) -> JSONValue {
        if v.isNull { return .null }
        return .string(TextFunctions.uppercased(try ev.text(.upper, v)))
    }
}

/// `fn: name`.
final class NameStep: StepNode {
    func apply(_ ev: Evaluator, _ v: consuming JSONValue) throws(FieldFailure) -> JSONValue {
        if v.isNull { return .null }
        return .string(PersonName.display(try ev.text(.name, v)))
    }
}

/// `fn: non_empty`.
final class NonEmptyStep: StepNode {
    func apply(_ ev: Evaluator, _ v: consuming JSONValue) throws(FieldFailure) -> JSONValue {
        if v.isNull { return .null }
        if let s = v.stringValue, TextFunctions.isBlank(s) { return .null }
        if case .array(let a) = v, a.isEmpty { return .null }
        return v
    }
}

/// `fn: email`.
final class EmailStep: StepNode {
    func apply(_ ev: Evaluator, _ v: consuming JSONValue) throws(FieldFailure) -> JSONValue {
        if v.isNull { return .null }
        return try ev.email(v)
    }
}

/// `fn: {phone: region}`.
final class PhoneStep: StepNode {
    let region: String
    /// The region's numbering facts, looked up once (nil when it is unknown: each number then fails as before).
    let home: PhoneNumber.Region?
    init(region: String) {
        self.region = region
        home = PhoneNumber.region(iso: region)
    }
    func apply(_ ev: Evaluator, _ v: consuming JSONValue) throws(FieldFailure) -> JSONValue {
        if v.isNull { return .null }
        return try ev.phone(v, region: region, home: home)
    }
}

/// `fn: string`.
final class StringStep: StepNode {
    func apply(_ ev: Evaluator, _ v: consuming JSONValue) throws(FieldFailure) -> JSONValue {
        if v.isNull { return .null }
        return Evaluator.string(v)
    }
}

/// `fn: {prefix: p}`.
final class PrefixStep: StepNode {
    let prefix: String
    /// The prefix's UTF-8 bytes (for ``ByteTextStep/text(_:into:)``).
    let prefixBytes: [UInt8]
    /// Whether the prefix has no byte a JSON string escapes.
    let prefixIsPlain: Bool
    init(_ prefix: String) {
        self.prefix = prefix
        prefixBytes = Array(prefix.utf8)
        prefixIsPlain = !prefixBytes.contains { $0 < 0x20 || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\\") }
    }
    func apply(_ ev: Evaluator, _ v: consuming JSONValue) throws(FieldFailure) -> JSONValue {
        if v.isNull { return .null }
        return try ev.prefix(prefix, v)
    }
}

/// `fn: list`.
final class ListStep: StepNode {
    func apply(_ ev: Evaluator, _ v: consuming JSONValue) throws(FieldFailure) -> JSONValue {
        if v.isNull { return .null }
        return Evaluator.list(v)
    }
}

/// `fn: bool`.
final class BoolStep: StepNode {
    func apply(_ ev: Evaluator, _ v: consuming JSONValue) throws(FieldFailure) -> JSONValue {
        if v.isNull { return .null }
        return try ev.bool(v)
    }
}

/// `fn: {decimal: scale}`.
final class DecimalStep: StepNode {
    let scale: Int
    init(scale: Int) { self.scale = scale }
    func apply(_ ev: Evaluator, _ v: consuming JSONValue) throws(FieldFailure) -> JSONValue {
        if v.isNull { return .null }
        return try ev.decimal(v, scale: scale)
    }
}

/// `fn: {date: ...}`.
final class DateStep: StepNode {
    let spec: DateSpec
    init(_ spec: DateSpec) { self.spec = spec }
    func apply(_ ev: Evaluator, _ v: consuming JSONValue) throws(FieldFailure) -> JSONValue {
        if v.isNull { return .null }
        return try ev.date(v, spec)
    }
}

/// `fn: {regex: pattern}`.
final class RegexStep: StepNode {
    let box: RegexBox
    init(_ box: RegexBox) { self.box = box }
    func apply(_ ev: Evaluator, _ v: consuming JSONValue) throws(FieldFailure) -> JSONValue {
        if v.isNull { return .null }
        return try ev.regex(v, box)
    }
}

/// `map:` with `map_default:` and `strict:`.
final class MapStep: StepNode {
    let table: TextTable
    let fallback: JSONValue?
    let strict: Bool
    /// The table on bytes, when its keys allow it (see ``ByteMap``).
    let bytes: ByteMap?
    init(_ table: [String: JSONValue], fallback: JSONValue?, strict: Bool) {
        self.table = TextTable(table)
        self.fallback = fallback
        self.strict = strict
        bytes = ByteMap(table, fallback: fallback, strict: strict)
    }
    func apply(_ ev: Evaluator, _ v: consuming JSONValue) throws(FieldFailure) -> JSONValue {
        if v.isNull { return fallback ?? .null }
        guard let k = v.scalarText else {
            throw FieldFailure(reason: "value map needs a scalar, found \(v.typeName)", value: redact(v))
        }
        if let hit = table.value(for: k) { return hit }
        if let fallback { return fallback }
        if strict {
            throw FieldFailure(
                reason: "value \(RedactionPolicy.installed.fingerprint(k)) is not in the value map", value: redact(v))
        }
        return .null
    }
}

/// The table of a `map:` or `lookup:` step, read by text key. A few entries (a status code map) are compared one by
/// one with `==`, the equality the dictionary uses, which costs less than hashing the key; a larger table is a
/// dictionary. Keys are unique under `==`, so both find the same entry.
struct TextTable: Sendable {
    /// The tables of at most this many entries are scanned.
    static let scanLimit = 8

    /// The entries of a scanned table; empty for a dictionary.
    private let entries: [(key: String, value: JSONValue)]
    /// The entries of a larger table; empty for a scanned one.
    private let dictionary: [String: JSONValue]

    init(_ table: [String: JSONValue]) {
        if table.count <= TextTable.scanLimit {
            entries = table.map { (key: $0.key, value: $0.value) }
            dictionary = [:]
        } else {
            entries = []
            dictionary = table
        }
    }

    /// The value of the entry whose key is `key` (`table[key]`), or nil.
    @inline(__always)
    func value(for key: String) -> JSONValue? {
        if dictionary.isEmpty {
            return entries.withUnsafeBufferPointer { entries in
                for k in entries.indices where entries[k].key == key { return entries[k].value }
                return nil
            }
        }
        return dictionary[key]
    }
}

/// `lookup: table` (static table from the file).
final class TableStep: StepNode {
    let name: String
    let table: TextTable
    let strict: Bool
    init(name: String, _ table: [String: JSONValue], strict: Bool) {
        self.name = name
        self.table = TextTable(table)
        self.strict = strict
    }
    func apply(_ ev: Evaluator, _ v: consuming JSONValue) throws(FieldFailure) -> JSONValue {
        if v.isNull { return .null }
        guard let k = v.scalarText else {
            throw FieldFailure(reason: "lookup needs a scalar, found \(v.typeName)", value: redact(v))
        }
        if let hit = table.value(for: k) { return hit }
        if strict { throw FieldFailure(reason: "key not found in table '\(name)'", value: redact(v)) }
        return .null
    }
}

/// `lookup: {service: NAME}`, served by the context's `MappingLookup`. Without one, an `optional: true` service
/// answers null (a tool that has no master data); any other fails the field.
final class ServiceStep: StepNode {
    let table: String
    let optional: Bool
    init(_ table: String, optional: Bool) {
        self.table = table
        self.optional = optional
    }
    func apply(_ ev: Evaluator, _ v: consuming JSONValue) throws(FieldFailure) -> JSONValue {
        if v.isNull { return .null }
        guard let k = v.scalarText else {
            throw FieldFailure(reason: "lookup needs a scalar, found \(v.typeName)", value: redact(v))
        }
        guard let lookup = ev.lookup else {
            if optional { return .null }
            throw FieldFailure(reason: "lookup service for '\(table)' is not configured", value: redact(v))
        }
        do { return try lookup.lookup(table: table, key: k) ?? .null } catch {
            throw FieldFailure(reason: "lookup '\(table)' failed: \(error)", value: redact(v))
        }
    }
}

/// `default:`, used when the value is null or empty.
final class FallbackStep: StepNode {
    let fallback: JSONValue
    init(_ fallback: JSONValue) { self.fallback = fallback }
    func apply(_ ev: Evaluator, _ v: consuming JSONValue) throws(FieldFailure) -> JSONValue {
        v.isNullOrEmpty ? fallback : v
    }
}
