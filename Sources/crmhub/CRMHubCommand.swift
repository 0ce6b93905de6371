// crmhub: the command-line entry point. `crmhub run` starts the daemon; the other subcommands inspect and operate it.

import ArgumentParser
import CRMIngress
import Glibc

@main
struct CRMHubCommand: AsyncParsableCommand {
    /// Ignores SIGPIPE before anything runs: a peer closing a socket (a scraper, a webhook sender, a broker) must make
    /// the write fail with EPIPE, not kill the process.
    static func main() async {
        signal(SIGPIPE, SIG_IGN)
        // As many event loops as CPUs the hub may run on (a pinned hub ran two loops on one core).
        EventLoopThreads.matchCPUAffinity()
        do {
            var command = try parseAsRoot()
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            exit(withError: error)
        }
    }

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

/// crmhub's version, in one place: `crmhub --version`, `crmhub version`, the start-up log line and the
/// `crmhub_build_info` metric read it.
enum CRMHubVersion {
    static let current = "0.1.0"
    /// The source revision the binary was built from; not stamped at build time (no build script), so `unknown`.
    static let revision = "unknown"
    /// The Swift language version of the compiler that built the binary.
    static var swift: String {
        #if compiler(>=6.3)
            return "6.3"
        #elseif compiler(>=6.2)
            return "6.2"
        #elseif compiler(>=6.1)
            return "6.1"
        #else
            return "6.0"
        #endif
    }
}
