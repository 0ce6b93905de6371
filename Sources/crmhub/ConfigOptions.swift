import ArgumentParser
import CRMDelivery
import CRMHub
import CRMRedaction
import Foundation
import Logging

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

/// Installs the configuration's redaction policy (one for both log formats, dead-letter reasons and error texts) and
/// bootstraps logging with it; exits with code 2 when the redaction key cannot be read.
func bootstrapLogging(
    _ configuration: HubConfiguration, level: Logger.Level, format: HubConfiguration.LogSettings.Format
) throws {
    let redaction: RedactionPolicy
    do {
        redaction = try configuration.redactionPolicy()
    } catch {
        printError(error.description)
        throw ExitCode(2)
    }
    RedactionPolicy.install(redaction)
    LoggingSystem.bootstrap { label in
        switch format {
        case .json: JSONLogHandler(label: label, level: level, redaction: redaction)
        case .text: TextLogHandler(label: label, level: level, redaction: redaction)
        }
    }
}
