import Foundation
import ParleyCluster
@testable import ParleyConversation
import ParleyProtocol
import Testing

/// Anti-entropy under a steady write load: the pushes deliver every write, so pulling partitions
/// while they are being written would send every row back again (the change feed holds each
/// row a replica took); anti-entropy waits for them to settle instead, and the replicas still
/// end up equal.
@Suite("Anti-entropy under a write load", .serialized)
struct AntiEntropyUnderLoadTests {
    @Test func partitionsBeingWrittenAreNotPulledBackAndStillConverge() async throws {
        let cluster = ReplicaCluster(count: 3)
        try await cluster.shutDownAfter {
            try await cluster.start()
            try await cluster.waitForRing()
            let owners = (0..<16).map { "steady-\($0)" }
            var ids: [String] = []
            for owner in owners { ids.append(try await cluster[0].store.createConversation(owner: owner, title: "s", model: nil).id) }
            try await eventually(within: .seconds(10), "digests agree") { try await cluster.digestsAgree() }
            let conversationIDs = ids
            let stores = (0..<3).map { cluster[$0].store }
            let before = (0..<3).map { cluster[$0].node!.router.currentStats }
            let start = ContinuousClock.now
            let writers = 16
            let perWriter = 100
            try await withThrowingTaskGroup(of: Void.self) { group in
                for worker in 0..<writers {
                    group.addTask {
                        for step in 0..<perWriter {
                            let index = (worker + step * writers) % owners.count
                            _ = try await stores[(worker + step) % 3].appendMessage(
                                owner: owners[index], conversationID: conversationIDs[index],
                                MessageDraft(role: .user, content: "steady \(worker).\(step)"))
                        }
                    }
                }
                try await group.waitForAll()
            }
            let loadTime = ContinuousClock.now - start
            try await eventually(within: .seconds(15), "digests agree after the load") { try await cluster.digestsAgree() }
            let after = (0..<3).map { cluster[$0].node!.router.currentStats }
            let pulled = (0..<3).reduce(0) { $0 + after[$1].changeRowsPulled - before[$1].changeRowsPulled }
            let deferred = (0..<3).reduce(0) { $0 + after[$1].pullsDeferred - before[$1].pullsDeferred }
            print("anti-entropy under load: \(writers * perWriter) appends in \(loadTime); \(pulled) rows pulled, \(deferred) pulls deferred")
            // Pulling during the load would bring each row back about twice to every node.
            #expect(pulled < writers * perWriter / 2, "\(pulled) rows pulled for \(writers * perWriter) appends")
            #expect(deferred > 0 || loadTime < ReplicaCluster.fastSettings.antiEntropyInterval * 2)
            for index in 0..<3 {
                let details = try await cluster[index].database.conversation(owner: owners[0], id: conversationIDs[0])
                #expect(details.messages.count == writers * perWriter / owners.count)
            }
        }
    }
}
