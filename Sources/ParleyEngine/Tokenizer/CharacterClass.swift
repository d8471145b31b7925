/// The Unicode classes the pre-tokenizer regexes test: `\p{L}`, `\p{N}` and `\s`.
struct CharacterClass: OptionSet, Sendable {
    let rawValue: UInt8

    /// General category L* (Lu, Ll, Lt, Lm, Lo).
    static let letter = CharacterClass(rawValue: 1)
    /// General category N* (Nd, Nl, No).
    static let number = CharacterClass(rawValue: 2)
    /// The White_Space property (what `\s` matches).
    static let whitespace = CharacterClass(rawValue: 4)

    /// Precomputed classes of the ASCII range, the common case.
    private static let ascii: [CharacterClass] = (0..<128).map { classify(Unicode.Scalar(UInt8($0))) }

    /// The classes of one scalar.
    @inline(__always)
    static func of(_ scalar: Unicode.Scalar) -> CharacterClass {
        scalar.value < 128 ? ascii[Int(scalar.value)] : classify(scalar)
    }

    private static func classify(_ scalar: Unicode.Scalar) -> CharacterClass {
        var result: CharacterClass = []
        let properties = scalar.properties
        switch properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter:
            result.insert(.letter)
        case .decimalNumber, .letterNumber, .otherNumber:
            result.insert(.number)
        default:
            break
        }
        if properties.isWhitespace { result.insert(.whitespace) }
        return result
    }
}
