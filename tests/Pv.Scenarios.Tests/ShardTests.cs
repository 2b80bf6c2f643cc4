// --shard K/N in the sessions: K/N is read strictly (anything else names the option); every unit belongs to
// exactly one shard; the shards of a search (Z10, whose first violation is in its second chunk, so later
// shards find violations past it) and of an A/B comparison, each on two workers, merged, store the rows of
// one unsharded run, and a resumed session on the merged store reports what the unsharded run reported; the
// shards of a soak together find what the unsharded soak finds.
using Pv.Engine;
using Pv.Scenarios.Running;
using Pv.Scenarios.Sessions;
using Pv.Scenarios.Soak;
using Pv.Scenarios.Store;
using static Pv.Scenarios.Tests.StoreTests;

namespace Pv.Scenarios.Tests;

public sealed class ShardTests
{
    private static string Zoo(string name) => Path.Combine(Fixtures.RepoRoot, "scenarios", "zoo", name);

    /// <summary>The rows of <paramref name="db"/> as a unit and its result, by unit (what a run computes, not when).</summary>
    private static string Rows(string db)
    {
        using var store = ResultsStore.OpenToRead(db);
        return string.Join('\n', store.Recent(int.MaxValue).OrderBy(r => r.Session, StringComparer.Ordinal).ThenBy(r => r.Backend, StringComparer.Ordinal).ThenBy(r => r.Seed)
            .Select(r => $"{r.Kind} {r.Session} {r.Scenario} {r.ScenarioHash} {r.Backend} {r.PluginVersion} {r.PluginSha256} {r.Seed} {r.Schedules} {r.Verdict.ToText()} " +
                string.Join(',', r.Metrics.Select(m => $"{m.Key}={m.Value}"))));
    }

    [Theory]
    [InlineData("0/1", 0, 1)]
    [InlineData("2/3", 2, 3)]
    [InlineData("15/16", 15, 16)]
    public void K_of_N_is_read(string text, int k, int n) => Assert.Equal(new Shard(k, n), Shard.Parse(text));

    [Theory]
    [InlineData("3/3", "--shard 3/3: K must be below N (the shards of 3 are 0 to 2)")]
    [InlineData("0/0", "--shard 0/0: N must be at least 1")]
    [InlineData("-1/3", "--shard -1/3: expected K/N, shard K of N with 0 <= K < N (e.g. 0/4)")]
    [InlineData("1", "--shard 1: expected K/N, shard K of N with 0 <= K < N (e.g. 0/4)")]
    [InlineData("1/2/3", "--shard 1/2/3: expected K/N, shard K of N with 0 <= K < N (e.g. 0/4)")]
    [InlineData(" 1/2", "--shard  1/2: expected K/N, shard K of N with 0 <= K < N (e.g. 0/4)")]
    [InlineData("", "--shard : expected K/N, shard K of N with 0 <= K < N (e.g. 0/4)")]
    public void Anything_else_is_bad_input_naming_the_option(string text, string message) =>
        Assert.Equal(message, Assert.Throws<PvInputException>(() => Shard.Parse(text)).Message);

    [Fact]
    public void Every_unit_belongs_to_exactly_one_shard()
    {
        var units = Enumerable.Range(0, 23).ToList();
        foreach (int n in new[] { 1, 2, 3, 7, 30 })
        {
            var shards = Enumerable.Range(0, n).Select(k => new Shard(k, n).Of(units)).ToList();
            Assert.Equal(units, shards.SelectMany(s => s).Order());
            Assert.All(shards, s => Assert.Equal(s.Order(), s));
        }
        Assert.Equal(units, Shard.All.Of(units));
    }

    [Fact]
    public void The_shards_of_a_search_merged_hold_the_rows_of_one_unsharded_search_and_resume_to_its_result()
    {
        var catalog = ZooTests.Catalog.Value;
        var bound = BoundScenario.Load(Zoo("z10-mremap-truncate-stale-tlb.pvl"), catalog);
        var options = SearchOptions.For(bound.Scenario, schedules: 10_000);
        ExploreResult Search(string db, Shard? shard, bool resume = false)
        {
            using var store = ResultsStore.Open(db);
            return new ExploreSession(bound, options, catalog, store, resume, jobs: 2, shard).Run(TempFile("cx.json"), minimise: false);
        }
        string single = TempFile("single.db");
        var whole = Search(single, null);
        var shards = Enumerable.Range(0, 3).Select(k => TempFile($"shard-{k}.db")).Select((db, k) => (Db: db, Result: Search(db, new Shard(k, 3)))).ToList();
        // Shard 0's chunks are 0, 3, 6, 9: it meets a violation of its own, past the search's first (chunk 1).
        Assert.All(shards, s => Assert.Equal(Verdict.O1, s.Result.Verdict));

        string merged = TempFile("merged.db");
        var r = StoreMerge.Merge(merged, [.. shards.Select(s => s.Db)]);
        Assert.True(r.PastViolation > 0, "no shard stored a row past the search's first violation: the test no longer covers it");
        Assert.Equal(Rows(single), Rows(merged));
        var resumed = Search(merged, null, resume: true);
        Assert.Equal((whole.Verdict, whole.Search.SchedulesRun), (resumed.Verdict, resumed.Search.SchedulesRun));
    }

    [Fact]
    public void A_shard_with_no_chunk_of_a_search_searches_nothing()
    {
        var catalog = ZooTests.Catalog.Value;
        var bound = BoundScenario.Load(Zoo("z1-gup-fast-vs-munmap.pvl"), catalog);
        using var store = ResultsStore.Open(TempFile("pv.db"));
        var session = new ExploreSession(bound, SearchOptions.For(bound.Scenario, schedules: 1500), catalog, store, false, shard: new Shard(2, 3));
        Assert.Equal((0, 0L), (session.Chunks.Count, session.Budget));
        var result = session.Run(TempFile("cx.json"));
        Assert.Equal((Verdict.Clean, 0L), (result.Verdict, result.Search.SchedulesRun));
        Assert.EndsWith(".shard-2-of-3.cx.json", session.DefaultCounterexampleFile);
    }

    [Fact]
    public void The_shards_of_an_ab_comparison_merged_give_the_unsharded_comparison()
    {
        var catalog = ZooTests.Catalog.Value;
        string path = Zoo("z1-gup-fast-vs-munmap.pvl");
        AbResult Compare(string db, Shard? shard, bool resume = false)
        {
            using var store = ResultsStore.Open(db);
            return new AbSession(BoundScenario.Load(path, catalog, "xen-pv-2012"), BoundScenario.Load(path, catalog, "xen-pv"), 7, 5, catalog, store, jobs: 2, shard).Run(resume);
        }
        static string Text(AbResult r) =>
            string.Join("; ", r.A.Concat(r.B).Select(x => $"{x.Seed} {x.Verdict.ToText()} {string.Join(',', x.Metrics.Select(m => $"{m.Key}={m.Value}"))}"))
            + " | " + string.Join("; ", r.Metrics.Select(m => $"{m.Name} {m.MeanA} {m.MeanB} {m.Low} {m.High}"));
        string single = TempFile("single.db");
        var whole = Compare(single, null);
        var shards = Enumerable.Range(0, 3).Select(k => TempFile($"shard-{k}.db")).ToList();
        for (int k = 0; k < 3; k++)
            Assert.Equal(new Shard(k, 3).Of(Enumerable.Range(0, 7).Select(s => (ulong)s)), Compare(shards[k], new Shard(k, 3)).A.Select(s => s.Seed));
        string merged = TempFile("merged.db");
        StoreMerge.Merge(merged, shards);
        Assert.Equal(Rows(single), Rows(merged));
        Assert.Equal(Text(whole), Text(Compare(merged, null, resume: true)));
    }
}
