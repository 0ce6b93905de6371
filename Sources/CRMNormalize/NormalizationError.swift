/// A value that a normaliser could not bring into canonical form.
///
/// `kind` names the normaliser ("phone", "email", ...), `input` is the raw value and `reason` says what is wrong.
/// Callers that log this error should redact `input` (it is personal data).
public struct NormalizationError: Error, Sendable, CustomStringConvertible, Equatable {
    /// The normaliser that failed, e.g. `"phone"` or `"email"`.
    public var kind: String
    /// The raw input value (personal data: redact before logging).
    public var input: String
    /// Why the value was rejected.
    public var reason: String

    /// Creates an error for normaliser `kind` rejecting `input` because of `reason`.
    public init(kind: String, input: String, reason: String) {
        self.kind = kind
        self.input = input
        self.reason = reason
    }

    public var description: String { "invalid \(kind) '\(input)': \(reason)" }
}
