import ParleyTestSupport
import Testing

@testable import ParleyCluster

/// One membership state machine driven by hand: messages in, directives out, manual instants.
@Suite struct MembershipStateMachineTests {
    typealias Machine = MembershipStateMachine<SimulationInstant>

    static func node(_ index: Int, uid: UInt64? = nil) -> ClusterNode {
        ClusterNode(
            name: "n\(index)", address: NodeAddress(host: "127.0.0.1", port: 7000 + index),
            uid: uid ?? UInt64(index) * 1000 + 1)
    }

    static func at(_ milliseconds: Int) -> SimulationInstant {
        SimulationInstant(offset: .milliseconds(milliseconds))
    }

    let me = Self.node(1)
    let b = Self.node(2)
    let c = Self.node(3)
    let d = Self.node(4)

    /// A machine for n1 that has joined and knows n2, n3 and n4 as alive.
    func joinedMachine(settings: Membership.Settings = .init()) -> Machine {
        var machine = Machine(myself: me, roles: ["gateway"], settings: settings, randomSeed: 42, now: Self.at(0))
        _ = machine.join(seeds: [b.address], now: Self.at(0))
        let members = [b, c, d].map { Membership.Gossip(member: Membership.Member(node: $0)) }
        _ = machine.receive(.joinReply(.welcome(members: members, removed: [])), from: b, now: Self.at(1))
        return machine
    }

    /// Ticks every 50 ms (the shell's tick interval) from after `from` through `through`, collecting directives.
    static func ticks(_ machine: inout Machine, from: Int, through: Int) -> [Membership.Directive] {
        var out: [Membership.Directive] = []
        for now in stride(from: from + 50, through: through, by: 50) { out += machine.tick(now: at(now)) }
        return out
    }

    /// Like ``ticks(_:from:through:)``, but every member answers this machine's direct pings at once.
    static func answeredTicks(_ machine: inout Machine, from: Int, through: Int) -> [Membership.Directive] {
        var out: [Membership.Directive] = []
        for now in stride(from: from + 50, through: through, by: 50) {
            let directives = machine.tick(now: at(now))
            out += directives
            for (ping, to) in pings(directives) {
                let ack = Membership.Ack(sequence: ping.sequence, target: to, gossip: [])
                out += machine.receive(.ack(ack), from: to, now: at(now))
            }
        }
        return out
    }

    static func pings(_ directives: [Membership.Directive]) -> [(Membership.Ping, ClusterNode)] {
        directives.compactMap { if case .send(.ping(let ping), let to) = $0 { (ping, to) } else { nil } }
    }

    static func pingRequests(_ directives: [Membership.Directive]) -> [(Membership.PingRequest, ClusterNode)] {
        directives.compactMap { if case .send(.pingRequest(let request), let to) = $0 { (request, to) } else { nil } }
    }

    static func events(_ directives: [Membership.Directive]) -> [Membership.Event] {
        directives.compactMap { if case .memberChanged(let event) = $0 { event } else { nil } }
    }

    // MARK: Rules

    @Test func precedenceRules() {
        func member(_ status: Membership.Status, _ incarnation: UInt64) -> Membership.Member {
            Membership.Member(node: Self.node(2), status: status, incarnation: incarnation)
        }
        #expect(member(.suspect, 0).supersedes(member(.alive, 0)))
        #expect(!member(.alive, 0).supersedes(member(.suspect, 0)))
        #expect(member(.alive, 1).supersedes(member(.suspect, 0)))
        #expect(!member(.suspect, 0).supersedes(member(.suspect, 0)))
        #expect(member(.suspect, 2).supersedes(member(.suspect, 1)))
        #expect(!member(.alive, 1).supersedes(member(.alive, 1)))
        #expect(member(.dead, 0).supersedes(member(.alive, 9)))
        #expect(member(.left, 0).supersedes(member(.suspect, 9)))
        // dead and left are final for the uid
        #expect(!member(.alive, 99).supersedes(member(.dead, 0)))
        #expect(!member(.left, 99).supersedes(member(.dead, 0)))
        #expect(!member(.dead, 99).supersedes(member(.left, 0)))
    }

    @Test func suspicionTimeoutShrinksWithIndependentConfirmations() {
        func timeout(suspectors: Int, expected: Int) -> Duration {
            Membership.Suspicion(
                startedAt: Self.at(0), suspectors: Set((0..<suspectors).map(UInt64.init)),
                expectedConfirmations: expected
            ).timeout(min: .seconds(1), max: .seconds(3))
        }
        #expect(timeout(suspectors: 1, expected: 3) == .seconds(3))
        #expect(timeout(suspectors: 2, expected: 3) == .seconds(2))
        #expect(timeout(suspectors: 4, expected: 3) == .seconds(1))
        #expect(timeout(suspectors: 9, expected: 3) == .seconds(1))
        #expect(timeout(suspectors: 1, expected: 0) == .seconds(1))
    }

    @Test func localHealthIsBounded() {
        var health = Membership.LocalHealth(maximum: 3)
        #expect(health.multiplier == 1)
        for _ in 0..<10 { health.degrade() }
        #expect(health.multiplier == 3)
        health.improve()
        #expect(health.multiplier == 2)
    }

    // MARK: Probing

    @Test func silentMemberGoesThroughPingRequestSuspicionAndDeath() throws {
        var machine = joinedMachine()
        let round = Self.ticks(&machine, from: 0, through: 300)
        let (ping, target) = try #require(Self.pings(round).first)
        #expect(ping.target == target)
        #expect(ping.origin.node == me)
        #expect(Self.ticks(&machine, from: 300, through: 450).isEmpty)
        // Direct timeout (200 ms): ping requests to the two other members.
        let escalation = Self.ticks(&machine, from: 450, through: 500)
        let requests = Self.pingRequests(escalation)
        #expect(Set(requests.map(\.1)) == Set([b, c, d]).subtracting([target]))
        #expect(requests.allSatisfy { $0.0.target == target && $0.0.sequence == ping.sequence })
        // Indirect timeout (400 ms) without acks or nacks: suspect, and the suspect is told at once.
        let failure = Self.ticks(&machine, from: 500, through: 900)
        #expect(Self.events(failure).map(\.change) == [.suspect])
        #expect(failure.contains { if case .send(.gossip, to: target) = $0 { true } else { false } })
        #expect(machine.member(target)?.status == .suspect)
        #expect(machine.localHealth.multiplier == 3)  // failed probe + missed nacks
        // The connection never closed and no confirmation came (k = 2 expected): the longest, silent
        // suspicion timeout, 6 s.
        var now = 900
        var dead: [Membership.Directive] = []
        while now < 8000, !Self.events(dead).contains(where: { $0.change == .dead }) {
            now += 50
            dead = machine.tick(now: Self.at(now))
        }
        #expect(now == 6900)
        #expect(Self.events(dead).map(\.change) == [.dead])
        #expect(Self.events(dead).first?.member.node == target)
        #expect(dead.contains(.closeConnection(target)))
    }

    @Test func ackKeepsTheMemberAliveAndImprovesLocalHealth() throws {
        var machine = joinedMachine()
        machine.localHealth.degrade()
        let (ping, target) = try #require(Self.pings(Self.ticks(&machine, from: 0, through: 300)).first)
        let ack = Membership.Ack(sequence: ping.sequence, target: target, gossip: [])
        _ = machine.receive(.ack(ack), from: target, now: Self.at(301))
        #expect(machine.localHealth.multiplier == 1)
        #expect(Self.pingRequests(Self.ticks(&machine, from: 300, through: 600)).isEmpty)
        #expect(machine.member(target)?.status == .alive)
    }

    @Test func confirmationsFromOthersShortenTheSuspicion() {
        var machine = joinedMachine()
        let suspect = Membership.Member(node: d, status: .suspect)
        _ = machine.receive(.gossip([.init(member: suspect, suspectedBy: [b.uid])]), from: b, now: Self.at(100))
        _ = machine.receive(.gossip([.init(member: suspect, suspectedBy: [c.uid])]), from: c, now: Self.at(150))
        // Suspectors b and c: one confirmation of two expected. Silent bounds (3 s … 6 s):
        // 6 − 3·log 2 / log 3 ≈ 4.11 s after 100 ms.
        let quiet = Self.events(Self.answeredTicks(&machine, from: 150, through: 4200))
        #expect(!quiet.contains { $0.member.node == d })
        let dead = Self.events(Self.answeredTicks(&machine, from: 4200, through: 4250)).filter { $0.member.node == d }
        #expect(dead.map(\.change) == [.dead])
    }

    @Test func lostConnectionStartsAnUrgentProbeAndUnreachableNacksSuspectAtOnce() throws {
        var machine = joinedMachine()
        let urgent = machine.connectionLost(to: d, now: Self.at(10))
        let (ping, _) = try #require(Self.pings(urgent).first { $0.1 == d })
        let requests = Self.pingRequests(urgent)
        #expect(Set(requests.map(\.1)) == [b, c])
        // The shell's redial fails and both helpers cannot reach it either.
        _ = machine.connectionLost(to: d, now: Self.at(11))
        let nack = Membership.Nack(sequence: ping.sequence, target: d, reason: .unreachable)
        _ = machine.receive(.nack(nack), from: b, now: Self.at(12))
        let last = machine.receive(.nack(nack), from: c, now: Self.at(13))
        #expect(Self.events(last).map(\.change) == [.suspect])
        // The connection closed: the short bounds apply. No confirmation yet (k = 2): 3 s.
        var now = 0
        var dead: [Membership.Event] = []
        while now < 8000, dead.isEmpty {
            now += 50
            dead = Self.events(machine.tick(now: Self.at(now))).filter { $0.member.node == d && $0.change == .dead }
        }
        #expect(now == 3050)
    }

    @Test func confirmedSuspicionAfterAClosedConnectionTakesTheMinimum() {
        var machine = joinedMachine()
        _ = machine.connectionLost(to: d, now: Self.at(0))
        _ = machine.connectionLost(to: d, now: Self.at(1))  // redial refused
        var received: [Membership.Directive] = []
        for helper in [b, c] {
            let suspicion = Membership.Gossip(member: .init(node: d, status: .suspect), suspectedBy: [helper.uid])
            received += machine.receive(.gossip([suspicion]), from: helper, now: Self.at(2))
        }
        #expect(Self.events(received).map(\.change) == [.suspect])
        // Suspectors b, c (and this node once its probe fails): all confirmations in, so 1 s from 2 ms.
        #expect(Self.events(Self.ticks(&machine, from: 0, through: 1000)).filter { $0.member.node == d }.isEmpty)
        let dead = Self.events(machine.tick(now: Self.at(1050))).filter { $0.member.node == d }
        #expect(dead.map(\.change) == [.dead])
    }

    @Test func lostConnectionToALiveMemberIsHarmless() throws {
        var machine = joinedMachine()
        let urgent = machine.connectionLost(to: d, now: Self.at(10))
        let (ping, _) = try #require(Self.pings(urgent).first { $0.1 == d })
        // The redial works and d answers.
        _ = machine.receive(.ack(.init(sequence: ping.sequence, target: d, gossip: [])), from: d, now: Self.at(12))
        #expect(!Self.events(Self.answeredTicks(&machine, from: 0, through: 5000)).contains { $0.member.node == d })
    }

    @Test func helperRelaysTheAckOrNacksInTime() throws {
        var machine = joinedMachine()
        let request = Membership.PingRequest(
            sequence: 77, target: d, timeout: .milliseconds(400), origin: Membership.Member(node: b), gossip: [])
        let (ping, to) = try #require(
            Self.pings(machine.receive(.pingRequest(request), from: b, now: Self.at(0))).first)
        #expect(to == d)
        let relayed = machine.receive(
            .ack(.init(sequence: ping.sequence, target: d, gossip: [])), from: d, now: Self.at(5))
        #expect(relayed.contains { if case .send(.ack(let ack), to: b) = $0 { ack.sequence == 77 } else { false } })

        let second = Membership.PingRequest(
            sequence: 78, target: d, timeout: .milliseconds(400), origin: Membership.Member(node: c), gossip: [])
        _ = machine.receive(.pingRequest(second), from: c, now: Self.at(0))
        let early = Self.ticks(&machine, from: 0, through: 300)
        #expect(early.allSatisfy { if case .send(.nack, _) = $0 { false } else { true } })
        let nacks = machine.tick(now: Self.at(350))  // 80 % of 400 ms is 320 ms
        #expect(nacks.contains(.send(.nack(.init(sequence: 78, target: d, reason: .timeout)), to: c)))
    }

    @Test func stalledTickDoesNotExpireRunningProbes() throws {
        var machine = joinedMachine()
        let (_, target) = try #require(Self.pings(Self.ticks(&machine, from: 0, through: 300)).first)
        // The process got no CPU for 2 s; the ack is processed right after this tick.
        let late = machine.tick(now: Self.at(2300))
        #expect(Self.pingRequests(late).isEmpty)
        #expect(Self.events(late).isEmpty)
        #expect(machine.localHealth.multiplier == 2)
        #expect(machine.member(target)?.status == .alive)
    }

    // MARK: Refutation and identity

    @Test func refutesSuspicionAboutItselfWithAHigherIncarnation() throws {
        var machine = joinedMachine()
        let rumor = Membership.Gossip(member: Membership.Member(node: me, status: .suspect), suspectedBy: [c.uid])
        let ping = Membership.Ping(sequence: 5, target: me, origin: Membership.Member(node: b), gossip: [rumor])
        let out = machine.receive(.ping(ping), from: b, now: Self.at(10))
        #expect(machine.myself.incarnation == 1)
        #expect(machine.localHealth.multiplier == 2)
        let ack = try #require(out.compactMap { if case .send(.ack(let ack), to: b) = $0 { ack } else { nil } }.first)
        #expect(ack.sequence == 5)
        #expect(ack.gossip.contains { $0.member == Membership.Member(node: me, roles: ["gateway"], incarnation: 1) })
        // The suspecting member hears the refutation directly.
        #expect(
            out.contains {
                if case .send(.gossip(let entries), to: c) = $0 {
                    entries.first?.member.incarnation == 1
                } else {
                    false
                }
            })
    }

    @Test func refutationClearsASuspicion() {
        var machine = joinedMachine()
        _ = machine.receive(
            .gossip([.init(member: .init(node: d, status: .suspect), suspectedBy: [b.uid])]), from: b, now: Self.at(0))
        let out = machine.receive(.gossip([.init(member: .init(node: d, incarnation: 1))]), from: d, now: Self.at(10))
        #expect(Self.events(out).map(\.change) == [.alive])
        #expect(Self.events(out).first?.previousStatus == .suspect)
        let later = Self.events(Self.answeredTicks(&machine, from: 0, through: 4000))
        #expect(!later.contains { $0.change == .dead && $0.member.node == d })
    }

    @Test func pingFromTheSuspectWithAHigherIncarnationRefutesToo() {
        var machine = joinedMachine()
        let rumor = Membership.Gossip(member: .init(node: d, status: .suspect), suspectedBy: [b.uid])
        _ = machine.receive(.gossip([rumor]), from: b, now: Self.at(0))
        let ping = Membership.Ping(sequence: 9, target: me, origin: .init(node: d, incarnation: 1), gossip: [])
        let out = machine.receive(.ping(ping), from: d, now: Self.at(5))
        #expect(Self.events(out).map(\.change) == [.alive])
        #expect(machine.member(d)?.incarnation == 1)
    }

    @Test func deadIsFinalForTheUid() {
        var machine = joinedMachine()
        _ = machine.receive(.gossip([.init(member: .init(node: d, status: .dead))]), from: b, now: Self.at(0))
        let out = machine.receive(.gossip([.init(member: .init(node: d, incarnation: 7))]), from: c, now: Self.at(5))
        #expect(out.isEmpty)
        #expect(machine.member(d)?.status == .dead)
        // A message from the dead uid itself is answered with the news.
        let ping = Membership.Ping(sequence: 1, target: me, origin: .init(node: d), gossip: [])
        #expect(machine.receive(.ping(ping), from: d, now: Self.at(6)) == [.send(.joinReply(.declaredDead), to: d)])
    }

    @Test func restartedNodeReplacesItsEarlierUid() {
        var machine = joinedMachine()
        let restarted = Self.node(3, uid: 999)
        let out = machine.receive(.join(.init(member: .init(node: restarted))), from: restarted, now: Self.at(20))
        let events = Self.events(out)
        #expect(events.map(\.change) == [.dead, .removed, .joined])
        #expect(events[0].member.node == c && events[1].member.node == c && events[2].member.node == restarted)
        #expect(out.contains(.closeConnection(c)))
        #expect(machine.isRemoved(c))
        // The joiner gets the full member list.
        let welcome = out.compactMap {
            if case .send(.joinReply(.welcome(let members, let removed)), to: restarted) = $0 {
                (members, removed)
            } else {
                nil
            }
        }.first
        #expect(welcome?.0.map(\.member.node).contains(restarted) == true)
        #expect(welcome?.1 == [c])
        // Stale gossip about the old uid cannot bring it back.
        #expect(
            machine.receive(.gossip([.init(member: .init(node: c, incarnation: 3))]), from: b, now: Self.at(30)).isEmpty
        )
    }

    @Test func secondHandNewsOfANewUidDoesNotKillTheLiveOldOne() {
        var machine = joinedMachine()
        let other = Self.node(3, uid: 999)
        let out = machine.receive(.gossip([.init(member: .init(node: other))]), from: b, now: Self.at(0))
        #expect(Self.events(out).map(\.change) == [.joined])
        #expect(machine.member(c)?.status == .alive)
        #expect(machine.member(other)?.status == .alive)
        // A dead old start is replaced by second-hand news too.
        var fresh = joinedMachine()
        _ = fresh.receive(.gossip([.init(member: .init(node: c, status: .dead))]), from: b, now: Self.at(1))
        let replaced = fresh.receive(.gossip([.init(member: .init(node: other))]), from: b, now: Self.at(2))
        #expect(Self.events(replaced).map(\.change) == [.removed, .joined])
    }

    @Test func learnsThatTheClusterDeclaredItDead() {
        var machine = joinedMachine()
        let out = machine.receive(.gossip([.init(member: .init(node: me, status: .dead))]), from: b, now: Self.at(0))
        #expect(out.last == .declaredDead)
        #expect(machine.lifecycle == .declaredDead)
        #expect(machine.tick(now: Self.at(1000)).isEmpty)
        #expect(
            machine.receive(
                .ping(.init(sequence: 1, target: me, origin: .init(node: b), gossip: [])), from: b, now: Self.at(1001)
            ).isEmpty)
    }

    // MARK: Join and leave

    @Test func joinRetriesSeedsUntilWelcomed() {
        var machine = Machine(myself: me, randomSeed: 1, now: Self.at(0))
        let first = machine.join(seeds: [b.address, c.address, me.address, b.address], now: Self.at(0))
        #expect(first.count == 2)
        #expect(
            first.allSatisfy {
                if case .sendToAddress(.join(let request), _) = $0 { request.member.node == me } else { false }
            })
        #expect(Self.ticks(&machine, from: 0, through: 950).isEmpty)
        #expect(
            machine.tick(now: Self.at(1000)).filter { if case .sendToAddress = $0 { true } else { false } }.count == 2)
        let welcome = Membership.JoinReply.welcome(
            members: [.init(member: .init(node: b)), .init(member: .init(node: me))], removed: [])
        let joined = machine.receive(.joinReply(welcome), from: b, now: Self.at(1100))
        #expect(Self.events(joined).map(\.change) == [.joined])
        #expect(machine.joinState == .joined)
        #expect(
            Self.ticks(&machine, from: 1000, through: 4000).allSatisfy {
                if case .sendToAddress = $0 { false } else { true }
            })
    }

    @Test func firstNodeWithoutOtherSeedsIsJoinedAlone() {
        var machine = Machine(myself: me, randomSeed: 1, now: Self.at(0))
        #expect(machine.join(seeds: [me.address], now: Self.at(0)).isEmpty)
        #expect(machine.joinState == .joined)
        #expect(machine.members.map(\.node) == [me])
    }

    @Test func leaveAnnouncesToEveryoneAndStopsProbing() {
        var machine = joinedMachine()
        let out = machine.leave(now: Self.at(100))
        #expect(Self.events(out).map(\.change) == [.left])
        let told = out.compactMap {
            if case .send(.gossip(let entries), let to) = $0, entries.first?.member.status == .left { to } else { nil }
        }
        #expect(Set(told) == [b, c, d])
        #expect(machine.tick(now: Self.at(1000)).isEmpty)
        // Pings are still answered, carrying the news.
        let ack = machine.receive(
            .ping(.init(sequence: 3, target: me, origin: .init(node: b), gossip: [])), from: b, now: Self.at(1001))
        #expect(
            ack.contains {
                if case .send(.ack(let ack), to: b) = $0 {
                    ack.gossip.contains { $0.member.node == me && $0.member.status == .left }
                } else {
                    false
                }
            })
    }

    @Test func statusRequestIsAnsweredWithoutAdmittingTheClient() {
        var machine = joinedMachine()
        let client = Self.node(99)
        let out = machine.receive(.statusRequest, from: client, now: Self.at(0))
        guard case .send(.joinReply(.welcome(let members, _)), to: client)? = out.first else {
            Issue.record("expected a welcome, got \(out)")
            return
        }
        #expect(members.map(\.member.node) == [me, b, c, d])
        #expect(machine.member(client) == nil)
    }

    @Test func unknownSenderOfAPingIsAdmitted() {
        var machine = joinedMachine()
        let newcomer = Self.node(9)
        let ping = Membership.Ping(
            sequence: 1, target: me, origin: .init(node: newcomer, roles: ["worker"], region: "eu"), gossip: [])
        let out = machine.receive(.ping(ping), from: newcomer, now: Self.at(0))
        #expect(Self.events(out).map(\.change) == [.joined])
        #expect(machine.member(newcomer)?.roles == ["worker"])
        #expect(machine.member(newcomer)?.region == "eu")
    }
}
