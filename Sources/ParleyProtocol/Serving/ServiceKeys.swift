/// Receptionist keys under which the role actors register.
public enum ServiceKeys {
    /// Every `ModelAPI` actor, whatever its model.
    public static let modelAPI = "model-api"
    /// `ModelAPI` actors serving `model`.
    public static func modelAPI(_ model: String) -> String { "model-api/\(model)" }
    public static let modelProxy = "model-proxy"
    public static let workerPool = "worker-pool"
    public static let completion = "completion"
    public static let rateLimiter = "rate-limiter"
    public static let conversationStore = "conversation-store"
}
