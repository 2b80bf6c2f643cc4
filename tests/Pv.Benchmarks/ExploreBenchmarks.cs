// Z1 explore throughput: scenarios/zoo/z1-gup-fast-vs-munmap-fixed.pvl on its backend (xen-pv) from the repository's
// plugins.json through the real loader. An invocation is one chunk of the scenario's PCT search as `pv explore`
// draws it (schedule seeds 0-999, PCT depth from the scenario), the same schedules every time; results are per
// schedule (OperationsPerInvoke). A chunk that finds a violation or stops short fails the benchmark.
//   Schedule - one PCT schedule end to end, as a search runs it (ScenarioRunner.SearchChunk: a ready machine from
//              CompiledScenario.Build, then the run). Schedules/s per core = 1e9 / Mean; Allocated is per schedule.
//   Prepare  - the ready machine for the next schedule alone (CompiledScenario.Build).
//   Run      - the run alone: the same chunk through the engine's Explorer on machines made ready beforehand (an
//              IterationSetup, one compiled scenario per machine, so an iteration is one invocation). The chunk's
//              1,000 ready machines (about 42 KB each) are not in cache as the one a search has just prepared is:
//              Run is an upper bound on the run inside Schedule (a rough check on the 2-core dev VM, fastest of many
//              batches: 1,000 ready machines ran about 10% slower per schedule than 64, or than just-prepared ones).
// Every benchmark first runs 20 chunks end to end in its global set-up, so that the engine's code is at tier 1.
// Steps/schedule and Time/step: the chunk's steps (entity choices) per schedule, counted once in the host process
// by running the chunk as Run does, and Mean divided by it.
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;
using Pv.Engine;
using Pv.Engine.Sched;
using Pv.Hosting;
using Pv.Scenarios.Litmus;
using Pv.Scenarios.Running;
using Pv.Testing;

namespace Pv.Benchmarks;

[MemoryDiagnoser]
[Config(typeof(StepColumns))]
public class ExploreBenchmarks
{
    private const int Schedules = SearchOptions.ChunkSize;
    private const ulong FirstSeed = 0;
    private const int WarmUpChunks = 20;

    private PluginCatalog _catalog = null!;
    private BoundScenario _bound = null!;
    private SearchOptions _search = null!;
    private CompiledScenario _compiled = null!;
    private CompiledScenario[] _batch = [];
    private readonly Machine[] _ready = new Machine[Schedules];

    [GlobalSetup(Targets = [nameof(Schedule), nameof(Prepare)])]
    public void Setup()
    {
        _catalog = PluginCatalog.Load(Path.Combine(Fixtures.RepoRoot, "plugins.json"));
        _bound = BoundScenario.Load(Path.Combine(Fixtures.RepoRoot, "scenarios", "zoo", "z1-gup-fast-vs-munmap-fixed.pvl"), _catalog);
        _search = SearchOptions.For(_bound.Scenario, schedules: Schedules, seed: FirstSeed);
        BenchMachines.Check(_search.EngineStrategy == ExploreStrategy.Pct, $"Z1 searches with PCT (found {_search.Strategy})");
        _compiled = _bound.Compile(FirstSeed);
        // Tiered JIT: the engine's code reaches tier 1 only after several thousand schedules. Run's iterations are
        // one chunk each, so a few warm-up iterations would still measure tier-0 code: every benchmark warms up here.
        for (int i = 0; i < WarmUpChunks; i++) Schedule();
    }

    /// <summary>Setup, and one compiled scenario per schedule of the chunk (only Run keeps a chunk of machines alive).</summary>
    [GlobalSetup(Target = nameof(Run))]
    public void SetupRun()
    {
        Setup();
        _batch = [.. Enumerable.Range(0, Schedules).Select(_ => _bound.Compile(FirstSeed))];
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        foreach (var c in _batch) c.Dispose();
        _compiled.Dispose();
        _catalog.Dispose();
    }

    [Benchmark(OperationsPerInvoke = Schedules)]
    public int Schedule() => CheckClean(ScenarioRunner.SearchChunk(_compiled, _search, FirstSeed, Schedules));

    [Benchmark]
    public Machine Prepare()
    {
        var m = _compiled.Build();
        BenchMachines.Check(_compiled.ThreadIds.Count == _bound.Scenario.Threads.Count, "every thread of Z1 is loaded");
        return m;
    }

    [IterationSetup(Target = nameof(Run))]
    public void MakeReady()
    {
        for (int i = 0; i < Schedules; i++) _ready[i] = _batch[i].Build();
    }

    [Benchmark(OperationsPerInvoke = Schedules)]
    public int Run()
    {
        int next = 0;
        var r = Explorer.Explore(() => _ready[next++], new ExploreOptions(_search.EngineStrategy, Schedules, FirstSeed, _search.PctDepth, _search.PreemptionBound));
        return CheckClean(r);
    }

    private static int CheckClean(ExploreResult r)
    {
        BenchMachines.Check(r.FirstViolation is null && r.SchedulesRun == Schedules,
            $"Z1 fixed runs {Schedules} clean schedules (found {r.SchedulesRun}, violation: {r.FirstViolation?.Report?.Violation.ToString() ?? "none"})");
        return r.SchedulesRun;
    }

    /// <summary>Steps per schedule of the chunk: Run once, then each ready machine's schedule (one entry per step).</summary>
    private static double StepsPerSchedule()
    {
        var b = new ExploreBenchmarks();
        b.SetupRun();
        try
        {
            b.MakeReady();
            b.Run();
            return b._ready.Sum(m => (double)m.Schedule.Count) / Schedules;
        }
        finally
        {
            b.Cleanup();
        }
    }

    private sealed class StepColumns : ManualConfig
    {
        private static readonly Lazy<double> Steps = new(StepsPerSchedule);

        public StepColumns() => AddColumn(
            new StepColumn("Steps/schedule", "Steps (entity choices) per schedule of the chunk", (_, _) => Steps.Value.ToString("N2")),
            new StepColumn("Time/step", "Mean divided by Steps/schedule", (summary, c) =>
                summary[c]?.ResultStatistics is { } s ? $"{s.Mean / Steps.Value:N1} ns" : "NA"));
    }

    /// <summary>A column of the benchmarks that run schedules (not Prepare).</summary>
    private sealed class StepColumn(string name, string legend, Func<Summary, BenchmarkCase, string> value) : IColumn
    {
        public string Id => nameof(StepColumn) + "." + name;
        public string ColumnName => name;
        public bool AlwaysShow => true;
        public ColumnCategory Category => ColumnCategory.Custom;
        public int PriorityInCategory => 0;
        public bool IsNumeric => true;
        public UnitType UnitType => UnitType.Dimensionless;
        public string Legend => legend;
        public bool IsAvailable(Summary summary) => true;
        public bool IsDefault(Summary summary, BenchmarkCase benchmarkCase) => false;
        public string GetValue(Summary summary, BenchmarkCase benchmarkCase, SummaryStyle style) => GetValue(summary, benchmarkCase);
        public string GetValue(Summary summary, BenchmarkCase benchmarkCase) =>
            benchmarkCase.Descriptor.WorkloadMethod.Name == nameof(Prepare) ? "-" : value(summary, benchmarkCase);
    }
}
