// The results store: an embedded SQLite database (pv.db by default), one row per unit of work (a `run`, an explore
// chunk, an A/B seed of one side), keyed by (session, backend, seed) and written by upsert as each unit finishes,
// so an interrupted sweep keeps what it did and a rerun replaces the rows of the same work instead of adding
// copies. A sweep's session key says what was asked (command, scenario hash, backend(s), parameters); `--resume`
// takes the units that session already holds. Rows carry what reproduces them: scenario path and hash, backend,
// plugin version and SHA-256, seed, and the Pv version. Work shared by concurrent sessions is claimed through the
// claims table (WorkLeases). Guarantees: every error names the database file (a PvInputException: the file is the
// user's input); the file's directory is created; a store opened for writing has been written to (a probe rolled
// back) before anything is simulated; a row that cannot be read is reported by file and row id, skipped and counted.
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

    /// <summary>Closes the database.</summary>
    public void Dispose() => _db.Dispose();
}

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
