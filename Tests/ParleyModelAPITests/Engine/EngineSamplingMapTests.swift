import ParleyEngine
import ParleyProtocol
import Testing

@testable import ParleyModelAPI

/// The request's sampling options become the engine's parameters field by field; what the request
/// leaves out keeps the engine's default.
struct EngineSamplingMapTests {
    @Test func everyOptionReachesTheEngine() {
        let options = SamplingOptions(
            temperature: 0.3, topP: 0.8, seed: 9, frequencyPenalty: 0.5, presencePenalty: -0.5, logitBias: [7: -100],
            topK: 12, minP: 0.2, repetitionPenalty: 1.3)
        let parameters = EngineBackend.parameters(options)
        #expect(parameters.temperature == 0.3)
        #expect(parameters.topP == 0.8)
        #expect(parameters.topK == 12)
        #expect(parameters.minP == 0.2)
        #expect(parameters.repetitionPenalty == 1.3)
        #expect(parameters.frequencyPenalty == 0.5 && parameters.presencePenalty == -0.5)
        #expect(parameters.logitBias == [7: -100])
        #expect(parameters.seed == 9)
    }

    @Test func leftOutOptionsKeepTheDefaults() {
        let parameters = EngineBackend.parameters(SamplingOptions())
        let defaults = SamplingParameters()
        #expect(parameters.temperature == defaults.temperature)
        #expect(parameters.topK == defaults.topK && parameters.minP == defaults.minP && parameters.topP == defaults.topP)
        #expect(parameters.repetitionPenalty == defaults.repetitionPenalty)
        #expect(EngineBackend.parameters(SamplingOptions(topK: 0)).topK == 0)
    }
}
