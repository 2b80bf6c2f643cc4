// The results store: an embedded SQLite database (pv.db by default), one row per unit of work (a `run`, an explore
// chunk, an A/B seed of one side), keyed by (session, backend, seed) and written by upsert as each unit finishes,
// so an interrupted sweep keeps what it did and a rerun replaces the rows of the same work instead of adding
// copies. A sweep's session key says what was asked (command, scenario hash, backend(s), parameters); `--resume`
// takes the units that session already holds. Rows carry what reproduces them: scenario path and hash, backend,
// plugin version and SHA-256, seed, and the Pv version. Work shared by concurrent sessions is claimed through the
// claims table (WorkLeases). Guarantees: every error names the database file (a PvInputException: the file is the
// user's input); the file's directory is created; a store opened for writing has been written to (a probe rolled
// back) before anything is simulated; a row that cannot be read is reported by file and row id, skipped and counted.
// An A/B comparison also keeps one row in the comparisons table (sides, command line, plugins, counterexamples), so
// `pv report` can render it again; that table is additive and optional to read (older stores have none).
using System.Text.Json;
using Microsoft.Data.Sqlite;
using Pv.Engine;
using Pv.Scenarios.Running;

namespace Pv.Scenarios.Store;

/// <summary>One stored run.</summary>
/// <param name="Kind">run, explore or ab.</param>
/// <param name="Session">The sweep it belongs to.</param>
/// <param name="Scenario">Scenario path.</param>
/// <param name="ScenarioHash">Scenario SHA-256.</param>
/// <param name="Backend">Backend name.</param>
/// <param name="PluginVersion">The backend's plugin version.</param>
/// <param name="PluginSha256">The plugin assembly's SHA-256.</param>
/// <param name="Seed">Workload or schedule seed (explore: first seed of the chunk).</param>
/// <param name="Schedules">Schedules run.</param>
/// <param name="Verdict">Clean, O1..O7, deadlock, step-limit (stored as its text).</param>
/// <param name="Metrics">Counters by name.</param>
/// <param name="PvVersion">Pv's version.</param>
/// <param name="FinishedAt">When it finished (UTC, ISO 8601).</param>
/// <param name="ElapsedMs">Wall time.</param>
public sealed record StoredRun(
    string Kind, string Session, string Scenario, string ScenarioHash, string Backend, string PluginVersion, string PluginSha256,
    ulong Seed, long Schedules, Verdict Verdict, IReadOnlyDictionary<string, long> Metrics, string PvVersion, string FinishedAt, double ElapsedMs);

/// <summary>The SQLite results store.</summary>
/// <remarks>
/// The store is the user's file (--db): a file that is not a database, cannot be opened or written, or was written by a
/// newer Pv is bad input, a <see cref="PvInputException"/> naming the file. A row that cannot be read is not: it is
/// listed in <see cref="SkippedRows"/> and left out.
/// </remarks>
public sealed class ResultsStore : IDisposable
{
    /// <summary>The schema this Pv writes: 1 = runs unique per (session, backend, seed), and the claims table.</summary>
    internal const int SchemaVersion = 1;

    private const string Columns = "kind, session, scenario, scenario_hash, backend, plugin_version, plugin_sha256, seed, schedules, verdict, metrics, pv_version, finished_at, elapsed_ms";

    private readonly SqliteConnection _db;
    private readonly List<string> _skipped = [];

    private ResultsStore(SqliteConnection db, string path) => (_db, Path) = (db, path);

    /// <summary>The default file name, in the working directory.</summary>
    public const string DefaultFile = "pv.db";

    /// <summary>The database file.</summary>
    public string Path { get; }

    /// <summary>Every row left out so far because it could not be read, each naming the file and the row id.</summary>
    public IReadOnlyList<string> SkippedRows => _skipped;

    /// <summary>
    /// Opens the store at <paramref name="path"/> for writing: creates its directory and the file if needed, brings an older
    /// schema up to date, and proves it can be written (a write rolled back), so a command fails before it simulates.
    /// </summary>
    /// <exception cref="PvInputException">The directory cannot be created, or the file is not a database, cannot be opened
    /// or written, or was written by a newer Pv.</exception>
    public static ResultsStore Open(string path)
    {
        try
        {
            Directory.CreateDirectory(System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(path))!);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new PvInputException($"results store {path}: cannot create its directory: {e.Message}", e);
        }
        return Checked(path, () =>
        {
            var db = Connect(path, SqliteOpenMode.ReadWriteCreate);
            try
            {
                Migrate(db, path);
                Execute(db, ComparisonsTable);
                using (var tx = db.BeginTransaction())
                {
                    // SQLite opens a write-protected file read-only without a word and creates the journal only at the
                    // first write: only a write shows that the file and its directory can be written.
                    Execute(db, "INSERT INTO claims (session, backend, seed, owner, host, pid, renewed_at) VALUES ('', '', 0, '', '', 0, 0)", tx);
                    tx.Rollback();
                }
                return new ResultsStore(db, path);
            }
            catch
            {
                db.Dispose();
                throw;
            }
        });
    }

    /// <summary>Opens the store at <paramref name="path"/> to read its runs (a read-only file will do; nothing is written).</summary>
    /// <exception cref="PvInputException">No file there, or it is not a results store or cannot be read.</exception>
    public static ResultsStore OpenToRead(string path)
    {
        if (!File.Exists(path)) throw new PvInputException($"no results store at {path}");
        return Checked(path, () =>
        {
            var db = Connect(path, SqliteOpenMode.ReadOnly);
            using var cmd = db.CreateCommand();
            cmd.CommandText = "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'runs'";
            if ((long)cmd.ExecuteScalar()! == 0)
            {
                db.Dispose();
                throw new PvInputException($"results store {path}: not a results store (no runs table)");
            }
            return new ResultsStore(db, path);
        });
    }

    internal static SqliteConnection Connect(string path, SqliteOpenMode mode)
    {
        // Pooling off: a closed store releases the file at once (another session, a test deleting it).
        var db = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = path, Mode = mode, Pooling = false, DefaultTimeout = 30 }.ToString());
        db.Open();
        // A write-ahead log, synced at checkpoints: a commit per finished unit of work (1,000 schedules) then costs no
        // fsync of its own (with the rollback journal they cost a search ~13% of its speed). A killed pv loses nothing
        // (the log is in the file system); a power loss can lose the last commits, never the file's consistency, and a
        // lost unit is only computed again. Readers also no longer wait for a writer.
        if (mode != SqliteOpenMode.ReadOnly) Execute(db, "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;");
        return db;
    }

    /// <summary>Creates the schema, or brings a version-0 store (rows appended, duplicates possible) to version 1.</summary>
    private static void Migrate(SqliteConnection db, string path)
    {
        using var tx = db.BeginTransaction();
        using var version = db.CreateCommand();
        version.Transaction = tx;
        version.CommandText = "PRAGMA user_version";
        long found = (long)version.ExecuteScalar()!;
        if (found > SchemaVersion)
            throw new PvInputException($"results store {path}: schema version {found}, written by a newer Pv (this one reads up to {SchemaVersion})");
        if (found == SchemaVersion) return;
        Execute(db, $"""
            CREATE TABLE IF NOT EXISTS runs (
              id INTEGER PRIMARY KEY AUTOINCREMENT,
              kind TEXT NOT NULL, session TEXT NOT NULL,
              scenario TEXT NOT NULL, scenario_hash TEXT NOT NULL,
              backend TEXT NOT NULL, plugin_version TEXT NOT NULL, plugin_sha256 TEXT NOT NULL,
              seed INTEGER NOT NULL, schedules INTEGER NOT NULL, verdict TEXT NOT NULL,
              metrics TEXT NOT NULL, pv_version TEXT NOT NULL, finished_at TEXT NOT NULL, elapsed_ms REAL NOT NULL);
            -- Version 0 appended a row per rerun; the newest row of a unit was the one --resume used, and is the one kept.
            DELETE FROM runs WHERE id NOT IN (SELECT max(id) FROM runs GROUP BY session, backend, seed);
            DROP INDEX IF EXISTS runs_session;
            CREATE UNIQUE INDEX IF NOT EXISTS runs_unit ON runs(session, backend, seed);
            CREATE TABLE IF NOT EXISTS claims (
              session TEXT NOT NULL, backend TEXT NOT NULL, seed INTEGER NOT NULL,
              owner TEXT NOT NULL, host TEXT NOT NULL, pid INTEGER NOT NULL, renewed_at INTEGER NOT NULL,
              PRIMARY KEY (session, backend, seed));
            PRAGMA user_version = {SchemaVersion};
            """, tx);
        tx.Commit();
    }

    /// <summary>
    /// The comparisons table: what a report of an A/B comparison needs beyond its per-seed rows (which side is A, the
    /// command line, the plugins, faults, counterexample files), one row per session, the latest invocation's. It is
    /// additive: created whenever a store is opened for writing, whatever its schema version, and never required to
    /// read one (a store without it, written by an older Pv, still reports from its rows), so user_version stays.
    /// </summary>
    private const string ComparisonsTable = """
        CREATE TABLE IF NOT EXISTS comparisons (
          session TEXT PRIMARY KEY, a TEXT NOT NULL, b TEXT NOT NULL, seeds INTEGER NOT NULL, schedules INTEGER NOT NULL,
          command TEXT NOT NULL, record TEXT NOT NULL, finished_at TEXT NOT NULL)
        """;

    internal static int Execute(SqliteConnection db, string sql, SqliteTransaction? tx = null, params (string Name, object Value)[] args)
    {
        using var cmd = db.CreateCommand();
        cmd.Transaction = tx;
        cmd.CommandText = sql;
        foreach (var (name, value) in args) cmd.Parameters.AddWithValue(name, value);
        return cmd.ExecuteNonQuery();
    }

    /// <summary>Runs a database operation on the store at <paramref name="path"/>; SQLite's refusal is a problem of that file.</summary>
    internal static T Checked<T>(string path, Func<T> body)
    {
        try
        {
            return body();
        }
        catch (SqliteException e)
        {
            throw new PvInputException($"results store {path}: {e.Message}", e);
        }
    }

    /// <summary>The connection, for the store's own lease machinery.</summary>
    internal SqliteConnection Connection => _db;

    /// <summary>Stores <paramref name="run"/>, replacing the row of the same (session, backend, seed), and commits it.</summary>
    /// <exception cref="PvInputException">The store cannot be written.</exception>
    public void Put(StoredRun run) => Checked(Path, () => Upsert(run, null));

    /// <summary>The upsert of <paramref name="run"/>, inside <paramref name="tx"/> when given.</summary>
    internal int Upsert(StoredRun run, SqliteTransaction? tx) => Execute(_db, $"""
        INSERT INTO runs ({Columns})
        VALUES ($kind, $session, $scenario, $hash, $backend, $pver, $psha, $seed, $schedules, $verdict, $metrics, $pv, $at, $ms)
        ON CONFLICT (session, backend, seed) DO UPDATE SET
          kind = excluded.kind, scenario = excluded.scenario, scenario_hash = excluded.scenario_hash, plugin_version = excluded.plugin_version,
          plugin_sha256 = excluded.plugin_sha256, schedules = excluded.schedules, verdict = excluded.verdict, metrics = excluded.metrics,
          pv_version = excluded.pv_version, finished_at = excluded.finished_at, elapsed_ms = excluded.elapsed_ms
        """, tx,
        ("$kind", run.Kind), ("$session", run.Session), ("$scenario", run.Scenario), ("$hash", run.ScenarioHash), ("$backend", run.Backend),
        ("$pver", run.PluginVersion), ("$psha", run.PluginSha256), ("$seed", unchecked((long)run.Seed)), ("$schedules", run.Schedules),
        ("$verdict", run.Verdict.ToText()), ("$metrics", JsonSerializer.Serialize(run.Metrics)), ("$pv", run.PvVersion), ("$at", run.FinishedAt),
        ("$ms", run.ElapsedMs));

    /// <summary>The runs of <paramref name="session"/> on <paramref name="backend"/>, by seed (rows that cannot be read left out).</summary>
    public IReadOnlyDictionary<ulong, StoredRun> Done(string session, string backend) =>
        Query("WHERE session = $session AND backend = $backend ORDER BY id", null, ("$session", session), ("$backend", backend)).ToDictionary(r => r.Seed);

    /// <summary>The run of one unit of work, or null (none, or a row that cannot be read: it is skipped and the unit done again).</summary>
    internal StoredRun? Find(string session, string backend, ulong seed, SqliteTransaction tx) =>
        Query("WHERE session = $session AND backend = $backend AND seed = $seed", tx, ("$session", session), ("$backend", backend), ("$seed", unchecked((long)seed)))
            .SingleOrDefault();

    /// <summary>Every run, oldest first (rows that cannot be read left out and listed in <see cref="SkippedRows"/>).</summary>
    internal IReadOnlyList<StoredRun> All() => Query("ORDER BY id", null);

    /// <summary>The schema version the file was written with (PRAGMA user_version).</summary>
    internal long FileSchemaVersion => Checked(Path, () =>
    {
        using var cmd = _db.CreateCommand();
        cmd.CommandText = "PRAGMA user_version";
        return (long)cmd.ExecuteScalar()!;
    });

    /// <summary>The last <paramref name="limit"/> runs, newest first (rows that cannot be read left out and listed in <see cref="SkippedRows"/>).</summary>
    public IReadOnlyList<StoredRun> Recent(int limit) => Query("ORDER BY id DESC LIMIT $limit", null, ("$limit", limit));

    private List<StoredRun> Query(string where, SqliteTransaction? tx, params (string Name, object Value)[] args) => Checked(Path, () =>
    {
        using var cmd = _db.CreateCommand();
        cmd.Transaction = tx;
        cmd.CommandText = $"SELECT {Columns}, id FROM runs " + where;
        foreach (var (name, value) in args) cmd.Parameters.AddWithValue(name, value);
        using var r = cmd.ExecuteReader();
        var list = new List<StoredRun>();
        while (r.Read())
        {
            try
            {
                list.Add(Read(r));
            }
            catch (Exception e) when (e is InvalidCastException or FormatException or JsonException or OverflowException or InvalidDataException)
            {
                // One bad row (edited by hand, written by a newer Pv) must not cost the others: named, skipped, counted.
                string problem = $"results store {Path}: row {r.GetValue(14)}: {e.Message}; skipped";
                if (!_skipped.Contains(problem)) _skipped.Add(problem);
            }
        }
        return list;
    });

    private static StoredRun Read(SqliteDataReader r)
    {
        // Typed reads: SQLite keeps whatever was written, so a text seed or a NULL metrics column fails here, by name.
        string Text(int i) => r.IsDBNull(i) ? throw new InvalidDataException($"{r.GetName(i)} is NULL")
            : r.GetFieldType(i) == typeof(string) ? r.GetString(i) : throw new InvalidDataException($"{r.GetName(i)} is not text");
        long Integer(int i) => r.IsDBNull(i) || r.GetFieldType(i) != typeof(long) ? throw new InvalidDataException($"{r.GetName(i)} is not an integer") : r.GetInt64(i);
        string verdict = Text(9), finished = Text(12);
        if (!Verdicts.TryParse(verdict, out var v)) throw new InvalidDataException($"unknown verdict '{verdict}' (written by a newer Pv?)");
        if (!DateTime.TryParse(finished, null, System.Globalization.DateTimeStyles.RoundtripKind, out _))
            throw new InvalidDataException($"finished_at '{finished}' is not a time");
        var metrics = JsonSerializer.Deserialize<Dictionary<string, long>>(Text(10)) ?? throw new InvalidDataException("metrics is JSON null");
        double ms = r.IsDBNull(13) || r.GetFieldType(13) == typeof(string) ? throw new InvalidDataException("elapsed_ms is not a number") : r.GetDouble(13);
        return new StoredRun(Text(0), Text(1), Text(2), Text(3), Text(4), Text(5), Text(6), unchecked((ulong)Integer(7)), Integer(8), v, metrics,
            Text(11), finished, ms);
    }

    /// <summary>Every row of <paramref name="session"/>, oldest first (rows that cannot be read left out and listed in <see cref="SkippedRows"/>).</summary>
    public IReadOnlyList<StoredRun> Session(string session) => Query("WHERE session = $session ORDER BY id", null, ("$session", session));

    /// <summary>Stores what a report of comparison <paramref name="record"/> needs beyond its rows, replacing an earlier invocation's.</summary>
    /// <exception cref="PvInputException">The store cannot be written.</exception>
    public void PutComparison(ComparisonRecord record) => Checked(Path, () => Execute(_db, """
        INSERT INTO comparisons (session, a, b, seeds, schedules, command, record, finished_at)
        VALUES ($session, $a, $b, $seeds, $schedules, $command, $record, $at)
        ON CONFLICT (session) DO UPDATE SET a = excluded.a, b = excluded.b, seeds = excluded.seeds, schedules = excluded.schedules,
          command = excluded.command, record = excluded.record, finished_at = excluded.finished_at
        """, null, ("$session", record.Session), ("$a", record.A), ("$b", record.B), ("$seeds", record.Seeds), ("$schedules", record.Schedules),
        ("$command", record.Command), ("$record", JsonSerializer.Serialize(record)), ("$at", record.FinishedAt)));

    /// <summary>
    /// The comparison record of <paramref name="session"/>, or null: none stored (an interrupted run, a store written by
    /// an older Pv or merged from shards), or one that cannot be read (listed in <see cref="SkippedRows"/>).
    /// </summary>
    public ComparisonRecord? FindComparison(string session) => Checked(Path, () =>
    {
        if (!HasComparisons()) return null;
        using var cmd = _db.CreateCommand();
        cmd.CommandText = "SELECT record FROM comparisons WHERE session = $session";
        cmd.Parameters.AddWithValue("$session", session);
        if (cmd.ExecuteScalar() is not string json) return null;
        try
        {
            return JsonSerializer.Deserialize<ComparisonRecord>(json) ?? throw new JsonException("the record is JSON null");
        }
        catch (JsonException e)
        {
            string problem = $"results store {Path}: comparison {session}: {e.Message}; skipped";
            if (!_skipped.Contains(problem)) _skipped.Add(problem);
            return null;
        }
    });

    /// <summary>The command line of each stored comparison, by session (none for a store without the table).</summary>
    public IReadOnlyDictionary<string, string> ComparisonCommands() => Checked(Path, () =>
    {
        var commands = new Dictionary<string, string>(StringComparer.Ordinal);
        if (!HasComparisons()) return commands;
        using var cmd = _db.CreateCommand();
        cmd.CommandText = "SELECT session, command FROM comparisons";
        using var r = cmd.ExecuteReader();
        while (r.Read())
            if (!r.IsDBNull(0) && !r.IsDBNull(1)) commands[r.GetValue(0).ToString()!] = r.GetValue(1).ToString()!;
        return commands;
    });

    // A store opened only to read and written by an older Pv has no comparisons table.
    private bool HasComparisons()
    {
        using var cmd = _db.CreateCommand();
        cmd.CommandText = "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'comparisons'";
        return (long)cmd.ExecuteScalar()! > 0;
    }

    /// <summary>Closes the database.</summary>
    public void Dispose() => _db.Dispose();
}

/// <summary>One plugin behind a side of a comparison, as the report names it.</summary>
/// <param name="Side">A or B.</param>
/// <param name="Backend">The backend's name in plugins.json.</param>
/// <param name="Plugin">The plugin's name in plugins.json.</param>
/// <param name="Version">The plugin's version.</param>
/// <param name="Sha256">The plugin assembly's SHA-256 (empty when it could not be read).</param>
public sealed record PluginProvenance(string Side, string Backend, string Plugin, string Version, string Sha256);

/// <summary>A counterexample written for a violating seed of a comparison.</summary>
/// <param name="Side">A or B.</param>
/// <param name="Seed">The seed.</param>
/// <param name="Verdict">The invariant that broke (its text).</param>
/// <param name="Json">The counterexample file (absolute).</param>
/// <param name="Html">Its HTML view (absolute).</param>
public sealed record CounterexampleLink(string Side, ulong Seed, string Verdict, string Json, string Html);

/// <summary>What a report of an A/B comparison needs beyond its per-seed rows: the latest invocation's provenance.</summary>
/// <param name="Session">The comparison's session key (its rows' session).</param>
/// <param name="A">Backend A (the baseline).</param>
/// <param name="B">Backend B.</param>
/// <param name="Seeds">Seeds per side.</param>
/// <param name="Schedules">PCT schedules per seed.</param>
/// <param name="Command">The command line as given.</param>
/// <param name="Plugins">The plugins of both sides.</param>
/// <param name="FaultA">The plugin fault that stopped side A, or null.</param>
/// <param name="FaultB">The plugin fault that stopped side B, or null.</param>
/// <param name="Counterexamples">Counterexamples written for violating seeds.</param>
/// <param name="PvVersion">The Pv that ran it.</param>
/// <param name="FinishedAt">When it finished (UTC, ISO 8601).</param>
public sealed record ComparisonRecord(string Session, string A, string B, int Seeds, int Schedules, string Command,
    IReadOnlyList<PluginProvenance> Plugins, string? FaultA, string? FaultB, IReadOnlyList<CounterexampleLink> Counterexamples,
    string PvVersion, string FinishedAt);

/// <summary>Builds stored rows with the provenance of a backend and a scenario.</summary>
public static class StoredRuns
{
    /// <summary>The Pv version rows carry (this assembly's informational version).</summary>
    public static string PvVersion { get; } =
        typeof(StoredRuns).Assembly.GetCustomAttributes(typeof(System.Reflection.AssemblyInformationalVersionAttribute), false)
            .OfType<System.Reflection.AssemblyInformationalVersionAttribute>().FirstOrDefault()?.InformationalVersion ?? "unknown";

    /// <summary>A row for a run of <paramref name="scenario"/> on <paramref name="backend"/>.</summary>
    public static StoredRun Make(string kind, string session, Litmus.Scenario scenario, Hosting.ResolvedBackend backend, Hosting.PluginCatalog catalog,
        ulong seed, long schedules, Verdict verdict, IReadOnlyDictionary<string, long> metrics, TimeSpan elapsed) =>
        new(kind, session, System.IO.Path.GetFullPath(scenario.Path), scenario.Hash, backend.Name, backend.Plugin.Version.ToString(),
            catalog.Plugins.FirstOrDefault(p => p.Name == backend.Entry.Plugin)?.Sha256 ?? "",
            seed, schedules, verdict, metrics, PvVersion, DateTime.UtcNow.ToString("O"), elapsed.TotalMilliseconds);

    /// <summary>A session key: SHA-256 of the parts (what was asked), short.</summary>
    public static string Session(params object[] parts) =>
        Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(string.Join("\u001f", parts))))[..16];
}
