// CRMMasterData — remembered comparison levels of name-key pairs (the graph's hot path).

/// Where the compact comparisons get the level of a pair of name keys (given-name or family-name level):
/// computed every time (`NameLevelsComputed`) or remembered (`NameLevelMemo`).
protocol NameLevels {
    /// The level of the ordered pair (`x`, `y`) of name ids of one kind (`family`: family-name level, else
    /// given-name level), from `compute` unless remembered.
    mutating func level(family: Bool, _ x: UInt32, _ y: UInt32, _ compute: () -> Int) -> Int
    /// The same for other pairs of interned ids whose level depends on the two ids alone: `kind` tells the
    /// comparisons apart (`NameLevelKind`).
    mutating func level(kind: UInt64, _ x: UInt32, _ y: UInt32, _ compute: () -> Int) -> Int
}

/// The kinds of remembered pair levels (bits 63 and 31 of a memo key: ids are below 2^31).
enum NameLevelKind {
    static let given: UInt64 = 0
    static let family: UInt64 = 1 << 63
    /// City pairs (Jaro-Winkler ≥ 0.9) and street pairs (Jaro-Winkler ≥ 0.85).
    static let city: UInt64 = 1 << 31
    static let street: UInt64 = 1 << 63 | 1 << 31
}

extension NameLevels {
    @inline(__always) mutating func level(family: Bool, _ x: UInt32, _ y: UInt32, _ compute: () -> Int) -> Int {
        level(kind: family ? NameLevelKind.family : NameLevelKind.given, x, y, compute)
    }
}

/// No memory: every level is computed.
struct NameLevelsComputed: NameLevels {
    @inline(__always) mutating func level(kind: UInt64, _ x: UInt32, _ y: UInt32, _ compute: () -> Int) -> Int {
        compute()
    }
}

/// A direct-mapped cache of name-pair levels (and of city and street pairs). Candidate pairs repeat the same common names again and again, and
/// a level costs one or two Jaro-Winkler computations; here it is one table read. A level depends only on the
/// two ids (pools are append-only, an id's text never changes) and on the model's fuzzy threshold, so the owner
/// resets the memo when it changes the model.
struct NameLevelMemo: NameLevels, Sendable {
    /// Slots hold `key + 1` (0: empty) and the level.
    private var keys = [UInt64](repeating: 0, count: 1 << 16)
    private var levels = [UInt8](repeating: 0, count: 1 << 16)

    @inline(__always) mutating func level(kind: UInt64, _ x: UInt32, _ y: UInt32, _ compute: () -> Int) -> Int {
        // Ids are below 2^31 (pools hold fewer than 2^31 values), so bits 63 and 31 are free for the kind.
        let key = (UInt64(x) << 32 | UInt64(y) | kind) &+ 1
        var h = key &* 0x9E37_79B9_7F4A_7C15
        h ^= h >> 29
        let slot = Int(truncatingIfNeeded: h) & (keys.count - 1)
        if keys[slot] == key { return Int(levels[slot]) }
        let l = compute()
        keys[slot] = key
        levels[slot] = UInt8(l)
        return l
    }
}
