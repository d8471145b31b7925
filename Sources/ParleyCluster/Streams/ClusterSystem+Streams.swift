import CoreMetrics
import Logging
import NIOCore
import ServiceContextModule
import Synchronization

/// The remote streams of one system: producers by stream id, consumers by (producer, stream id).
struct StreamTable {
    struct ConsumerKey: Hashable {
        let producerUID: UInt64
        let streamID: UInt64
    }

    struct WeakConsumer {
        weak var consumer: StreamConsumer?
        let connectionID: UInt64?
    }

    var producers: [UInt64: StreamProducer] = [:]
    var nextStreamID: UInt64 = 1
    var consumers: [ConsumerKey: WeakConsumer] = [:]
}

extension ClusterSystem {
    /// Wraps `source` as a stream that a remote caller can iterate; the source stops when the
    /// consumer cancels or its connection is lost (see ``makeStream(_:drainsWhenConsumerIsLost:)``).
    public func makeStream<Source: AsyncSequence & Sendable>(_ source: Source) -> RemoteStream<Source.Element>
    where Source.Element: Codable & Sendable {
        makeStream(source, drainsWhenConsumerIsLost: false)
    }

    /// Wraps `source` as a stream that a remote caller can iterate. Return the handle from a
    /// distributed method; the source is iterated only once the caller starts consuming, and only
    /// as fast as the caller's credit allows. An unclaimed handle is dropped after
    /// `ClusterSettings.streamLeaseTimeout`.
    ///
    /// A consumer that cancels always stops the source. With `drainsWhenConsumerIsLost`, a consumer
    /// whose connection is lost (its node died) does not: the source runs on to its end and its
    /// elements are dropped — for sources whose side effects must complete, such as an answer that
    /// is being logged for a client to resume elsewhere.
    ///
    /// With `relaysOnEventLoop`, a remote consumer's producer runs on the event loop of the
    /// consumer's connection: an element that the source receives from another node (or from a
    /// thread of its own, such as an engine) is then encoded and written without a hand-over
    /// between threads. Only for sources whose `next()` does no heavy work of its own: that loop
    /// also carries the node's membership traffic.
    public func makeStream<Source: AsyncSequence & Sendable>(
        _ source: Source, drainsWhenConsumerIsLost: Bool, relaysOnEventLoop: Bool = false
    ) -> RemoteStream<Source.Element>
    where Source.Element: Codable & Sendable {
        let streamID = streams.withLock { table in
            defer { table.nextStreamID += 1 }
            return table.nextStreamID
        }
        // The producer runs in the context of the call that made the stream (its trace), never in
        // the consumer's: a local consumer's task-locals (e.g. its call deadline) must not leak in.
        let context = ServiceContext.current ?? .topLevel
        let producer = StreamProducer(
            streamID: streamID, system: self, drainsWhenConsumerIsLost: drainsWhenConsumerIsLost
        ) { producer in
            Task.detached(executorPreference: relaysOnEventLoop ? EventLoopTaskExecutor(loop: producer.consumerLoop, gate: self.loopGate) : nil) {
                await ServiceContext.withValue(context) {
                    await Self.produce(source, into: producer)
                }
            }
        }
        streams.withLock { $0.producers[streamID] = producer }
        calls.withLock { $0.wakeSweeper() }?.resume()  // Its lease must be watched.
        return RemoteStream(
            producer: node, streamID: streamID, system: self,
            direct: DirectSource(source, producer: producer, context: context))
    }

    /// Iterates `source` as fast as the consumer's credit allows, then ends the stream.
    private static func produce<Source: AsyncSequence & Sendable>(_ source: Source, into producer: StreamProducer) async
    where Source.Element: Codable & Sendable {
        do {
            let encoder = BinaryEncoder()
            var iterator = source.makeAsyncIterator()
            let local = producer.startsLocalDelivery()
            while true {
                try await producer.awaitCredit()
                guard let element = try await iterator.next() else { break }
                if local {
                    producer.emitLocal(element)
                } else {
                    producer.emit(try encoder.encode(element))
                }
            }
            producer.finish(nil)
        } catch {
            producer.finish(error)
        }
    }

    /// Producer → local consumer: one element as a value (see ``StreamProducer/hasLocalConsumer``).
    func deliverLocalElement(_ element: any Sendable, streamID: UInt64) {
        let key = StreamTable.ConsumerKey(producerUID: node.uid, streamID: streamID)
        streams.withLock { $0.consumers[key]?.consumer }?.receive([.value(element)])
    }

    func removeProducer(_ streamID: UInt64) {
        streams.withLock { _ = $0.producers.removeValue(forKey: streamID) }
    }

    func registerConsumer(_ consumer: StreamConsumer, connectionID: UInt64?) {
        let key = StreamTable.ConsumerKey(producerUID: consumer.producer.uid, streamID: consumer.streamID)
        streams.withLock { $0.consumers[key] = StreamTable.WeakConsumer(consumer: consumer, connectionID: connectionID) }
    }

    func unregisterConsumer(_ consumer: StreamConsumer) {
        let key = StreamTable.ConsumerKey(producerUID: consumer.producer.uid, streamID: consumer.streamID)
        streams.withLock { _ = $0.consumers.removeValue(forKey: key) }
    }

    /// Consumer → producer (demand, cancel): over `connection`, or in memory for a local producer.
    func sendStreamFrame(_ frame: StreamFrame, to producer: ClusterNode, via connection: PeerConnection?) {
        guard let connection else {
            handleStreamFrame(frame, from: nil, peerUID: node.uid)
            return
        }
        try? connection.send(capacity: 24) { frame.writeFrame(to: &$0) }
    }

    /// Producer → consumer (elements, end): over `connection`, or in memory for a local consumer.
    func deliverStreamFrame(_ frame: StreamFrame, via connection: PeerConnection?) {
        guard let connection else {
            handleStreamFrame(frame, from: nil, peerUID: node.uid)
            return
        }
        if case .elements(_, let elements) = frame {
            let size = elements.reduce(16) { $0 + $1.count + 2 }
            try? connection.send(capacity: size) { frame.writeFrame(to: &$0) }
            metrics.bytesSent.increment(by: size)
        } else {
            try? connection.send(capacity: 64) { frame.writeFrame(to: &$0) }
        }
    }

    func handleStreamFrame(_ frame: StreamFrame, on connection: PeerConnection) {
        handleStreamFrame(frame, from: connection, peerUID: connection.peer.uid)
    }

    private func handleStreamFrame(_ frame: StreamFrame, from connection: PeerConnection?, peerUID: UInt64) {
        switch frame {
        case .demand(let id, let credit):
            streams.withLock { $0.producers[id] }?.demand(Int(credit), from: connection)
        case .cancel(let id):
            let producer = streams.withLock { $0.producers[id] }
            if let producer, producer.connectionID == connection?.id || producer.isUnclaimed {
                producer.cancel()
            }
        case .elements(let id, let elements):
            let key = StreamTable.ConsumerKey(producerUID: peerUID, streamID: id)
            streams.withLock { $0.consumers[key]?.consumer }?.receive(elements.map { .encoded($0) })
        case .end(let id, let error):
            let key = StreamTable.ConsumerKey(producerUID: peerUID, streamID: id)
            let consumer = streams.withLock { $0.consumers.removeValue(forKey: key)?.consumer }
            consumer?.finish(error.map { .failure($0.clusterError) } ?? .success(()))
        }
    }

    /// A connection closed: its consumers fail with `error`, its producers stop.
    func failStreams(onConnection connectionID: UInt64, _ error: ClusterError) {
        let (consumers, producers) = streams.withLock { table in
            let keys = table.consumers.filter { $0.value.connectionID == connectionID }.map(\.key)
            let consumers = keys.compactMap { table.consumers.removeValue(forKey: $0)?.consumer }
            let producers = table.producers.values.filter { $0.connectionID == connectionID }
            return (consumers, producers)
        }
        for consumer in consumers { consumer.finish(.failure(error)) }
        for producer in producers { producer.consumerLost() }
    }

    /// Drops producers whose handle nobody claimed within the lease.
    func expireUnclaimedStreams(now: ContinuousClock.Instant) {
        let lease = settings.streamLeaseTimeout
        let expired = streams.withLock { table in
            table.producers.values.filter { $0.isUnclaimed && $0.createdAt.duration(to: now) > lease }
        }
        for producer in expired { producer.cancel() }
    }

    /// Starts the one repeating task that enforces call deadlines and stream leases. It parks
    /// while there is nothing to watch (no pending call, no unclaimed stream), so an idle node
    /// does not wake every `deadlineSweepInterval`.
    func startSweeper() {
        let interval = settings.deadlineSweepInterval
        let task = Task { [weak self] in
            var lastLeaseCheck = ContinuousClock.now
            while !Task.isCancelled {
                await self?.parkWhileIdle()
                try? await Task.sleep(for: interval)
                guard let self else { return }
                let now = ContinuousClock.now
                self.expireCalls(now: now)
                if lastLeaseCheck.duration(to: now) > .seconds(1) {
                    lastLeaseCheck = now
                    self.expireUnclaimedStreams(now: now)
                }
            }
        }
        runtime.withLock { $0.sweeper = task }
    }

    /// Whether the sweeper is parked (nothing to watch).
    var sweeperIsParked: Bool { calls.withLock { $0.parkedSweeper != nil } }

    /// Returns at once while a call is pending or a stream is unclaimed; otherwise waits until a
    /// call is made, a stream is created, or the sweeper is cancelled.
    private func parkWhileIdle() async {
        let unclaimed = streams.withLock { table in table.producers.values.contains { $0.isUnclaimed } }
        guard !unclaimed else { return }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let parked = calls.withLock { table in
                    guard table.pending.isEmpty, !table.sweeperWakeRequested, !Task.isCancelled else {
                        table.sweeperWakeRequested = false
                        return false
                    }
                    table.parkedSweeper = continuation
                    return true
                }
                if !parked { continuation.resume() }
            }
        } onCancel: {
            calls.withLock { table in
                defer { table.parkedSweeper = nil }
                return table.parkedSweeper
            }?.resume()
        }
    }
}
