// The results store: an embedded SQLite database (pv.db by default), one row per finished run, committed as
// each run finishes (autocommit, one INSERT each), so an interrupted explore or A/B sweep keeps what it did.
// A sweep has a session key (what was asked: command, scenario hash, backend(s), parameters); `--resume`
// asks which seeds of that session are done and skips them. Rows carry what reproduces them: scenario path
// and hash, backend, plugin version and SHA-256, seed, and the Pv version.
using System.Text.Json;
using Microsoft.Data.Sqlite;
using Pv.Engine;
using Pv.Scenarios.Running;

namespace Pv.Scenarios.Store;

/// <summary>One stored run.</summary>
/// <param name="Kind">run, explore, ab or zoo.</param>
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
/// The store is the user's file (--db): a file that is not a database, cannot be opened or written, or holds a row whose
/// verdict text is unknown is bad input, a <see cref="PvInputException"/> naming the file.
/// </remarks>
public sealed class ResultsStore : IDisposable
{
    private readonly SqliteConnection _db;

    private ResultsStore(SqliteConnection db) => _db = db;

    /// <summary>The default file name, in the working directory.</summary>
    public const string DefaultFile = "pv.db";

    /// <summary>Opens (creating if needed) the store at <paramref name="path"/>.</summary>
    /// <exception cref="PvInputException">The file is not a database or cannot be opened.</exception>
    public static ResultsStore Open(string path) => Checked(path, () =>
    {
        var db = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = path, Mode = SqliteOpenMode.ReadWriteCreate }.ToString());
        db.Open();
        using var cmd = db.CreateCommand();
        cmd.CommandText = """
            CREATE TABLE IF NOT EXISTS runs (
              id INTEGER PRIMARY KEY AUTOINCREMENT,
              kind TEXT NOT NULL, session TEXT NOT NULL,
              scenario TEXT NOT NULL, scenario_hash TEXT NOT NULL,
              backend TEXT NOT NULL, plugin_version TEXT NOT NULL, plugin_sha256 TEXT NOT NULL,
              seed INTEGER NOT NULL, schedules INTEGER NOT NULL, verdict TEXT NOT NULL,
              metrics TEXT NOT NULL, pv_version TEXT NOT NULL, finished_at TEXT NOT NULL, elapsed_ms REAL NOT NULL);
            CREATE INDEX IF NOT EXISTS runs_session ON runs(session, backend, seed);
            """;
        cmd.ExecuteNonQuery();
        return new ResultsStore(db);
    });

    /// <summary>Runs a database operation on the store at <paramref name="path"/>; SQLite's refusal is a problem of that file.</summary>
    private static T Checked<T>(string path, Func<T> body)
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

    /// <summary>Appends <paramref name="run"/> and commits it.</summary>
    /// <exception cref="PvInputException">The store cannot be written.</exception>
    public void Add(StoredRun run) => Checked(_db.DataSource, () =>
    {
        using var cmd = _db.CreateCommand();
        cmd.CommandText = """
            INSERT INTO runs (kind, session, scenario, scenario_hash, backend, plugin_version, plugin_sha256, seed, schedules, verdict, metrics, pv_version, finished_at, elapsed_ms)
            VALUES ($kind, $session, $scenario, $hash, $backend, $pver, $psha, $seed, $schedules, $verdict, $metrics, $pv, $at, $ms)
            """;
        cmd.Parameters.AddWithValue("$kind", run.Kind);
        cmd.Parameters.AddWithValue("$session", run.Session);
        cmd.Parameters.AddWithValue("$scenario", run.Scenario);
        cmd.Parameters.AddWithValue("$hash", run.ScenarioHash);
        cmd.Parameters.AddWithValue("$backend", run.Backend);
        cmd.Parameters.AddWithValue("$pver", run.PluginVersion);
        cmd.Parameters.AddWithValue("$psha", run.PluginSha256);
        cmd.Parameters.AddWithValue("$seed", unchecked((long)run.Seed));
        cmd.Parameters.AddWithValue("$schedules", run.Schedules);
        cmd.Parameters.AddWithValue("$verdict", run.Verdict.ToText());
        cmd.Parameters.AddWithValue("$metrics", JsonSerializer.Serialize(run.Metrics));
        cmd.Parameters.AddWithValue("$pv", run.PvVersion);
        cmd.Parameters.AddWithValue("$at", run.FinishedAt);
        cmd.Parameters.AddWithValue("$ms", run.ElapsedMs);
        return cmd.ExecuteNonQuery();
    });

    /// <summary>The runs of <paramref name="session"/> on <paramref name="backend"/>, by seed (the last row of a seed wins).</summary>
    public IReadOnlyDictionary<ulong, StoredRun> Done(string session, string backend)
    {
        var done = new Dictionary<ulong, StoredRun>();
        foreach (var r in Query("WHERE session = $session AND backend = $backend ORDER BY id", ("$session", session), ("$backend", backend)))
            done[r.Seed] = r;
        return done;
    }

    /// <summary>The last <paramref name="limit"/> runs, newest first.</summary>
    public IReadOnlyList<StoredRun> Recent(int limit) => Query("ORDER BY id DESC LIMIT $limit", ("$limit", limit));

    private List<StoredRun> Query(string where, params (string Name, object Value)[] args) => Checked(_db.DataSource, () =>
    {
        using var cmd = _db.CreateCommand();
        cmd.CommandText = "SELECT kind, session, scenario, scenario_hash, backend, plugin_version, plugin_sha256, seed, schedules, verdict, metrics, pv_version, finished_at, elapsed_ms FROM runs " + where;
        foreach (var (name, value) in args) cmd.Parameters.AddWithValue(name, value);
        using var r = cmd.ExecuteReader();
        var list = new List<StoredRun>();
        while (r.Read())
            list.Add(new StoredRun(r.GetString(0), r.GetString(1), r.GetString(2), r.GetString(3), r.GetString(4), r.GetString(5), r.GetString(6),
                unchecked((ulong)r.GetInt64(7)), r.GetInt64(8), ReadVerdict(r.GetString(9)),
                JsonSerializer.Deserialize<Dictionary<string, long>>(r.GetString(10)) ?? [], r.GetString(11), r.GetString(12), r.GetDouble(13)));
        return list;
    });

    private Verdict ReadVerdict(string text) => Verdicts.TryParse(text, out var v) ? v
        : throw new PvInputException($"{_db.DataSource}: a row with the unknown verdict '{text}' (written by a newer Pv?)");

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
        new(kind, session, Path.GetFullPath(scenario.Path), scenario.Hash, backend.Name, backend.Plugin.Version.ToString(),
            catalog.Plugins.FirstOrDefault(p => p.Name == backend.Entry.Plugin)?.Sha256 ?? "",
            seed, schedules, verdict, metrics, PvVersion, DateTime.UtcNow.ToString("O"), elapsed.TotalMilliseconds);

    /// <summary>A session key: SHA-256 of the parts (what was asked), short.</summary>
    public static string Session(params object[] parts) =>
        Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(string.Join("\u001f", parts))))[..16];
}
