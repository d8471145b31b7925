import Foundation
import ParleyCluster

/// A call envelope's fields as a Codable value (the runtime writes its envelopes by hand; arguments
/// and values go through the Codable encoder compared here).
struct EnvelopeSample: Codable, Equatable {
    var callID: UInt64
    var budgetMillis: UInt32
    var recipientPath: String
    var target: String
    /// Key-value pairs, as the runtime's envelope carries them.
    var headers: [[String]]
    var arguments: [[UInt8]]
    var node: ClusterNode
}

/// Binary codec vs Foundation JSON on a typical envelope and on a membership ping.
func benchCodec(into report: inout Report) {
    print("codec (binary vs JSON)…")
    let envelope = EnvelopeSample(
        callID: 123_456, budgetMillis: 30_000, recipientPath: "/user/completion",
        target: "$s14ParleyProtocol10CompletionC8complete7requestAA8ResponseVAA7RequestV_tYaKFTE",
        headers: [["traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"], ["request-id", "req-42"]],
        arguments: [Array(repeating: 7, count: 64), [1, 2, 3, 4]],
        node: ClusterNode(name: "gateway-1", address: NodeAddress(host: "10.0.0.12", port: 7400), uid: 0xDEAD_BEEF))
    let origin = Membership.Member(
        node: envelope.node, roles: ["gateway"], region: "eu", status: .alive, incarnation: 3)
    let gossip = Membership.Message.gossip((0..<4).map { _ in Membership.Gossip(member: origin) })
    measureCodec("envelope", envelope, into: &report)
    measureCodec("membership gossip", gossip, into: &report)
}

private func measureCodec<T: Codable & Equatable>(_ name: String, _ value: T, into report: inout Report) {
    let binary = BinaryEncoder()
    let binaryDecoder = BinaryDecoder()
    let json = JSONEncoder()
    let jsonDecoder = JSONDecoder()
    let iterations = 50_000
    let binaryBytes = try! binary.encode(value)
    let jsonBytes = try! json.encode(value)
    precondition(try! binaryDecoder.decode(T.self, from: binaryBytes) == value)
    precondition(try! jsonDecoder.decode(T.self, from: jsonBytes) == value)
    func rate(_ body: () throws -> Void) -> Double {
        let start = ContinuousClock.now
        for _ in 0..<iterations { try! body() }
        return Double(iterations) / start.duration(to: .now).seconds
    }
    let binaryRoundTrip = rate { _ = try binaryDecoder.decode(T.self, from: try binary.encode(value)) }
    let jsonRoundTrip = rate { _ = try jsonDecoder.decode(T.self, from: try json.encode(value)) }
    report.add(
        "\(name) binary encode+decode/s", format(binaryRoundTrip, 0) + " (\(binaryBytes.count) B)")
    report.add(
        "\(name) JSON encode+decode/s", format(jsonRoundTrip, 0) + " (\(jsonBytes.count) B)",
        goal: "binary faster", met: binaryRoundTrip > jsonRoundTrip)
}
