// The RISC-V sample against Pv's conformance kit: both safe fence/free combinations conform, the unsafe one fails
// with the reason.
using Pv.Scenarios.Conformance;
using Pv.Testing;
using Xunit;

namespace RiscVSbi.Tests;

/// <summary>The sample's plugins.json, beside its solution.</summary>
internal static class Paths
{
    public static string Config { get; } = BackendConformanceTests.PluginsJsonAbove();
}

public sealed class SbiFencesWithRcuTableFreeConform : BackendConformanceTests
{
    protected override string ConfigPath => Paths.Config;
    protected override string Backend => "riscv-sbi";
    protected override long? Schedules => 500;
}

public sealed class IpiFencesWithImmediateTableFreeConform : BackendConformanceTests
{
    protected override string ConfigPath => Paths.Config;
    protected override string Backend => "riscv-ipi";
    protected override long? Schedules => 500;
}

public sealed class SbiFencesWithoutRcu
{
    [Fact]
    public void Fail_conformance_because_gup_fast_walks_a_freed_table()
    {
        var report = BackendConformanceTests.Check(Paths.Config, "riscv-sbi-no-rcu", schedules: 500);
        Assert.False(report.Passed);
        // What fails is the zoo's GUP-fast entries (a walker reading a freed page table, O2), and nothing else.
        var failed = report.Checks.Where(c => !c.Passed).ToList();
        Assert.NotEmpty(failed);
        Assert.All(failed, c => Assert.Equal(ConformKind.Litmus, c.Kind));
        Assert.Contains(failed, c => c.Detail.StartsWith("O2", StringComparison.Ordinal));
    }
}
