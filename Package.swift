// swift-tools-version:6.0
// InfraStack: a replicated chain-data cluster. No package dependencies by design:
// everything above the toolchain and liblmdb is written here.
import PackageDescription

let package = Package(
    name: "InfraStack",
    products: [
        .library(name: "Chain", targets: ["Chain"]),
        .library(name: "Storage", targets: ["Storage"]),
        .library(name: "Consensus", targets: ["Consensus"]),
    ],
    targets: [
        // C layer
        .systemLibrary(
            name: "CLMDB",
            pkgConfig: "lmdb",
            providers: [.apt(["liblmdb-dev"])]
        ),
        .systemLibrary(name: "CEpoll"),
        // TLS for upstreams, the HTTP server and peer links (OpenSSL 3 from Debian's libssl-dev)
        .systemLibrary(name: "COpenSSL", pkgConfig: "openssl", providers: [.apt(["libssl-dev"])]),
        // pure layers
        .target(name: "Chain", dependencies: ["Telemetry"]),
        .target(name: "Consensus", exclude: ["README.md"]),
        // deterministic Raft fault simulator (used by ConsensusTests and raft-soak)
        .target(name: "ConsensusSim", dependencies: ["Consensus"]),
        // io layers
        .target(name: "Storage", dependencies: ["CLMDB"]),
        .target(name: "Net", dependencies: ["CEpoll", "COpenSSL", "Telemetry"]),
        .target(name: "Telemetry"),
        .target(name: "Replication", dependencies: ["Net", "Telemetry"]),
        // domain: the chain index (apply + reads)
        .target(name: "Index", dependencies: ["Chain", "Storage"]),
        // domain: follows the upstream chain on the leader
        .target(name: "Indexer", dependencies: ["Chain", "Index", "Net", "Telemetry"]),
        // dev: the embedded simulated upstream chain
        .target(name: "SimChain", dependencies: ["Chain", "Net", "Telemetry"]),
        // domain / app: the replicated node (composition of the layers above)
        // eth JSON-RPC methods over the chain index, filters, forwarding, inclusion proofs
        .target(name: "RPC", dependencies: ["Chain", "Index", "Indexer", "Telemetry"]),
        // GraphQL engine (parser, validation, execution, introspection) and the EIP-1767 schema
        .target(name: "GraphQL", dependencies: ["Chain", "Index", "Telemetry"]),
        .target(name: "Node", dependencies: ["Consensus", "Storage", "Net", "Telemetry", "Chain", "Replication", "Index", "Indexer", "RPC", "GraphQL"]),
        // the one binary every node runs, plus operator commands
        .executableTarget(name: "infrastack", dependencies: ["Node", "Net", "Chain", "SimChain"], path: "Sources/infrastack"),
        // child process killed mid-write by StorageTests' crash test
        .executableTarget(name: "storage-crash-writer", dependencies: ["Storage"], path: "Sources/StorageCrashWriter"),

        // benchmarks (run from bench/)
        .executableTarget(name: "chain-bench", dependencies: ["Chain"], path: "Sources/ChainBench"),
        .executableTarget(name: "storage-bench", dependencies: ["Storage"], path: "Sources/StorageBench"),
        // Raft fault-schedule soak (run from chaos/)
        .executableTarget(name: "raft-soak", dependencies: ["ConsensusSim"], path: "Sources/RaftSoak"),

        // helpers shared by the test targets (seeded randomness)
        .target(name: "TestSupport", path: "Tests/TestSupport"),
        .testTarget(name: "ChainTests", dependencies: ["Chain", "Net", "TestSupport"]),
        .testTarget(name: "ConsensusTests", dependencies: ["Consensus", "ConsensusSim"]),
        .testTarget(name: "NetTests", dependencies: ["Net", "Chain", "TestSupport"]),
        .testTarget(name: "IndexTests", dependencies: ["Index", "Chain", "Storage"]),
        .testTarget(name: "IndexerTests", dependencies: ["Indexer", "Index", "Chain", "Net", "Storage", "Telemetry"]),
        .testTarget(name: "GraphQLTests", dependencies: ["GraphQL", "Index", "Chain", "Storage", "Net", "TestSupport"]),
        .testTarget(name: "RPCTests", dependencies: ["RPC", "Index", "Indexer", "SimChain", "Chain", "Storage", "Net", "Telemetry", "TestSupport"]),
        .testTarget(name: "NodeTests", dependencies: ["Node", "Consensus", "Storage", "Net", "Telemetry", "Chain", "Index", "Indexer", "Replication", "SimChain", "TestSupport"]),
        .testTarget(name: "SimChainTests", dependencies: ["SimChain", "Chain", "Net", "TestSupport"]),
        .testTarget(name: "StorageTests", dependencies: ["Storage", "TestSupport"]),
        .testTarget(name: "ReplicationTests", dependencies: ["Replication", "Net", "Telemetry", "TestSupport"]),
        .testTarget(name: "TelemetryTests", dependencies: ["Telemetry"]),
    ],
    swiftLanguageModes: [.v6]
)
