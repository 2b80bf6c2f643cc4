// The conformance kit used as a plugin's test project uses it: one class per backend, deriving from
// BackendConformanceTests and naming only plugins.json and the backend (here the repository's own backends of
// both MMU models, on a small budget per litmus entry).
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
