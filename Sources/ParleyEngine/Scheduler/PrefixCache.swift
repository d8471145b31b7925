/// KV caches of finished sequences, kept so that a request whose prompt begins with the same
/// tokens — the next turn of a chat repeats the earlier turns — skips prefilling them.
///
/// A cache is taken out of the pool by the request that reuses it (a cache belongs to one sequence
/// at a time) and goes back, with its new tokens, when that sequence ends. The pool is bounded in
/// positions; the least recently used cache leaves first. Owned by the compute thread.
struct PrefixCache {
    struct Entry {
        /// The tokens whose keys and values fill the cache's first `tokens.count` positions.
        var tokens: [Int32]
        var cache: KVCache
        var lastUse: UInt64
    }

    /// Positions (cache capacities) the pool may hold together; 0 disables it.
    let maxPositions: Int
    /// Shortest common prefix worth reusing.
    let minimumReuse: Int
    private(set) var entries: [Entry] = []
    private(set) var positions = 0
    private var uses: UInt64 = 0

    init(maxPositions: Int, minimumReuse: Int = 16) {
        self.maxPositions = max(0, maxPositions)
        self.minimumReuse = max(1, minimumReuse)
    }

    /// Keeps `cache`, whose first `tokens.count` positions hold `tokens`, evicting older entries to
    /// make room. A cache larger than the whole pool is dropped.
    mutating func insert(tokens: [Int32], cache: KVCache) {
        guard !tokens.isEmpty, cache.capacity <= maxPositions else { return }
        // A kept cache that is a prefix of the new one adds nothing.
        entries.removeAll { entry in
            let redundant = entry.tokens.count <= tokens.count && tokens.starts(with: entry.tokens)
            if redundant { positions -= entry.cache.capacity }
            return redundant
        }
        while positions + cache.capacity > maxPositions, let oldest = entries.indices.min(by: {
            entries[$0].lastUse < entries[$1].lastUse
        }) {
            positions -= entries[oldest].cache.capacity
            entries.remove(at: oldest)
        }
        uses += 1
        entries.append(Entry(tokens: tokens, cache: cache, lastUse: uses))
        positions += cache.capacity
    }

    /// The cache sharing the longest prefix with `prompt` (at least ``minimumReuse`` tokens), taken
    /// out of the pool, with the number of leading prompt tokens it already holds. At least the
    /// prompt's last token is left to compute, so the request still gets its first logits.
    mutating func take(matching prompt: [Int32]) -> (cache: KVCache, reused: Int)? {
        let limit = prompt.count - 1
        guard limit >= minimumReuse else { return nil }
        var best: (index: Int, length: Int)?
        for (index, entry) in entries.enumerated() {
            let length = Self.commonPrefix(entry.tokens, prompt, limit: limit)
            if length >= minimumReuse, length > (best?.length ?? 0) { best = (index, length) }
        }
        guard let best else { return nil }
        let entry = entries.remove(at: best.index)
        positions -= entry.cache.capacity
        return (entry.cache, best.length)
    }

    static func commonPrefix(_ a: [Int32], _ b: [Int32], limit: Int) -> Int {
        let end = min(a.count, b.count, limit)
        var i = 0
        while i < end && a[i] == b[i] { i += 1 }
        return i
    }
}
