extension StringProtocol where UTF8View: BidirectionalCollection {
    /// The text without leading and trailing whitespace (`Character.isWhitespace`: spaces, tabs, line breaks and
    /// the Unicode space separators), as a slice of it: no copy and no Foundation (whose `trimmingCharacters(in:)`
    /// goes through `NSString` and UTF-16 on Linux). Text that starts and ends with a visible ASCII character is
    /// returned after two byte checks.
    public func trimmingWhitespace() -> SubSequence {
        var start = startIndex
        var end = endIndex
        if let first = utf8.first, let last = utf8.last, first > 0x20, first < 0x80, last > 0x20, last < 0x80 {
            return self[start..<end]
        }
        while start < end, self[start].isWhitespace { start = index(after: start) }
        while start < end {
            let before = index(before: end)
            guard self[before].isWhitespace else { break }
            end = before
        }
        return self[start..<end]
    }
}
