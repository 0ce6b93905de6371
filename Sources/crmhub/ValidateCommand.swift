import ArgumentParser
import CRMDelivery
import CRMHub

struct ValidateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "validate",
        abstract: "Check the hub configuration, its mappings and connectors without running anything.",
        discussion:
            "Exit code 0 when everything is valid, 2 when a file has problems (each printed as file:line:column).")

    @OptionGroup var options: ConfigOptions

    func run() throws {
        let configuration = try options.load()
        var problems: [String] = []
        problems += HubValidation.mappingProblems(configuration)
        problems += HubValidation.ruleProblems(configuration)
        problems += HubValidation.kafkaProblems(configuration)
        if !problems.isEmpty {
            printError("\(problems.count) problem(s):\n" + problems.joined(separator: "\n"))
            throw ExitCode(2)
        }
        print("\(configuration.file): ok (\(configuration.routes.count) route(s))")
    }
}
