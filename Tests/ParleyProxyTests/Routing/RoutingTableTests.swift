import ParleyCluster
import ParleyProtocol
import ParleyProxy
import Testing

@Suite("Routing table: scores, regions, affinity, breakers")
struct RoutingTableTests {
    typealias Table = RoutingTable<ManualInstant>

    static func endpoint(_ name: String, port: Int) -> ClusterActorID {
        ClusterActorID(
            node: ClusterNode(name: name, address: NodeAddress(host: "127.0.0.1", port: port), uid: UInt64(port)),
            path: "/a/1")
    }

    let a = endpoint("a", port: 7001)
    let b = endpoint("b", port: 7002)
    let c = endpoint("c", port: 7003)
    let now = ManualInstant.zero

    /// Runs one attempt on `id` with the given time to first token and inter-token gap.
    func serve(
        _ table: inout Table, _ id: ClusterActorID, ttft: Double, gap: Double, outcome: Table.Outcome = .success,
        conversation: String? = nil
    ) {
        #expect(table.begin(id, now: now).0 != .reject)
        table.firstToken(id, afterMillis: ttft)
        _ = table.end(
            id, outcome: outcome, wasProbe: false, interTokenMillis: gap, conversationID: conversation, now: now)
    }

    @Test func fasterEndpointRanksFirst() {
        var table = Table()
        table.setListing([a, b])
        serve(&table, a, ttft: 200, gap: 20)
        serve(&table, b, ttft: 20, gap: 5)
        #expect(table.rank([a, b], region: nil, conversationID: nil, now: now) == [b, a])
    }

    @Test func loadSpreadsStreamsOverEqualEndpoints() {
        var table = Table()
        table.setListing([a, b])
        serve(&table, a, ttft: 20, gap: 5)
        serve(&table, b, ttft: 20, gap: 5)
        let first = table.rank([a, b], region: nil, conversationID: nil, now: now)[0]
        _ = table.begin(first, now: now)  // One stream open on it now.
        let second = table.rank([a, b], region: nil, conversationID: nil, now: now)[0]
        #expect(first != second)
    }

    @Test func unmeasuredEndpointsAreTriedAtTheMeanLatency() {
        var table = Table()
        table.setListing([a, b, c])
        serve(&table, a, ttft: 10, gap: 1)
        serve(&table, b, ttft: 1000, gap: 50)
        // c is unmeasured: it scores like the mean of a and b, between them.
        #expect(table.rank([a, b, c], region: nil, conversationID: nil, now: now) == [a, c, b])
    }

    @Test func callerRegionIsPreferredUnlessMuchSlower() {
        var table = Table()
        table.setListing([a, b])
        table.setRegion("eu", of: a.node)
        table.setRegion("us", of: b.node)
        serve(&table, a, ttft: 30, gap: 5)
        serve(&table, b, ttft: 20, gap: 5)
        #expect(table.rank([a, b], region: "eu", conversationID: nil, now: now) == [a, b])
        #expect(table.rank([a, b], region: "us", conversationID: nil, now: now) == [b, a])
        #expect(table.rank([a, b], region: nil, conversationID: nil, now: now) == [b, a])
        // Ten times slower at home loses even with the region penalty (4).
        var slow = Table()
        slow.setListing([a, b])
        slow.setRegion("eu", of: a.node)
        slow.setRegion("us", of: b.node)
        serve(&slow, a, ttft: 2000, gap: 50)
        serve(&slow, b, ttft: 20, gap: 5)
        #expect(slow.rank([a, b], region: "eu", conversationID: nil, now: now) == [b, a])
    }

    @Test func nextTurnStaysOnTheLastEndpointWithinTheMargin() {
        var table = Table()
        table.setListing([a, b])
        serve(&table, a, ttft: 24, gap: 5, conversation: "conv-1")
        serve(&table, b, ttft: 20, gap: 5)
        // b is a little better, but conv-1 was served by a: it stays there.
        #expect(table.rank([a, b], region: nil, conversationID: "conv-1", now: now) == [a, b])
        #expect(table.rank([a, b], region: nil, conversationID: "other", now: now) == [b, a])
        // Once a is far worse than the best, the affinity yields.
        serve(&table, a, ttft: 5000, gap: 100)
        #expect(table.rank([a, b], region: nil, conversationID: "conv-1", now: now) == [b, a])
    }

    @Test func failuresLowerHealthAndOpenTheBreaker() {
        var table = Table(breakerSettings: .init(consecutiveFailures: 2, coolDown: .seconds(5)))
        table.setListing([a, b])
        serve(&table, a, ttft: 10, gap: 1)
        serve(&table, b, ttft: 50, gap: 5)
        #expect(table.rank([a, b], region: nil, conversationID: nil, now: now) == [a, b])
        serve(&table, a, ttft: 10, gap: 1, outcome: .failure)
        #expect(table.statuses().first { $0.actor == a }?.errorRate ?? 0 > 0)
        serve(&table, a, ttft: 10, gap: 1, outcome: .failure)
        #expect(table.rank([a, b], region: nil, conversationID: nil, now: now) == [b])
        #expect(table.statuses().first { $0.actor == a }?.circuit == "open")
        // After the cool-down it may be probed again (half-open, ranked last).
        let later = now.advanced(by: .seconds(5))
        #expect(table.rank([a, b], region: nil, conversationID: nil, now: later) == [b, a])
        #expect(table.begin(a, now: later).0 == .probe)
        #expect(table.rank([a, b], region: nil, conversationID: nil, now: later) == [b])
        _ = table.end(a, outcome: .success, wasProbe: true, interTokenMillis: nil, conversationID: nil, now: later)
        #expect(table.statuses().first { $0.actor == a }?.circuit == "closed")
    }

    @Test func deadNodesAndExcludedEndpointsAreSkipped() {
        var table = Table()
        table.setListing([a, b, c])
        table.markDown(b.node)
        #expect(Set(table.rank([a, b, c], region: nil, conversationID: nil, now: now)) == [a, c])
        #expect(table.rank([a, b, c], region: nil, conversationID: nil, excluding: [a], now: now) == [c])
    }

    @Test func inFlightCountsAttemptsUntilTheyEnd() {
        var table = Table()
        table.setListing([a])
        _ = table.begin(a, now: now)
        _ = table.begin(a, now: now)
        #expect(table.statuses()[0].inFlight == 2)
        _ = table.end(a, outcome: .abandoned, wasProbe: false, interTokenMillis: nil, conversationID: nil, now: now)
        #expect(table.statuses()[0].inFlight == 1)
        #expect(table.statuses()[0].errorRate == 0)
    }

    @Test func listingDropsGoneEndpoints() {
        var table = Table()
        table.setListing([a, b])
        serve(&table, a, ttft: 10, gap: 1, conversation: "c1")
        table.setListing([b])
        #expect(table.statuses().map(\.actor) == [b])
        #expect(table.rank([b], region: nil, conversationID: "c1", now: now) == [b])
    }
}
