import ArgumentParser
import Foundation
import Histogram
import ParleyClient

/// `parley-load` (run through `tools/load`): N simulated users streaming chat completions from
/// one or several gateways.
@main
struct LoadCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "parley-load",
        abstract: "Load a Parley cluster with simulated chat users and report latency and exactness.",
        discussion: """
            Each user sends a prompt, reads the streamed answer, thinks (--think-time, ±50%), and repeats \
            until --duration ends (or --requests have been sent). A live progress line goes to standard \
            error; at the end a table (or --json) gives time to first token, inter-token time and total \
            time (p50/p90/p99/max), streams per second, and errors by kind.

            Exactness (--verify, on by default for the synthetic model): every stream must end with \
            [DONE] with event ids 1…n contiguous (duplicated or missing tokens are counted), have \
            --max-tokens tokens, and equal every other answer to the same request (the synthetic model \
            answers a request always the same way).
            """)

    @Option(name: .customLong("url"), help: "Gateway base URL (repeat: users spread over them; resumes fail over).")
    var urls: [String]

    @Option(name: .customLong("api-key"), help: "API key (repeat: user i uses key i mod count; default $PARLEY_API_KEY).")
    var apiKeys: [String] = []

    @Option(help: "Simulated users.")
    var users = 8

    @Option(help: "Run time in seconds.")
    var duration: Double = 30

    @Option(help: "Stop after this many requests in all (default: no limit).")
    var requests: Int?

    @Option(help: "Mean think time between a user's requests, in milliseconds.")
    var thinkTime: Double = 500

    @Option(
        help: ArgumentHelp(
            "Spread the users' first requests evenly over this many seconds (0: all users start at once).",
            discussion: "Without it, users with no think time and equal answers stay in step and send their requests in bursts."))
    var rampUp: Double = 0

    @Option(help: "Model name.")
    var model = "synthetic"

    @Option(help: "Tokens per answer (max_completion_tokens).")
    var maxTokens: Int = 32

    @Option(help: "Distinct prompts the users cycle through.")
    var prompts = 16

    @Flag(help: "Send store: false (nothing is written to conversations).")
    var noStore = false

    @Option(help: "Check exactness (default: on for --model synthetic).")
    var verify: Bool?

    @Option(help: "Seed of the think times.")
    var seed: UInt64 = 1

    @Flag(
        name: .customLong("check-stored"),
        help: "After the run, read back every acknowledged stored answer and count the lost ones (exit status 2 if any).")
    var checkStored = false

    @Flag(help: "Print the result as JSON on standard output.")
    var json = false

    @Flag(help: "No progress line.")
    var quiet = false

    func validate() throws {
        guard !urls.isEmpty else { throw ValidationError("give at least one --url") }
        guard users > 0, duration > 0, prompts > 0, maxTokens > 0, thinkTime >= 0 else {
            throw ValidationError("--users, --duration, --prompts and --max-tokens must be positive")
        }
        guard rampUp >= 0, rampUp < duration else { throw ValidationError("--ramp-up must be at least 0 and below --duration") }
    }

    func run() async throws {
        let keys = apiKeys.isEmpty ? [ProcessInfo.processInfo.environment["PARLEY_API_KEY"]] : apiKeys.map { Optional($0) }
        let base = ParleyClient(
            configuration: .init(
                gatewayURLs: urls, apiKey: keys[0], readTimeout: .seconds(30),
                maximumConnectionsPerGateway: users + 4))
        let plan = LoadPlan(
            model: model, maxTokens: maxTokens, prompts: prompts, thinkTime: .microseconds(Int64(thinkTime * 1000)),
            store: !noStore, verify: verify ?? (model == "synthetic"), seed: seed,
            firstRequestSpacing: .microseconds(Int64(rampUp * 1_000_000 / Double(users))))
        let stats = LoadStats()
        let budget = RequestBudget(requests)
        let stored = checkStored && !noStore ? StoredAnswers() : nil
        let started = ContinuousClock.now
        let deadline = started + .microseconds(Int64(duration * 1_000_000))
        let progress = ProgressLine(stats: stats, started: started, enabled: !quiet)
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await progress.run() }
            await withTaskGroup(of: Void.self) { usersGroup in
                for index in 0..<users {
                    let client = base.sharingConnections(apiKey: keys[index % keys.count], gatewayOffset: index)
                    let user = SimulatedUser(index: index, client: client, plan: plan, stats: stats, stored: stored)
                    usersGroup.addTask { await user.run(until: deadline, budget: budget) }
                }
            }
            group.cancelAll()
        }
        let elapsed = started.duration(to: .now)
        progress.finish()
        var storedOutcome: StoredAnswers.Outcome?
        if let stored {
            if !quiet { FileHandle.standardError.write(Data("checking the stored answers…\n".utf8)) }
            storedOutcome = await stored.verify { user in
                base.sharingConnections(apiKey: keys[user % keys.count], gatewayOffset: user)
            }
        }
        try? await base.shutdown()
        let report = LoadReport(
            stats: stats.snapshot, elapsed: elapsed, users: users, gateways: urls, plan: plan, stored: storedOutcome)
        print(json ? report.json() : report.table())
        if report.hasExactnessFaults || (storedOutcome?.lost ?? 0) > 0 { throw ExitCode(2) }
    }
}

/// The live progress line on standard error: once a second, `\r`-rewritten on a terminal, a new
/// line every 5 s otherwise.
struct ProgressLine: Sendable {
    let stats: LoadStats
    let started: ContinuousClock.Instant
    let enabled: Bool

    private var terminal: Bool { isatty(STDERR_FILENO) == 1 }

    func run() async {
        guard enabled else { return }
        var ticks = 0
        while !Task.isCancelled {
            try? await Task.sleep(for: .seconds(1))
            if Task.isCancelled { break }
            ticks += 1
            if terminal {
                FileHandle.standardError.write(Data(("\r\u{1B}[K" + line()).utf8))
            } else if ticks % 5 == 0 {
                FileHandle.standardError.write(Data((line() + "\n").utf8))
            }
        }
    }

    func finish() {
        if enabled, terminal { FileHandle.standardError.write(Data(("\r\u{1B}[K" + line() + "\n").utf8)) }
    }

    func line() -> String {
        let state = stats.snapshot
        let seconds = max(0.001, LoadReport.seconds(started.duration(to: .now)))
        let inFlight = state.started - state.completed - state.failed
        let ttft = state.timeToFirstToken.totalCount > 0 ? LoadReport.ms(state.timeToFirstToken.valueAtPercentile(50)) : "-"
        return "\(LoadReport.fixed(seconds, 1))s  done \(state.completed)  failed \(state.failed)  in flight \(inFlight)  "
            + "\(LoadReport.fixed(Double(state.completed) / seconds, 1)) streams/s  "
            + "\(LoadReport.fixed(Double(state.tokens) / seconds, 0)) tok/s  ttft p50 \(ttft) ms"
    }
}
