import Foundation
import Testing

@testable import ParleyEngine

/// The attention of a run of positions (`Attention.attendRun`, four queries at a time) against
/// the attention of each token alone (`Attention.attendGroup`): equal bit for bit.
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

    @Test(arguments: cases) func aRunEqualsItsTokensOneByOne(_ c: Case) {
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
        var run = [Float](repeating: .nan, count: queries.count)
        var alone = [Float](repeating: .nan, count: queries.count)
        let scale: Float = 0.125
        for kvHead in 0..<c.kvHeads {
            let head = kvHead * c.group
            queries.withUnsafeBufferPointer { q in
                run.withUnsafeMutableBufferPointer { out in
                    Attention.attendRun(
                        queries: q.baseAddress! + head * c.headDimension, queryStride: queryWidth, tokens: c.tokens,
                        heads: c.group, cache: cache, layer: 1, kvHead: kvHead, position: c.position, window: c.window,
                        scale: scale, softcap: c.softcap, out: out.baseAddress! + head * c.headDimension,
                        outStride: queryWidth)
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
                            out: out.baseAddress! + t * queryWidth + head * c.headDimension)
                    }
                }
            }
        }
        #expect(!run.contains { $0.isNaN })
        let differing = zip(run, alone).filter { $0.bitPattern != $1.bitPattern }.count
        #expect(differing == 0, "\(differing) of \(run.count) outputs differ")
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
