import ArgumentParser
import Foundation
import ParleyClient

/// `parley import …`: bring chats from elsewhere into the caller's account.
struct ImportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Import conversations from another chat service.",
        subcommands: [ImportChatGPTCommand.self])
}

/// `parley import chatgpt FILE --url URL [--api-key K]`: uploads a ChatGPT data export to
/// `POST /v1/conversations/import` and prints the counts. Importing the same file again adds nothing.
struct ImportChatGPTCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "chatgpt",
        abstract: "Import a ChatGPT data export (its conversations.json) into your account.")

    @Argument(help: "The export's conversations.json.")
    var file: String

    @Option(name: .customLong("url"), help: "Gateway base URL, e.g. http://127.0.0.1:8080 (repeat for fallbacks).")
    var urls: [String]

    @Option(help: "API key (default: $PARLEY_API_KEY).")
    var apiKey: String?

    @Flag(help: "Print the server's answer as JSON.")
    var json = false

    func validate() throws {
        guard !urls.isEmpty else { throw ValidationError("give the gateway with --url URL") }
    }

    func run() async throws {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: file))
        } catch {
            throw ValidationError("cannot read \(file): \(error.localizedDescription)")
        }
        guard data.first(where: { !" \n\r\t".utf8.contains($0) }) == UInt8(ascii: "[") else {
            throw ValidationError("\(file) is not a ChatGPT conversations.json (a JSON array); unzip the export first")
        }
        let key = apiKey ?? ProcessInfo.processInfo.environment["PARLEY_API_KEY"]
        let client = ParleyClient(configuration: .init(gatewayURLs: urls, apiKey: key, requestTimeout: .seconds(600)))
        let counts: ImportCounts
        do {
            counts = try await client.importChatGPT(export: Array(data))
            try await client.shutdown()
        } catch {
            try? await client.shutdown()
            FileHandle.standardError.write(Data("error: \(error)\n".utf8))
            throw ExitCode.failure
        }
        if json {
            let object: [String: Any] = [
                "conversations_imported": counts.conversationsImported,
                "conversations_skipped": counts.conversationsSkipped,
                "messages_imported": counts.messagesImported, "messages_skipped": counts.messagesSkipped,
                "warnings": counts.warnings,
            ]
            let text = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
            print(String(decoding: text, as: UTF8.self))
            return
        }
        print("conversations: \(counts.conversationsImported) imported, \(counts.conversationsSkipped) skipped")
        print("messages:      \(counts.messagesImported) imported, \(counts.messagesSkipped) skipped")
        for warning in counts.warnings { print("note: \(warning)") }
    }
}
