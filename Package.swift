// swift-tools-version:6.0
// InfraStack: a replicated chain-data cluster. No package dependencies by design:
// everything above the toolchain, liblmdb and OpenSSL is written here.
//
// Sources/ is grouped by layer; a target may import only targets of its own layer or of
// the layers above it in this list (README, "Module map"):
//   core         pure code: no I/O, clocks or threads
//   io           the operating system: LMDB, sockets, TLS, HTTP, logs, upstream clients
//   replication  the Raft driver's production host and its durable log
//   domain       the replicated state machine, the chain it holds, the node's configuration
//   edge         what clients talk to: JSON-RPC, GraphQL, REST, admin, the request pipeline
//   tools        simulators (the embedded chain, the Raft fault simulator), benchmarks, test children
//   app          composition into the one binary
import PackageDescription

let package = Package(
    name: "InfraStack",
    products: [
        .library(name: "Chain", targets: ["Chain"]),
        .library(name: "Storage", targets: ["Storage"]),
        .library(name: "Consensus", targets: ["Consensus"]),
    ],
    targets: [
        // core: pure
        .target(name: "Hashing", path: "Sources/core/Hashing"),
        .target(name: "ByteCodec", path: "Sources/core/ByteCodec"),
        .target(name: "Chain", dependencies: ["Hashing", "ByteCodec"], path: "Sources/core/Chain"),
        .target(name: "Consensus", path: "Sources/core/Consensus", exclude: ["README.md"]),
        // the one Raft driver (persist → send → apply → advance) over ports for log, network,
        // state machine and clock: the node runs it over LMDB and TCP, the simulator over fakes
        .target(name: "RaftDriver", dependencies: ["Consensus"], path: "Sources/core/RaftDriver"),

        // io: the operating system
        .systemLibrary(name: "CLMDB", path: "Sources/io/CLMDB", pkgConfig: "lmdb", providers: [.apt(["liblmdb-dev"])]),
        .systemLibrary(name: "CEpoll", path: "Sources/io/CEpoll"),
        // TLS for upstreams, the HTTP server and peer links (OpenSSL 3 from Debian's libssl-dev)
        .systemLibrary(name: "COpenSSL", path: "Sources/io/COpenSSL", pkgConfig: "openssl", providers: [.apt(["libssl-dev"])]),
        .target(name: "Telemetry", dependencies: ["ByteCodec"], path: "Sources/io/Telemetry"),
        // export: zlib (Debian's zlib1g-dev) and streaming gzip files over it
        .systemLibrary(name: "CZlib", path: "Sources/io/CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        .target(name: "Gzip", dependencies: ["CZlib"], path: "Sources/io/Gzip"),
        .target(name: "Storage", dependencies: ["CLMDB"], path: "Sources/io/Storage"),
        .target(name: "Net", dependencies: ["CEpoll", "COpenSSL", "Hashing", "ByteCodec", "Telemetry"], path: "Sources/io/Net"),
        // authenticated, framed TCP (or TLS) links between peers
        .target(name: "PeerTransport", dependencies: ["Net", "Hashing", "ByteCodec", "Telemetry"], path: "Sources/io/PeerTransport"),
        // JSON-RPC clients for upstream EVM nodes: failover, batching, provider quirks
        .target(name: "Upstream", dependencies: ["Chain", "ByteCodec", "Net", "Telemetry"], path: "Sources/io/Upstream"),
        // object storage: AWS Signature Version 4 and an S3 client (backups, log shipping, export)
        .target(name: "ObjectStore", dependencies: ["Hashing", "Net"], path: "Sources/io/ObjectStore"),

        // replication: the production host of the Raft driver and its LMDB log
        .target(name: "ReplicatedLog", dependencies: ["Consensus", "RaftDriver", "Storage", "Net", "ByteCodec", "Telemetry"],
                path: "Sources/replication/ReplicatedLog"),

        // domain
        // resumable exports of blocks, transactions, logs and state as gzip JSON lines, to a directory or S3
        .target(name: "Export", dependencies: ["Gzip", "ObjectStore", "Net", "Chain", "Telemetry"], path: "Sources/domain/Export"),
        // the chain index: verified blocks applied and rewound in LMDB, and reads of one snapshot
        .target(name: "ChainIndex", dependencies: ["Chain", "ByteCodec", "Storage"], path: "Sources/domain/ChainIndex"),
        // the admin plane's tenant state: organisations, users, roles, API keys, chain ownership
        .target(name: "Tenancy", dependencies: ["ByteCodec", "Storage", "Hashing"], path: "Sources/domain/Tenancy"),
        // webhooks: subscriptions, delivery cursors and attempts; Standard Webhooks signing
        .target(name: "Webhooks", dependencies: ["ByteCodec", "Storage", "Hashing"], path: "Sources/domain/Webhooks"),
        // which events a webhook is sent: filters, event ABI decoding, the stream over the chain index (reorgs included)
        // alerts: rules, incidents and the pure evaluator of built-in alerting
        .target(name: "Alerts", dependencies: ["ByteCodec", "Storage"], path: "Sources/domain/Alerts"),
        .target(name: "WebhookEvents", dependencies: ["Webhooks", "ChainIndex", "Chain", "ByteCodec"], path: "Sources/domain/WebhookEvents"),
        // the root of the replicated state: one registry of command sets (chain, kv, members, tenants)
        .target(name: "StateMachine", dependencies: ["Consensus", "ChainIndex", "Tenancy", "Webhooks", "Alerts", "ReplicatedLog", "Storage", "Chain", "Hashing", "ByteCodec"],
                path: "Sources/domain/StateMachine"),
        // the node's configuration: every field validated at start with an error naming it
        .target(name: "Backup", dependencies: ["StateMachine", "ReplicatedLog", "ChainIndex", "Consensus", "ObjectStore", "Storage", "Chain", "Hashing", "ByteCodec", "Telemetry"],
                path: "Sources/domain/Backup"),
        .target(name: "NodeConfig", dependencies: ["Backup", "Chain", "ByteCodec", "ChainFollower", "ChainIndex", "Net", "Upstream"], path: "Sources/domain/NodeConfig"),
        // follows the upstream chain on the leader and proposes verified blocks
        .target(name: "ChainFollower", dependencies: ["Chain", "ByteCodec", "ChainIndex", "Upstream", "Net", "Telemetry"], path: "Sources/domain/ChainFollower"),

        // edge
        // eth JSON-RPC methods over the chain index, filters, forwarding, inclusion proofs
        .target(name: "RPC", dependencies: ["Chain", "ByteCodec", "ChainIndex", "Upstream", "Net", "Telemetry"], path: "Sources/edge/RPC"),
        // GraphQL engine (parser, validation, execution, introspection) and the EIP-1767 schema
        .target(name: "GraphQL", dependencies: ["Chain", "ByteCodec", "ChainIndex", "Telemetry"], path: "Sources/edge/GraphQL"),
        // the HTTP edge: request pipeline (principal, limits, audit hook), REST, admin, gateway
        .target(name: "Edge", dependencies: ["Backup", "StateMachine", "Tenancy", "Webhooks", "Alerts", "WebhookEvents", "Storage", "ReplicatedLog", "ChainIndex", "ChainFollower", "RPC", "GraphQL", "PeerTransport", "Upstream",
                                             "NodeConfig", "Consensus", "Net", "Hashing", "ByteCodec", "Chain", "Telemetry"],
                path: "Sources/edge/Edge"),

        // tools
        // the embedded simulated upstream chain (dev and tests)
        .target(name: "SimChain", dependencies: ["Chain", "Hashing", "Net", "Telemetry"], path: "Sources/tools/SimChain"),
        // deterministic Raft fault simulator running the production driver (ConsensusTests, raft-soak)
        .target(name: "ConsensusSim", dependencies: ["Consensus", "RaftDriver"], path: "Sources/tools/ConsensusSim"),
        .executableTarget(name: "raft-soak", dependencies: ["Consensus", "ConsensusSim", "RaftDriver"], path: "Sources/tools/RaftSoak"),
        // child process killed mid-write by StorageTests' crash test
        .executableTarget(name: "storage-crash-writer", dependencies: ["Storage"], path: "Sources/tools/StorageCrashWriter"),
        // benchmarks (run from bench/)
        .executableTarget(name: "chain-bench", dependencies: ["Chain", "Hashing"], path: "Sources/tools/ChainBench"),
        .executableTarget(name: "storage-bench", dependencies: ["Storage"], path: "Sources/tools/StorageBench"),

        // app
        // composition: storage, log, state machine, follower, transport and edge in one process
        .target(name: "Node", dependencies: ["Backup", "NodeConfig", "Edge", "ReplicatedLog", "StateMachine", "PeerTransport", "ChainFollower", "ChainIndex",
                                             "Consensus", "Storage", "Net", "Chain", "Telemetry"],
                path: "Sources/app/Node"),
        // the one binary every node runs, plus operator commands
        .executableTarget(name: "infrastack", dependencies: ["Backup", "Node", "NodeConfig", "Edge", "Net", "Chain", "ChainIndex", "SimChain", "Export", "Telemetry"], path: "Sources/app/infrastack"),

        // helpers shared by the test targets (seeded randomness)
        .target(name: "TestSupport", path: "Tests/TestSupport"),
        .testTarget(name: "ChainTests", dependencies: ["Chain", "Hashing", "ByteCodec", "Net", "TestSupport"]),
        .testTarget(name: "ConsensusTests", dependencies: ["Consensus", "RaftDriver", "ConsensusSim"]),
        .testTarget(name: "NetTests", dependencies: ["Net", "Hashing", "Chain", "TestSupport"]),
        .testTarget(name: "StorageTests", dependencies: ["Storage", "TestSupport"]),
        .testTarget(name: "PeerTransportTests", dependencies: ["PeerTransport", "Hashing", "Net", "Telemetry", "TestSupport"]),
        .testTarget(name: "ChainIndexTests", dependencies: ["ChainIndex", "WebhookEvents", "Webhooks", "Chain", "Storage", "TestSupport"]),
        .testTarget(name: "TenancyTests", dependencies: ["Tenancy", "Storage", "ByteCodec", "TestSupport"]),
        .testTarget(name: "ObjectStoreTests", dependencies: ["ObjectStore", "Hashing", "Net", "TestSupport"]),
        .testTarget(name: "BackupTests", dependencies: ["Backup", "StateMachine", "ReplicatedLog", "Consensus", "Storage", "ObjectStore", "Chain", "ByteCodec", "TestSupport"]),
        .testTarget(name: "AlertsTests", dependencies: ["Alerts", "Storage", "ByteCodec", "TestSupport"]),
        .testTarget(name: "WebhooksTests", dependencies: ["Webhooks", "WebhookEvents", "ChainIndex", "Chain", "Storage", "ByteCodec", "TestSupport"]),
        .testTarget(name: "ChainFollowerTests", dependencies: ["ChainFollower", "Upstream", "ChainIndex", "Chain", "Net", "Storage", "Telemetry", "TestSupport"]),
        .testTarget(name: "GraphQLTests", dependencies: ["GraphQL", "ChainIndex", "Chain", "Storage", "Net", "TestSupport"]),
        .testTarget(name: "RPCTests", dependencies: ["RPC", "Upstream", "ChainIndex", "ChainFollower", "SimChain", "Chain", "Storage", "Net", "Telemetry", "TestSupport"]),
        .testTarget(name: "NodeTests", dependencies: ["Node", "NodeConfig", "Edge", "RPC", "ReplicatedLog", "StateMachine", "Tenancy", "Webhooks", "Alerts", "WebhookEvents", "RaftDriver", "Consensus", "Storage", "Net",
                                                    "Telemetry", "Chain", "ByteCodec", "Hashing", "ChainIndex", "ChainFollower", "Upstream", "SimChain", "PeerTransport", "TestSupport"]),
        .testTarget(name: "SimChainTests", dependencies: ["SimChain", "Chain", "Net", "TestSupport"]),
        .testTarget(name: "TelemetryTests", dependencies: ["Telemetry"]),
        .testTarget(name: "ExportTests", dependencies: ["Export", "Gzip", "Hashing", "Telemetry", "TestSupport"]),
    ],
    swiftLanguageModes: [.v6]
)
