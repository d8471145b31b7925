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

/// The role names of `--roles`, as membership lists them.
public enum NodeRoles {
    public static let gateway = "gateway"
    public static let completion = "completion"
    public static let worker = "worker"
    public static let proxy = "proxy"
    public static let model = "model"
    public static let conversation = "conversation"
    /// Every role, in the order of a request's path and then the store.
    public static let all = [gateway, completion, worker, proxy, model, conversation]
}
