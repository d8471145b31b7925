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

/// A streamed token event as `Codable` writes it (the shape of `GenerationEvent`).
enum CodableTokenEvent: Codable, Equatable {
    case token(index: Int, text: String)
    case finished(reason: String, promptTokens: Int, completionTokens: Int)
}

/// The same event with its hand-written wire form (`WireCodable`), as the serving path's events have.
enum WireTokenEvent: WireCodable, Equatable {
    case token(index: Int, text: String)
    case finished(reason: String, promptTokens: Int, completionTokens: Int)

    func write(wire: WireWriter) {
        switch self {
        case .token(let index, let text):
            wire.write(UInt8(0))
            wire.write(index)
            wire.write(text)
        case .finished(let reason, let promptTokens, let completionTokens):
            wire.write(UInt8(1))
            wire.write(reason)
            wire.write(promptTokens)
            wire.write(completionTokens)
        }
    }

    init(wire: WireReader) throws {
        switch try wire.readByte() {
        case 0: self = .token(index: try wire.readInt(), text: try wire.readString())
        case 1:
            self = .finished(reason: try wire.readString(), promptTokens: try wire.readInt(), completionTokens: try wire.readInt())
        case let other: throw ClusterError(.malformed, "unknown case \(other)")
        }
    }
}

/// Binary codec vs Foundation JSON on a typical envelope, a membership ping and a streamed token
/// (its `Codable` form next to its hand-written one).
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
    measureCodec("token event (Codable)", CodableTokenEvent.token(index: 17, text: " world"), into: &report)
    measureCodec("token event (hand-written)", WireTokenEvent.token(index: 17, text: " world"), into: &report)
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
