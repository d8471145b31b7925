extension GGUFFile {
    /// The architecture named by `general.architecture` (e.g. `"llama"`), if present.
    public var architecture: String? { string("general.architecture") }

    /// An integer metadata value of any integer type, or `nil` if missing or not an integer.
    public func int(_ key: String) -> Int? { metadata[key]?.intValue }

    /// A float metadata value (integers are converted), or `nil`.
    public func float(_ key: String) -> Float? { metadata[key]?.floatValue }

    /// A string metadata value, or `nil`.
    public func string(_ key: String) -> String? { metadata[key]?.stringValue }

    /// A bool metadata value, or `nil`.
    public func bool(_ key: String) -> Bool? { metadata[key]?.boolValue }

    /// An array of strings, or `nil` if missing or not all elements are strings.
    public func stringArray(_ key: String) -> [String]? {
        guard let array = metadata[key]?.arrayValue else { return nil }
        var result: [String] = []
        result.reserveCapacity(array.count)
        for element in array {
            guard let s = element.stringValue else { return nil }
            result.append(s)
        }
        return result
    }

    /// An array of integers, or `nil` if missing or not all elements are integers.
    public func intArray(_ key: String) -> [Int]? {
        guard let array = metadata[key]?.arrayValue else { return nil }
        var result: [Int] = []
        result.reserveCapacity(array.count)
        for element in array {
            guard let i = element.intValue else { return nil }
            result.append(i)
        }
        return result
    }

    /// An array of floats, or `nil` if missing or not all elements are numbers.
    public func floatArray(_ key: String) -> [Float]? {
        guard let array = metadata[key]?.arrayValue else { return nil }
        var result: [Float] = []
        result.reserveCapacity(array.count)
        for element in array {
            guard let f = element.floatValue else { return nil }
            result.append(f)
        }
        return result
    }

    /// An integer that must be present.
    /// - Throws: `.missingMetadata`.
    public func requireInt(_ key: String) throws -> Int {
        guard let value = int(key) else {
            throw EngineError(.missingMetadata, "'\(path)' lacks integer metadata '\(key)'")
        }
        return value
    }

    /// A string that must be present.
    /// - Throws: `.missingMetadata`.
    public func requireString(_ key: String) throws -> String {
        guard let value = string(key) else {
            throw EngineError(.missingMetadata, "'\(path)' lacks string metadata '\(key)'")
        }
        return value
    }
}
