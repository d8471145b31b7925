import Foundation

/// Seeded generator of chat-like text: words drawn from a Zipf distribution over a vocabulary
/// of common English, technical terms and pronounceable made-up words, in sentences of varied
/// length with punctuation, so both the index and zstd see realistic statistics.
struct TextGenerator: RandomNumberGenerator {
    private var rng: SplitMix64
    let vocabulary: [String]
    private let cumulative: [Double]
    /// Recurring multi-word phrases (people and models repeat themselves), also Zipf-ranked.
    private var phrases: [String] = []

    private static let openers = [
        "Sure! Here's how you can do it.", "Great question.", "Let's break it down:", "Short answer: yes.",
        "It depends on what you need.", "Here is a step-by-step guide:", "Good catch, that's a common mistake.",
        "I can help with that.", "There are a few options:", "Thanks for the details.",
    ]
    private static let codeLines = [
        "let result = try await client.send(request)", "for item in items where item.isValid {", "    total += item.value",
        "}", "func handle(_ event: Event) throws -> Response {", "SELECT id, title FROM notes WHERE owner = ?;",
        "docker run --rm -p 8080:8080 app:latest", "print(\"done\")", "if let value = cache[key] { return value }",
        "import Foundation", "const data = await fetch(url).then(r => r.json());", "git commit -m \"fix: handle empty input\"",
    ]

    private static let common = """
        the be to of and a in that have i it for not on with he as you do at this but his by from they we say her she \
        or an will my one all would there their what so up out if about who get which go me when make can like time no \
        just him know take people into year your good some could them see other than then now look only come its over \
        think also back after use two how our work first well way even new want because any these give day most us is \
        was are been has had were said did made find where here thing many very through long down should need feel \
        help still try ask why might again problem question answer thanks please sure maybe example code error file \
        data list value function server client request response user message model token test build run deploy config
        """.split(separator: " ").map(String.init)

    private static let technical = """
        swift rust python kubernetes docker postgres sqlite index query cache latency throughput cluster node replica \
        partition snapshot stream async await actor thread mutex queue buffer socket http json yaml schema migration \
        compiler linker package module library framework benchmark profile memory allocation pointer array dictionary \
        string integer float vector matrix gradient tensor embedding transformer attention layer neural training \
        inference dataset recipe bread flour oven garden tomato travel flight hotel museum budget invoice contract \
        lawyer doctor symptom exercise marathon guitar chord melody novel chapter poem translation grammar vocabulary
        """.split(separator: " ").map(String.init)

    init(seed: UInt64, vocabularySize: Int = 30_000) {
        rng = SplitMix64(seed: seed)
        var words = Self.common + Self.technical
        var seen = Set(words)
        let onsets = ["b", "c", "d", "f", "g", "h", "k", "l", "m", "n", "p", "r", "s", "t", "v", "w", "z", "br", "cr",
                      "st", "tr", "pl", "gr", "sh", "ch", "th"]
        let vowels = ["a", "e", "i", "o", "u", "ai", "ea", "io", "ou"]
        let codas = ["", "n", "r", "s", "t", "l", "m", "ck", "nd", "st", "ng"]
        var wordRng = SplitMix64(seed: 0xC0FFEE)
        while words.count < vocabularySize {
            var word = ""
            for _ in 0..<(1 + Int(wordRng.next() % 3)) {
                word += onsets[Int(wordRng.next() % UInt64(onsets.count))]
                word += vowels[Int(wordRng.next() % UInt64(vowels.count))]
                word += codas[Int(wordRng.next() % UInt64(codas.count))]
            }
            if seen.insert(word).inserted { words.append(word) }
        }
        vocabulary = words
        var total = 0.0
        cumulative = (1...words.count).map { rank in
            total += 1 / Double(rank)
            return total
        }
        var phraseRng = TextGenerator.Phrases(seed: 0xFACE)
        phrases = (0..<3_000).map { _ in
            (0..<(2 + Int(phraseRng.next() % 5))).map { _ in self.word(using: &phraseRng) }.joined(separator: " ")
        }
    }

    private typealias Phrases = SplitMix64

    private func word(using rng: inout SplitMix64) -> String {
        let target = Double(rng.next() % 1_000_000) / 1_000_000 * cumulative[cumulative.count - 1]
        var low = 0
        var high = cumulative.count - 1
        while low < high {
            let mid = (low + high) / 2
            if cumulative[mid] < target { low = mid + 1 } else { high = mid }
        }
        return vocabulary[low]
    }

    private mutating func phrase() -> String {
        // Zipf over phrases too: a few are very common.
        let rank = Int(Double(phrases.count) * pow(Double(rng.next() % 1_000_000) / 1_000_000, 3))
        return phrases[min(rank, phrases.count - 1)]
    }

    /// An assistant-style answer: an opener, prose, sometimes a list or a code block.
    mutating func answer(minWords: Int, maxWords: Int) -> String {
        var parts: [String] = []
        if rng.next() % 10 < 4 { parts.append(Self.openers[Int(rng.next() % UInt64(Self.openers.count))]) }
        parts.append(message(minWords: minWords, maxWords: maxWords))
        if rng.next() % 4 == 0 {
            let items = (0..<(3 + Int(rng.next() % 3))).map { i in
                "\(i + 1). **\(word().capitalized)**: \(message(minWords: 4, maxWords: 14))"
            }
            parts.append(items.joined(separator: "\n"))
        }
        if rng.next() % 8 == 0 {
            let lines = (0..<(2 + Int(rng.next() % 5))).map { _ in Self.codeLines[Int(rng.next() % UInt64(Self.codeLines.count))] }
            parts.append("```\n" + lines.joined(separator: "\n") + "\n```")
        }
        return parts.joined(separator: "\n\n")
    }

    mutating func next() -> UInt64 { rng.next() }

    mutating func word() -> String {
        let target = Double(rng.next() % 1_000_000) / 1_000_000 * cumulative[cumulative.count - 1]
        var low = 0
        var high = cumulative.count - 1
        while low < high {
            let mid = (low + high) / 2
            if cumulative[mid] < target { low = mid + 1 } else { high = mid }
        }
        return vocabulary[low]
    }

    /// A message of `min...max` words in sentences.
    mutating func message(minWords: Int = 4, maxWords: Int = 90) -> String {
        let count = minWords + Int(rng.next() % UInt64(maxWords - minWords + 1))
        var out = ""
        var sentenceLength = 0
        var i = 0
        while i < count {
            var w = rng.next() % 100 < 55 ? phrase() : word()
            i += w.split(separator: " ").count
            if sentenceLength == 0 { w = w.prefix(1).uppercased() + w.dropFirst() }
            out += w
            sentenceLength += 1
            if i >= count {
                out += rng.next() % 4 == 0 ? "?" : "."
            } else if sentenceLength > 4 && rng.next() % 9 == 0 {
                out += [". ", "? ", "! ", ", "][Int(rng.next() % 4)]
                if !out.hasSuffix(", ") { sentenceLength = 0 }
            } else {
                out += " "
            }
        }
        return out
    }
}

struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Latency samples → percentiles.
struct Samples {
    private(set) var values: [Double] = []
    mutating func add(_ value: Double) { values.append(value) }
    func percentile(_ p: Double) -> Double {
        guard !values.isEmpty else { return .nan }
        let sorted = values.sorted()
        return sorted[min(sorted.count - 1, Int((p / 100 * Double(sorted.count)).rounded(.up)) - 1)]
    }
}

extension Duration {
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}
