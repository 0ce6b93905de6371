// CRMWorkflow: the CRM workflow the hub runs from declarative rule files (the rules folder, `Rules/` by default):
// scheduled escalation of tickets and lead assignment by territory and workload. Automatic acknowledgements are an
// `smtp-sink` with a `when:` condition (see Connectors/README.md).

import CRMDelivery
import CRMYAML
import Foundation

/// One rule file of the rules folder.
public enum WorkflowRule: Sendable {
    /// A scheduled check that refers tickets to a service manager (see ``EscalationRule``).
    case escalation(EscalationRule)
    /// A route step that gives each new lead an owner (see ``LeadAssignmentRule``).
    case leadAssignment(LeadAssignmentRule)

    public var name: String {
        switch self {
        case .escalation(let rule): rule.name
        case .leadAssignment(let rule): rule.name
        }
    }

    /// The file the rule was read from.
    public var file: String {
        switch self {
        case .escalation(let rule): rule.file
        case .leadAssignment(let rule): rule.file
        }
    }

    /// Topics the rule reads or writes (created at start-up like the routes' topics).
    public var topics: [String] {
        switch self {
        case .escalation(let rule): [rule.ticketsTopic, rule.outputTopic] + (rule.customersTopic.map { [$0] } ?? [])
        case .leadAssignment: []  // a route step: its topics are the route's
        }
    }

    /// Reads one rule file.
    public init(path: String) throws(YAMLError) {
        let root = try YAMLDocument.load(path: path)
        let map = try root.mapping()
        let nameValue = try map.require("name")
        let name = try nameValue.nonEmptyString()
        guard name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "-_.".contains($0)) }) else {
            throw nameValue.error("rule names may use letters, digits, '-', '_' and '.' only")
        }
        switch try map.require("kind").oneOf(["escalation", "lead-assignment"]) {
        case "escalation": self = .escalation(try EscalationRule(map, name: name, file: path))
        default: self = .leadAssignment(try LeadAssignmentRule(map, name: name, file: path))
        }
    }
}

/// The rules of a folder, by name.
public struct WorkflowRules: Sendable {
    public let rules: [WorkflowRule]

    /// The rule called `name`.
    public func rule(named name: String) -> WorkflowRule? { rules.first { $0.name == name } }

    public var escalations: [EscalationRule] {
        rules.compactMap { if case .escalation(let rule) = $0 { rule } else { nil } }
    }

    /// Reads every `*.yaml` file of `directory` (sorted by name); a missing folder has no rules. All problems of all
    /// files are collected, each with its file, line and column.
    public static func load(directory: String) throws(WorkflowRuleError) -> WorkflowRules {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory) else {
            return WorkflowRules(rules: [])
        }
        var rules: [WorkflowRule] = []
        var problems: [YAMLError] = []
        var seen: [String: String] = [:]
        for name in names.sorted() where name.hasSuffix(".yaml") || name.hasSuffix(".yml") {
            let path = URL(fileURLWithPath: directory).appendingPathComponent(name).path
            do {
                let rule = try WorkflowRule(path: path)
                if let first = seen[rule.name] {
                    problems.append(
                        YAMLError(
                            "rule name '\(rule.name)' is also used by \(first)",
                            at: SourceLocation(file: path, line: 1, column: 1)))
                    continue
                }
                seen[rule.name] = path
                rules.append(rule)
            } catch {
                problems.append(error)
            }
        }
        guard problems.isEmpty else { throw WorkflowRuleError(problems: problems) }
        return WorkflowRules(rules: rules)
    }

    /// Problems between the rules (read from `rulesDirectory`) and the routes: a route's `rule:` must name a
    /// lead-assignment rule.
    public func problems(with routes: [RouteConfiguration], rulesDirectory: String) -> [String] {
        var problems: [String] = []
        for route in routes {
            guard let name = route.rule else { continue }
            switch rule(named: name) {
            case .leadAssignment: break
            case .escalation:
                problems.append(
                    "\(route.location): route '\(route.name)': rule '\(name)' is an escalation rule; it runs on its schedule, not as a route step"
                )
            case nil:
                problems.append("\(route.location): route '\(route.name)': no rule '\(name)' in \(rulesDirectory)")
            }
        }
        return problems
    }
}

/// Rule files with problems; each problem carries its file, line and column.
public struct WorkflowRuleError: Error, Sendable, CustomStringConvertible {
    public var problems: [YAMLError]
    public var description: String { problems.map(\.description).joined(separator: "\n") }
}
