// An explore session: one search of a scenario's interleavings on a backend (ScenarioRunner.Search) whose
// finished chunks are rows in the results store, committed as each finishes. A resumed session skips the
// chunks an interrupted one finished and ends with the same result an uninterrupted one gives: the same
// schedules counted, the same first violation, the same counterexample. A resumed session whose store
// already holds a violating chunk does not search again; it names that chunk. A violation is minimised
// (unless asked not to) and written as a counterexample file that `pv replay` reads.
using System.Diagnostics;
using Pv.Engine;
using Pv.Hosting;
using Pv.Scenarios.Running;
using Pv.Scenarios.Store;

namespace Pv.Scenarios.Sessions;

/// <summary>What an explore session found.</summary>
/// <param name="Search">The search; its schedules include the chunks a resumed session skipped.</param>
/// <param name="Found">The violation and its counterexample, or null when the whole budget stayed clean.</param>
/// <param name="CounterexampleFile">Where the counterexample was written, or null.</param>
public sealed record ExploreResult(SearchResult Search, FoundCounterexample? Found, string? CounterexampleFile)
{
    /// <summary>Clean, or the invariant the counterexample breaks.</summary>
    public Verdict Verdict => Found?.Counterexample.Invariant ?? Verdict.Clean;
}

/// <summary>One search of a bound scenario, stored chunk by chunk and resumable.</summary>
public sealed class ExploreSession
{
    private const string Kind = "explore";
    private readonly PluginCatalog _catalog;
    private readonly ResultsStore _store;
    private readonly IReadOnlyDictionary<ulong, StoredRun> _done;

    /// <summary>
    /// A search of <paramref name="bound"/> with <paramref name="options"/>, stored in <paramref name="store"/>; with
    /// <paramref name="resume"/>, the chunks the store holds for this same search (same scenario bytes, backend and
    /// options) are taken as done.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">A budget of no schedules.</exception>
    public ExploreSession(BoundScenario bound, SearchOptions options, PluginCatalog catalog, ResultsStore store, bool resume)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(options.Schedules, 1);
        (Bound, Options, _catalog, _store) = (bound, options, catalog, store);
        Key = StoredRuns.Session(Kind, bound.Scenario.Hash, bound.Backend.Name, options);
        _done = resume ? store.Done(Key, bound.Backend.Name) : new Dictionary<ulong, StoredRun>();
    }

    /// <summary>The scenario and backend searched.</summary>
    public BoundScenario Bound { get; }

    /// <summary>The search.</summary>
    public SearchOptions Options { get; }

    /// <summary>The session key of the stored rows: what was asked, so only the same search resumes them.</summary>
    public string Key { get; }

    /// <summary>The counterexample's file name when none is given: <c>NAME.BACKEND.cx.json</c>.</summary>
    public string DefaultCounterexampleFile => $"{Bound.Scenario.Name}.{Bound.Backend.Name}.cx.json";

    /// <summary>A stored chunk of this search that already found a violation (only when resuming), or null.</summary>
    public StoredRun? EarlierViolation => _done.Values.FirstOrDefault(r => r.Verdict != Verdict.Clean);

    /// <summary>
    /// Searches the chunks not yet done. On a violation, minimises it when <paramref name="minimise"/> and writes the
    /// counterexample to <paramref name="counterexampleFile"/>. <paramref name="progress"/> gets the schedules run so far.
    /// </summary>
    /// <exception cref="InvalidOperationException">The store already holds a violation of this search (<see cref="EarlierViolation"/>).</exception>
    public ExploreResult Run(string counterexampleFile, bool minimise = true, Action<long>? progress = null)
    {
        if (EarlierViolation is { } earlier)
            throw new InvalidOperationException($"this search already found {earlier.Verdict.ToText()} in the chunk from seed {earlier.Seed}");
        using var compiled = Bound.Compile(Options.Seed);
        var chunkClock = Stopwatch.StartNew();
        void ChunkDone(ulong first, long runs, RunResult? violation)
        {
            _store.Add(StoredRuns.Make(Kind, Key, Bound.Scenario, Bound.Backend, _catalog, first, runs, Verdicts.Of(violation?.Report?.Violation),
                new Dictionary<string, long>(), chunkClock.Elapsed));
            chunkClock.Restart();
        }

        var search = ScenarioRunner.Search(compiled, Options, progress, first => _done.ContainsKey(first), ChunkDone);
        if (search.Violation is not { } found) return new ExploreResult(search, null, null);
        var minimised = minimise ? ScenarioRunner.Minimise(Bound, Options.Seed, found) : null;
        var cx = FoundCounterexample.Assemble(Bound, Options.Seed, Options.Strategy, found, minimised);
        cx.Counterexample.Save(counterexampleFile);
        return new ExploreResult(search, cx, counterexampleFile);
    }
}
