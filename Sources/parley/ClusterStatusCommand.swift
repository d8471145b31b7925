import ArgumentParser
import Foundation
import ParleyCluster
import ParleyProtocol

/// `parley cluster …`: commands that talk to a running cluster.
struct ClusterCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cluster",
        abstract: "Inspect a running cluster.",
        subcommands: [Status.self]
    )

    /// `parley cluster status --seed HOST:PORT [--json]`: the member list as one node sees it.
    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "status",
            abstract: "Print the cluster's members as one node sees them.",
            discussion: """
                Connects to the node at --seed over the cluster protocol (so it needs the cluster key and
                TLS files the nodes use) without joining, and prints its member list. With --json the
                output is {"self": NAME, "members": [{"name", "address", "roles": [...], "status",
                "incarnation", "region"}]}. Exits with status 1 when the node cannot be reached or
                refuses the handshake.
                """
        )

        @Option(name: .long, help: "Address of any member, HOST:PORT.")
        var seed: String

        @Flag(name: .long, help: "Print JSON instead of a table.")
        var json = false

        @Option(name: .long, help: "File holding the shared cluster key.")
        var clusterKey: String?

        @Option(name: .long, help: "PEM certificate chain for mutual TLS.")
        var tlsCert: String?

        @Option(name: .long, help: "PEM private key for mutual TLS.")
        var tlsKey: String?

        @Option(name: .long, help: "PEM CA certificates trusted for mutual TLS.")
        var tlsCa: String?

        @Option(name: .long, help: "Seconds to wait for the answer.")
        var timeout: Double = 5

        func validate() throws {
            guard NodeAddress(parsing: seed) != nil else { throw ValidationError("--seed must be HOST:PORT") }
            let tls = [tlsCert, tlsKey, tlsCa].compactMap { $0 }
            guard tls.isEmpty || tls.count == 3 else {
                throw ValidationError("--tls-cert, --tls-key and --tls-ca go together")
            }
        }

        func run() async throws {
            let address = NodeAddress(parsing: seed)!
            var settings = ClusterSettings(name: "parley-cluster-status")
            settings.apiVersion = parleyAPIVersion
            if let clusterKey { settings.clusterKey = try ClusterKeyFile.read(clusterKey) }
            if let tlsCert, let tlsKey, let tlsCa {
                settings.tls = try ClusterSettings.TLS(certificateFile: tlsCert, keyFile: tlsKey, caFile: tlsCa)
            }
            let report: ClusterStatusReport
            do {
                report = try await ClusterSystem.fetchStatus(
                    from: address, settings: settings, timeout: .milliseconds(Int(timeout * 1000)))
            } catch {
                FileHandle.standardError.write(Data("parley cluster status: \(error)\n".utf8))
                throw ExitCode(1)
            }
            if json {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.sortedKeys]
                let output = StatusJSON(
                    self: report.responder.name, members: report.members.map(StatusJSON.Member.init))
                print(String(decoding: try encoder.encode(output), as: UTF8.self))
            } else {
                print(Self.table(report))
            }
        }

        static func table(_ report: ClusterStatusReport) -> String {
            let header = ["NAME", "ADDRESS", "STATUS", "INC", "ROLES", "REGION", "UID"]
            let rows = report.members.map { member in
                [
                    member.node.name + (member.node == report.responder ? "*" : ""),
                    member.node.address.description, member.status.rawValue, String(member.incarnation),
                    member.roles.isEmpty ? "-" : member.roles.joined(separator: ","), member.region ?? "-",
                    String(member.node.uid, radix: 16),
                ]
            }
            let widths = header.indices.map { column in
                ([header] + rows).map { $0[column].count }.max() ?? 0
            }
            return ([header] + rows).map { row in
                row.enumerated().map { column, text in
                    text.padding(toLength: widths[column], withPad: " ", startingAt: 0)
                }.joined(separator: "  ").trimmingCharacters(in: .whitespaces)
            }.joined(separator: "\n")
        }
    }
}

/// The `--json` shape of `parley cluster status` (DESIGN.md).
struct StatusJSON: Codable {
    var `self`: String
    var members: [Member]

    struct Member: Codable {
        var name: String
        var address: String
        var roles: [String]
        var status: String
        var incarnation: UInt64
        var region: String?
        var uid: String

        init(_ member: Membership.Member) {
            name = member.node.name
            address = member.node.address.description
            roles = member.roles
            status = member.status.rawValue
            incarnation = member.incarnation
            region = member.region
            uid = String(member.node.uid, radix: 16)
        }
    }
}
