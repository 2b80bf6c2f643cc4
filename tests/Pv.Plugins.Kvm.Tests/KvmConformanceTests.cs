// The conformance kit on the KVM backends, as a plugin author's tests use it: the PV flush with RCU table free
// passes every check; a host with CVE-2019-3016 fails the kit's steal-time entry with O1 (a lost flush request), and
// tables freed right after a flush that skips preempted vCPUs fail its preempted GUP-fast entry with O2; each
// fails that check and nothing else.
using Pv.Scenarios.Conformance;
using Pv.Testing;

namespace Pv.Plugins.Kvm.Tests;

/// <summary>kvm-pv conforms.</summary>
public sealed class KvmPvConforms : BackendConformanceTests
{
    protected override string ConfigPath => Path.Combine(Fixtures.RepoRoot, "plugins.json");
    protected override string Backend => "kvm-pv";
    protected override long? Schedules => 300;
}

public sealed class KvmEraBackendsFailWhatTheyBreak
{
    [Theory]
    [InlineData("kvm-pv-cve-2019-3016", "z13-kvm-steal-time-lost-flush-fixed", "O1 ")]
    [InlineData("kvm-pv-immediate-free", "z14-kvm-pv-flush-immediate-free-fixed", "O2 ")]
    public void Each_fails_its_own_entry_and_nothing_else(string backend, string entry, string invariant)
    {
        // The entries' own budgets (10,000 PCT schedules): the kit's default, which is how `pv conform` runs them.
        var report = BackendConformanceTests.Check(Path.Combine(Fixtures.RepoRoot, "plugins.json"), backend);
        Assert.False(report.Passed);
        var failed = Assert.Single(report.Checks, c => !c.Passed);
        Assert.Equal(entry, failed.Name);
        Assert.Equal(ConformKind.Litmus, failed.Kind);
        Assert.StartsWith(invariant, failed.Detail, StringComparison.Ordinal);
    }
}
