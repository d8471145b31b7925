import Foundation

/// The functions a chat template can call: jinja2's `namespace`, `range`, `dict`, and the ones
/// transformers adds, `raise_exception` and `strftime_now`.
enum JinjaGlobals {
    /// The functions, with `now` the time `strftime_now` formats (in UTC).
    static func functions(now: Date) -> [String: JinjaValue] {
        [
            "raise_exception": function("raise_exception") { arguments throws(JinjaError) in
                throw JinjaError(.raised, arguments.positional.first?.text.string ?? "")
            },
            "namespace": function("namespace") { arguments throws(JinjaError) in
                let namespace = JinjaNamespace()
                for value in arguments.positional {
                    guard case .dict(let dictionary) = value else {
                        throw JinjaError(.render, "namespace() takes a dict and keyword arguments")
                    }
                    for (key, item) in dictionary.items { namespace.attributes.set(key, item) }
                }
                for (name, value) in arguments.keywords {
                    namespace.attributes.set(JinjaText(name, isData: false), value)
                }
                return .namespace(namespace)
            },
            "dict": function("dict") { arguments throws(JinjaError) in
                var dictionary = JinjaDictionary()
                for value in arguments.positional {
                    guard case .dict(let other) = value else { throw JinjaError(.unsupported, "dict() of a non-dict") }
                    for (key, item) in other.items { dictionary.set(key, item) }
                }
                for (name, value) in arguments.keywords { dictionary.set(JinjaText(name, isData: false), value) }
                return .dict(dictionary)
            },
            "range": function("range") { arguments throws(JinjaError) in
                let bounds = arguments.positional.map(\.integer)
                guard !bounds.isEmpty, bounds.count <= 3, arguments.keywords.isEmpty else {
                    throw JinjaError(.render, "range takes one to three integers")
                }
                let numbers = bounds.compactMap { $0 }
                guard numbers.count == bounds.count else { throw JinjaError(.render, "range takes integers") }
                let (start, stop, step) =
                    numbers.count == 1
                    ? (0, numbers[0], 1) : (numbers[0], numbers[1], numbers.count > 2 ? numbers[2] : 1)
                guard step != 0 else { throw JinjaError(.render, "range() arg 3 must not be zero") }
                let (span, overflow) = stop.subtractingReportingOverflow(start)
                guard !overflow, !span.dividedReportingOverflow(by: step).overflow,
                    span / step <= JinjaOperators.maximumSize
                else {
                    throw JinjaError(.render, "range too big")
                }
                return .list(Array(stride(from: start, to: stop, by: step)).map { .int($0) })
            },
            "strftime_now": function("strftime_now") { arguments throws(JinjaError) in
                guard case .string(let format) = arguments.positional.first else {
                    throw JinjaError(.render, "strftime_now takes a format string")
                }
                return .template(try strftime(format.string, now))
            },
        ]
    }

    private static func function(_ name: String, _ body: @escaping (JinjaArguments) throws(JinjaError) -> JinjaValue)
        -> JinjaValue
    {
        .function(JinjaFunction(name: name, call: body))
    }

    /// Python's `strftime` in the C locale and UTC, for the common directives.
    static func strftime(_ format: String, _ date: Date) throws(JinjaError) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let parts = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second, .weekday], from: date)
        let months = [
            "January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
            "November", "December",
        ]
        let days = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"]
        func two(_ value: Int?) -> String { String(format: "%02d", value ?? 0) }
        let month = months[(parts.month ?? 1) - 1]
        let day = days[(parts.weekday ?? 1) - 1]
        var out = ""
        var iterator = format.unicodeScalars.makeIterator()
        while let c = iterator.next() {
            guard c == "%" else {
                out.unicodeScalars.append(c)
                continue
            }
            guard let directive = iterator.next() else {
                out += "%"
                break
            }
            switch directive {
            case "d": out += two(parts.day)
            case "m": out += two(parts.month)
            case "Y": out += String(format: "%04d", parts.year ?? 0)
            case "y": out += two((parts.year ?? 0) % 100)
            case "H": out += two(parts.hour)
            case "I": out += two(((parts.hour ?? 0) + 11) % 12 + 1)
            case "p": out += (parts.hour ?? 0) < 12 ? "AM" : "PM"
            case "M": out += two(parts.minute)
            case "S": out += two(parts.second)
            case "b": out += String(month.prefix(3))
            case "B": out += month
            case "a": out += String(day.prefix(3))
            case "A": out += day
            case "j": out += String(format: "%03d", calendar.ordinality(of: .day, in: .year, for: date) ?? 0)
            case "%": out += "%"
            default: throw JinjaError(.unsupported, "strftime_now with %\(directive)")
            }
        }
        return out
    }
}
