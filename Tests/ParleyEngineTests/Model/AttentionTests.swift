import Foundation
import Testing

@testable import ParleyEngine

/// The attention of a run of positions (`Attention.attendRun`, four queries at a time) against
/// the attention of each token alone (`Attention.attendGroup`), with the portable Swift kernels
/// and (where the CPU has them) the AVX-512 ones: equal bit for bit.
@Suite struct AttentionTests {
    /// A cache of random keys and values for positions `0..<positions`, and random queries for the
    /// run's tokens.
    struct Case: CustomStringConvertible {
        var headDimension: Int
        var kvHeads = 2
        var group: Int
        var position: Int
        var tokens: Int
        var window: Int?
        var element: KVCache.Element = .half
        var softcap: Float?

        var description: String {
            "head \(headDimension), group \(group), tokens \(position)+\(tokens), window \(window.map(String.init) ?? "-"), \(element)"
                + (softcap.map { ", softcap \($0)" } ?? "")
        }
    }

    static let cases: [Case] = [
        Case(headDimension: 64, group: 3, position: 0, tokens: 4),  // a prompt's first tile
        Case(headDimension: 64, group: 3, position: 37, tokens: 4),
        Case(headDimension: 64, group: 3, position: 300, tokens: 3),
        Case(headDimension: 128, group: 1, position: 50, tokens: 4),
        Case(headDimension: 128, group: 2, position: 9, tokens: 2),
        Case(headDimension: 128, group: 7, position: 21, tokens: 4),  // leftover queries one by one
        Case(headDimension: 40, group: 4, position: 90, tokens: 4),  // an odd number of vectors per head
        Case(headDimension: 256, group: 4, position: 700, tokens: 4, window: 512),  // Gemma 3's local layers
        Case(headDimension: 64, group: 3, position: 30, tokens: 4, window: 16),
        Case(headDimension: 64, group: 3, position: 30, tokens: 4, window: 3),  // no position every token sees
        Case(headDimension: 64, group: 2, position: 60, tokens: 4, element: .float),
        Case(headDimension: 64, group: 2, position: 60, tokens: 4, window: 20, softcap: 50),
    ]

    @Test(arguments: cases) func aRunEqualsItsTokensOneByOne(_ c: Case) { Self.check(c) }

    /// One token's attention through `attendRun` (its heads filled up to four queries) and alone.
    @Test(arguments: [1, 2, 3, 5, 7]) func aSingleTokensHeadsEqualTheirAttentionAlone(_ group: Int) {
        var c = Case(headDimension: 64, group: group, position: 45, tokens: 1)
        Self.check(c)
        c.window = 8
        Self.check(c)
    }

    /// Runs case `c` through `attendRun` with each kernel path and `attendGroup` token by token.
    static func check(_ c: Case) {
        var random = Xoshiro256(seed: UInt64(c.headDimension * 1000 + c.position))
        func value() -> Float { Float(random.nextUnit() * 4 - 2) }
        let width = c.kvHeads * c.headDimension, queryWidth = c.kvHeads * c.group * c.headDimension
        let end = c.position + c.tokens
        let cache = KVCache(
            layerCount: 2, width: width, headDimension: c.headDimension, capacity: end + 5, element: c.element)
        for layer in 0..<2 {
            for p in 0..<end {
                let k = (0..<width).map { _ in value() }, v = (0..<width).map { _ in value() }
                cache.store(layer: layer, position: p, keys: k, values: v)
            }
        }
        let queries = (0..<c.tokens * queryWidth).map { _ in value() }
        let scale: Float = 0.125
        var alone = [Float](repeating: .nan, count: queries.count)
        var runs = KernelPath.available.map { ($0, [Float](repeating: .nan, count: queries.count)) }
        for kvHead in 0..<c.kvHeads {
            let head = kvHead * c.group
            queries.withUnsafeBufferPointer { q in
                for r in runs.indices {
                    let kernels = runs[r].0
                    runs[r].1.withUnsafeMutableBufferPointer { out in
                        Attention.attendRun(
                            queries: q.baseAddress! + head * c.headDimension, queryStride: queryWidth,
                            tokens: c.tokens, heads: c.group, cache: cache, layer: 1, kvHead: kvHead,
                            position: c.position, window: c.window, scale: scale, softcap: c.softcap,
                            out: out.baseAddress! + head * c.headDimension, outStride: queryWidth, kernels: kernels)
                    }
                }
                for t in 0..<c.tokens {
                    let last = c.position + t, first = c.window.map { max(0, last - $0 + 1) } ?? 0
                    let scratch = UnsafeMutablePointer<Float>.allocate(capacity: c.group * (last - first + 8))
                    defer { scratch.deallocate() }
                    alone.withUnsafeMutableBufferPointer { out in
                        Attention.attendGroup(
                            query: q.baseAddress! + t * queryWidth + head * c.headDimension, heads: c.group,
                            cache: cache, layer: 1, kvHead: kvHead, first: first, last: last, scale: scale,
                            softcap: c.softcap, scratch: scratch,
                            out: out.baseAddress! + t * queryWidth + head * c.headDimension, kernels: .portable)
                    }
                }
            }
        }
        #expect(!alone.contains { $0.isNaN })
        for (kernels, run) in runs {
            let differing = zip(run, alone).filter { $0.bitPattern != $1.bitPattern }.count
            #expect(differing == 0, "\(kernels): \(differing) of \(run.count) outputs differ")
        }
    }

    /// The AVX-512 softmax against the portable one: rows of every length up to 70 (whole and
    /// partial vectors of sixteen and eight), with NaN and huge values in the padding that must end
    /// zeroed, underflowing weights, f16 rounding on and off.
    @Test func theWideSoftmaxEqualsThePortableOne() throws {
        try #require(KernelPath.cpuSupportsVNNI, "no AVX-512 here: only the portable softmax runs")
        var random = Xoshiro256(seed: 3)
        for count in 1...70 {
            for roundToHalf in [false, true] {
                let padded = (count + 7) / 8 * 8
                var row = (0..<padded).map { _ in Float(random.nextUnit() * 60 - 30) }
                for p in count..<padded { row[p] = p % 2 == 0 ? .nan : 1e30 }
                if count > 3 { row[1] = -200 }  // a weight that underflows
                var portable = row, wide = row
                portable.withUnsafeMutableBufferPointer {
                    Attention.softmax($0.baseAddress!, count: count, scale: 0.7, softcap: nil, roundToHalf: roundToHalf)
                }
                wide.withUnsafeMutableBufferPointer {
                    Attention.softmax(
                        $0.baseAddress!, count: count, scale: 0.7, softcap: nil, roundToHalf: roundToHalf, avx512: true)
                }
                #expect(portable.map(\.bitPattern) == wide.map(\.bitPattern), "count \(count), f16 \(roundToHalf)")
                #expect(portable[count...].allSatisfy { $0 == 0 })
            }
        }
    }

    @Test func tilesAreRunsOfConsecutivePositionsOfOneSequence() {
        let a = KVCache(layerCount: 1, width: 8, capacity: 32), b = KVCache(layerCount: 1, width: 8, capacity: 32)
        func token(_ cache: KVCache, _ position: Int) -> ForwardPass.Token {
            ForwardPass.Token(id: 1, position: position, cache: cache, wantsLogits: false)
        }
        // Two decoding sequences, then a prompt of seven tokens, then one that skips a position.
        let tokens = [token(a, 20), token(b, 5)] + (0..<7).map { token(a, 21 + $0) } + [token(a, 29)]
        #expect(ForwardPass.tiles(tokens, size: 4) == [0..<1, 1..<2, 2..<6, 6..<9, 9..<10])
        #expect(ForwardPass.tiles([], size: 4) == [])
    }
}
