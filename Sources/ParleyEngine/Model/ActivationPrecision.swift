/// How the engine computes: the arithmetic of llama.cpp on the CPU, or plain float for verification.
public enum ActivationPrecision: Sendable, Hashable {
    /// Activations quantized to 8 bits per 32-element block before every product with quantized
    /// weights, integer dot products, an f16 KV cache (llama.cpp's arithmetic). Fast; the default.
    case int8
    /// Weights dequantized to `Float` at load time (about 4 bytes per weight in memory), float
    /// activations and a float KV cache: the model's plain float arithmetic, several times slower.
    /// Meant for checking the engine against a float reference, where exact greedy agreement holds
    /// (8-bit activations make greedy decoding depend on rounding at near-ties).
    case float32
}
