// The conformance kit used as a plugin's test project uses it: one class per backend, deriving from
// BackendConformanceTests and naming only plugins.json and the backend (here the repository's own backends of
// both MMU models, on a small budget per litmus entry); and the kit failing a backend that frees page tables
// right after a broadcast flush, with the reason.
namespace Pv.Scenarios.Tests;

public sealed class XenPvConforms : BackendConformanceTests
{
    protected override string ConfigPath => Path.Combine(Fixtures.RepoRoot, "plugins.json");
    protected override string Backend => "xen-pv";
    protected override long? Schedules => 300;
}

public sealed class UmlConforms : BackendConformanceTests
{
    protected override string ConfigPath => Path.Combine(Fixtures.RepoRoot, "plugins.json");
    protected override string Backend => "uml";
    protected override long? Schedules => 300;
}

public sealed class ConformanceKitFailureTests
{
    /// <summary>Not a test class of its own (private): its tests are called below, expecting them to fail.</summary>
    private sealed class ImmediateFreeProbe : BackendConformanceTests
    {
        protected override string ConfigPath => Path.Combine(Fixtures.RepoRoot, "plugins.json");
        protected override string Backend => "arm64-native-immediate-free";
        protected override long? Schedules => 300;
    }

    [Fact]
    public void The_kit_fails_an_unsafe_backend_on_the_litmus_entries_and_says_why()
    {
        var probe = new ImmediateFreeProbe();
        var e = Assert.ThrowsAny<Exception>(probe.The_zoo_s_fixed_entries_are_clean);
        Assert.Contains("arm64-native-immediate-free fails z1-gup-fast-vs-munmap-fixed: O2 after", e.Message);
        Assert.Contains("Free page tables through RCU (tlb_remove_table)", e.Message);
        // What it does right still passes.
        probe.Composes();
        probe.Runs_are_deterministic();
        probe.Flushes_are_counted_and_charged();
    }
}
