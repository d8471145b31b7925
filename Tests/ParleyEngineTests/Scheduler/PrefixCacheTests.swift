import Testing

@testable import ParleyEngine

/// The pool of finished sequences' caches: longest-prefix choice, ownership, bounds and eviction.
struct PrefixCacheTests {
    static func cache(_ capacity: Int) -> KVCache { KVCache(layerCount: 1, width: 2, capacity: capacity) }

    @Test func takesTheLongestSharedPrefixAndLeavesTheLastPromptTokenToCompute() {
        var pool = PrefixCache(maxPositions: 1000, minimumReuse: 2)
        let short = Self.cache(10), long = Self.cache(10)
        pool.insert(tokens: [1, 2, 3], cache: short)
        pool.insert(tokens: [1, 2, 9, 9, 9], cache: long)
        pool.insert(tokens: [1, 2, 3, 4, 5, 6], cache: Self.cache(10))  // replaces the [1, 2, 3] entry
        #expect(pool.entries.count == 2)
        let taken = pool.take(matching: [1, 2, 3, 4, 5, 6])
        #expect(taken?.reused == 5)  // the prompt's last token is computed again for its logits
        #expect(pool.entries.count == 1)
        // A taken cache is gone: the same prompt now only finds the shorter match.
        #expect(pool.take(matching: [1, 2, 9, 9, 9, 7])?.cache === long)
        #expect(pool.take(matching: [1, 2, 3]) == nil)
    }

    @Test func shortOrMissingMatchesAreNotReused() {
        var pool = PrefixCache(maxPositions: 1000, minimumReuse: 4)
        pool.insert(tokens: [1, 2, 3, 4, 5], cache: Self.cache(8))
        #expect(pool.take(matching: [1, 2, 3, 7, 7, 7]) == nil)  // 3 shared < 4
        #expect(pool.take(matching: [9, 9, 9, 9, 9]) == nil)
        #expect(pool.take(matching: [1, 2, 3, 4]) == nil)  // 4 shared, but only 3 may be reused
        #expect(pool.entries.count == 1)
    }

    @Test func theLeastRecentlyUsedCacheLeavesWhenThePoolIsFull() {
        var pool = PrefixCache(maxPositions: 25, minimumReuse: 1)
        pool.insert(tokens: [1], cache: Self.cache(10))
        pool.insert(tokens: [2], cache: Self.cache(10))
        pool.insert(tokens: [3], cache: Self.cache(10))  // 30 > 25: [1] leaves
        #expect(pool.entries.map(\.tokens) == [[2], [3]])
        #expect(pool.positions == 20)
        pool.insert(tokens: [4], cache: Self.cache(100))  // larger than the whole pool: dropped
        #expect(pool.positions == 20)
        let disabled = PrefixCache(maxPositions: 0)
        var copy = disabled
        copy.insert(tokens: [1, 2], cache: Self.cache(1))
        #expect(copy.entries.isEmpty)
    }
}
