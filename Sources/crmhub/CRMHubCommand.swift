// crmhub: the command-line entry point. `crmhub run` starts the daemon; the other subcommands inspect and operate it.

import ArgumentParser

@main
struct CRMHubCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "crmhub",
        abstract: "An integration hub for CRM on Kafka: routes customer, order and ticket messages between systems.",
        discussion: """
            Start with `crmhub validate --config deploy/demo/crmhub.yaml`, then `crmhub run --config ...`.
            The admin server answers /healthz, /readyz and /metrics on the configured http.port.
            """,
        version: CRMHubVersion.current,
        subcommands: [RunCommand.self, ValidateCommand.self, VersionCommand.self] + extraSubcommands
    )
}

enum CRMHubVersion {
    static let current = "0.1.0"
}
