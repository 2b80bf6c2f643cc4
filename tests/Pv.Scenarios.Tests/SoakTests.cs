// The soak's generator and runner: the same seed writes the same text; every generated scenario passes the
// parser's checks and fits its backend's MMU model (for hardware and host-mapping targets, with toggles); a
// small soak runs end to end through the real plugin loader and counts what it ran, the same on any number of
// workers and, summed, over any number of shards; and a toggle turned off is found by the oracle (the
// generator leans toward the toggle's shape, it never names it).
using Pv.Scenarios.Litmus;
using Pv.Scenarios.Running;
using Pv.Scenarios.Soak;

namespace Pv.Scenarios.Tests;

public sealed class SoakTests
{
    private static readonly SoakTarget X86 = new("x86-native", false, []);
    private static readonly SoakTarget Uml = new("uml", true, [new("pfnmap-force-flush", false), new("strict-o3", true)]);

    private static string OutDir() => Path.Combine(Path.GetTempPath(), "pv-tests", "soak-" + Guid.NewGuid().ToString("N"));

    [Fact]
    public void The_same_seed_writes_the_same_text()
    {
        for (ulong seed = 0; seed < 50; seed++)
            Assert.Equal(SoakGenerator.Generate(seed, X86), SoakGenerator.Generate(seed, X86));
        Assert.NotEqual(SoakGenerator.Generate(1, X86), SoakGenerator.Generate(2, X86));
    }

    [Fact]
    public void Every_generated_scenario_parses_and_binds()
    {
        foreach (var target in new[] { X86, Uml })
            for (ulong seed = 0; seed < 300; seed++)
            {
                string text = SoakGenerator.Generate(seed, target);
                Scenario scenario;
                try
                {
                    scenario = ScenarioParser.Parse($"soak-{seed}.pvl", text);
                }
                catch (ScenarioException e)
                {
                    Assert.Fail($"seed {seed} ({target.Backend}): {string.Join("; ", e.Diagnostics)}\n{text}");
                    throw;
                }
                Assert.InRange(scenario.Threads.Count(t => t.Kind == Pv.Engine.Sched.ThreadKind.User), 2, 4);
                Assert.InRange(scenario.Options.Cpus, target.HostMappings ? 1 : 2, target.HostMappings ? 1 : 4);
                // No mmu line: the backend's declaration gives the model, and binding checks that the scenario fits it.
                Assert.Null(scenario.Mmu);
                Assert.Equal(target.Backend, BoundScenario.Bind(scenario, ZooTests.Catalog.Value).Backend.Name);
            }
    }

    [Fact]
    public void A_small_soak_runs_end_to_end_and_counts_what_it_ran()
    {
        var o = new SoakOptions(3, 20, 7, ["x86-native", "uml"], [], OutDir());
        var r = SoakRunner.Run(SoakRunner.Validate(o, ZooTests.Catalog.Value));
        Assert.Equal(3, r.Scenarios);
        Assert.Equal(["x86-native", "uml"], r.Backends.Select(b => b.Backend));
        Assert.All(r.Backends, b => Assert.InRange(b.Schedules, 1, 3 * 20 * SoakRunner.Strategies.Count));
        Assert.DoesNotContain(r.Findings, f => f.Verdict == Verdict.InvalidScenario);
        foreach (var f in r.Findings)
        {
            // Each finding is saved the way pv explore saves one: the scenario file and a counterexample naming it.
            Assert.True(File.Exists(f.ScenarioFile));
            var cx = Counterexample.Load(f.CounterexampleFile!);
            Assert.Equal(f.ScenarioFile, cx.Scenario);
            Assert.Equal(ScenarioParser.ParseFile(f.ScenarioFile).Hash, cx.ScenarioHash);
        }
    }

    [Fact]
    public void A_soak_gives_the_same_result_on_every_number_of_workers()
    {
        // Seed 13 catches the toggled-off fix on both backends (see below), so findings are compared too, not only counts.
        string Summary(int jobs)
        {
            var plan = SoakRunner.Validate(new SoakOptions(4, 60, 12, ["x86-native", "xen-pv"], [new("nested-flush", false)], OutDir()), ZooTests.Catalog.Value);
            var r = SoakRunner.Run(plan, jobs: jobs);
            return string.Join("; ", r.Backends.Select(b => $"{b.Backend} {b.Schedules} {b.ScenariosWithViolation}"))
                + " | " + string.Join("; ", r.Findings.Select(f => $"{f.ScenarioSeed} {f.Backend} {f.Strategy} {f.Verdict.ToText()} {f.Schedules}"));
        }
        string one = Summary(1);
        Assert.Equal(one, Summary(2));
        Assert.Equal(one, Summary(4));
    }

    [Fact]
    public void The_shards_of_a_soak_together_run_and_find_what_the_unsharded_soak_does()
    {
        var plan = SoakRunner.Validate(new SoakOptions(4, 60, 12, ["x86-native", "xen-pv"], [new("nested-flush", false)], OutDir()), ZooTests.Catalog.Value);
        var whole = SoakRunner.Run(plan);
        var shards = Enumerable.Range(0, 3).Select(k => SoakRunner.Run(plan, jobs: 2, shard: new Shard(k, 3))).ToList();
        Assert.Equal([2, 1, 1], shards.Select(s => s.Scenarios));
        Assert.Equal(whole.Backends.Select(b => (b.Backend, b.Schedules, b.ScenariosWithViolation)),
            whole.Backends.Select((b, i) => (b.Backend, shards.Sum(s => s.Backends[i].Schedules), shards.Sum(s => s.Backends[i].ScenariosWithViolation))));
        Assert.NotEmpty(whole.Findings);
        Assert.Equal(whole.Findings, shards.SelectMany(s => s.Findings).OrderBy(f => f.ScenarioSeed));
    }

    [Fact]
    public void A_soak_of_every_fixed_backend_finds_nothing()
    {
        // The project's false-positive soak, a small budget of it: `pv soak` runs the large one (docs/soak.md).
        var o = new SoakOptions(12, 60, 100, SoakRunner.DefaultBackends, [], OutDir());
        var r = SoakRunner.Run(SoakRunner.Validate(o, ZooTests.Catalog.Value));
        Assert.True(r.Findings.Count == 0, string.Join("\n", r.Findings.Select(f => $"{f.Backend} seed {f.ScenarioSeed}: {f.Message}")));
        Assert.All(r.Backends, b => Assert.True(b.Schedules > 0));
    }

    [Theory]
    [InlineData(13UL, "nested-flush", Verdict.O3)]
    [InlineData(25UL, "pfnmap-force-flush", Verdict.O4)]
    public void The_generator_finds_a_kernel_toggle_turned_off_and_nothing_with_it_on(ulong seed, string toggle, Verdict invariant)
    {
        var off = SoakRunner.Run(SoakRunner.Validate(new SoakOptions(1, 200, seed, ["x86-native"], [new(toggle, false)], OutDir()), ZooTests.Catalog.Value));
        Assert.Contains(off.Findings, f => f.Verdict == invariant);
        var on = SoakRunner.Run(SoakRunner.Validate(new SoakOptions(1, 200, seed, ["x86-native"], [], OutDir()), ZooTests.Catalog.Value));
        Assert.Empty(on.Findings);
    }

    [Fact]
    public void A_toggle_turned_off_is_found_by_the_oracle()
    {
        // batch-failure-invalidate off (Z6): a failing table batch frees a PTE table a CPU's walk cache still holds.
        var o = new SoakOptions(12, 100, 0, ["x86-native-6.15"], [new("batch-failure-invalidate", false)], OutDir());
        var r = SoakRunner.Run(SoakRunner.Validate(o, ZooTests.Catalog.Value));
        var o2 = r.Findings.Where(f => f.Verdict == Verdict.O2).ToList();
        Assert.NotEmpty(o2);
        Assert.All(o2, f => Assert.Contains("option batch-failure-invalidate off", File.ReadAllText(f.ScenarioFile)));
        Assert.True(r.DetectionRate > 0);
    }

    [Theory]
    [InlineData("nested-flush=off", true, "nested-flush", false)]
    [InlineData("strict-o3=on", true, "strict-o3", true)]
    [InlineData("nested-flush", false, "", false)]
    [InlineData("nested-flush=no", false, "", false)]
    [InlineData("=off", true, "", false)]
    public void A_toggle_is_NAME_on_or_NAME_off(string text, bool ok, string name, bool on)
    {
        Assert.Equal(ok, SoakRunner.TryParseToggle(text, out var toggle));
        if (!ok) return;
        Assert.Equal(new KeyValuePair<string, bool>(name, on), toggle);
        Assert.Equal(text, SoakRunner.ToggleText(toggle));
    }

    [Fact]
    public void A_toggle_name_is_checked_against_the_parser_s_toggles()
    {
        var e = Assert.Throws<Pv.Engine.PvInputException>(() => SoakRunner.Validate(new SoakOptions(1, 1, 0, ["x86-native"], [new("", false)], OutDir()), ZooTests.Catalog.Value));
        Assert.Contains("unknown option ''", e.Message);
    }

    [Fact]
    public void Findings_are_tallied_per_backend_and_verdict()
    {
        var plan = SoakRunner.Validate(new SoakOptions(2, 200, 13, ["x86-native"], [new("nested-flush", false)], OutDir()), ZooTests.Catalog.Value);
        Assert.Equal(["x86-native"], plan.Backends.Select(b => b.Name));
        var r = SoakRunner.Run(plan);
        Assert.NotEmpty(r.Findings);
        var tallies = r.ByInvariant;
        Assert.Equal(r.Findings.Count, tallies.Sum(t => t.Findings));
        foreach (var t in tallies)
        {
            var mine = r.Findings.Where(f => f.Backend == t.Backend && f.Verdict == t.Verdict).ToList();
            Assert.Equal((mine.Count, mine.Select(f => f.ScenarioSeed).Distinct().Count()), (t.Findings, t.Scenarios));
        }
        Assert.Equal(tallies.OrderBy(t => t.Backend, StringComparer.Ordinal).ThenBy(t => t.Verdict.ToText(), StringComparer.Ordinal), tallies);
    }
}
