import Crypto
import Foundation
import ParleyProtocol

/// The ids of the Responses API's objects. A response id says where its answer is: a stored
/// answer's names its conversation and its message (so `previous_response_id` continues that
/// branch and `GET /v1/responses/{id}` reads it back, with no table of ids to keep) and, as every
/// response id does, the request that made it (whose generation log a resumed stream reads) and
/// whether that request offered tools (a resumed stream reads the log as the live one read the
/// answer: calls out of its text only then). The ids of its output items and calls derive from the
/// answer's message id (an unstored answer's: its request id), so every reading names them alike.
enum ResponseIDs {
    /// Where a response id's answer is.
    struct Location: Equatable {
        /// The request that made it (`chatcmpl-` and 32 hex digits).
        let requestID: String
        /// The conversation and message it is stored as; nil when it was not stored.
        let conversationID: String?
        let messageID: String?
        /// The request offered tools: calls in the answer's text are function call items.
        let readsCalls: Bool

        /// The response id that names this place.
        var id: String {
            if let conversationID, let messageID,
                let id = ResponseIDs.stored(
                    conversationID: conversationID, messageID: messageID, requestID: requestID, readsCalls: readsCalls)
            {
                return id
            }
            return ResponseIDs.unstored(requestID: requestID, readsCalls: readsCalls)
        }

        /// What the answer's item and call ids derive from: its message id, or an unstored
        /// answer's request id.
        var seed: String { messageID ?? requestID }
    }

    /// Where the answer of `requestID` is: stored as `storedAs` (its conversation and message)
    /// when given in the form ids have, else unstored.
    static func location(requestID: String, storedAs: (conversationID: String, messageID: String)?, readsCalls: Bool)
        -> Location
    {
        guard let storedAs,
            stored(conversationID: storedAs.conversationID, messageID: storedAs.messageID, requestID: requestID, readsCalls: readsCalls)
                != nil
        else { return Location(requestID: requestID, conversationID: nil, messageID: nil, readsCalls: readsCalls) }
        return Location(
            requestID: requestID, conversationID: storedAs.conversationID, messageID: storedAs.messageID, readsCalls: readsCalls)
    }

    /// A stored answer's: `resp_`, then its conversation's, its message's and its request's ids as
    /// 32 hex digits each, and a digit for `readsCalls`. Nil when an id is not of that form (every
    /// id Parley makes is).
    static func stored(conversationID: String, messageID: String, requestID: String, readsCalls: Bool) -> String? {
        guard let conversation = hexDigits(ofUUID: conversationID), let message = hexDigits(ofUUID: messageID),
            let request = hexDigits(ofRequest: requestID)
        else { return nil }
        return "resp_" + conversation + message + request + (readsCalls ? "1" : "0")
    }

    /// An unstored answer's: `resp_`, the hex digits of its request id and a digit for `readsCalls`.
    static func unstored(requestID: String, readsCalls: Bool) -> String {
        "resp_" + (hexDigits(ofRequest: requestID) ?? requestID) + (readsCalls ? "1" : "0")
    }

    /// What `responseID` names; nil when it is no response id.
    static func location(of responseID: String) -> Location? {
        guard responseID.hasPrefix("resp_") else { return nil }
        let digits = Array(responseID.utf8.dropFirst(5))
        guard digits.count == 33 || digits.count == 97, digits.allSatisfy(isLowerHex), let flag = digits.last,
            flag == UInt8(ascii: "0") || flag == UInt8(ascii: "1")
        else { return nil }
        let readsCalls = flag == UInt8(ascii: "1")
        let request = requestPrefix + String(decoding: digits[(digits.count - 33)..<(digits.count - 1)], as: UTF8.self)
        guard digits.count == 97 else {
            return Location(requestID: request, conversationID: nil, messageID: nil, readsCalls: readsCalls)
        }
        return Location(
            requestID: request, conversationID: uuidText(digits[0..<32]), messageID: uuidText(digits[32..<64]),
            readsCalls: readsCalls)
    }

    private static let requestPrefix = "chatcmpl-"

    /// The response's `created_at` (Unix seconds): when its request id was made, which the id's
    /// first 12 hex digits say (``TimePrefix``), so every reading of the response gives the same
    /// time. An id whose digits are no time within 90 days of `reference` (the time of the reading,
    /// or when the answer was stored; an id derived from an `Idempotency-Key` without a time) gives
    /// `reference`.
    static func createdAt(requestID: String, near reference: Date) -> Int {
        let referenceMilliseconds = Int64(TimePrefix.milliseconds(reference))
        let windowMilliseconds: Int64 = 90 * 86_400_000
        guard let digits = TimePrefix.leading(requestID.utf8.dropFirst(requestPrefix.utf8.count)),
            let milliseconds = Int64(String(decoding: digits, as: UTF8.self), radix: 16),
            abs(milliseconds - referenceMilliseconds) <= windowMilliseconds
        else { return Int(referenceMilliseconds / 1000) }
        return Int(milliseconds / 1000)
    }

    /// The 32 hex digits of a gateway's request id.
    private static func hexDigits(ofRequest requestID: String) -> String? {
        let digits = requestID.utf8.dropFirst(requestPrefix.utf8.count)
        guard requestID.hasPrefix(requestPrefix), digits.count == 32, digits.allSatisfy(isLowerHex) else { return nil }
        return String(decoding: digits, as: UTF8.self)
    }

    /// A stored message's own id in item form (`msg_` and its 32 hex digits), for input items.
    static func inputItem(messageID: String) -> String {
        "msg_" + (hexDigits(ofUUID: messageID) ?? messageID)
    }

    /// The id of an answer's output item at `index`: `msg_` (a message) or `fc_` (a function call)
    /// and 24 hex digits of SHA-256 over `seed` (the answer's message id, or the request id of an
    /// unstored answer) and the index.
    static func outputItem(seed: String, index: Int, isCall: Bool) -> String {
        let hash = SHA256.hash(data: Array("response-item\u{0}\(seed)\u{0}\(index)".utf8))
        return (isCall ? "fc_" : "msg_") + UUIDText.hexString(hash.prefix(12))
    }

    /// The `call_id` of the answer's call at `index` (counting its calls): Chat Completions'
    /// form of call id, over the answer's `seed` instead of a request id.
    static func callID(seed: String, index: Int) -> String {
        AnswerToolCalls.id(requestID: seed, index: index)
    }

    /// The 32 hex digits of a UUID's text (`xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`, lowercase).
    static func hexDigits(ofUUID text: String) -> String? {
        let utf8 = Array(text.utf8)
        guard utf8.count == 36 else { return nil }
        var digits: [UInt8] = []
        digits.reserveCapacity(32)
        for (i, byte) in utf8.enumerated() {
            if i == 8 || i == 13 || i == 18 || i == 23 {
                guard byte == UInt8(ascii: "-") else { return nil }
            } else {
                guard isLowerHex(byte) else { return nil }
                digits.append(byte)
            }
        }
        return String(decoding: digits, as: UTF8.self)
    }

    private static func uuidText(_ digits: ArraySlice<UInt8>) -> String {
        var out: [UInt8] = []
        for (i, byte) in digits.enumerated() {
            if i == 8 || i == 12 || i == 16 || i == 20 { out.append(UInt8(ascii: "-")) }
            out.append(byte)
        }
        return String(decoding: out, as: UTF8.self)
    }

    private static func isLowerHex(_ byte: UInt8) -> Bool {
        (0x30...0x39).contains(byte) || (0x61...0x66).contains(byte)
    }
}
