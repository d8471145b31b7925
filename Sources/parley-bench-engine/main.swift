// parley-bench-engine: measures the built-in engine on this machine and prints the figures next
// to llama.cpp's (build 4748, same file, llama-bench on this machine kind, from issue 3).
//
// Usage: parley-bench-engine [MODEL-PATH-or-NAME] [--threads N] [--float32]
//        [--kernels | --profile-step [--context N] | --cpu-per-step | --wall-per-step [--streams 1,8] | --long N]
// The matrix kernels are the AVX-512 VNNI ones where the CPU has them; PARLEY_ENGINE_KERNELS=portable
// picks the portable Swift kernels (same results) for comparison.
import Foundation
import ParleyEngine

#if canImport(Glibc)
    import Glibc
#endif

let arguments = CommandLine.arguments
let modelArgument = arguments.count > 1 && !arguments[1].hasPrefix("--") ? arguments[1] : "smollm2"
let threads = arguments.firstIndex(of: "--threads").flatMap { Int(arguments[$0 + 1]) }

func seconds(_ d: Duration) -> Double {
    Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18
}

func peakRSSMegabytes() -> Double {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return Double(usage.ru_maxrss) / 1024
}

/// Streams over a buffer much larger than the caches with every thread; returns GB/s.
func measureBandwidth(threads: Int) -> Double {
    let floats = 64 << 20  // 256 MiB
    let buffer = [Float](repeating: 1, count: floats)
    let chunk = floats / threads
    var best = 0.0
    for _ in 0..<3 {
        let start = ContinuousClock.now
        buffer.withUnsafeBufferPointer { b in
            nonisolated(unsafe) let base = b.baseAddress!
            DispatchQueue.concurrentPerform(iterations: threads) { t in
                var acc = SIMD16<Float>()
                var i = t * chunk
                let end = i + chunk
                while i < end {
                    acc += UnsafeRawPointer(base + i).loadUnaligned(as: SIMD16<Float>.self)
                    i += 16
                }
                if acc.sum() == -1 { print("") }  // keeps the loop
            }
        }
        let elapsed = seconds(ContinuousClock.now - start)
        best = max(best, Double(floats * 4) / elapsed / 1e9)
    }
    return best
}

struct Run {
    var tokens = 0
    var summaries: [GenerationSummary] = []
    var wall = 0.0
    /// When each stream received each of its tokens (seconds since the run started).
    var arrivals: [[Double]] = []

    /// The aggregate decode rate in steady state: tokens delivered between the moment the last
    /// stream got its first token and the moment the first stream got its last, over that window
    /// (so no stream is still prefilling and none has left yet); nil if the window is empty.
    var steadyDecodeRate: Double? {
        guard let start = arrivals.compactMap(\.first).max(), let end = arrivals.compactMap(\.last).min(),
            end > start
        else { return nil }
        let delivered = arrivals.map { $0.filter { $0 > start && $0 <= end }.count }.reduce(0, +)
        return Double(delivered) / (end - start)
    }
}

/// Runs `streams` generations at once and waits for all.
func run(_ engine: Engine, _ requests: [GenerationRequest]) async throws -> Run {
    let start = ContinuousClock.now
    let results = try await withThrowingTaskGroup(of: ([Double], GenerationSummary?).self) { group in
        for request in requests {
            group.addTask {
                var arrivals: [Double] = []
                var summary: GenerationSummary?
                for try await event in engine.generate(request) {
                    switch event {
                    case .prompt: continue
                    case .token: arrivals.append(seconds(ContinuousClock.now - start))
                    case .finished(let s): summary = s
                    }
                }
                return (arrivals, summary)
            }
        }
        var all: [([Double], GenerationSummary?)] = []
        for try await result in group { all.append(result) }
        return all
    }
    return Run(
        tokens: results.map(\.0.count).reduce(0, +), summaries: results.compactMap(\.1),
        wall: seconds(ContinuousClock.now - start), arrivals: results.map(\.0))
}

// `--kernels`: single-thread throughput of the matrix kernels (CPU time), then exit.
if arguments.contains("--kernels") {
    for result in try KernelBenchmark.run() {
        print(
            String(
                format: "%@ %-8@ %5d×%d × %2d vectors: %5.1f GMAC/s", result.type, result.kernels, result.rows,
                result.columns, result.vectors, result.macsPerSecond / 1e9))
    }
    exit(0)
}

let path = try ModelStore().resolve(modelArgument)

// `--profile-step`: CPU milliseconds per stage (meaningful with `--threads 1`) of one decode step (`--streams 1,8`)
// after `--context N` tokens (default 100), then exit.
if arguments.contains("--profile-step") {
    let counts = arguments.firstIndex(of: "--streams").map { arguments[$0 + 1].split(separator: ",").compactMap { Int($0) } }
    let context = arguments.firstIndex(of: "--context").flatMap { Int(arguments[$0 + 1]) } ?? 100
    for streams in counts ?? [1, 8] {
        let stages = try StepProfile.run(
            modelPath: path, streams: streams, context: context,
            threads: threads ?? ProcessInfo.processInfo.activeProcessorCount)
        let total = stages.map(\.milliseconds).reduce(0, +)
        print(String(format: "%2d streams: %.2f ms per step", streams, total))
        for (stage, ms) in stages { print(String(format: "   %-10@ %6.2f ms  %4.1f%%", stage, ms, ms / total * 100)) }
    }
    exit(0)
}
// No prefix cache: the prompts below repeat, and the figures are meant to measure computing them.
// `--float32`: the engine's verification precision (dequantized weights, float activations and KV cache).
let engine = try Engine(
    modelPath: path,
    configuration: .init(
        threadCount: threads, maxSequences: 32, prefixCacheBytes: 0,
        activations: arguments.contains("--float32") ? .float32 : .int8))
let threadCount = threads ?? ProcessInfo.processInfo.activeProcessorCount
let text = String(
    repeating: "The quick brown fox jumps over the lazy dog while the committee reviews the annual budget. ",
    count: 80)
let corpus = engine.tokenizer.encode(text)
func prompt(_ n: Int) -> GenerationRequest.Prompt { .tokens(Array(corpus.prefix(n))) }
let counting = GenerationRequest.Prompt.raw(
    "1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25,")

print("parley-bench-engine: \(engine.modelName), \(threadCount) threads, weights read per step "
    + String(format: "%.1f MB", Double(engine.weightBytesPerStep) / 1e6) + ", \(KernelBenchmark.activeKernels) kernels")
_ = try await run(engine, [GenerationRequest(prompt: prompt(32), sampling: .greedy, maxTokens: 4)])  // warm-up

func cpuSeconds() -> Double {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) * 1e-6 + Double(usage.ru_stime.tv_sec)
        + Double(usage.ru_stime.tv_usec) * 1e-6
}

// `--cpu-per-step`: CPU time of one decode step per batch size, which other processes on the machine
// do not distort (meaningful with `--threads 1`, where no worker spins), then exit.
// `--streams 1,8` picks the batch sizes (default 1,4,8,16).
if arguments.contains("--cpu-per-step") {
    let counts = arguments.firstIndex(of: "--streams").map { arguments[$0 + 1].split(separator: ",").compactMap { Int($0) } }
    for streams in counts ?? [1, 4, 8, 16] {
        let requests = (0..<streams).map { i in
            GenerationRequest(prompt: counting, sampling: SamplingParameters(temperature: 0.7, seed: UInt64(i)), maxTokens: 2)
        }
        let long = requests.map { var r = $0; r.maxTokens = 34; return r }
        // The short run costs the prefill and one step; the long run 32 decode steps more.
        let start = cpuSeconds()
        _ = try await run(engine, requests)
        let middle = cpuSeconds()
        _ = try await run(engine, long)
        let extra = (cpuSeconds() - middle) - (middle - start)
        print(String(format: "%2d streams: %.2f ms CPU per decode step", streams, extra / 32 * 1000))
    }
    engine.shutdown()
    exit(0)
}

// `--wall-per-step`: wall time of one decode step per batch size (best of five runs of the
// steady-state window, as in the full benchmark), then exit. `--streams 1,8` as above.
if arguments.contains("--wall-per-step") {
    let counts = arguments.firstIndex(of: "--streams").map { arguments[$0 + 1].split(separator: ",").compactMap { Int($0) } }
    for streams in counts ?? [1, 4, 8, 16] {
        let requests = (0..<streams).map { i in
            GenerationRequest(prompt: counting, sampling: SamplingParameters(temperature: 0.7, seed: UInt64(i)), maxTokens: 48)
        }
        var best = 0.0
        for _ in 0..<5 { best = max(best, try await run(engine, requests).steadyDecodeRate ?? 0) }
        print(String(format: "%2d streams: %.2f ms per decode step, %.1f tokens/s", streams, Double(streams) / best * 1000, best))
    }
    engine.shutdown()
    exit(0)
}

// `--long N`: a prompt of N tokens read (prefill tokens/s, best of two), then decoding at that
// context (steady-state tokens/s), then exit. Attention over the context is most of this work,
// where the short figures below are mostly the weights' products. Several streams at a long
// context: `--profile-step --context N`.
if let index = arguments.firstIndex(of: "--long"), let length = Int(arguments[index + 1]) {
    // The short prompts' text, repeated (no prefix cache here, and what it says costs nothing).
    let long = Array(engine.tokenizer.encode(String(repeating: text, count: length / 1000 + 1)).prefix(length))
    guard long.count == length else { print("the corpus has only \(long.count) tokens"); exit(1) }
    var prefillRate = 0.0
    for _ in 0..<2 {
        let r = try await run(engine, [GenerationRequest(prompt: .tokens(long), sampling: .greedy, maxTokens: 1)])
        prefillRate = max(prefillRate, r.summaries[0].timings.prefillTokensPerSecond)
    }
    print(String(format: "prefill, %d-token prompt: %.1f tokens/s", length, prefillRate))
    let r = try await run(engine, [GenerationRequest(prompt: .tokens(long), sampling: .greedy, maxTokens: 64)])
    print(String(format: "decode at %d tokens of context, 1 stream: %.1f tokens/s", length, r.steadyDecodeRate ?? 0))
    engine.shutdown()
    exit(0)
}

func prefill(_ n: Int) async throws -> Double {
    var best = 0.0
    for _ in 0..<3 {
        let r = try await run(engine, [GenerationRequest(prompt: prompt(n), sampling: .greedy, maxTokens: 1)])
        best = max(best, r.summaries[0].timings.prefillTokensPerSecond)
    }
    return best
}
let pp64 = try await prefill(64)
let pp512 = try await prefill(512)
var ttft = Double.infinity
for _ in 0..<3 {
    let r = try await run(engine, [GenerationRequest(prompt: prompt(100), sampling: .greedy, maxTokens: 1)])
    ttft = min(ttft, seconds(r.summaries[0].timings.timeToFirstToken) * 1000)
}
// Decode figures are the best of three runs, like prefill and TTFT above: on a shared machine a
// single run mostly measures what else was running at that moment.
var tg = 0.0
for _ in 0..<3 {
    let single = try await run(engine, [GenerationRequest(prompt: counting, sampling: .greedy, maxTokens: 128)])
    tg = max(tg, single.summaries[0].timings.decodeTokensPerSecond)
}
var aggregate: [Int: Double] = [:]
for streams in [4, 8, 16] {
    let requests = (0..<streams).map { i in
        GenerationRequest(
            prompt: counting, sampling: SamplingParameters(temperature: 0.7, seed: UInt64(i)), maxTokens: 96)
    }
    for _ in 0..<3 {
        let r = try await run(engine, requests)
        // Steady state only: from the last stream's first token to the first stream's last token.
        aggregate[streams] = max(aggregate[streams] ?? 0, r.steadyDecodeRate ?? 0)
    }
}
let peakRSS = peakRSSMegabytes()  // before the bandwidth buffer
let bandwidth = measureBandwidth(threads: threadCount)
let achieved = Double(engine.weightBytesPerStep) * tg / 1e9
engine.shutdown()

func row(_ name: String, _ ours: Double, _ reference: String, _ unit: String) {
    print(
        name.padding(toLength: 34, withPad: " ", startingAt: 0)
            + String(format: "%10.1f", ours).padding(toLength: 12, withPad: " ", startingAt: 0)
            + reference.padding(toLength: 30, withPad: " ", startingAt: 0) + unit)
}
let load = (try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8))?.split(separator: " ").first ?? "?"
print("")
print("load average during the run: \(load) on \(ProcessInfo.processInfo.activeProcessorCount) CPUs (others' work slows every figure)")
// llama.cpp's figures were measured on SmolLM2's file; for another model the column stays empty.
let isReferenceModel = modelArgument == KnownModel.smollm2.name
func reference(_ figures: String) -> String { isReferenceModel ? figures : "–" }
print("measure".padding(toLength: 34, withPad: " ", startingAt: 0) + "    parley  llama.cpp 2t / 1t              unit")
row("prefill, 64-token prompt", pp64, reference("278 / –"), "tokens/s")
row("prefill, 512-token prompt", pp512, reference("274 / 154"), "tokens/s")
row("decode, 1 stream", tg, reference("133 / 82"), "tokens/s")
for streams in [4, 8, 16] {
    let rate = aggregate[streams]!
    row(
        "decode, \(streams) streams (aggregate)", rate,
        String(format: "%.1f× single; step %.1f ms", rate / tg, Double(streams) / rate * 1000), "tokens/s")
}
row("time to first token, 100 tokens", ttft, "goal ≤ 200", "ms")
row("peak RSS (engine, before bw test)", peakRSS, "–", "MB")
row("memory bandwidth (stream read)", bandwidth, "–", "GB/s")
row("decode weight traffic", achieved, String(format: "%.0f%% of bw", achieved / bandwidth * 100), "GB/s")
print("")
if !isReferenceModel { print("(llama.cpp's figures and the goals are SmolLM2's; not shown for this model)"); exit(0) }
print(String(format: "goals: decode ≥ 133: %@; prefill ≥ 278/274: %@; 8 streams ≥ 4× single (%.1f×): %@; TTFT ≤ 200 ms: %@",
    tg >= 133 ? "yes" : "no", pp64 >= 278 && pp512 >= 274 ? "yes" : "no", aggregate[8]! / tg,
    aggregate[8]! >= 4 * tg ? "yes" : "no", ttft <= 200 ? "yes" : "no"))
