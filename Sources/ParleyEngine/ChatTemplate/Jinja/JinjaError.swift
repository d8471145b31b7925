/// Why a template cannot be parsed or rendered.
struct JinjaError: Error, Sendable, CustomStringConvertible {
    enum Kind: Sendable {
        /// The text is not valid Jinja.
        case syntax
        /// Valid Jinja this interpreter does not implement (a statement, filter or test).
        case unsupported
        /// The template called `raise_exception(message)`.
        case raised
        /// Rendering failed the way jinja2 fails (an undefined value used, a type error).
        case render
    }

    /// What kind of failure this is.
    var kind: Kind
    /// What failed, in words for a person (for `raised`, the template's own message).
    var message: String

    init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    var description: String { message }
}
