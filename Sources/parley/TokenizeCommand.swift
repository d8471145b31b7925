import ArgumentParser
import Foundation
import ParleyEngine

/// `parley tokenize`: prints the token ids of a text for a model's tokenizer.
struct TokenizeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tokenize",
        abstract: "Print the token ids of a text.",
        discussion: """
            Special tokens such as <|im_start|> are treated as plain text unless --special is given.
            With --json the output is {"ids": [...], "pieces": [...]}.
            """
    )

    @Option(name: .long, help: "A known model name (smollm2, gemma3-270m) or the path of a GGUF file.")
    var model: String = "smollm2"

    @Flag(name: .long, help: "Recognise special tokens (e.g. <|im_start|>) in the text.")
    var special = false

    @Flag(name: .long, help: "Print {\"ids\": [...], \"pieces\": [...]} as JSON.")
    var json = false

    @Argument(help: "The text to tokenize.")
    var text: String

    struct Output: Encodable {
        var ids: [Int32]
        var pieces: [String]
    }

    func run() async throws {
        let path = try ModelStore().resolve(model)
        let tokenizer = try Tokenizer(gguf: GGUFFile(path: path))
        let ids = tokenizer.encode(text, parseSpecial: special)
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            let pieces = ids.map { tokenizer.piece($0, renderSpecial: true) }
            let data = try encoder.encode(Output(ids: ids, pieces: pieces))
            print(String(decoding: data, as: UTF8.self))
        } else {
            print(ids.map(String.init).joined(separator: " "))
        }
    }
}
