/// What the storage writer keeps between the row writes of one transaction, so work that would
/// otherwise repeat for every row is done once: the partition digest changes (summed and written
/// once per partition just before the commit) and the user numbers already read.
///
/// A write that fails rolls back its savepoint: its digest changes are dropped with it (the
/// journal is cut back to where the write started) and the user numbers are forgotten (one may
/// have been read from a row the failed write inserted). A transaction that rolls back forgets
/// everything.
struct DeferredWrites {
    /// Digest changes of the running transaction, in the order they were made.
    private(set) var digestChanges: [(partition: Int, delta: RowHash, rows: Int64)] = []
    /// Owner → user number, as read from `users`; kept across transactions.
    private var userNumbers: [String: Int64] = [:]
    /// Most user numbers kept; the map is emptied when it would grow beyond this.
    static let maxUserNumbers = 100_000

    /// Where the running write starts (see ``dropChanges(after:)``).
    var mark: Int { digestChanges.count }

    mutating func addDigestChange(partition: Int, delta: RowHash, rows: Int64) {
        digestChanges.append((partition, delta, rows))
    }

    /// A write that started at `mark` failed: forgets its changes and every cached user number.
    mutating func dropChanges(after mark: Int) {
        digestChanges.removeSubrange(min(mark, digestChanges.count)...)
        userNumbers.removeAll()
    }

    /// The transaction's digest changes summed by partition, and an empty journal.
    mutating func takeDigestChanges() -> [Int: (hash: RowHash, rows: Int64)] {
        var sums: [Int: (hash: RowHash, rows: Int64)] = [:]
        for change in digestChanges {
            let current = sums[change.partition] ?? (.zero, 0)
            sums[change.partition] = (current.hash ^ change.delta, current.rows + change.rows)
        }
        digestChanges.removeAll(keepingCapacity: true)
        return sums
    }

    /// The transaction rolled back.
    mutating func reset() {
        digestChanges.removeAll()
        userNumbers.removeAll()
    }

    func userNumber(_ owner: String) -> Int64? { userNumbers[owner] }

    mutating func remember(owner: String, number: Int64) {
        if userNumbers.count >= Self.maxUserNumbers { userNumbers.removeAll() }
        userNumbers[owner] = number
    }
}
