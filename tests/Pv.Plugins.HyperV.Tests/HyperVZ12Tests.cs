// Z12 as `pv explore` finds it: the 4.13 tree's counterexample names the flush hypercall, its VP set and the tables
// freed after it while the walker, IRQs off, was not interrupted. (That every Z12 entry, the fixed ones over their
// 10,000 schedules, behaves as its file expects is the zoo's own test, Pv.Scenarios.Tests' ZooTests.)
using Pv.Hosting;
using Pv.Scenarios.Running;
using Pv.Testing;

namespace Pv.Plugins.HyperV.Tests;

public sealed class HyperVZ12Tests
{
    private static readonly Lazy<PluginCatalog> Catalog = new(() => PluginCatalog.Load(Path.Combine(Fixtures.RepoRoot, "plugins.json")));

    private static SearchResult Explore(string entry)
    {
        var bound = BoundScenario.Load(Path.Combine(Fixtures.RepoRoot, "scenarios", "zoo", entry), Catalog.Value);
        using var compiled = bound.Compile(0);
        return ScenarioRunner.Search(compiled, SearchOptions.For(bound.Scenario));
    }

    [Fact]
    public void Fix_off_the_walker_reads_a_table_freed_right_after_a_hypercall_that_did_not_interrupt_it()
    {
        var report = Explore("z12-hyperv-gup-fast-vs-munmap.pvl").Violation?.Report;
        Assert.NotNull(report);
        string text = report.Format();
        Assert.StartsWith("O2 freed page-table walk: GUP-fast reads page table", text);
        // The 4.13 tree used the Ex form for every flush; both vCPUs are all the present ones.
        Assert.Contains("hypercall cmd=HvCallFlushVirtualAddressSpaceEx vcpus={0,1}", text);
        Assert.Contains("tlb_remove_page(table)", text);
        Assert.Contains("local_irq_disable depth=1", text);
        Assert.DoesNotContain("ipi sent", text);
    }
}
