// The token the first Ctrl-C cancels, honoured between units of work: an explore session cancelled mid-search on 1
// or 2 workers finishes the chunks it began, stores them (a prefix of the search, counted by SchedulesSettled) and
// starts no other, and resumed it ends as an uninterrupted search does; the worker pool begins its items strictly in
// order, so what ran before a cancellation is a prefix; ab, zoo and soak cancelled before they start run nothing.
using System.Collections.Concurrent;
using Pv.Scenarios.Running;
using Pv.Scenarios.Sessions;
using Pv.Scenarios.Soak;
using Pv.Scenarios.Store;

namespace Pv.Scenarios.Tests;

public sealed class CancellationTests
{
    private static string Zoo(string name) => Path.Combine(Fixtures.RepoRoot, "scenarios", "zoo", name);

    private static string TempFile(string name)
    {
        string folder = Path.Combine(Path.GetTempPath(), "pv-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(folder);
        return Path.Combine(folder, name);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void A_cancelled_search_stores_the_chunks_it_began_and_resumed_ends_as_an_uninterrupted_one(int jobs)
    {
        var catalog = ZooTests.Catalog.Value;
        var bound = BoundScenario.Load(Zoo("z1-gup-fast-vs-munmap-fixed.pvl"), catalog);
        var options = SearchOptions.For(bound.Scenario, schedules: 12_000);
        using var store = ResultsStore.Open(TempFile("pv.db"));
        var session = new ExploreSession(bound, options, catalog, store, resume: false, jobs);
        using var interrupt = new CancellationTokenSource();
        // Ctrl-C as soon as a chunk's worth of schedules has run.
        Assert.Throws<OperationCanceledException>(() =>
            session.Run(TempFile("cx.json"), minimise: false, done => { if (done >= SearchOptions.ChunkSize) interrupt.Cancel(); }, interrupt.Token));

        var rows = store.Done(session.Key, bound.Backend.Name).Keys.Order().ToList();
        Assert.NotEmpty(rows);
        Assert.True(rows.Count < 12, $"{rows.Count} chunks stored: the search was not stopped");
        // The chunks begun are the first ones, each finished and stored: what SchedulesSettled counts.
        Assert.Equal(options.Chunks().Take(rows.Count).Select(c => c.First), rows);
        Assert.Equal(rows.Count * (long)SearchOptions.ChunkSize, session.SchedulesSettled);

        var resumed = new ExploreSession(bound, options, catalog, store, resume: true, jobs).Run(TempFile("cx.json"), minimise: false);
        using var fresh = ResultsStore.Open(TempFile("pv.db"));
        var whole = new ExploreSession(bound, options, catalog, fresh, resume: false, jobs).Run(TempFile("cx.json"), minimise: false);
        Assert.Equal((whole.Verdict, whole.Search.SchedulesRun, whole.Search.Exhausted), (resumed.Verdict, resumed.Search.SchedulesRun, resumed.Search.Exhausted));
        Assert.Equal(12, store.Done(session.Key, bound.Backend.Name).Count);
    }

    [Fact]
    public void Workers_begin_their_items_in_order_so_what_ran_before_a_cancellation_is_a_prefix()
    {
        using var interrupt = new CancellationTokenSource();
        var ran = new ConcurrentBag<int>();
        var outcomes = Workers.Attempt(Enumerable.Range(0, 200).ToList(), 4, i =>
        {
            if (i == 20) interrupt.Cancel();
            Thread.Sleep(1);
            ran.Add(i);
            return i;
        }, interrupt.Token);
        int count = ran.Count;
        // Item 20 and those the three other workers held when it cancelled.
        Assert.InRange(count, 21, 24);
        Assert.Equal(Enumerable.Range(0, count), ran.Order());
        Assert.All(outcomes.Skip(count), o => Assert.IsType<OperationCanceledException>(o.Failure!.SourceException));
    }

    [Fact]
    public void Ab_zoo_and_soak_cancelled_before_they_start_run_nothing()
    {
        var catalog = ZooTests.Catalog.Value;
        var cancelled = new CancellationToken(canceled: true);
        string path = Zoo("z1-gup-fast-vs-munmap.pvl");
        using var store = ResultsStore.Open(TempFile("pv.db"));
        var ab = new AbSession(BoundScenario.Load(path, catalog, "xen-pv-2012"), BoundScenario.Load(path, catalog, "xen-pv"), 4, 5, catalog, store);
        Assert.Throws<OperationCanceledException>(() => ab.Run(resume: false, cancel: cancelled));
        Assert.Empty(store.Done(ab.Key, "xen-pv-2012"));

        int reported = 0;
        Assert.Throws<OperationCanceledException>(() => Running.Zoo.RunAll([path], catalog, entriesDone: (_, _) => reported++, cancel: cancelled));
        string findings = TempFile("soak");
        var plan = SoakRunner.Validate(new SoakOptions(2, 10, 0, ["x86-native"], [], findings), catalog);
        Assert.Throws<OperationCanceledException>(() => SoakRunner.Run(plan, (_, _) => reported++, cancel: cancelled));
        Assert.Equal(0, reported);
    }
}
