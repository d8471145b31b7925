import Foundation
import ParleyConversation
import ParleyProtocol

/// `kill -9` durability check: a child process appends messages as fast as it can and prints
/// each acknowledged id; the parent kills it with SIGKILL at a random moment, reopens the
/// database and checks that every acknowledged message is there.
enum DurabilityCheck {
    /// Child mode: append forever, one acknowledged id per line on standard output.
    static func runWriter(path: String) async throws -> Never {
        let db = try ConversationDatabase(configuration: .init(path: path))
        let conversation = try await db.createConversation(owner: "durability")
        FileHandle.standardOutput.write(Data("C \(conversation.id)\n".utf8))
        var i = 0
        while true {
            let base = i
            try await withThrowingTaskGroup(of: String.self) { group in
                for j in 0..<16 {
                    group.addTask { [db, conversation] in
                        try await db.appendMessage(
                            owner: "durability", conversationID: conversation.id,
                            NewMessage(role: .user, content: "message \(base + j) that must survive", parent: .root)
                        ).id
                    }
                }
                for try await id in group {
                    FileHandle.standardOutput.write(Data("A \(id)\n".utf8))
                }
            }
            i += 16
        }
    }

    /// Parent mode: returns (acknowledged, missing after restart).
    static func run(executable: String, folder: String, killAfterMilliseconds: Int) async throws -> (Int, Int) {
        let path = folder + "/durability.sqlite"
        for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) }
        let child = Process()
        child.executableURL = URL(fileURLWithPath: executable)
        child.arguments = ["--durability-child", path]
        // A file, not a pipe: the child never blocks on a full pipe while the parent waits.
        let log = folder + "/durability.acks"
        _ = FileManager.default.createFile(atPath: log, contents: Data())
        let logHandle = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        child.standardOutput = logHandle
        try child.run()
        try await Task.sleep(for: .milliseconds(killAfterMilliseconds))
        kill(child.processIdentifier, SIGKILL)
        child.waitUntilExit()
        try logHandle.close()
        let output = String(decoding: try Data(contentsOf: URL(fileURLWithPath: log)), as: UTF8.self)
        var conversationID = ""
        var acknowledged: [String] = []
        for line in output.split(separator: "\n") where line.count > 2 {
            let value = String(line.dropFirst(2))
            if line.hasPrefix("C ") { conversationID = value }
            // A line cut by the kill is not a complete acknowledgement.
            if line.hasPrefix("A "), value.count == 36 { acknowledged.append(value) }
        }
        let reopened = try ConversationDatabase(configuration: .init(path: path))
        var stored = Set<String>()
        var cursor: String?
        repeat {
            let page = try await reopened.messages(owner: "durability", conversationID: conversationID, limit: 200, cursor: cursor)
            stored.formUnion(page.data.map(\.id))
            cursor = page.nextCursor
        } while cursor != nil
        return (acknowledged.count, acknowledged.filter { !stored.contains($0) }.count)
    }
}
