import ArgumentParser
import CRMDelivery
import CRMHub
import Foundation

/// `--config FILE`, shared by the subcommands that read the hub configuration.
struct ConfigOptions: ParsableArguments {
    @Option(name: [.short, .long], help: "Path to the hub configuration (YAML).")
    var config: String = "crmhub.yaml"

    /// Loads the configuration or prints every problem (file:line:column: message) and exits with code 2.
    func load() throws -> HubConfiguration {
        do {
            return try HubConfiguration.load(path: config)
        } catch {
            printError("configuration has \(error.problems.count) problem(s):\n\(error)")
            throw ExitCode(2)
        }
    }
}

func printError(_ text: String) {
    FileHandle.standardError.write(Data("crmhub: \(text)\n".utf8))
}
