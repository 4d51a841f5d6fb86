import Foundation
import Net

/// Flag parsing shared by the subcommands: `--name value`, `--name=value` and boolean
/// `--flag`. Unknown flags and missing values are errors that name the flag.
struct Options {
    /// The last value of each option, and (`all`) every value of options given more than once.
    var values: [String: String] = [:]
    var all: [String: [String]] = [:]
    var flags: Set<String> = []
    var positional: [String] = []

    struct Problem: Error, CustomStringConvertible { let description: String }

    init(_ args: [String], valued: Set<String>, boolean: Set<String> = []) throws {
        var i = 0
        while i < args.count {
            let a = args[i]
            if a.hasPrefix("--") {
                let body = String(a.dropFirst(2))
                if let eq = body.firstIndex(of: "=") {
                    let k = String(body[..<eq])
                    guard valued.contains(k) else { throw Problem(description: "unknown option --\(k)") }
                    values[k] = String(body[body.index(after: eq)...])
                    all[k, default: []].append(values[k]!)
                } else if boolean.contains(body) || body == "help" {
                    flags.insert(body)
                } else if valued.contains(body) {
                    guard i + 1 < args.count else { throw Problem(description: "option --\(body) needs a value") }
                    values[body] = args[i + 1]
                    all[body, default: []].append(args[i + 1])
                    i += 1
                } else {
                    throw Problem(description: "unknown option \(a)")
                }
            } else if a == "-h" {
                flags.insert("help")
            } else {
                positional.append(a)
            }
            i += 1
        }
    }

    func require(_ k: String) throws -> String {
        guard let v = values[k], !v.isEmpty else { throw Problem(description: "missing required option --\(k)") }
        return v
    }

    /// A required admin-plane id (`--org`, `--id`): 16 hex digits.
    func hexId(_ k: String) throws -> String {
        let s = try require(k)
        guard s.utf8.count == 16, UInt64(s, radix: 16) != nil else { throw Problem(description: "--\(k) must be 16 hex digits") }
        return s
    }
}

/// TLS for https:// endpoints: --ca-file, else INFRASTACK_CA_FILE, else the system trust store.
func clientTLS(_ o: Options) -> TLSConfiguration? {
    guard let ca = o.values["ca-file"] ?? ProcessInfo.processInfo.environment["INFRASTACK_CA_FILE"], !ca.isEmpty else { return nil }
    var c = TLSConfiguration(role: .client)
    c.caFile = ca
    return c
}

func fail(_ message: String, code: Int32 = 1) -> Int32 {
    FileHandle.standardError.write(Data("infrastack: \(message)\n".utf8))
    return code
}

/// Runs a command body, turning thrown errors into a one-line message and exit code 1.
func runCommand(usage: String, _ args: [String], valued: Set<String>, boolean: Set<String> = [], _ body: (Options) throws -> Int32) -> Int32 {
    do {
        let o = try Options(args, valued: valued, boolean: boolean)
        if o.flags.contains("help") { print(usage); return 0 }
        return try body(o)
    } catch let p as Options.Problem {
        return fail("\(p.description)\n\n\(usage)", code: 2)
    } catch {
        return fail("\(error)")
    }
}

/// Blocks until SIGTERM or SIGINT (after ignoring SIGPIPE), for long-running commands that
/// then shut down gracefully.
func waitForTerminationSignal() {
    signal(SIGPIPE, SIG_IGN)
    let stop = DispatchSemaphore(value: 0)
    var sources = [DispatchSourceSignal]()
    for sig in [SIGTERM, SIGINT] {
        signal(sig, SIG_IGN)
        let s = DispatchSource.makeSignalSource(signal: sig, queue: .global())
        s.setEventHandler { stop.signal() }
        s.resume()
        sources.append(s)
    }
    stop.wait()
    sources.forEach { $0.cancel() }
}

/// Rows as aligned columns, two spaces apart; the last column is not padded.
func columns(_ rows: [[String]]) -> String {
    precondition(rows.allSatisfy { $0.count == rows[0].count }, "every row has a cell per column")
    let widths = rows[0].indices.map { i in rows.map { $0[i].count }.max()! }
    return rows.map { r in r.enumerated().map { i, cell in i == r.count - 1 ? cell : cell.padding(toLength: widths[i], withPad: " ", startingAt: 0) }.joined(separator: "  ") }
        .joined(separator: "\n")
}
