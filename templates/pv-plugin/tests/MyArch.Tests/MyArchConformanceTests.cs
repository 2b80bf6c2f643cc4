// Conformance of the plugin's backends, with Pv's kit: one class per backend of plugins.json that must conform,
// and a test that the deliberately unsafe backend is caught, with the reason.
using Pv.Scenarios.Conformance;
using Pv.Testing;
using Xunit;

namespace MyArch.Tests;

/// <summary>plugins.json, beside the solution (it points at plugins/MyArch/MyArch.dll from there).</summary>
internal static class Paths
{
    public static string Config { get; } = BackendConformanceTests.PluginsJsonAbove();
}

/// <summary>The default backend: broadcast TLBI, tables through RCU.</summary>
public sealed class MyArchConforms : BackendConformanceTests
{
    protected override string ConfigPath => Paths.Config;
    protected override string Backend => "myarch";
    protected override long? Schedules => 500;
}

/// <summary>Waited IPIs with tables freed right after the flush: safe, because the IPI waits for IRQ-off walkers.</summary>
public sealed class MyArchIpiImmediateFreeConforms : BackendConformanceTests
{
    protected override string ConfigPath => Paths.Config;
    protected override string Backend => "myarch-ipi-immediate-free";
    protected override long? Schedules => 500;
}

/// <summary>The unsafe combination fails conformance, and the failure says why.</summary>
public sealed class UnsafeBackendIsCaught
{
    [Fact]
    public void Broadcast_flush_with_immediate_table_free_fails_with_the_reason()
    {
        var report = BackendConformanceTests.Check(Paths.Config, "myarch-immediate-free", schedules: 500);
        Assert.False(report.Passed);
        // What fails is the zoo's GUP-fast entries (a walker reading a freed page table, O2), and nothing else.
        var failed = report.Checks.Where(c => !c.Passed).ToList();
        Assert.NotEmpty(failed);
        Assert.All(failed, c => Assert.Equal(ConformKind.Litmus, c.Kind));
        Assert.Contains(failed, c => c.Detail.StartsWith("O2", StringComparison.Ordinal));
    }
}
