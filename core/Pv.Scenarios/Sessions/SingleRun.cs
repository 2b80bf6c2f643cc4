// One schedule of a scenario, as `pv run` runs it: sequential without a seed, seeded random with one (the seed
// also generates a workload; 0 without one), stored as one row of the results store (a rerun of the same
// scenario, backend and seed replaces it).
using System.Diagnostics;
using Pv.Hosting;
using Pv.Scenarios.Running;
using Pv.Scenarios.Store;

namespace Pv.Scenarios.Sessions;

/// <summary>Runs and stores one schedule.</summary>
public static class SingleRun
{
    /// <summary>
    /// Runs <paramref name="bound"/> once (seeded random with <paramref name="scheduleSeed"/>, else sequential) and adds
    /// the row to <paramref name="store"/>.
    /// </summary>
    public static RunSummary Run(BoundScenario bound, ulong? scheduleSeed, PluginCatalog catalog, ResultsStore store)
    {
        var clock = Stopwatch.StartNew();
        RunSummary run;
        using (var compiled = bound.Compile(scheduleSeed ?? 0))
            run = ScenarioRunner.RunOnce(compiled, scheduleSeed);
        string session = StoredRuns.Session("run", bound.Scenario.Hash, bound.Backend.Name, scheduleSeed?.ToString() ?? "sequential");
        store.Put(StoredRuns.Make("run", session, bound.Scenario, bound.Backend, catalog, scheduleSeed ?? 0, 1, run.Verdict, run.Metrics, clock.Elapsed));
        return run;
    }
}
