import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
@testable import ParleyGateway
import ParleyProtocol
import Synchronization
import Testing

@Suite("HTTP API: conversations and stream resume")
struct ConversationRoutesTests {
    func makeStore() -> RecordingConversations {
        let store = RecordingConversations()
        store.add(owner: "alice", id: "c1", title: "First")
        store.add(owner: "alice", id: "c2", title: "Second")
        store.add(owner: "bob", id: "b1", title: "Bob's")
        return store
    }

    @Test func listsOnlyTheCallersConversations() async throws {
        let store = makeStore()
        let app = try await makeTestApplication(conversations: store)
        try await app.test(.router) { client in
            let response = try await client.execute(uri: "/v1/conversations?limit=1", method: .get, headers: .auth())
            #expect(response.status == .ok)
            let object = try #require(try JSONSerialization.jsonObject(with: Data(response.body.readableBytesView)) as? [String: Any])
            #expect(object["object"] as? String == "list")
            #expect((object["data"] as? [[String: Any]])?.map { $0["id"] as? String } == ["c2"])
            #expect(object["next_cursor"] as? String == "next")
            let bad = try await client.execute(uri: "/v1/conversations?limit=0", method: .get, headers: .auth())
            #expect(bad.status == .badRequest)
            #expect(try errorBody(bad).param == "limit")
        }
        #expect(store.state.withLock { $0.owners } == ["alice"])
    }

    @Test func anotherUsersConversationIsNotFound() async throws {
        let store = makeStore()
        let app = try await makeTestApplication(conversations: store)
        try await app.test(.router) { client in
            let mine = try await client.execute(uri: "/v1/conversations/b1", method: .get, headers: .auth(otherKey))
            #expect(mine.status == .ok)
            let body = String(buffer: mine.body)
            #expect(body.contains(#""current_message_id":"b1-m1""#))
            #expect(body.contains(#""parent_id":null"#))
            for path in ["/v1/conversations/b1", "/v1/conversations/b1/messages", "/v1/conversations/b1/export"] {
                let response = try await client.execute(uri: path, method: .get, headers: .auth())
                #expect(response.status == .notFound)
                #expect(try errorBody(response).code == "not_found")
            }
            let delete = try await client.execute(uri: "/v1/conversations/b1", method: .delete, headers: .auth())
            #expect(delete.status == .notFound)
        }
    }

    @Test func patchDeleteSearchImportExport() async throws {
        let store = makeStore()
        let app = try await makeTestApplication(conversations: store)
        try await app.test(.router) { client in
            let renamed = try await client.execute(
                uri: "/v1/conversations/c1", method: .patch, headers: .auth(), body: ByteBuffer(string: #"{"title":"Renamed"}"#))
            #expect(renamed.status == .ok)
            #expect(String(buffer: renamed.body).contains(#""title":"Renamed""#))
            // A title is one line.
            let pasted = try await client.execute(
                uri: "/v1/conversations/c1", method: .patch, headers: .auth(),
                body: ByteBuffer(string: #"{"title":"  Trip\n\tplans  \r\n"}"#))
            #expect(String(buffer: pasted.body).contains(#""title":"Trip plans""#))
            let empty = try await client.execute(uri: "/v1/conversations/c1", method: .patch, headers: .auth(), body: ByteBuffer(string: "{}"))
            #expect(empty.status == .unprocessableContent)
            let wrongType = try await client.execute(
                uri: "/v1/conversations/c1", method: .patch, headers: .auth(), body: ByteBuffer(string: #"{"pinned":"yes"}"#))
            #expect(wrongType.status == .badRequest)
            #expect(try errorBody(wrongType).param == "pinned")

            let search = try await client.execute(
                uri: "/v1/conversations/search", method: .post, headers: .auth(),
                body: ByteBuffer(string: #"{"query":"deploy","limit":5,"filters":{"role":"user","from":1700000000}}"#))
            #expect(search.status == .ok)
            #expect(String(buffer: search.body).contains(#"<mark>deploy</mark>"#))
            let badRole = try await client.execute(
                uri: "/v1/conversations/search", method: .post, headers: .auth(),
                body: ByteBuffer(string: #"{"query":"x","filters":{"role":"wizard"}}"#))
            #expect(try errorBody(badRole).param == "filters.role")
            let badCursor = try await client.execute(
                uri: "/v1/conversations/search", method: .post, headers: .auth(), body: ByteBuffer(string: #"{"query":"boom"}"#))
            #expect(badCursor.status == .badRequest)
            #expect(try errorBody(badCursor).code == "invalid_cursor")

            let imported = try await client.execute(
                uri: "/v1/conversations/import", method: .post, headers: .auth(), body: ByteBuffer(string: #"[{"title":"t","mapping":{}}]"#))
            #expect(imported.status == .ok)
            #expect(String(buffer: imported.body).contains(#""conversations_imported":1"#))
            let notExport = try await client.execute(
                uri: "/v1/conversations/import", method: .post, headers: .auth(), body: ByteBuffer(string: #"{"a":1}"#))
            #expect(notExport.status == .unprocessableContent)
            // One conversation, as an export of one answers it, goes in as an array of one.
            let single = try await client.execute(
                uri: "/v1/conversations/import", method: .post, headers: .auth(), body: ByteBuffer(string: #"{"title":"s","mapping":{}}"#))
            #expect(single.status == .ok)
            #expect(store.state.withLock { $0.imports.last.map { String(decoding: $0, as: UTF8.self) } } == #"[{"title":"s","mapping":{}}]"#)

            let exported = try await client.execute(uri: "/v1/conversations/c1/export", method: .get, headers: .auth())
            #expect(String(buffer: exported.body).hasPrefix("[{"))
            #expect(exported.headers[.contentDisposition] == #"attachment; filename="conversation-c1.json""#)

            let deleted = try await client.execute(uri: "/v1/conversations/c1", method: .delete, headers: .auth())
            #expect(String(buffer: deleted.body).contains(#""deleted":true"#))
            let gone = try await client.execute(uri: "/v1/conversations/c1", method: .get, headers: .auth())
            #expect(gone.status == .notFound)
        }
        #expect(store.state.withLock { $0.imports.count } == 2)
    }

    @Test func importBodiesMayBeLargerThanChatBodies() async throws {
        let app = try await makeTestApplication(conversations: makeStore()) {
            $0.limits.maxChatBodyBytes = 100
            $0.limits.maxImportBodyBytes = 10_000
        }
        try await app.test(.router) { client in
            let body = "[" + Array(repeating: #"{"title":"t","mapping":{}}"#, count: 100).joined(separator: ",") + "]"
            let ok = try await client.execute(uri: "/v1/conversations/import", method: .post, headers: .auth(), body: ByteBuffer(string: body))
            #expect(ok.status == .ok)
            let huge = "[" + Array(repeating: #"{"title":"t","mapping":{}}"#, count: 1000).joined(separator: ",") + "]"
            let tooLarge = try await client.execute(uri: "/v1/conversations/import", method: .post, headers: .auth(), body: ByteBuffer(string: huge))
            #expect(tooLarge.status == .contentTooLarge)
        }
    }

    @Test func resumeReplaysAfterLastEventIDAndFollowsUntilFinished() async throws {
        let store = makeStore()
        let run = GenerationInfo(
            requestID: "chatcmpl-r1", conversationID: "c1", parentID: "c1-m1", messageID: "a1", model: "synthetic",
            status: .streaming, lastSeq: 3)
        let logged = (1...3).map { GenerationLogEntry(seq: Int64($0), text: "t\($0) ") }
        store.state.withLock {
            $0.generation["alice/chatcmpl-r1"] = GenerationEventsPage(run: run, events: logged)
        }
        let app = try await makeTestApplication(conversations: store) { $0.streaming.resumePollInterval = .milliseconds(10) }
        try await app.test(.router) { client in
            var headers = HTTPFields.auth()
            headers[.lastEventID] = "1"
            async let response = client.execute(uri: "/v1/chat/completions/chatcmpl-r1/stream", method: .get, headers: headers)
            // The run keeps streaming until the test finishes it: wait for the resumed stream's
            // first reads, then append two events and finish.
            for await count in store.reads where count >= 3 { break }
            store.state.withLock {
                var finished = run
                finished.status = .complete
                finished.lastSeq = 5
                $0.generation["alice/chatcmpl-r1"] = GenerationEventsPage(
                    run: finished, events: logged + [GenerationLogEntry(seq: 4, text: "t4 "), GenerationLogEntry(seq: 5, text: "t5")])
            }
            let result = try await response
            #expect(result.status == .ok)
            #expect(result.headers[.conversationID] == "c1")
            let events = SSETestParser.parse(String(buffer: result.body))
            #expect(events.map(\.id) == ["2", "3", "4", "5", nil, nil])
            let texts = events.prefix(4).map { event -> String in
                let chunk = try? JSONSerialization.jsonObject(with: Data(event.data.utf8)) as? [String: Any]
                return ((chunk?["choices"] as? [[String: Any]])?.first?["delta"] as? [String: Any])?["content"] as? String ?? "?"
            }
            #expect(texts == ["t2 ", "t3 ", "t4 ", "t5"])
            #expect(events.last?.data == "[DONE]")

            let other = try await client.execute(uri: "/v1/chat/completions/chatcmpl-r1/stream", method: .get, headers: .auth(otherKey))
            #expect(other.status == .notFound)
            var bad = HTTPFields.auth()
            bad[.lastEventID] = "-3"
            let badID = try await client.execute(uri: "/v1/chat/completions/chatcmpl-r1/stream", method: .get, headers: bad)
            #expect(badID.status == .badRequest)
        }
    }

    @Test func aRepeatWhoseFirstAttemptIsStillStartingWaitsForItsLogOrIsRefusedWithARetryHint() async throws {
        let store = makeStore()
        // Every attempt is a repeat: the completion refuses it, and the log appears only later.
        let completions = ScriptedCompletions { request in
            [.fail(ServingError(ServingError.duplicateRequest, "request \(request.requestID) was made before"))]
        }
        let app = try await makeTestApplication(completions: completions, conversations: store) {
            $0.streaming.resumePollInterval = .milliseconds(10)
            $0.streaming.startTimeout = .seconds(5)
        }
        let body = #"{"model":"synthetic","stream":true,"messages":[{"role":"user","content":"hi"}]}"#
        var fields = HTTPFields.auth()
        fields[.idempotencyKey] = "starting-1"
        let headers = fields
        let requestID = "chatcmpl-" + RandomIdentifier.derived(user: "alice", key: "starting-1")
        // The log is written once the gateway has looked for it and not found it.
        let writer = Task {
            for await count in store.reads where count >= 2 { break }
            let run = GenerationInfo(
                requestID: requestID, conversationID: nil, parentID: nil, messageID: "a1", model: "synthetic",
                status: .complete, lastSeq: 1)
            store.state.withLock {
                $0.generation["alice/\(requestID)"] = GenerationEventsPage(
                    run: run, events: [GenerationLogEntry(seq: 1, text: "late")])
            }
        }
        let response = try await app.test(.router) { client in
            try await client.execute(uri: "/v1/chat/completions", method: .post, headers: headers, body: ByteBuffer(string: body))
        }
        await writer.value
        #expect(response.status == .ok)
        let events = SSETestParser.parse(String(buffer: response.body))
        #expect(events.map(\.id) == ["0", "1", nil, nil])
        #expect(events.last?.data == "[DONE]")

        // A first attempt that never logs anything: the repeat gives up after `startTimeout`.
        let patient = try await makeTestApplication(completions: completions, conversations: makeStore()) {
            $0.streaming.resumePollInterval = .milliseconds(10)
            $0.streaming.startTimeout = .milliseconds(100)
        }
        let refused = try await patient.test(.router) { client in
            try await client.execute(uri: "/v1/chat/completions", method: .post, headers: headers, body: ByteBuffer(string: body))
        }
        #expect(refused.status == .conflict)
        #expect(refused.headers[.retryAfter] == "1")
        #expect(try errorBody(refused).code == ServingError.duplicateRequest)
    }

    @Test func aRepeatedIdempotencyKeyReplaysTheFirstAttemptInsteadOfRunningAgain() async throws {
        let store = makeStore()
        // The completion refuses a request id started before, as the completion service does.
        let started = Mutex<Set<String>>([])
        let completions = ScriptedCompletions { request in
            guard started.withLock({ $0.insert(request.requestID).inserted }) || !request.idempotent else {
                return [.fail(ServingError(ServingError.duplicateRequest, "request \(request.requestID) was made before"))]
            }
            return ScriptedCompletions.answer(["Hel", "lo"])(request)
        }
        let app = try await makeTestApplication(completions: completions, conversations: store) {
            $0.streaming.resumePollInterval = .milliseconds(10)
        }
        let body = #"{"model":"synthetic","stream":true,"messages":[{"role":"user","content":"hi"}]}"#
        func post(_ key: String, apiKey: String = testKey, body: String = body) async throws -> TestResponse {
            var fields = HTTPFields.auth(apiKey)
            fields[.idempotencyKey] = key
            let headers = fields
            return try await app.test(.router) { client in
                try await client.execute(uri: "/v1/chat/completions", method: .post, headers: headers, body: ByteBuffer(string: body))
            }
        }
        let requestID = "chatcmpl-" + RandomIdentifier.derived(user: "alice", key: "retry-1")

        // First attempt: nothing logged under the key yet, so it runs, under the key's request id.
        let first = try await post("retry-1")
        #expect(first.status == .ok)
        #expect(first.headers[.requestID] == requestID)
        #expect(completions.record.withLock { $0.requests.map(\.requestID) } == [requestID])
        #expect(completions.record.withLock { $0.requests.map(\.idempotent) } == [true])

        // Its generation was logged (the completion node does that); a second attempt with the
        // same key, on this or another gateway, is refused by the completion as a duplicate and
        // answered from the log.
        let run = GenerationInfo(
            requestID: requestID, conversationID: "c1", parentID: "c1-m1", messageID: "a1", model: "synthetic",
            status: .complete, lastSeq: 2)
        store.state.withLock {
            $0.generation["alice/\(requestID)"] = GenerationEventsPage(
                run: run, events: [GenerationLogEntry(seq: 1, text: "Hel"), GenerationLogEntry(seq: 2, text: "lo")])
        }
        let again = try await post("retry-1")
        #expect(again.status == .ok)
        #expect(again.headers[.requestID] == requestID)
        let events = SSETestParser.parse(String(buffer: again.body))
        #expect(events.map(\.id) == ["0", "1", "2", nil, nil])
        #expect(events.last?.data == "[DONE]")
        #expect(completions.record.withLock { $0.requests.count } == 2)

        // The same key from another user is another request; a non-streaming repeat is a clear
        // conflict; a malformed key is refused.
        let bobs = try await post("retry-1", apiKey: otherKey)
        #expect(bobs.status == .ok)
        #expect(bobs.headers[.requestID] != requestID)
        let notStreamed = try await post("retry-1", body: body.replacingOccurrences(of: #""stream":true"#, with: #""stream":false"#))
        #expect(notStreamed.status == .conflict)
        #expect(try errorBody(notStreamed).code == ServingError.duplicateRequest)
        for bad in ["", "has space", String(repeating: "k", count: 129), "ünï"] {
            #expect(try await post(bad).status == .badRequest)
        }
    }
}
