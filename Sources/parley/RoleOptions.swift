import ArgumentParser
import Foundation

/// Options of the role services, shared by `parley node` and `parley dev`.
struct RoleOptions: ParsableArguments {
    @Option(help: "HTTP listen address HOST:PORT of the gateway role.") var http: String?
    @Option(
        name: .customLong("http-idle-timeout"),
        help: "Gateway: seconds a connection may send nothing while none of its answers streams (default 75).")
    var httpIdleTimeout: Double?
    @Option(help: "Data folder (conversation history, generation logs).") var data: String?
    @Option(
        help: """
            Model of the model role: smollm2 (default), gemma3-270m, synthetic, or a GGUF file path; \
            several separated by commas are served side by side (one engine each).
            """)
    var model: String?
    @Option(help: "Serve an OpenAI-compatible upstream server (vLLM, llama.cpp server, Ollama) instead.")
    var upstream: String?
    @Option(help: "Model names the upstream serves (comma-separated; default: asked from the upstream).")
    var upstreamModels: String?
    @Option(
        name: .customLong("synthetic-ttft"),
        help: "Synthetic model: time to first token, in milliseconds (reported as prompt progress every 500 ms).")
    var syntheticTTFT: Int = 20
    @Option(name: .customLong("synthetic-tps"), help: "Synthetic model: tokens per second.") var syntheticTPS: Double = 100
    @Option(name: .customLong("api-keys"), help: "Gateway API keys file: one `KEY USER-ID` pair a line, # comments.")
    var apiKeys: String?
    @Option(name: .customLong("oidc-issuer"), help: "Accept OIDC tokens from this issuer.") var oidcIssuer: String?
    @Option(name: .customLong("oidc-audience"), help: "Required audience of OIDC tokens.") var oidcAudience: String?
    @Option(name: .customLong("oidc-jwks"), help: "JWKS file path or https URL with the issuer's keys.") var oidcJWKS: String?
    @Option(name: .customLong("worker-slots"), help: "Inference slots per model of the worker role.") var workerSlots: Int?
    @Option(name: .customLong("rate-limit"), help: "Requests per minute per user (cluster-wide).") var rateLimit: Int?
    @Option(
        name: .customLong("stall-timeout"),
        help: "Proxy: seconds a model node may send nothing before the request moves to another (default 30).")
    var stallTimeout: Double?
    @Option(
        name: .customLong("generation-log-retention"),
        help: """
            Conversation: seconds the generation log of a finished answer is kept for resumes and \
            Idempotency-Key repeats (default 86400); the same on every conversation node.
            """)
    var generationLogRetention: Double?

    /// The models named in `--model` (comma-separated; `smollm2` when none is given).
    static func modelNames(_ model: String?) -> [String] {
        (model ?? "smollm2").split(separator: ",", omittingEmptySubsequences: false).map {
            $0.trimmingCharacters(in: .whitespaces)
        }
    }

    func validate() throws {
        if let workerSlots, workerSlots <= 0 { throw ValidationError("--worker-slots must be positive") }
        if let rateLimit, rateLimit <= 0 { throw ValidationError("--rate-limit must be positive") }
        if let stallTimeout, !(stallTimeout > 0) { throw ValidationError("--stall-timeout must be positive") }
        if let httpIdleTimeout, !(httpIdleTimeout > 0 && httpIdleTimeout <= 86_400) {
            throw ValidationError("--http-idle-timeout must be between 0 and 86400 seconds")
        }
        if let generationLogRetention, !(generationLogRetention >= 1 && generationLogRetention <= 315_360_000) {
            throw ValidationError("--generation-log-retention must be between 1 second and 10 years")
        }
        if let model {
            let names = Self.modelNames(model)
            if names.contains(where: \.isEmpty) || model.hasSuffix(",") {
                throw ValidationError("--model has an empty name in '\(model)'")
            }
            if Set(names).count != names.count { throw ValidationError("--model names '\(model)' twice") }
        }
        if syntheticTTFT < 0 { throw ValidationError("--synthetic-ttft must not be negative") }
        if !(syntheticTPS > 0) { throw ValidationError("--synthetic-tps must be positive") }
    }
}
