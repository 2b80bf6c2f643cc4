// An explore session: one search of a scenario's interleavings on a backend whose chunks (SearchOptions.Chunks)
// are rows in the results store, settled in order through WorkLeases: a resumed session takes the chunks the
// store holds and a concurrent identical one waits for the chunk another is computing instead of computing it
// again, and either ends with the result one uninterrupted session gives: the same schedules counted, the same
// first violation, the same counterexample. A violation is minimised (unless asked not to) and written as a
// counterexample file that `pv replay` reads, before its chunk's row: a kill in between leaves no row and the
// chunk is searched again. With several worker threads (--jobs) the next chunks are searched at once and still
// settled in order, so the first violation, the counterexample and the rows are those of one worker. A resumed session whose store already holds the violation reports it when its
// counterexample file is there, and searches that one chunk again to write the file when it is not. A shard
// (--shard K/N) searches only its chunks, under the same session key, stopping at its own first violation: its
// rows are those one unsharded search writes for those chunks, and StoreMerge makes the union of the shards' rows
// the unsharded search's.
// A cancelled token (Ctrl-C) lets the chunks being searched finish and be stored, starts no other, and ends the
// run with OperationCanceledException: a resumed session then takes every chunk that finished.
using System.Diagnostics;
using Pv.Engine;
using Pv.Engine.Programs;
using Pv.Hosting;
using Pv.Scenarios.Litmus;
using Pv.Scenarios.Running;
using Pv.Scenarios.Store;

namespace Pv.Scenarios.Sessions;

/// <summary>What an explore session found.</summary>
/// <param name="Search">The search; its schedules include the chunks taken from the store.</param>
/// <param name="Found">The violation and its counterexample, or null when the whole budget stayed clean or the store already held it.</param>
/// <param name="CounterexampleFile">Where the counterexample is, or null when clean.</param>
/// <param name="Earlier">The stored chunk that already found the violation, when its counterexample file was there (nothing searched again).</param>
/// <param name="Outcomes">What the completed runs this session searched ended in (the scenario's outcomes, or <c>--outcomes</c>);
/// chunks taken from the store by <c>--resume</c> were not run again and are not counted. Null when nothing asked.</param>
public sealed record ExploreResult(SearchResult Search, FoundCounterexample? Found, string? CounterexampleFile, StoredRun? Earlier = null, OutcomeCounts? Outcomes = null)
{
    /// <summary>Clean, or the invariant the counterexample breaks.</summary>
    public Verdict Verdict => Found?.Counterexample.Invariant ?? Earlier?.Verdict ?? Verdict.Clean;
}

/// <summary>One search of a bound scenario, stored chunk by chunk, resumable and shared by concurrent identical sessions.</summary>
public sealed class ExploreSession
{
    private const string Kind = "explore";

    /// <summary>The counter a DFS chunk's row carries when it ran out of schedules within its bound (so a resumed search says so too).</summary>
    private const string ExhaustedMetric = "search.exhausted";

    private readonly PluginCatalog _catalog;
    private readonly ResultsStore _store;
    private readonly bool _resume;
    private readonly int _jobs;
    private readonly bool _outcomes;
    private long _settled;

    /// <summary>
    /// A search of <paramref name="bound"/> with <paramref name="options"/>, stored in <paramref name="store"/>; with
    /// <paramref name="resume"/>, the chunks the store holds for this same search (same scenario bytes, backend and
    /// options) are taken as done.
    /// </summary>
    /// <remarks>With <paramref name="shard"/>, only that shard's chunks are searched (the session key is the unsharded search's).</remarks>
    /// <exception cref="ArgumentOutOfRangeException">A budget of no schedules.</exception>
    /// <remarks>With <paramref name="outcomes"/>, every operation's outcome is logged and the final states counted (<see cref="ExploreResult.Outcomes"/>).</remarks>
    public ExploreSession(BoundScenario bound, SearchOptions options, PluginCatalog catalog, ResultsStore store, bool resume, int jobs = 1, Shard? shard = null, bool outcomes = false)
    {
        _outcomes = outcomes;
        ArgumentOutOfRangeException.ThrowIfLessThan(options.Schedules, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(jobs, 1);
        (Bound, Options, _catalog, _store, _resume, _jobs, Shard) = (bound, options, catalog, store, resume, jobs, shard ?? Shard.All);
        Key = StoredRuns.Session(Kind, bound.Scenario.Hash, bound.Backend.Name, options);
        Chunks = Shard.Of(options.Chunks());
    }

    /// <summary>The scenario and backend searched.</summary>
    public BoundScenario Bound { get; }

    /// <summary>The search.</summary>
    public SearchOptions Options { get; }

    /// <summary>The session key of the stored rows: what was asked, so only the same search resumes them.</summary>
    public string Key { get; }

    /// <summary>The shard of the search this session runs (<see cref="Shard.All"/>: the whole search).</summary>
    public Shard Shard { get; }

    /// <summary>The chunks this session searches (first seed, schedules), in search order: the shard's.</summary>
    public IReadOnlyList<(ulong First, long Size)> Chunks { get; }

    /// <summary>
    /// The schedules of the chunks <see cref="Run"/> has settled so far (stored, or taken from the store): what an interrupted
    /// run leaves done, without the chunk a stop at the next schedule cut short. Safe to read from any thread.
    /// </summary>
    public long SchedulesSettled => Interlocked.Read(ref _settled);

    /// <summary>The schedules of <see cref="Chunks"/>: this session's budget.</summary>
    public long Budget => Chunks.Sum(c => c.Size);

    /// <summary>
    /// The counterexample's file name when none is given: <c>NAME.BACKEND.cx.json</c>, for a shard
    /// <c>NAME.BACKEND.shard-K-of-N.cx.json</c> (shards sharing a folder each keep their own; only the lowest is the search's).
    /// </summary>
    public string DefaultCounterexampleFile =>
        $"{Bound.Scenario.Name}.{Bound.Backend.Name}{(Shard.IsAll ? "" : $".shard-{Shard.Index}-of-{Shard.Count}")}.cx.json";

    /// <summary>
    /// Searches the chunks not yet done. On a violation, minimises it when <paramref name="minimise"/> and writes the
    /// counterexample to <paramref name="counterexampleFile"/> before storing the chunk. <paramref name="progress"/> gets the
    /// schedules run so far (settled chunks, and the schedules of chunks being searched, every 256; from worker threads
    /// with several jobs, and not always increasing: a chunk past the first violation is dropped). Once
    /// <paramref name="cancel"/> is cancelled no further chunk is begun.
    /// </summary>
    /// <exception cref="PvInputException">The store holds a violation that searching its chunk again does not find (the
    /// backend changed under the same name), or the store cannot be written.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancel"/> was cancelled before the search ended: the
    /// chunks that finished are stored.</exception>
    public ExploreResult Run(string counterexampleFile, bool minimise = true, Action<long>? progress = null, CancellationToken cancel = default)
    {
        var clock = Stopwatch.StartNew();
        var chunks = Chunks.ToDictionary(c => c.First, c => c.Size);
        // One compiled scenario per worker thread: a compiled scenario builds one machine at a time.
        using var compiled = new ThreadLocal<CompiledScenario>(() => Bound.Compile(Options.Seed, outcomes: _outcomes), trackAllValues: true);
        using var leases = new WorkLeases(_store, Key, Bound.Backend.Name, _resume);
        FoundCounterexample? found = null;
        // Schedules of settled chunks (_settled: written by this thread only) and of chunks being searched (by every worker).
        long searching = 0;
        Interlocked.Exchange(ref _settled, 0);
        void Report() => progress!(SchedulesSettled + Interlocked.Read(ref searching));
        OutcomeCounts? outcomes = null;
        (Pv.Engine.Sched.ExploreResult Search, TimeSpan Elapsed, OutcomeCounts? Outcomes) Search(ulong first)
        {
            // Checked as a chunk begins: the chunks in flight finish (and are stored), no other starts.
            cancel.ThrowIfCancellationRequested();
            var chunkClock = Stopwatch.StartNew();
            long mine = 0;
            Action<long>? within = progress is null ? null : n =>
            {
                Interlocked.Add(ref searching, n - mine);
                mine = n;
                Report();
            };
            try
            {
                var c = compiled.Value!;
                c.Outcomes?.TakeCounts();   // a chunk counts its own runs only, whichever worker ran what before
                var r = ScenarioRunner.SearchChunk(c, Options, first, chunks[first], within);
                return (r, chunkClock.Elapsed, c.Outcomes?.TakeCounts());
            }
            finally
            {
                // The chunk's schedules now count when it settles (or not at all, past the first violation).
                Interlocked.Add(ref searching, -mine);
            }
        }
        StoredRun Finish(ulong first, (Pv.Engine.Sched.ExploreResult Search, TimeSpan Elapsed, OutcomeCounts? Outcomes) chunk)
        {
            var r = chunk.Search;
            // Settled chunks only, in order: the counts are those of one worker searching the chunks in turn.
            if (chunk.Outcomes is { } counts) (outcomes ??= new OutcomeCounts()).Merge(counts);
            // Chunks settle in order, so a violation here is the search's first: its file is written before its row.
            if (r.FirstViolation is { } v) found = Write(v, counterexampleFile, minimise);
            return StoredRuns.Make(Kind, Key, Bound.Scenario, Bound.Backend, _catalog, first, r.SchedulesRun, Verdicts.Of(r.FirstViolation?.Report?.Violation),
                r.Exhausted ? new Dictionary<string, long> { [ExhaustedMetric] = 1 } : new Dictionary<string, long>(), chunk.Elapsed);
        }
        IReadOnlyList<StoredRun> rows;
        try
        {
            rows = leases.Settle([.. chunks.Keys], Search, Finish, _jobs, inOrder: true, last: row => row.Verdict != Verdict.Clean,
                settled: row =>
                {
                    Interlocked.Add(ref _settled, row.Schedules);
                    if (progress is not null) Report();
                });
        }
        finally
        {
            foreach (var c in compiled.Values) c.Dispose();
        }
        // A shard with no chunk of this search (N above the number of chunks) has nothing to search.
        if (rows.Count == 0) return new ExploreResult(new SearchResult(0, null, false, clock.Elapsed), null, null, Outcomes: outcomes);
        var last = rows[^1];
        long schedules = rows.Sum(r => r.Schedules);
        if (last.Verdict == Verdict.Clean)
            return new ExploreResult(new SearchResult(schedules, null, last.Metrics.ContainsKey(ExhaustedMetric), clock.Elapsed), null, null, Outcomes: outcomes);
        if (found is null && Holds(counterexampleFile, last.Verdict))
            return new ExploreResult(new SearchResult(schedules, null, false, clock.Elapsed), null, counterexampleFile, last, outcomes);
        if (found is null)
        {
            using var again = Bound.Compile(Options.Seed);
            found = Recreate(again, last, chunks[last.Seed], counterexampleFile, minimise);
        }
        return new ExploreResult(new SearchResult(schedules, found.Found, false, clock.Elapsed), found, counterexampleFile, Outcomes: outcomes);
    }

    /// <summary>Minimises <paramref name="violation"/> when asked and writes its counterexample to <paramref name="file"/>.</summary>
    private FoundCounterexample Write(RunResult violation, string file, bool minimise)
    {
        var minimised = minimise ? ScenarioRunner.Minimise(Bound, Options.Seed, violation) : null;
        var cx = FoundCounterexample.Assemble(Bound, Options.Seed, Options.Strategy, violation, minimised);
        cx.Counterexample.Save(file);
        return cx;
    }

    /// <summary>Whether <paramref name="file"/> is a counterexample of this search breaking <paramref name="invariant"/>.</summary>
    private bool Holds(string file, Verdict invariant)
    {
        if (!File.Exists(file)) return false;
        try
        {
            var cx = Counterexample.Load(file);
            return (cx.ScenarioHash, cx.Backend, cx.Seed, cx.Strategy, cx.Invariant) ==
                (Bound.Scenario.Hash, Bound.Backend.Name, Options.Seed, Options.Strategy, invariant);
        }
        catch (PvInputException)
        {
            // Not a counterexample (cut short by an older Pv, edited): written again.
            return false;
        }
    }

    /// <summary>Searches the stored violating chunk <paramref name="row"/> again (runs are deterministic) to write its missing counterexample.</summary>
    private FoundCounterexample Recreate(CompiledScenario compiled, StoredRun row, long size, string file, bool minimise)
    {
        var r = ScenarioRunner.SearchChunk(compiled, Options, row.Seed, size);
        if (r.FirstViolation is not { } v || Verdicts.Of(v.Report?.Violation) != row.Verdict)
            throw new PvInputException($"results store {_store.Path}: the chunk from seed {row.Seed} is stored as {row.Verdict.ToText()} but searching it again finds " +
                $"{Verdicts.Of(r.FirstViolation?.Report?.Violation).ToText()} (the backend changed under the same name?); run without --resume to search again");
        return Write(v, file, minimise);
    }
}
