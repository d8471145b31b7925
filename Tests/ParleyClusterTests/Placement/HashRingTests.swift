import Testing

@testable import ParleyCluster

@Suite struct HashRingTests {
    static func nodes(_ count: Int, from start: Int = 1) -> [ClusterNode] {
        (start..<(start + count)).map {
            ClusterNode(
                name: "node\($0)", address: NodeAddress(host: "10.0.0.\($0)", port: 7000), uid: UInt64($0) * 7919)
        }
    }

    static let keys = (0..<50_000).map { "conversation-\($0)" }

    @Test func stableHashIsFixedAcrossProcesses() {
        // Pinned values (computed independently with Python: FNV-1a 64, then the Murmur3 finalizer).
        // A change here would move every key in every deployed cluster.
        #expect(StableHash.hash("a") == 0x82a2_a958_a9be_ce5b)
        #expect(StableHash.hash("model-api/smollm2") == 0x77a7_cce0_4450_f477)
        #expect(StableHash.hash("model-api/smollm2") == StableHash.hash(Array("model-api/smollm2".utf8)))
        #expect(StableHash.hash("node1#0") != StableHash.hash("node1#1"))
    }

    @Test func preferenceListHasDistinctNodesOwnerFirst() {
        let ring = HashRing(nodes: Self.nodes(5))
        for key in Self.keys.prefix(1000) {
            let preference = ring.nodes(for: key, count: 3)
            #expect(preference.count == 3)
            #expect(Set(preference).count == 3)
            #expect(preference.first == ring.node(for: key))
        }
        #expect(ring.nodes(for: "x", count: 9).count == 5)
        #expect(HashRing(nodes: []).nodes(for: "x", count: 3).isEmpty)
    }

    @Test func sameRingInEveryProcessAndAfterRestart() {
        let before = HashRing(nodes: Self.nodes(4))
        // node2 restarted: new uid, same name and address.
        var restarted = Self.nodes(4)
        restarted[1].uid = 4242
        let after = HashRing(nodes: restarted.reversed())
        for key in Self.keys.prefix(2000) {
            #expect(before.nodes(for: key, count: 2).map(\.name) == after.nodes(for: key, count: 2).map(\.name))
        }
    }

    @Test(arguments: [3, 5, 10, 20])
    func balanceStaysWithinBound(size: Int) {
        let ring = HashRing(nodes: Self.nodes(size))
        var load: [ClusterNode: Int] = [:]
        for key in Self.keys { load[ring.node(for: key)!, default: 0] += 1 }
        let mean = Double(Self.keys.count) / Double(size)
        let shares = load.values.map { Double($0) / mean }
        print("ring balance, \(size) nodes: min \(shares.min()!) max \(shares.max()!) of the mean")
        #expect(load.count == size)
        #expect(shares.allSatisfy { $0 >= 0.75 && $0 <= 1.25 })
    }

    @Test func joiningNodeTakesAboutOneNthAndNothingElseMoves() {
        let old = HashRing(nodes: Self.nodes(10))
        let newcomer = Self.nodes(1, from: 11)[0]
        let new = HashRing(nodes: Self.nodes(10) + [newcomer])
        var moved = 0
        for key in Self.keys where old.node(for: key) != new.node(for: key) {
            moved += 1
            #expect(new.node(for: key) == newcomer)
        }
        let fraction = Double(moved) / Double(Self.keys.count)
        print("ring movement on join, 10 -> 11 nodes: \(fraction) of keys moved (ideal \(1.0 / 11))")
        #expect(fraction > 0.5 / 11 && fraction < 1.5 / 11)
    }

    @Test func leavingNodeOnlyMovesItsOwnKeys() {
        let all = Self.nodes(8)
        let old = HashRing(nodes: all)
        let leaver = all[3]
        let new = HashRing(nodes: all.filter { $0 != leaver })
        for key in Self.keys.prefix(10_000) {
            let before = old.nodes(for: key, count: 3)
            let after = new.nodes(for: key, count: 3)
            if before[0] != leaver {
                #expect(after[0] == before[0])
            }
            // Replicas shift up: the survivors keep their order.
            #expect(Array(after.prefix(2)) == Array(before.filter { $0 != leaver }.prefix(2)))
        }
    }

    @Test func ringOverRoleMembers() {
        let nodes = Self.nodes(4)
        let members = [
            Membership.Member(node: nodes[0], roles: ["conversation"]),
            Membership.Member(node: nodes[1], roles: ["conversation", "gateway"], status: .suspect),
            Membership.Member(node: nodes[2], roles: ["gateway"]),
            Membership.Member(node: nodes[3], roles: ["conversation"], status: .dead),
        ]
        let ring = HashRing(members: members, role: "conversation")
        #expect(ring.nodes == [nodes[0], nodes[1]])
    }
}
