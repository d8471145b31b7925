/// The receptionist of one node as a pure state machine: this node's registrations, the replicated
/// registrations of the other nodes, and the replication protocol (see ``Receptionist``).
///
/// The shell registers local actors, forwards received ``Receptionist/Message``s, reports membership
/// changes through ``memberUp(_:now:)`` and ``memberDown(_:now:)``, calls ``tick(now:)`` periodically,
/// and carries out the returned directives.
package struct ReceptionistStateMachine<Instant: InstantProtocol>: Sendable where Instant.Duration == Duration {
    package typealias Directive = Receptionist.Directive

    package let settings: Receptionist.Settings
    /// This node.
    package let myself: ClusterNode
    /// Version of this node's own registrations.
    package private(set) var version: UInt64 = 0
    private var own: [ReceptionKey: Set<String>] = [:]
    private var replicas: [ClusterNode: Receptionist.Registrations] = [:]
    private var peers: Set<ClusterNode> = []
    private var down: [ClusterNode: Instant] = [:]
    private var nextDigestAt: Instant
    private var random: SeededRandomNumberGenerator

    /// - Parameters:
    ///   - myself: this node.
    ///   - settings: timings; validated here.
    ///   - randomSeed: seed for choosing digest partners.
    ///   - now: the current instant.
    package init(myself: ClusterNode, settings: Receptionist.Settings = .init(), randomSeed: UInt64, now: Instant) {
        settings.validate()
        self.settings = settings
        self.myself = myself
        self.random = SeededRandomNumberGenerator(seed: randomSeed)
        self.nextDigestAt = now.advanced(by: settings.digestInterval)
    }

    // MARK: Queries

    /// Every actor registered under `key` on any live node this node knows, sorted.
    package func lookup(_ key: ReceptionKey) -> [ReceptionEntry] {
        var entries = (own[key] ?? []).map { ReceptionEntry(node: myself, path: $0) }
        for (node, registrations) in replicas {
            for registration in registrations.entries where registration.key == key {
                entries += registration.paths.map { ReceptionEntry(node: node, path: $0) }
            }
        }
        return entries.sorted()
    }

    /// The nodes whose registrations this node holds (itself excluded), with their versions.
    package var knownVersions: [Receptionist.Version] {
        replicas.values.map { Receptionist.Version(node: $0.node, version: $0.version) }.sorted { $0.node < $1.node }
    }

    // MARK: Local registrations

    /// Registers the local actor at `path` under `key`; pushes the change to every member.
    package mutating func register(_ key: ReceptionKey, path: String) -> [Directive] {
        guard own[key, default: []].insert(path).inserted else { return [] }
        return ownChanged(keys: [key])
    }

    /// Removes the local actor at `path` from `key`.
    package mutating func remove(_ key: ReceptionKey, path: String) -> [Directive] {
        guard own[key]?.remove(path) != nil else { return [] }
        if own[key]?.isEmpty == true { own[key] = nil }
        return ownChanged(keys: [key])
    }

    /// Removes the local actor at `path` from every key (the actor stopped).
    package mutating func removeAll(path: String) -> [Directive] {
        let keys = own.filter { $0.value.contains(path) }.map(\.key)
        guard !keys.isEmpty else { return [] }
        for key in keys {
            own[key]?.remove(path)
            if own[key]?.isEmpty == true { own[key] = nil }
        }
        return ownChanged(keys: keys)
    }

    private mutating func ownChanged(keys: [ReceptionKey]) -> [Directive] {
        version += 1
        let snapshot = ownRegistrations
        var out = keys.sorted().map { Directive.listingChanged($0, lookup($0)) }
        for peer in peers.sorted() {
            out.append(.send(.registrations([snapshot]), to: peer))
        }
        return out
    }

    private var ownRegistrations: Receptionist.Registrations {
        Receptionist.Registrations(
            node: myself, version: version,
            entries: own.keys.sorted().map { Receptionist.Registration(key: $0, paths: own[$0]!.sorted()) })
    }

    // MARK: Membership

    /// Membership reports `node` alive (joined): push this node's registrations to it.
    package mutating func memberUp(_ node: ClusterNode, now: Instant) -> [Directive] {
        guard node != myself, down[node] == nil, peers.insert(node).inserted else { return [] }
        return version > 0 ? [.send(.registrations([ownRegistrations]), to: node)] : []
    }

    /// Membership reports `node` dead or left: its registrations disappear and stay ignored.
    package mutating func memberDown(_ node: ClusterNode, now: Instant) -> [Directive] {
        guard node != myself else { return [] }
        peers.remove(node)
        down[node] = now.advanced(by: settings.downRetention)
        guard let gone = replicas.removeValue(forKey: node) else { return [] }
        return gone.entries.map(\.key).sorted().map { .listingChanged($0, lookup($0)) }
    }

    // MARK: Protocol

    /// Every ``Receptionist/Settings/digestInterval``: send this node's version digest to one random peer.
    package mutating func tick(now: Instant) -> [Directive] {
        down = down.filter { $0.value > now }
        guard now >= nextDigestAt else { return [] }
        nextDigestAt = now.advanced(by: settings.digestInterval)
        guard let peer = peers.sorted().randomElement(using: &random) else { return [] }
        return [.send(.digest(digest), to: peer)]
    }

    private var digest: [Receptionist.Version] {
        [Receptionist.Version(node: myself, version: version)] + knownVersions
    }

    /// Handles one message from `sender`.
    package mutating func receive(_ message: Receptionist.Message, from sender: ClusterNode, now: Instant)
        -> [Directive]
    {
        switch message {
        case .registrations(let list):
            return merge(list)
        case .digest(let theirs):
            return answerDigest(theirs, from: sender)
        case .request(let nodes):
            let available = nodes.compactMap { node in node == myself ? ownRegistrations : replicas[node] }
            return available.isEmpty ? [] : [.send(.registrations(available), to: sender)]
        }
    }

    /// Sends the sender what it lacks, and asks for what this node lacks.
    private func answerDigest(_ theirs: [Receptionist.Version], from sender: ClusterNode) -> [Directive] {
        let theirVersions = Dictionary(theirs.map { ($0.node, $0.version) }, uniquingKeysWith: max)
        var newer: [Receptionist.Registrations] = []
        if version > theirVersions[myself] ?? 0 || (version > 0 && theirVersions[myself] == nil) {
            newer.append(ownRegistrations)
        }
        for (node, registrations) in replicas.sorted(by: { $0.key < $1.key }) where node != sender {
            if theirVersions[node].map({ registrations.version > $0 }) ?? true { newer.append(registrations) }
        }
        var wanted: [ClusterNode] = []
        for (node, theirVersion) in theirVersions.sorted(by: { $0.key < $1.key })
        where node != myself && down[node] == nil && theirVersion > (replicas[node]?.version ?? 0) {
            wanted.append(node)
        }
        var out: [Directive] = []
        if !newer.isEmpty { out.append(.send(.registrations(newer), to: sender)) }
        if !wanted.isEmpty { out.append(.send(.request(wanted), to: sender)) }
        return out
    }

    /// Keeps the higher version of each node's registrations and reports the keys whose listing changed.
    private mutating func merge(_ list: [Receptionist.Registrations]) -> [Directive] {
        var changedKeys: Set<ReceptionKey> = []
        for incoming in list where incoming.node != myself && down[incoming.node] == nil {
            let current = replicas[incoming.node]
            guard incoming.version > current?.version ?? 0 else { continue }
            let before = Self.pairs(current)
            let after = Self.pairs(incoming)
            replicas[incoming.node] = incoming
            for pair in before.symmetricDifference(after) { changedKeys.insert(pair.key) }
        }
        return changedKeys.sorted().map { .listingChanged($0, lookup($0)) }
    }

    private static func pairs(_ registrations: Receptionist.Registrations?) -> Set<Pair> {
        var result: Set<Pair> = []
        for registration in registrations?.entries ?? [] {
            for path in registration.paths { result.insert(Pair(key: registration.key, path: path)) }
        }
        return result
    }

    private struct Pair: Hashable {
        var key: ReceptionKey
        var path: String
    }
}
