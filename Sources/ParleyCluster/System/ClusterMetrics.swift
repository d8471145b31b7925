import CoreMetrics

/// The runtime's metrics, labelled by node. Names are stable; dimensions are few and fixed.
struct ClusterMetrics: Sendable {
    let callsSent: Counter
    let callsReceived: Counter
    let callFailures: Counter
    let callLatency: Timer
    let bytesSent: Counter
    let bytesReceived: Counter
    let badFrames: Counter
    let connections: Meter
    let streamElementsSent: Counter

    init(node: String) {
        let dimensions = [("node", node)]
        callsSent = Counter(label: "parley_cluster_calls_sent_total", dimensions: dimensions)
        callsReceived = Counter(label: "parley_cluster_calls_received_total", dimensions: dimensions)
        callFailures = Counter(label: "parley_cluster_call_failures_total", dimensions: dimensions)
        callLatency = Timer(label: "parley_cluster_call_duration_seconds", dimensions: dimensions)
        bytesSent = Counter(label: "parley_cluster_bytes_sent_total", dimensions: dimensions)
        bytesReceived = Counter(label: "parley_cluster_bytes_received_total", dimensions: dimensions)
        badFrames = Counter(label: "parley_cluster_bad_frames_total", dimensions: dimensions)
        connections = Meter(label: "parley_cluster_connections", dimensions: dimensions)
        streamElementsSent = Counter(label: "parley_cluster_stream_elements_sent_total", dimensions: dimensions)
    }
}

extension Duration {
    /// The duration in whole nanoseconds (saturating).
    var nanoseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds.multipliedReportingOverflow(by: 1_000_000_000).overflow
            ? .max : seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }

    /// The duration in whole milliseconds.
    var milliseconds: Int64 { nanoseconds / 1_000_000 }
}
