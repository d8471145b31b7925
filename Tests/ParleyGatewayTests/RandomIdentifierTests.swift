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
}

extension String {
    fileprivate func leftPadded(to length: Int) -> String {
        String(repeating: "0", count: max(0, length - count)) + self
    }
}
