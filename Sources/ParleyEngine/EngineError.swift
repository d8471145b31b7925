/// An error thrown by the engine: reading a model file, tokenizing, rendering a chat, fetching a model.
///
/// Callers branch on ``code``; ``message`` says what went wrong in words meant for a person, and
/// ``cause`` carries an underlying error when there is one. The throw location is recorded so
/// logs can point at it.
public struct EngineError: Error, Sendable, CustomStringConvertible {
    /// An open set of error codes. Other parts of the engine add their own codes in extensions.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        /// The stable name of the code, e.g. `"truncatedFile"`.
        public let name: String

        /// Creates a code with a stable name.
        public init(_ name: String) { self.name = name }

        /// The stable name.
        public var description: String { name }

        /// The file could not be opened, read or mapped.
        public static let fileUnreadable = Code("fileUnreadable")
        /// The file does not start with the GGUF magic or has an unsupported version.
        public static let notGGUF = Code("notGGUF")
        /// The file ends before a structure it declares.
        public static let truncatedFile = Code("truncatedFile")
        /// The file declares something impossible (bad value type, overflow, misaligned data).
        public static let corruptFile = Code("corruptFile")
        /// A tensor has a type this engine cannot read.
        public static let unsupportedTensorType = Code("unsupportedTensorType")
        /// The model's `general.architecture` is not one the engine runs.
        public static let unsupportedArchitecture = Code("unsupportedArchitecture")
        /// A required metadata key is missing or has the wrong type.
        public static let missingMetadata = Code("missingMetadata")
        /// A tensor was asked for by a name the file does not have, or a row index is out of range.
        public static let tensorNotFound = Code("tensorNotFound")
        /// The tokenizer in the file is of a kind or pre-tokenizer the engine does not implement.
        public static let unsupportedTokenizer = Code("unsupportedTokenizer")
        /// The chat template in the file is not one the engine can render.
        public static let unsupportedChatTemplate = Code("unsupportedChatTemplate")
        /// Fetching the model failed (pip missing, no network, bad download).
        public static let modelFetchFailed = Code("modelFetchFailed")
        /// A downloaded model does not have the expected size or sha256.
        public static let checksumMismatch = Code("checksumMismatch")
        /// The model name is neither a known model nor an existing file.
        public static let unknownModel = Code("unknownModel")
    }

    /// What kind of error this is.
    public var code: Code
    /// A human-readable explanation.
    public var message: String
    /// The underlying error, if any.
    public var cause: (any Error)?
    /// Where the error was thrown.
    public var location: SourceLocation

    /// Where an error was thrown.
    public struct SourceLocation: Sendable, Hashable {
        /// The file (as `#fileID`).
        public var file: String
        /// The line.
        public var line: Int
    }

    /// Creates an error; `file` and `line` default to the call site.
    public init(
        _ code: Code,
        _ message: String,
        cause: (any Error)? = nil,
        file: String = #fileID,
        line: Int = #line
    ) {
        self.code = code
        self.message = message
        self.cause = cause
        self.location = SourceLocation(file: file, line: line)
    }

    /// `code: message`, followed by the cause if there is one.
    public var description: String {
        var text = "\(code): \(message)"
        if let cause { text += " (cause: \(cause))" }
        return text
    }
}
