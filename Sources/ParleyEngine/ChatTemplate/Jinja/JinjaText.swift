/// A string value that remembers where each piece of it came from: the template (its literals,
/// `bos_token`, `eos_token`: may hold control tokens) or the chat's data (message contents and
/// roles, and anything derived from them: plain text).
///
/// Concatenation keeps the pieces apart; a substring (slice, strip, split) keeps each character's
/// origin; any other derived string is data if any of its sources was.
struct JinjaText {
    /// A run of characters with one origin.
    struct Segment: Hashable {
        var text: String
        var isData: Bool
    }

    private(set) var segments: [Segment]

    /// The empty string.
    init() { segments = [] }

    /// `text`, all of one origin.
    init(_ text: String, isData: Bool) {
        segments = text.isEmpty ? [] : [Segment(text: text, isData: isData)]
    }

    /// The characters, whatever their origin.
    var string: String { segments.count == 1 ? segments[0].text : segments.map(\.text).joined() }

    /// Whether any character came from the chat's data.
    var containsData: Bool { segments.contains(where: \.isData) }

    var isEmpty: Bool { segments.isEmpty }

    /// A string derived from this one (and `others`): data if any source contains data.
    func derived(_ text: String, from others: [JinjaText] = []) -> JinjaText {
        JinjaText(text, isData: containsData || others.contains(where: \.containsData))
    }

    /// Appends `other`, keeping its origins.
    mutating func append(_ other: JinjaText) {
        for segment in other.segments { append(segment) }
    }

    /// Appends a run, merged with the last one if of the same origin.
    mutating func append(_ segment: Segment) {
        guard !segment.text.isEmpty else { return }
        if let last = segments.last, last.isData == segment.isData {
            segments[segments.count - 1].text += segment.text
        } else {
            segments.append(segment)
        }
    }

    /// The concatenation, keeping origins.
    static func + (left: JinjaText, right: JinjaText) -> JinjaText {
        var out = left
        out.append(right)
        return out
    }

    /// The characters as Unicode scalars (Python indexes strings by code point).
    var scalars: [Unicode.Scalar] { Array(string.unicodeScalars) }

    /// The code points at `range`, each keeping its origin; `all` is ``scalars`` if the caller has it.
    func substring(_ range: Range<Int>, of all: [Unicode.Scalar]? = nil) -> JinjaText {
        if segments.count == 1 {
            // One origin (the usual case): slice the code points directly.
            let all = all ?? scalars
            let clamped = range.clamped(to: 0..<all.count)
            return JinjaText(String(String.UnicodeScalarView(all[clamped])), isData: segments[0].isData)
        }
        var out = JinjaText()
        var offset = 0
        for segment in segments {
            let count = segment.text.unicodeScalars.count
            let lower = max(range.lowerBound - offset, 0)
            let upper = min(range.upperBound - offset, count)
            if lower < upper {
                let scalars = segment.text.unicodeScalars
                let start = scalars.index(scalars.startIndex, offsetBy: lower)
                let end = scalars.index(start, offsetBy: upper - lower)
                out.append(Segment(text: String(scalars[start..<end]), isData: segment.isData))
            }
            offset += count
        }
        return out
    }

    /// The code points at `indices` (a stepped slice): derived.
    func picking(_ indices: [Int]) -> JinjaText {
        let all = scalars
        return derived(String(String.UnicodeScalarView(indices.map { all[$0] })))
    }
}
