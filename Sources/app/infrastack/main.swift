import Foundation

/// `infrastack`: the single binary every node runs, plus the operator commands.
let commands: [String: (name: String, summary: String, run: ([String]) -> Int32)] = [
    "node": ("node", "run a cluster node (infrastack node --config FILE)", NodeCommand.run),
    "status": ("status", "show the cluster as a table (infrastack status --endpoint URL [--json])", StatusCommand.run),
    "cluster": ("cluster", "membership: add | promote | remove", ClusterCommand.run),
    "certs": ("certs", "a cluster CA and node certificates for TLS: init | issue", CertsCommand.run),
    "kv": ("kv", "debug key-value store: put | get (for testing replication)", KVCommand.run),
    "simchain": ("simchain", "serve the embedded simulated EVM chain over JSON-RPC", SimChainCommand.run),
]

@MainActor func topUsage() -> String {
    var s = "usage: infrastack <command> [options]\n\ncommands:\n"
    for k in commands.keys.sorted() { s += "  \(k.padding(toLength: 9, withPad: " ", startingAt: 0)) \(commands[k]!.summary)\n" }
    s += "\nRun 'infrastack <command> --help' for a command's options.\n"
    return s
}

var argv = Array(CommandLine.arguments.dropFirst())
if argv.isEmpty || ["-h", "--help", "help"].contains(argv[0]) {
    print(topUsage(), terminator: "")
    exit(argv.isEmpty ? 2 : 0)
}
let name = argv.removeFirst()
guard let cmd = commands[name] else {
    FileHandle.standardError.write(Data("infrastack: unknown command '\(name)'\n\n\(topUsage())".utf8))
    exit(2)
}
exit(cmd.run(argv))
