import Crypto
import ParleyProtocol

/// The ids of the Responses API's objects. A stored answer's response id says where the answer is
/// stored (its conversation and its message), so `previous_response_id` continues that branch and
/// `GET /v1/responses/{id}` reads it back with no table of ids to keep; the ids of its output items
/// and calls derive from the answer's message id, so every reading of it names them alike.
enum ResponseIDs {
    /// A stored answer's: `resp_`, then its conversation's and its message's ids as 32 hex digits
    /// each. Nil when either is not UUID text (every id the stores make is).
    static func stored(conversationID: String, messageID: String) -> String? {
        guard let conversation = hexDigits(ofUUID: conversationID), let message = hexDigits(ofUUID: messageID) else {
            return nil
        }
        return "resp_" + conversation + message
    }

    /// An unstored answer's: `resp_` and the hex digits of its request id.
    static func unstored(requestID: String) -> String {
        "resp_" + requestID.drop(while: { $0 != "-" }).dropFirst()
    }

    /// Where the answer `responseID` names is stored; nil for an unstored answer's id or one that
    /// is no response id.
    static func storedAnswer(_ responseID: String) -> (conversationID: String, messageID: String)? {
        let utf8 = responseID.utf8
        guard utf8.count == 5 + 64, responseID.hasPrefix("resp_") else { return nil }
        let digits = Array(utf8.dropFirst(5))
        guard digits.allSatisfy(isLowerHex) else { return nil }
        return (uuidText(digits[0..<32]), uuidText(digits[32..<64]))
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

    /// The `call_id` of the answer's call at `index` (counting its calls), as Chat Completions
    /// names calls.
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
