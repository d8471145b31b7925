// swift-tools-version:6.1
import PackageDescription

// Every Swift target is built in Swift 6 language mode with the upcoming features below
// (see ../shared/STYLE.md, principle 9). They are applied in one loop at the end of this file.
let upcomingFeatures: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("InternalImportsByDefault"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

// The engine's SIMD kernels need AVX2/FMA/F16C code generation (5-10x faster than baseline x86-64).
#if arch(x86_64)
let engineCPUFlags = ["-target-cpu", "haswell"]
#else
let engineCPUFlags: [String] = []
#endif

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
        .package(url: "https://github.com/apple/swift-nio-extras.git", from: "1.35.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-distributed-tracing.git", from: "1.7.3"),
        .package(url: "https://github.com/apple/swift-service-context.git", from: "1.5.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "4.5.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-collections.git", from: "1.6.0"),
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.10.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/vapor/jwt-kit.git", from: "5.8.0"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift.git", from: "0.2.0"),
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
            dependencies: ["ParleyCluster", .product(name: "Crypto", package: "swift-crypto")]
        ),
        // MARK: The built-in model engine (stands alone).
        // CParleyKernels: AVX-512 VNNI matrix kernels, compiled per function for that ISA and chosen at run time.
        // -O2 in debug builds too (as the engine's Swift is -Ounchecked): the tests run real models.
        .target(name: "CParleyKernels", cSettings: [.unsafeFlags(["-O2"])]),
        .target(
            name: "ParleyEngine",
            dependencies: ["CParleyKernels", "ParleyStructuredOutput", "ParleyToolCalls", .product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: [.unsafeFlags(["-Ounchecked"] + engineCPUFlags)]
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
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .target(
            name: "ParleyModelAPI",
            dependencies: [
                "ParleyCluster", "ParleyProtocol", "ParleyEngine", "ParleyJSON", "ParleyStructuredOutput", "ParleyToolCalls",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .target(
            name: "ParleyProxy",
            dependencies: [
                "ParleyCluster", "ParleyProtocol",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .target(
            name: "ParleyCompletion",
            dependencies: [
                "ParleyCluster", "ParleyProtocol",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "DequeModule", package: "swift-collections"),
            ]
        ),
        // ParleyJSON: a strict one-pass JSON parser, for request bodies (gateway) and stream chunks (client).
        .target(name: "ParleyJSON"),
        // ParleyStructuredOutput: JSON schemas compiled for constrained decoding, and the byte-level
        // check of an answer against one (JSON mode, structured outputs).
        .target(name: "ParleyStructuredOutput", dependencies: ["ParleyJSON"]),
        // ParleyToolCalls: how tool calls are written in an answer (the markup), read back out of a
        // streamed one, held to their tools' schemas while generated, and put to the model in a prompt.
        .target(name: "ParleyToolCalls", dependencies: ["ParleyJSON", "ParleyStructuredOutput"]),
        .target(
            name: "ParleyGateway",
            dependencies: [
                "ParleyCluster", "ParleyProtocol", "ParleyJSON", "ParleyStructuredOutput", "ParleyToolCalls",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "JWTKit", package: "jwt-kit"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            resources: [.copy("Web")]
        ),
        // MARK: Clients of the HTTP API.
        .target(
            name: "ParleyClient",
            dependencies: [
                "ParleyJSON",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
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
                "ParleyModelAPI",
                "ParleyProxy",
                "ParleyCompletion",
                "ParleyGateway",
                "ParleyClient",
                "ParleyJSON",
                "ParleyStructuredOutput",
                "ParleyToolCalls",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // MARK: Benchmarks and load tools (built in release by tools/bench-* and tools/load).
        .executableTarget(name: "parley-bench-engine", dependencies: ["ParleyEngine"]),
        .executableTarget(
            name: "parley-bench-history",
            dependencies: ["ParleyConversation", "ParleyCluster", "ParleyProtocol", "ParleyTestSupport"]
        ),
        .executableTarget(
            name: "parley-bench-cluster",
            dependencies: ["ParleyCluster", .product(name: "NIOCore", package: "swift-nio")]
        ),
        .executableTarget(
            name: "parley-bench-ratelimit",
            dependencies: ["ParleyCompletion", "ParleyCluster", "ParleyProtocol"]
        ),
        .executableTarget(
            name: "parley-bench-serving",
            dependencies: [
                "ParleyModelAPI", "ParleyProtocol", "ParleyTestSupport",
                .product(name: "Histogram", package: "hdrhistogram-swift"),
                .product(name: "Hummingbird", package: "hummingbird"),
            ]
        ),
        .executableTarget(
            name: "parley-load",
            dependencies: [
                "ParleyClient",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
            ]
        ),
        // MARK: Tests.
        .testTarget(name: "ParleyClusterTests", dependencies: ["ParleyCluster", "ParleyTestSupport"]),
        .testTarget(
            name: "ParleyEngineTests", dependencies: ["ParleyEngine", "ParleyJSON", "ParleyStructuredOutput", "ParleyToolCalls"]),
        .testTarget(
            name: "ParleyConversationTests",
            dependencies: [
                "ParleyConversation", "ParleyProtocol", "ParleyTestSupport",
                .product(name: "GRDB", package: "GRDB.swift"),
            ]
        ),
        .testTarget(name: "ParleyModelAPITests", dependencies: ["ParleyModelAPI", "ParleyTestSupport", "ParleyToolCalls"]),
        .testTarget(name: "ParleyProxyTests", dependencies: ["ParleyProxy", "ParleyModelAPI", "ParleyTestSupport"]),
        .testTarget(name: "ParleyCompletionTests", dependencies: ["ParleyCompletion", "ParleyTestSupport"]),
        .testTarget(
            name: "ParleyGatewayTests",
            dependencies: [
                "ParleyGateway", "ParleyCluster", "ParleyProtocol", "ParleyTestSupport",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "JWTKit", package: "jwt-kit"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "CryptoExtras", package: "swift-crypto"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
            ]
        ),
        .testTarget(name: "ParleyJSONTests", dependencies: ["ParleyJSON"]),
        .testTarget(name: "ParleyStructuredOutputTests", dependencies: ["ParleyStructuredOutput", "ParleyJSON"]),
        .testTarget(name: "ParleyToolCallsTests", dependencies: ["ParleyToolCalls", "ParleyStructuredOutput", "ParleyJSON"]),
        .testTarget(name: "ParleyClientTests", dependencies: ["ParleyClient", .product(name: "NIOPosix", package: "swift-nio")]),
        .testTarget(
            name: "ParleyIntegrationTests",
            dependencies: [
                "ParleyTestSupport", "ParleyClient", .product(name: "AsyncHTTPClient", package: "async-http-client"),
            ]
        ),
    ]
)

for target in package.targets where target.type != .system {
    var settings = target.swiftSettings ?? []
    settings.append(contentsOf: upcomingFeatures)
    target.swiftSettings = settings
}
