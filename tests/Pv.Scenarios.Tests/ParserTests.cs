// The .pvl reader: errors name file, line and column and what was expected, and come before anything runs;
// numbers, blocks and operations parse as docs/scenarios.md says; a run is deterministic.
using Pv.Scenarios.Litmus;
using Pv.Scenarios.Running;
using Pv.Engine.Programs;

namespace Pv.Scenarios.Tests;

public sealed class ParserTests
{
    internal const string Header = "backend x86-native\ncpus 2\nmm a\n  vma 0x40000000 8K rw\n";

    /// <summary>The one problem the parser reports in <paramref name="text"/>.</summary>
    internal static ScenarioDiagnostic Single(string text)
    {
        var e = Assert.Throws<ScenarioException>(() => ScenarioParser.Parse("t.pvl", text));
        return Assert.Single(e.Diagnostics);
    }

    [Fact]
    public void Unknown_operation_names_line_column_and_the_operations()
    {
        var d = Single(Header + "thread t cpu 0 mm a\n  munmpa 0x40000000 4K\n");
        Assert.Equal(new SourceSpan("t.pvl", 6, 3), d.At);
        Assert.Contains("unknown operation 'munmpa'", d.Message);
        Assert.Contains("munmap", d.Message);
    }

    [Fact]
    public void A_kernel_thread_s_vmalloc_range_is_one_other_threads_may_use()
    {
        // vmalloc maps into init_mm whoever asks: the range a kernel thread with no mm allocates is valid for the others.
        var s = ScenarioParser.Parse("t.pvl", Header + "thread k cpu 0 kernel\n  vmalloc 0xffffc90000000000 8K\nthread f cpu 1 mm a\n  wait-for k\n  read 0xffffc90000001000\n");
        Assert.Equal(2, s.Threads.Count);
    }

    [Fact]
    public void Address_outside_every_vma_is_an_error()
    {
        var d = Single(Header + "thread t cpu 0 mm a\n  read 0x50000000\n");
        Assert.Equal((6, 3), (d.At.Line, d.At.Column));
        Assert.Contains("outside every VMA", d.Message);
    }

    [Fact]
    public void Cpu_index_out_of_range_points_at_the_index()
    {
        var d = Single(Header + "thread t cpu 2 mm a\n  read 0x40000000\n");
        Assert.Equal((5, 14), (d.At.Line, d.At.Column));
        Assert.Contains("CPU index 2 is out of range", d.Message);
    }

    [Fact]
    public void Unknown_backend_is_an_error_before_anything_runs()
    {
        string path = Fixtures.WriteFile("s.pvl", "backend no-such\nmm a\n  vma 0x1000 4K rw\nthread t cpu 0 mm a\n  read 0x1000\n");
        var e = Assert.Throws<ScenarioException>(() => BoundScenario.Load(path, ZooTests.Catalog.Value));
        var d = Assert.Single(e.Diagnostics);
        Assert.Equal((1, 9), (d.At.Line, d.At.Column));
        Assert.Contains("unknown backend 'no-such'", d.Message);
        Assert.Contains("xen-pv", d.Message);
    }

    [Fact]
    public void Every_problem_is_reported_with_what_was_expected()
    {
        var e = Assert.Throws<ScenarioException>(() => ScenarioParser.Parse("t.pvl",
            "backend x\nexpect O9\noption pfnmap-force-flush maybe\nmm a\n  vma 0x1001 4K rw\nthread t cpu 0 mm a\n  mprotect 0x1000 4K rwq\n"));
        Assert.Contains(e.Diagnostics, d => d.At.Line == 2 && d.Message.Contains("expected clean or an invariant O1..O7"));
        Assert.Contains(e.Diagnostics, d => d.At.Line == 3 && d.Message.Contains("expected on or off"));
        Assert.Contains(e.Diagnostics, d => d.At.Line == 5 && d.Message.Contains("not page-aligned"));
        Assert.Contains(e.Diagnostics, d => d.At.Line == 7 && d.Message.Contains("expected a protection"));
    }

    [Theory]
    [InlineData("cost ipiInitator 900", "cost key 'ipiInitator' is neither an engine cost nor one backend 'x86-native' declares; did you mean 'ipiInitiator'? known keys: tlbHit,")]
    [InlineData("cost IpiInitiator 900", "cost key 'IpiInitiator' was renamed 'ipiInitiator'")]
    [InlineData("cost cmdqSync 900", "cost key 'cmdqSync' is neither an engine cost nor one backend 'x86-native' declares; known keys: tlbHit,")]
    public void A_cost_line_is_checked_against_the_backend_where_it_is_written(string line, string message)
    {
        string path = Fixtures.WriteFile("cost.pvl", Header + line + "\nexpect clean\nthread t cpu 1 mm a\n  write 0x40001000\n");
        var bound = BoundScenario.Load(path, ZooTests.Catalog.Value);
        var e = Assert.Throws<ScenarioException>(() => bound.Compile(0));
        var d = Assert.Single(e.Diagnostics);
        Assert.Equal((5, 6), (d.At.Line, d.At.Column));
        Assert.StartsWith(message, d.Message);
    }

    [Fact]
    public void A_cost_line_sets_an_engine_cost_or_one_the_backend_declares()
    {
        string path = Fixtures.WriteFile("cost.pvl", Header + "cost tlbSinglePageFlushCeiling 0\ncost ipiInitiator 9\nexpect clean\nthread t cpu 1 mm a\n  write 0x40001000\n");
        using var compiled = BoundScenario.Load(path, ZooTests.Catalog.Value).Compile(0);
        var m = compiled.Build();
        Assert.Equal((0L, 9L, 25L), (m.Cost.Value("tlbSinglePageFlushCeiling"), m.Cost.Model.IpiInitiator, m.Cost.Model.WalkLevel));
    }

    [Fact]
    public void A_litmus_file_parses_into_machine_mms_and_threads()
    {
        var s = ScenarioParser.Parse("t.pvl", Header + "option strict-o3 on\ncost ipiInitiator 900\nexpect O3\nthread t cpu 1 mm a\n  write 0x40001000 times 3 # comment\n  madvise dontneed 0x40000000 8K\n");
        Assert.True(s.Options.StrictO3);
        Assert.Equal(("ipiInitiator", 900L), (s.Cost[0].Key, s.Cost[0].Value));
        Assert.Equal(Pv.Scenarios.Running.Verdict.O3, s.Expect.Verdict);
        var t = Assert.Single(s.Threads);
        Assert.Equal([OpKind.Write, OpKind.MadviseDontneed], t.Ops.Select(o => o.Kind));
        Assert.Equal(3, t.Ops[0].Times);
        Assert.Equal(0x2000UL, t.Ops[1].Length);
    }

    [Fact]
    public void Same_scenario_backend_and_seed_give_the_same_run()
    {
        var bound = BoundScenario.Load(Path.Combine(Fixtures.RepoRoot, "scenarios", "zoo", "z3-pfnmap-unmap-mapping-range-fixed.pvl"), ZooTests.Catalog.Value);
        using var c1 = bound.Compile(0);
        using var c2 = bound.Compile(0);
        var a = ScenarioRunner.RunOnce(c1, 42);
        var b = ScenarioRunner.RunOnce(c2, 42);
        Assert.Equal(a.Result.TraceHash, b.Result.TraceHash);
        Assert.Equal(a.Metrics, b.Metrics);
    }

    [Fact]
    public void Every_shipped_scenario_parses_and_runs_one_schedule()
    {
        foreach (var file in Directory.GetFiles(Path.Combine(Fixtures.RepoRoot, "scenarios"), "*.pvl", SearchOption.AllDirectories))
        {
            var bound = BoundScenario.Load(file, ZooTests.Catalog.Value);
            using var c = bound.Compile(1);
            var r = ScenarioRunner.RunOnce(c, 1);
            Assert.True(r.Result.Steps > 0, file);
        }
    }
}
