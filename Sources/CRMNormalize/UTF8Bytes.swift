/// The UTF-8 bytes of a string for the byte-level normalisers.
enum UTF8Bytes {
    /// `body` over the UTF-8 bytes of `text`. Native and small strings lend their bytes as they are; `withUTF8` needs
    /// a mutable copy of the string (a retain and a release per call).
    @inline(__always)
    static func with<R>(_ text: String, _ body: (UnsafeBufferPointer<UInt8>) -> R) -> R {
        if let r = text.utf8.withContiguousStorageIfAvailable(body) { return r }
        var copy = text
        return copy.withUTF8(body)
    }
}
