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

extension String {
    /// The string of `utf8`, which must be valid UTF-8 (bytes a parser has checked, or a slice of a string's bytes
    /// that cuts no character's encoding): `String(decoding: utf8, as: UTF8.self)`, made at less cost when short.
    ///
    /// A text of up to 15 bytes (what a string holds inline) is copied into the string's own inline storage; ASCII is
    /// then taken without the second validation `String(decoding:as:)` makes. Longer texts are decoded as usual.
    @inline(__always)
    public init(validUTF8 utf8: UnsafeBufferPointer<UInt8>) {
        guard utf8.count <= 15 else {
            self = String(decoding: utf8, as: UTF8.self)
            return
        }
        self = String(unsafeUninitializedCapacity: utf8.count) { storage in
            if let source = utf8.baseAddress, let target = storage.baseAddress {
                JSONWriter.copy(source, to: target, count: utf8.count)
            }
            return utf8.count
        }
    }
}
