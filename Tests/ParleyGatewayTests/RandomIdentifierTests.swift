import Foundation
@testable import ParleyGateway
import Testing

@Suite struct RandomIdentifierTests {
    /// Request ids begin with their time: 12 hex digits of Unix milliseconds, then 80 random bits.
    @Test func timeOrderedIdsSortByTimeAndDiffer() {
        let times = (0..<50).map { Date(timeIntervalSince1970: 1_700_000_000 + Double($0) * 0.001) }
        let ids = times.map { RandomIdentifier.timeOrdered128(now: $0) }
        #expect(ids == ids.sorted())
        #expect(Set(ids).count == ids.count)
        #expect(ids.allSatisfy { $0.utf8.count == 32 && $0.allSatisfy { "0123456789abcdef".contains($0) } })
        #expect(ids[0].hasPrefix(String(UInt64(1_700_000_000_000), radix: 16).leftPadded(to: 12)))
        let sameTime = (0..<100).map { _ in RandomIdentifier.timeOrdered128(now: times[0]) }
        #expect(Set(sameTime).count == 100)
    }

    /// An Idempotency-Key that begins with its time keeps it at the head of the request id; the
    /// rest (and any other key's whole id) is the hash of user and key.
    @Test func aKeysLeadingTimeHeadsItsDerivedId() {
        let key = "0193a1b2c3d4-9f1c2e7a-4b5d-4c3e-8f00-0a1b2c3d4e5f"
        let id = RandomIdentifier.derived(user: "alice", key: key)
        #expect(id.utf8.count == 32 && id.hasPrefix("0193a1b2c3d4"))
        #expect(id == RandomIdentifier.derived(user: "alice", key: key))
        #expect(id != RandomIdentifier.derived(user: "bob", key: key))
        let sibling = RandomIdentifier.derived(user: "alice", key: "0193a1b2c3d4-another")
        #expect(sibling.hasPrefix("0193a1b2c3d4") && sibling.dropFirst(12) != id.dropFirst(12))
        for plain in ["retry-1", "0193A1B2C3D4-upper", "0193a1b2c3d4x", "0193a1b2c3d4-"] {
            let other = RandomIdentifier.derived(user: "alice", key: plain)
            #expect(other.utf8.count == 32 && other.allSatisfy { "0123456789abcdef".contains($0) })
            #expect(!other.hasPrefix("0193a1b2c3d4"))
        }
    }
}

extension String {
    fileprivate func leftPadded(to length: Int) -> String {
        String(repeating: "0", count: max(0, length - count)) + self
    }
}
