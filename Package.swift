// swift-tools-version:6.1
//
// crmhub — an integration hub for CRM on Kafka. See README.md and ../DESIGN notes in docs.
//
// Module map (each module does one job; only CRMKafka imports the librdkafka C module):
//   CRDKafka       system library: librdkafka headers (Debian librdkafka-dev, 2.0.2 API)
//   CRMKafka       Swift face over librdkafka: producer, consumer-group consumer, admin
//   CCurl          C shim: fixed-arity wrappers for libcurl's variadic setopt/getinfo
//   CRMTransport   Swift face over libcurl on dedicated threads: HTTP(S), SMTP, IMAP, SFTP drop folders
//   CRMYAML        YAML reading with file:line:column errors (config, connectors, mappings)
//   CRMModel       canonical CRM entities and the message envelope
//   CRMNormalize   normalisers shared by mappings and master data: phone (E.164), e-mail, names
//   CRMMapping     the declarative field-mapping language: compiler, runtime, inline tests
//   CRMCSV         RFC 4180 CSV reader and writer in constant memory (batch files, bulk resolves, tables)
//   CRMMasterData  identity resolution, golden records, stores
//   CRMMasterDataPostgres  the PostgreSQL master-data store (postgres-nio); shared by several hub instances
//   CRMSchedule    cron schedules in IANA time zones (batch runs, escalation checks)
//   CRMHub         the daemon: config, routes, services, metrics
//   CRMBatch       batch file bridges: topic → file and file → topic with checkpoints, run reports, scheduler
//   CRMWorkflow    workflow rules (Rules/*.yaml): scheduled ticket escalation, lead assignment by territory and workload
//   CRMMail        e-mail source connector: IMAP mailbox → Ticket on Kafka (the SMTP sink lives with the sinks in CRMHub)
//   CRMIngress     Hummingbird ingress for source connectors: web forms, signed billing webhooks and CTI events posted
//                  by Kamailio (2xx only after Kafka acknowledged)
//   CRMTelephony   CTI connector: call events (Kamailio evapi, Asterisk AMI) → Interaction + screen-pop on Kafka
//   CRMAdminHTTP   Hummingbird admin server: /healthz, /readyz, /metrics
//   crmhub         the command-line executable
//   crmhub-bench   Kafka route benchmark (separate executable; results under bench-results/)
//   crmhub-bench-mapping  mapping throughput benchmark against jq
//   crmhub-bench-cti      CTI event → screen-pop latency benchmark (Benchmarks/cti-bench.sh)
import PackageDescription

let strictConcurrency: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
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
        .target(
            name: "CRMNormalize",
            dependencies: [],
            swiftSettings: strictConcurrency
        ),
        .target(
            name: "CRMMapping",
            dependencies: ["CRMYAML", "CRMModel", "CRMNormalize", .product(name: "Yams", package: "Yams")],
            swiftSettings: strictConcurrency
        ),
        .target(
            name: "CRMCSV",
            dependencies: [],
            swiftSettings: strictConcurrency
        ),
        .target(
            name: "CRMMasterData",
            dependencies: ["CRMCSV", "CRMModel", "CRMNormalize", .product(name: "GRDB", package: "GRDB.swift")],
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
            name: "CRMHub",
            dependencies: [
                "CRMKafka", "CRMYAML", "CRMModel", "CRMMapping", "CRMTransport", "CRMMasterData", "CRMMasterDataPostgres",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Mustache", package: "swift-mustache"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strictConcurrency
        ),
        .target(
            name: "CRMBatch",
            dependencies: [
                "CRMHub", "CRMCSV", "CRMKafka", "CRMMapping", "CRMModel", "CRMSchedule", "CRMTransport", "CRMYAML",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strictConcurrency
        ),
        .target(
            name: "CRMWorkflow",
            dependencies: [
                "CRMHub", "CRMCSV", "CRMKafka", "CRMMapping", "CRMModel", "CRMSchedule", "CRMYAML",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strictConcurrency
        ),
        .target(
            name: "CRMMail",
            dependencies: [
                "CRMHub", "CRMKafka", "CRMMapping", "CRMModel", "CRMTransport",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strictConcurrency
        ),
        .target(
            name: "CRMIngress",
            dependencies: [
                "CRMHub", "CRMKafka", "CRMTelephony",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
            ],
            swiftSettings: strictConcurrency
        ),
        .target(
            name: "CRMTelephony",
            dependencies: [
                "CRMKafka", "CRMModel", "CRMNormalize", "CRMMasterData",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strictConcurrency
        ),
        .target(
            name: "CRMAdminHTTP",
            dependencies: [
                "CRMHub", "CRMMasterData",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strictConcurrency
        ),
        .executableTarget(
            name: "crmhub",
            dependencies: [
                "CRMHub", "CRMAdminHTTP", "CRMIngress", "CRMKafka", "CRMMapping", "CRMYAML", "CRMMasterData", "CRMTelephony",
                "CRMMasterDataPostgres", "CRMBatch", "CRMSchedule", "CRMMail", "CRMWorkflow",
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
                "CRMKafka", "CRMHub", "CRMMapping",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictConcurrency,
            linkerSettings: librdkafkaRunpath
        ),
        .executableTarget(
            name: "crmhub-bench-cti",
            dependencies: [
                "CRMTelephony", "CRMKafka", "CRMIngress",
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
        // Real peers for tests (Tansu broker, recording HTTP target), started on free loopback ports.
        .target(
            name: "CRMTestSupport",
            dependencies: ["CRMKafka", .product(name: "Logging", package: "swift-log")],
            path: "Tests/CRMTestSupport",
            swiftSettings: strictConcurrency
        ),
        .testTarget(name: "CRMNormalizeTests", dependencies: ["CRMNormalize"], swiftSettings: strictConcurrency),
        .testTarget(name: "CRMKafkaTests", dependencies: ["CRMKafka"], swiftSettings: strictConcurrency),
        .testTarget(
            name: "CRMTransportTests",
            dependencies: ["CRMTransport", "CRMTestSupport"],
            swiftSettings: strictConcurrency
        ),
        .testTarget(
            name: "CRMIngressTests",
            dependencies: [
                "CRMIngress", "CRMHub", "CRMKafka", "CRMMapping", "CRMTransport", "CRMTestSupport",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
            ],
            swiftSettings: strictConcurrency
        ),
        .testTarget(
            name: "CRMMailTests",
            dependencies: ["CRMMail", "CRMHub", "CRMKafka", "CRMMapping", "CRMModel", "CRMTransport", "CRMTestSupport"],
            swiftSettings: strictConcurrency
        ),
        .testTarget(name: "CRMYAMLTests", dependencies: ["CRMYAML"], swiftSettings: strictConcurrency),
        .testTarget(name: "CRMModelTests", dependencies: ["CRMModel"], swiftSettings: strictConcurrency),
        .testTarget(name: "CRMMappingTests", dependencies: ["CRMMapping", "CRMModel", "CRMYAML"], swiftSettings: strictConcurrency),
        .testTarget(
            name: "CRMTelephonyTests",
            dependencies: [
                "CRMTelephony", "CRMKafka", "CRMModel", "CRMMasterData", "CRMIngress", "CRMTransport", "CRMTestSupport",
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strictConcurrency
        ),
        .testTarget(
            name: "CRMMasterDataTests",
            dependencies: ["CRMMasterData", "CRMMasterDataPostgres", "CRMNormalize", "CRMTestSupport"],
            swiftSettings: strictConcurrency
        ),
        .testTarget(name: "CRMScheduleTests", dependencies: ["CRMSchedule"], swiftSettings: strictConcurrency),
        .testTarget(
            name: "CRMWorkflowTests",
            dependencies: ["CRMWorkflow", "CRMHub", "CRMKafka", "CRMModel", "CRMTelephony", "CRMTransport", "CRMYAML", "CRMTestSupport"],
            swiftSettings: strictConcurrency
        ),
        .testTarget(
            name: "CRMBatchTests",
            dependencies: ["CRMBatch", "CRMCSV", "CRMHub", "CRMKafka", "CRMTransport", "CRMTestSupport"],
            swiftSettings: strictConcurrency
        ),
        .testTarget(
            name: "CRMHubTests",
            dependencies: [
                "CRMHub", "CRMKafka", "CRMAdminHTTP", "CRMTransport", "CRMTestSupport", "CRMMapping", "CRMModel",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            swiftSettings: strictConcurrency
        ),
    ],
    swiftLanguageModes: [.v6]
)
