import Foundation
import ParleyCluster
@testable import ParleyConversation
import ParleyProtocol
import Testing

/// A real network partition between in-process nodes (frames from the other side are dropped by
/// the `ClusterSystem` test hook, so calls time out and membership declares the other side dead):
/// both sides take writes, the partition heals, and every replica ends with identical content.
@Suite("Conversation replication across a network partition", .serialized)
struct PartitionTests {
    /// Cuts `isolated` off from every other running member (both directions), or heals with `nil`.
    func cut(_ cluster: ReplicaCluster, isolating isolated: Int?) {
        let names = Set(cluster.members.map(\.name))
        for (index, member) in cluster.members.enumerated() where member.isRunning {
            let others: Set<String>
            if let isolated {
                others = index == isolated ? names.subtracting([member.name]) : [cluster[isolated].name]
            } else {
                others = []
            }
            member.system!.dropFrames(fromNodesNamed: others)
        }
    }

    @Test func bothSidesWriteAndConvergeAfterHealing() async throws {
        let cluster = ReplicaCluster(count: 3)
        try await cluster.shutDownAfter {
            defer { cut(cluster, isolating: nil) }
            try await cluster.start()
            try await cluster.waitForRing()
            let shared = try await cluster[0].store.createConversation(owner: "pat", title: "shared", model: nil)
            let doomed = try await cluster[0].store.createConversation(owner: "pat", title: "doomed", model: nil)
            _ = try await cluster[0].store.appendMessage(
                owner: "pat", conversationID: shared.id, MessageDraft(role: .user, content: "before"))
            try await eventually(within: .seconds(10), "digests agree") { try await cluster.digestsAgree() }

            // Cut c2 off; each side comes to see only itself.
            cut(cluster, isolating: 2)
            try await eventually(within: .seconds(15), "each side's ring holds only its side") {
                Set(cluster[0].system!.ring(role: "conversation").nodes.map(\.name)) == ["c0", "c1"]
                    && Set(cluster[1].system!.ring(role: "conversation").nodes.map(\.name)) == ["c0", "c1"]
                    && cluster[2].system!.ring(role: "conversation").nodes.map(\.name) == ["c2"]
            }
            // Both sides write to the same conversations (through their own stores, acknowledged).
            _ = try await cluster[1].store.appendMessage(
                owner: "pat", conversationID: shared.id, MessageDraft(role: .assistant, content: "majority side"))
            _ = try await cluster[0].store.update(owner: "pat", id: shared.id, patch: ConversationPatch(title: "renamed"))
            _ = try await cluster[2].store.appendMessage(
                owner: "pat", conversationID: shared.id, MessageDraft(role: .user, content: "minority side"))
            _ = try await cluster[2].store.update(owner: "pat", id: shared.id, patch: ConversationPatch(pinned: true))
            try await cluster[2].store.deleteConversation(owner: "pat", id: doomed.id)
            #expect(try await cluster[2].database.digests() != cluster[0].database.digests())

            // Heal. A side the other declared dead restarts on its folder, as a supervisor would.
            cut(cluster, isolating: nil)
            try await eventually(within: .seconds(15), "a declared-dead side shut down or everyone sees three nodes") {
                cluster.members.contains { $0.system!.wasDeclaredDead }
                    || cluster.members.allSatisfy { $0.system!.ring(role: "conversation").nodes.count == 3 }
            }
            for index in cluster.members.indices where cluster[index].system!.wasDeclaredDead {
                await cluster.stop(index)
                try await cluster.start(index)
            }
            try await cluster.waitForRing(within: .seconds(20))
            try await eventually(within: .seconds(15), "digests agree after healing") { try await cluster.digestsAgree() }
            var views: [ConversationDetails] = []
            for index in 0..<3 {
                views.append(try await cluster[index].database.conversation(owner: "pat", id: shared.id))
                await #expect(throws: ConversationError.self) {
                    _ = try await cluster[index].database.conversation(owner: "pat", id: doomed.id)
                }
            }
            #expect(Set(views[0].messages.map(\.content)) == ["before", "majority side", "minority side"])
            #expect(views[0].summary.title == "renamed")
            #expect(views[0].summary.pinned)
            #expect(views.allSatisfy { $0 == views[0] })
        }
    }
}
