import Edge
import NodeConfig
import Foundation
import Node

/// `infrastack node --config FILE`: runs one cluster node until SIGTERM or SIGINT.
enum NodeCommand {
    static let usage = """
    usage: infrastack node --config FILE [overrides]

    Runs a node. The config file is JSON (documented in docs at the top of
    Sources/domain/NodeConfig/NodeConfig.swift and in README). Any field can be overridden:
      --node-id N  --cluster-id ID  --data-dir DIR  --raft-listen HOST:PORT
      --http-listen HOST:PORT  --log-level debug|info|warn|error  --bootstrap true|false
    The cluster secret may come from the environment variable INFRASTACK_SECRET.
    Logs are JSON lines on stderr. SIGTERM/SIGINT stop the node gracefully.
    """

    static let overrideFlags: [String: String] = [
        "node-id": "nodeId", "cluster-id": "clusterId", "data-dir": "dataDir", "raft-listen": "raftListen",
        "http-listen": "httpListen", "log-level": "logLevel", "bootstrap": "bootstrap",
    ]

    static func run(_ args: [String]) -> Int32 {
        runCommand(usage: usage, args, valued: Set(overrideFlags.keys).union(["config"])) { o in
            var overrides = [String: String]()
            for (flag, field) in overrideFlags { if let v = o.values[flag] { overrides[field] = v } }
            let config = try NodeConfig.load(path: try o.require("config"), overrides: overrides)
            let runtime = try NodeRuntime(config: config)
            try runtime.start()
            waitForTerminationSignal()
            runtime.stop()
            return 0
        }
    }
}
