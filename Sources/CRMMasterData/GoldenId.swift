// CRMMasterData — golden ids: how the graph makes them and stores them (as 64 bits; `ClusterTable` finds clusters
// by them).

/// Stable golden ids: "G" + 16 hex digits of FNV-1a 64 over the founding record's (system, external id),
/// so a bulk re-run over the same input yields the same ids.
enum GoldenId {
    static func make(_ ref: RecordRef, salt: Int = 0) -> String { format(hash(ref, salt: salt)) }

    /// The 64 bits behind `make(ref, salt:)`.
    static func hash(_ ref: RecordRef, salt: Int = 0) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        func add(_ b: UInt8) {
            h ^= UInt64(b)
            h = h &* 0x0000_0100_0000_01B3
        }
        for b in ref.system.utf8 { add(b) }
        add(0x1F)
        for b in ref.externalId.utf8 { add(b) }
        if salt != 0 { for b in "#\(salt)".utf8 { add(b) } }
        return h
    }

    /// "G" + the 16 lower-case hex digits of `h`.
    static func format(_ h: UInt64) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(17)
        append(h, to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    /// Appends `format(h)` as UTF-8.
    static func append(_ h: UInt64, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "G"))
        for k in (0..<16).reversed() {
            let nibble = UInt8(truncatingIfNeeded: h >> (4 * UInt64(k))) & 0xF
            out.append(nibble < 10 ? UInt8(ascii: "0") + nibble : UInt8(ascii: "a") + nibble - 10)
        }
    }

    /// The 64 bits of an id in exactly the form `format` writes; `nil` for any other text.
    static func parse(_ id: String) -> UInt64? {
        let u = id.utf8
        guard u.count == 17, u.first == UInt8(ascii: "G") else { return nil }
        var h: UInt64 = 0
        for b in u.dropFirst() {
            switch b {
            case 48...57: h = h << 4 | UInt64(b - 48)
            case 97...102: h = h << 4 | UInt64(b - 87)
            default: return nil
            }
        }
        return h
    }
}

/// A golden id as the graph stores it: the 64 bits of an id the graph made (`GoldenId.format`), or any other id
/// (written by another tool into a shared store) as text. The text of a made id is formatted when asked for, so
/// the graph holds no `String` per golden record. Every id has exactly one key (`init` parses canonically).
enum GoldenKey: Hashable, Sendable {
    case hashed(UInt64)
    case text(String)

    init(_ id: String) {
        if let h = GoldenId.parse(id) { self = .hashed(h) } else { self = .text(id) }
    }

    /// Appends the golden id as UTF-8.
    func append(to out: inout [UInt8]) {
        switch self {
        case .hashed(let h): GoldenId.append(h, to: &out)
        case .text(let s): out += s.utf8
        }
    }

    /// The golden id.
    var id: String {
        switch self {
        case .hashed(let h): GoldenId.format(h)
        case .text(let s): s
        }
    }
}
