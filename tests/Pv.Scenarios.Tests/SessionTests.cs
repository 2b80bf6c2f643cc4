// The sessions the `pv` commands call, on zoo files and the repository's plugins.json: an explore or A/B session
// interrupted (an exception out of its progress callback, as a kill leaves it: the rows committed so far) and
// resumed ends as an uninterrupted one does; a resumed search that already found a violation says so instead of
// searching; the counterexample a session writes replays to the same violation; one `pv run` stores one row; a
// search or a comparison on 1, 2 or 4 worker threads gives the same result and the same rows.
using Pv.Scenarios.Running;
using Pv.Scenarios.Sessions;
using Pv.Scenarios.Store;

namespace Pv.Scenarios.Tests;

public sealed class SessionTests
{
    private sealed class Interrupted : Exception;

    private static string Zoo(string name) => Path.Combine(Fixtures.RepoRoot, "scenarios", "zoo", name);

    private static string TempFile(string name)
    {
        string folder = Path.Combine(Path.GetTempPath(), "pv-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(folder);
        return Path.Combine(folder, name);
    }

    private static ResultsStore Store() => ResultsStore.Open(TempFile("pv.db"));

    private static ExploreSession Explore(string file, ResultsStore store, bool resume, long schedules) =>
        Explore(BoundScenario.Load(Zoo(file), ZooTests.Catalog.Value), store, resume, schedules);

    private static ExploreSession Explore(BoundScenario bound, ResultsStore store, bool resume, long schedules) =>
        new(bound, SearchOptions.For(bound.Scenario, schedules: schedules), ZooTests.Catalog.Value, store, resume);

    [Fact]
    public void A_search_on_several_workers_finds_the_same_first_violation_and_stores_the_same_rows()
    {
        // Z10's first violation is in the second chunk: with 4 workers chunks 0-3 are searched at once, and 2 and 3,
        // past the violation, leave no row, as one worker never reaches them.
        var runs = new[] { 1, 2, 4 }.Select(jobs =>
        {
            using var store = Store();
            var bound = BoundScenario.Load(Zoo("z10-mremap-truncate-stale-tlb.pvl"), ZooTests.Catalog.Value);
            var session = new ExploreSession(bound, SearchOptions.For(bound.Scenario, schedules: 10_000), ZooTests.Catalog.Value, store, false, jobs);
            string cx = TempFile("cx.json");
            var result = session.Run(cx, minimise: false);
            return (result.Verdict, result.Search.SchedulesRun, Schedule: string.Join(' ', Counterexample.Load(cx).Schedule),
                Rows: string.Join(' ', store.Done(session.Key, bound.Backend.Name).Values.OrderBy(r => r.Seed).Select(r => $"{r.Seed}:{r.Schedules}:{r.Verdict.ToText()}")));
        }).ToList();
        Assert.Equal(Verdict.O1, runs[0].Verdict);
        Assert.True(runs[0].SchedulesRun > SearchOptions.ChunkSize, $"the violation is in chunk 0 ({runs[0].SchedulesRun}): the test no longer crosses a batch");
        Assert.Equal("0:1000:clean 1000:" + (runs[0].SchedulesRun - 1000) + ":O1", runs[0].Rows);
        Assert.Equal(runs[0], runs[1]);
        Assert.Equal(runs[0], runs[2]);
    }

    [Fact]
    public void An_ab_comparison_on_several_workers_gives_the_same_seeds_and_metrics()
    {
        var runs = new[] { 1, 2, 4 }.Select(jobs =>
        {
            using var store = Store();
            var catalog = ZooTests.Catalog.Value;
            string path = Zoo("z1-gup-fast-vs-munmap.pvl");
            var r = new AbSession(BoundScenario.Load(path, catalog, "xen-pv-2012"), BoundScenario.Load(path, catalog, "xen-pv"), 6, 5, catalog, store, jobs).Run(false);
            return string.Join("; ", r.A.Concat(r.B).Select(x => $"{x.Seed} {x.Verdict.ToText()} {string.Join(',', x.Metrics.OrderBy(m => m.Key).Select(m => $"{m.Key}={m.Value}"))}"))
                + " | " + string.Join("; ", r.Metrics.Select(m => $"{m.Name} {m.MeanA} {m.MeanB}"));
        }).ToList();
        Assert.Equal(runs[0], runs[1]);
        Assert.Equal(runs[0], runs[2]);
    }

    [Fact]
    public void A_clean_search_interrupted_after_a_chunk_and_resumed_ends_as_an_uninterrupted_one()
    {
        const long budget = 2 * SearchOptions.ChunkSize + 500;
        using var whole = Store();
        var uninterrupted = Explore("z1-gup-fast-vs-munmap-fixed.pvl", whole, false, budget).Run(TempFile("cx.json"));

        using var store = Store();
        // Progress past the first chunk: that chunk is stored, the second is cut short.
        Assert.Throws<Interrupted>(() => Explore("z1-gup-fast-vs-munmap-fixed.pvl", store, false, budget)
            .Run(TempFile("cx.json"), progress: n => { if (n > SearchOptions.ChunkSize) throw new Interrupted(); }));
        var resumedSession = Explore("z1-gup-fast-vs-munmap-fixed.pvl", store, true, budget);
        Assert.Equal([0UL], store.Done(resumedSession.Key, "xen-pv").Keys);
        var resumed = resumedSession.Run(TempFile("cx.json"));

        Assert.Equal((Verdict.Clean, budget), (uninterrupted.Verdict, uninterrupted.Search.SchedulesRun));
        Assert.Equal((uninterrupted.Verdict, uninterrupted.Search.SchedulesRun), (resumed.Verdict, resumed.Search.SchedulesRun));
        Assert.Equal([0UL, 1000UL, 2000UL], store.Done(resumedSession.Key, "xen-pv").Keys.Order());
    }

    [Fact]
    public void A_violating_search_interrupted_and_resumed_writes_the_same_counterexample_which_replays()
    {
        using var whole = Store();
        string first = TempFile("first.cx.json"), second = TempFile("second.cx.json");
        var uninterrupted = Explore("z3-pfnmap-unmap-mapping-range.pvl", whole, false, 10_000).Run(first);

        using var store = Store();
        Assert.Throws<Interrupted>(() => Explore("z3-pfnmap-unmap-mapping-range.pvl", store, false, 10_000)
            .Run(TempFile("cx.json"), progress: _ => throw new Interrupted()));
        var resumed = Explore("z3-pfnmap-unmap-mapping-range.pvl", store, true, 10_000).Run(second);

        Assert.Equal(Verdict.O4, uninterrupted.Verdict);
        Assert.Equal(uninterrupted.Search.SchedulesRun, resumed.Search.SchedulesRun);
        Assert.Equal(File.ReadAllText(first), File.ReadAllText(second));
        var cx = Counterexample.Load(second);
        Assert.Equal(Verdict.O4, cx.Invariant);
        var replay = CounterexampleReplay.Run(cx, ZooTests.Catalog.Value);
        Assert.Equal(Verdict.O4, replay.Verdict);
        Assert.Equal(cx.Violation, replay.Result.Report!.Violation.ToString());
    }

    [Fact]
    public void A_resumed_search_that_already_found_a_violation_names_it_and_does_not_search()
    {
        using var store = Store();
        string cx = TempFile("cx.json");
        Explore("z1-gup-fast-vs-munmap.pvl", store, false, 100).Run(cx, minimise: false);
        var again = Explore("z1-gup-fast-vs-munmap.pvl", store, true, 100).Run(cx, minimise: false);
        Assert.Equal((Verdict.O2, 0UL, cx), (again.Earlier!.Verdict, again.Earlier.Seed, again.CounterexampleFile));
        Assert.Null(again.Found);
        // Another budget is another search: nothing of it is stored, so it searches.
        Assert.NotNull(Explore("z1-gup-fast-vs-munmap.pvl", store, true, 200).Run(TempFile("cx.json"), minimise: false).Found);
    }

    [Fact]
    public void An_unminimised_counterexample_is_the_violation_as_found()
    {
        using var store = Store();
        var r = Explore("z1-gup-fast-vs-munmap.pvl", store, false, 100).Run(TempFile("cx.json"), minimise: false);
        Assert.Null(r.Found!.Minimised);
        Assert.Equal(r.Found.Found.Schedule, r.Found.Counterexample.Schedule);
        Assert.Empty(r.Found.Counterexample.OmitThreads);
        Assert.Equal("threads [], operations []", r.Found.Counterexample.OmittedText);
    }

    private static AbSession Ab(ResultsStore store)
    {
        string path = Zoo("z1-gup-fast-vs-munmap.pvl");
        var catalog = ZooTests.Catalog.Value;
        return new AbSession(BoundScenario.Load(path, catalog, "xen-pv-2012"), BoundScenario.Load(path, catalog, "xen-pv"), 4, 5, catalog, store);
    }

    [Fact]
    public void An_ab_session_interrupted_and_resumed_gives_the_verdicts_and_metrics_of_an_uninterrupted_one()
    {
        using var whole = Store();
        var uninterrupted = Ab(whole).Run(resume: false);

        using var store = Store();
        Assert.Throws<Interrupted>(() => Ab(store).Run(false, (done, _) => { if (done == 3) throw new Interrupted(); }));
        Assert.Equal(3, store.Recent(100).Count);
        var session = Ab(store);
        var resumed = session.Run(resume: true);

        // Only the five seeds missing ran again.
        Assert.Equal(8, store.Recent(100).Count);
        Assert.Equal(4, store.Done(session.Key, "xen-pv-2012").Count);
        Assert.Equal(4, store.Done(session.Key, "xen-pv").Count);
        Assert.Equal(uninterrupted.A.Select(s => s.Verdict), resumed.A.Select(s => s.Verdict));
        Assert.Equal(uninterrupted.B.Select(s => s.Verdict), resumed.B.Select(s => s.Verdict));
        Assert.Equal((AbResult.Summary(uninterrupted.A), AbResult.Summary(uninterrupted.B)), (AbResult.Summary(resumed.A), AbResult.Summary(resumed.B)));
        Assert.True(resumed.FoundViolation);
        Assert.Equal(uninterrupted.Metrics.Select(m => m.Name), resumed.Metrics.Select(m => m.Name));
        // Reused seeds come back from the store in thousandths.
        foreach (var (u, r) in uninterrupted.Metrics.Zip(resumed.Metrics))
        {
            Assert.Equal(u.MeanA, r.MeanA, 0.001);
            Assert.Equal(u.MeanB, r.MeanB, 0.001);
        }
    }

    [Fact]
    public void An_ab_session_refuses_fewer_than_two_seeds()
    {
        using var store = Store();
        string path = Zoo("z1-gup-fast-vs-munmap.pvl");
        var bound = BoundScenario.Load(path, ZooTests.Catalog.Value);
        Assert.Throws<ArgumentOutOfRangeException>(() => new AbSession(bound, bound, 1, 5, ZooTests.Catalog.Value, store));
    }

    [Fact]
    public void A_single_run_stores_one_row_with_its_verdict()
    {
        using var store = Store();
        var bound = BoundScenario.Load(Zoo("z1-gup-fast-vs-munmap-fixed.pvl"), ZooTests.Catalog.Value);
        var run = SingleRun.Run(bound, null, ZooTests.Catalog.Value, store);
        Assert.Equal(Verdict.Clean, run.Verdict);
        var row = Assert.Single(store.Recent(10));
        Assert.Equal(("run", Verdict.Clean, "xen-pv", 1L), (row.Kind, row.Verdict, row.Backend, row.Schedules));
        Assert.Equal(run.Metrics, row.Metrics);
    }
}
