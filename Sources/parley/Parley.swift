import ArgumentParser

/// The `parley` executable: subcommands only; the logic lives in the libraries.
@main
struct Parley: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "parley",
        abstract: "A self-hostable chat system on a cluster of Swift distributed actors.",
        subcommands: [
            DevCommand.self,
            NodeCommand.self,
            ClusterCommand.self,
            ChatCommand.self,
            ImportCommand.self,
            GenerateCommand.self,
            TokenizeCommand.self,
        ]
    )
}
