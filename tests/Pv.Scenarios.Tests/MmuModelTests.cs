// A backend's MMU model (PvBackendInfo.Mmu) is the model of every scenario bound to it: UML's scenarios need no
// `mmu` line and run exactly as they did with one; a line only the other model can run parses, and is refused when
// the scenario is bound, at that line and saying why; an `mmu` line that disagrees with the backend is refused too.
using Pv.Engine.Programs;
using Pv.Scenarios.Litmus;
using Pv.Scenarios.Running;

namespace Pv.Scenarios.Tests;

public sealed class MmuModelTests
{
    private const string Uml = "backend uml\ncpus 2\nmm proc\n  vma 0x40000000 16K rw\nthread proc cpu 0 mm proc\n  write 0x40000000\n";
    private const string HostPrefix = "backend 'uml' translates through host mappings (User-Mode Linux: no hardware TLB): ";

    /// <summary><paramref name="text"/> parsed (it must parse) and bound, to <paramref name="backend"/> when given.</summary>
    private static BoundScenario Bind(string text, string? backend = null) =>
        BoundScenario.Bind(ScenarioParser.Parse("t.pvl", text), ZooTests.Catalog.Value, backend);

    /// <summary>The one problem binding <paramref name="text"/> reports; the text parses.</summary>
    private static ScenarioDiagnostic RefusedWhenBound(string text)
    {
        var scenario = ScenarioParser.Parse("t.pvl", text);
        return Assert.Single(Assert.Throws<ScenarioException>(() => BoundScenario.Bind(scenario, ZooTests.Catalog.Value)).Diagnostics);
    }

    public static TheoryData<string> UmlEntries() =>
        [.. Directory.GetFiles(Path.Combine(Fixtures.RepoRoot, "scenarios", "zoo"), "z4-*.pvl").Select(f => Path.GetFileName(f))];

    [Theory]
    [MemberData(nameof(UmlEntries))]
    public void A_uml_entry_without_the_mmu_line_runs_as_it_did_with_it(string file)
    {
        // The zoo's UML entries no longer say `mmu host-mappings`: their backends declare host mappings, which must give
        // the same machine, schedules and verdict the line gave.
        string text = File.ReadAllText(Path.Combine(Fixtures.RepoRoot, "scenarios", "zoo", file));
        Assert.DoesNotContain("\nmmu ", text);
        var without = Bind(text);
        var with = Bind(text.Replace("\nbackend ", "\nmmu host-mappings\nbackend "));
        Assert.Null(without.Scenario.Mmu);
        Assert.Equal(MmuKind.HostMappings, with.Scenario.Mmu);
        using var a = without.Compile(0);
        using var b = with.Compile(0);
        var search = SearchOptions.For(without.Scenario);
        var (sa, sb) = (ScenarioRunner.Search(a, search), ScenarioRunner.Search(b, search));
        Assert.Equal((sa.SchedulesRun, sa.Violation?.Report?.Violation.Id, sa.Violation?.TraceHash), (sb.SchedulesRun, sb.Violation?.Report?.Violation.Id, sb.Violation?.TraceHash));
        var (ra, rb) = (ScenarioRunner.RunOnce(a, 1), ScenarioRunner.RunOnce(b, 1));
        Assert.Equal(ra.Result.TraceHash, rb.Result.TraceHash);
        Assert.Equal(ra.Metrics, rb.Metrics);
    }

    [Theory]
    [InlineData("backend uml\ncpus 2\nmm proc\n  vma 0x40000000 16K rw\n  populate 0x40000000 4K\nthread proc cpu 0 mm proc\n  write 0x40000000\n",
        5, 3, "'populate' writes PTEs at setup but no host mapping")]
    [InlineData(Uml + "thread walker cpu 0 mm proc hardware\n  speculate 0x40000000\n", 7, 8, "thread 'walker' is a CPU's hardware page-table walker")]
    [InlineData(Uml + "thread other cpu 1 mm proc\n  read 0x40000000\n", 7, 18, "thread 'other' runs on CPU 1, and User-Mode Linux is uniprocessor")]
    [InlineData(Uml + "  collapse 0x40000000\n", 7, 3, "'collapse' is khugepaged's")]
    [InlineData("smmu arm64-smmu-v6.6\n" + Uml, 1, 6, "'smmu' gives a device the CPU's page tables")]
    [InlineData("backend uml\ncpus 1\nworkload fault-heavy\n  ops 5\n", 3, 10, "the workload form generates programs for a hardware MMU")]
    public void A_hardware_only_line_without_an_mmu_line_is_refused_at_that_line_when_bound_to_uml(string text, int line, int column, string why)
    {
        // Each of these ran on UML before it was refused, and ended in what no UML kernel does (O6 before the first
        // operation, O2 from a walker, O1 from a second CPU, O5 from a device); on a hardware MMU it is an ordinary line.
        var d = RefusedWhenBound(text);
        Assert.Equal(new SourceSpan("t.pvl", line, column), d.At);
        Assert.StartsWith(HostPrefix + why, d.Message);
        Assert.Equal("arm64-native", Bind(text, "arm64-native").Backend.Name);
    }

    [Theory]
    [InlineData("backend x86-native\ncpus 1\nmm a\n  vma 0x40000000 4K rw\nmm b\n  vma 0x40000000 4K rw\nthread pa cpu 0 mm a\n  write 0x40000000\nthread pb cpu 0 mm b\n  write 0x40000000\n",
        9, 15, "thread 'pb' runs mm 'b' on CPU 0, where 'pa' runs mm 'a': a CPU has one mm loaded (give it another CPU, or switch-mm)")]
    [InlineData("backend x86-native\ncpus 1\nexpect O6\nmm a\n  vma 0x40000000 4K rw\nthread t cpu 0 mm a\n  write 0x40000000\n",
        3, 8, "O6 (host mapping divergence) breaks only where CPUs translate through host mappings")]
    public void A_host_mappings_only_line_is_refused_on_a_hardware_mmu_and_runs_on_uml(string text, int line, int column, string why)
    {
        // A CPU's hardware translates through the one mm loaded on it, where each UML process is a host process of its
        // own; and a hardware MMU has no host mappings to diverge, so a search expecting O6 there could never end as expected.
        var d = RefusedWhenBound(text);
        Assert.Equal(new SourceSpan("t.pvl", line, column), d.At);
        Assert.StartsWith("backend 'x86-native' has a hardware MMU: " + why, d.Message);
        using var uml = Bind(text, "uml").Compile(0);
        Assert.Equal(Verdict.Clean, ScenarioRunner.RunOnce(uml, 0).Verdict);
    }

    [Theory]
    [InlineData("backend x86-native\nmmu host-mappings\n",
        "backend 'x86-native' has a hardware MMU: expected 'mmu hardware' or no mmu line (the backend's model is then the scenario's), found 'mmu host-mappings'")]
    [InlineData("backend uml\nmmu hardware\n",
        HostPrefix + "expected 'mmu host-mappings' or no mmu line (the backend's model is then the scenario's), found 'mmu hardware'")]
    public void An_mmu_line_that_disagrees_with_the_backend_is_refused_at_the_line(string head, string message)
    {
        var d = RefusedWhenBound(head + "cpus 1\nmm a\n  vma 0x40000000 4K rw\nthread t cpu 0 mm a\n  write 0x40000000\n");
        Assert.Equal((new SourceSpan("t.pvl", 2, 5), message), (d.At, d.Message));
    }
}
