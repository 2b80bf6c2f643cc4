// StoreMerge on stores written row by row: merging again, or into a store that has the rows, changes nothing;
// the result does not depend on the order of the inputs; rows of a search past its first violating chunk (in
// search order, across the wrap of 64-bit seeds) are left out and deleted; a file that is not a results store,
// a newer schema, and stores that disagree on a session or a unit are refused with nothing written; an
// unreadable input row is skipped and listed.
using Microsoft.Data.Sqlite;
using Pv.Engine;
using Pv.Scenarios.Running;
using Pv.Scenarios.Store;
using static Pv.Scenarios.Tests.StoreTests;

namespace Pv.Scenarios.Tests;

public sealed class StoreMergeTests
{
    private static string StoreWith(params StoredRun[] rows)
    {
        string db = TempFile("pv.db");
        using var store = ResultsStore.Open(db);
        foreach (var row in rows) store.Put(row);
        return db;
    }

    /// <summary>Every column of every row, in id order: what `pv history` shows and more.</summary>
    internal static string Dump(string db)
    {
        using var raw = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = db, Mode = SqliteOpenMode.ReadOnly, Pooling = false }.ToString());
        raw.Open();
        using var cmd = raw.CreateCommand();
        cmd.CommandText = "SELECT * FROM runs ORDER BY id";
        using var r = cmd.ExecuteReader();
        var lines = new List<string>();
        while (r.Read()) lines.Add(string.Join('|', Enumerable.Range(0, r.FieldCount).Select(r.GetValue)));
        return string.Join('\n', lines);
    }

    private static StoredRun Chunk(ulong seed, Verdict verdict = Verdict.Clean, string at = "2025-01-01T00:00:00Z") =>
        Row(seed, "search") with { Kind = "explore", Verdict = verdict, FinishedAt = at, Metrics = new Dictionary<string, long>() };

    [Fact]
    public void Merging_the_same_stores_again_or_into_a_store_that_has_their_rows_changes_nothing()
    {
        string a = StoreWith(Row(0), Row(2)), b = StoreWith(Row(1), Row(3));
        string merged = TempFile("merged.db");
        var first = StoreMerge.Merge(merged, [a, b]);
        Assert.Equal((4, 4, 0, 0), (first.Read, first.Added, first.AlreadyThere, first.PastViolation));
        string once = Dump(merged);
        var again = StoreMerge.Merge(merged, [a, b, a]);
        Assert.Equal((6, 0, 6), (again.Read, again.Added, again.AlreadyThere));
        Assert.Equal(once, Dump(merged));
        // A shard's own store as the output: only the other shard's rows are added.
        Assert.Equal(2, StoreMerge.Merge(a, [b]).Added);
        Assert.Equal(once.Split('\n').Select(l => l[(l.IndexOf('|') + 1)..]).Order(), Dump(a).Split('\n').Select(l => l[(l.IndexOf('|') + 1)..]).Order());
    }

    [Fact]
    public void The_merged_store_does_not_depend_on_the_order_of_the_inputs()
    {
        // The same unit in two stores, finished at different times: the earlier copy is taken, whichever is named first.
        string a = StoreWith(Row(0) with { FinishedAt = "2025-01-03T00:00:00Z" }, Row(1) with { FinishedAt = "2025-01-01T00:00:00Z" });
        string b = StoreWith(Row(0) with { FinishedAt = "2025-01-02T00:00:00Z" }, Row(2) with { FinishedAt = "2025-01-02T00:00:00Z" });
        string ab = TempFile("ab.db"), ba = TempFile("ba.db");
        StoreMerge.Merge(ab, [a, b]);
        StoreMerge.Merge(ba, [b, a]);
        Assert.Equal(Dump(ab), Dump(ba));
        // Added in order of finishing: seed 1, then seeds 0 and 2 (same time: by unit).
        using var store = ResultsStore.OpenToRead(ab);
        Assert.Equal([(2UL, "2025-01-02T00:00:00Z"), (0UL, "2025-01-02T00:00:00Z"), (1UL, "2025-01-01T00:00:00Z")], store.Recent(10).Select(r => (r.Seed, r.FinishedAt)));
    }

    [Fact]
    public void Rows_past_a_search_s_first_violating_chunk_are_left_out_and_deleted_in_search_order_across_the_seed_wrap()
    {
        // A search from seed 2^64 - 2000: its chunks are 2^64 - 2000, 2^64 - 1000, 0, 1000, 2000 (the seeds wrap).
        const ulong Start = ulong.MaxValue - 1999;
        string shard0 = StoreWith(Chunk(Start), Chunk(1000, Verdict.O1));
        string shard1 = StoreWith(Chunk(Start + 1000), Chunk(2000, Verdict.O2));
        string shard2 = StoreWith(Chunk(0, Verdict.O1));
        // The output already holds shard 0's rows, one of them past the first violation (chunk 0).
        string merged = TempFile("merged.db");
        StoreMerge.Merge(merged, [shard0]);
        var r = StoreMerge.Merge(merged, [shard1, shard2]);
        Assert.Equal(2, r.PastViolation);
        using var store = ResultsStore.OpenToRead(merged);
        Assert.Equal([(Start, Verdict.Clean), (Start + 1000, Verdict.Clean), (0UL, Verdict.O1)],
            store.Recent(10).OrderBy(x => x.Seed - Start).Select(x => (x.Seed, x.Verdict)));
        // Other kinds have no first violation: every ab seed is kept.
        string ab = TempFile("ab.db");
        StoreMerge.Merge(ab, [StoreWith(Row(0) with { Verdict = Verdict.O2 }, Row(1))]);
        using var abStore = ResultsStore.OpenToRead(ab);
        Assert.Equal(2, abStore.Recent(10).Count);
    }

    [Fact]
    public void A_file_that_is_not_a_results_store_is_refused_and_nothing_is_written()
    {
        string good = StoreWith(Row(0));
        string text = Fixtures.WriteFile("text.db", new string('x', 4096));
        string other = TempFile("other.db");
        Directory.CreateDirectory(Path.GetDirectoryName(other)!);
        Sql(other, "CREATE TABLE t (x INTEGER)");
        string newer = StoreWith(Row(1));
        Sql(newer, "PRAGMA user_version = 99");
        string missing = TempFile("missing.db");
        foreach (var (input, message) in new[]
        {
            (text, $"results store {text}: SQLite Error 26: 'file is not a database'."),
            (other, $"results store {other}: not a results store (no runs table)"),
            (newer, $"results store {newer}: schema version 99, written by a newer Pv (this one merges up to 1)"),
            (missing, $"no results store at {missing}"),
        })
        {
            string output = TempFile("out.db");
            Assert.Equal(message, Assert.Throws<PvInputException>(() => StoreMerge.Merge(output, [good, input])).Message);
            Assert.False(File.Exists(output));
        }
    }

    [Fact]
    public void Stores_that_disagree_on_a_session_or_a_unit_are_refused_naming_both_and_the_output_is_left_as_it_was()
    {
        string a = StoreWith(Row(0), Row(1));
        string output = TempFile("out.db");
        StoreMerge.Merge(output, [a]);
        string before = Dump(output);
        foreach (var (other, message) in new[]
        {
            (Row(2) with { PluginSha256 = "ff" }, "ab session s (x.pvl on xen-pv): plugin 1.0 SHA-256 ff, but {0} ran it with plugin 1.0 SHA-256 (none); merge refused"),
            (Row(2) with { ScenarioHash = "h2" }, "ab session s (x.pvl on xen-pv): ab of scenario SHA-256 h2, but {0} has ab of h"),
            (Row(1) with { Schedules = 6 }, "ab session s (x.pvl on xen-pv), seed 1: clean in 6 schedules, metrics m=1, but {0} has clean in 5 schedules, metrics m=1 for the same unit"),
        })
        {
            string b = StoreWith(other);
            var e = Assert.Throws<PvInputException>(() => StoreMerge.Merge(output, [b]));
            Assert.StartsWith($"results store {b}: " + string.Format(message, output), e.Message);
            Assert.Equal(before, Dump(output));
        }
    }

    [Fact]
    public void An_unreadable_input_row_is_skipped_and_listed()
    {
        string a = StoreWith(Row(0), Row(1));
        Sql(a, "UPDATE runs SET verdict = 'exploded' WHERE seed = 1");
        string output = TempFile("out.db");
        var r = StoreMerge.Merge(output, [a]);
        Assert.Equal([$"results store {a}: row 2: unknown verdict 'exploded' (written by a newer Pv?); skipped"], r.Skipped);
        Assert.Equal(1, r.Added);
    }
}
