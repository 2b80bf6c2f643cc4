// The bug zoo: every scenario file of a folder (scenarios/zoo: the bug zoo of docs/model.md, each with the fix off
// and on) searched with its own `explore` line from seed 0; an entry behaves when what the oracle found is
// what the file expects (an invariant, or clean over the whole budget). Run for one backend, an entry on another is
// read but not searched. An entry whose backend (or SMMU) the plugins.json in use does not offer is skipped and
// listed (a plugin author's own config holds only their backends), never an error. A plugin fault in one entry is
// that entry's outcome; the others still run. A cancelled token (Ctrl-C) lets the entries being run finish, starts no other, and
// ends the run with OperationCanceledException (a zoo run stores nothing: it is run again whole).
using System.Diagnostics;
using Pv.Engine;
using Pv.Hosting;
using Pv.Hosting.Composition;
using Pv.Scenarios.Litmus;

namespace Pv.Scenarios.Running;

/// <summary>One zoo entry's outcome.</summary>
/// <param name="File">The scenario file.</param>
/// <param name="Entry">Its name.</param>
/// <param name="Backend">The backend it ran on ("?" when the file could not be read).</param>
/// <param name="Expected">Clean or an invariant; null when the file could not be read.</param>
/// <param name="Found">Clean or the invariant that broke; null when the entry could not run.</param>
/// <param name="Schedules">Schedules to the first counterexample (or the whole budget when clean).</param>
/// <param name="Elapsed">Wall time.</param>
/// <param name="Error">Why the entry could not run, or null.</param>
public sealed record ZooEntry(string File, string Entry, string Backend, Verdict? Expected, Verdict? Found, long Schedules, TimeSpan Elapsed, string? Error)
{
    /// <summary>The plugin fault that stopped the entry's search (then <see cref="Error"/> is its message), or null.</summary>
    public PluginFaultException? Fault { get; init; }

    /// <summary>The schedule (entity ids) of the first run that broke an invariant, for a replay of it; null when none did.</summary>
    public IReadOnlyList<int>? ViolatingSchedule { get; init; }

    /// <summary>What stopped the entry when it ran in a process of its own (pv zoo --isolate): "crashed", "plugin-fault", "internal-error" or "interrupted".</summary>
    public string? Stopped { get; init; }

    /// <summary>The entry behaved as its file expects.</summary>
    public bool AsExpected => Error is null && Found is { } found && Expected is { } expected && found.Meets(expected);

    /// <summary>The expectation as printed: its verdict, or "?" for an entry that could not be read.</summary>
    public string ExpectedText => Expected?.ToText() ?? "?";

    /// <summary>What was found as printed: the verdict, "plugin-fault", or "error" for an entry that could not be read.</summary>
    public string FoundText => Found?.ToText() ?? Stopped ?? (Fault is null ? "error" : "plugin-fault");
}

/// <summary>A run of a zoo folder.</summary>
/// <param name="Entries">The entries run, in file name order.</param>
public sealed record ZooRun(IReadOnlyList<ZooEntry> Entries)
{
    /// <summary>Some entry could not be read.</summary>
    public bool AnyError => Entries.Any(e => e.Error is not null && e.Fault is null && e.Stopped is null);

    /// <summary>The plugin faults that stopped entries, in entry order.</summary>
    public IEnumerable<PluginFaultException> Faults => Entries.Select(e => e.Fault).OfType<PluginFaultException>();

    /// <summary>How many entries behaved as their files expect.</summary>
    public int AsExpected => Entries.Count(e => e.AsExpected);

    /// <summary>Every entry behaved as its file expects.</summary>
    public bool AllAsExpected => AsExpected == Entries.Count;
}

/// <summary>An entry left out because the plugins.json in use does not offer a backend it names.</summary>
/// <param name="File">The scenario file.</param>
/// <param name="Missing">The backends it names that plugins.json lacks.</param>
public sealed record ZooSkip(string File, IReadOnlyList<string> Missing);

/// <summary>Runs the zoo.</summary>
public static class Zoo
{
    /// <summary>
    /// The entries of <paramref name="files"/> to run: those on <paramref name="backend"/> when given, of which those whose
    /// backends <paramref name="catalog"/> offers; the others it lacks are returned as skipped. A file that cannot be
    /// read is kept (its entry reports the problem).
    /// </summary>
    /// <exception cref="PvInputException"><paramref name="backend"/> is not a backend of <paramref name="catalog"/>.</exception>
    public static (IReadOnlyList<string> Run, IReadOnlyList<ZooSkip> Skipped) Select(IReadOnlyList<string> files, PluginCatalog catalog, string? backend)
    {
        bool Offered(string name) => catalog.Backends.Any(b => b.Name == name);
        if (backend is not null && !Offered(backend))
            throw new PvInputException($"--backend {backend}: {catalog.NoBackendNamed(backend)}");
        var run = new List<string>();
        var skipped = new List<ZooSkip>();
        foreach (var file in files)
        {
            Scenario scenario;
            try { scenario = ScenarioParser.ParseFile(file); }
            catch (ScenarioException)
            {
                run.Add(file);
                continue;
            }
            if (backend is not null && scenario.Backend != backend) continue;
            var missing = new[] { scenario.Backend, scenario.Smmu }.OfType<string>().Where(b => !Offered(b)).ToList();
            if (missing.Count > 0) skipped.Add(new ZooSkip(file, missing));
            else run.Add(file);
        }
        return (run, skipped);
    }

    /// <summary>The zoo next to <paramref name="catalog"/>'s plugins.json: <c>scenarios/zoo</c> of the Pv repository.</summary>
    public static string DefaultFolder(PluginCatalog catalog) => Path.Combine(Path.GetDirectoryName(catalog.ConfigPath)!, "scenarios", "zoo");

    /// <summary>The zoo's scenario files in <paramref name="folder"/>, sorted by name.</summary>
    public static IReadOnlyList<string> Files(string folder) =>
        Directory.GetFiles(folder, "*.pvl").Order(StringComparer.Ordinal).ToList();

    /// <summary>
    /// Runs every entry of <paramref name="folder"/>, or only those on backend <paramref name="backend"/> (an entry that
    /// cannot be read is kept whatever its backend).
    /// </summary>
    /// <exception cref="DirectoryNotFoundException">No such folder.</exception>
    public static ZooRun RunAll(string folder, PluginCatalog catalog, string? backend = null) => RunAll(Files(folder), catalog, backend);

    /// <summary>
    /// Runs the entries <paramref name="files"/>, or only those on backend <paramref name="backend"/>, on
    /// <paramref name="jobs"/> worker threads. Entries are independent (each its own scenario, machines and search), so
    /// the run is the same for every <paramref name="jobs"/>, in file order; only wall times differ. <paramref name="entriesDone"/>
    /// is told how many files are done and how many entries so far did not behave as expected (from worker threads);
    /// once <paramref name="cancel"/> is cancelled no further entry is begun.
    /// </summary>
    /// <exception cref="OperationCanceledException"><paramref name="cancel"/> was cancelled before every entry ran.</exception>
    public static ZooRun RunAll(IReadOnlyList<string> files, PluginCatalog catalog, string? backend = null, int jobs = 1,
        Action<int, int>? entriesDone = null, CancellationToken cancel = default)
    {
        int done = 0, unexpected = 0;
        return new(Workers.InParallel(files, jobs, file =>
        {
            var entry = Run(file, catalog, backend);
            if (entry is { AsExpected: false }) Interlocked.Increment(ref unexpected);
            entriesDone?.Invoke(Interlocked.Increment(ref done), Volatile.Read(ref unexpected));
            return entry;
        }, cancel).OfType<ZooEntry>().ToList());
    }

    /// <summary>Runs one entry (a scenario problem is reported in <see cref="ZooEntry.Error"/>).</summary>
    public static ZooEntry Run(string file, PluginCatalog catalog) => Run(file, catalog, null)!;

    /// <summary>Runs one entry unless it is on another backend than <paramref name="only"/> (then null, nothing run).</summary>
    private static ZooEntry? Run(string file, PluginCatalog catalog, string? only)
    {
        var clock = Stopwatch.StartNew();
        BoundScenario bound;
        try
        {
            bound = BoundScenario.Load(file, catalog);
        }
        catch (ScenarioException e)
        {
            return new ZooEntry(file, Path.GetFileNameWithoutExtension(file), "?", null, null, 0, clock.Elapsed, e.Message);
        }
        if (only is not null && bound.Backend.Name != only) return null;
        var sc = bound.Scenario;
        using var compiled = bound.Compile(0);
        SearchResult r;
        try
        {
            r = ScenarioRunner.Search(compiled, SearchOptions.For(sc));
        }
        catch (PluginFaultException fault)
        {
            return new ZooEntry(file, sc.Name, bound.Backend.Name, sc.Expect.Verdict, null, compiled.Built, clock.Elapsed, fault.Message) { Fault = fault };
        }
        return new ZooEntry(file, sc.Name, bound.Backend.Name, sc.Expect.Verdict, Verdicts.Of(r.Violation?.Report?.Violation), r.SchedulesRun, clock.Elapsed, null)
            { ViolatingSchedule = r.Violation?.Schedule };
    }
}
