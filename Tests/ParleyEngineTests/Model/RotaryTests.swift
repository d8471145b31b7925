import Foundation
import Testing

@testable import ParleyEngine

/// The rotary tables and the two ways of pairing elements.
@Suite struct RotaryTests {
    @Test func tableAnglesFollowBaseScaleAndFactors() {
        var cos = [Float](repeating: 0, count: 4), sin = [Float](repeating: 0, count: 4)
        let factors: [Float] = [1, 2, 4, 8]
        for (scale, withFactors) in [(Float(1), false), (1, true), (8, false), (8, true)] {
            factors.withUnsafeBufferPointer { f in
                Operators.ropeTable(
                    position: 12, base: 10_000, dims: 8, positionScale: scale, factors: withFactors ? f.baseAddress : nil,
                    cos: &cos, sin: &sin)
            }
            for i in 0..<4 {
                let angle = Double(12) / Double(scale) * pow(10_000, -2 * Double(i) / 8) / Double(withFactors ? factors[i] : 1)
                #expect(abs(Double(cos[i]) - Foundation.cos(angle)) < 1e-5, "scale \(scale) factors \(withFactors) pair \(i)")
                #expect(abs(Double(sin[i]) - Foundation.sin(angle)) < 1e-5, "scale \(scale) factors \(withFactors) pair \(i)")
            }
        }
    }

    @Test func adjacentAndHalvesModesRotateTheirOwnPairs() {
        // A quarter turn: (a, b) becomes (−b, a).
        let cos: [Float] = [0, 0], sin: [Float] = [1, 1]
        var adjacent: [Float] = [1, 2, 3, 4]
        Operators.rope(&adjacent, heads: 1, headDim: 4, dims: 4, cos: cos, sin: sin)
        #expect(adjacent == [-2, 1, -4, 3])
        var halves: [Float] = [1, 2, 3, 4]
        Operators.ropeHalves(&halves, heads: 1, headDim: 4, dims: 4, cos: cos, sin: sin)
        #expect(halves == [-3, -4, 1, 2])
        // Only the first `dims` elements of each head turn.
        var partial: [Float] = [1, 2, 3, 4, 5, 6, 7, 8]
        Operators.ropeHalves(&partial, heads: 2, headDim: 4, dims: 2, cos: cos, sin: sin)
        #expect(partial == [-2, 1, 3, 4, -6, 5, 7, 8])
    }

    @Test func geluGateMatchesTheFormulaAndLlamaCppsHalfTable() {
        let inputs: [Float] = [-12, -3, -0.5, 0, 0.25, 1, 2.5, 9.99, 11]
        let up = [Float](repeating: 2, count: inputs.count)
        var exact = inputs, table = inputs
        Operators.geluGate(&exact, up: up, count: inputs.count, halfTable: false)
        Operators.geluGate(&table, up: up, count: inputs.count, halfTable: true)
        for (i, x) in inputs.enumerated() {
            let d = Double(x)
            let gelu = 0.5 * d * (1 + tanh(0.797_884_560_8 * d * (1 + 0.044_715 * d * d)))
            #expect(abs(Double(exact[i]) - 2 * gelu) < 1e-5, "x = \(x)")
            #expect(abs(Double(table[i]) - 2 * gelu) <= max(2e-3 * abs(2 * gelu), 1e-3), "x = \(x)")
        }
        #expect(table[0] == 0 && table[8] == 22)
        // The half table's output is an f16 times the up value.
        #expect(Float(Float16(table[6] / 2)) == table[6] / 2)
    }
}
