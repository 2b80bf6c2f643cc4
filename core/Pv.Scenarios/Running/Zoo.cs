// The bug zoo: every scenario file of a folder (scenarios/zoo: the bug zoo of docs/model.md, each with the fix off
// and on) searched with its own `explore` line from seed 0; an entry behaves when what the oracle found is
// what the file expects (an invariant, or clean over the whole budget).
using Pv.Hosting;
using Pv.Scenarios.Litmus;

namespace Pv.Scenarios.Running;

/// <summary>One zoo entry's outcome.</summary>
/// <param name="File">The scenario file.</param>
/// <param name="Entry">Its name.</param>
/// <param name="Backend">The backend it ran on.</param>
/// <param name="Expected">clean or an invariant.</param>
/// <param name="Found">clean or the invariant that broke.</param>
/// <param name="Schedules">Schedules to the first counterexample (or the whole budget when clean).</param>
/// <param name="Elapsed">Wall time.</param>
/// <param name="Error">Why the entry could not run, or null.</param>
public sealed record ZooEntry(string File, string Entry, string Backend, string Expected, string Found, long Schedules, TimeSpan Elapsed, string? Error)
{
    /// <summary>The entry behaved as its file expects.</summary>
    public bool AsExpected => Error is null && Found == Expected;
}

/// <summary>Runs the zoo.</summary>
public static class Zoo
{
    /// <summary>The zoo's scenario files in <paramref name="folder"/>, sorted by name.</summary>
    public static IReadOnlyList<string> Files(string folder) =>
        Directory.GetFiles(folder, "*.pvl").Order(StringComparer.Ordinal).ToList();

    /// <summary>Runs one entry (a scenario problem is reported in <see cref="ZooEntry.Error"/>).</summary>
    public static ZooEntry Run(string file, PluginCatalog catalog)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        BoundScenario bound;
        try
        {
            bound = BoundScenario.Load(file, catalog);
        }
        catch (ScenarioException e)
        {
            return new ZooEntry(file, Path.GetFileNameWithoutExtension(file), "?", "?", "error", 0, clock.Elapsed, e.Message);
        }
        var sc = bound.Scenario;
        using var compiled = bound.Compile(0);
        var r = ScenarioRunner.Search(compiled, new SearchOptions(sc.Search.Strategy, sc.Search.Schedules, 0, sc.Search.PctDepth, sc.Search.PreemptionBound));
        string found = r.Violation?.Report?.Violation.Id.ToString() ?? "clean";
        return new ZooEntry(file, sc.Name, bound.Backend.Name, sc.Expect.Text, found, r.SchedulesRun, clock.Elapsed, null);
    }
}
