/// Why a JSON document was rejected; `offset` is the byte offset into the input.
public struct JSONError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The kinds of JSON failure.
    public enum Kind: String, Sendable { case syntax, invalidUTF8, tooDeep, tooLarge }
    public var kind: Kind
    public var offset: Int
    public var message: String
    public init(_ kind: Kind, at offset: Int, _ message: String) {
        self.kind = kind
        self.offset = offset
        self.message = message
    }
    public var description: String { "JSON \(kind.rawValue) at byte \(offset): \(message)" }
}

/// Limits applied while parsing untrusted JSON.
public struct JSONLimits: Sendable {
    /// Maximum nesting of arrays and objects.
    public var maxDepth: Int
    /// Maximum document size in bytes.
    public var maxBytes: Int
    public init(maxDepth: Int = 64, maxBytes: Int = 4 << 20) {
        self.maxDepth = maxDepth
        self.maxBytes = maxBytes
    }
    public static let `default` = JSONLimits()
}

/// Member names a reader of many documents expects (a compiled mapping's paths), made into strings once.
///
/// Given to ``JSONValue/parse(_:limits:memberNames:)``, it lets the parser name an object member with the string made
/// here when the member's name has exactly the same bytes, instead of creating (and validating) a new string for every
/// member of every document. The parsed value is the same either way.
public struct JSONMemberNames: Sendable {
    /// A name of 1–16 bytes as two little-endian words: `head` holds the first `min(count, 8)` bytes (zero above),
    /// `tail` the last 8 bytes when the name is longer than 8 (else 0).
    struct Entry: Sendable {
        var head: UInt64
        var tail: UInt64
        var name: String
    }
    /// Names by UTF-8 length: `entries[starts[n]..<starts[n + 1]]` have `n` bytes.
    let entries: [Entry]
    let starts: [Int]

    /// The table of `names`; names longer than 16 bytes (which the parser then creates as usual), the empty name and
    /// duplicates are left out.
    public init(_ names: some Sequence<String>) {
        let kept = Set(names).filter { (1...16).contains($0.utf8.count) }.sorted {
            ($0.utf8.count, $0) < ($1.utf8.count, $1)
        }
        var entries: [Entry] = []
        var starts = [Int](repeating: 0, count: 18)
        for name in kept {
            let b = Array(name.utf8)
            let head = JSONMemberNames.word(b, 0, min(b.count, 8))
            let tail = b.count > 8 ? JSONMemberNames.word(b, b.count - 8, 8) : 0
            entries.append(Entry(head: head, tail: tail, name: name))
        }
        for n in 0...17 { starts[n] = entries.firstIndex { $0.name.utf8.count >= n } ?? entries.count }
        self.entries = entries
        self.starts = starts
    }

    /// How many names the table has: the length of a root-member index (see
    /// ``JSONValue/parse(_:limits:memberNames:rootMembers:)``).
    public var count: Int { entries.count }

    /// The position of `name` in the table (`0..<count`), or nil when the table does not have it.
    public func index(of name: String) -> Int? { entries.firstIndex { $0.name == name } }

    /// The position of the name whose bytes are `buf[start..<end]` in the table `entries`/`starts` (the arrays of a
    /// ``JSONMemberNames``, borrowed for one parse), or nil.
    @inline(__always)
    static func entry(
        _ buf: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int, entries: UnsafeBufferPointer<Entry>,
        starts: UnsafeBufferPointer<Int>
    ) -> Int? {
        let n = end - start
        guard n >= 1 && n <= 16, starts[n] < starts[n + 1], let base = UnsafeRawPointer(buf.baseAddress) else {
            return nil
        }
        // The first min(n, 8) bytes as a word: one load when eight bytes are readable, else byte by byte.
        let headCount = min(n, 8)
        var head: UInt64
        if start + 8 <= buf.count {
            head = UInt64(littleEndian: base.loadUnaligned(fromByteOffset: start, as: UInt64.self))
            if headCount < 8 { head &= (1 << (8 * UInt64(headCount))) - 1 }
        } else {
            head = 0
            for k in 0..<headCount { head |= UInt64(buf[start + k]) << (8 * UInt64(k)) }
        }
        // Names longer than 8 bytes: their last eight bytes (inside the name, so always readable).
        let tail = n > 8 ? UInt64(littleEndian: base.loadUnaligned(fromByteOffset: end - 8, as: UInt64.self)) : 0
        for k in starts[n]..<starts[n + 1] where entries[k].head == head && entries[k].tail == tail {
            return k
        }
        return nil
    }

    /// The position of the name of `n` bytes (1...16) whose first `min(n, 8)` bytes are `head` (zero above) and, when
    /// longer than 8, whose last eight bytes are `tail` (else 0), in the table `entries`/`starts`; nil when it has none.
    @inline(__always)
    static func entry(
        count n: Int, head: UInt64, tail: UInt64, entries: UnsafeBufferPointer<Entry>, starts: UnsafeBufferPointer<Int>
    ) -> Int? {
        for k in starts[n]..<starts[n + 1] where entries[k].head == head && entries[k].tail == tail {
            return k
        }
        return nil
    }

    /// `count` bytes of `b` from `from` as a little-endian word.
    private static func word(_ b: [UInt8], _ from: Int, _ count: Int) -> UInt64 {
        var w: UInt64 = 0
        for k in 0..<count { w |= UInt64(b[from + k]) << (8 * UInt64(k)) }
        return w
    }
}

/// Members of root objects' members that a reader wants by name rather than as whole objects (a compiled mapping
/// whose only reads of `address` are paths such as `address.city`): the parse puts each in a slot of its own, as it
/// puts root members (see ``JSONValue/parse(_:limits:memberNames:rootValues:rootTexts:nested:)``), and builds no
/// object for them.
public struct JSONNestedMembers: Sendable {
    /// One nested member with a slot.
    struct Member: Sendable {
        /// The member's name, as an entry of the name table.
        let entry: Int
        /// Where its value goes: `rootValues[slot]` (and `rootTexts[slot]`).
        let slot: Int
    }
    /// By entry of the name table: the members of the root member of that name that have slots,
    /// `members[ranges[entry]]` (empty: the root member is read whole).
    let ranges: [Range<Int>]
    let members: [Member]

    /// How many slots there are.
    public var count: Int { members.count }

    /// No nested members: every root member is read whole.
    public init() {
        ranges = []
        members = []
    }

    /// The nested members `slots` for a table of `nameCount` names: `slots[k]` is the root member's name entry and
    /// the nested member's name entry of slot `nameCount + k`. A root member named in `slots` is not read whole.
    public init(nameCount: Int, slots: [(root: Int, member: Int)]) {
        var ranges = [Range<Int>](repeating: 0..<0, count: slots.isEmpty ? 0 : nameCount)
        var members: [Member] = []
        for root in Set(slots.map(\.root)).sorted() {
            let start = members.count
            for (k, slot) in slots.enumerated() where slot.root == root {
                members.append(Member(entry: slot.member, slot: nameCount + k))
            }
            ranges[root] = start..<members.count
        }
        self.ranges = ranges
        self.members = members
    }
}

/// Root members whose arrays of strings a reader wants as byte ranges rather than as values (a compiled mapping's
/// `each:` whose items are text): see ``JSONValue/parse(_:limits:memberNames:rootValues:rootTexts:nested:textLists:rootLists:listItems:)``.
public struct JSONTextLists: Sendable {
    /// By entry of the name table: whether the root member's array is wanted as ranges (empty: none is).
    let wanted: [Bool]

    /// No lists wanted.
    public init() { wanted = [] }

    /// The root members of name-table entries `entries`, for a table of `nameCount` names.
    public init(nameCount: Int, entries: some Sequence<Int>) {
        var wanted = [Bool](repeating: false, count: nameCount)
        for entry in entries { wanted[entry] = true }
        self.wanted = wanted.contains(true) ? wanted : []
    }
}

extension JSONValue {
    /// Parses one JSON document (RFC 8259) from UTF-8 bytes, validating UTF-8 and applying `limits`.
    public static func parse(_ bytes: [UInt8], limits: JSONLimits = .default) throws(JSONError) -> JSONValue {
        try parse(bytes, limits: limits, memberNames: nil)
    }

    /// ``parse(_:limits:)`` that names object members from `memberNames` where it has the name (the same value,
    /// fewer string allocations: for readers that parse many documents of one shape).
    public static func parse(
        _ bytes: [UInt8], limits: JSONLimits = .default, memberNames: JSONMemberNames?
    ) throws(JSONError) -> JSONValue {
        if bytes.count > limits.maxBytes {
            throw JSONError(
                .tooLarge, at: 0, "document of \(bytes.count) bytes exceeds the limit of \(limits.maxBytes)")
        }
        guard let memberNames else {
            let none = UnsafeBufferPointer<JSONMemberNames.Entry>(start: nil, count: 0)
            return try parse(
                bytes, limits: limits, names: none, starts: UnsafeBufferPointer(start: nil, count: 0),
                rootMembers: UnsafeMutableBufferPointer(start: nil, count: 0))
        }
        return try memberNames.entries.withUnsafeBufferPointer { entries throws(JSONError) in
            try memberNames.starts.withUnsafeBufferPointer { starts throws(JSONError) in
                try parse(
                    bytes, limits: limits, names: entries, starts: starts,
                    rootMembers: UnsafeMutableBufferPointer(start: nil, count: 0))
            }
        }
    }

    /// ``parse(_:limits:memberNames:)`` that also indexes the root object's members by name, so a reader need not
    /// search for them: `rootMembers[memberNames.index(of: name)!]` is the position, among the root object's members,
    /// of its last member called `name`; -1 when it has none or the document is not an object. `rootMembers` is made
    /// `memberNames.count` long.
    public static func parse(
        _ bytes: [UInt8], limits: JSONLimits = .default, memberNames: JSONMemberNames, rootMembers: inout [Int]
    ) throws(JSONError) -> JSONValue {
        rootMembers = [Int](repeating: -1, count: memberNames.count)
        return try rootMembers.withUnsafeMutableBufferPointer { index throws(JSONError) in
            try parse(bytes, limits: limits, memberNames: memberNames, rootMembers: index)
        }
    }

    /// ``parse(_:limits:memberNames:rootMembers:)`` into memory the caller provides (a reader that parses many
    /// documents: no array per document). `rootMembers` must have `memberNames.count` elements; all are set.
    public static func parse(
        _ bytes: [UInt8], limits: JSONLimits = .default, memberNames: JSONMemberNames,
        rootMembers: UnsafeMutableBufferPointer<Int>
    ) throws(JSONError) -> JSONValue {
        precondition(rootMembers.count == memberNames.count, "the root-member index needs one place per name")
        if bytes.count > limits.maxBytes {
            throw JSONError(
                .tooLarge, at: 0, "document of \(bytes.count) bytes exceeds the limit of \(limits.maxBytes)")
        }
        rootMembers.update(repeating: -1)
        return try memberNames.entries.withUnsafeBufferPointer { entries throws(JSONError) in
            try memberNames.starts.withUnsafeBufferPointer { starts throws(JSONError) in
                try parse(bytes, limits: limits, names: entries, starts: starts, rootMembers: rootMembers)
            }
        }
    }

    /// ``parse(_:limits:memberNames:)`` for a reader that wants only some members of the root object (a compiled
    /// mapping): when the document is an object, the value of its last member of each name in `memberNames` is put in
    /// `rootValues` at the name's position in the table (``JSONMemberNames/index(of:)``), the other members are read
    /// and checked but not kept, no object is built, and the result is nil. Any other document is returned whole.
    ///
    /// The document is checked exactly as ``parse(_:limits:)`` checks it (the same errors at the same offsets).
    /// `rootValues` must have `memberNames.count` initialized elements; the members found are assigned, the others
    /// are left as they are.
    public static func parse(
        _ bytes: [UInt8], limits: JSONLimits = .default, memberNames: JSONMemberNames,
        rootValues: UnsafeMutableBufferPointer<JSONValue?>
    ) throws(JSONError) -> JSONValue? {
        precondition(rootValues.count == memberNames.count, "the root values need one place per name")
        if bytes.count > limits.maxBytes {
            throw JSONError(
                .tooLarge, at: 0, "document of \(bytes.count) bytes exceeds the limit of \(limits.maxBytes)")
        }
        return try memberNames.entries.withUnsafeBufferPointer { entries throws(JSONError) in
            try memberNames.starts.withUnsafeBufferPointer { starts throws(JSONError) in
                try parse(
                    bytes, limits: limits, names: entries, starts: starts,
                    rootMembers: UnsafeMutableBufferPointer(start: nil, count: 0), rootValues: rootValues)
            }
        }
    }

    /// ``parse(_:limits:memberNames:rootValues:)`` that leaves the root object's strings without escapes unmade: for
    /// such a member named in the table, the range of its text's bytes in `bytes` (between the quotes) goes to
    /// `rootTexts` at the name's entry and `rootValues` there is set to nil; for a member of any other value,
    /// `rootTexts` there is set to ``JSONValue/noRootText`` and the value goes to `rootValues`. (The bytes of a plain
    /// string are its text's UTF-8 as they are: `String(decoding: bytes[range], as: UTF8.self)` is the value.)
    ///
    /// With `nested`, a root member that has nested members with slots is read as a root object is: when it is an
    /// object, its members with slots go to their slots (values or texts, the last of a name winning) and the others
    /// are checked and dropped; either way, nothing goes to the root member's own entry (its slots are emptied first,
    /// so a later root member of the same name wins as a whole).
    ///
    /// With `textLists`, a root member they name whose value is an array of strings without escapes (of at most
    /// `listItems.count` items in all) has the ranges of its items' texts put in `listItems`, one after the other, and
    /// the range of their positions there in `rootLists` at its entry; `rootValues` there is set to nil. Any other
    /// value of such a member sets `rootLists` there to ``JSONValue/noRootText`` (and goes where it would go without).
    ///
    /// `rootValues` and `rootTexts` must have `memberNames.count + nested.count` elements, `rootLists` (with
    /// `textLists`) `memberNames.count`; those of the members found are assigned, the others are left as they are.
    public static func parse(
        _ bytes: [UInt8], limits: JSONLimits = .default, memberNames: JSONMemberNames,
        rootValues: UnsafeMutableBufferPointer<JSONValue?>, rootTexts: UnsafeMutableBufferPointer<Range<Int>>,
        nested: JSONNestedMembers = JSONNestedMembers(), textLists: JSONTextLists = JSONTextLists(),
        rootLists: UnsafeMutableBufferPointer<Range<Int>> = UnsafeMutableBufferPointer(start: nil, count: 0),
        listItems: UnsafeMutableBufferPointer<Range<Int>> = UnsafeMutableBufferPointer(start: nil, count: 0)
    ) throws(JSONError) -> JSONValue? {
        precondition(
            textLists.wanted.isEmpty
                || (textLists.wanted.count == memberNames.count && rootLists.count == memberNames.count),
            "the root lists need one place per name")
        precondition(rootValues.count == memberNames.count + nested.count, "the root values need one place per slot")
        precondition(rootTexts.count == memberNames.count + nested.count, "the root texts need one place per slot")
        precondition(
            nested.ranges.isEmpty || nested.ranges.count == memberNames.count, "nested members of another table")
        if bytes.count > limits.maxBytes {
            throw JSONError(
                .tooLarge, at: 0, "document of \(bytes.count) bytes exceeds the limit of \(limits.maxBytes)")
        }
        return try memberNames.entries.withUnsafeBufferPointer { entries throws(JSONError) in
            try memberNames.starts.withUnsafeBufferPointer { starts throws(JSONError) in
                try nested.ranges.withUnsafeBufferPointer { nestedRanges throws(JSONError) in
                    try nested.members.withUnsafeBufferPointer { nestedMembers throws(JSONError) in
                        try textLists.wanted.withUnsafeBufferPointer { wanted throws(JSONError) in
                            try parse(
                                bytes, limits: limits, names: entries, starts: starts,
                                rootMembers: UnsafeMutableBufferPointer(start: nil, count: 0), rootValues: rootValues,
                                rootTexts: rootTexts, nestedRanges: nestedRanges, nestedMembers: nestedMembers,
                                listsWanted: wanted,
                                rootLists: wanted.isEmpty
                                    ? UnsafeMutableBufferPointer(start: nil, count: 0) : rootLists,
                                listItems: listItems)
                        }
                    }
                }
            }
        }
    }

    /// What ``parse(_:limits:memberNames:rootValues:rootTexts:)`` puts in `rootTexts` for a member whose value is not
    /// a string without escapes.
    @inlinable
    public static var noRootText: Range<Int> { -1..<(-1) }

    /// ``parse(_:limits:memberNames:rootMembers:)`` with the name table's arrays and the index borrowed (empty: no
    /// table, no index).
    static func parse(
        _ bytes: [UInt8], limits: JSONLimits, names: UnsafeBufferPointer<JSONMemberNames.Entry>,
        starts: UnsafeBufferPointer<Int>, rootMembers: UnsafeMutableBufferPointer<Int>
    ) throws(JSONError) -> JSONValue {
        // Without root values the parser always returns the document.
        try parse(
            bytes, limits: limits, names: names, starts: starts, rootMembers: rootMembers,
            rootValues: UnsafeMutableBufferPointer(start: nil, count: 0))!
    }

    /// ``parse(_:limits:memberNames:rootMembers:)`` and ``parse(_:limits:memberNames:rootValues:)`` with the name
    /// table's arrays, the index and the root values borrowed (empty: not wanted); nil when the root object's members
    /// went to `rootValues`.
    static func parse(
        _ bytes: [UInt8], limits: JSONLimits, names: UnsafeBufferPointer<JSONMemberNames.Entry>,
        starts: UnsafeBufferPointer<Int>, rootMembers: UnsafeMutableBufferPointer<Int>,
        rootValues: UnsafeMutableBufferPointer<JSONValue?>,
        rootTexts: UnsafeMutableBufferPointer<Range<Int>> = UnsafeMutableBufferPointer(start: nil, count: 0),
        nestedRanges: UnsafeBufferPointer<Range<Int>> = UnsafeBufferPointer(start: nil, count: 0),
        nestedMembers: UnsafeBufferPointer<JSONNestedMembers.Member> = UnsafeBufferPointer(start: nil, count: 0),
        listsWanted: UnsafeBufferPointer<Bool> = UnsafeBufferPointer(start: nil, count: 0),
        rootLists: UnsafeMutableBufferPointer<Range<Int>> = UnsafeMutableBufferPointer(start: nil, count: 0),
        listItems: UnsafeMutableBufferPointer<Range<Int>> = UnsafeMutableBufferPointer(start: nil, count: 0)
    ) throws(JSONError) -> JSONValue? {
        let result: Result<JSONValue?, JSONError> = bytes.withUnsafeBufferPointer { buf in
            var p = JSONParser(buf: buf, maxDepth: limits.maxDepth)
            p.names = names
            p.nameStarts = starts
            p.rootMembers = rootMembers
            p.rootValues = rootValues
            p.rootTexts = rootTexts
            p.nestedRanges = nestedRanges
            p.nestedMembers = nestedMembers
            p.listsWanted = listsWanted
            p.rootLists = rootLists
            p.listItems = listItems
            do throws(JSONError) {
                p.skipWS()
                let v = try p.value(depth: 0)
                p.skipWS()
                if p.i != buf.count { throw JSONError(.syntax, at: p.i, "unexpected data after the document") }
                // `JSONValue` is `ExpressibleByNilLiteral`: a plain `nil` here would be `.null`.
                return .success(p.rootTaken ? Optional<JSONValue>.none : .some(v))
            } catch { return .failure(error) }
        }
        return try result.get()
    }

    /// Parses a JSON document from a string.
    public static func parse(_ text: String, limits: JSONLimits = .default) throws(JSONError) -> JSONValue {
        try parse(Array(text.utf8), limits: limits)
    }
}

struct JSONParser {
    let buf: UnsafeBufferPointer<UInt8>
    let maxDepth: Int
    var i = 0
    /// Strings to use for member names with the same bytes: a ``JSONMemberNames`` table, borrowed (empty: none).
    var names = UnsafeBufferPointer<JSONMemberNames.Entry>(start: nil, count: 0)
    var nameStarts = UnsafeBufferPointer<Int>(start: nil, count: 0)
    /// The root object's members by table entry (see ``JSONValue/parse(_:limits:memberNames:rootMembers:)``),
    /// borrowed (empty: not wanted).
    var rootMembers = UnsafeMutableBufferPointer<Int>(start: nil, count: 0)
    /// Where the root object's members named in the table go, by entry (see
    /// ``JSONValue/parse(_:limits:memberNames:rootValues:)``), borrowed (empty: the root object is built as usual).
    var rootValues = UnsafeMutableBufferPointer<JSONValue?>(start: nil, count: 0)
    /// Where the byte ranges of the root object's plain strings named in the table go, by entry (see
    /// ``JSONValue/parse(_:limits:memberNames:rootValues:rootTexts:)``), borrowed (empty: their strings are made).
    var rootTexts = UnsafeMutableBufferPointer<Range<Int>>(start: nil, count: 0)
    /// The root members read by nested member (see ``JSONNestedMembers``), borrowed (empty: none).
    var nestedRanges = UnsafeBufferPointer<Range<Int>>(start: nil, count: 0)
    var nestedMembers = UnsafeBufferPointer<JSONNestedMembers.Member>(start: nil, count: 0)
    /// The root members whose arrays of plain strings are kept as item ranges (see ``JSONTextLists``), by entry, the
    /// ranges of their items in ``listItems``, and the items' text ranges, borrowed (empty: none are kept).
    var listsWanted = UnsafeBufferPointer<Bool>(start: nil, count: 0)
    var rootLists = UnsafeMutableBufferPointer<Range<Int>>(start: nil, count: 0)
    var listItems = UnsafeMutableBufferPointer<Range<Int>>(start: nil, count: 0)
    /// How many of ``listItems`` are taken.
    var listItemCount = 0
    /// Whether the root object's members went to ``rootValues`` (and no object was built).
    var rootTaken = false
    /// The table entry of the member name ``string(memberName:)`` read last; -1 when the table does not have it.
    var nameEntry = -1

    init(buf: UnsafeBufferPointer<UInt8>, maxDepth: Int) {
        self.buf = buf
        self.maxDepth = maxDepth
    }

    @inline(__always) mutating func skipWS() {
        while i < buf.count {
            let c = buf[i]
            if c == 0x20 || c == 0x0A || c == 0x0D || c == 0x09 { i += 1 } else { break }
        }
    }

    mutating func value(depth: Int) throws(JSONError) -> JSONValue {
        guard i < buf.count else { throw JSONError(.syntax, at: i, "unexpected end of input") }
        switch buf[i] {
        case UInt8(ascii: "{"):
            if depth >= maxDepth { throw JSONError(.tooDeep, at: i, "nesting deeper than \(maxDepth)") }
            if depth == 0 && !rootValues.isEmpty { return try rootObjectValues() }
            i += 1
            skipWS()
            if i < buf.count && buf[i] == UInt8(ascii: "}") {
                i += 1
                return .object([])
            }
            // Room for a typical record's members up front; growing moves (does not copy) the members.
            var members: [(String, JSONValue)] = []
            members.reserveCapacity(16)
            while true {
                guard i < buf.count, buf[i] == UInt8(ascii: "\"") else {
                    throw JSONError(.syntax, at: i, "expected a member name")
                }
                let k = try string(memberName: true)
                if depth == 0 && nameEntry >= 0 && !rootMembers.isEmpty { rootMembers[nameEntry] = members.count }
                try memberColon()
                let v = try value(depth: depth + 1)
                members.append((k, v))
                if try objectEnds() { return .object(members) }
            }
        case UInt8(ascii: "["):
            if depth >= maxDepth { throw JSONError(.tooDeep, at: i, "nesting deeper than \(maxDepth)") }
            i += 1
            skipWS()
            if i < buf.count && buf[i] == UInt8(ascii: "]") {
                i += 1
                return .array([])
            }
            var items: [JSONValue] = []
            items.reserveCapacity(4)
            while true {
                let v = try value(depth: depth + 1)
                items.append(v)
                skipWS()
                guard i < buf.count else { throw JSONError(.syntax, at: i, "unterminated array") }
                if buf[i] == UInt8(ascii: ",") {
                    i += 1
                    skipWS()
                    continue
                }
                if buf[i] == UInt8(ascii: "]") {
                    i += 1
                    return .array(items)
                }
                throw JSONError(.syntax, at: i, "expected ',' or ']'")
            }
        case UInt8(ascii: "\""): return .string(try string())
        case UInt8(ascii: "t"):
            try literal("true")
            return .bool(true)
        case UInt8(ascii: "f"):
            try literal("false")
            return .bool(false)
        case UInt8(ascii: "n"):
            try literal("null")
            return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return .number(try number())
        default: throw JSONError(.syntax, at: i, "unexpected character")
        }
    }

    /// The root object at `i` (its `{`), read as ``value(depth:)`` reads it, but with the value of each member
    /// named in the table assigned to ``rootValues`` at the name's entry (a later member of the same name wins) and
    /// the other members' values dropped: no object is built. Returns `.null` and sets ``rootTaken``.
    mutating func rootObjectValues() throws(JSONError) -> JSONValue {
        rootTaken = true
        i += 1
        skipWS()
        if i < buf.count && buf[i] == UInt8(ascii: "}") {
            i += 1
            return .null
        }
        while true {
            guard i < buf.count, buf[i] == UInt8(ascii: "\"") else {
                throw JSONError(.syntax, at: i, "expected a member name")
            }
            let entry = try memberEntry()
            try memberColon()
            if entry >= 0 && !listsWanted.isEmpty && listsWanted[entry] {
                rootLists[entry] = JSONValue.noRootText
                if i < buf.count && buf[i] == UInt8(ascii: "["), let items = plainStringItems() {
                    rootLists[entry] = items
                    rootValues[entry] = nil
                    rootTexts[entry] = JSONValue.noRootText
                    if try objectEnds() { return .null }
                    continue
                }
            }
            // Strings (most members) are read here; everything else as any value is.
            if entry >= 0 && !nestedRanges.isEmpty && !nestedRanges[entry].isEmpty {
                try nestedValues(nestedRanges[entry])
            } else if i < buf.count && buf[i] == UInt8(ascii: "\"") {
                if entry < 0 {
                    // A member no one reads: checked, but no string is made.
                    try skipString()
                } else if !rootTexts.isEmpty, let text = try plainString() {
                    rootTexts[entry] = text
                    rootValues[entry] = nil
                } else {
                    rootValues[entry] = .string(try string())
                    if !rootTexts.isEmpty { rootTexts[entry] = JSONValue.noRootText }
                }
            } else {
                let v = try value(depth: 1)
                if entry >= 0 {
                    rootValues[entry] = v
                    if !rootTexts.isEmpty { rootTexts[entry] = JSONValue.noRootText }
                }
            }
            if try objectEnds() { return .null }
        }
    }

    /// The array at `i` (its `[`) of a root member whose items are wanted as text ranges, when it is read as
    /// ``value(depth:)`` reads it at depth 1 and every item is a string without escapes and there is room in
    /// ``listItems``: the items' text ranges are put there and the range of their positions is returned, with `i` past
    /// the array. Nil otherwise, with `i` and ``listItems`` as they were (the array is then read as a value, which
    /// reports its errors).
    mutating func plainStringItems() -> Range<Int>? {
        let open = i
        let first = listItemCount
        // Errors (the depth, UTF-8, the syntax) are found again by the value's reading.
        func giveUp() -> Range<Int>? {
            i = open
            listItemCount = first
            return nil
        }
        if 1 >= maxDepth { return giveUp() }
        i += 1
        skipWS()
        if i < buf.count && buf[i] == UInt8(ascii: "]") {
            i += 1
            return first..<first
        }
        while true {
            guard i < buf.count, buf[i] == UInt8(ascii: "\""), listItemCount < listItems.count,
                let text = try? plainString()
            else { return giveUp() }
            listItems[listItemCount] = text
            listItemCount += 1
            skipWS()
            guard i < buf.count else { return giveUp() }
            if buf[i] == UInt8(ascii: ",") {
                i += 1
                skipWS()
                continue
            }
            if buf[i] == UInt8(ascii: "]") {
                i += 1
                return first..<listItemCount
            }
            return giveUp()
        }
    }

    /// The value at `i` of a root member read by nested member (`nestedMembers[slots]`), read as ``value(depth:)``
    /// reads it at depth 1: when it is an object, the values (or texts) of its members with slots go to their slots;
    /// nothing else is kept.
    mutating func nestedValues(_ slots: Range<Int>) throws(JSONError) {
        for k in slots {
            rootValues[nestedMembers[k].slot] = nil
            rootTexts[nestedMembers[k].slot] = JSONValue.noRootText
        }
        guard i < buf.count, buf[i] == UInt8(ascii: "{") else {
            // Not an object: checked, and no member of it is read.
            if i < buf.count && buf[i] == UInt8(ascii: "\"") { try skipString() } else { _ = try value(depth: 1) }
            return
        }
        if 1 >= maxDepth { throw JSONError(.tooDeep, at: i, "nesting deeper than \(maxDepth)") }
        i += 1
        skipWS()
        if i < buf.count && buf[i] == UInt8(ascii: "}") {
            i += 1
            return
        }
        while true {
            guard i < buf.count, buf[i] == UInt8(ascii: "\"") else {
                throw JSONError(.syntax, at: i, "expected a member name")
            }
            let entry = try memberEntry()
            try memberColon()
            var slot = -1
            if entry >= 0 {
                for k in slots where nestedMembers[k].entry == entry { slot = nestedMembers[k].slot }
            }
            if i < buf.count && buf[i] == UInt8(ascii: "\"") {
                if slot < 0 {
                    try skipString()
                } else if let text = try plainString() {
                    rootTexts[slot] = text
                    rootValues[slot] = nil
                } else {
                    rootValues[slot] = .string(try string())
                    rootTexts[slot] = JSONValue.noRootText
                }
            } else {
                let v = try value(depth: 2)
                if slot >= 0 {
                    rootValues[slot] = v
                    rootTexts[slot] = JSONValue.noRootText
                }
            }
            if try objectEnds() { return }
        }
    }

    /// Reads the `:` after a member's name, with the whitespace around it.
    @inline(__always)
    mutating func memberColon() throws(JSONError) {
        skipWS()
        guard i < buf.count, buf[i] == UInt8(ascii: ":") else { throw JSONError(.syntax, at: i, "expected ':'") }
        i += 1
        skipWS()
    }

    /// Reads what follows a member's value: true after the object's `}`, false after a `,` (and the whitespace
    /// before the next name).
    @inline(__always)
    mutating func objectEnds() throws(JSONError) -> Bool {
        skipWS()
        guard i < buf.count else { throw JSONError(.syntax, at: i, "unterminated object") }
        if buf[i] == UInt8(ascii: ",") {
            i += 1
            skipWS()
            return false
        }
        guard buf[i] == UInt8(ascii: "}") else { throw JSONError(.syntax, at: i, "expected ',' or '}'") }
        i += 1
        return true
    }

    /// The table entry of the member name at `i` (its opening quote), -1 when the table does not have it: what
    /// ``string(memberName:)`` leaves in ``nameEntry``, without making the name's string when it has no escapes.
    mutating func memberEntry() throws(JSONError) -> Int {
        let quote = i
        let start = i + 1
        // A name of 1–16 plain ASCII bytes (all the table holds) is found from the one or two words that find its
        // closing quote: the same words are the table's key.
        if !names.isEmpty, start + 16 <= buf.count, let base = UnsafeRawPointer(buf.baseAddress) {
            let w0 = UInt64(littleEndian: base.loadUnaligned(fromByteOffset: start, as: UInt64.self))
            let f0 = (JSONWriter.escapeFlags(w0) | w0) & 0x8080_8080_8080_8080
            if f0 != 0 {
                let n = f0.trailingZeroBitCount / 8
                if n >= 1 && buf[start + n] == UInt8(ascii: "\"") {
                    i = start + n + 1
                    let head = w0 & ((1 << (8 * UInt64(n))) - 1)
                    return JSONMemberNames.entry(count: n, head: head, tail: 0, entries: names, starts: nameStarts)
                        ?? -1
                }
            } else {
                let w1 = UInt64(littleEndian: base.loadUnaligned(fromByteOffset: start + 8, as: UInt64.self))
                let f1 = (JSONWriter.escapeFlags(w1) | w1) & 0x8080_8080_8080_8080
                if f1 != 0 {
                    let n = 8 + f1.trailingZeroBitCount / 8
                    if buf[start + n] == UInt8(ascii: "\"") {
                        i = start + n + 1
                        // The table keeps a tail for names longer than 8 bytes only.
                        let tail =
                            n > 8
                            ? UInt64(littleEndian: base.loadUnaligned(fromByteOffset: start + n - 8, as: UInt64.self))
                            : 0
                        return JSONMemberNames.entry(count: n, head: w0, tail: tail, entries: names, starts: nameStarts)
                            ?? -1
                    }
                }
            }
        }
        i = start
        if let end = try plainStringEnd() {
            guard !names.isEmpty else { return -1 }
            return JSONMemberNames.entry(buf, start, end, entries: names, starts: nameStarts) ?? -1
        }
        // Escapes, control characters or no closing quote: the full reading (and its errors).
        i = quote
        _ = try string(memberName: true)
        return nameEntry
    }

    /// Reads the plain part of a string from `i` (just after its opening quote): UTF-8 checked on the way, runs of
    /// plain ASCII (no quote, backslash or control character) skipped eight bytes at a time. Returns the closing
    /// quote's index with `i` past it; nil when an escape, a control character or the end of the input comes first,
    /// with `i` there (the caller reads the rest, or the string again, the slow way).
    @inline(__always)
    mutating func plainStringEnd() throws(JSONError) -> Int? {
        i = JSONParser.plainASCIIEnd(buf, from: i)
        while i < buf.count {
            let c = buf[i]
            if c == UInt8(ascii: "\"") {
                i += 1
                return i - 1
            }
            if c == UInt8(ascii: "\\") || c < 0x20 { return nil }
            if c >= 0x80 {
                i += try utf8Sequence()
                i = JSONParser.plainASCIIEnd(buf, from: i)
                continue
            }
            i += 1
        }
        return nil
    }

    /// The range of the text of the string at `i` (its opening quote) when it has no escapes, with `i` past it and
    /// the checks of ``string(memberName:)`` made; nil (with `i` unchanged) when it needs ``string(memberName:)``.
    @inline(__always)
    mutating func plainString() throws(JSONError) -> Range<Int>? {
        let quote = i
        i += 1
        if let end = try plainStringEnd() { return (quote + 1)..<end }
        i = quote
        return nil
    }

    /// Reads past the string at `i` (its opening quote) with the checks and errors of ``string(memberName:)``, without
    /// making it.
    mutating func skipString() throws(JSONError) {
        let quote = i
        i += 1
        if try plainStringEnd() != nil { return }
        // Escapes, control characters or no closing quote: the full reading (and its errors).
        i = quote
        _ = try string()
    }

    mutating func literal(_ word: StaticString) throws(JSONError) {
        let n = word.utf8CodeUnitCount
        guard i + n <= buf.count else { throw JSONError(.syntax, at: i, "unexpected end of input") }
        let p = word.utf8Start
        for k in 0..<n where buf[i + k] != p[k] { throw JSONError(.syntax, at: i, "invalid literal") }
        i += n
    }

    mutating func number() throws(JSONError) -> String {
        let start = i
        @inline(__always) func isDigit(_ c: UInt8) -> Bool { c >= 48 && c <= 57 }
        if buf[i] == UInt8(ascii: "-") { i += 1 }
        guard i < buf.count, isDigit(buf[i]) else { throw JSONError(.syntax, at: i, "invalid number") }
        if buf[i] == 48 { i += 1 } else { while i < buf.count && isDigit(buf[i]) { i += 1 } }
        if i < buf.count && buf[i] == UInt8(ascii: ".") {
            i += 1
            guard i < buf.count, isDigit(buf[i]) else { throw JSONError(.syntax, at: i, "invalid fraction") }
            while i < buf.count && isDigit(buf[i]) { i += 1 }
        }
        if i < buf.count && (buf[i] == UInt8(ascii: "e") || buf[i] == UInt8(ascii: "E")) {
            i += 1
            if i < buf.count && (buf[i] == UInt8(ascii: "+") || buf[i] == UInt8(ascii: "-")) { i += 1 }
            guard i < buf.count, isDigit(buf[i]) else { throw JSONError(.syntax, at: i, "invalid exponent") }
            while i < buf.count && isDigit(buf[i]) { i += 1 }
        }
        if i - start > 64 { throw JSONError(.syntax, at: start, "number longer than 64 characters") }
        return String(validUTF8: UnsafeBufferPointer(rebasing: buf[start..<i]))
    }

    /// The string at `i` (its opening quote). With `memberName`, a name found in ``names`` is taken from there and
    /// its entry is left in ``nameEntry``.
    mutating func string(memberName: Bool = false) throws(JSONError) -> String {
        i += 1  // opening quote
        if memberName { nameEntry = -1 }
        let start = i
        // Fast path: no escapes (UTF-8 validated on the way, so the bytes become the string as they are).
        if let end = try plainStringEnd() {
            if memberName && !names.isEmpty,
                let known = JSONMemberNames.entry(buf, start, end, entries: names, starts: nameStarts)
            {
                nameEntry = known
                return names[known].name
            }
            return String(validUTF8: UnsafeBufferPointer(rebasing: buf[start..<end]))
        }
        var out: [UInt8] = Array(buf[start..<i])
        while i < buf.count {
            let c = buf[i]
            switch c {
            case UInt8(ascii: "\""):
                i += 1
                if memberName && !names.isEmpty {
                    // A name spelt with escapes is still the table's name when its bytes are.
                    nameEntry =
                        out.withUnsafeBufferPointer {
                            JSONMemberNames.entry($0, 0, $0.count, entries: names, starts: nameStarts)
                        } ?? -1
                }
                return String(decoding: out, as: UTF8.self)
            case UInt8(ascii: "\\"):
                i += 1
                guard i < buf.count else { break }
                let e = buf[i]
                i += 1
                switch e {
                case UInt8(ascii: "\""): out.append(0x22)
                case UInt8(ascii: "\\"): out.append(0x5C)
                case UInt8(ascii: "/"): out.append(0x2F)
                case UInt8(ascii: "b"): out.append(0x08)
                case UInt8(ascii: "f"): out.append(0x0C)
                case UInt8(ascii: "n"): out.append(0x0A)
                case UInt8(ascii: "r"): out.append(0x0D)
                case UInt8(ascii: "t"): out.append(0x09)
                case UInt8(ascii: "u"):
                    var scalar = try hex4()
                    if scalar >= 0xD800 && scalar < 0xDC00 {
                        guard i + 1 < buf.count, buf[i] == UInt8(ascii: "\\"), buf[i + 1] == UInt8(ascii: "u") else {
                            throw JSONError(.syntax, at: i, "unpaired surrogate")
                        }
                        i += 2
                        let low = try hex4()
                        guard low >= 0xDC00 && low < 0xE000 else {
                            throw JSONError(.syntax, at: i, "invalid low surrogate")
                        }
                        scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                    } else if scalar >= 0xDC00 && scalar < 0xE000 {
                        throw JSONError(.syntax, at: i, "unpaired surrogate")
                    }
                    out.append(contentsOf: Array(String(Character(Unicode.Scalar(scalar)!)).utf8))
                default: throw JSONError(.syntax, at: i - 1, "invalid escape")
                }
            case 0..<0x20:
                throw JSONError(.syntax, at: i, "control character in string")
            case 0x80...:
                let n = try utf8Sequence()
                out.append(contentsOf: buf[i..<(i + n)])
                i += n
            default:
                out.append(c)
                i += 1
            }
        }
        throw JSONError(.syntax, at: i, "unterminated string")
    }

    /// The first index at or after `i` whose byte is not plain ASCII text inside a string: a quote, a backslash, a
    /// control character (< 0x20) or a non-ASCII byte; `buf.count` when there is none. Whole words are tested eight
    /// bytes at a time (the tests of ``JSONWriter/needsEscape(_:)`` plus the high bit), the rest byte by byte.
    @inline(__always)
    static func plainASCIIEnd(_ buf: UnsafeBufferPointer<UInt8>, from start: Int) -> Int {
        var i = start
        let n = buf.count
        if let base = UnsafeRawPointer(buf.baseAddress) {
            while i + 8 <= n {
                let w = UInt64(littleEndian: base.loadUnaligned(fromByteOffset: i, as: UInt64.self))
                // A flag can be wrong only above a byte that is flagged rightly, so the first flagged byte (the
                // lowest, little-endian) is the first byte that stops the run; bytes >= 0x80 flag themselves.
                let m = JSONWriter.escapeFlags(w) | w
                let high = m & 0x8080_8080_8080_8080
                if high != 0 { return i + high.trailingZeroBitCount / 8 }
                i += 8
            }
        }
        while i < n {
            let c = buf[i]
            if c == 0x22 || c == 0x5C || c < 0x20 || c >= 0x80 { return i }
            i += 1
        }
        return n
    }

    mutating func hex4() throws(JSONError) -> UInt32 {
        guard i + 4 <= buf.count else { throw JSONError(.syntax, at: i, "short \\u escape") }
        var v: UInt32 = 0
        for _ in 0..<4 {
            let c = buf[i]
            let d: UInt32
            switch c {
            case 48...57: d = UInt32(c - 48)
            case 65...70: d = UInt32(c - 55)
            case 97...102: d = UInt32(c - 87)
            default: throw JSONError(.syntax, at: i, "invalid hex digit")
            }
            v = v << 4 | d
            i += 1
        }
        return v
    }

    /// Validates one UTF-8 sequence at `i` and returns its length.
    func utf8Sequence() throws(JSONError) -> Int {
        let c = buf[i]
        let n: Int
        var minScalar: UInt32
        var scalar: UInt32
        switch c {
        case 0xC2...0xDF:
            n = 2
            scalar = UInt32(c & 0x1F)
            minScalar = 0x80
        case 0xE0...0xEF:
            n = 3
            scalar = UInt32(c & 0x0F)
            minScalar = 0x800
        case 0xF0...0xF4:
            n = 4
            scalar = UInt32(c & 0x07)
            minScalar = 0x10000
        default: throw JSONError(.invalidUTF8, at: i, "invalid UTF-8 lead byte")
        }
        guard i + n <= buf.count else { throw JSONError(.invalidUTF8, at: i, "truncated UTF-8 sequence") }
        for k in 1..<n {
            let b = buf[i + k]
            guard b & 0xC0 == 0x80 else { throw JSONError(.invalidUTF8, at: i + k, "invalid UTF-8 continuation byte") }
            scalar = scalar << 6 | UInt32(b & 0x3F)
        }
        if scalar < minScalar || scalar > 0x10FFFF || (scalar >= 0xD800 && scalar < 0xE000) {
            throw JSONError(.invalidUTF8, at: i, "overlong or invalid UTF-8 sequence")
        }
        minScalar = 0
        return n
    }
}

extension JSONValue {
    /// Encodes compact JSON as UTF-8 bytes.
    public func jsonBytes() -> [UInt8] {
        var out: [UInt8] = []
        encode(into: &out)
        return out
    }

    /// Compact JSON text.
    public var jsonText: String { String(decoding: jsonBytes(), as: UTF8.self) }

    /// Appends the compact JSON encoding of this value to `out`.
    ///
    /// Strings are escaped minimally (`"`, `\\` and control characters); everything else, including non-ASCII
    /// text, is copied through as UTF-8. The document is written into one growing buffer and appended to `out`
    /// in a single copy.
    public func encode(into out: inout [UInt8]) {
        var writer = JSONWriter(capacity: 512)
        writer.write(self)
        writer.drain(into: &out)
    }

    static func encodeString(_ s: String, into out: inout [UInt8]) {
        var writer = JSONWriter(capacity: s.utf8.count + 16)
        writer.writeString(s)
        writer.drain(into: &out)
    }
}

/// A growable byte buffer for compact JSON: plain stores into memory it owns, no per-byte capacity or
/// uniqueness checks of an array.
///
/// ``JSONValue/encode(into:)`` writes whole values with it; a producer that knows its document's shape (a compiled
/// mapping writing its output fields in order) writes the punctuation and pre-encoded member names itself with
/// ``write(byte:)`` and ``write(bytes:)`` and each value with ``write(_:)``.
public struct JSONWriter: ~Copyable {
    // The writing of punctuation and pre-encoded bytes is inlinable (a laid-out record writes them per field from
    // another module), so the storage it touches is visible to it.
    @usableFromInline var base: UnsafeMutablePointer<UInt8>
    @usableFromInline var count = 0
    @usableFromInline var capacity: Int
    /// Whether ``base`` was allocated by the writer (else it is the caller's memory, until the writer grows).
    private var owned = true

    /// An empty writer with room for `capacity` bytes (at least 64) before it grows.
    public init(capacity: Int) {
        self.capacity = Swift.max(capacity, 64)
        base = .allocate(capacity: self.capacity)
    }

    /// An empty writer that writes into `memory` (the caller's, e.g. a temporary allocation, which must outlive the
    /// writer) until it needs more, then into memory of its own.
    public init(memory: UnsafeMutableBufferPointer<UInt8>) {
        if let start = memory.baseAddress, memory.count >= 64 {
            base = start
            capacity = memory.count
            owned = false
        } else {
            capacity = 64
            base = .allocate(capacity: 64)
        }
    }

    deinit { if owned { base.deallocate() } }

    /// Appends the written bytes to `out` and empties the writer.
    public mutating func drain(into out: inout [UInt8]) {
        out.append(contentsOf: UnsafeBufferPointer(start: base, count: count))
        count = 0
    }

    /// The written bytes (the writer is used up).
    public consuming func finish() -> [UInt8] {
        Array(UnsafeBufferPointer(start: base, count: count))
    }

    /// Writes one byte as it is (punctuation such as `{`, `,`, `}`).
    @inlinable
    public mutating func write(byte b: UInt8) { byte(b) }

    /// How many bytes have been written.
    @inlinable
    public var writtenCount: Int { count }

    /// Drops the bytes written after the first `written` (``writtenCount`` at the time), e.g. a member's name when
    /// its value turns out to be left out.
    @inlinable
    public mutating func truncate(to written: Int) {
        precondition(written >= 0 && written <= count, "truncating to more than was written")
        count = written
    }

    @inlinable @inline(__always)
    mutating func reserve(_ n: Int) {
        if count + n > capacity { grow(count + n) }
    }

    @usableFromInline
    mutating func grow(_ needed: Int) {
        var c = capacity * 2
        while c < needed { c *= 2 }
        let bigger = UnsafeMutablePointer<UInt8>.allocate(capacity: c)
        bigger.update(from: base, count: count)
        if owned { base.deallocate() }
        base = bigger
        capacity = c
        owned = true
    }

    @inlinable @inline(__always)
    mutating func byte(_ b: UInt8) {
        reserve(1)
        base[count] = b
        count += 1
    }

    @inlinable @inline(__always)
    mutating func bytes(_ p: UnsafeBufferPointer<UInt8>) {
        guard let start = p.baseAddress, p.count > 0 else { return }
        reserve(p.count)
        JSONWriter.copy(start, to: base + count, count: p.count)
        count += p.count
    }

    /// Copies `n` bytes. Runs of up to 16 bytes (most member names and values) move as two overlapping words (of
    /// eight bytes, or of four below eight) or byte by byte, without a call to `memcpy`.
    @inlinable @inline(__always)
    static func copy(_ source: UnsafePointer<UInt8>, to target: UnsafeMutablePointer<UInt8>, count n: Int) {
        if n > 16 {
            target.update(from: source, count: n)
        } else if n >= 8 {
            copyAsTwoWords(UInt64.self, source, to: target, count: n)
        } else if n >= 4 {
            copyAsTwoWords(UInt32.self, source, to: target, count: n)
        } else {
            for k in 0..<n { target[k] = source[k] }
        }
    }

    /// Copies `n` bytes (at least one `Word`, at most two) as the first and the last `Word`, which overlap when `n` is
    /// less than two words.
    @inlinable @inline(__always)
    static func copyAsTwoWords<Word: FixedWidthInteger>(
        _: Word.Type, _ source: UnsafePointer<UInt8>, to target: UnsafeMutablePointer<UInt8>, count n: Int
    ) {
        let size = MemoryLayout<Word>.size
        let from = UnsafeRawPointer(source)
        let to = UnsafeMutableRawPointer(target)
        let head = from.loadUnaligned(as: Word.self)
        let tail = from.loadUnaligned(fromByteOffset: n - size, as: Word.self)
        to.storeBytes(of: head, as: Word.self)
        to.storeBytes(of: tail, toByteOffset: n - size, as: Word.self)
    }

    /// Writes `raw` as it is (already-encoded JSON).
    public mutating func write(bytes raw: [UInt8]) {
        raw.withUnsafeBufferPointer { bytes($0) }
    }

    /// Writes `raw` as it is (already-encoded JSON). Always inlined: a laid-out record writes a member name with it
    /// for every field.
    @inlinable @inline(__always)
    public mutating func write(bytes raw: UnsafeBufferPointer<UInt8>) { bytes(raw) }

    @inline(__always)
    private mutating func literal(_ word: StaticString) {
        bytes(UnsafeBufferPointer(start: word.utf8Start, count: word.utf8CodeUnitCount))
    }

    /// Writes `value` as compact JSON.
    public mutating func write(_ value: JSONValue) {
        switch value {
        case .null: literal("null")
        case .bool(let b): if b { literal("true") } else { literal("false") }
        case .number(let n):
            let done: Void? = n.utf8.withContiguousStorageIfAvailable { bytes($0) }
            if done == nil {
                var n = n
                n.withUTF8 { bytes($0) }
            }
        case .string(let s): writeString(s)
        case .array(let items):
            byte(UInt8(ascii: "["))
            items.withUnsafeBufferPointer { items in
                for k in items.indices {
                    if k > 0 { byte(UInt8(ascii: ",")) }
                    write(items[k])
                }
            }
            byte(UInt8(ascii: "]"))
        case .object(let members):
            byte(UInt8(ascii: "{"))
            members.withUnsafeBufferPointer { members in
                for k in members.indices {
                    if k > 0 { byte(UInt8(ascii: ",")) }
                    writeString(members[k].0)
                    byte(UInt8(ascii: ":"))
                    write(members[k].1)
                }
            }
            byte(UInt8(ascii: "}"))
        }
    }

    /// Writes `s` as a JSON string literal (see ``writeString(utf8:)``).
    @inline(__always)
    public mutating func writeString(_ s: String) {
        // Native and small strings lend their bytes without a copy of the string (`withUTF8` needs a mutable one:
        // a retain and a release per string).
        let done: Void? = s.utf8.withContiguousStorageIfAvailable { writeString(utf8: $0) }
        if done != nil { return }
        var s = s
        s.withUTF8 { writeString(utf8: $0) }
    }

    /// Writes `text`, valid UTF-8 with no byte the writer escapes (no `"`, `\\` or control character, e.g. the text of
    /// a parsed string that had no escapes), as a JSON string literal: its bytes between quotes, unchecked.
    public mutating func writeString(plainUTF8 text: UnsafeBufferPointer<UInt8>) {
        assert(!JSONWriter.needsEscape(text), "a plain text with a byte to escape")
        reserve(text.count + 2)
        base[count] = 0x22
        if let start = text.baseAddress { JSONWriter.copy(start, to: base + count + 1, count: text.count) }
        base[count + 1 + text.count] = 0x22
        count += text.count + 2
    }

    /// Writes `text` (valid UTF-8) as a JSON string literal: `"`, `\\` and control characters escaped.
    public mutating func writeString(utf8 text: UnsafeBufferPointer<UInt8>) {
        // Most strings need no escape: one scan eight bytes at a time, then a single copy.
        if !JSONWriter.needsEscape(text) {
            reserve(text.count + 2)
            base[count] = 0x22
            if let start = text.baseAddress { JSONWriter.copy(start, to: base + count + 1, count: text.count) }
            base[count + 1 + text.count] = 0x22
            count += text.count + 2
            return
        }
        // Worst case: every byte becomes a six-byte \u00XX escape.
        reserve(text.count * 6 + 2)
        var n = count
        base[n] = 0x22
        n += 1
        for b in text {
            if b >= 0x20 && b != 0x22 && b != 0x5C {
                base[n] = b
                n += 1
                continue
            }
            base[n] = 0x5C
            switch b {
            case 0x22:
                base[n + 1] = 0x22
                n += 2
            case 0x5C:
                base[n + 1] = 0x5C
                n += 2
            case 0x0A:
                base[n + 1] = UInt8(ascii: "n")
                n += 2
            case 0x0D:
                base[n + 1] = UInt8(ascii: "r")
                n += 2
            case 0x09:
                base[n + 1] = UInt8(ascii: "t")
                n += 2
            default:
                base[n + 1] = UInt8(ascii: "u")
                base[n + 2] = 0x30
                base[n + 3] = 0x30
                base[n + 4] = JSONWriter.hex(b >> 4)
                base[n + 5] = JSONWriter.hex(b & 0xF)
                n += 6
            }
        }
        base[n] = 0x22
        n += 1
        count = n
    }

    @inline(__always)
    static func hex(_ d: UInt8) -> UInt8 { d < 10 ? 48 + d : 87 + d }

    /// The high bit of each byte of `w` (eight bytes, little-endian) that is `"`, `\` or below 0x20: the classic
    /// "has a zero byte" and "has a byte below 0x20" tests. A flag can be wrong only above a byte that is flagged
    /// rightly (borrows run upwards), so any flag means a byte to escape, and the lowest flag is the first one.
    @inline(__always)
    @usableFromInline
    static func escapeFlags(_ w: UInt64) -> UInt64 {
        let ones: UInt64 = 0x0101_0101_0101_0101
        let quote = w ^ (ones &* 0x22)
        let backslash = w ^ (ones &* 0x5C)
        return ((quote &- ones) & ~quote) | ((backslash &- ones) & ~backslash) | ((w &- ones &* 0x20) & ~w)
    }

    /// Whether `text` has a byte the writer escapes: `"`, `\` or a control character (< 0x20).
    @inline(__always)
    public static func needsEscape(_ text: UnsafeBufferPointer<UInt8>) -> Bool {
        var i = 0
        let n = text.count
        if let base = UnsafeRawPointer(text.baseAddress) {
            // Whole words inside the buffer only: i + 8 <= n.
            while i + 8 <= n {
                let w = UInt64(littleEndian: base.loadUnaligned(fromByteOffset: i, as: UInt64.self))
                let m = escapeFlags(w)
                if m & 0x8080_8080_8080_8080 != 0 { return true }
                i += 8
            }
            // The last partial word: one load of the final eight bytes (overlapping bytes already passed the test).
            if i < n && n >= 8 {
                let w = UInt64(littleEndian: base.loadUnaligned(fromByteOffset: n - 8, as: UInt64.self))
                return escapeFlags(w) & 0x8080_8080_8080_8080 != 0
            }
            // Four to seven bytes: two overlapping four-byte loads make one word (a byte tested twice gives the same
            // answer twice).
            if n >= 4 && n < 8 {
                let low = UInt64(UInt32(littleEndian: base.loadUnaligned(as: UInt32.self)))
                let high = UInt64(UInt32(littleEndian: base.loadUnaligned(fromByteOffset: n - 4, as: UInt32.self)))
                return escapeFlags(low | high << 32) & 0x8080_8080_8080_8080 != 0
            }
        }
        while i < n {
            let b = text[i]
            if b < 0x20 || b == 0x22 || b == 0x5C { return true }
            i += 1
        }
        return false
    }
}
