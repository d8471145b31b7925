import ArgumentParser

/// The `parley` executable: subcommands only; the logic lives in the libraries.
@main
struct Parley: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "parley",
        abstract: "A self-hostable chat system on a cluster of Swift distributed actors.",
        subcommands: [
            NodeCommand.self,
            GenerateCommand.self,
            TokenizeCommand.self,
        ]
    )
}
