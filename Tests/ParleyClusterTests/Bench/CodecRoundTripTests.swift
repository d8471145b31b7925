import ParleyCluster
import Testing

/// The binary codec round-trips the value shapes the benchmark's envelope sample uses.
@Suite("Binary codec round trips (bench sample shapes)")
struct CodecRoundTripTests {
    struct Headers: Codable, Equatable { var headers: [String: String] }
    struct Bytes: Codable, Equatable { var arguments: [[UInt8]] }
    struct Node: Codable, Equatable { var node: ClusterNode }
    struct Numbers: Codable, Equatable { var callID: UInt64; var budget: UInt32 }

    func roundTrip<T: Codable & Equatable>(_ value: T) throws -> T {
        try BinaryDecoder().decode(T.self, from: BinaryEncoder().encode(value))
    }

    @Test func dictionaryOfStrings() throws {
        let value = Headers(headers: ["traceparent": "00-4bf9-01", "request-id": "req-42"])
        #expect(try roundTrip(value) == value)
        #expect(try roundTrip(["b": 2, "a": 1, "c": 3]) == ["a": 1, "b": 2, "c": 3])
    }

    @Test func arraysOfByteArrays() throws {
        let value = Bytes(arguments: [Array(repeating: 7, count: 64), [1, 2, 3, 4]])
        #expect(try roundTrip(value) == value)
    }

    @Test func clusterNode() throws {
        let value = Node(node: ClusterNode(name: "g", address: NodeAddress(host: "10.0.0.12", port: 7400), uid: 0xDEAD_BEEF))
        #expect(try roundTrip(value) == value)
    }

    @Test func integers() throws {
        let value = Numbers(callID: 123_456, budget: 30_000)
        #expect(try roundTrip(value) == value)
    }
}
