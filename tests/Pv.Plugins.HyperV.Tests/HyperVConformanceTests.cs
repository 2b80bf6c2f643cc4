// The conformance kit on the Hyper-V backends, as a plugin author's tests use it: today's guest passes every check;
// the 4.13 tree (flush hypercalls, tables freed right after them) fails the kit's GUP-fast entries with O2, and
// nothing else.
using Pv.Scenarios.Conformance;
using Pv.Testing;

namespace Pv.Plugins.HyperV.Tests;

/// <summary>hyperv conforms.</summary>
public sealed class HyperVConforms : BackendConformanceTests
{
    protected override string ConfigPath => Path.Combine(Fixtures.RepoRoot, "plugins.json");
    protected override string Backend => "hyperv";
    protected override long? Schedules => 300;
}

public sealed class HyperVBeforeRcuTableFree
{
    [Fact]
    public void The_4_13_tree_fails_the_gup_fast_entries_with_o2_and_passes_the_rest()
    {
        var report = BackendConformanceTests.Check(Path.Combine(Fixtures.RepoRoot, "plugins.json"), "hyperv-4.13", schedules: 300);
        Assert.False(report.Passed);
        var failed = report.Checks.Where(c => !c.Passed).ToList();
        Assert.Equal(["z1-gup-fast-vs-munmap-fixed", "z11-collapse-gup-fast-sync-fixed", "z14-kvm-pv-flush-immediate-free-fixed"], failed.Select(c => c.Name));
        Assert.All(failed, c => Assert.Equal(ConformKind.Litmus, c.Kind));
        Assert.All(failed, c => Assert.StartsWith("O2 ", c.Detail, StringComparison.Ordinal));
        Assert.Contains("Free page tables through RCU (tlb_remove_table)", failed[0].Detail);
    }
}
