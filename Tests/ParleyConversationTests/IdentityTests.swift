import Foundation
@testable import ParleyConversation
import ParleyProtocol
import Testing

@Suite struct IdentityTests {
    @Test func sha256MatchesKnownVectors() {
        #expect(UUIDText.hexString(SHA256.hash([UInt8]())) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(UUIDText.hexString(SHA256.hash(Array("abc".utf8)))
            == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        let long = Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8)
        #expect(UUIDText.hexString(SHA256.hash(long)) == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        // Fed in odd-sized pieces gives the same digest as at once.
        let million = [UInt8](repeating: UInt8(ascii: "a"), count: 1_000_000)
        var hasher = SHA256()
        var offset = 0
        var step = 1
        while offset < million.count {
            let end = min(million.count, offset + step)
            hasher.update(million[offset..<end])
            offset = end
            step = step * 3 % 997 + 1
        }
        #expect(UUIDText.hexString(hasher.finalize()) == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    @Test func rowHashBytesAreBigEndianHighThenLow() {
        // The stored form of row hashes (existing databases hold it): must never change.
        let hash = RowHash(high: 0x0102_0304_0506_0708, low: -2)
        #expect(Array(hash.data) == [1, 2, 3, 4, 5, 6, 7, 8, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe])
        #expect(RowHash(data: hash.data) == hash)
    }

    @Test func textWithNULIsRefusedWherePlainTextPasses() throws {
        #expect(throws: ConversationError.self) { try Validation.noNUL("ab\u{0}c") }
        #expect(throws: ConversationError.self) { try Validation.noNUL(String(repeating: "é", count: 300) + "\u{0}") }
        try Validation.noNUL("")
        try Validation.noNUL(String(repeating: "abc ", count: 1000))
        let bridged = NSString(string: "no nul here") as String
        try Validation.noNUL(bridged)
    }

    @Test func hybridLogicalClockNeverGoesBack() {
        var clock = HybridLogicalClock()
        let a = clock.tick(now: 1000)
        let b = clock.tick(now: 999)  // wall clock stepped back
        let c = clock.tick(now: 1000)
        #expect(a < b && b < c)
        clock.observe(HLCTimestamp(milliseconds: 5000, logical: 7), now: 1001)
        let d = clock.tick(now: 1002)
        #expect(d > HLCTimestamp(milliseconds: 5000, logical: 7))
        #expect(d.milliseconds == 5000 && d.logical == 8)
    }

    @Test func uuidV7IsMonotonicWithinAMillisecond() {
        var generator = UUIDv7Generator()
        var rng = SplitMix64(seed: 1)
        var ids: [String] = []
        for _ in 0..<10_000 { ids.append(generator.next(now: 1_750_000_000_000, using: &rng)) }
        #expect(ids == ids.sorted())
        #expect(Set(ids).count == ids.count)
        #expect(ids.allSatisfy { UUIDText.isWellFormed($0) && Array($0)[14] == "7" && "89ab".contains(Array($0)[19]) })
    }

    @Test func deterministicIDsDependOnOwnerAndSource() {
        let a = DeterministicID.make(namespace: "n", owner: "alice", sourceID: "x")
        #expect(a == DeterministicID.make(namespace: "n", owner: "alice", sourceID: "x"))
        #expect(a != DeterministicID.make(namespace: "n", owner: "bob", sourceID: "x"))
        #expect(a != DeterministicID.make(namespace: "n", owner: "alicex", sourceID: ""))
        #expect(UUIDText.isWellFormed(a) && Array(a)[14] == "8")
    }

    /// Stored chats keep their ids: a new chat's conversation id is the same function of its
    /// request as in earlier versions (computed independently: SHA-256 over length-prefixed parts).
    @Test func aChatRequestsConversationIDIsStable() {
        #expect(DeterministicID.forChatRequest(owner: "user-1", requestID: "chatcmpl-abc") == "47264028-ad44-862b-9e43-95f2d9e94b3c")
    }

    /// A gateway's request id begins with its time: the conversation id begins with the same 48
    /// bits (new chats sort by time in the indexes); the rest is still the hash of owner and request.
    @Test func aGatewayRequestsConversationIDBeginsWithTheRequestsTime() {
        let requestID = "chatcmpl-0193a1b2c3d4" + "5e6f708192a3b4c5d6e7"
        let id = DeterministicID.forChatRequest(owner: "user-1", requestID: requestID)
        let hashed = DeterministicID.make(namespace: "chat-request", owner: "user-1", sourceID: requestID)
        #expect(id == "0193a1b2-c3d4-" + String(hashed.dropFirst(14)))
        #expect(UUIDText.isWellFormed(id) && Array(id)[14] == "8")
        #expect(id == DeterministicID.forChatRequest(owner: "user-1", requestID: requestID))
        #expect(id != DeterministicID.forChatRequest(owner: "user-2", requestID: requestID))
        // Not a gateway's shape (upper case, another length): the plain hash.
        for other in ["chatcmpl-0193A1B2C3D45e6f708192a3b4c5d6e7", "chatcmpl-0193a1b2c3d45e6f708192a3b4c5d6e", "chat-1"] {
            #expect(DeterministicID.forChatRequest(owner: "user-1", requestID: other)
                == DeterministicID.make(namespace: "chat-request", owner: "user-1", sourceID: other))
        }
    }

    @Test func partitionsAreStableAndSpread() {
        let partitioner = Partitioner(count: 256)
        #expect(partitioner.partition(ofOwner: "alice") == Partitioner(count: 256).partition(ofOwner: "alice"))
        let used = Set((0..<10_000).map { partitioner.partition(ofOwner: "user-\($0)") })
        #expect(used.count == 256)
    }
}
