import ArgumentParser

extension CRMHubCommand {
    /// Subcommands defined in their own files (mapping, dlq, batch, mdm, rules), registered here in one place.
    static var extraSubcommands: [any ParsableCommand.Type] {
        [MappingCommand.self, DlqCommand.self, MdmCommand.self, BatchCommand.self, RulesCommand.self]
    }
}
