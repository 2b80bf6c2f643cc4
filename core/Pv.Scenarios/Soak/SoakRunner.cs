// The soak: generated scenarios (SoakGenerator) × backends, each searched with PCT and with random for a budget
// of schedules (ScenarioRunner.Search, schedule seeds from 0 as `pv explore` uses by default). A violation is
// minimised (ScenarioRunner.Minimise) and saved the way `pv explore` saves it: the scenario's .pvl next to a
// counterexample JSON that `pv replay` reads. An exception escaping a run of a valid scenario is a finding too
// ("internal-error"), saved with the schedule up to the failing step, and the soak goes on; so is a plugin fault
// ("plugin-fault": the plugin, backend and operation named, the schedule up to the faulting step) and a generated
// scenario the parser refuses ("invalid-scenario", a generator bug). A requested stop (--time-limit, a second Ctrl-C)
// ends the soak at the next schedule with what it saved; a cancelled token (the first Ctrl-C) lets the scenarios
// being run finish (their findings saved) and starts no other. Scenario i uses generator seed seed + i; the
// whole soak is a function of its options, only the elapsed time differs between two runs. A shard (--shard K/N)
// runs scenarios i with i mod N = K: the N shards' findings (files named by seed, so shards share an --out
// folder) and schedules add up to the unsharded soak's.
using System.Diagnostics;
using Pv.Engine;
using Pv.Hosting;
using Pv.Hosting.Composition;
using Pv.Scenarios.Litmus;
using Pv.Scenarios.Running;

namespace Pv.Scenarios.Soak;

/// <summary>What to soak.</summary>
/// <param name="Scenarios">Scenarios to generate (generator seeds Seed .. Seed + Scenarios - 1).</param>
/// <param name="Schedules">Schedules per scenario, per backend, per strategy.</param>
/// <param name="Seed">The first generator seed.</param>
/// <param name="Backends">CPU backends to run every scenario on (names from plugins.json).</param>
/// <param name="Options">Era toggles written into every scenario.</param>
/// <param name="OutDir">Where findings go (created on the first one).</param>
public sealed record SoakOptions(int Scenarios, long Schedules, ulong Seed, IReadOnlyList<string> Backends,
    IReadOnlyList<KeyValuePair<string, bool>> Options, string OutDir);

/// <summary>One finding.</summary>
/// <param name="ScenarioSeed">The generator seed.</param>
/// <param name="Backend">The backend.</param>
/// <param name="Strategy">pct or random.</param>
/// <param name="Verdict">The invariant (O1..O7), internal error or invalid scenario.</param>
/// <param name="Message">The oracle's violation, or the exception or diagnostics.</param>
/// <param name="ScenarioFile">The saved .pvl.</param>
/// <param name="CounterexampleFile">The saved counterexample (null for invalid-scenario).</param>
/// <param name="Schedules">Schedules run by this search up to the finding.</param>
public sealed record SoakFinding(ulong ScenarioSeed, string Backend, string Strategy, Verdict Verdict, string Message,
    string ScenarioFile, string? CounterexampleFile, long Schedules)
{
    /// <summary>An oracle verdict (not an internal error or a generator bug).</summary>
    public bool IsViolation => Verdict.IsViolation();
}

/// <summary>The findings of one verdict on one backend.</summary>
/// <param name="Backend">The backend.</param>
/// <param name="Verdict">The verdict.</param>
/// <param name="Findings">Findings (one per scenario and strategy).</param>
/// <param name="Scenarios">Distinct scenarios among them.</param>
public sealed record SoakTally(string Backend, Verdict Verdict, int Findings, int Scenarios);

/// <summary>One backend's share of a soak.</summary>
/// <param name="Backend">The backend.</param>
/// <param name="Schedules">Schedules run on it.</param>
/// <param name="ScenariosWithViolation">Scenarios where some strategy found an oracle violation.</param>
public sealed record SoakBackendResult(string Backend, long Schedules, int ScenariosWithViolation);

/// <summary>What a soak did and found.</summary>
/// <param name="Scenarios">Scenarios generated.</param>
/// <param name="Backends">Per backend.</param>
/// <param name="Findings">Every finding, in the order found.</param>
/// <param name="Elapsed">Wall time.</param>
public sealed record SoakResult(int Scenarios, IReadOnlyList<SoakBackendResult> Backends, IReadOnlyList<SoakFinding> Findings, TimeSpan Elapsed)
{
    /// <summary>Schedules run in all.</summary>
    public long SchedulesRun => Backends.Sum(b => b.Schedules);

    /// <summary>Schedules per second of wall time.</summary>
    public double Rate => SchedulesRun / Math.Max(Elapsed.TotalSeconds, 1e-9);

    /// <summary>Scenarios with an oracle violation on some backend.</summary>
    public int ScenariosWithViolation => Findings.Where(f => f.IsViolation).Select(f => f.ScenarioSeed).Distinct().Count();

    /// <summary>Scenarios with a violation / scenarios: how often the soak catches a bug toggled off.</summary>
    public double DetectionRate => Scenarios == 0 ? 0 : (double)ScenariosWithViolation / Scenarios;

    /// <summary>The findings counted per backend and verdict, by backend name then verdict text (ordinal).</summary>
    public IReadOnlyList<SoakTally> ByInvariant => Findings.GroupBy(f => (f.Backend, f.Verdict))
        .OrderBy(g => g.Key.Backend, StringComparer.Ordinal).ThenBy(g => g.Key.Verdict.ToText(), StringComparer.Ordinal)
        .Select(g => new SoakTally(g.Key.Backend, g.Key.Verdict, g.Count(), g.Select(f => f.ScenarioSeed).Distinct().Count())).ToList();
}

/// <summary>A soak checked against a catalog: its options and the backends they name, ready to run.</summary>
/// <param name="Options">What to soak.</param>
/// <param name="Backends">The CPU backends named, resolved.</param>
/// <param name="Catalog">Where they come from.</param>
public sealed record SoakPlan(SoakOptions Options, IReadOnlyList<ResolvedBackend> Backends, PluginCatalog Catalog);

/// <summary>Runs soaks.</summary>
public static class SoakRunner
{
    /// <summary>
    /// Runs the minimiser may spend per finding: fewer than pv explore's default, since a soak may find hundreds and
    /// each is still replayable unminimised.
    /// </summary>
    public const int MinimiseAttempts = 150;

    /// <summary>The strategies every scenario is searched with, in order.</summary>
    public static IReadOnlyList<string> Strategies { get; } = ["pct", "random"];

    /// <summary>
    /// The fixed (latest-era, no bug toggled) CPU backends of the repository's plugins.json: x86 bare metal in both
    /// table-free eras, arm64 bare metal, Xen PV, and UML 2024 under host mappings. Left out: the SMMU backends
    /// (secondary MMUs, driven by sva threads, not CPU scenarios) and the entries that exist to show a zoo bug
    /// (x86-native-no-lazy-ipi, arm64-native-immediate-free, xen-pv-2012, uml-no-*) or an older era the fixed
    /// ones supersede (arm64-native-pre-6.6 differs only toward secondary MMUs; uml-pre-2024).
    /// </summary>
    public static IReadOnlyList<string> DefaultBackends { get; } = ["x86-native", "x86-native-6.12", "x86-native-6.15", "arm64-native", "xen-pv", "uml"];

    /// <summary>The target a backend's scenarios are written for: a backend that declares host mappings (UML) gets scenarios of UML's shape.</summary>
    public static SoakTarget TargetFor(ResolvedBackend backend, IReadOnlyList<KeyValuePair<string, bool>> options) =>
        new(backend.Name, backend.Info.Mmu == Pv.Abstractions.Plugins.PvMmuModel.HostMappings, options);

    /// <summary>Reads an era toggle written <c>NAME=on</c> or <c>NAME=off</c> (the name is checked by <see cref="Validate"/>).</summary>
    public static bool TryParseToggle(string text, out KeyValuePair<string, bool> toggle)
    {
        int eq = text.IndexOf('=');
        string name = eq < 0 ? text : text[..eq], value = eq < 0 ? "" : text[(eq + 1)..];
        toggle = new(name, value == "on");
        return value is "on" or "off";
    }

    /// <summary>An era toggle as <see cref="TryParseToggle"/> reads it.</summary>
    public static string ToggleText(KeyValuePair<string, bool> toggle) => $"{toggle.Key}={(toggle.Value ? "on" : "off")}";

    /// <summary>The soak <paramref name="o"/> asks for, checked: each backend in <paramref name="catalog"/> and a CPU backend, every option known.</summary>
    /// <exception cref="PvInputException">What is wrong, as a message for the user (bad --backend or --option).</exception>
    public static SoakPlan Validate(SoakOptions o, PluginCatalog catalog)
    {
        foreach (var (name, _) in o.Options)
            if (!ScenarioParser.Toggles.ContainsKey(name))
                throw new PvInputException($"unknown option '{name}'; expected one of: {string.Join(", ", ScenarioParser.Toggles.Keys)}");
        var backends = o.Backends.Select(name => catalog.Backends.FirstOrDefault(b => b.Name == name)
            ?? throw new PvInputException($"unknown backend '{name}': {catalog.ConfigPath} offers {string.Join(", ", catalog.Backends.Select(b => b.Name))}")).ToList();
        foreach (var b in backends)
        {
            // The generated threads run on CPUs: a secondary MMU (an SMMU backend) has no pv_mmu_ops to run them with.
            if (!b.Host.ProvidesCpuMmu)
                throw new PvInputException($"backend '{b.Name}' is a secondary MMU ({b.ArchProfile}, no pv_mmu_ops): pv soak runs CPU backends");
        }
        return new SoakPlan(o, backends, catalog);
    }

    /// <summary>
    /// Runs a checked soak, <paramref name="jobs"/> scenarios at once. Scenarios are independent (each its own generated
    /// file, machines and searches, its findings under its own names), so the result, in scenario order, is the same for
    /// every <paramref name="jobs"/>. <paramref name="scenariosDone"/> is told how many scenarios have finished and how many
    /// findings they made (from worker threads). With <paramref name="shard"/>, only that shard's scenarios run, and the
    /// result counts only them. Once <paramref name="cancel"/> is cancelled no further scenario is begun.
    /// </summary>
    /// <exception cref="OperationCanceledException"><paramref name="cancel"/> was cancelled before every scenario ran: the
    /// findings of those that finished are saved.</exception>
    public static SoakResult Run(SoakPlan plan, Action<int, int>? scenariosDone = null, int jobs = 1, Shard? shard = null, CancellationToken cancel = default)
    {
        var (o, backends, catalog) = plan;
        var clock = Stopwatch.StartNew();
        int done = 0, findings = 0;
        var mine = (shard ?? Shard.All).Of(Enumerable.Range(0, o.Scenarios));
        var perScenario = Workers.InParallel(mine, jobs, i =>
        {
            ulong seed = o.Seed + (ulong)i;
            var outcome = backends.Select(backend =>
            {
                long schedules = 0;
                var found = RunOne(o, seed, backend, catalog, ref schedules);
                return (Found: found, Schedules: schedules);
            }).ToList();
            int made = Interlocked.Add(ref findings, outcome.Sum(b => b.Found.Count));
            scenariosDone?.Invoke(Interlocked.Increment(ref done), made);
            return outcome;
        }, cancel);
        var perBackend = backends.Select((b, k) => new SoakBackendResult(b.Name, perScenario.Sum(s => s[k].Schedules),
            perScenario.Count(s => s[k].Found.Any(f => f.IsViolation)))).ToList();
        var all = perScenario.SelectMany(s => s.SelectMany(b => b.Found)).ToList();
        return new SoakResult(mine.Count, perBackend, all, clock.Elapsed);
    }

    /// <summary>Scenario <paramref name="seed"/> on one backend, every strategy; its findings.</summary>
    private static List<SoakFinding> RunOne(SoakOptions o, ulong seed, ResolvedBackend backend, PluginCatalog catalog, ref long schedules)
    {
        var findings = new List<SoakFinding>();
        string text = SoakGenerator.Generate(seed, TargetFor(backend, o.Options));
        string stem = Path.Combine(Path.GetFullPath(o.OutDir), $"{SoakGenerator.Name(seed)}.{backend.Name}");
        string pvl = stem + ".pvl";
        // The text is parsed under the path it is saved to on a finding, so the counterexample names that file and its hash.
        BoundScenario bound;
        try
        {
            bound = BoundScenario.Bind(ScenarioParser.Parse(pvl, text), catalog);
        }
        catch (ScenarioException e)
        {
            Save(pvl, text);
            findings.Add(new SoakFinding(seed, backend.Name, "-", Verdict.InvalidScenario, string.Join("; ", e.Diagnostics), pvl, null, 0));
            return findings;
        }
        foreach (var strategy in Strategies)
        {
            using var compiled = bound.Compile(0);
            SearchResult result;
            try
            {
                result = ScenarioRunner.Search(compiled, SearchOptions.For(bound.Scenario, strategy, o.Schedules));
            }
            catch (Exception e) when (e is not (OutOfMemoryException or RunStoppedException))
            {
                // An engine exception from a valid scenario, or a plugin's fault: keep the schedule up to the step that
                // threw, so `pv replay` of the file reaches the same throw.
                schedules += compiled.Built;
                var partial = compiled.Last?.Schedule.ToList() ?? [];
                var cx = e is PluginFaultException fault
                    ? Counterexample.Of(bound, 0, strategy, Verdict.PluginFault, fault.Message, partial, null)
                    : Counterexample.Of(bound, 0, strategy, Verdict.InternalError, $"{e.GetType().Name}: {e.Message}", partial, null);
                findings.Add(Record(seed, cx, text, stem, compiled.Built));
                continue;
            }
            schedules += result.SchedulesRun;
            if (result.Violation is not { } violation) continue;
            ScenarioRunner.Minimised? minimised = null;
            try
            {
                minimised = ScenarioRunner.Minimise(bound, 0, violation, MinimiseAttempts);
            }
            catch (Exception e) when (e is not (OutOfMemoryException or RunStoppedException))
            {
                // Minimising runs shortened variants; one that throws leaves the counterexample as found.
            }
            findings.Add(Record(seed, FoundCounterexample.Assemble(bound, 0, strategy, violation, minimised).Counterexample, text, stem, result.SchedulesRun));
        }
        return findings;
    }

    /// <summary>Saves the scenario (<paramref name="text"/>, at <paramref name="cx"/>'s scenario path) and <paramref name="cx"/> next to it.</summary>
    private static SoakFinding Record(ulong seed, Counterexample cx, string text, string stem, long schedules)
    {
        Save(cx.Scenario, text);
        string cxPath = $"{stem}.{cx.Strategy}.cx.json";
        cx.Save(cxPath);
        return new SoakFinding(seed, cx.Backend, cx.Strategy, cx.Invariant, cx.Violation, cx.Scenario, cxPath, schedules);
    }

    /// <summary>Writes the scenario as UTF-8 without a BOM: the bytes whose SHA-256 the parser computed from the text.</summary>
    private static void Save(string path, string text)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, text);
    }
}
