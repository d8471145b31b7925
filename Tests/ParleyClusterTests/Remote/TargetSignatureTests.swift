import Distributed
@testable import ParleyCluster
import Testing

/// A result bigger than a few registers (returned indirectly).
struct Report: Codable, Equatable, Sendable {
    var title: String
    var values: [Double]
    var flags: [String: Bool]
    var note: String?
    var a, b, c, d: Int
}

enum Verdict: String, Codable, Sendable { case allow, deny }

/// Targets of every shape the learned-signature path must call exactly as the public path does.
distributed actor Shapes {
    typealias ActorSystem = ClusterSystem

    distributed func nothing() {}
    distributed func constant() -> Int { 42 }
    distributed func mix(_ name: String, small: Int8, ratio: Double, verdict: Verdict, tags: [String]?) -> String {
        "\(name)|\(small)|\(ratio)|\(verdict.rawValue)|\(tags?.joined(separator: ",") ?? "nil")"
    }
    distributed func report(_ n: Int) -> Report {
        Report(title: "r\(n)", values: [Double(n), 0.5], flags: ["even": n % 2 == 0], note: n > 1 ? "big" : nil, a: n, b: n + 1, c: n + 2, d: n + 3)
    }
    distributed func maybe(_ n: Int) -> Int? { n > 0 ? n : nil }
    distributed func failing(_ fail: Bool) throws -> String {
        if fail { throw ClusterError(.remote, "asked to fail") }
        return "fine"
    }
    distributed func sum(_ values: [Int]) async throws -> Int {
        await Task.yield()
        return values.reduce(0, +)
    }
}

/// A protocol whose stubs call with a generic substitution (the concrete actor type).
@Resolvable
protocol Doubler: DistributedActor where ActorSystem == ClusterSystem {
    distributed func double(_ value: Int) -> Int
}

distributed actor LocalDoubler: Doubler {
    typealias ActorSystem = ClusterSystem
    distributed func double(_ value: Int) -> Int { value * 2 }
}

@Suite("Learned target signatures")
struct TargetSignatureTests {
    /// Calls every target three times (the first call learns, the others use what it learned)
    /// and checks each answer, for both settings.
    @Test(arguments: [true, false])
    func everyShapeAnswersTheSameWithAndWithoutLearning(learns: Bool) async throws {
        try await withTwoSystems(configure: { $0.learnsTargetSignatures = learns }) { server, client in
            let shapes = Shapes(actorSystem: server)
            let remote = try Shapes.resolve(id: shapes.id, using: client)
            for round in 1...3 {
                try await remote.nothing()
                #expect(try await remote.constant() == 42)
                #expect(try await remote.mix("a", small: -128, ratio: 0.25, verdict: .deny, tags: ["x", "y"]) == "a|-128|0.25|deny|x,y")
                #expect(try await remote.mix("é🙂", small: 127, ratio: -1, verdict: .allow, tags: nil) == "é🙂|127|-1.0|allow|nil")
                #expect(try await remote.report(round) == Report(
                    title: "r\(round)", values: [Double(round), 0.5], flags: ["even": round % 2 == 0],
                    note: round > 1 ? "big" : nil, a: round, b: round + 1, c: round + 2, d: round + 3))
                #expect(try await remote.maybe(round) == round)
                #expect(try await remote.maybe(-round) == nil)
                #expect(try await remote.sum(Array(0...round)) == (0...round).reduce(0, +))
                // A throw after a success, and a success after a throw.
                #expect(try await remote.failing(false) == "fine")
                let error = await #expect(throws: ClusterError.self) { try await remote.failing(true) }
                #expect(error?.message == "asked to fail")
            }
            let learned = server.targetSignatures.signature(
                for: TargetKey(target: Self.targetName(of: "constant", on: server, shapes: shapes), substitutions: []))
            #expect((learned != nil) == learns)
        }
    }

    @Test func genericTargetsOfResolvableProtocolsLearnToo() async throws {
        try await withTwoSystems { server, client in
            server.allowGenericSubstitution($Doubler.self)
            let doubler = LocalDoubler(actorSystem: server)
            let remote = try $Doubler.resolve(id: doubler.id, using: client)
            for value in [1, -7, Int.max / 2] {
                #expect(try await remote.double(value) == value * 2)
            }
            #expect(server.targetSignatures.targets.contains { $0.contains("double") })
        }
    }

    @Test func anArgumentOfTheWrongTypeIsRefusedOnTheLearnedPathToo() async throws {
        try await withTwoSystems { server, client in
            let shapes = Shapes(actorSystem: server)
            let remote = try Shapes.resolve(id: shapes.id, using: client)
            #expect(try await remote.constant() == 42)
            #expect(try await remote.sum([1, 2]) == 3)
            // A call whose argument bytes do not decode as the learned type fails cleanly.
            let target = Self.targetName(of: "sum", on: server, shapes: shapes)
            let envelope = CallEnvelope(
                callID: 0, budgetMillis: 0, recipientPath: shapes.id.path, target: target,
                genericSubstitutions: [], headers: [], arguments: [[0xFF]])
            #expect(server.targetSignatures.signature(for: TargetKey(target: target, substitutions: [])) != nil)
            let reply = await server.execute(envelope, deadline: nil)
            guard case .error(_, let payload) = reply else {
                Issue.record("expected an error reply, got \(reply)")
                return
            }
            #expect(payload.clusterError.code == .malformed)
            #expect(try await remote.sum([4, 5]) == 9)
        }
    }

    @Test func aTargetOfAnotherActorTypeIsRefusedNotRun() async throws {
        try await withTwoSystems { server, client in
            let shapes = Shapes(actorSystem: server)
            let greeter = Greeter(actorSystem: server)
            let remote = try Shapes.resolve(id: shapes.id, using: client)
            #expect(try await remote.sum([1, 2]) == 3)  // learned on a Shapes
            // The same target sent to the Greeter's path (as a peer of another version might).
            let target = Self.targetName(of: "sum", on: server, shapes: shapes)
            let envelope = CallEnvelope(
                callID: 0, budgetMillis: 0, recipientPath: greeter.id.path, target: target,
                genericSubstitutions: [], headers: [], arguments: [try BinaryEncoder().encode([1, 2])])
            let reply = await server.execute(envelope, deadline: nil)
            guard case .error(_, let payload) = reply else {
                Issue.record("expected an error reply, got \(reply)")
                return
            }
            #expect(payload.clusterError.code == .targetNotFound)
            #expect(try await Greeter.resolve(id: greeter.id, using: client).greet("Ada") == "Hello, Ada!")
        }
    }

    /// The mangled name of a `Shapes` target, as learned on `server`.
    static func targetName(of method: String, on server: ClusterSystem, shapes: Shapes) -> String {
        server.targetSignatures.targets.first { $0.contains(method) } ?? "missing \(method)"
    }
}
