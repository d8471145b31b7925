/// Random identifiers for requests: 128 bits from the system's random source, as 32 lowercase
/// hex digits. Cheaper than `UUID()`, which opens and reads `/dev/urandom` on every call here.
enum RandomIdentifier {
    static func hex128() -> String {
        var generator = SystemRandomNumberGenerator()
        return hex(generator.next()) + hex(generator.next())
    }

    private static func hex(_ value: UInt64) -> String {
        let digits = String(value, radix: 16)
        return String(repeating: "0", count: 16 - digits.count) + digits
    }
}
