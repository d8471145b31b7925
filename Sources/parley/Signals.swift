import Dispatch
import Foundation

/// Suspends until SIGINT or SIGTERM arrives.
func waitForTerminationSignal() async {
    let (signals, continuation) = AsyncStream<Int32>.makeStream()
    var sources: [any DispatchSourceSignal] = []
    for signalNumber in [SIGINT, SIGTERM] {
        signal(signalNumber, SIG_IGN)
        let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: .global())
        source.setEventHandler { continuation.yield(signalNumber) }
        source.resume()
        sources.append(source)
    }
    var iterator = signals.makeAsyncIterator()
    _ = await iterator.next()
    for source in sources { source.cancel() }
}
