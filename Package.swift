// swift-tools-version:6.1
//
// crmhub — an integration hub for CRM on Kafka. docs/architecture.md shows the module map and how one message walks
// source → topic → route → topic → sink. Arrows point down only:
//
//   C boundary     CRDKafka (librdkafka headers)  CCurl (libcurl shim)  CMemoryHints (the prefetch instruction)
//   vocabulary     CRMYAML (located YAML, topic names, delays, secrets)  CRMModel (entities, JSONValue, header names)
//                  CRMNormalize  CRMCSV  CRMSchedule  CRMMapping  CRMRedaction (the one redaction policy)
//                  CRMWebFormats (form bodies, webhook signatures)  CRMCTIProtocol (evapi, Kamailio, AMI frames)
//   adapters       CRMKafka (the only importer of CRDKafka, in RDKafka/)  CRMTransport (the only importer of CCurl)
//                  CRMStateStore (SQLite state files: the one place GRDB is set up for the hub's own state)
//   domain         CRMMasterData  CRMMasterDataPostgres
//   engine         CRMDelivery: routes, sinks, retry tiers, key parking, dead letters, offset tracking, backoff
//   contract       CRMConnector: the Connector protocol, registry, context, SourceEmitter, ingress endpoints
//   connectors     CRMHTTPConnector  CRMMail (smtp + imap)  CRMProcessConnector  CRMTryton  CRMTelephony (CTI)
//                  CRMWeb (web forms + signed webhooks)  CRMBilling (billing customers from golden customers)   CRMViews (Kafka-backed ticket view for CTI and workflow)
//   jobs           CRMBatch  CRMWorkflow
//   servers        CRMIngress (Hummingbird, serves IngressEndpoints)  CRMAdminHTTP (health, metrics, master data)
//   daemon         CRMHub: the top configuration file and the one composition root   crmhub: the commands
//   tools          crmhub-fuzz: libFuzzer targets of every input surface, on the vocabulary modules only
import PackageDescription

let strictConcurrency: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny")
]

// Where the executables look for librdkafka.so.1 (issue 17): they build on Debian's 2.0.2 headers but must run on a
// librdkafka >= 2.1. ld writes these as DT_RUNPATH, searched after LD_LIBRARY_PATH and before the system's
// /usr/lib (so Debian's 2.0.2 is never picked when one of these has the library):
//   $ORIGIN/../lib          the release layout (bin/crmhub, lib/librdkafka.so.1; deploy/package.sh)
//   <checkout>/.runtime/lib the development build, where deploy/lib/env.sh links the wheel's librdkafka 2.16
// SwiftPM itself adds $ORIGIN and the toolchain's runtime folder. deploy/package.sh rewrites the packaged binary's
// runpath to $ORIGIN/../lib alone, so no build-machine path ships.
let librdkafkaRunpath: [LinkerSetting] = [
    .unsafeFlags(["-Xlinker", "-rpath", "-Xlinker", "$ORIGIN/../lib"]),
    .unsafeFlags(["-Xlinker", "-rpath", "-Xlinker", "\(Context.packageDirectory)/.runtime/lib"]),
]

let package = Package(
    name: "crmhub",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "crmhub", targets: ["crmhub"]),
        .executable(name: "crmhub-bench", targets: ["crmhub-bench"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.81.0"),
        .package(url: "https://github.com/apple/swift-nio-extras.git", from: "1.24.0"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
        // Already in the graph through Hummingbird; named for header names such as Idempotency-Key.
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.8.0"),
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.10.0"),
        // Already in the graph through Hummingbird (swift-nio-extras); named for HMAC-SHA256 of billing webhooks.
        .package(url: "https://github.com/apple/swift-crypto.git", "3.12.3"..<"5.0.0"),
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.2"),
        // Mail templates (subject, plain text, HTML) of the SMTP sink.
        .package(url: "https://github.com/hummingbird-project/swift-mustache.git", from: "2.1.1"),
    ],
    targets: [
        .systemLibrary(
            name: "CRDKafka",
            pkgConfig: "rdkafka",
            providers: [.apt(["librdkafka-dev"])]
        ),
        .target(
            name: "CRMKafka",
            dependencies: [
                "CRDKafka",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
            ],
            swiftSettings: strictConcurrency
        ),
        // Cache prefetch hints for the identity graph's hot loop (Swift has no spelling for the instruction).
        .target(name: "CMemoryHints"),
        .target(
            name: "CCurl",
            linkerSettings: [.linkedLibrary("curl")]
        ),
        .target(
            name: "CRMTransport",
            dependencies: ["CCurl", .product(name: "Logging", package: "swift-log")],
            swiftSettings: strictConcurrency
        ),
        .target(
            name: "CRMYAML",
            dependencies: [.product(name: "Yams", package: "Yams")],
            swiftSettings: strictConcurrency
        ),
        .target(
            name: "CRMModel",
            dependencies: [],
            swiftSettings: strictConcurrency
        ),
        // The one redaction policy: personal data by key name and by shape, replaced by a keyed fingerprint.
        .target(
            name: "CRMRedaction",
            dependencies: ["CRMModel", .product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: strictConcurrency
        ),
        .target(
            name: "CRMNormalize",
            dependencies: [],
            swiftSettings: strictConcurrency
        ),
        .target(
            name: "CRMMapping",
            dependencies: [
                "CRMYAML", "CRMModel", "CRMNormalize", "CRMRedaction", .product(name: "Yams", package: "Yams"),
            ],
            swiftSettings: strictConcurrency
        ),
        .target(
            name: "CRMCSV",
            dependencies: [],
            swiftSettings: strictConcurrency
        ),
        // What web forms and webhooks send (form bodies, Stripe-Signature, Stripe events), read without I/O.
        .target(
            name: "CRMWebFormats",
            dependencies: [
                "CRMModel",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
            ],
            swiftSettings: strictConcurrency
        ),
        // What telephony peers send (evapi frames, Kamailio JSON events, AMI frames), read without I/O.
        .target(
            name: "CRMCTIProtocol",
            dependencies: ["CRMModel"],
            swiftSettings: strictConcurrency
        ),
        .target(
            name: "CRMMasterData",
            dependencies: [
                "CMemoryHints", "CRMCSV", "CRMModel", "CRMNormalize", .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: strictConcurrency
        ),
        .target(
            name: "CRMMasterDataPostgres",
            dependencies: [
                "CRMMasterData",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictConcurrency
        ),
        .target(
            name: "CRMSchedule",
            dependencies: ["CRMYAML"],
            swiftSettings: strictConcurrency
        ),
        .target(
            name: "CRMStateStore",
            dependencies: [
                .product(name: "GRDB", package: "GRDB.swift")
            ],
            swiftSettings: strictConcurrency
        ),
        .target(
            name: "CRMDelivery",
            dependencies: [
                "CRMKafka", "CRMMapping", "CRMMasterData", "CRMModel", "CRMRedaction", "CRMStateStore", "CRMYAML",
                .product(name: "GRDB", package: "GRDB.swift"), .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strictConcurrency
        ),
        .target(
            name: "CRMConnector",
            dependencies: [
                "CRMDelivery", "CRMKafka", "CRMMasterData", "CRMModel", "CRMStateStore", "CRMTransport", "CRMYAML",
                .product(name: "GRDB", package: "GRDB.swift"), .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"), .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strictConcurrency
        ),
        .target(
            name: "CRMHTTPConnector",
            dependencies: [
                "CRMConnector", "CRMDelivery", "CRMKafka", "CRMRedaction", "CRMTransport", "CRMYAML",
            ],
            swiftSettings: strictConcurrency
        ),
        .target(
            name: "CRMMail",
            dependencies: [
                "CRMConnector", "CRMDelivery", "CRMKafka", "CRMMapping", "CRMMasterData", "CRMModel", "CRMRedaction",
                "CRMStateStore", "CRMTransport", "CRMYAML",
                .product(name: "GRDB", package: "GRDB.swift"), .product(name: "Mustache", package: "swift-mustache"),
                .product(name: "Logging", package: "swift-log"), .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strictConcurrency
        ),
        .target(
            name: "CRMProcessConnector",
            dependencies: [
                "CRMConnector", "CRMDelivery", "CRMKafka", "CRMModel", "CRMRedaction", "CRMYAML",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strictConcurrency
        ),
        .target(
            name: "CRMTryton",
            dependencies: [
                "CRMConnector", "CRMDelivery", "CRMKafka", "CRMModel", "CRMRedaction", "CRMStateStore", "CRMTransport",
                "CRMYAML",
                .product(name: "GRDB", package: "GRDB.swift"), .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strictConcurrency
        ),
        .target(
            name: "CRMViews",
            dependencies: [
                "CRMDelivery", "CRMKafka", "CRMModel", "CRMStateStore", .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Logging", package: "swift-log"), .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strictConcurrency
        ),
        .target(
            name: "CRMWeb",
            dependencies: [
                "CRMConnector", "CRMWebFormats", "CRMDelivery", "CRMKafka", "CRMModel", "CRMYAML",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"), .product(name: "Metrics", package: "swift-metrics"),
            ],
            swiftSettings: strictConcurrency
        ),
        .target(
            name: "CRMBilling",
            dependencies: [
                "CRMConnector", "CRMDelivery", "CRMKafka", "CRMModel", "CRMStateStore", "CRMTransport", "CRMYAML",
                .product(name: "Crypto", package: "swift-crypto"), .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Logging", package: "swift-log"), .product(name: "Metrics", package: "swift-metrics"),
            ],
            swiftSettings: strictConcurrency
        ),
        .target(
            name: "CRMTelephony",
            dependencies: [
                "CRMConnector", "CRMCTIProtocol", "CRMDelivery", "CRMKafka", "CRMMasterData", "CRMModel", "CRMNormalize",
                "CRMViews", "CRMYAML",
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"), .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strictConcurrency
        ),
        .target(
            name: "CRMBatch",
            dependencies: [
                "CRMConnector", "CRMDelivery", "CRMCSV", "CRMKafka", "CRMMapping", "CRMModel", "CRMSchedule",
                "CRMStateStore", "CRMTransport", "CRMYAML",
                .product(name: "Crypto", package: "swift-crypto"), .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Logging", package: "swift-log"), .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strictConcurrency
        ),
        .target(
            name: "CRMWorkflow",
            dependencies: [
                "CRMDelivery", "CRMCSV", "CRMKafka", "CRMMapping", "CRMModel", "CRMSchedule", "CRMStateStore",
                "CRMViews", "CRMYAML",
                .product(name: "GRDB", package: "GRDB.swift"), .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strictConcurrency
        ),
        .target(
            name: "CRMIngress",
            dependencies: [
                "CRMConnector", "CRMYAML", .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"), .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
            ],
            swiftSettings: strictConcurrency
        ),
        .target(
            name: "CRMAdminHTTP",
            dependencies: [
                "CRMDelivery", "CRMMasterData", "CRMYAML", .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strictConcurrency
        ),
        .target(
            name: "CRMHub",
            dependencies: [
                "CRMAdminHTTP", "CRMBatch", "CRMBilling", "CRMConnector", "CRMDelivery", "CRMHTTPConnector",
                "CRMIngress", "CRMKafka", "CRMMail", "CRMMapping", "CRMMasterData", "CRMMasterDataPostgres",
                "CRMProcessConnector", "CRMRedaction", "CRMStateStore",
                "CRMTelephony", "CRMTransport",
                "CRMTryton", "CRMWeb", "CRMWorkflow", "CRMYAML",
                .product(name: "Logging", package: "swift-log"), .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strictConcurrency
        ),
        .executableTarget(
            name: "crmhub",
            dependencies: [
                "CRMHub", "CRMBatch", "CRMConnector", "CRMDelivery", "CRMIngress", "CRMKafka", "CRMMapping",
                "CRMMasterData", "CRMMasterDataPostgres",
                "CRMModel", "CRMRedaction", "CRMSchedule", "CRMWorkflow", "CRMYAML",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strictConcurrency,
            linkerSettings: librdkafkaRunpath
        ),
        .executableTarget(
            name: "crmhub-bench",
            dependencies: [
                "CRMKafka", "CRMDelivery", "CRMMapping", "CRMModel",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strictConcurrency,
            linkerSettings: librdkafkaRunpath
        ),
        .executableTarget(
            name: "crmhub-bench-cti",
            dependencies: [
                "CRMTelephony", "CRMConnector", "CRMKafka", "CRMIngress",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictConcurrency,
            linkerSettings: librdkafkaRunpath
        ),
        .executableTarget(
            name: "crmhub-bench-mapping",
            dependencies: ["CRMMapping", "CRMModel"],
            swiftSettings: strictConcurrency
        ),
        // libFuzzer targets of every input surface (docs/fuzzing.md, deploy/testing/fuzz.sh). Built with
        // `-sanitize=fuzzer,address -DFUZZING` it is a fuzzer; a plain build is a replayer of corpus files.
        .executableTarget(
            name: "crmhub-fuzz",
            dependencies: [
                "CRMCSV", "CRMCTIProtocol", "CRMMapping", "CRMModel", "CRMTransport", "CRMWebFormats", "CRMYAML",
            ],
            swiftSettings: strictConcurrency
        ),
        // Test support: real peers started on free loopback ports (Tansu broker, PostgreSQL, postfix/dovecot, sshd,
        // Kamailio + SIPp, trytond, localstripe, a recording HTTP target), one KafkaTestClient, one ChildProcess, one
        // `eventually`.
        .target(
            name: "CRMTestSupport",
            dependencies: ["CRMKafka", "CRMModel", .product(name: "Logging", package: "swift-log")],
            path: "Tests/CRMTestSupport",
            swiftSettings: strictConcurrency
        ),
        // Unit tests: pure logic, in-process servers and librdkafka's mock cluster; no external process.
        .testTarget(name: "CRMYAMLTests", dependencies: ["CRMYAML"], swiftSettings: strictConcurrency),
        .testTarget(name: "CRMRedactionTests", dependencies: ["CRMRedaction"], swiftSettings: strictConcurrency),
        .testTarget(name: "CRMModelTests", dependencies: ["CRMModel"], swiftSettings: strictConcurrency),
        .testTarget(name: "CRMNormalizeTests", dependencies: ["CRMNormalize"], swiftSettings: strictConcurrency),
        .testTarget(
            name: "CRMMappingTests", dependencies: ["CRMMapping", "CRMModel", "CRMYAML"],
            swiftSettings: strictConcurrency),
        .testTarget(name: "CRMScheduleTests", dependencies: ["CRMSchedule"], swiftSettings: strictConcurrency),
        .testTarget(
            name: "CRMKafkaTests",
            dependencies: [
                "CRMKafka", "CRMTestSupport", .product(name: "Logging", package: "swift-log"),
                .product(name: "MetricsTestKit", package: "swift-metrics"),
            ],
            swiftSettings: strictConcurrency
        ),
        .testTarget(
            name: "CRMMasterDataTests", dependencies: ["CRMCSV", "CRMMasterData", "CRMNormalize"],
            swiftSettings: strictConcurrency),
        .testTarget(
            name: "CRMDeliveryTests",
            dependencies: [
                "CRMDelivery", "CRMKafka", "CRMMapping", "CRMMasterData", "CRMModel", "CRMYAML", "CRMTestSupport",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strictConcurrency
        ),
        .testTarget(name: "CRMWebTests", dependencies: ["CRMWeb"], swiftSettings: strictConcurrency),
        .testTarget(
            name: "CRMBillingTests", dependencies: ["CRMBilling", "CRMKafka", "CRMModel", "CRMTransport"],
            swiftSettings: strictConcurrency),
        .testTarget(
            name: "CRMMailTests",
            dependencies: ["CRMMail", "CRMHub", "CRMConnector", "CRMTestSupport", "CRMTransport", "CRMYAML"],
            swiftSettings: strictConcurrency
        ),
        .testTarget(
            name: "CRMTelephonyTests",
            dependencies: [
                "CRMTelephony", "CRMKafka", "CRMModel", "CRMMasterData", "CRMTestSupport",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictConcurrency
        ),
        .testTarget(
            name: "CRMBatchTests", dependencies: ["CRMBatch", "CRMCSV", "CRMDelivery", "CRMTestSupport"],
            swiftSettings: strictConcurrency),
        .testTarget(
            name: "CRMWorkflowTests",
            dependencies: [
                "CRMWorkflow", "CRMDelivery", "CRMHub", "CRMMail", "CRMKafka", "CRMModel", "CRMTestSupport", "CRMYAML",
            ],
            swiftSettings: strictConcurrency
        ),
        .testTarget(
            name: "CRMHubTests",
            dependencies: [
                "CRMHub", "CRMAdminHTTP", "CRMConnector", "CRMDelivery", "CRMHTTPConnector", "CRMIngress", "CRMKafka",
                "CRMMail", "CRMMasterData", "CRMProcessConnector", "CRMRedaction", "CRMTelephony", "CRMTransport",
                "CRMMapping", "CRMModel", "CRMTryton", "CRMYAML",
                "CRMTestSupport", .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strictConcurrency
        ),
        // Integration tests: real peers (Tansu, PostgreSQL, postfix/dovecot, sshd, Kamailio + SIPp, trytond,
        // localstripe, headless chromium) and crmhub child processes, each started by the test on free loopback ports.
        .testTarget(
            name: "IntegrationTests",
            dependencies: [
                "CRMHub", "CRMAdminHTTP", "CRMBatch", "CRMBilling", "CRMConnector", "CRMCSV", "CRMDelivery",
                "CRMHTTPConnector",
                "CRMIngress", "CRMKafka",
                "CRMMail", "CRMMapping", "CRMMasterData", "CRMMasterDataPostgres", "CRMModel", "CRMNormalize",
                "CRMProcessConnector",
                "CRMRedaction", "CRMTelephony", "CRMTestSupport", "CRMTransport", "CRMTryton", "CRMViews", "CRMWeb",
                "CRMWorkflow", "CRMYAML",
                // Tests that inspect or plant state files as an earlier version left them.
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strictConcurrency
        ),
    ],
    swiftLanguageModes: [.v6]
)
