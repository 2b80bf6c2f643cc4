// Legal-looking input that used to crash or run unbounded: each gets one located error before anything
// runs (or, for what only a run can see, an error at the operation's line), never a stack trace, a
// follow-on error or an out-of-memory.
using Pv.Engine;
using Pv.Engine.Sched;
using Pv.Engine.Programs;
using Pv.Scenarios.Litmus;
using Pv.Scenarios.Running;

namespace Pv.Scenarios.Tests;

public sealed class BoundedInputTests
{
    private const string Header = ParserTests.Header;

    private static ScenarioDiagnostic Single(string text) => ParserTests.Single(text);

    [Theory]
    [InlineData("mm a\n  vma 0x40000000 8K rw\nmm a\n  vma 0x40000000 8K rw\nthread t cpu 0 mm a\n  read 0x40000000\n", 4, "mm 'a' is declared twice")]
    [InlineData("file f pages 1\nfile f pages 1\nmm a\n  vma 0x40000000 8K rw\nthread t cpu 0 mm a\n  read 0x40000000\n", 3, "file or device 'f' is declared twice")]
    [InlineData("mm a\n  vma 0x40000000 1024G rw\n  populate 0x40000000 1024G\nthread t cpu 0 mm a\n  read 0x40000000\n", 1, "at most 1,048,576")]
    [InlineData("mm a\n  vma 0x40000000 8K rw\n  populate 0x40000000 1G\nthread t cpu 0 mm a\n  read 0x40000000\n", 4, "address 0x40002000 is outside every VMA")]
    [InlineData("mm a\n  vma 0xfffffffffffff000 8K rw\nthread t cpu 0 mm a\n  read 0x40000000\n", 3, "runs past the end of the address space")]
    [InlineData("cpus 2\nworkload munmap-heavy\n  pages 4097\n", 4, "pages per region must be 1..4096")]
    [InlineData("cpus 64\nworkload munmap-heavy\n  ops 1000000\n", 3, "at most 1,048,576")]
    public void Each_oversized_or_duplicate_declaration_is_one_located_error(string body, int line, string message)
    {
        var d = Single("backend x86-native\n" + body);
        Assert.Equal(line, d.At.Line);
        Assert.Contains(message, d.Message);
    }

    [Fact]
    public void A_line_reports_its_first_error_only_and_an_mm_with_a_broken_line_raises_no_address_errors()
    {
        // '1T' is no length: the rest of the line and the later address check would only echo it.
        var d = Single(Header + "  vma 0x50000000 1T rw\nthread t cpu 0 mm a\n  read 0x50000000\n");
        Assert.Equal((5, 18), (d.At.Line, d.At.Column));
    }

    [Fact]
    public void Times_beyond_the_operation_budget_is_refused_before_it_queues_anything()
    {
        string ops = string.Concat(Enumerable.Repeat("  read 0x40000000 times 100000\n", 11));
        var d = Single(Header + "thread t cpu 0 mm a\n" + ops);
        Assert.Contains("the threads queue 1,100,000 operations", d.Message);
    }

    [Theory]
    [InlineData("write 0x40000000")]
    [InlineData("gup-fast 0x40000000")]
    [InlineData("irq-off")]
    public void An_sva_thread_runs_only_dma_operations(string op)
    {
        var d = Single("backend arm64-native\nsmmu arm64-smmu-v6.6\nmm a\n  vma 0x40000000 8K rw\nthread dev sva mm a\n  " + op + "\n");
        Assert.Equal((6, 3), (d.At.Line, d.At.Column));
        Assert.Contains("an sva thread runs dma-read, dma-write, unbind and wait-for", d.Message);
    }

    [Fact]
    public void A_secondary_mmu_named_as_the_cpu_backend_and_a_cpu_backend_named_as_smmu_are_located()
    {
        var smmuAsCpu = Assert.Throws<ScenarioException>(() => BoundScenario.Bind(
            ScenarioParser.Parse("t.pvl", "backend arm64-smmu-v6.6\nmm a\n  vma 0x40000000 8K rw\nthread t cpu 0 mm a\n  read 0x40000000\n"), ZooTests.Catalog.Value));
        Assert.Equal((1, 9), (smmuAsCpu.Diagnostics[0].At.Line, smmuAsCpu.Diagnostics[0].At.Column));
        Assert.Contains("is a secondary MMU", smmuAsCpu.Diagnostics[0].Message);
        var cpuAsSmmu = Assert.Throws<ScenarioException>(() => BoundScenario.Bind(
            ScenarioParser.Parse("t.pvl", "backend arm64-native\nsmmu x86-native\nmm a\n  vma 0x40000000 8K rw\nthread t sva mm a\n  dma-read 0x40000000\n"), ZooTests.Catalog.Value));
        Assert.Equal(2, cpuAsSmmu.Diagnostics[0].At.Line);
        Assert.Contains("is a CPU backend", cpuAsSmmu.Diagnostics[0].Message);
    }

    [Fact]
    public void A_run_time_misuse_points_at_the_operation_that_asked_for_it()
    {
        var bound = BoundScenario.Bind(ScenarioParser.Parse("t.pvl",
            Header + "  populate 0x40000000 8K\nthread t cpu 0 mm a\n  irq-off\n  munmap 0x40000000 8K\nthread u cpu 1 mm a\n  read 0x40000000\n"), ZooTests.Catalog.Value);
        using var compiled = bound.Compile(0);
        var e = Assert.Throws<ProgramException>(() => compiled.Build().Run(new SequentialPolicy()));
        Assert.Equal(new SourceSpan("t.pvl", 8, 3), e.At);
        Assert.Contains("smp_call_function with IRQs disabled would deadlock", e.Message);
        Assert.Equal("t", e.Agent);
    }

    [Fact]
    public void Fail_alloc_hits_the_operations_not_the_setup()
    {
        // The populated setup allocates data pages; the one injected failure must still be there for the write's fault.
        var bound = BoundScenario.Bind(ScenarioParser.Parse("t.pvl",
            "backend x86-native\nfail-alloc data-page 1\nmm a\n  vma 0x40000000 8K rw\n  populate 0x40000000 4K\nthread t cpu 0 mm a\n  write 0x40001000\n"),
            ZooTests.Catalog.Value);
        using var compiled = bound.Compile(0);
        var m = compiled.Build();
        Assert.Equal(0, m.Metrics.AllocFailures.Value);
        m.Run(new SequentialPolicy());
        Assert.Equal(1, m.Metrics.AllocFailures.Value);
    }

    [Fact]
    public void Endless_or_null_input_files_are_refused_with_their_name()
    {
        var scenario = Assert.Throws<ScenarioException>(() => ScenarioParser.ParseFile("/dev/zero"));
        Assert.Contains("is larger than 16,777,216 bytes", Assert.Single(scenario.Diagnostics).Message);
        var cx = Assert.Throws<ScenarioException>(() => Counterexample.Load("/dev/zero"));
        Assert.Contains("cannot read the counterexample", Assert.Single(cx.Diagnostics).Message);
        string path = Fixtures.WriteFile("null.cx.json", """
            { "scenario": "/x.pvl", "scenarioHash": "00", "backend": "x86-native", "seed": 0, "strategy": "pct", "invariant": "O2",
              "violation": "v", "omitThreads": [], "omitOps": [], "schedule": null, "pvVersion": "1" }
            """);
        var nullSchedule = Assert.Single(Assert.Throws<ScenarioException>(() => Counterexample.Load(path)).Diagnostics);
        Assert.Equal("not a counterexample file: $.schedule: is null; a value is required", nullSchedule.Message);
        Assert.Equal(2, nullSchedule.At.Line);
    }
}
