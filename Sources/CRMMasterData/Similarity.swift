// CRMMasterData — string similarity for fuzzy evidence.

/// Jaro-Winkler similarity on UTF-8 bytes (keys are already folded to ASCII by CRMNormalize).
public enum Similarity {
    /// Jaro-Winkler similarity in 0...1 with the standard prefix scale 0.1 over at most four characters.
    public static func jaroWinkler(_ a: String, _ b: String) -> Double {
        if a == b { return 1 }
        var x = a
        var y = b
        return x.withUTF8 { p in y.withUTF8 { q in jaroWinkler(p, q) } }
    }

    /// `jaroWinkler(a, b)` when it can reach `floor`; otherwise possibly a cheaper value below `floor`. The
    /// bound: Jaro ≤ (s/n + s/m + 1)/3 with s = min(n, m), and the Winkler bonus adds at most p·0.1·(1 − Jaro)
    /// for the common prefix p (≤ 4), so pairs of very different lengths are not compared byte by byte.
    static func jaroWinkler(_ a: String, _ b: String, atLeast floor: Double) -> Double {
        if a == b { return 1 }
        var x = a
        var y = b
        return x.withUTF8 { p in y.withUTF8 { q in jaroWinkler(p, q, atLeast: floor) } }
    }

    /// `jaroWinkler(a, b, atLeast:)` on UTF-8 bytes (equal bytes: 1).
    static func jaroWinkler(
        _ p: UnsafeBufferPointer<UInt8>, _ q: UnsafeBufferPointer<UInt8>, atLeast floor: Double
    )
        -> Double
    {
        let n = p.count
        let m = q.count
        if n == 0 || m == 0 { return n == m ? 1 : 0 }
        let s = Double(min(n, m))
        let jaro = (s / Double(n) + s / Double(m) + 1) / 3
        var prefix = 0
        while prefix < min(4, min(n, m)) && p[prefix] == q[prefix] { prefix += 1 }
        let bound = jaro + Double(prefix) * 0.1 * (1 - jaro)
        if bound < floor - 1e-9 { return -1 }
        if n == m && prefix == n { return 1 }
        if n == m, p.elementsEqual(q) { return 1 }
        return jaroWinkler(p, q)
    }

    static func jaroWinkler(_ a: UnsafeBufferPointer<UInt8>, _ b: UnsafeBufferPointer<UInt8>) -> Double {
        let n = a.count
        let m = b.count
        if n == 0 || m == 0 { return 0 }
        let window = max(0, max(n, m) / 2 - 1)
        // Keys are short; fixed stack-like buffers via withUnsafeTemporaryAllocation.
        return withUnsafeTemporaryAllocation(of: Bool.self, capacity: n + m) { flags in
            flags.initialize(repeating: false)
            var matches = 0
            for i in 0..<n {
                let lo = max(0, i - window)
                let hi = min(m - 1, i + window)
                if lo > hi { continue }
                for j in lo...hi where !flags[n + j] && a[i] == b[j] {
                    flags[i] = true
                    flags[n + j] = true
                    matches += 1
                    break
                }
            }
            if matches == 0 { return 0 }
            var t = 0
            var k = 0
            for i in 0..<n where flags[i] {
                while !flags[n + k] { k += 1 }
                if a[i] != b[k] { t += 1 }
                k += 1
            }
            let md = Double(matches)
            let jaro = (md / Double(n) + md / Double(m) + (md - Double(t / 2)) / md) / 3
            var prefix = 0
            while prefix < min(4, min(n, m)) && a[prefix] == b[prefix] { prefix += 1 }
            return jaro + Double(prefix) * 0.1 * (1 - jaro)
        }
    }
}
