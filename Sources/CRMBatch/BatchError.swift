/// Why a batch run (or part of it) failed, with what it was doing and on which job or file.
public struct BatchError: Error, Sendable, CustomStringConvertible {
    /// The class of failure.
    public enum Kind: String, Sendable {
        /// The job definition is invalid.
        case configuration
        /// A local or drop-folder file could not be read, written, moved or published.
        case file
        /// Kafka refused or failed a read, produce or metadata call.
        case kafka
        /// The job state database failed.
        case state
        /// The file is unusable as a whole (for example its header does not match the job's columns).
        case input
        /// The run was cancelled (shutdown).
        case cancelled
    }

    public var kind: Kind
    public var message: String

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public var description: String { "\(kind.rawValue): \(message)" }
}
