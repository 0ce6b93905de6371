import Foundation

// Value kinds that every configuration file of the hub shares: Kafka topic names, delays, secret references and
// ingress paths. Each accessor throws a located ``YAMLError`` that says what was expected.

extension YAMLValue {
    /// A Kafka topic name: 1–249 characters of `[a-zA-Z0-9._-]`.
    public func topicName() throws(YAMLError) -> String {
        let name = try nonEmptyString()
        guard name.count <= 249, name != ".", name != "..",
            name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "." || $0 == "_" || $0 == "-") })
        else {
            throw error("'\(name)' is not a valid Kafka topic name (1-249 of a-z A-Z 0-9 . _ -)")
        }
        return name
    }

    /// A delay written with its unit: `500ms`, `30s`, `10m`, `1h`.
    public func delay() throws(YAMLError) -> Duration {
        let text = try nonEmptyString()
        let units: [(String, Int64)] = [("ms", 1), ("s", 1_000), ("m", 60_000), ("h", 3_600_000)]
        for (unit, factor) in units where text.hasSuffix(unit) {
            if let number = Int64(text.dropLast(unit.count)), number > 0 { return .milliseconds(number * factor) }
        }
        throw error("'\(text)' is not a delay such as 500ms, 30s, 10m or 1h")
    }

    /// A value that may be a secret reference (`${env:NAME}`, `${file:PATH}`) or a literal.
    public func secretValue() throws(YAMLError) -> SecretValue {
        SecretValue(parsing: try nonEmptyString())
    }

    /// A credential: must be a `${env:NAME}` or `${file:PATH}` reference, never written inline. `what` names it in
    /// the error ("the Tryton password").
    public func secretReference(_ what: String) throws(YAMLError) -> SecretValue {
        let secret = try secretValue()
        guard secret.isReference else {
            throw error("\(what) is a credential: write it as ${env:NAME} or ${file:PATH}, never inline")
        }
        return secret
    }

    /// An absolute HTTP path served by the ingress server, such as `/forms/contact`.
    public func ingressPath() throws(YAMLError) -> String {
        let path = try nonEmptyString()
        guard path.hasPrefix("/"),
            path.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "/-_.".contains($0)) })
        else {
            throw error("'\(path)' is not a path such as /forms/contact")
        }
        return path
    }
}

/// Gathers located problems so that one run of `validate` reports all of them.
public struct ProblemCollector: Sendable {
    public private(set) var problems: [YAMLError] = []

    public init() {}

    /// Records a problem.
    public mutating func add(_ problem: YAMLError) { problems.append(problem) }

    /// Runs `body`; a thrown problem is recorded and `nil` returned.
    public mutating func collect<T>(_ body: () throws(YAMLError) -> T) -> T? {
        do {
            return try body()
        } catch {
            problems.append(error)
            return nil
        }
    }
}
