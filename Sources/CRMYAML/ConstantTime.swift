/// Comparison of secrets (tokens, shared secrets) whose running time does not depend on where the inputs differ.
public enum ConstantTime {
    /// True when `presented` and `expected` hold the same bytes. Every byte of `presented` is visited whatever the
    /// contents, so a caller probing a token learns nothing from timing but, at most, whether the length is right.
    /// An empty `expected` (a secret file that was empty) matches nothing.
    public static func equals(_ presented: some Collection<UInt8>, _ expected: some Collection<UInt8>) -> Bool {
        let expectedBytes = Array(expected)
        var difference: UInt8 = presented.count == expectedBytes.count ? 0 : 1
        guard !expectedBytes.isEmpty else { return false }
        var index = 0
        for byte in presented {
            difference |= byte ^ expectedBytes[index % expectedBytes.count]
            index += 1
        }
        return difference == 0
    }
}
