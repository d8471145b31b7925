// swift-tools-version:6.1
import PackageDescription

// Every Swift target is built in Swift 6 language mode with the upcoming features below
// (see ../shared/STYLE.md, principle 9). They are applied in one loop at the end of this file.
let upcomingFeatures: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("InternalImportsByDefault"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

let package = Package(
    name: "parley",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "parley", targets: ["parley"]),
        .library(name: "ParleyCluster", targets: ["ParleyCluster"]),
        .library(name: "ParleyEngine", targets: ["ParleyEngine"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-distributed-tracing.git", from: "1.7.3"),
        .package(url: "https://github.com/apple/swift-service-context.git", from: "1.5.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "4.5.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-collections.git", from: "1.6.0"),
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.10.0"),
    ],
    targets: [
        // MARK: Bottom layer: the actor system.
        .target(
            name: "ParleyCluster",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
                .product(name: "ServiceContextModule", package: "swift-service-context"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "DequeModule", package: "swift-collections"),
            ]
        ),
        // MARK: Shared contracts of the roles.
        .target(
            name: "ParleyProtocol",
            dependencies: ["ParleyCluster"]
        ),
        // MARK: The built-in model engine (stands alone).
        .target(
            name: "ParleyEngine",
            dependencies: [],
            swiftSettings: [.unsafeFlags(["-Ounchecked"])]
        ),
        // MARK: Roles.
        .systemLibrary(
            name: "CZstd",
            pkgConfig: "libzstd",
            providers: [.apt(["libzstd-dev"])]
        ),
        .target(
            name: "ParleyConversation",
            dependencies: [
                "ParleyCluster",
                "ParleyProtocol",
                "CZstd",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // MARK: Test support and the executable.
        .target(
            name: "ParleyTestSupport",
            dependencies: [
                "ParleyCluster",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(
            name: "parley",
            dependencies: [
                "ParleyCluster",
                "ParleyProtocol",
                "ParleyEngine",
                "ParleyConversation",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // MARK: Tests.
        .testTarget(name: "ParleyClusterTests", dependencies: ["ParleyCluster", "ParleyTestSupport"]),
        .testTarget(name: "ParleyEngineTests", dependencies: ["ParleyEngine"]),
        .testTarget(name: "ParleyConversationTests", dependencies: ["ParleyConversation", "ParleyTestSupport"]),
        .testTarget(name: "ParleyIntegrationTests", dependencies: ["ParleyTestSupport"]),
    ]
)

for target in package.targets where target.type != .system {
    var settings = target.swiftSettings ?? []
    settings.append(contentsOf: upcomingFeatures)
    target.swiftSettings = settings
}
