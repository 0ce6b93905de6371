import CRMModel
import CRMYAML

/// A condition in the mapping language, compiled once, for use outside mappings: a sink's `when:`, a workflow rule.
///
/// The syntax is the one of a mapping's `filter` and `drop_when` (see `Mappings/README.md`): `{path: status, equals: new}`,
/// `{path: severity, in: [high, urgent]}`, `{path: subject, matches: "(?i)refund"}`, `{path: email, exists: true}`,
/// numeric `{path: value, at_least: 10000}` (`at_most`, `above`, `below`), and `all`/`any`/`not` around them.
/// `value:` instead of `path:` tests a computed value (`{value: {path: total, fn: [decimal]}, above: 0}`).
public struct RecordCondition: Sendable {
    let condition: any ConditionNode

    /// Compiles `value`; every problem in it is reported with its file, line and column.
    public init(compiling value: YAMLValue) throws(MappingLoadError) {
        var compiler = Compiler(file: value.file, directory: ".", resolveInclude: { _, _ in nil })
        let condition = compiler.cond(value)
        guard compiler.problems.isEmpty else { throw MappingLoadError(problems: compiler.problems) }
        self.condition = Lowering.unindexed.condition(condition)
    }

    /// Whether `record` satisfies the condition. A missing field is null: it equals nothing and compares false.
    /// Throws when a function in a `value:` expression fails on the record (the reason holds no personal data).
    public func matches(_ record: JSONValue) throws(RecordConditionError) -> Bool {
        do {
            return try condition.holds(Evaluator(root: record, lookup: nil), record)
        } catch {
            throw RecordConditionError(reason: error.reason, value: error.value)
        }
    }
}

/// A condition could not be evaluated on a record: `reason` says why, `value` describes the value (type and size only).
public struct RecordConditionError: Error, Sendable, CustomStringConvertible {
    public var reason: String
    public var value: String

    public var description: String { "condition failed: \(reason) (value: \(value))" }
}
