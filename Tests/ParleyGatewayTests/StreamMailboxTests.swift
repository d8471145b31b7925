import Testing

@testable import ParleyGateway

/// The live stream's mailbox: what queued up is taken in one go, in order; a waiting reader wakes
/// on the next item; closing (or cancelling the reader) ends it.
@Suite("Stream mailbox")
struct StreamMailboxTests {
    @Test func itemsQueuedWhileNobodyWaitsAreTakenTogetherInOrder() async {
        let mailbox = StreamMailbox<Int>()
        for item in 1...5 { mailbox.put(item) }
        #expect(await mailbox.next() == [1, 2, 3, 4, 5])
        mailbox.put(6)
        #expect(await mailbox.next() == [6])
    }

    @Test func aWaitingReaderWakesOnTheNextItem() async {
        let mailbox = StreamMailbox<Int>()
        let reader = Task { await mailbox.next() }
        // Whether the reader is already waiting or not, it gets the item.
        mailbox.put(7)
        #expect(await reader.value == [7])
    }

    @Test func closingWakesTheReaderAndDropsLaterItems() async {
        let mailbox = StreamMailbox<Int>()
        mailbox.put(1)
        mailbox.close()
        mailbox.put(2)
        #expect(await mailbox.next() == [])
        let waiting = StreamMailbox<Int>()
        let reader = Task { await waiting.next() }
        waiting.close()
        #expect(await reader.value == [])
    }

    @Test func cancellingTheReaderClosesTheMailbox() async {
        let mailbox = StreamMailbox<Int>()
        let reader = Task { await mailbox.next() }
        reader.cancel()
        #expect(await reader.value == [])
        mailbox.put(3)
        #expect(await mailbox.next() == [])
    }
}
