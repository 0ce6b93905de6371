import CRMMapping
import CRMModel
import CRMYAML

/// A sink connector's `when:`: which messages of its topic it delivers, written in the mapping condition language
/// (`{all: [{path: status, equals: new}]}`, see ``RecordCondition``). A message whose JSON value does not match is
/// skipped (committed like a delivered one, counted in `crmhub_sink_skipped_total{sink}`); a value that is not JSON,
/// or on which the condition cannot be evaluated, cannot be judged and goes to the dead-letter topic.
public struct SinkCondition: Sendable, Hashable {
    public let condition: RecordCondition
    /// Where the condition is written (`file:line:column`); identifies it for equality and logs.
    public let location: SourceLocation

    /// What to do with one message.
    public enum Decision: Sendable, Equatable {
        case deliver
        /// The value does not match: commit it without delivering.
        case skip
        /// The condition cannot judge the value (not JSON, an expression failed): a permanent failure, for the DLQ.
        case reject(reason: String)
    }

    /// Compiles `value`; throws the first problem (with its location) when it is not a valid condition.
    public init(compiling value: YAMLValue) throws(YAMLError) {
        do {
            condition = try RecordCondition(compiling: value)
        } catch {
            throw error.problems.first ?? YAMLError("not a valid condition", at: value.location)
        }
        location = value.location
    }

    /// The decision for a message value (the reason names no personal data: types and sizes only).
    public func decide(_ value: [UInt8]) -> Decision {
        let record: JSONValue
        do {
            record = try JSONValue.parse(value)
        } catch {
            return .reject(
                reason:
                    "when: the message is not JSON (\(error.kind.rawValue) at byte \(error.offset)), so the condition cannot judge it"
            )
        }
        do {
            return try condition.matches(record) ? .deliver : .skip
        } catch {
            return .reject(reason: "when: \(error.description)")
        }
    }

    public static func == (lhs: SinkCondition, rhs: SinkCondition) -> Bool { lhs.location == rhs.location }
    public func hash(into hasher: inout Hasher) { hasher.combine(location) }
}
