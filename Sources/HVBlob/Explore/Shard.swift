// SPDX-License-Identifier: Apache-2.0

/// One part of an exhaustive search: `--shard i/n` (1-based, as CI matrices count).
///
/// The schedule tree's first choice points are expanded breadth first, in the walk's own
/// order, until there are at least 8n subtrees (or nothing left to expand); subtree j (in
/// depth-first order) belongs to shard (j mod n) + 1. Each subtree carries the sleep set and
/// preemption count the whole search would give it, so without seen-state pruning the shards
/// run exactly the schedules of the whole search between them, each once. With it, a shard
/// cannot skip a state only another shard explored: the union has the same findings and end
/// states, and may run more schedules than one search.
public struct ShardSpec: Sendable, Equatable, CustomStringConvertible {
    public let index: Int
    public let count: Int

    public init(index: Int, count: Int) {
        self.index = index
        self.count = count
    }

    public var description: String { "\(index)/\(count)" }

    public enum ParseError: Error, CustomStringConvertible {
        case malformed(String)
        public var description: String {
            switch self {
            case .malformed(let why): return why
            }
        }
    }

    /// "i/n" with 1 <= i <= n <= 4096.
    public init(parsing text: String) throws(ParseError) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2 else { throw .malformed("'\(text)' is not i/n (e.g. 1/4)") }
        guard let n = Int(parts[1]), n >= 1, n <= 4096 else {
            throw .malformed("'\(parts[1])' in '\(text)' is not a shard count in 1...4096")
        }
        guard let i = Int(parts[0]), i >= 1, i <= n else {
            throw .malformed("'\(parts[0])' in '\(text)' is not a shard index in 1...\(n)")
        }
        self.init(index: i, count: n)
    }
}

extension Explorer {
    /// The subtrees of this explorer's shard (the whole tree's root when there is no shard),
    /// and the state digests of the choice points above them (the first shard counts those).
    func subtrees(prune: Bool) throws -> (trees: [Subtree], above: Set<UInt64>) {
        let root = Subtree(prefix: [], sleep: [], preemptions: 0)
        guard let shard, shard.count > 1 else { return ([root], []) }
        var above = Set<UInt64>()
        let walker = Walker(self, bound: nil, prune: prune)
        var level = [root]
        var depth = 0
        while level.count < 8 * shard.count && depth < 64 {
            var next: [Subtree] = []
            var grew = false
            for t in level {
                let r = try machine(at: t.prefix, tracing: false)
                guard let names = r.enabledNames() else { next.append(t); continue }
                let options = walker.candidates(names, sleep: t.sleep, before: r.previous, preemptions: t.preemptions)
                if options.isEmpty { next.append(t); continue }
                grew = true
                above.insert(r.key.value)
                var done: [(String, Footprint)] = []
                for c in options {
                    let child = try machine(at: t.prefix, tracing: false)
                    _ = child.enabledNames()
                    let f = child.take(c)
                    let sleep = prune ? (t.sleep + done).filter { $0.1.independent(of: f) } : []
                    next.append(Subtree(prefix: t.prefix + [c], sleep: sleep, preemptions: t.preemptions))
                    done.append((names[c], f))
                }
            }
            level = next
            depth += 1
            if !grew { break }
        }
        return (level.enumerated().filter { $0.offset % shard.count == shard.index - 1 }.map(\.element), shard.index == 1 ? above : [])
    }
}

/// A shard's result file (JSON), and the merge of a complete set of them.
public struct ShardResult: Sendable, Equatable {
    public static let format = "hvblob-explore-shard/1"

    public struct Finding: Sendable, Equatable {
        public var key: String
        public var rule: String
        public var detail: String
        public var deterministic: Bool
        public var schedules: Int
        public var found: String
        public var minimised: String?
        public var replays: Bool?
    }

    public struct Part: Sendable, Equatable {
        public var scenario: String
        public var clients: Int
        public var strategy: String
        public var exhaustive: Bool
        public var schedules: Int
        public var cutBySleep: Int
        public var cutBySeen: Int
        /// Distinct trace digests this shard saw (shards may share some: a merge sums them as
        /// an upper bound).
        public var states: Int
        public var finalStates: [UInt64]
        public var findings: [Finding]
    }

    /// What the driver under test was (its name) and a digest of its code.
    public var driver: String
    public var driverHash: String
    /// Every option that shapes the search, canonical; shards must agree on it.
    public var options: String
    public var seed: UInt64
    /// The shards this result covers (one for a shard's own file; all after a merge).
    public var shards: [Int]
    public var shardCount: Int
    public var parts: [Part]

    public init(driver: String, driverHash: String, options: String, seed: UInt64, shard: ShardSpec?, parts: [Part]) {
        self.driver = driver
        self.driverHash = driverHash
        self.options = options
        self.seed = seed
        shards = [shard?.index ?? 1]
        shardCount = shard?.count ?? 1
        self.parts = parts
    }

    /// The part for one scenario's exploration.
    public static func part(_ x: Explorer.Exploration, clients: Int) -> Part {
        let strategy = x.phases.first.map { "\($0.phase.strategy)" } ?? ""
        return Part(scenario: x.scenario.rawValue, clients: clients, strategy: strategy, exhaustive: x.exhaustive,
                    schedules: x.schedules, cutBySleep: x.walk?.cutBySleep ?? 0, cutBySeen: x.walk?.cutBySeen ?? 0,
                    states: x.walk?.states ?? 0, finalStates: (x.walk?.finalStates ?? []).sorted(),
                    findings: x.findings.map { f in
                        Finding(key: f.key, rule: f.rule.rawValue, detail: f.detail, deterministic: f.deterministic,
                                schedules: f.schedules, found: f.found.description,
                                minimised: f.minimised?.schedule.description, replays: f.replays)
                    })
    }

    // MARK: JSON

    public var json: String {
        func q(_ s: String) -> String { JSON.quote(s) }
        var o = "{\n  \"format\": \(q(ShardResult.format)),\n  \"driver\": \(q(driver)),\n  \"driver_hash\": \(q(driverHash)),\n"
        o += "  \"options\": \(q(options)),\n  \"seed\": \(q(String(seed))),\n"
        o += "  \"shards\": [\(shards.map(String.init).joined(separator: ", "))],\n  \"shard_count\": \(shardCount),\n  \"scenarios\": ["
        o += parts.map { p in
            var s = "\n    {\"scenario\": \(q(p.scenario)), \"clients\": \(p.clients), \"strategy\": \(q(p.strategy)), "
            s += "\"exhaustive\": \(p.exhaustive), \"schedules\": \(p.schedules), \"cut_by_sleep\": \(p.cutBySleep), "
            s += "\"cut_by_seen\": \(p.cutBySeen), \"states\": \(p.states),\n     \"final_states\": ["
            s += p.finalStates.map { q(hex64($0)) }.joined(separator: ", ") + "],\n     \"findings\": ["
            s += p.findings.map { f in
                "\n       {\"key\": \(q(f.key)), \"rule\": \(q(f.rule)), \"detail\": \(q(f.detail)), \"deterministic\": \(f.deterministic), "
                    + "\"schedules\": \(f.schedules), \"found\": \(q(f.found)), \"minimised\": \(f.minimised.map(q) ?? "null"), "
                    + "\"replays\": \(f.replays.map { "\($0)" } ?? "null")}"
            }.joined(separator: ",") + "]}"
            return s
        }.joined(separator: ",") + "\n  ]\n}\n"
        return o
    }

    public struct ReadError: Error, CustomStringConvertible {
        public let description: String
    }

    /// Reads a result file's JSON; `name` (the file as typed) goes into every error.
    public init(json bytes: [UInt8], name: String) throws(ReadError) {
        let root: JSONNode
        do { root = try JSONParser.parse(bytes) } catch { throw ReadError(description: "\(name): not JSON: \(error)") }
        func field(_ n: JSONNode, _ k: String, _ at: String) throws(ReadError) -> JSONNode {
            guard let v = n[k] else { throw ReadError(description: "\(name): \(at) has no \"\(k)\"") }
            return v
        }
        func str(_ n: JSONNode, _ k: String, _ at: String) throws(ReadError) -> String {
            guard let s = try field(n, k, at).string else { throw ReadError(description: "\(name): \(at).\(k) is not a string") }
            return s
        }
        func int(_ n: JSONNode, _ k: String, _ at: String) throws(ReadError) -> Int {
            guard let i = try field(n, k, at).int else { throw ReadError(description: "\(name): \(at).\(k) is not an integer") }
            return Int(i)
        }
        func bool(_ n: JSONNode, _ k: String, _ at: String) throws(ReadError) -> Bool {
            guard let b = try field(n, k, at).bool else { throw ReadError(description: "\(name): \(at).\(k) is not true or false") }
            return b
        }
        func list(_ n: JSONNode, _ k: String, _ at: String) throws(ReadError) -> [JSONNode] {
            guard let a = try field(n, k, at).array else { throw ReadError(description: "\(name): \(at).\(k) is not an array") }
            return a
        }
        let format = try str(root, "format", "the file")
        guard format == ShardResult.format else {
            throw ReadError(description: "\(name): format '\(format)' is not \(ShardResult.format) (written by hvblob explore --shard ... --result)")
        }
        driver = try str(root, "driver", "the file")
        driverHash = try str(root, "driver_hash", "the file")
        options = try str(root, "options", "the file")
        let seedText = try str(root, "seed", "the file")
        guard let s = UInt64(seedText) else { throw ReadError(description: "\(name): seed '\(seedText)' is not a number") }
        seed = s
        shards = []
        for (i, n) in try list(root, "shards", "the file").enumerated() {
            guard let v = n.int else { throw ReadError(description: "\(name): shards[\(i)] is not an integer") }
            shards.append(Int(v))
        }
        let count = try int(root, "shard_count", "the file")
        let listed = shards
        guard count >= 1, !listed.isEmpty, listed.allSatisfy({ (1...count).contains($0) }) else {
            throw ReadError(description: "\(name): shards \(listed) do not fit shard_count \(count)")
        }
        shardCount = count
        parts = []
        for (i, p) in try list(root, "scenarios", "the file").enumerated() {
            let at = "scenarios[\(i)]"
            var finals: [UInt64] = []
            for (j, n) in try list(p, "final_states", at).enumerated() {
                guard let t = n.string, let v = UInt64(t.hasPrefix("0x") ? String(t.dropFirst(2)) : t, radix: 16) else {
                    throw ReadError(description: "\(name): \(at).final_states[\(j)] is not a hex digest")
                }
                finals.append(v)
            }
            var findings: [Finding] = []
            for (j, f) in try list(p, "findings", at).enumerated() {
                let fa = "\(at).findings[\(j)]"
                let m = try field(f, "minimised", fa)
                let r = try field(f, "replays", fa)
                findings.append(Finding(key: try str(f, "key", fa), rule: try str(f, "rule", fa), detail: try str(f, "detail", fa),
                                        deterministic: try bool(f, "deterministic", fa), schedules: try int(f, "schedules", fa),
                                        found: try str(f, "found", fa), minimised: m.string, replays: r.bool))
            }
            parts.append(Part(scenario: try str(p, "scenario", at), clients: try int(p, "clients", at), strategy: try str(p, "strategy", at),
                              exhaustive: try bool(p, "exhaustive", at), schedules: try int(p, "schedules", at),
                              cutBySleep: try int(p, "cut_by_sleep", at), cutBySeen: try int(p, "cut_by_seen", at),
                              states: try int(p, "states", at), finalStates: finals, findings: findings))
        }
    }

    /// Combines the results of every shard of one search. Refuses (with the files named)
    /// results of different drivers, options, seeds or shard counts, a shard given twice and
    /// a missing shard.
    public static func merge(_ results: [(name: String, result: ShardResult)]) throws(ReadError) -> ShardResult {
        guard let (firstName, first) = results.first else { throw ReadError(description: "--merge: no result files") }
        var owner: [Int: String] = [:]
        for (name, r) in results {
            func differ(_ what: String, _ a: String, _ b: String) -> ReadError {
                ReadError(description: "\(name) and \(firstName) are from different searches: \(what) '\(b)' vs '\(a)'")
            }
            if r.driverHash != first.driverHash || r.driver != first.driver {
                throw differ("driver", "\(first.driver) (\(first.driverHash))", "\(r.driver) (\(r.driverHash))")
            }
            if r.options != first.options { throw differ("options", first.options, r.options) }
            if r.seed != first.seed { throw differ("seed", String(first.seed), String(r.seed)) }
            if r.shardCount != first.shardCount { throw differ("shard count", String(first.shardCount), String(r.shardCount)) }
            if r.parts.map(\.scenario) != first.parts.map(\.scenario) {
                throw differ("scenarios", first.parts.map(\.scenario).joined(separator: ","), r.parts.map(\.scenario).joined(separator: ","))
            }
            for s in r.shards {
                if let o = owner[s] { throw ReadError(description: "shard \(s)/\(first.shardCount) is in both \(o) and \(name)") }
                owner[s] = name
            }
        }
        let missing = (1...first.shardCount).filter { owner[$0] == nil }
        if !missing.isEmpty {
            throw ReadError(description: "shard(s) \(missing.map { "\($0)/\(first.shardCount)" }.joined(separator: ", ")) missing: the merge needs every shard's result")
        }
        // Lowest shard first, so that each finding keeps the first shard's schedule.
        let ordered = results.map(\.result).sorted { ($0.shards.min() ?? 0) < ($1.shards.min() ?? 0) }
        var out = first
        out.shards = Array(1...first.shardCount)
        out.parts = first.parts.indices.map { i in
            var p = ordered[0].parts[i]
            var finals = Set(p.finalStates)
            for r in ordered.dropFirst() {
                let q = r.parts[i]
                p.schedules += q.schedules
                p.cutBySleep += q.cutBySleep
                p.cutBySeen += q.cutBySeen
                p.states += q.states
                p.exhaustive = p.exhaustive && q.exhaustive
                finals.formUnion(q.finalStates)
                for f in q.findings {
                    if let k = p.findings.firstIndex(where: { $0.key == f.key }) {
                        p.findings[k].schedules += f.schedules
                        p.findings[k].deterministic = p.findings[k].deterministic || f.deterministic
                    } else {
                        p.findings.append(f)
                    }
                }
            }
            p.finalStates = finals.sorted()
            return p
        }
        return out
    }
}
