// The results store under what users do to it: a --db in a missing directory, a rerun of the same work (its row
// replaced, and an old store's duplicates folded), a row that cannot be read (named, skipped, computed again on
// resume), a kill between a violation and its counterexample file (resume writes the file), and two sessions on
// one file at once: each unit claimed once (a dead or lapsed claim taken over, a live one waited for) and both
// sessions ending with what one session alone ends with.
using Microsoft.Data.Sqlite;
using Pv.Scenarios.Running;
using Pv.Scenarios.Sessions;
using Pv.Scenarios.Store;

namespace Pv.Scenarios.Tests;

public sealed class StoreTests
{
    private static string Zoo(string name) => Path.Combine(Fixtures.RepoRoot, "scenarios", "zoo", name);

    internal static string TempFile(string name) =>
        Path.Combine(Path.GetTempPath(), "pv-tests", Guid.NewGuid().ToString("N"), name);

    internal static StoredRun Row(ulong seed, string session = "s") =>
        new("ab", session, "/x.pvl", "h", "xen-pv", "1.0", "", seed, 5, Verdict.Clean, new Dictionary<string, long> { ["m"] = (long)seed }, "0.1.0", "2025-01-01T00:00:00Z", 1);

    internal static void Sql(string db, string sql)
    {
        using var raw = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = db, Pooling = false }.ToString());
        raw.Open();
        using var cmd = raw.CreateCommand();
        cmd.CommandText = sql;
        cmd.ExecuteNonQuery();
    }

    [Fact]
    public void Open_creates_the_missing_directory_of_the_file()
    {
        string db = TempFile(Path.Combine("a", "b", "pv.db"));
        using var store = ResultsStore.Open(db);
        Assert.True(File.Exists(db));
    }

    [Fact]
    public void A_file_that_is_not_a_database_or_cannot_be_created_is_bad_input_naming_it()
    {
        string text = Fixtures.WriteFile("text.db", new string('x', 4096));
        Assert.StartsWith($"results store {text}: ", Assert.Throws<Pv.Engine.PvInputException>(() => ResultsStore.Open(text)).Message);
        Assert.StartsWith("results store /proc/pv.db: ", Assert.Throws<Pv.Engine.PvInputException>(() => ResultsStore.Open("/proc/pv.db")).Message);
    }

    [Fact]
    public void A_rerun_replaces_its_row_and_an_old_store_loses_its_duplicates_keeping_the_newest()
    {
        string db = TempFile("pv.db");
        using (var store = ResultsStore.Open(db))
        {
            store.Put(Row(1));
            store.Put(Row(1) with { Schedules = 7 });
            Assert.Equal(7, Assert.Single(store.Recent(10)).Schedules);
        }
        // A version-0 store: no unique key, a rerun appended a second row.
        string old = TempFile("old.db");
        Directory.CreateDirectory(Path.GetDirectoryName(old)!);
        Sql(old, """
            CREATE TABLE runs (id INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL, session TEXT NOT NULL, scenario TEXT NOT NULL,
              scenario_hash TEXT NOT NULL, backend TEXT NOT NULL, plugin_version TEXT NOT NULL, plugin_sha256 TEXT NOT NULL, seed INTEGER NOT NULL,
              schedules INTEGER NOT NULL, verdict TEXT NOT NULL, metrics TEXT NOT NULL, pv_version TEXT NOT NULL, finished_at TEXT NOT NULL, elapsed_ms REAL NOT NULL);
            CREATE INDEX runs_session ON runs(session, backend, seed);
            INSERT INTO runs VALUES (NULL, 'ab', 's', '/x', 'h', 'xen-pv', '1', '', 0, 5, 'clean', '{}', '0', '2025-01-01T00:00:00Z', 1);
            INSERT INTO runs VALUES (NULL, 'ab', 's', '/x', 'h', 'xen-pv', '1', '', 0, 9, 'clean', '{}', '0', '2025-01-02T00:00:00Z', 1);
            """);
        using var migrated = ResultsStore.Open(old);
        Assert.Equal(9, Assert.Single(migrated.Recent(10)).Schedules);
    }

    [Fact]
    public void A_row_that_cannot_be_read_is_named_skipped_and_its_unit_computed_again()
    {
        string db = TempFile("pv.db");
        using var store = ResultsStore.Open(db);
        store.Put(Row(0));
        store.Put(Row(1));
        Sql(db, "UPDATE runs SET metrics = 'not json' WHERE seed = 0; UPDATE runs SET seed = 'x' WHERE seed = 1");
        Assert.Empty(store.Recent(10));
        Assert.Equal(2, store.SkippedRows.Count);
        // Newest first, as Recent reads them.
        Assert.Equal($"results store {db}: row 2: seed is not an integer; skipped", store.SkippedRows[0]);
        Assert.StartsWith($"results store {db}: row 1: ", store.SkippedRows[1]);

        using var leases = new WorkLeases(store, "s", "xen-pv", resume: true);
        var computed = new List<ulong>();
        var rows = leases.Settle([0], seed => { computed.Add(seed); return Row(seed); }, inOrder: true);
        Assert.Equal([0UL], computed);
        Assert.Equal(0UL, Assert.Single(rows).Seed);
    }

    [Fact]
    public async Task Two_sessions_settling_the_same_units_at_once_compute_each_once_and_see_the_same_rows()
    {
        string db = TempFile("pv.db");
        using (ResultsStore.Open(db)) { }
        var computed = new System.Collections.Concurrent.ConcurrentBag<ulong>();
        ulong[] seeds = [.. Enumerable.Range(0, 12).Select(i => (ulong)i)];
        IReadOnlyList<StoredRun> Session()
        {
            using var store = ResultsStore.Open(db);
            using var leases = new WorkLeases(store, "s", "xen-pv", resume: true);
            return leases.Settle(seeds, seed => { computed.Add(seed); Thread.Sleep(30); return Row(seed); }, inOrder: false);
        }
        var both = await Task.WhenAll(Task.Run(Session), Task.Run(Session));
        Assert.Equal(seeds, computed.Order());
        Assert.Equal(both[0].Select(r => (r.Seed, r.Metrics["m"])), both[1].Select(r => (r.Seed, r.Metrics["m"])));
        Assert.Equal(seeds, both[0].Select(r => r.Seed));
    }

    [Fact]
    public void A_claim_of_a_dead_process_is_taken_over_at_once_and_a_live_one_waited_for_until_it_lapses()
    {
        string db = TempFile("pv.db");
        using var store = ResultsStore.Open(db);
        // A pid of this host with no process (above the kernel's pid_max): its claimant was killed.
        Sql(db, $"INSERT INTO claims VALUES ('s', 'xen-pv', 0, 'dead', '{Environment.MachineName}', 99999999, {DateTime.UtcNow.Ticks})");
        // Another host's claim, renewed just now: good until the lease time passes without renewal.
        Sql(db, $"INSERT INTO claims VALUES ('s', 'xen-pv', 1, 'elsewhere', 'another-host', 1, {DateTime.UtcNow.Ticks})");
        using var leases = new WorkLeases(store, "s", "xen-pv", resume: true, leaseTime: TimeSpan.FromSeconds(1));
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var when = new Dictionary<ulong, TimeSpan>();
        leases.Settle([0, 1], seed => { when[seed] = clock.Elapsed; return Row(seed); }, inOrder: false);
        Assert.True(when[0] < TimeSpan.FromSeconds(0.9), $"dead claim taken at {when[0]}");
        Assert.True(when[1] >= TimeSpan.FromSeconds(0.9), $"live claim taken at {when[1]}");
    }

    private static ExploreSession Explore(ResultsStore store, bool resume) =>
        ExploreOf(store, resume, 10_000);

    private static ExploreSession ExploreOf(ResultsStore store, bool resume, long schedules, string file = "z3-pfnmap-unmap-mapping-range.pvl")
    {
        var bound = BoundScenario.Load(Zoo(file), ZooTests.Catalog.Value);
        return new ExploreSession(bound, SearchOptions.For(bound.Scenario, schedules: schedules), ZooTests.Catalog.Value, store, resume);
    }

    [Fact]
    public void A_resumed_search_whose_violation_lost_its_counterexample_file_writes_it_again()
    {
        string cx = TempFile("z3.cx.json");
        using var store = ResultsStore.Open(TempFile("pv.db"));
        var first = Explore(store, false).Run(cx);
        string written = File.ReadAllText(cx);
        File.Delete(cx);

        var resumed = Explore(store, true).Run(cx);
        Assert.Null(resumed.Earlier);
        Assert.Equal((first.Verdict, first.Search.SchedulesRun), (resumed.Verdict, resumed.Search.SchedulesRun));
        Assert.Equal(written, File.ReadAllText(cx));
        // With the file there, a resumed search names the stored violation and searches nothing.
        Assert.Equal(first.Verdict, Explore(store, true).Run(cx).Earlier!.Verdict);
    }

    [Fact]
    public void A_counterexample_that_cannot_be_written_leaves_no_violation_row_and_a_resume_writes_it()
    {
        string whole = TempFile("whole.cx.json"), cx = TempFile("z3.cx.json");
        using var reference = ResultsStore.Open(TempFile("ref.db"));
        Explore(reference, false).Run(whole);

        using var store = ResultsStore.Open(TempFile("pv.db"));
        var session = Explore(store, false);
        // A directory where the file goes: writing the counterexample fails after minimising, as a kill there would stop it.
        Directory.CreateDirectory(cx);
        Assert.ThrowsAny<IOException>(() => session.Run(cx));
        Assert.DoesNotContain(store.Done(session.Key, "xen-pv").Values, r => r.Verdict != Verdict.Clean);

        Directory.Delete(cx);
        Explore(store, true).Run(cx);
        Assert.Equal(File.ReadAllText(whole), File.ReadAllText(cx));
    }

    [Fact]
    public async Task Two_identical_resumed_sessions_at_once_end_as_one_session_does()
    {
        using var reference = ResultsStore.Open(TempFile("ref.db"));
        string path = Zoo("z1-gup-fast-vs-munmap.pvl");
        var catalog = ZooTests.Catalog.Value;
        AbSession Ab(ResultsStore store) =>
            new(BoundScenario.Load(path, catalog, "xen-pv-2012"), BoundScenario.Load(path, catalog, "xen-pv"), 8, 10, catalog, store);
        var alone = Ab(reference).Run(resume: false);
        var searchAlone = ExploreOf(reference, false, 3 * SearchOptions.ChunkSize, "z1-gup-fast-vs-munmap-fixed.pvl").Run(TempFile("cx.json"));

        string db = TempFile("pv.db");
        using (ResultsStore.Open(db)) { }
        (AbResult, ExploreResult) Session()
        {
            using var store = ResultsStore.Open(db);
            return (Ab(store).Run(resume: true), ExploreOf(store, true, 3 * SearchOptions.ChunkSize, "z1-gup-fast-vs-munmap-fixed.pvl").Run(TempFile("cx.json")));
        }
        foreach (var (ab, search) in await Task.WhenAll(Task.Run(Session), Task.Run(Session)))
        {
            Assert.Equal(alone.A.Select(s => (s.Seed, s.Verdict)), ab.A.Select(s => (s.Seed, s.Verdict)));
            Assert.Equal(alone.B.Select(s => (s.Seed, s.Verdict)), ab.B.Select(s => (s.Seed, s.Verdict)));
            Assert.Equal(alone.Metrics.Select(m => (m.Name, m.MeanA, m.MeanB, m.Low, m.High)), ab.Metrics.Select(m => (m.Name, m.MeanA, m.MeanB, m.Low, m.High)));
            Assert.Equal((searchAlone.Verdict, searchAlone.Search.SchedulesRun), (search.Verdict, search.Search.SchedulesRun));
        }
        using var shared = ResultsStore.Open(db);
        // One row per unit and no claim left behind.
        Assert.Equal(2 * 8 + 3, shared.Recent(100).Count);
        using var raw = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = db, Pooling = false }.ToString());
        raw.Open();
        using var cmd = raw.CreateCommand();
        cmd.CommandText = "SELECT count(*) FROM claims";
        Assert.Equal(0L, cmd.ExecuteScalar());
    }
}
