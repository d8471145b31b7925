import Foundation
import ParleyCluster
@testable import ParleyConversation
import ParleyProtocol
import Testing

/// A turn started through the replicated store: one call from any node writes the conversation,
/// the messages and the run on the owner's primary and replicates them as one batch.
@Suite("Turns through the replicated store", .serialized)
struct TurnReplicationTests {
    @Test func aTurnWrittenByOneCallIsOnASecondReplicaWhenItReturns() async throws {
        let cluster = ReplicaCluster(count: 3)
        try await cluster.shutDownAfter {
            try await cluster.start()
            try await cluster.waitForRing()
            let owner = "turner"
            let router = cluster[0].node!.router
            let replicas = router.replicas(ofPartition: router.database.partition(ofOwner: owner)).map(\.name)
            let primaryIndex = try #require(cluster.members.firstIndex { $0.name == replicas.first })
            // Called on a node that is not the primary, through a remote stub (the gateway's path).
            let callerIndex = (primaryIndex + 1) % 3
            let store = try $ConversationStoreProtocol.resolve(
                id: cluster[callerIndex].store.id, using: cluster[(primaryIndex + 2) % 3].system!)

            let turn = TurnStart(
                requestID: "chat-1", conversationID: nil, newChatTitle: "Trip", parentID: nil,
                messages: [MessageDraft(role: .system, content: "Be brief."), MessageDraft(role: .user, content: "Plan a trip")],
                model: "m", producer: "completion-1")
            let primaryRouter = cluster[primaryIndex].node!.router
            func pushes() -> Int { primaryRouter.currentStats.pushesAcknowledged + primaryRouter.currentStats.pushesFailed }
            let pushesBefore = pushes()
            let started = try await store.startTurn(owner: owner, turn)
            #expect(started.created)
            let conversationID = DeterministicID.forChatRequest(owner: owner, requestID: "chat-1")
            #expect(started.run.conversationID == conversationID && started.run.status == .streaming)

            // A second replica holds the whole turn in its own database (acknowledged before the call
            // returned unless that push failed; then hints or anti-entropy bring it).
            var holder: Int?
            try await eventually(within: .seconds(10), "the turn on a second replica") {
                for index in cluster.members.indices where index != primaryIndex {
                    let database = cluster[index].database
                    guard let details = try? await database.conversation(owner: owner, id: conversationID),
                        let run = try? await database.readGenerationEvents(owner: owner, requestID: "chat-1", afterSeq: 0).run
                    else { continue }
                    guard details.messages.map(\.content) == ["Be brief.", "Plan a trip"], GenerationInfo(run) == started.run,
                        run.parentID == details.messages.last?.id
                    else { continue }
                    holder = index
                    return true
                }
                return false
            }

            // The turn went out as one batch to each of the two other replicas.
            try await eventually(within: .seconds(10), "both pushes ended") { pushes() - pushesBefore == 2 }

            // A retry through that replica's store answers the same run and writes (and pushes) nothing.
            let again = try await cluster[try #require(holder)].store.startTurn(owner: owner, turn)
            #expect(!again.created && again.run == started.run)
            #expect(pushes() - pushesBefore == 2)

            // The answer's last events and its end, in one call, also reach a second replica.
            let answer = try #require(
                try await store.finishGeneration(
                    owner: owner, requestID: "chat-1", appending: ["Pack", " light."], fromSeq: 1, status: .complete,
                    promptTokens: 5, completionTokens: 2))
            #expect(answer.content == "Pack light." && answer.id == started.run.messageID)
            try await eventually(within: .seconds(10), "digests agree") { try await cluster.digestsAgree() }
            for member in cluster.members {
                let details = try await member.database.conversation(owner: owner, id: conversationID)
                #expect(details.messages.map(\.content) == ["Be brief.", "Plan a trip", "Pack light."])
                #expect(details.summary.currentMessageID == answer.id)
            }
        }
    }
}
