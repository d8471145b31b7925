import HummingbirdCore
import Logging
import NIOCore
import ParleyCluster

/// An HTTP connection whose whole handling — reading the request, routing, the handler, writing
/// the answer — runs on the connection's event loop (as its task executor preference), so its
/// reads, writes and SSE flushes happen without a hand-over between threads. Work the handler
/// starts elsewhere (the cluster's roles, their own tasks) still runs on the shared pool. The
/// server's loops are NIO's singleton group, which is never shut down (so no gate).
struct LoopBoundChannel<Inner: ServerChildChannel>: ServerChildChannel {
    typealias Value = Inner.Value
    let inner: Inner

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        inner.setup(channel: channel, logger: logger)
    }

    func handle(value: Value, logger: Logger) async {
        await withTaskExecutorPreference(EventLoopTaskExecutor(loop: value.channel.eventLoop, gate: nil)) {
            await inner.handle(value: value, logger: logger)
        }
    }
}

extension HTTPServerBuilder {
    /// HTTP/1.1 with every connection handled on its own event loop (``LoopBoundChannel``).
    static func loopBoundHTTP1(configuration: HTTP1Channel.Configuration = .init()) -> HTTPServerBuilder {
        .init { responder in LoopBoundChannel(inner: HTTP1Channel(responder: responder, configuration: configuration)) }
    }
}
