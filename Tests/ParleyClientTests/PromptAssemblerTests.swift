import ParleyClient
import Testing

@Suite struct PromptAssemblerTests {
    @Test func aPastedParagraphIsOneMessageWithWhatIsTypedAfterIt() {
        var assembler = PromptAssembler()
        #expect(assembler.add("\u{1B}[200~first line") == .incomplete)
        #expect(assembler.prompt == "")
        #expect(assembler.add("second line") == .incomplete)
        #expect(assembler.add("last line\u{1B}[201~ — what do you think?") == .message("first line\nsecond line\nlast line — what do you think?"))
        #expect(assembler.prompt == "> ")
        // A one-line paste, and text typed before it.
        #expect(assembler.add("Fix: \u{1B}[200~x = 1\u{1B}[201~") == .message("Fix: x = 1"))
        // A paste that starts with a slash is a message, not a command.
        #expect(assembler.add("\u{1B}[200~/etc/hosts\u{1B}[201~") == .message("/etc/hosts"))
    }

    @Test func aFencedBlockIsOneMessageAndOtherLinesStandAlone() {
        var assembler = PromptAssembler()
        #expect(assembler.add("/list") == .line("/list"))
        #expect(assembler.add("  \"\"\"  ") == .incomplete)
        #expect(assembler.prompt == "… ")
        #expect(assembler.add("def f():") == .incomplete)
        #expect(assembler.add("    return 1") == .incomplete)
        #expect(assembler.add("\"\"\"") == .message("def f():\n    return 1"))
        #expect(assembler.add("hello") == .line("hello"))
    }

    @Test func theEndOfInputInsideABlockKeepsWhatWasGathered() {
        var assembler = PromptAssembler()
        #expect(assembler.flush() == nil)
        _ = assembler.add("\"\"\"")
        _ = assembler.add("unfinished")
        #expect(assembler.flush() == "unfinished")
        #expect(assembler.prompt == "> ")
        _ = assembler.add("\"\"\"")
        #expect(assembler.flush() == nil)
    }
}
