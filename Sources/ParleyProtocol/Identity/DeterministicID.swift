import Crypto

/// Deterministic ids: an RFC 9562 version-8 UUID whose bits are the first 16 bytes of SHA-256 over
/// a namespace, the owner and the source id (each as its UTF-8 length in 8 little-endian bytes,
/// then its bytes). The same source always yields the same id; different owners never share ids.
/// Imports use it (importing a file twice adds nothing), and so does a new chat's conversation,
/// whose id derives from its request (``forChatRequest(owner:requestID:)``).
package enum DeterministicID {
    package static func make(namespace: String, owner: String, sourceID: String) -> String {
        var hasher = Crypto.SHA256()
        for part in [namespace, owner, sourceID] {
            withUnsafeBytes(of: UInt64(part.utf8.count).littleEndian) { hasher.update(bufferPointer: $0) }
            var copy = part
            copy.withUTF8 { hasher.update(bufferPointer: UnsafeRawBufferPointer($0)) }
        }
        var bytes = Array(hasher.finalize().prefix(16))
        bytes[6] = 0x80 | (bytes[6] & 0x0F)
        bytes[8] = 0x80 | (bytes[8] & 0x3F)
        return UUIDText.format(bytes)
    }

    /// The conversation a new chat's request starts: the same for every attempt of the request, so
    /// the completion role knows it before the store has created it. A gateway's request id
    /// (`chatcmpl-` and 32 lowercase hex digits) begins with its time (``TimePrefix``); the
    /// conversation id then begins with the same 48 bits, so new chats sort by time in the stores'
    /// indexes. The other 74 bits are the hash's.
    package static func forChatRequest(owner: String, requestID: String) -> String {
        let id = make(namespace: "chat-request", owner: owner, sourceID: requestID)
        let utf8 = requestID.utf8
        let prefix = "chatcmpl-".utf8
        guard utf8.count == prefix.count + 32, utf8.starts(with: prefix),
            let time = TimePrefix.leading(utf8.dropFirst(prefix.count))
        else { return id }
        // `xxxxxxxx-xxxx-`: the first 6 bytes of the UUID text.
        return String(decoding: time.prefix(8), as: UTF8.self) + "-" + String(decoding: time.dropFirst(8), as: UTF8.self)
            + String(decoding: id.utf8.dropFirst(13), as: UTF8.self)
    }
}

/// Lowercase hex renderings of ids.
package enum UUIDText {
    private static let hex: [UInt8] = Array("0123456789abcdef".utf8)

    /// 16 bytes as `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`.
    package static func format(_ bytes: [UInt8]) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(36)
        for (i, byte) in bytes.enumerated() {
            if i == 4 || i == 6 || i == 8 || i == 10 { out.append(UInt8(ascii: "-")) }
            out.append(hex[Int(byte >> 4)])
            out.append(hex[Int(byte & 0x0F)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Bytes as plain hex.
    package static func hexString(_ bytes: some Sequence<UInt8>) -> String {
        var out: [UInt8] = []
        for byte in bytes {
            out.append(hex[Int(byte >> 4)])
            out.append(hex[Int(byte & 0x0F)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Whether `text` looks like one of our ids (36 chars, lowercase hex and dashes); lookups of
    /// anything else answer "not found" without touching the database.
    package static func isWellFormed(_ text: String) -> Bool {
        let utf8 = text.utf8
        guard utf8.count == 36 else { return false }
        for (i, c) in utf8.enumerated() {
            if i == 8 || i == 13 || i == 18 || i == 23 {
                if c != UInt8(ascii: "-") { return false }
            } else if !isLowercaseHexDigit(c) {
                return false
            }
        }
        return true
    }

    /// Whether `byte` is the UTF-8 of `0`–`9` or `a`–`f`.
    package static func isLowercaseHexDigit(_ byte: UInt8) -> Bool {
        (byte >= 0x30 && byte <= 0x39) || (byte >= 0x61 && byte <= 0x66)
    }
}
