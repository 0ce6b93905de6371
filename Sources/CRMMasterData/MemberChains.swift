// CRMMasterData — which records each cluster holds, as chains of record indices.

/// The members of every cluster as chains of record indices: per record the next member of its cluster, per
/// cluster its first and last member and its size. No array per cluster (a million records in half a million
/// clusters cost 4 bytes a record and 12 a cluster instead of a heap array each), and a candidate cluster's first
/// member is one read away. Members keep the order they joined in.
struct MemberChains: Sendable {
    /// One cluster's chain: its first and last member (`end` when empty) and its size, side by side so that
    /// scoring gets the first member and the size of a candidate cluster from one cache line.
    private struct Chain {
        var first: Int32 = MemberChains.end
        var last: Int32 = MemberChains.end
        var size: Int32 = 0
    }

    /// Per record: the next member of its cluster, or `end`.
    private var successor: [Int32] = []
    /// Per cluster.
    private var chains: [Chain] = []

    /// The end of a chain (and the first member of an empty cluster).
    static let end: Int32 = -1

    /// Adds the slot of the next record index (records are numbered in the order they are added).
    mutating func addRecord() { successor.append(Self.end) }

    /// Adds the next cluster index, empty.
    mutating func addCluster() { chains.append(Chain()) }

    /// Makes room for `records` more records and `clusters` more clusters.
    mutating func reserve(records: Int, clusters: Int) {
        successor.reserveCapacity(successor.count + records)
        chains.reserveCapacity(chains.count + clusters)
    }

    /// The number of members of cluster `c`.
    @inline(__always) func count(_ c: Int32) -> Int { Int(chains[Int(c)].size) }

    /// The first member of cluster `c` (`end` when empty); walk on with `next(after:)`.
    @inline(__always) func first(_ c: Int32) -> Int32 { chains[Int(c)].first }

    /// The first member and the size of cluster `c` (one read).
    @inline(__always) func firstAndCount(_ c: Int32) -> (first: Int32, count: Int) {
        let chain = chains[Int(c)]
        return (chain.first, Int(chain.size))
    }

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
        let last = chains[Int(c)].last
        if last == Self.end { chains[Int(c)].first = i } else { successor[Int(last)] = i }
        chains[Int(c)].last = i
        chains[Int(c)].size += 1
    }

    /// Moves every member of cluster `a` to the end of cluster `s` (in order); `a` is left empty.
    mutating func moveAll(from a: Int32, to s: Int32) {
        let moved = chains[Int(a)]
        guard moved.first != Self.end else { return }
        if chains[Int(s)].last == Self.end {
            chains[Int(s)].first = moved.first
        } else {
            successor[Int(chains[Int(s)].last)] = moved.first
        }
        chains[Int(s)].last = moved.last
        chains[Int(s)].size += moved.size
        set(a, [])
    }

    /// Makes `members` (in this order) the members of cluster `c`. Records listed here leave the chain they were in:
    /// the caller rewrites that cluster too (or it is `c` itself).
    mutating func set(_ c: Int32, _ members: [Int32]) {
        chains[Int(c)] = Chain(
            first: members.first ?? Self.end, last: members.last ?? Self.end, size: Int32(members.count))
        for k in members.indices {
            successor[Int(members[k])] = k + 1 < members.count ? members[k + 1] : Self.end
        }
    }
}
