// An A/B session: the same scenario (or workload) and the same seeds on two backends (AbComparison.RunSeed per
// side and seed), each (backend, seed) a row in the results store committed as it finishes. A resumed
// session reuses the rows of the same comparison (scenario bytes, both backends, seeds, schedules) and runs
// only the seeds missing, so an interrupted comparison resumed gives the verdicts of an uninterrupted one and
// its metric means to the store's precision (thousandths). A plugin fault on one side stops that side only.
using System.Diagnostics;
using Pv.Hosting;
using Pv.Hosting.Composition;
using Pv.Scenarios.Running;
using Pv.Scenarios.Store;

namespace Pv.Scenarios.Sessions;

/// <summary>One A/B comparison, stored seed by seed and resumable.</summary>
public sealed class AbSession
{
    private const string Kind = "ab";

    /// <summary>Metric means are stored as integers in thousandths.</summary>
    private const double StoreScale = 1000.0;

    private readonly PluginCatalog _catalog;
    private readonly ResultsStore _store;

    /// <summary>A comparison of <paramref name="a"/> (the baseline) and <paramref name="b"/>, stored in <paramref name="store"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException">Fewer than 2 seeds (no interval over seeds) or no schedules.</exception>
    public AbSession(BoundScenario a, BoundScenario b, int seeds, int schedules, PluginCatalog catalog, ResultsStore store)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(seeds, 2);
        ArgumentOutOfRangeException.ThrowIfLessThan(schedules, 1);
        (A, B, Seeds, Schedules, _catalog, _store) = (a, b, seeds, schedules, catalog, store);
        Key = StoredRuns.Session(Kind, a.Scenario.Hash, a.Backend.Name, b.Backend.Name, seeds, schedules);
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

    /// <summary>
    /// Runs every seed of both sides (with <paramref name="resume"/>, only those the store does not hold for this
    /// comparison) and compares them. <paramref name="seedsDone"/> gets the number of (side, seed) pairs done so far.
    /// A plugin fault stops its side at the seed that faulted (the same seed faults again: runs are deterministic) and
    /// is returned with the seeds that side finished; the other side still runs every seed.
    /// </summary>
    public AbResult Run(bool resume, Action<int>? seedsDone = null)
    {
        var sides = new[] { A, B };
        var results = new List<SeedResult>[2];
        var faults = new PluginFaultException?[2];
        int count = 0;
        for (int side = 0; side < 2; side++)
        {
            var bound = sides[side];
            var done = resume ? _store.Done(Key, bound.Backend.Name) : new Dictionary<ulong, StoredRun>();
            results[side] = [];
            for (ulong seed = 0; seed < (ulong)Seeds; seed++)
            {
                try
                {
                    results[side].Add(done.TryGetValue(seed, out var row) ? Reused(row) : RunAndStore(bound, seed));
                }
                catch (PluginFaultException fault)
                {
                    faults[side] = fault;
                    count += Seeds - (int)seed;
                    seedsDone?.Invoke(count);
                    break;
                }
                seedsDone?.Invoke(++count);
            }
        }
        int paired = Math.Min(results[0].Count, results[1].Count);
        return AbComparison.Compare(results[0][..paired], results[1][..paired]) with
        {
            A = results[0], B = results[1], FaultA = faults[0], FaultB = faults[1],
        };
    }

    private static SeedResult Reused(StoredRun row) =>
        new(row.Seed, row.Verdict, row.Metrics.ToDictionary(m => m.Key, m => m.Value / StoreScale), (int)row.Schedules);

    private SeedResult RunAndStore(BoundScenario bound, ulong seed)
    {
        var clock = Stopwatch.StartNew();
        var r = AbComparison.RunSeed(bound, seed, Schedules);
        _store.Add(StoredRuns.Make(Kind, Key, bound.Scenario, bound.Backend, _catalog, seed, Schedules, r.Verdict,
            r.Metrics.ToDictionary(m => m.Key, m => (long)Math.Round(m.Value * StoreScale)), clock.Elapsed));
        return r;
    }
}
