import GRDB
import GRDBSQLite

/// `parley_rank(messages_fts, idf0, idf1, …)`: BM25 over the `body` column with inverse
/// document frequencies supplied by the caller, one argument per phrase of the MATCH expression.
///
/// FTS5's built-in `bm25()` computes each phrase's document frequency over the *whole* table
/// on every query; for a common word that walks the doclist of every user (38 ms for "the" at
/// 1M messages). Search is scoped to one user, so the caller computes IDFs over that user's
/// messages (a few cheap owner-scoped counts) and this function only reads the current row:
/// term frequencies from the phrase instances, the row's length and the table's average.
enum UserScopedRank {
    static let name = "parley_rank"
    /// BM25 parameters (Robertson/Lucene defaults).
    static let k1 = 1.2
    static let b = 0.75
    /// Column index of `body` in `messages_fts`.
    static let bodyColumn: Int32 = 1

    /// Registers the function on a connection (each connection needs it; call from
    /// `prepareDatabase`).
    static func register(_ db: Database) throws {
        guard let connection = db.sqliteConnection else { return }
        var api: UnsafeMutablePointer<fts5_api>?
        var statement: OpaquePointer?
        guard sqlite3_prepare_v2(connection, "SELECT fts5(?1)", -1, &statement, nil) == SQLITE_OK else {
            throw DatabaseError(message: "fts5 is not available")
        }
        defer { sqlite3_finalize(statement) }
        _ = withUnsafeMutablePointer(to: &api) { pointer in
            sqlite3_bind_pointer(statement, 1, pointer, "fts5_api_ptr", nil)
        }
        _ = sqlite3_step(statement)
        guard let api, let create = api.pointee.xCreateFunction else {
            throw DatabaseError(message: "fts5 extension API not available")
        }
        let status = create(api, name, nil, rank, nil)
        guard status == SQLITE_OK else { throw DatabaseError(resultCode: ResultCode(rawValue: status)) }
    }

    private static let rank: fts5_extension_function = { apiPointer, fts, context, argumentCount, arguments in
        guard let apiPointer, let fts, let context else { return }
        let api = apiPointer.pointee
        var rows: sqlite3_int64 = 0
        var totalTokens: sqlite3_int64 = 0
        var length: Int32 = 0
        var instances: Int32 = 0
        guard api.xRowCount(fts, &rows) == SQLITE_OK,
            api.xColumnTotalSize(fts, bodyColumn, &totalTokens) == SQLITE_OK,
            api.xColumnSize(fts, bodyColumn, &length) == SQLITE_OK,
            api.xInstCount(fts, &instances) == SQLITE_OK
        else {
            sqlite3_result_double(context, 0)
            return
        }
        let phrases = Int(min(api.xPhraseCount(fts), argumentCount))
        let averageLength = rows > 0 && totalTokens > 0 ? Double(totalTokens) / Double(rows) : 1
        let norm = k1 * (1 - b + b * Double(length) / averageLength)
        var score = 0.0
        withUnsafeTemporaryAllocation(of: Double.self, capacity: max(1, phrases)) { frequencies in
            frequencies.initialize(repeating: 0)
            for instance in 0..<instances {
                var phrase: Int32 = 0
                var column: Int32 = 0
                var offset: Int32 = 0
                if api.xInst(fts, instance, &phrase, &column, &offset) == SQLITE_OK, column == bodyColumn,
                    Int(phrase) < phrases
                {
                    frequencies[Int(phrase)] += 1
                }
            }
            for phrase in 0..<phrases where frequencies[phrase] > 0 {
                let idf = sqlite3_value_double(arguments![phrase])
                let tf = frequencies[phrase]
                score += idf * tf * (k1 + 1) / (tf + norm)
            }
        }
        sqlite3_result_double(context, score)
    }
}
