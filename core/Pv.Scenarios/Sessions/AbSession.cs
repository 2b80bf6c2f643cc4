// An A/B session: the same scenario (or workload) and the same seeds on two backends (AbComparison.RunSeed per
// side and seed), each (backend, seed) a row in the results store, settled through WorkLeases: a resumed session
// reuses the rows of the same comparison (scenario bytes, both backends, seeds, schedules) and runs only the seeds
// missing, and concurrent identical resumed sessions split the seeds between them (each computed once). Every
// seed's metrics are taken at the store's precision (thousandths), computed here or not, so an interrupted,
// resumed or shared comparison gives exactly what an uninterrupted one gives, and so does one whose seeds run on
// several worker threads (--jobs). A plugin fault on one side stops that side only. A shard (--shard K/N) runs
// only its seeds, on both sides, under the same session key: its rows are those the unsharded comparison writes
// for those seeds, so the shards' stores merged hold the whole comparison. The same rows give the same comparison
// again later (FromRows: what `pv report` renders from the store).
// A cancelled token (Ctrl-C) lets the seeds being run finish and be stored, starts no other, and ends the run with
// OperationCanceledException: a resumed session then takes every seed that finished.
using System.Diagnostics;
using Pv.Engine;
using Pv.Hosting;
using Pv.Hosting.Composition;
using Pv.Scenarios.Running;
using Pv.Scenarios.Store;

namespace Pv.Scenarios.Sessions;

/// <summary>One A/B comparison, stored seed by seed and resumable.</summary>
public sealed class AbSession
{
    private const string Kind = "ab";

    /// <summary>Metric means are stored as integers in thousandths: a stored value divided by this is the mean per run.</summary>
    public const double StoreScale = 1000.0;

    private readonly PluginCatalog _catalog;
    private readonly ResultsStore _store;
    private readonly int _jobs;

    /// <summary>A comparison of <paramref name="a"/> (the baseline) and <paramref name="b"/>, stored in <paramref name="store"/>.</summary>
    /// <remarks>With <paramref name="shard"/>, only that shard's seeds are run (the session key is the unsharded comparison's).</remarks>
    /// <exception cref="ArgumentOutOfRangeException">Fewer than 2 seeds (no interval over seeds) or no schedules.</exception>
    public AbSession(BoundScenario a, BoundScenario b, int seeds, int schedules, PluginCatalog catalog, ResultsStore store, int jobs = 1, Shard? shard = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(seeds, 2);
        ArgumentOutOfRangeException.ThrowIfLessThan(schedules, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(jobs, 1);
        (A, B, Seeds, Schedules, _catalog, _store, _jobs, Shard) = (a, b, seeds, schedules, catalog, store, jobs, shard ?? Shard.All);
        Key = StoredRuns.Session(Kind, a.Scenario.Hash, a.Backend.Name, b.Backend.Name, seeds, schedules);
        SeedsRun = Shard.Of(Enumerable.Range(0, seeds).Select(s => (ulong)s));
    }

    /// <summary>Side A, the baseline.</summary>
    public BoundScenario A { get; }

    /// <summary>Side B.</summary>
    public BoundScenario B { get; }

    /// <summary>Seeds per side.</summary>
    public int Seeds { get; }

    /// <summary>PCT schedules per seed.</summary>
    public int Schedules { get; }

    /// <summary>The session key of the stored rows.</summary>
    public string Key { get; }

    /// <summary>The shard of the comparison this session runs (<see cref="Shard.All"/>: the whole comparison).</summary>
    public Shard Shard { get; }

    /// <summary>The seeds this session runs on each side, in order: the shard's.</summary>
    public IReadOnlyList<ulong> SeedsRun { get; }

    /// <summary>
    /// Runs every seed of <see cref="SeedsRun"/> on both sides (with <paramref name="resume"/>, only those the store does
    /// not hold for this comparison) and compares them. <paramref name="seedsDone"/> gets the number of (side, seed) pairs done so far
    /// and how many of them found something other than clean (what <see cref="AbResult.FoundViolation"/> counts).
    /// A plugin fault stops its side at the seed that faulted (the same seed faults again: runs are deterministic) and
    /// is returned with the seeds that side finished; the other side still runs every seed. Once <paramref name="cancel"/>
    /// is cancelled no further seed is begun.
    /// </summary>
    /// <exception cref="OperationCanceledException"><paramref name="cancel"/> was cancelled before the comparison ended: the
    /// seeds that finished are stored.</exception>
    public AbResult Run(bool resume, Action<int, int>? seedsDone = null, CancellationToken cancel = default)
    {
        var sides = new[] { A, B };
        var results = new List<SeedResult>[2];
        var faults = new PluginFaultException?[2];
        int count = 0, found = 0;
        var seeds = SeedsRun;
        for (int side = 0; side < 2; side++)
        {
            var bound = sides[side];
            var rows = new SortedDictionary<ulong, StoredRun>();
            using var leases = new WorkLeases(_store, Key, bound.Backend.Name, resume);
            try
            {
                leases.Settle(seeds, seed =>
                {
                    // Checked as a seed begins: the seeds in flight finish (and are stored), no other starts.
                    cancel.ThrowIfCancellationRequested();
                    return RunSeed(bound, seed);
                }, (_, row) => row, _jobs, inOrder: false, settled: row =>
                {
                    rows[row.Seed] = row;
                    if (row.Verdict != Verdict.Clean) found++;
                    seedsDone?.Invoke(++count, found);
                });
            }
            catch (PluginFaultException fault)
            {
                // The same seed faults again (runs are deterministic): the side keeps the seeds before it.
                faults[side] = fault;
                count += seeds.Count - rows.Count;
                seedsDone?.Invoke(count, found);
            }
            results[side] = [.. Prefix(rows.Values, seeds)];
        }
        return Paired(results[0], results[1]) with { FaultA = faults[0], FaultB = faults[1] };
    }

    /// <summary>
    /// The comparison the stored rows of one comparison give (<paramref name="a"/>'s and <paramref name="b"/>'s, of
    /// <paramref name="seeds"/>): what <see cref="Run"/> returned when it stored them, less its plugin faults.
    /// </summary>
    public static AbResult FromRows(IEnumerable<StoredRun> a, IEnumerable<StoredRun> b, IReadOnlyList<ulong> seeds) =>
        Paired([.. Prefix(a.OrderBy(r => r.Seed), seeds)], [.. Prefix(b.OrderBy(r => r.Seed), seeds)]);

    /// <summary>The plugin behind each side, as a report names it.</summary>
    public IReadOnlyList<PluginProvenance> Plugins() =>
        [.. new[] { ("A", A), ("B", B) }.Select(x => new PluginProvenance(x.Item1, x.Item2.Backend.Name, x.Item2.Backend.Entry.Plugin,
            x.Item2.Backend.Plugin.Version.ToString(), _catalog.Plugins.FirstOrDefault(p => p.Name == x.Item2.Backend.Entry.Plugin)?.Sha256 ?? ""))];

    // A side's seeds are those stored in order from the first: a gap (a fault, an interrupted run) ends them.
    private static IEnumerable<SeedResult> Prefix(IEnumerable<StoredRun> rows, IReadOnlyList<ulong> seeds) =>
        rows.Select((row, i) => (row, i)).TakeWhile(x => x.i < seeds.Count && x.row.Seed == seeds[x.i]).Select(x => AsSeed(x.row));

    // Only seeds both sides finished are compared; each side keeps all of its own.
    private static AbResult Paired(List<SeedResult> a, List<SeedResult> b)
    {
        int paired = Math.Min(a.Count, b.Count);
        return AbComparison.Compare(a[..paired], b[..paired]) with { A = a, B = b };
    }

    private static SeedResult AsSeed(StoredRun row) =>
        new(row.Seed, row.Verdict, row.Metrics.ToDictionary(m => m.Key, m => m.Value / StoreScale), (int)row.Schedules);

    private StoredRun RunSeed(BoundScenario bound, ulong seed)
    {
        var clock = Stopwatch.StartNew();
        var r = AbComparison.RunSeed(bound, seed, Schedules);
        return StoredRuns.Make(Kind, Key, bound.Scenario, bound.Backend, _catalog, seed, Schedules, r.Verdict,
            r.Metrics.ToDictionary(m => m.Key, m => (long)Math.Round(m.Value * StoreScale)), clock.Elapsed);
    }
}
