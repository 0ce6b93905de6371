import CRMDelivery
import CRMMapping
import CRMWorkflow
import Foundation

/// Cross-file checks shared by `validate` and `run`.
public enum HubValidation {
    /// Problems with the mappings the routes name: every mapping file in the folder must compile, and every
    /// mapping a route names must exist (each problem as file:line:column: message).
    public static func mappingProblems(_ configuration: HubConfiguration) -> [String] {
        let needed = configuration.routes.filter { $0.mapping != nil }
        let connectorMappings = configuration.connectors.flatMap { connector in
            connector.mappings.map { (connector, $0) }
        }
        let library: MappingLibrary
        do {
            library = try MappingLibrary.load(directory: configuration.mappingsDirectory)
        } catch {
            // A missing folder is only a problem when a route needs a mapping.
            if needed.isEmpty, connectorMappings.isEmpty,
                error.problems.allSatisfy({ $0.message == "mapping directory does not exist" })
            {
                return []
            }
            return error.problems.map(\.description)
        }
        var problems: [String] = []
        for route in needed where route.resolve {
            problems.append(
                "\(route.location): route '\(route.name)' has both mapping and resolve; map in one route and resolve in the next"
            )
        }
        for route in needed {
            guard let name = route.mapping else { continue }
            guard let mapping = library.mapping(named: name) else {
                problems.append(
                    "\(route.location): route '\(route.name)' names mapping '\(name)', which is not in \(configuration.mappingsDirectory)"
                )
                continue
            }
            if case .byOutput(let topics) = route.to {
                for entity in topics.keys
                where !mapping.entities.contains(where: { $0.lowercased() == entity.lowercased() }) {
                    problems.append(
                        "\(route.location): route '\(route.name)' sends output '\(entity)', but mapping '\(name)' produces \(mapping.entities.joined(separator: ", "))"
                    )
                }
            }
        }
        for (connector, name) in connectorMappings where library.mapping(named: name) == nil {
            problems.append(
                "\(connector.file):1:1: connector '\(connector.name)' names mapping '\(name)', which is not in \(configuration.mappingsDirectory)"
            )
        }
        return problems
    }

    /// Problems with the workflow rules: every rule file must load, and every route's `rule:` must name a
    /// lead-assignment rule.
    public static func ruleProblems(_ configuration: HubConfiguration) -> [String] {
        do {
            return try WorkflowRules.load(directory: configuration.rulesDirectory).problems(with: configuration)
        } catch {
            return error.problems.map(\.description)
        }
    }

    /// Problems with the Kafka settings that only show on this machine: every TLS file `kafka.security` names must
    /// be a readable file.
    public static func kafkaProblems(_ configuration: HubConfiguration) -> [String] {
        configuration.kafka.security.files.compactMap { setting, path in
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue else {
                return "\(configuration.file): kafka.security.\(setting): \(path) does not exist or is not a file"
            }
            guard FileManager.default.isReadableFile(atPath: path) else {
                return "\(configuration.file): kafka.security.\(setting): \(path) is not readable by this user"
            }
            return nil
        }
    }
}
