#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Where the time of one decode step goes, for `parley-bench-engine --profile-step`: `streams`
/// sequences with the same `context`-token history each decode `steps` tokens together, and the calling
/// thread's CPU time (all of the work with `threads` 1) between the forward pass's trace points is
/// summed per stage (the stage named after the point that ends it), plus the output layer and
/// greedy sampling.
package enum StepProfile {
    /// Milliseconds per step by stage, in the order the stages first ran.
    package static func run(
        modelPath: String, streams: Int, context: Int = 100, steps: Int = 16, threads: Int
    ) throws -> [(stage: String, milliseconds: Double)] {
        let file = try GGUFFile(path: modelPath)
        let model = try TransformerModel(file: file)
        let pool = ThreadPool(threadCount: threads)
        defer { pool.shutdown() }
        let forward = ForwardPass(model: model, pool: pool)
        let caches = (0..<streams).map { _ in
            model.makeCache(capacity: context + steps + 1)
        }
        // One history computed, copied to the other sequences (the same keys and values cost the
        // same to attend to, and a long context is then read once, not once per stream).
        let prompt = (0..<context).map {
            ForwardPass.Token(id: Int32(100 + ($0 * 7) % 5000), position: $0, cache: caches[0], wantsLogits: $0 == context - 1)
        }
        _ = forward.run(prompt)
        for cache in caches.dropFirst() { caches[0].copyPrefix(context, into: cache) }
        var totals: [String: Double] = [:]
        var order: [String] = []
        var last = now()
        func mark(_ name: String) {
            let t = now()
            let stage = name.split(separator: ".").last.map(String.init) ?? name
            if totals[stage] == nil { order.append(stage) }
            totals[stage, default: 0] += t - last
            last = t
        }
        forward.trace = { name, _, _ in mark(name) }
        var next = [Int32](repeating: 1, count: streams)
        for step in 0..<steps {
            let tokens = (0..<streams).map {
                ForwardPass.Token(id: next[$0], position: context + step, cache: caches[$0], wantsLogits: true)
            }
            last = now()
            let logits = forward.run(tokens)
            mark("output")
            for s in 0..<streams { next[s] = Sampler.argmax(logits[s]) }
            mark("sampling")
        }
        return order.map { ($0, totals[$0]! / Double(steps) * 1000) }
    }

    private static func now() -> Double {
        var time = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &time)
        return Double(time.tv_sec) + Double(time.tv_nsec) * 1e-9
    }
}
