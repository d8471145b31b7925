import Foundation
import Testing

@testable import ParleyEngine

/// The attention of a run of positions (`Attention.attendRun`, four queries at a time) against
/// the attention of each token alone (`Attention.attendGroup`), with the portable Swift kernels
/// and (where the CPU has them) the AVX-512 ones: equal bit for bit.
@Suite struct AttentionTests {
    /// A run of `tokens` tokens from `position` on, attending to a cache of random keys and values,
    /// with random queries.
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
        Case(headDimension: 128, group: 7, position: 21, tokens: 4),  // seven groups of four
        Case(headDimension: 128, group: 5, position: 21, tokens: 3),  // the last group filled up
        Case(headDimension: 40, group: 4, position: 90, tokens: 4),  // an odd number of vectors per head
        Case(headDimension: 256, group: 4, position: 700, tokens: 4, window: 512),  // Gemma 3's local layers
        Case(headDimension: 64, group: 3, position: 30, tokens: 4, window: 16),
        Case(headDimension: 64, group: 3, position: 30, tokens: 4, window: 3),  // no position every token sees
        Case(headDimension: 64, group: 3, position: 30, tokens: 4, window: 2),  // windows shorter than the tile
        Case(headDimension: 64, group: 3, position: 0, tokens: 3, window: 1),
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
        var alone = KernelPath.available.map { ($0, [Float](repeating: .nan, count: queries.count)) }
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
                    for r in alone.indices {
                        let kernels = alone[r].0
                        alone[r].1.withUnsafeMutableBufferPointer { out in
                            Attention.attendGroup(
                                query: q.baseAddress! + t * queryWidth + head * c.headDimension, heads: c.group,
                                cache: cache, layer: 1, kvHead: kvHead, first: first, last: last, scale: scale,
                                softcap: c.softcap, scratch: scratch,
                                out: out.baseAddress! + t * queryWidth + head * c.headDimension, kernels: kernels)
                        }
                    }
                }
            }
        }
        let reference = alone[0].1  // one query at a time, portable kernels
        #expect(!reference.contains { $0.isNaN })
        for (name, outputs) in runs.map({ ("run, \($0.0)", $0.1) }) + alone.dropFirst().map({ ("alone, \($0.0)", $0.1) }) {
            let differing = zip(outputs, reference).filter { $0.bitPattern != $1.bitPattern }.count
            #expect(differing == 0, "\(name): \(differing) of \(outputs.count) outputs differ")
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

    /// The AVX-512 softmax reads and writes nothing past its row padded to a multiple of eight:
    /// each row ends where an inaccessible page begins.
    @Test func theWideSoftmaxStaysInsideItsPaddedRow() throws {
        try #require(KernelPath.cpuSupportsVNNI, "no AVX-512 here: only the portable softmax runs")
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let memory = try #require(
            mmap(nil, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0).flatMap {
                $0 == MAP_FAILED ? nil : $0
            })
        defer { munmap(memory, 2 * page) }
        #expect(mprotect(memory + page, page, PROT_NONE) == 0)
        for count in 1...70 {
            let padded = (count + 7) / 8 * 8
            let row = (memory + page - 4 * padded).bindMemory(to: Float.self, capacity: padded)
            for p in 0..<padded { row[p] = Float(p % 13) - 6 }
            Attention.softmax(row, count: count, scale: 0.5, softcap: nil, roundToHalf: true, avx512: true)
            let total = (0..<count).reduce(0.0) { $0 + Double(row[$1]) }
            #expect(abs(total - 1) < 1e-2, "count \(count)")
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

/// A whole forward pass on random-weight files (no real model or Python needed): a prompt read in
/// one step (tiles of four), in steps of five (tiles cut differently), and a token at a time (one
/// query at a time when alone) gives the same logits bit for bit, for groups of 2 and 8 heads.
@Suite struct TiledPrefillTests {
    @Test(arguments: [(heads: 4, kvHeads: 2), (heads: 8, kvHeads: 1)])
    func aPromptGivesTheSameLogitsHoweverItIsCut(_ shape: (heads: Int, kvHeads: Int)) throws {
        let file = RandomModelFile(heads: shape.heads, kvHeads: shape.kvHeads)
        let model = try TransformerModel(
            file: try GGUFFile(path: try file.write(named: "tiles-\(shape.heads)-\(shape.kvHeads)")))
        let prompt = (0..<23).map { Int32(($0 * 29 + 5) % 64) }
        let whole = ReferenceModel.engineLogits(model, prompt, chunk: prompt.count)
        #expect(!whole.isEmpty && whole.allSatisfy(\.isFinite))
        for chunk in [5, 1] {
            let cut = ReferenceModel.engineLogits(model, prompt, chunk: chunk)
            #expect(cut.map(\.bitPattern) == whole.map(\.bitPattern), "steps of \(chunk)")
        }
    }
}
