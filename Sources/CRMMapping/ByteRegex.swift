/// A backtracking matcher for the common subset of regular expressions, run on the UTF-8 bytes of plain ASCII text.
///
/// Swift's `Regex` works on grapheme clusters and costs several thousand instructions per match even for `^([a-z]{2})`.
/// For text that is ASCII without line breaks, characters are bytes and `^`, `$` and `.` have no line semantics, so a
/// byte-level backtracking matcher with the same leftmost-first, greedy/lazy rules gives the same match and groups.
/// Patterns outside the subset (flags, look-around, back-references, word boundaries, Unicode properties, quantified
/// groups that can match empty) are not compiled (`init` returns nil); texts outside it are left to `Regex` at run
/// time (`firstMatch` returns nil).
///
/// Subset: literals and escaped metacharacters, `.`, `\d \w \s \D \W \S`, classes `[a-z_\d]` and `[^...]`, groups
/// `( )` and `(?: )`, alternation `|`, quantifiers `* + ? {n} {n,} {n,m}` and their lazy forms, `^` at the start and
/// `$` at the end.
struct ByteRegex: Sendable {
    /// A set of bytes (ASCII only: 128 bits).
    struct ByteSet: Sendable {
        var low: UInt64 = 0, high: UInt64 = 0
        @inline(__always) func contains(_ b: UInt8) -> Bool {
            b < 64 ? (low >> UInt64(b)) & 1 == 1 : b < 128 ? (high >> UInt64(b - 64)) & 1 == 1 : false
        }
        mutating func insert(_ b: UInt8) {
            if b < 64 { low |= 1 << UInt64(b) } else if b < 128 { high |= 1 << UInt64(b - 64) }
        }
        mutating func insert(_ r: ClosedRange<UInt8>) { for b in r { insert(b) } }
        mutating func formUnion(_ o: ByteSet) {
            low |= o.low
            high |= o.high
        }
        var inverted: ByteSet { ByteSet(low: ~low, high: ~high) }
        static let digits: ByteSet = {
            var s = ByteSet()
            s.insert(48...57)
            return s
        }()
        static let word: ByteSet = {
            var s = digits
            s.insert(65...90)
            s.insert(97...122)
            s.insert(95)
            return s
        }()
        static let space: ByteSet = {
            var s = ByteSet()
            s.insert(0x09...0x0D)
            s.insert(0x20)
            return s
        }()
        static let any: ByteSet = ByteSet(low: ~0, high: ~0)
    }

    indirect enum Node: Sendable {
        case bytes(ByteSet)
        case sequence([Node])
        case alternation([Node])
        case group(Node, capture: Int?)
        case repetition(Node, min: Int, max: Int, lazy: Bool)
        case start, end
    }

    /// A pattern that is one byte set per matched byte: no alternation, every repetition of a single byte set with
    /// `min == max` (`^([a-z]{2})`, `\d{3}-\d{4}`). Every match has the same width and is decided byte by byte:
    /// there is nothing to backtrack into, so the first start whose bytes all match is the match ``match`` finds.
    struct FixedWidth: Sendable {
        var sets: [ByteSet] = []
        var anchoredStart = false
        var anchoredEnd = false
        /// Where capture group 1 is in `sets`.
        var group1: Range<Int>?

        /// The fixed-width form of `node`, or nil when it has another form.
        init?(_ node: Node) {
            guard add(node) else { return nil }
        }

        private mutating func add(_ node: Node) -> Bool {
            switch node {
            case .bytes(let set): sets.append(set)
            case .start: anchoredStart = true  // only ever the pattern's first item
            case .end: anchoredEnd = true  // only ever its last
            case .alternation: return false
            case .sequence(let items):
                for item in items where !add(item) { return false }
            case .group(let inner, let capture):
                let start = sets.count
                guard add(inner) else { return false }
                if capture == 0 { group1 = start..<sets.count }
            case .repetition(let inner, let min, let max, _):
                guard min == max, min <= ByteRegex.maxTextLength, case .bytes(let set) = inner else { return false }
                sets += repeatElement(set, count: min)
            }
            return true
        }

        /// The first match in `text` and group 1's range in it (nil when the group is not in the pattern), or nil.
        func firstMatch(_ text: UnsafeBufferPointer<UInt8>) -> (whole: Range<Int>, group1: Range<Int>?)? {
            let width = sets.count
            guard text.count >= width else { return nil }
            let lastStart = anchoredStart ? 0 : text.count - width
            for start in 0...lastStart where !anchoredEnd || start + width == text.count {
                var k = 0
                while k < width && sets[k].contains(text[start + k]) { k += 1 }
                if k == width {
                    return (start..<(start + width), group1.map { (start + $0.lowerBound)..<(start + $0.upperBound) })
                }
            }
            return nil
        }
    }

    let root: Node
    let captures: Int
    /// The pattern's fixed-width form, when it has one.
    let fixedWidth: FixedWidth?

    /// Longest text matched here; longer texts go to `Regex` (the matcher recurses once per matched byte).
    static let maxTextLength = 64

    /// Compiles `pattern`; nil when it uses anything outside the subset.
    init?(_ pattern: String) {
        guard pattern.utf8.count <= 128 else { return nil }
        var p = Parser(bytes: Array(pattern.utf8))
        guard let node = p.alternation(), p.i == p.bytes.count else { return nil }
        root = node
        captures = p.captureCount
        fixedWidth = FixedWidth(node)
    }

    /// The first match in `text`: its byte range and the range of capture group 1 (nil when the group did not take
    /// part or the pattern has none). Outer nil: the text is outside the subset (not ASCII, or has line breaks);
    /// inner nil: no match.
    func firstMatch(_ text: UnsafeBufferPointer<UInt8>) -> (whole: Range<Int>, group1: Range<Int>?)?? {
        guard text.count <= ByteRegex.maxTextLength else { return nil }
        for b in text where b >= 0x80 || (b >= 0x0A && b <= 0x0D) { return nil }
        if let fixedWidth { return .some(fixedWidth.firstMatch(text)) }
        return .some(backtrackingMatch(text))
    }

    /// The first match in `text` (ASCII without line breaks, at most ``maxTextLength`` bytes) by backtracking: its
    /// byte range and the range of capture group 1, or nil.
    func backtrackingMatch(_ text: UnsafeBufferPointer<UInt8>) -> (whole: Range<Int>, group1: Range<Int>?)? {
        withUnsafeTemporaryAllocation(of: Int.self, capacity: 2 * captures + 2) { caps in
            for start in 0...text.count {
                for k in 0..<caps.count { caps[k] = -1 }
                var end = -1
                if match(
                    root, text, start, caps,
                    { e in
                        end = e
                        return true
                    })
                {
                    let group1 = captures > 0 && caps[0] >= 0 ? caps[0]..<caps[1] : nil
                    return (start..<end, group1)
                }
                if case .sequence(let items) = root, case .start = items.first { break }
            }
            return nil
        }
    }

    /// What `regex` extracts from `text` (group 1, else the whole match; `.some(nil)` when nothing matches), or nil
    /// when `text` is outside the subset.
    func extract(_ text: String) -> String?? {
        return TextFunctions.withBytes(text) { b -> String?? in
            guard let result = firstMatch(b) else { return nil }
            guard let (whole, group1) = result else { return .some(nil) }
            return .some(String(validUTF8: UnsafeBufferPointer(rebasing: b[group1 ?? whole])))
        }
    }

    /// Whether `text` contains a match, or nil when `text` is outside the subset.
    func matches(_ text: String) -> Bool? {
        return TextFunctions.withBytes(text) { b -> Bool? in firstMatch(b).map { $0 != nil } }
    }

    private func match(
        _ node: Node, _ t: UnsafeBufferPointer<UInt8>, _ pos: Int, _ caps: UnsafeMutableBufferPointer<Int>,
        _ k: (Int) -> Bool
    ) -> Bool {
        switch node {
        case .bytes(let set):
            return pos < t.count && set.contains(t[pos]) && k(pos + 1)
        case .start:
            return pos == 0 && k(pos)
        case .end:
            return pos == t.count && k(pos)
        case .sequence(let items):
            return sequence(items[...], t, pos, caps, k)
        case .alternation(let options):
            for o in options where match(o, t, pos, caps, k) { return true }
            return false
        case .group(let inner, let capture):
            guard let capture else { return match(inner, t, pos, caps, k) }
            return match(inner, t, pos, caps) { e in
                let (s0, e0) = (caps[2 * capture], caps[2 * capture + 1])
                caps[2 * capture] = pos
                caps[2 * capture + 1] = e
                if k(e) { return true }
                caps[2 * capture] = s0
                caps[2 * capture + 1] = e0
                return false
            }
        case .repetition(let inner, let min, let max, let lazy):
            return repetition(inner, min, max, lazy, 0, t, pos, caps, k)
        }
    }

    private func sequence(
        _ items: ArraySlice<Node>, _ t: UnsafeBufferPointer<UInt8>, _ pos: Int, _ caps: UnsafeMutableBufferPointer<Int>,
        _ k: (Int) -> Bool
    ) -> Bool {
        guard let first = items.first else { return k(pos) }
        return match(first, t, pos, caps) { p in sequence(items.dropFirst(), t, p, caps, k) }
    }

    // Bodies of repetitions never match empty (checked at compile time), so every iteration advances.
    private func repetition(
        _ inner: Node, _ min: Int, _ max: Int, _ lazy: Bool, _ count: Int, _ t: UnsafeBufferPointer<UInt8>,
        _ pos: Int, _ caps: UnsafeMutableBufferPointer<Int>, _ k: (Int) -> Bool
    ) -> Bool {
        if lazy {
            if count >= min && k(pos) { return true }
            return count < max
                && match(inner, t, pos, caps) { p in repetition(inner, min, max, lazy, count + 1, t, p, caps, k) }
        }
        if count < max
            && match(inner, t, pos, caps, { p in repetition(inner, min, max, lazy, count + 1, t, p, caps, k) })
        {
            return true
        }
        return count >= min && k(pos)
    }

    /// Recursive-descent reader of the subset.
    private struct Parser {
        let bytes: [UInt8]
        var i = 0
        var captureCount = 0

        mutating func alternation() -> Node? {
            var options: [Node] = []
            while true {
                guard let s = sequence() else { return nil }
                options.append(s)
                if i < bytes.count && bytes[i] == UInt8(ascii: "|") {
                    i += 1
                    continue
                }
                return options.count == 1 ? options[0] : .alternation(options)
            }
        }

        mutating func sequence() -> Node? {
            var items: [Node] = []
            while i < bytes.count && bytes[i] != UInt8(ascii: "|") && bytes[i] != UInt8(ascii: ")") {
                let c = bytes[i]
                if c == UInt8(ascii: "^") {
                    guard i == 0 else { return nil }
                    i += 1
                    items.append(.start)
                    continue
                }
                if c == UInt8(ascii: "$") {
                    guard i == bytes.count - 1 else { return nil }
                    i += 1
                    items.append(.end)
                    continue
                }
                guard let atom = atom() else { return nil }
                guard let q = quantified(atom) else { return nil }
                items.append(q)
            }
            return .sequence(items)
        }

        mutating func quantified(_ atom: Node) -> Node? {
            guard i < bytes.count else { return atom }
            var min = 0
            var max = Int.max
            switch bytes[i] {
            case UInt8(ascii: "*"): i += 1
            case UInt8(ascii: "+"):
                min = 1
                i += 1
            case UInt8(ascii: "?"):
                max = 1
                i += 1
            case UInt8(ascii: "{"):
                i += 1
                guard let lo = number() else { return nil }
                min = lo
                max = lo
                if i < bytes.count && bytes[i] == UInt8(ascii: ",") {
                    i += 1
                    max = number() ?? Int.max
                }
                guard i < bytes.count, bytes[i] == UInt8(ascii: "}"), min <= max else { return nil }
                i += 1
            default: return atom
            }
            var lazy = false
            if i < bytes.count && bytes[i] == UInt8(ascii: "?") {
                lazy = true
                i += 1
            }
            if i < bytes.count
                && (bytes[i] == UInt8(ascii: "+") || bytes[i] == UInt8(ascii: "*") || bytes[i] == UInt8(ascii: "{"))
            {
                return nil
            }
            guard !Parser.canBeEmpty(atom) else { return nil }
            return .repetition(atom, min: min, max: max, lazy: lazy)
        }

        mutating func number() -> Int? {
            var v = 0
            var digits = 0
            while i < bytes.count, bytes[i] >= 48, bytes[i] <= 57, digits < 4 {
                v = v * 10 + Int(bytes[i] - 48)
                i += 1
                digits += 1
            }
            return digits > 0 ? v : nil
        }

        mutating func atom() -> Node? {
            let c = bytes[i]
            switch c {
            case UInt8(ascii: "("):
                i += 1
                var capture: Int? = nil
                if i < bytes.count && bytes[i] == UInt8(ascii: "?") {
                    guard i + 1 < bytes.count, bytes[i + 1] == UInt8(ascii: ":") else { return nil }
                    i += 2
                } else {
                    capture = captureCount
                    captureCount += 1
                }
                guard let inner = alternation(), i < bytes.count, bytes[i] == UInt8(ascii: ")") else { return nil }
                i += 1
                return .group(inner, capture: capture)
            case UInt8(ascii: "["):
                i += 1
                return characterClass().map(Node.bytes)
            case UInt8(ascii: "."):
                i += 1
                return .bytes(ByteSet.any)
            case UInt8(ascii: "\\"):
                i += 1
                return escape().map(Node.bytes)
            case UInt8(ascii: ")"), UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: "?"), UInt8(ascii: "{"),
                UInt8(ascii: "}"),
                UInt8(ascii: "]"):
                return nil
            default:
                guard c >= 0x20 && c < 0x7F else { return nil }
                i += 1
                var s = ByteSet()
                s.insert(c)
                return .bytes(s)
            }
        }

        /// After a backslash: a class escape or an escaped punctuation character.
        mutating func escape() -> ByteSet? {
            guard i < bytes.count else { return nil }
            let c = bytes[i]
            i += 1
            switch c {
            case UInt8(ascii: "d"): return .digits
            case UInt8(ascii: "D"): return ByteSet.digits.inverted
            case UInt8(ascii: "w"): return .word
            case UInt8(ascii: "W"): return ByteSet.word.inverted
            case UInt8(ascii: "s"): return .space
            case UInt8(ascii: "S"): return ByteSet.space.inverted
            default:
                // Only punctuation may be escaped literally; letters and digits have other meanings (\b, \1, \p...).
                let punctuation =
                    (c >= 0x21 && c <= 0x2F) || (c >= 0x3A && c <= 0x40) || (c >= 0x5B && c <= 0x60)
                    || (c >= 0x7B && c <= 0x7E)
                guard punctuation else { return nil }
                var s = ByteSet()
                s.insert(c)
                return s
            }
        }

        mutating func characterClass() -> ByteSet? {
            var set = ByteSet()
            var negated = false
            if i < bytes.count && bytes[i] == UInt8(ascii: "^") {
                negated = true
                i += 1
            }
            var first = true
            while i < bytes.count {
                let c = bytes[i]
                if c == UInt8(ascii: "]") {
                    // An empty class or a leading ']' reads differently across regex dialects: not in the subset.
                    if first { return nil }
                    i += 1
                    return negated ? set.inverted : set
                }
                first = false
                // Nested classes, set operations (&& -- ~~) and POSIX classes are not in the subset.
                if c == UInt8(ascii: "[") { return nil }
                if (c == UInt8(ascii: "&") || c == UInt8(ascii: "-") || c == UInt8(ascii: "~")) && i + 1 < bytes.count
                    && bytes[i + 1] == c
                {
                    return nil
                }
                var low: UInt8
                if c == UInt8(ascii: "\\") {
                    i += 1
                    guard let e = escape() else { return nil }
                    if e.low.nonzeroBitCount + e.high.nonzeroBitCount != 1 {
                        set.formUnion(e)
                        continue
                    }
                    low = UInt8(e.low != 0 ? e.low.trailingZeroBitCount : 64 + e.high.trailingZeroBitCount)
                } else {
                    guard c >= 0x20 && c < 0x7F else { return nil }
                    low = c
                    i += 1
                }
                if i + 1 < bytes.count && bytes[i] == UInt8(ascii: "-") && bytes[i + 1] != UInt8(ascii: "]") {
                    i += 1
                    var high = bytes[i]
                    if high == UInt8(ascii: "\\") { return nil }
                    guard high >= 0x20 && high < 0x7F, low <= high else { return nil }
                    i += 1
                    set.insert(low...high)
                    high = 0
                } else {
                    set.insert(low)
                }
            }
            return nil
        }

        static func canBeEmpty(_ n: Node) -> Bool {
            switch n {
            case .bytes: false
            case .start, .end: true
            case .sequence(let items): items.allSatisfy(canBeEmpty)
            case .alternation(let options): options.contains(where: canBeEmpty)
            case .group(let inner, _): canBeEmpty(inner)
            case .repetition(let inner, let min, _, _): min == 0 || canBeEmpty(inner)
            }
        }
    }
}
