import Foundation
import Testing

@testable import ParleyEngine

/// SentencePiece vocabularies (`tokenizer.ggml.model == "llama"`): a small model trained by the
/// `sentencepiece` package, stored in a GGUF file, must tokenize exactly like the package itself.
@Suite(.enabled(if: SentencePieceReference.isAvailable, "needs python3 with sentencepiece and gguf"))
struct SentencePieceReferenceTests {
    struct EncodeRequest: Encodable {
        var mode = "encode"
        var model: String
        var texts: [String]
    }

    @Test func idsMatchSentencePiece() throws {
        let (model, tokenizer) = try SentencePieceReference.trained.get()
        var generator = SplitMix64(seed: 11)
        let random = (0..<200).map { _ in
            (0..<Int.random(in: 1...16, using: &generator))
                .map { _ in TokenizerFuzzReferenceTests.pieces.randomElement(using: &generator)! }.joined()
        }
        let texts = HardStrings.all + random + ["The quick brown fox", "fibonacci(n - 1)", "  Paris.  "]
        let expected = try ReferenceEnvironment.run(
            "spm_reference.py", EncodeRequest(model: model, texts: texts), as: [[Int32]].self
        )
        for (text, ids) in zip(texts, expected) {
            let actual = tokenizer.encode(text)
            #expect(actual == ids, "\(text.debugDescription)")
            // Decoding gives the text back, with the space SentencePiece puts in front.
            #expect(tokenizer.decode(actual) == (text.isEmpty ? "" : " " + text))
        }
    }

    @Test func specialTokensStartANewSpacePrefixedRun() throws {
        let (model, tokenizer) = try SentencePieceReference.trained.get()
        let bos = try #require(tokenizer.bosID)
        let eos = try #require(tokenizer.eosID)
        #expect(tokenizer.addsBOS && tokenizer.endOfGenerationIDs.contains(eos))
        let pieces = try ReferenceEnvironment.run(
            "spm_reference.py", EncodeRequest(model: model, texts: ["hello", "x y"]), as: [[Int32]].self
        )
        #expect(tokenizer.encode("<s>hello</s>x y", parseSpecial: true) == [bos] + pieces[0] + [eos] + pieces[1])
        #expect(!tokenizer.encode("<s>hello").contains(bos))
        #expect(tokenizer.encode([TextPart("hello")], addBOS: true) == [bos] + pieces[0])
    }
}

enum SentencePieceReference {
    static let isAvailable: Bool =
        ReferenceEnvironment.isAvailable
        && (try? ReferenceEnvironment.runProcess(["python3", "-c", "import sentencepiece"], input: Data()))?.status == 0

    struct BuildRequest: Encodable {
        var mode = "build"
        var directory: String
    }

    struct Built: Decodable {
        var gguf: String
        var model: String
    }

    /// The trained model's path and the tokenizer read from its GGUF file.
    static let trained: Result<(model: String, tokenizer: Tokenizer), any Error> = Result {
        let built = try ReferenceEnvironment.run(
            "spm_reference.py", BuildRequest(directory: TemporaryFile.directory + "/spm"), as: Built.self
        )
        return (built.model, try Tokenizer(gguf: GGUFFile(path: built.gguf)))
    }
}
