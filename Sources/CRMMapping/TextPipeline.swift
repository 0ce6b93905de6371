import CRMModel

// Text fields written straight into a laid-out record.
//
// Most output fields are a member's string passed through text functions (`{path: tier, fn: [trim, lower]}`). On the
// value path each step makes a new string, and the writer then copies and escapes the last one. When a field's value
// ends in steps that also work on bytes (``ByteTextStep``), a laid-out record (``OutputLayout``) runs those steps on
// the UTF-8 bytes in scratch memory and writes the result into the record's JSON as a string literal: no strings in
// between and no value for the field. Whatever the byte steps do not decide (non-ASCII text where Unicode rules
// matter, a failure, a value that is not a string) is left to the field's value path, which gives the same bytes or
// the same failure.

/// What a ``ByteTextStep`` makes of a text.
enum StepText {
    /// The step's text: its input, a slice of it, or bytes the step wrote into the memory it was given.
    case text(UnsafeBufferPointer<UInt8>)
    /// The step's value is null.
    case null
    /// The byte path does not decide this text: the step's ``StepNode/apply(_:_:)`` gives the value or the failure.
    case general
}

/// A step that also works on the UTF-8 bytes of a string. For a string value `s` whose bytes are `b`, `text(b, into:)`
/// is `.text(t)` only when `apply(.string(s))` is the string whose bytes are `t`, and `.null` only when it is `.null`.
protocol ByteTextStep: StepNode {
    /// This step's text of the UTF-8 text `input`; the bytes it writes go into `out`, which does not overlap `input`.
    func text(_ input: UnsafeBufferPointer<UInt8>, into out: UnsafeMutableBufferPointer<UInt8>) -> StepText
    /// Whether the step's text has no byte a JSON string escapes (`"`, `\`, control characters) when its input has
    /// none.
    var keepsPlain: Bool { get }
}

extension ByteTextStep {
    /// Slices, ASCII case mappings, digits and date punctuation add no byte to escape.
    var keepsPlain: Bool { true }
}

extension TrimStep: ByteTextStep {
    func text(_ input: UnsafeBufferPointer<UInt8>, into out: UnsafeMutableBufferPointer<UInt8>) -> StepText {
        guard let kept = TextFunctions.trimmedRange(input) else { return .general }
        return .text(UnsafeBufferPointer(rebasing: input[kept]))
    }
}

extension LowerStep: ByteTextStep {
    func text(_ input: UnsafeBufferPointer<UInt8>, into out: UnsafeMutableBufferPointer<UInt8>) -> StepText {
        guard let n = TextFunctions.mapASCII(input, from: 65, through: 90, delta: 32, into: out) else {
            return .general
        }
        return .text(UnsafeBufferPointer(start: out.baseAddress, count: n))
    }
}

extension UpperStep: ByteTextStep {
    func text(_ input: UnsafeBufferPointer<UInt8>, into out: UnsafeMutableBufferPointer<UInt8>) -> StepText {
        guard let n = TextFunctions.mapASCII(input, from: 97, through: 122, delta: -32, into: out) else {
            return .general
        }
        return .text(UnsafeBufferPointer(start: out.baseAddress, count: n))
    }
}

extension NonEmptyStep: ByteTextStep {
    func text(_ input: UnsafeBufferPointer<UInt8>, into out: UnsafeMutableBufferPointer<UInt8>) -> StepText {
        switch TextFunctions.isBlank(input) {
        case true?: .null
        case false?: .text(input)
        case nil: .general
        }
    }
}

extension StringStep: ByteTextStep {
    func text(_ input: UnsafeBufferPointer<UInt8>, into out: UnsafeMutableBufferPointer<UInt8>) -> StepText {
        .text(input)
    }
}

extension PrefixStep: ByteTextStep {
    var keepsPlain: Bool { prefixIsPlain }

    func text(_ input: UnsafeBufferPointer<UInt8>, into out: UnsafeMutableBufferPointer<UInt8>) -> StepText {
        let n = prefixBytes.count
        guard n + input.count <= out.count else { return .general }
        _ = out.update(fromContentsOf: prefixBytes)
        _ = UnsafeMutableBufferPointer(rebasing: out[n...]).update(fromContentsOf: input)
        return .text(UnsafeBufferPointer(start: out.baseAddress, count: n + input.count))
    }
}

extension DecimalStep: ByteTextStep {
    func text(_ input: UnsafeBufferPointer<UInt8>, into out: UnsafeMutableBufferPointer<UInt8>) -> StepText {
        // Not a decimal (`.some(nil)`): the value path reports the failure.
        guard let rounded = FixedDecimal.roundedASCII(input, scale: scale, into: out), let n = rounded else {
            return .general
        }
        return .text(UnsafeBufferPointer(start: out.baseAddress, count: n))
    }
}

extension DateStep: ByteTextStep {
    func text(_ input: UnsafeBufferPointer<UInt8>, into out: UnsafeMutableBufferPointer<UInt8>) -> StepText {
        guard let n = spec.convert(input, into: out) else { return .general }
        return .text(UnsafeBufferPointer(start: out.baseAddress, count: n))
    }
}

extension RegexStep: ByteTextStep {
    func text(_ input: UnsafeBufferPointer<UInt8>, into out: UnsafeMutableBufferPointer<UInt8>) -> StepText {
        guard let found = box.bytes?.firstMatch(input) else { return .general }
        guard let (whole, group1) = found else { return .null }
        return .text(UnsafeBufferPointer(rebasing: input[group1 ?? whole]))
    }
}

/// A value that ends in byte text steps, evaluated on bytes: `source`'s value (a string or null), then `steps`, then
/// `finish`. `{path: tier, fn: [trim, lower], default: standard}` is the member `tier`, the steps trim and lower, and
/// the fallback `standard`.
final class TextPipeline: Sendable {
    /// What follows the text steps.
    enum Finish: Sendable {
        /// Nothing: the value is the text, or null.
        case text
        /// `fn: list`: the text as an array of one string; null stays null.
        case list
        /// `default:`: ``fallback`` when the text is null or empty.
        case fallback
        /// `map:` with `map_default:` and `strict:`: ``map``.
        case map
    }

    /// A pipeline's value as its byte path finds it (the bytes are in the scratch memory it was given).
    enum Outcome {
        case null
        /// A string.
        case text(UnsafeBufferPointer<UInt8>)
        /// A string with no byte to escape.
        case plainText(UnsafeBufferPointer<UInt8>)
        /// An array of one string.
        case list(UnsafeBufferPointer<UInt8>)
        /// The ``fallback`` value.
        case fallback
        /// The value of entry `k` of the ``map`` (-1: its `map_default:`).
        case mapped(Int)
        /// The byte path does not decide the value: the value path gives it, or the failure.
        case general
    }

    /// What comes before the byte steps, evaluated as a value.
    let source: any ValueNode
    /// Whether `source` is `@`, the current value itself (an `each` item), which is read without a call.
    let sourceIsCurrent: Bool
    /// The root slot `source` reads, when it is a root member or a root member's member with a slot of its own (its
    /// bytes are read without making its string when the parse kept them, see ``Evaluator/rootText(_:)``).
    let sourceRootEntry: Int?
    /// The byte steps, in order (nil: none, before a `map:`).
    let steps: ByteTextSteps?
    /// Whether the steps add no byte to escape (``ByteTextStep/keepsPlain``): the text of a root member's bytes,
    /// which the parse found without escapes, is then written unchecked.
    let stepsKeepPlain: Bool
    let finish: Finish
    /// The `default:` value (``Finish/fallback``), encoded.
    let fallback: ConstantJSON?
    /// The value map (``Finish/map``).
    let map: ByteMap?

    /// The byte form of `node`: nil unless it ends in at least one byte text step, optionally followed by `list` or
    /// `default`.
    init?(_ node: any ValueNode) {
        var node = node
        var finish = Finish.text
        var fallback: ConstantJSON? = nil
        var map: ByteMap? = nil
        if let pipe = node as? PipeNode {
            if let step = pipe.step as? MapStep, let bytes = step.bytes {
                finish = .map
                map = bytes
                node = pipe.source
            } else if let step = pipe.step as? FallbackStep {
                finish = .fallback
                fallback = ConstantJSON(step.fallback)
                node = pipe.source
            } else if pipe.step is ListStep {
                finish = .list
                node = pipe.source
            }
        }
        var steps: [any ByteTextStep] = []
        while let pipe = node as? PipeNode, let step = pipe.step as? any ByteTextStep {
            steps.append(step)
            node = pipe.source
        }
        self.steps = ByteTextSteps(steps.reversed())
        stepsKeepPlain = steps.allSatisfy(\.keepsPlain)
        // A text pipeline has byte steps, or a value map.
        guard self.steps != nil || finish == .map else { return nil }
        self.finish = finish
        self.fallback = fallback
        self.map = map
        source = node
        if let path = node as? PathNode {
            sourceIsCurrent = path.path.steps.isEmpty && !path.path.fromRoot && !path.atRoot
        } else {
            sourceIsCurrent = false
        }
        if let member = node as? MemberNode {
            sourceRootEntry = member.rootEntry
        } else if let members = node as? MembersNode, members.keys.count == 2 {
            sourceRootEntry = members.nestedSlot
        } else {
            sourceRootEntry = nil
        }
    }

    /// The value of a current value that is a string kept as bytes by the parse (an item of a kept array,
    /// ``Evaluator/rootItems(_:)``), whose text is `text`, by the byte path.
    func evaluate(keptText text: UnsafeBufferPointer<UInt8>, scratch: UnsafeMutableBufferPointer<UInt8>) -> Outcome {
        run(text, lasting: true, scratch: scratch)
    }

    /// The value at `cur` by the byte path. `scratch` holds the bytes of the result (and of the steps in between):
    /// they are read before `scratch` is used again.
    func evaluate(_ ev: Evaluator, _ cur: JSONValue, scratch: UnsafeMutableBufferPointer<UInt8>) -> Outcome {
        if sourceIsCurrent { return outcome(of: cur, scratch: scratch) }
        if let entry = sourceRootEntry, let text = ev.rootText(entry) {
            return run(text, lasting: true, scratch: scratch)
        }
        // A failure is reported by the value path, with the field's name.
        do throws(FieldFailure) { return outcome(of: try source.value(ev, cur), scratch: scratch) } catch {
            return .general
        }
    }

    /// The outcome of the steps and the finish for the source value `value`.
    @inline(__always)
    private func outcome(of value: JSONValue, scratch: UnsafeMutableBufferPointer<UInt8>) -> Outcome {
        switch value {
        case .null: return finished(nil)
        case .string(let s): return TextFunctions.withBytes(s) { run($0, lasting: false, scratch: scratch) }
        default: return .general
        }
    }

    /// The steps and the finish over the UTF-8 text `input`: a root member's bytes (`lasting`, the message's bytes,
    /// which outlive the outcome and have no byte to escape) or a string's.
    private func run(
        _ input: UnsafeBufferPointer<UInt8>, lasting: Bool, scratch: UnsafeMutableBufferPointer<UInt8>
    ) -> Outcome {
        // Each step writes into the half of the scratch memory that does not hold its input.
        let half = scratch.count / 2
        let low = UnsafeMutableBufferPointer(rebasing: scratch[..<half])
        let high = UnsafeMutableBufferPointer(rebasing: scratch[half...])
        var text = input
        switch steps?.text(input, low: low, high: high) {
        case .text(let t)?: text = t
        case .null?: return finished(nil)
        case .general?: return .general
        case nil: break
        }
        // A value map reads the text in place.
        if let map { return map.outcome(text) }
        if lasting {
            guard stepsKeepPlain, case .text(let t) = finished(text) else { return finished(text) }
            return .plainText(t)
        }
        // The result outlives `input`: bytes still in `input` are copied into the scratch memory.
        if !TextPipeline.holds(scratch, text) {
            guard text.count <= half else { return .general }
            _ = low.update(fromContentsOf: text)
            text = UnsafeBufferPointer(start: low.baseAddress, count: text.count)
        }
        return finished(text)
    }

    /// Whether `text` is empty or lies in `memory`.
    @inline(__always)
    static func holds(_ memory: UnsafeMutableBufferPointer<UInt8>, _ text: UnsafeBufferPointer<UInt8>) -> Bool {
        guard let start = text.baseAddress, !text.isEmpty else { return true }
        guard let base = memory.baseAddress else { return false }
        return UnsafePointer(base) <= start && start < UnsafePointer(base + memory.count)
    }

    /// The outcome of the text `text` (nil: null) after the finish.
    private func finished(_ text: UnsafeBufferPointer<UInt8>?) -> Outcome {
        switch finish {
        case .text: text.map(Outcome.text) ?? .null
        case .list: text.map(Outcome.list) ?? .null
        case .fallback: text.map { $0.isEmpty ? .fallback : .text($0) } ?? .fallback
        case .map: map?.outcome(text) ?? .general
        }
    }

    /// Whether `outcome` is null or the empty string (``JSONValue/isNullOrEmpty`` of its value).
    func isNullOrEmpty(_ outcome: Outcome) -> Bool {
        switch outcome {
        case .null: return true
        case .text(let t), .plainText(let t): return t.isEmpty
        case .list, .general: return false
        case .fallback: return fallback?.isNullOrEmpty ?? false
        case .mapped(let k): return map?.isNullOrEmpty(k) ?? false
        }
    }

    /// Writes the value `outcome` (not `.general`) as JSON.
    func write(_ outcome: Outcome, into writer: inout JSONWriter) {
        switch outcome {
        case .null: writer.write(JSONValue.null)
        case .text(let t): writer.writeString(utf8: t)
        case .plainText(let t): writer.writeString(plainUTF8: t)
        case .list(let t):
            writer.write(byte: UInt8(ascii: "["))
            writer.writeString(utf8: t)
            writer.write(byte: UInt8(ascii: "]"))
        case .fallback: fallback?.write(into: &writer)
        case .mapped(let k): map?.write(k, into: &writer)
        case .general: preconditionFailure("the byte path did not decide the value")
        }
    }
}

/// A `map:` step's table read on bytes, when every key is ASCII: an ASCII text is looked up by its bytes (for ASCII
/// texts and keys `==`, the table's equality, is byte equality); the values are written as JSON encoded once.
final class ByteMap: Sendable {
    /// The entries: the keys' UTF-8 and the values' JSON, and whether each value is null or empty.
    let keys: [[UInt8]]
    let values: [[UInt8]]
    let valuesNullOrEmpty: [Bool]
    /// The `map_default:` value's JSON (nil: none), and whether it is null or empty.
    let fallback: [UInt8]?
    let fallbackNullOrEmpty: Bool
    let strict: Bool

    /// The table of `map: table` with `map_default: fallback` and `strict:`; nil when a key is not ASCII or there are
    /// more than ``TextTable/scanLimit`` entries (each text is compared with each key).
    init?(_ table: [String: JSONValue], fallback: JSONValue?, strict: Bool) {
        guard table.count <= TextTable.scanLimit, table.keys.allSatisfy({ $0.utf8.allSatisfy { $0 < 0x80 } }) else {
            return nil
        }
        let entries = table.sorted { $0.key < $1.key }
        keys = entries.map { Array($0.key.utf8) }
        values = entries.map { $0.value.jsonBytes() }
        valuesNullOrEmpty = entries.map { $0.value.isNullOrEmpty }
        self.fallback = fallback?.jsonBytes()
        fallbackNullOrEmpty = fallback?.isNullOrEmpty ?? false
        self.strict = strict
    }

    /// The step's value for the text `text` (nil: null), as ``MapStep/apply(_:_:)`` finds it.
    func outcome(_ text: UnsafeBufferPointer<UInt8>?) -> TextPipeline.Outcome {
        guard let text else { return fallback == nil ? .null : .mapped(-1) }
        // A non-ASCII text may equal an ASCII key under `==` (canonical equivalence).
        guard TextFunctions.isASCII(text) else { return .general }
        let hit: Int? = keys.withUnsafeBufferPointer { keys in
            for k in keys.indices where keys[k].withUnsafeBufferPointer({ $0.elementsEqual(text) }) { return k }
            return nil
        }
        if let hit { return .mapped(hit) }
        if fallback != nil { return .mapped(-1) }
        // A strict map's failure comes from the value path.
        return strict ? .general : .null
    }

    /// Whether the value of entry `k` (-1: the fallback) is null or empty.
    func isNullOrEmpty(_ k: Int) -> Bool { k < 0 ? fallbackNullOrEmpty : valuesNullOrEmpty[k] }

    /// Writes the value of entry `k` (-1: the fallback).
    func write(_ k: Int, into writer: inout JSONWriter) {
        let json = k < 0 ? fallback ?? [] : values[k]
        json.withUnsafeBufferPointer { writer.write(bytes: $0) }
    }
}

/// Byte text steps in order, as a chain: each link calls its own step and the next link (constants of the link, read
/// without a retain; an array of steps retained and released each one it was read for).
final class ByteTextSteps: Sendable {
    let step: any ByteTextStep
    let next: ByteTextSteps?

    /// The chain of `steps`, or nil when there is none.
    init?(_ steps: some BidirectionalCollection<any ByteTextStep>) {
        guard let first = steps.first else { return nil }
        step = first
        next = ByteTextSteps(steps.dropFirst())
    }

    /// The steps' text of `input`: each step writes into the half of the scratch memory, `low` or `high`, that does not
    /// hold its input.
    func text(
        _ input: UnsafeBufferPointer<UInt8>, low: UnsafeMutableBufferPointer<UInt8>,
        high: UnsafeMutableBufferPointer<UInt8>
    ) -> StepText {
        let made = step.text(input, into: TextPipeline.holds(low, input) ? high : low)
        // The next link is called through the optional (a binding of it retained it).
        guard case .text(let t) = made else { return made }
        return next?.text(t, low: low, high: high) ?? made
    }
}

/// What writing a field's value directly did.
enum DirectWrite {
    /// The value is written.
    case written
    /// The field is left out (null or empty, with `omit_null`); nothing is written.
    case absent
    /// Only the value path decides the field; the bytes written are to be dropped.
    case general
}

/// How a field's value is written straight into a laid-out record (see the top of this file).
protocol DirectValue: AnyObject, Sendable {
    /// Writes the value at `cur` into `writer`, with `scratch` (at least 2 × 64 bytes) for the text in between, as the
    /// value of a field that is `required` or left out when null or empty (`omitNull`).
    func write(
        _ ev: Evaluator, _ cur: JSONValue, required: Bool, omitNull: Bool, into writer: inout JSONWriter,
        scratch: UnsafeMutableBufferPointer<UInt8>
    ) -> DirectWrite
}

/// The direct form of `node`, or nil when it has none.
func directValue(_ node: any ValueNode) -> (any DirectValue)? {
    if let constant = node as? ConstNode { return ConstantJSON(constant.constant) }
    if let each = node as? EachNode {
        guard each.filter == nil, let item = each.itemValue, let pipeline = TextPipeline(item) else { return nil }
        return EachText(each, item: pipeline)
    }
    return TextPipeline(node)
}

extension TextPipeline: DirectValue {
    func write(
        _ ev: Evaluator, _ cur: JSONValue, required: Bool, omitNull: Bool, into writer: inout JSONWriter,
        scratch: UnsafeMutableBufferPointer<UInt8>
    ) -> DirectWrite {
        let outcome = evaluate(ev, cur, scratch: scratch)
        if case .general = outcome { return .general }
        if isNullOrEmpty(outcome) {
            // A required field's failure comes from the value path.
            if required { return .general }
            if omitNull { return .absent }
        }
        write(outcome, into: &writer)
        return .written
    }
}

/// `const:`, written as JSON encoded once.
final class ConstantJSON: DirectValue {
    /// The constant's JSON.
    let json: [UInt8]
    /// Whether the constant is null or the empty string.
    let isNullOrEmpty: Bool

    init(_ constant: JSONValue) {
        json = constant.jsonBytes()
        isNullOrEmpty = constant.isNullOrEmpty
    }

    func write(
        _ ev: Evaluator, _ cur: JSONValue, required: Bool, omitNull: Bool, into writer: inout JSONWriter,
        scratch: UnsafeMutableBufferPointer<UInt8>
    ) -> DirectWrite {
        if isNullOrEmpty {
            if required { return .general }
            if omitNull { return .absent }
        }
        write(into: &writer)
        return .written
    }

    /// Writes the constant.
    func write(into writer: inout JSONWriter) {
        json.withUnsafeBufferPointer { writer.write(bytes: $0) }
    }
}

/// `each:` without a filter whose items' values are a text pipeline.
final class EachText: DirectValue {
    let each: EachNode
    /// The byte form of `each`'s ``EachNode/itemValue``.
    let item: TextPipeline

    init(_ each: EachNode, item: TextPipeline) {
        self.each = each
        self.item = item
    }

    func write(
        _ ev: Evaluator, _ cur: JSONValue, required: Bool, omitNull: Bool, into writer: inout JSONWriter,
        scratch: UnsafeMutableBufferPointer<UInt8>
    ) -> DirectWrite {
        // An array is neither null nor empty text: always written.
        each.writeItems(item, ev, cur, into: &writer, scratch: scratch) ? .written : .general
    }
}

extension FieldNode {
    /// Writes the field's value at `cur` by its ``direct`` form (which it must have) into `writer`, with `scratch` (at
    /// least 2 × 64 bytes) for the text in between.
    @inline(__always)
    func writeDirect(
        ev: Evaluator, _ cur: JSONValue, into writer: inout JSONWriter, scratch: UnsafeMutableBufferPointer<UInt8>
    ) -> DirectWrite {
        // Called through the optional (a binding of it retained it).
        direct?.write(ev, cur, required: required, omitNull: omitNull, into: &writer, scratch: scratch) ?? .general
    }
}

extension Unmanaged where Instance == FieldNode {
    /// ``FieldNode/writeDirect(ev:_:into:scratch:)`` of the node, called without retaining it: its owner keeps it
    /// alive.
    @inline(__always)
    func writeDirect(
        ev: Evaluator, _ cur: JSONValue, into writer: inout JSONWriter, scratch: UnsafeMutableBufferPointer<UInt8>
    ) -> DirectWrite {
        _withUnsafeGuaranteedRef { $0.writeDirect(ev: ev, cur, into: &writer, scratch: scratch) }
    }
}

extension EachNode {
    /// Writes the array this node makes at `cur`, each item's value by the byte path of `item` (this node's
    /// ``itemValue``); false when only the value path decides it (the bytes written are then to be dropped).
    func writeItems(
        _ item: TextPipeline, _ ev: Evaluator, _ cur: JSONValue, into writer: inout JSONWriter,
        scratch: UnsafeMutableBufferPointer<UInt8>
    ) -> Bool {
        guard filter == nil else { return false }
        if item.sourceIsCurrent, let rootEntry, let kept = ev.rootItems(rootEntry) {
            return writeItems(item, kept: kept, ev, into: &writer, scratch: scratch)
        }
        let source: JSONValue?
        if let rootEntry, let found = ev.rootMember(rootEntry) {
            source = found
        } else {
            source = path.resolve(from: path.fromRoot || atRoot ? ev.root : cur)
        }
        writer.write(byte: UInt8(ascii: "["))
        guard let source, !source.isNull else {
            writer.write(byte: UInt8(ascii: "]"))
            return true
        }
        guard case .array(let items) = source else { return false }
        let written = items.withUnsafeBufferPointer { items in
            for k in items.indices {
                let outcome = item.evaluate(ev, items[k], scratch: scratch)
                if case .general = outcome { return false }
                if k > 0 { writer.write(byte: UInt8(ascii: ",")) }
                item.write(outcome, into: &writer)
            }
            return true
        }
        guard written else { return false }
        writer.write(byte: UInt8(ascii: "]"))
        return true
    }

    /// ``writeItems(_:_:_:into:scratch:)`` of an array kept as the text ranges `kept` of strings of the message.
    private func writeItems(
        _ item: TextPipeline, kept: UnsafeBufferPointer<Range<Int>>, _ ev: Evaluator, into writer: inout JSONWriter,
        scratch: UnsafeMutableBufferPointer<UInt8>
    ) -> Bool {
        writer.write(byte: UInt8(ascii: "["))
        for k in kept.indices {
            let outcome = item.evaluate(keptText: UnsafeBufferPointer(rebasing: ev.input[kept[k]]), scratch: scratch)
            if case .general = outcome { return false }
            if k > 0 { writer.write(byte: UInt8(ascii: ",")) }
            item.write(outcome, into: &writer)
        }
        writer.write(byte: UInt8(ascii: "]"))
        return true
    }
}
