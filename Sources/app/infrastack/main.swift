import Foundation

/// `infrastack`: the single binary every node runs, plus the operator commands.
let commands: [String: (name: String, summary: String, run: ([String]) -> Int32)] = [
    "node": ("node", "run a cluster node (infrastack node --config FILE)", NodeCommand.run),
    "status": ("status", "show the cluster as a table (infrastack status --endpoint URL [--json])", StatusCommand.run),
    "cluster": ("cluster", "membership: add | promote | remove", ClusterCommand.run),
    "chain": ("chain", "the chains the cluster follows: list | add | change | pause | resume | remove", ChainCommand.run),
    "org": ("org", "organisations (tenants): list | create | show | config | chains | members | invite | role | remove-member | delete", OrgCommand.run),
    "key": ("key", "organisations' API keys: list | create | show | usage | rotate | revoke", KeyCommand.run),
    "user": ("user", "users and their personal tokens: list | create | show | remove | token", UserCommand.run),
    "whoami": ("whoami", "who the token is and where it may act (infrastack whoami --endpoint URL)", UserCommand.whoami),
    "alert": ("alert", "organisations' built-in alerts: list | create | show | delete | incidents", AlertsCommand.run),
    "webhook": ("webhook", "organisations' webhooks: list | create | show | change | pause | resume | test | deliveries | replay | rotate-secret | delete", WebhooksCommand.run),
    "audit": ("audit", "the hash-chained audit log of admin actions: list | export | verify", AuditCommand.run),
    "export": ("export", "chain data as gzip JSON lines to a directory or S3, resumable: blocks | transactions | logs | state", ExportCommand.run),
    "backup": ("backup", "hot backups of a node's state: create | list | status", BackupCommand.run),
    "restore": ("restore", "a data directory from a backup and the shipped log (infrastack restore --help)", RestoreCommand.run),
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
#if canImport(Glibc)
// Upstream batches and block entries are tens of megabytes, allocated and freed several
// times a second. glibc's default serves each from a fresh mmap (and trims the heap after
// it), so every batch faulted in and zeroed its pages again: a fifth of the leader's CPU.
// Keeping them in the heap costs at most the trim threshold of idle memory.
// (malloc.h is not in the Glibc module: the function and its parameter numbers, -1 for
// M_TRIM_THRESHOLD and -3 for M_MMAP_THRESHOLD, are declared here.)
@_silgen_name("mallopt") func glibcMallopt(_ param: Int32, _ value: Int32) -> Int32
_ = glibcMallopt(-3, 256 << 20)
_ = glibcMallopt(-1, 512 << 20)
#endif
let name = argv.removeFirst()
guard let cmd = commands[name] else {
    FileHandle.standardError.write(Data("infrastack: unknown command '\(name)'\n\n\(topUsage())".utf8))
    exit(2)
}
exit(cmd.run(argv))
