// Running scenarios: load a file and bind it to a backend from plugins.json (an unknown backend is an error
// before anything runs), run one schedule, search many (the engine's Explorer: random and PCT in chunks of
// seeds so progress can be shown and an interrupted search resumed; DFS in one go), and shrink a
// counterexample: leave out whole threads, then single operations, then runs of schedule entries, keeping
// each change only while the same invariant still breaks. The verdict always comes from the engine's
// oracle; nothing here looks at names.
using System.Diagnostics;
using Pv.Engine;
using Pv.Engine.Oracle;
using Pv.Engine.Sched;
using Pv.Hosting;
using Pv.Scenarios.Litmus;
using Pv.Scenarios.Workload;
using Pv.Engine.Programs;
using Pv.Abstractions.Plugins;

namespace Pv.Scenarios.Running;

/// <summary>A scenario file bound to a backend.</summary>
/// <param name="Scenario">The parsed scenario (a workload still unexpanded).</param>
/// <param name="Backend">The backend from plugins.json.</param>
/// <param name="Smmu">The secondary-MMU backend of SVA threads, or null.</param>
public sealed record BoundScenario(Scenario Scenario, ResolvedBackend Backend, ResolvedBackend? Smmu)
{
    /// <summary>
    /// Loads <paramref name="path"/> and resolves its backend (or <paramref name="backendOverride"/>) in <paramref name="catalog"/>.
    /// </summary>
    /// <exception cref="ScenarioException">The file has problems, names a backend plugins.json does not offer, or does not fit its MMU model.</exception>
    public static BoundScenario Load(string path, PluginCatalog catalog, string? backendOverride = null) =>
        Bind(ScenarioParser.ParseFile(path), catalog, backendOverride);

    /// <summary>
    /// Resolves the backend of an already parsed <paramref name="scenario"/> (or <paramref name="backendOverride"/>) in
    /// <paramref name="catalog"/>: what <see cref="Load"/> does after reading the file (pv soak parses generated text).
    /// </summary>
    /// <exception cref="ScenarioException">
    /// The scenario names a backend plugins.json does not offer, or one in the wrong role, or has a line the backend's MMU
    /// model cannot run (an <c>mmu</c> line that disagrees with the backend's declaration, a construct of the other model).
    /// </exception>
    /// <exception cref="Pv.Hosting.Composition.PluginCompositionException">A backend named cannot be composed.</exception>
    public static BoundScenario Bind(Scenario scenario, PluginCatalog catalog, string? backendOverride = null)
    {
        string name = backendOverride ?? scenario.Backend;
        string where = backendOverride is null ? "" : " (from --backend)";
        var backend = Resolve(catalog, name, scenario.BackendAt, where);
        // The CPUs run the backend's pv_mmu_ops; SVA devices translate through the smmu backend's ISecondaryMmu.
        if (!backend.Host.ProvidesCpuMmu)
            throw new ScenarioException([new ScenarioDiagnostic(scenario.BackendAt,
                $"backend '{name}'{where} is a secondary MMU ({backend.ArchProfile}, no pv_mmu_ops): name it with 'smmu', and a CPU backend with 'backend'")]);
        // The backend declares how its CPUs translate; an `mmu` line may only agree. A kernel built for a hardware MMU
        // never runs on host mappings (UML) or the other way round: a run across the two would put the backend's flushes
        // on translations it never made, and report what no kernel can reach; so would a line only the other model has.
        var model = MmuOf(backend);
        string declared = model == MmuKind.HostMappings
            ? $"backend '{name}'{where} translates through host mappings (User-Mode Linux: no hardware TLB)"
            : $"backend '{name}'{where} has a hardware MMU";
        static string Keyword(MmuKind kind) => kind == MmuKind.HostMappings ? "host-mappings" : "hardware";
        if (scenario.Mmu is { } line && line != model)
            throw new ScenarioException([new ScenarioDiagnostic(scenario.MmuAt,
                $"{declared}: expected 'mmu {Keyword(model)}' or no mmu line (the backend's model is then the scenario's), found 'mmu {Keyword(line)}'")]);
        var misfits = MmuModelFit.Misfits(scenario, model).Select(m => new ScenarioDiagnostic(m.At, $"{declared}: {m.Why}")).ToList();
        if (misfits.Count > 0) throw new ScenarioException(misfits);
        var smmu = scenario.Smmu is { } s ? Resolve(catalog, s, scenario.SmmuAt, "") : null;
        if (smmu is not null && smmu.Host.ProvidesCpuMmu)
            throw new ScenarioException([new ScenarioDiagnostic(scenario.SmmuAt,
                $"backend '{smmu.Name}' is a CPU backend (pv_mmu_ops), not a secondary MMU: 'smmu' names an ISecondaryMmu backend such as an SMMU's")]);
        return new BoundScenario(backendOverride is null ? scenario : scenario with { Backend = name }, backend, smmu);
    }

    private static ResolvedBackend Resolve(PluginCatalog catalog, string name, SourceSpan at, string where)
    {
        var backend = catalog.Backends.FirstOrDefault(b => b.Name == name);
        if (backend is not null) return backend;
        throw new ScenarioException([new ScenarioDiagnostic(at, $"unknown backend '{name}'{where}: {catalog.NoBackendNamed(name)}")]);
    }

    /// <summary>How the CPUs of <paramref name="backend"/> translate, as it declares (<see cref="PvBackendInfo.Mmu"/>).</summary>
    internal static MmuKind MmuOf(ResolvedBackend backend) => backend.Info.Mmu == PvMmuModel.HostMappings ? MmuKind.HostMappings : MmuKind.Hardware;

    /// <summary>The scenario for workload seed <paramref name="seed"/>, compiled for the backend.</summary>
    public CompiledScenario Compile(ulong seed, Omissions? omissions = null, int? traceDepth = null, bool outcomes = false) =>
        new(WorkloadGenerator.Expand(Scenario, seed), Backend, Smmu, omissions, traceDepth, outcomes);
}

/// <summary>One finished run and what it measured.</summary>
/// <param name="Result">The engine's result.</param>
/// <param name="Metrics">Every counter by name, plus <c>time.simulated_ns</c>.</param>
public sealed record RunSummary(RunResult Result, IReadOnlyDictionary<string, long> Metrics)
{
    /// <summary>Every operation's outcome in this run and the run's count, when the scenario speaks of outcomes; else null.</summary>
    public OutcomeLog? Outcomes { get; init; }

    /// <summary>The invariant that broke, or null.</summary>
    public InvariantId? Invariant => Result.Report?.Violation.Id;

    /// <summary>Clean, the invariant that broke, deadlock or step limit.</summary>
    public Verdict Verdict => Result.Outcome switch
    {
        RunOutcome.Violation => Verdicts.Of(Invariant!.Value),
        RunOutcome.Deadlock => Verdict.Deadlock,
        RunOutcome.StepLimit => Verdict.StepLimit,
        _ => Verdict.Clean,
    };

    /// <summary>The key under which simulated time is stored.</summary>
    public const string SimulatedTime = "time.simulated_ns";

    /// <summary>Reads the metrics of <paramref name="machine"/> after <paramref name="result"/>.</summary>
    public static RunSummary Of(Machine machine, RunResult result)
    {
        var metrics = new SortedDictionary<string, long>(StringComparer.Ordinal);
        foreach (var c in machine.Metrics.All) metrics[c.Name] = c.Value;
        metrics[SimulatedTime] = machine.SimulatedNs;
        return new RunSummary(result, metrics);
    }
}

/// <summary>What a search found.</summary>
/// <param name="SchedulesRun">Schedules run, up to and including the violating one.</param>
/// <param name="Violation">The first violating run, or null.</param>
/// <param name="Exhausted">DFS ran out of schedules within its bound.</param>
/// <param name="Elapsed">Wall time.</param>
public sealed record SearchResult(long SchedulesRun, RunResult? Violation, bool Exhausted, TimeSpan Elapsed)
{
    /// <summary>Schedules per second of wall time.</summary>
    public double Rate => SchedulesRun / Math.Max(Elapsed.TotalSeconds, 1e-9);
}

/// <summary>How to search.</summary>
/// <param name="Strategy">random, pct or dfs.</param>
/// <param name="Schedules">Budget.</param>
/// <param name="Seed">First schedule seed (schedule i uses seed + i).</param>
/// <param name="PctDepth">PCT depth.</param>
/// <param name="PreemptionBound">DFS bound.</param>
public sealed record SearchOptions(string Strategy, long Schedules, ulong Seed, int PctDepth = 3, int PreemptionBound = 2)
{
    /// <summary>Schedules per chunk of a random or PCT search (the unit of progress and of resume).</summary>
    public const int ChunkSize = 1000;

    /// <summary>
    /// The search of <paramref name="scenario"/>: <paramref name="strategy"/> and <paramref name="schedules"/> when given, else
    /// the scenario's <c>explore</c> line (else its defaults), with its PCT depth and DFS bound; first seed <paramref name="seed"/>.
    /// </summary>
    public static SearchOptions For(Scenario scenario, string? strategy = null, long? schedules = null, ulong seed = 0) =>
        new(strategy ?? scenario.Search.Strategy, schedules ?? scenario.Search.Schedules, seed, scenario.Search.PctDepth, scenario.Search.PreemptionBound);

    /// <summary>
    /// The units of progress and of resume: random and PCT in chunks of <see cref="ChunkSize"/> (chunk k covers seeds
    /// seed + k·size ...); DFS one unit of the whole budget (its tree is not split).
    /// </summary>
    public IEnumerable<(ulong First, long Size)> Chunks()
    {
        if (EngineStrategy == ExploreStrategy.Dfs)
        {
            yield return (Seed, Schedules);
            yield break;
        }
        for (long offset = 0; offset < Schedules; offset += ChunkSize)
            yield return (Seed + (ulong)offset, Math.Min(ChunkSize, Schedules - offset));
    }

    /// <summary>The engine's strategy.</summary>
    public ExploreStrategy EngineStrategy => Strategy switch
    {
        "random" => ExploreStrategy.Random,
        "pct" => ExploreStrategy.Pct,
        "dfs" => ExploreStrategy.Dfs,
        _ => throw new ArgumentException($"unknown strategy '{Strategy}': expected random, pct or dfs"),
    };
}

/// <summary>Runs, searches and minimises.</summary>
public static class ScenarioRunner
{
    /// <summary>
    /// One schedule: seeded random when <paramref name="scheduleSeed"/> is given, else sequential (each thread runs as
    /// long as it can, lowest first).
    /// </summary>
    public static RunSummary RunOnce(CompiledScenario compiled, ulong? scheduleSeed)
    {
        var m = compiled.Build();
        ISchedulePolicy policy = scheduleSeed is ulong s ? new RandomPolicy(s) : new SequentialPolicy();
        return RunSummary.Of(m, m.Run(policy)) with { Outcomes = compiled.Outcomes };
    }

    /// <summary>
    /// Searches schedules of <paramref name="compiled"/>, chunk by chunk (<see cref="SearchOptions.Chunks"/>) up to the first
    /// violation. <paramref name="progress"/> gets the number of schedules run so far.
    /// </summary>
    public static SearchResult Search(CompiledScenario compiled, SearchOptions o, Action<long>? progress = null)
    {
        var clock = Stopwatch.StartNew();
        long run = 0;
        foreach (var (first, size) in o.Chunks())
        {
            var r = SearchChunk(compiled, o, first, size, progress is null ? null : n => progress(run + n));
            run += r.SchedulesRun;
            progress?.Invoke(run);
            if (r.FirstViolation is not null || r.Exhausted) return new SearchResult(run, r.FirstViolation, r.Exhausted, clock.Elapsed);
        }
        return new SearchResult(run, null, false, clock.Elapsed);
    }

    /// <summary>
    /// One chunk of a search: <paramref name="size"/> schedules from seed <paramref name="first"/>, up to the first violation.
    /// <paramref name="progress"/> gets the number of schedules of the chunk run so far, every 256.
    /// </summary>
    public static ExploreResult SearchChunk(CompiledScenario compiled, SearchOptions o, ulong first, long size, Action<long>? progress = null)
    {
        long built = 0;
        Machine Build()
        {
            if ((++built & 255) == 0) progress?.Invoke(built);
            return compiled.Build();
        }
        return Explorer.Explore(Build, new ExploreOptions(o.EngineStrategy, (int)Math.Min(size, int.MaxValue), first, o.PctDepth, o.PreemptionBound));
    }

    /// <summary>A minimised counterexample.</summary>
    /// <param name="Omitted">Threads and operations left out.</param>
    /// <param name="Result">The violating run of the minimised scenario (its schedule replays strictly).</param>
    /// <param name="Attempts">Runs tried.</param>
    public sealed record Minimised(Omissions Omitted, RunResult Result, int Attempts);

    /// <summary>
    /// Shrinks <paramref name="violation"/> of <paramref name="bound"/> (workload seed <paramref name="seed"/>): leaves out
    /// threads, then operations, then runs of schedule entries, each only while the same bug still shows: the same
    /// invariant and check, by the same agent at the same address, blaming the same operation. Dropping an operation
    /// the bug depends on (the driver's unmap_mapping_range before a revoke, say) changes one of these and is refused.
    /// At most <paramref name="maxAttempts"/> runs.
    /// </summary>
    public static Minimised Minimise(BoundScenario bound, ulong seed, RunResult violation, int maxAttempts = 400)
    {
        var original = violation.Report!.Violation;
        var scenario = WorkloadGenerator.Expand(bound.Scenario, seed);
        var threads = new List<string>();
        var ops = new List<(string, int)>();
        var schedule = violation.Schedule.ToList();
        var best = violation;
        int attempts = 0;

        bool Try(List<string> t, List<(string, int)> o, List<int> s)
        {
            if (attempts >= maxAttempts) return false;
            attempts++;
            using var compiled = new CompiledScenario(scenario, bound.Backend, bound.Smmu, new Omissions(t.ToList(), o.ToList()));
            var m = compiled.Build();
            RunResult r;
            try { r = m.Run(new LenientReplayPolicy(s)); }
            catch (Exception e) when (e is ProgramException or InvalidOperationException or KeyNotFoundException or ArgumentException or SimulationInternalError)
            {
                // A shortened run an operation cannot take (an exit of a child never forked): not kept. A plugin fault
                // is not caught: it stops the command as it would any run.
                return false;
            }
            if (r.Outcome != RunOutcome.Violation || !SameBug(r.Report!.Violation, original)) return false;
            // Dropping schedule entries must shorten the run: the lenient replay may just fill the gap.
            if (t.Count == threads.Count && o.Count == ops.Count && r.Schedule.Count >= schedule.Count) return false;
            best = r;
            schedule = r.Schedule.ToList();
            return true;
        }

        // Threads: entity ids after an omitted thread shift down by one.
        var names = scenario.Threads.Select(t => t.Name).ToList();
        for (int i = names.Count - 1; i >= 0 && names.Count - threads.Count > 1; i--)
        {
            int id;
            using (var current = new CompiledScenario(scenario, bound.Backend, bound.Smmu, new Omissions(threads, ops)))
            {
                current.Build();
                id = current.ThreadIds[names[i]];
            }
            var s = schedule.Where(e => e != id).Select(e => e > id ? e - 1 : e).ToList();
            var t = threads.Append(names[i]).ToList();
            if (Try(t, ops, s)) threads = t;
        }
        foreach (var thread in scenario.Threads.Where(t => !threads.Contains(t.Name)))
            for (int i = thread.Ops.Count - 1; i >= 0; i--)
            {
                var o = ops.Append((thread.Name, i)).ToList();
                if (Try(threads, o, schedule)) ops = o;
            }
        for (int chunk = Math.Max(1, schedule.Count / 2); chunk >= 1; chunk /= 2)
            for (int start = 0; start + chunk <= schedule.Count;)
            {
                var s = schedule.Take(start).Concat(schedule.Skip(start + chunk)).ToList();
                if (!Try(threads, ops, s)) start += chunk;
            }
        return new Minimised(new Omissions(threads, ops), best, attempts);
    }

    /// <summary>Two violations show the same bug: invariant, check, agent, address and the operation blamed.</summary>
    public static bool SameBug(Violation a, Violation b) =>
        a.Id == b.Id && a.Check == b.Check && a.Agent == b.Agent && a.Address == b.Address && a.Culprit == b.Culprit;
}

/// <summary>
/// Follows a schedule of entity ids, skipping entries that are not runnable (a left-out step); when the schedule
/// runs out, keeps the lowest runnable id. The minimiser's policy: the run it produces is re-recorded.
/// </summary>
public sealed class LenientReplayPolicy(IReadOnlyList<int> schedule) : ISchedulePolicy
{
    private int _at;

    /// <inheritdoc/>
    public int Choose(ReadOnlySpan<ISchedulable> runnable, long step)
    {
        while (_at < schedule.Count)
        {
            int want = schedule[_at++];
            for (int i = 0; i < runnable.Length; i++)
                if (runnable[i].Id == want) return i;
        }
        return 0;
    }
}
