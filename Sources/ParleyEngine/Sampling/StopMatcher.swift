import Foundation

/// Finds stop strings in streamed text and holds back text that might be the start of one.
///
/// Feed it each text piece; it returns the text that is safe to emit now and whether a stop
/// string was completed (the stop string and anything after it are never emitted).
struct StopMatcher: Sendable {
    let stops: [String]
    private var held = ""

    init(stops: [String]) {
        self.stops = stops.filter { !$0.isEmpty }
    }

    /// Adds `piece`; returns the text to emit and whether generation must stop.
    mutating func append(_ piece: String) -> (text: String, stopped: Bool) {
        if stops.isEmpty { return (piece, false) }
        held += piece
        // The earliest complete stop string wins.
        var earliest: String.Index?
        for stop in stops {
            if let range = held.range(of: stop), earliest.map({ range.lowerBound < $0 }) ?? true {
                earliest = range.lowerBound
            }
        }
        if let earliest {
            let text = String(held[..<earliest])
            held = ""
            return (text, true)
        }
        // Hold back the longest suffix that is a prefix of some stop string.
        var keep = 0
        for stop in stops {
            var length = min(stop.count, held.count)
            while length > keep {
                if held.hasSuffix(stop.prefix(length)) {
                    keep = length
                    break
                }
                length -= 1
            }
        }
        let cut = held.index(held.endIndex, offsetBy: -keep)
        let text = String(held[..<cut])
        held = String(held[cut...])
        return (text, false)
    }

    /// The held-back text, released when generation ends for another reason.
    mutating func flush() -> String {
        defer { held = "" }
        return held
    }
}
