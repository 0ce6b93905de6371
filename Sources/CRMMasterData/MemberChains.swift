// CRMMasterData — which records each cluster holds, as chains of record indices.

/// The members of every cluster as chains of record indices: per record the next member of its cluster, per
/// cluster its first and last member and its size. No array per cluster (a million records in half a million
/// clusters cost 4 bytes a record and 12 a cluster instead of a heap array each), and a candidate cluster's first
/// member is one read away. Members keep the order they joined in.
struct MemberChains: Sendable {
    /// Per record: the next member of its cluster, or `end`.
    private var successor: [Int32] = []
    private var firsts: [Int32] = []
    private var lasts: [Int32] = []
    private var sizes: [Int32] = []

    /// The end of a chain (and the first member of an empty cluster).
    static let end: Int32 = -1

    /// Adds the slot of the next record index (records are numbered in the order they are added).
    mutating func addRecord() { successor.append(Self.end) }

    /// Adds the next cluster index, empty.
    mutating func addCluster() {
        firsts.append(Self.end)
        lasts.append(Self.end)
        sizes.append(0)
    }

    /// Makes room for `records` more records and `clusters` more clusters.
    mutating func reserve(records: Int, clusters: Int) {
        successor.reserveCapacity(successor.count + records)
        firsts.reserveCapacity(firsts.count + clusters)
        lasts.reserveCapacity(lasts.count + clusters)
        sizes.reserveCapacity(sizes.count + clusters)
    }

    /// The number of members of cluster `c`.
    @inline(__always) func count(_ c: Int32) -> Int { Int(sizes[Int(c)]) }

    /// The first member of cluster `c` (`end` when empty); walk on with `next(after:)`.
    @inline(__always) func first(_ c: Int32) -> Int32 { firsts[Int(c)] }

    /// The member after `m` in its cluster (`end` after the last).
    @inline(__always) func next(after m: Int32) -> Int32 { successor[Int(m)] }

    /// The members of cluster `c` in order (allocates: not for the hot path).
    func members(_ c: Int32) -> [Int32] {
        var out: [Int32] = []
        out.reserveCapacity(count(c))
        var m = first(c)
        while m != Self.end {
            out.append(m)
            m = successor[Int(m)]
        }
        return out
    }

    /// Adds record `i` (in no cluster) as the last member of cluster `c`.
    mutating func append(_ i: Int32, to c: Int32) {
        successor[Int(i)] = Self.end
        if lasts[Int(c)] == Self.end { firsts[Int(c)] = i } else { successor[Int(lasts[Int(c)])] = i }
        lasts[Int(c)] = i
        sizes[Int(c)] += 1
    }

    /// Moves every member of cluster `a` to the end of cluster `s` (in order); `a` is left empty.
    mutating func moveAll(from a: Int32, to s: Int32) {
        guard firsts[Int(a)] != Self.end else { return }
        if lasts[Int(s)] == Self.end {
            firsts[Int(s)] = firsts[Int(a)]
        } else {
            successor[Int(lasts[Int(s)])] = firsts[Int(a)]
        }
        lasts[Int(s)] = lasts[Int(a)]
        sizes[Int(s)] += sizes[Int(a)]
        set(a, [])
    }

    /// Makes `members` (in this order) the members of cluster `c`. Records listed here leave the chain they were in:
    /// the caller rewrites that cluster too (or it is `c` itself).
    mutating func set(_ c: Int32, _ members: [Int32]) {
        firsts[Int(c)] = members.first ?? Self.end
        lasts[Int(c)] = members.last ?? Self.end
        sizes[Int(c)] = Int32(members.count)
        for k in members.indices {
            successor[Int(members[k])] = k + 1 < members.count ? members[k + 1] : Self.end
        }
    }
}
