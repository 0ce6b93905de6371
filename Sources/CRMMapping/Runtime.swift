import CRMModel
import CRMNormalize
import Foundation

extension UnsafeMutableBufferPointer where Element == JSONValue? {
    /// `deinitialize()` with code made for the element type: each value is moved out and released in place of the
    /// runtime's generic destroy of each element through its type's metadata (several times the instructions).
    @inline(__always)
    func deinitializeValues() {
        for k in indices { _ = moveElement(from: k) }
    }
}

/// Internal failure carrying the redacted value and reason; the field path is added by the caller.
struct FieldFailure: Error {
    var reason: String
    var value: String
    var field: String = ""
}

struct Evaluator {
    /// Where the message comes from: a tree, or the members a parse put by name-table entry (``Root/values``).
    enum Root {
        /// The message as a tree.
        case tree(JSONValue)
        /// A message object whose members named in the mapping's member-name table were put in `values`, or for
        /// strings without escapes their text's range in `input` in `texts`: by
        /// ``JSONValue/parse(_:limits:memberNames:rootValues:rootTexts:)`` from a message's bytes, or by
        /// ``CompiledMapping/apply(columns:ends:layout:context:)`` from a row's columns. The whole message is made
        /// as `whole` says into `cache` the first time an expression needs it (all borrowed for one apply).
        case values(
            UnsafeMutableBufferPointer<JSONValue?>, texts: UnsafeBufferPointer<Range<Int>>, lists: TextLists,
            whole: Whole, input: UnsafeBufferPointer<UInt8>, cache: UnsafeMutablePointer<JSONValue?>)
    }

    /// How the whole message of ``Root/values`` is made when an expression needs it (``root``).
    enum Whole {
        /// Parsed again from its bytes, with these limits (they passed the same checks when their members were read).
        case json([UInt8], JSONLimits)
        /// Made from a row's columns: their texts are in the input, column `k` ending at `ends[k]`.
        case columns(CompiledMapping.ColumnLayout, ends: [Int])
    }

    /// Root arrays of strings kept as byte ranges by the parse (see ``JSONTextLists``): by name-table entry, the range
    /// of their items in `items` (``JSONValue/noRootText``: not kept); each item the range of its text in the message.
    struct TextLists {
        var lists: UnsafeBufferPointer<Range<Int>>
        var items: UnsafeBufferPointer<Range<Int>>

        /// No lists.
        static var none: TextLists {
            TextLists(
                lists: UnsafeBufferPointer(start: nil, count: 0), items: UnsafeBufferPointer(start: nil, count: 0))
        }
    }

    let source: Root
    let lookup: (any MappingLookup)?
    /// The root object's members, and their positions by entry of the mapping's member-name table (see
    /// ``JSONValue/parse(_:limits:memberNames:rootMembers:)``, borrowed for one ``CompiledMapping/apply(_:context:)``);
    /// both empty when the input has no such index.
    let rootMembers: [(String, JSONValue)]
    let rootIndex: UnsafeBufferPointer<Int>
    /// The root object's members by entry of the mapping's member-name table, when the message was parsed that way
    /// (see ``Root/values``); empty otherwise. A string kept as bytes (``rootTexts``) is made here when it is first
    /// read as a value (``rootMember(_:)``).
    let rootValues: UnsafeMutableBufferPointer<JSONValue?>
    /// The ranges in ``input`` of the root object's strings without escapes, by entry of the member-name table
    /// (``JSONValue/noRootText`` for the other members); empty when the message was not parsed that way.
    let rootTexts: UnsafeBufferPointer<Range<Int>>
    /// The message's bytes, when it was parsed member by member (see ``Root/values``).
    let input: UnsafeBufferPointer<UInt8>
    /// The root arrays of strings the parse kept as byte ranges (see ``rootItems(_:)``).
    let textLists: TextLists
    /// The values of the expressions computed once per message (``MemoNode``), by slot; borrowed for one apply.
    let made: UnsafeMutableBufferPointer<JSONValue?>

    init(
        root: JSONValue, lookup: (any MappingLookup)?,
        rootIndex: UnsafeBufferPointer<Int> = UnsafeBufferPointer(start: nil, count: 0),
        made: UnsafeMutableBufferPointer<JSONValue?> = UnsafeMutableBufferPointer(start: nil, count: 0)
    ) {
        source = .tree(root)
        self.lookup = lookup
        self.rootIndex = rootIndex
        rootMembers = rootIndex.isEmpty ? [] : root.objectMembers ?? []
        rootValues = UnsafeMutableBufferPointer(start: nil, count: 0)
        rootTexts = UnsafeBufferPointer(start: nil, count: 0)
        input = UnsafeBufferPointer(start: nil, count: 0)
        textLists = .none
        self.made = made
    }

    /// An evaluator of the message object whose members are `source`'s ``Root/values``.
    init(values source: Root, lookup: (any MappingLookup)?, made: UnsafeMutableBufferPointer<JSONValue?>) {
        self.source = source
        self.lookup = lookup
        rootIndex = UnsafeBufferPointer(start: nil, count: 0)
        rootMembers = []
        if case .values(let values, let texts, let lists, _, let input, _) = source {
            rootValues = values
            rootTexts = texts
            textLists = lists
            self.input = input
        } else {
            rootValues = UnsafeMutableBufferPointer(start: nil, count: 0)
            rootTexts = UnsafeBufferPointer(start: nil, count: 0)
            textLists = .none
            input = UnsafeBufferPointer(start: nil, count: 0)
        }
        self.made = made
    }

    /// The message.
    var root: JSONValue {
        switch source {
        case .tree(let value): return value
        case .values(_, _, _, let whole, let input, let cache):
            if let value = cache.pointee { return value }
            let value: JSONValue
            switch whole {
            case .json(let bytes, let limits):
                do { value = try JSONValue.parse(bytes, limits: limits) } catch {
                    preconditionFailure("a message that parsed does not parse again: \(error)")
                }
            case .columns(let layout, let ends):
                value = layout.object.value(text: input, ends: ends)
            }
            cache.pointee = value
            return value
        }
    }

    /// The root object's last member named by table entry `entry`: `.some(nil)` when it has none; nil when the input
    /// has no root index.
    @inline(__always)
    func rootMember(_ entry: Int) -> JSONValue?? {
        if entry < rootValues.count {
            if let value = rootValues[entry] { return .some(value) }
            return .some(rootString(entry))
        }
        guard entry < rootIndex.count else { return nil }
        let k = rootIndex[entry]
        return k < 0 ? .some(nil) : .some(rootMember(at: k))
    }

    /// The root member at position `k` of ``rootMembers``.
    @inline(__always)
    private func rootMember(at k: Int) -> JSONValue { rootMembers[k].1 }

    /// The string of table entry `entry` that the parse kept as bytes (``rootTexts``), made and put in ``rootValues``
    /// the first time it is read; nil when the root object has no such member.
    @inline(never)
    func rootString(_ entry: Int) -> JSONValue? {
        let value: JSONValue
        if let text = rootText(entry) {
            value = .string(String(validUTF8: text))
        } else if let items = rootItems(entry) {
            value = .array(items.map { .string(String(validUTF8: UnsafeBufferPointer(rebasing: input[$0]))) })
        } else {
            return nil
        }
        rootValues[entry] = value
        return value
    }

    /// The text ranges in ``input`` of the items of the root object's array of table entry `entry`, when the parse
    /// kept them (an array of strings without escapes, see ``textLists``); nil otherwise.
    @inline(__always)
    func rootItems(_ entry: Int) -> UnsafeBufferPointer<Range<Int>>? {
        guard entry < textLists.lists.count else { return nil }
        let range = textLists.lists[entry]
        return range.lowerBound >= 0 ? UnsafeBufferPointer(rebasing: textLists.items[range]) : nil
    }

    /// The UTF-8 bytes of the root object's string of table entry `entry`, when the parse kept them (a string
    /// without escapes, see ``rootTexts``); nil otherwise.
    @inline(__always)
    func rootText(_ entry: Int) -> UnsafeBufferPointer<UInt8>? {
        guard entry < rootTexts.count else { return nil }
        let range = rootTexts[entry]
        return range.lowerBound >= 0 ? UnsafeBufferPointer(rebasing: input[range]) : nil
    }

    /// The object made of `fields` evaluated at `cur`: null or empty values are left out (or rejected when
    /// required), dotted names nest.
    func object(_ fields: [FieldNode], _ cur: JSONValue) throws(FieldFailure) -> JSONValue {
        var members: [(String, JSONValue)] = []
        members.reserveCapacity(fields.count)
        for f in fields {
            guard let v = try f.member(ev: self, cur) else { continue }
            if f.parts.count == 1 {
                members.append((f.name, v))
            } else {
                Evaluator.set(&members, f.parts[...], v, capacity: f.nestedCapacity)
            }
        }
        return .object(members)
    }

    /// Sets `v` at a dotted path inside `members`, creating (with room for `capacity` members) or extending
    /// intermediate objects.
    static func set(_ members: inout [(String, JSONValue)], _ parts: ArraySlice<String>, _ v: JSONValue, capacity: Int)
    {
        let head = parts.first!
        if parts.count == 1 {
            members.append((head, v))
            return
        }
        let n = head.utf8.count
        var i = members.count - 1
        while i >= 0 && !(members[i].0.utf8.count == n && members[i].0 == head) { i -= 1 }
        if i >= 0, case .object(var inner) = members[i].1 {
            members[i].1 = .null
            set(&inner, parts.dropFirst(), v, capacity: capacity)
            members[i].1 = .object(inner)
        } else {
            var inner: [(String, JSONValue)] = []
            inner.reserveCapacity(capacity)
            set(&inner, parts.dropFirst(), v, capacity: capacity)
            members.append((head, .object(inner)))
        }
    }

    /// The text `f` works on: a string as it is, a number or boolean in its JSON form; anything else fails.
    @inline(__always)
    func text(_ f: Fn, _ v: JSONValue) throws(FieldFailure) -> String {
        if case .string(let s) = v { return s }
        return try otherText(f, v)
    }

    /// ``text(_:_:)`` of a value that is not a string.
    @inline(never)
    func otherText(_ f: Fn, _ v: JSONValue) throws(FieldFailure) -> String {
        if let s = v.scalarText { return s }
        throw FieldFailure(reason: "\(f.name) expects text, found \(v.typeName)", value: redact(v))
    }

    func call(_ f: Fn, _ v: JSONValue) throws(FieldFailure) -> JSONValue {
        switch f {
        case .trim: return .string(TextFunctions.trimmed(try text(f, v)))
        case .lower: return .string(TextFunctions.lowercased(try text(f, v)))
        case .upper: return .string(TextFunctions.uppercased(try text(f, v)))
        case .name: return .string(PersonName.display(try text(f, v)))
        case .email: return try email(v)
        case .phone(let region): return try phone(v, region: region, home: PhoneNumber.region(iso: region))
        case .split(let sep):
            return .array(try text(f, v).components(separatedBy: sep).map { .string($0) })
        case .join(let sep):
            guard case .array(let items) = v else {
                throw FieldFailure(reason: "join expects an array, found \(v.typeName)", value: redact(v))
            }
            return .string(items.compactMap(\.scalarText).joined(separator: sep))
        case .replace(let a, let b): return .string(try text(f, v).replacingOccurrences(of: a, with: b))
        case .regexExtract(let box): return try regex(v, box)
        case .string: return Evaluator.string(v)
        case .int:
            let t = String(try text(f, v).trimmingWhitespace())
            if let i = Int(t) { return .number(String(i)) }
            if let d = Double(t), d.isFinite, d.rounded() == d, abs(d) < 9e15 { return .number(String(Int(d))) }
            throw FieldFailure(reason: "not a whole number", value: redact(v))
        case .number:
            let t = String(try text(f, v).trimmingWhitespace())
            if Double(t)?.isFinite == true, (try? JSONValue.parse(t)) != nil { return .number(t) }
            throw FieldFailure(reason: "not a number", value: redact(v))
        case .decimal(let scale): return try decimal(v, scale: scale)
        case .minorUnits(let exp):
            let t = try text(f, v)
            guard let d = FixedDecimal(fixed: t), d.fraction.isEmpty else {
                throw FieldFailure(reason: "minor units must be a whole number", value: redact(v))
            }
            return .string(d.shifted(by: -exp))
        case .date(let spec): return try date(v, spec)
        case .prefix(let p): return try prefix(p, v)
        case .suffix(let p): return .string((try text(f, v)) + p)
        case .list: return Evaluator.list(v)
        case .compact:
            guard case .array(let items) = v else { return v }
            return .array(items.filter { !$0.isNull && $0.stringValue?.isEmpty != true })
        case .firstItem:
            guard case .array(let a) = v else { return v }
            return a.first ?? .null
        case .lastItem:
            guard case .array(let a) = v else { return v }
            return a.last ?? .null
        case .length:
            switch v {
            case .array(let a): return .number(String(a.count))
            case .string(let s): return .number(String(s.count))
            case .object(let o): return .number(String(o.count))
            default:
                throw FieldFailure(
                    reason: "length expects text, array or object, found \(v.typeName)", value: redact(v))
            }
        case .nonEmpty:
            if let s = v.stringValue, TextFunctions.isBlank(s) { return .null }
            if case .array(let a) = v, a.isEmpty { return .null }
            return v
        case .bool: return try bool(v)
        case .abs, .negate:
            let t = try text(f, v)
            guard var d = FixedDecimal(fixed: t) else {
                throw FieldFailure(reason: "not a decimal number", value: redact(v))
            }
            if case .abs = f { d.negative = false } else { d.negative.toggle() }
            return .string(d.text)
        }
    }

    // The functions with steps of their own (see ``Lowering/functionStep(_:)``); their callers have passed null by.

    /// `fn: email`.
    func email(_ v: JSONValue) throws(FieldFailure) -> JSONValue {
        let t = try text(.email, v)
        do { return .string(try EmailAddress.normalize(t)) } catch {
            throw FieldFailure(reason: error.reason, value: redact(v))
        }
    }

    /// `fn: {phone: region}`; `home` is `PhoneNumber.region(iso: region)`.
    func phone(_ v: JSONValue, region: String, home: PhoneNumber.Region?) throws(FieldFailure) -> JSONValue {
        let t = try text(.phone(region: region), v)
        do { return .string(try PhoneNumber.e164(t, defaultRegion: region, home: home)) } catch {
            throw FieldFailure(reason: error.reason, value: redact(v))
        }
    }

    /// `fn: {regex: pattern}`.
    func regex(_ v: JSONValue, _ box: RegexBox) throws(FieldFailure) -> JSONValue {
        box.extract(try text(.regexExtract(box), v)).map(JSONValue.string) ?? .null
    }

    /// `fn: {decimal: scale}`.
    func decimal(_ v: JSONValue, scale: Int) throws(FieldFailure) -> JSONValue {
        let raw = try text(.decimal(scale: scale), v)
        // Plain ASCII decimals: read and rounded on the bytes (the same text or the same failure as below).
        if let fast = FixedDecimal.roundedASCII(raw, scale: scale) {
            guard let fast else { throw FieldFailure(reason: "not a decimal number", value: redact(v)) }
            return .string(fast)
        }
        var t = TextFunctions.trimmed(raw)
        if TextFunctions.withBytes(t, { $0.contains(UInt8(ascii: ",")) }) {
            t = t.replacingOccurrences(of: ",", with: ".")
        }
        guard let d = FixedDecimal(fixed: t) else {
            throw FieldFailure(reason: "not a decimal number", value: redact(v))
        }
        return .string(d.rounded(scale: scale))
    }

    /// `fn: {date: ...}`.
    func date(_ v: JSONValue, _ spec: DateSpec) throws(FieldFailure) -> JSONValue {
        let t = try text(.date(spec), v)
        guard let out = spec.convert(t) else {
            throw FieldFailure(reason: "not a valid date/time for the expected format", value: redact(v))
        }
        return .string(out)
    }

    /// `fn: string`.
    static func string(_ v: JSONValue) -> JSONValue {
        if case .string = v { return v }
        if let s = v.scalarText { return .string(s) }
        return .string(v.jsonText)
    }

    /// `fn: {prefix: p}`.
    func prefix(_ p: String, _ v: JSONValue) throws(FieldFailure) -> JSONValue {
        .string(p + (try text(.prefix(p), v)))
    }

    /// `fn: list`.
    static func list(_ v: JSONValue) -> JSONValue {
        if case .array = v { return v }
        return .array([v])
    }

    /// `fn: bool`.
    func bool(_ v: JSONValue) throws(FieldFailure) -> JSONValue {
        switch v {
        case .bool: return v
        case .number(let n): return .bool(Double(n) != 0)
        case .string(let s):
            switch s.lowercased() {
            case "true", "yes", "y", "1", "on", "opt-in", "checked": return .bool(true)
            case "false", "no", "n", "0", "off", "", "opt-out": return .bool(false)
            default: throw FieldFailure(reason: "not a boolean", value: redact(v))
            }
        default: throw FieldFailure(reason: "bool expects a scalar, found \(v.typeName)", value: redact(v))
        }
    }
}

/// A fixed-point decimal held as digit strings (no binary floating point): sign, integer and fraction digits.
struct FixedDecimal {
    var negative: Bool
    var integer: String
    var fraction: String

    init?(fixed raw: String) {
        let fast: FixedDecimal?? = TextFunctions.withBytes(raw) { FixedDecimal.parseASCII($0) }
        if let fast {
            guard let fast else { return nil }
            self = fast
            return
        }
        self.init(general: raw)
    }

    init(negative: Bool, integer: String, fraction: String) {
        self.negative = negative
        self.integer = integer
        self.fraction = fraction
    }

    /// The byte-level reading of plain ASCII decimals such as `" -0012.50 "`: `.some(nil)` when the text is not a
    /// decimal, nil when it needs ``init(general:)`` (non-ASCII text, exponents).
    static func parseASCII(_ b: UnsafeBufferPointer<UInt8>) -> FixedDecimal?? {
        guard let reading = readASCII(b, commaIsPoint: false) else { return nil }
        guard let (negative, integer, fraction) = reading else { return .some(nil) }
        return .some(
            FixedDecimal(
                negative: negative,
                integer: integer.isEmpty ? "0" : String(validUTF8: UnsafeBufferPointer(rebasing: b[integer])),
                fraction: String(validUTF8: UnsafeBufferPointer(rebasing: b[fraction]))))
    }

    /// ``parseASCII(_:)``'s reading as byte ranges of `b`: the sign, the integer digits without leading zeros (empty
    /// for zero) and the fraction digits; `.some(nil)` when the text is not a decimal, nil when it needs
    /// ``init(general:)``. With `commaIsPoint`, a comma is read as a decimal point (the text with every comma made a
    /// point, read).
    @inline(__always)
    static func readASCII(
        _ b: UnsafeBufferPointer<UInt8>, commaIsPoint: Bool
    ) -> (negative: Bool, integer: Range<Int>, fraction: Range<Int>)?? {
        var lo = 0
        var hi = b.count
        while lo < hi && TextFunctions.isASCIISpace(b[lo]) { lo += 1 }
        while hi > lo && TextFunctions.isASCIISpace(b[hi - 1]) { hi -= 1 }
        var negative = false
        if lo < hi && b[lo] == UInt8(ascii: "-") {
            negative = true
            lo += 1
        } else if lo < hi && b[lo] == UInt8(ascii: "+") {
            lo += 1
        }
        var dot = -1
        var invalid = false
        for i in lo..<hi {
            let c = b[i]
            if c >= 48 && c <= 57 { continue }
            // Exponents anywhere send the whole text to Double, like init(general:).
            if c >= 0x80 || c == UInt8(ascii: "e") || c == UInt8(ascii: "E") { return nil }
            if (c == UInt8(ascii: ".") || (commaIsPoint && c == UInt8(ascii: ","))) && dot < 0 {
                dot = i
                continue
            }
            invalid = true
        }
        if invalid { return .some(nil) }
        let intEnd = dot < 0 ? hi : dot
        let fracStart = dot < 0 ? hi : dot + 1
        if intEnd == lo && fracStart == hi { return .some(nil) }
        if hi - lo > 40 { return .some(nil) }
        var intStart = lo
        while intStart < intEnd && b[intStart] == 48 { intStart += 1 }
        return .some((negative, intStart..<intEnd, fracStart..<hi))
    }

    /// `FixedDecimal(fixed:)` of `text` with every comma made a point, rounded to `scale` digits (``rounded(scale:)``),
    /// for plain ASCII text, read on its bytes with no strings in between: `.some(nil)` when it is not a decimal, nil
    /// when the text needs the string path (non-ASCII text, exponents).
    static func roundedASCII(_ text: String, scale: Int) -> String?? {
        TextFunctions.withBytes(text) { b -> String?? in
            guard let reading = roundingReading(b) else { return nil }
            guard let (negative, integer, fraction) = reading else { return .some(nil) }
            return .some(rounded(negative, integer, fraction, scale: scale))
        }
    }

    /// ``roundedASCII(_:scale:)`` of the UTF-8 text `b`, written into `out`: the number of bytes written;
    /// `.some(nil)` when it is not a decimal; nil when the text needs the string path or the digits do not fit.
    static func roundedASCII(
        _ b: UnsafeBufferPointer<UInt8>, scale: Int, into out: UnsafeMutableBufferPointer<UInt8>
    ) -> Int?? {
        guard let reading = roundingReading(b) else { return nil }
        guard let (negative, integer, fraction) = reading else { return .some(nil) }
        guard let start = out.baseAddress, roundedLength(integer, scale: scale) <= out.count else { return nil }
        return .some(rounded(negative, integer, fraction, scale: scale, into: start))
    }

    /// ``readASCII(_:commaIsPoint:)`` of `b` with commas read as points, as digit buffers: the integer digits
    /// (`"0"` for none) and the fraction digits.
    @inline(__always)
    static func roundingReading(
        _ b: UnsafeBufferPointer<UInt8>
    ) -> (negative: Bool, integer: UnsafeBufferPointer<UInt8>, fraction: UnsafeBufferPointer<UInt8>)?? {
        // Leading and trailing ASCII whitespace is what `TextFunctions.trimmed` removes from ASCII text.
        guard let reading = readASCII(b, commaIsPoint: true) else { return nil }
        guard let (negative, integer, fraction) = reading else { return .some(nil) }
        let fractionDigits = UnsafeBufferPointer(rebasing: b[fraction])
        guard !integer.isEmpty else {
            let zero: StaticString = "0"
            return .some((negative, UnsafeBufferPointer(start: zero.utf8Start, count: 1), fractionDigits))
        }
        return .some((negative, UnsafeBufferPointer(rebasing: b[integer]), fractionDigits))
    }

    /// The Character-level reading (any whitespace, exponents).
    init?(general raw: String) {
        var s = raw.trimmingWhitespace()
        negative = false
        if s.first == "-" {
            negative = true
            s = s.dropFirst()
        } else if s.first == "+" {
            s = s.dropFirst()
        }
        if s.contains("e") || s.contains("E") {
            guard let d = Double(raw), d.isFinite, abs(d) < 1e15 else { return nil }
            let t = String(format: "%.6f", abs(d))
            s = Substring(t)
        }
        let parts = s.split(separator: ".", omittingEmptySubsequences: false)
        guard (1...2).contains(parts.count), parts.allSatisfy({ $0.allSatisfy { $0.isASCII && $0.isNumber } }),
            !(parts[0].isEmpty && (parts.count == 1 || parts[1].isEmpty)), s.count <= 40
        else { return nil }
        integer = parts[0].isEmpty ? "0" : String(parts[0].drop(while: { $0 == "0" }))
        if integer.isEmpty { integer = "0" }
        fraction = parts.count == 2 ? String(parts[1]) : ""
    }

    var text: String {
        let zero = integer == "0" && fraction.allSatisfy { $0 == "0" }
        return (negative && !zero ? "-" : "") + integer + (fraction.isEmpty ? "" : "." + fraction)
    }

    /// Rounds half away from zero to `scale` fraction digits and renders with exactly that many digits.
    func rounded(scale: Int) -> String {
        TextFunctions.withBytes(integer) { i in
            TextFunctions.withBytes(fraction) { f in FixedDecimal.rounded(negative, i, f, scale: scale) }
        }
    }

    /// ``rounded(scale:)`` on the digit bytes.
    static func rounded(
        _ negative: Bool, _ integer: UnsafeBufferPointer<UInt8>, _ fraction: UnsafeBufferPointer<UInt8>, scale: Int
    ) -> String {
        String(unsafeUninitializedCapacity: roundedLength(integer, scale: scale)) { out in
            rounded(negative, integer, fraction, scale: scale, into: out.baseAddress!)
        }
    }

    /// The most bytes ``rounded(_:_:_:scale:into:)`` writes for these integer digits: a sign, one more digit for a
    /// carry, a point and `scale` digits.
    @inline(__always)
    static func roundedLength(_ integer: UnsafeBufferPointer<UInt8>, scale: Int) -> Int { integer.count + scale + 3 }

    /// ``rounded(_:_:_:scale:)`` written into `out` (room for ``roundedLength(_:scale:)`` bytes): the number of bytes
    /// written.
    static func rounded(
        _ negative: Bool, _ integer: UnsafeBufferPointer<UInt8>, _ fraction: UnsafeBufferPointer<UInt8>, scale: Int,
        into out: UnsafeMutablePointer<UInt8>
    ) -> Int {
        let total = integer.count + max(fraction.count, scale)
        return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: total + 1) { buf in
            // buf[0] takes a carry out of the leading digit; digits start at 1.
            buf[0] = 48
            for k in 0..<integer.count { buf[1 + k] = integer[k] }
            for k in 0..<(total - integer.count) { buf[1 + integer.count + k] = k < fraction.count ? fraction[k] : 48 }
            let keep = integer.count + scale
            if total > keep && buf[1 + keep] >= UInt8(ascii: "5") {
                var i = keep
                while true {
                    if buf[i] == UInt8(ascii: "9") {
                        buf[i] = 48
                        i -= 1
                    } else {
                        buf[i] += 1
                        break
                    }
                }
            }
            // Integer digits are buf[0..<(1 + integer.count)] without leading zeros; fraction digits follow.
            let intEnd = 1 + integer.count
            var start = 0
            while start < intEnd - 1 && buf[start] == 48 { start += 1 }
            let isZero = start == intEnd - 1 && buf[start] == 48 && (0..<scale).allSatisfy { buf[intEnd + $0] == 48 }
            let sign = negative && !isZero
            var n = 0
            if sign {
                out[n] = UInt8(ascii: "-")
                n += 1
            }
            for k in start..<intEnd {
                out[n] = buf[k]
                n += 1
            }
            if scale > 0 {
                out[n] = UInt8(ascii: ".")
                n += 1
                for k in 0..<scale {
                    out[n] = buf[intEnd + k]
                    n += 1
                }
            }
            return n
        }
    }

    /// The original string-based rounding, kept as the reference for tests.
    func roundedReference(scale: Int) -> String {
        var digits = Array(
            (integer + fraction.padding(toLength: max(fraction.count, scale), withPad: "0", startingAt: 0)).utf8)
        let intCount = integer.count
        let keep = intCount + scale
        let roundUp = digits.count > keep && digits[keep] >= UInt8(ascii: "5")
        digits = Array(digits.prefix(keep))
        if roundUp {
            var i = digits.count - 1
            while i >= 0 {
                if digits[i] == UInt8(ascii: "9") {
                    digits[i] = UInt8(ascii: "0")
                    i -= 1
                } else {
                    digits[i] += 1
                    break
                }
            }
            if i < 0 { digits.insert(UInt8(ascii: "1"), at: 0) }
        }
        let split = digits.count - scale
        var intPart = String(decoding: digits[..<split], as: UTF8.self).drop(while: { $0 == "0" })
        if intPart.isEmpty { intPart = "0" }
        var d = self
        d.integer = String(intPart)
        d.fraction = String(decoding: digits[split...], as: UTF8.self)
        return d.text
    }

    /// Moves the decimal point: `shifted(by: -2)` turns 1250 into 12.50.
    func shifted(by n: Int) -> String {
        guard n < 0 else { return text }
        let k = -n
        var i = integer
        if i.count <= k { i = String(repeating: "0", count: k - i.count + 1) + i }
        let cut = i.index(i.endIndex, offsetBy: -k)
        var d = self
        d.integer = String(i[..<cut].drop(while: { $0 == "0" }))
        if d.integer.isEmpty { d.integer = "0" }
        d.fraction = String(i[cut...])
        return d.text
    }
}
