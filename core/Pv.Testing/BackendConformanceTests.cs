// The conformance kit, on the model of the DI specification tests: a plugin's test project derives one class
// from BackendConformanceTests per backend, naming its plugins.json and the backend, and gets one xunit test per
// conformance check (Pv.Scenarios.Conformance): the backend composes, the zoo's fixed entries of its MMU model
// are clean on it, its runs are deterministic, its flushes are counted. Each failure's message is the check's
// detail: what broke and why backends usually break it. The checks run once per (plugins.json, backend,
// budget) and are shared by that class's tests.
using System.Collections.Concurrent;
using Pv.Hosting;
using Pv.Scenarios.Conformance;
using Xunit;

namespace Pv.Testing;

/// <summary>Derive a class per backend to check it: override <see cref="ConfigPath"/> and <see cref="Backend"/>.</summary>
public abstract class BackendConformanceTests
{
    private static readonly ConcurrentDictionary<(string, string, long?), Lazy<ConformReport>> Reports = new();

    /// <summary>The plugins.json that loads the backend (absolute, or relative to the test's working folder).</summary>
    protected abstract string ConfigPath { get; }

    /// <summary>The backend's name in that plugins.json.</summary>
    protected abstract string Backend { get; }

    /// <summary>Schedules per litmus entry; null for each entry's own budget (thousands).</summary>
    protected virtual long? Schedules => null;

    /// <summary>The folder of the zoo's litmus entries: by default the copy that comes with this kit.</summary>
    protected virtual string ZooFolder => KitZoo;

    // The package copies the zoo into the output folder of the test project that references the kit.
    private static string KitZoo => Path.Combine(AppContext.BaseDirectory, "zoo");

    /// <summary>The checks' report for this backend (run once, then shared by the tests of this class).</summary>
    protected ConformReport Report => Reports.GetOrAdd((Path.GetFullPath(ConfigPath), Backend, Schedules),
        key => new(() => Check(key.Item1, key.Item2, key.Item3, ZooFolder))).Value;

    /// <summary>
    /// The nearest plugins.json in the test's output folder or a folder above it: the one beside a plugin's solution,
    /// when its tests run from their bin folder.
    /// </summary>
    /// <exception cref="FileNotFoundException">No folder from the output folder up holds a plugins.json.</exception>
    public static string PluginsJsonAbove()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            string candidate = Path.Combine(dir.FullName, "plugins.json");
            if (File.Exists(candidate)) return candidate;
        }
        throw new FileNotFoundException($"no plugins.json in {AppContext.BaseDirectory} or a folder above it");
    }

    /// <summary>
    /// Runs the conformance checks on <paramref name="backend"/> of <paramref name="configPath"/> and returns the report,
    /// for a test that asserts more than "it passes" (that a deliberately unsafe backend fails, and why).
    /// </summary>
    /// <param name="configPath">The plugins.json that loads the backend.</param>
    /// <param name="backend">The backend's name in it.</param>
    /// <param name="schedules">Schedules per litmus entry; null for each entry's own budget.</param>
    /// <param name="zooFolder">The litmus entries' folder; null for the copy that comes with this kit.</param>
    public static ConformReport Check(string configPath, string backend, long? schedules = null, string? zooFolder = null)
    {
        using var catalog = PluginCatalog.Load(Path.GetFullPath(configPath));
        var b = catalog.Backends.FirstOrDefault(x => x.Name == backend)
            ?? throw new InvalidOperationException($"{catalog.NoBackendNamed(backend)}; problems: {string.Join("; ", catalog.Diagnostics)}");
        return Conformance.Run(b, catalog, zooFolder ?? KitZoo, schedules);
    }

    /// <summary>The backend builds into a machine: its plugin's services resolve and its options validate.</summary>
    [Fact]
    public void Composes() => Holds(ConformKind.Composes);

    /// <summary>The zoo's fixed entries of the backend's MMU model are clean on it.</summary>
    [Fact]
    public void The_zoo_s_fixed_entries_are_clean() => Holds(ConformKind.Litmus);

    /// <summary>The same schedules run twice give the same runs, trace hashes included.</summary>
    [Fact]
    public void Runs_are_deterministic() => Holds(ConformKind.Deterministic);

    /// <summary>A munmap on a mm loaded on two CPUs (UML: its faults and sync) counts flushes and charges simulated time.</summary>
    [Fact]
    public void Flushes_are_counted_and_charged() => Holds(ConformKind.FlushesCounted);

    private void Holds(ConformKind kind)
    {
        var checks = Report.Checks.Where(c => c.Kind == kind).ToList();
        // A backend that does not compose has no other check to show: each test says why.
        if (checks.Count == 0 && Report.Checks.FirstOrDefault(c => !c.Passed) is { } first)
            Assert.Fail($"{Report.Backend} fails {first.Name}: {first.Detail}");
        Assert.NotEmpty(checks);
        var failed = checks.Where(c => !c.Passed).Select(c => $"{c.Name}: {c.Detail}").ToList();
        Assert.True(failed.Count == 0, $"{Report.Backend} fails {string.Join("\n", failed)}");
    }
}
