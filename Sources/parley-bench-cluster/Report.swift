import Foundation

/// Figures with their goals, printed as a table at the end.
struct Report {
    struct Row {
        var name: String
        var value: String
        var goal: String
        var met: Bool?
    }

    var rows: [Row] = []

    mutating func add(_ name: String, _ value: String, goal: String = "", met: Bool? = nil) {
        rows.append(Row(name: name, value: value, goal: goal, met: met))
        Swift.print("  \(name): \(value)\(goal.isEmpty ? "" : "  (goal \(goal))")")
    }

    func print() {
        Swift.print("\n== parley-bench-cluster (\(ProcessInfo.processInfo.activeProcessorCount) cores) ==")
        let width = rows.map(\.name.count).max() ?? 0
        let valueWidth = rows.map(\.value.count).max() ?? 0
        for row in rows {
            let verdict = row.met.map { $0 ? "met" : "MISSED" } ?? ""
            Swift.print(
                row.name.padding(toLength: width, withPad: " ", startingAt: 0) + "  "
                    + row.value.padding(toLength: valueWidth, withPad: " ", startingAt: 0) + "  "
                    + (row.goal.isEmpty ? "" : "goal \(row.goal)  ") + verdict)
        }
    }
}

/// The value at quantile `q` (0…1) of sorted samples.
func quantile<T>(_ sorted: [T], _ q: Double) -> T {
    sorted[min(sorted.count - 1, Int((Double(sorted.count - 1) * q).rounded()))]
}

extension Duration {
    var microseconds: Double {
        Double(components.seconds) * 1e6 + Double(components.attoseconds) / 1e12
    }
    var seconds: Double { microseconds / 1e6 }
}

func format(_ value: Double, _ digits: Int = 1) -> String { String(format: "%.\(digits)f", value) }
