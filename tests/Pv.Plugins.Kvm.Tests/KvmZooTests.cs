// Z13 and Z14 as `pv explore` finds them: each counterexample tells the mechanism in kernel terms: the guest's
// cmpxchg of KVM_VCPU_FLUSH_TLB into a preempted vCPU's steal_time instead of an IPI, and what the host did with it.
// (That every zoo entry, the fixed ones over their 10,000 schedules, behaves as its file expects is the zoo's own
// test, Pv.Scenarios.Tests' ZooTests.)
using Pv.Hosting;
using Pv.Scenarios.Running;
using Pv.Testing;

namespace Pv.Plugins.Kvm.Tests;

public sealed class KvmZooTests
{
    private static readonly Lazy<PluginCatalog> Catalog = new(() => PluginCatalog.Load(Path.Combine(Fixtures.RepoRoot, "plugins.json")));

    private static string Counterexample(string entry)
    {
        var bound = BoundScenario.Load(Path.Combine(Fixtures.RepoRoot, "scenarios", "zoo", entry), Catalog.Value);
        using var compiled = bound.Compile(0);
        var report = ScenarioRunner.Search(compiled, SearchOptions.For(bound.Scenario)).Violation?.Report;
        Assert.NotNull(report);
        return report.Format();
    }

    [Fact]
    public void Z13_the_host_writes_back_its_copy_over_the_flush_request()
    {
        string text = Counterexample("z13-kvm-steal-time-lost-flush.pvl");
        Assert.StartsWith("O1 stale translation use", text);
        // The report lists each thread's events with their steps: the guest's request falls between the host's read
        // of steal_time and its write-back (vcpu resumed).
        int read = StepOf(text, "record_steal_time read vcpu=1 copy.preempted=PREEMPTED");
        int request = StepOf(text, "steal_time cmpxchg vcpu=1 preempted=PREEMPTED|FLUSH_TLB");
        int resumed = StepOf(text, "vcpu resumed vcpu=1");
        Assert.True(read < request && request < resumed, text);
        Assert.DoesNotContain("kvm_vcpu_flush_tlb_guest", text);
        Assert.DoesNotContain("ipi sent", text);
    }

    private static int StepOf(string report, string evt)
    {
        var match = System.Text.RegularExpressions.Regex.Match(report, @"#(\d+) " + System.Text.RegularExpressions.Regex.Escape(evt));
        Assert.True(match.Success, $"no '{evt}' in:\n{report}");
        return int.Parse(match.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
    }

    [Fact]
    public void Z14_the_walker_preempted_with_irqs_off_got_no_ipi_and_walks_a_freed_table()
    {
        string text = Counterexample("z14-kvm-pv-flush-immediate-free.pvl");
        Assert.StartsWith("O2 freed page-table walk: GUP-fast reads page table", text);
        Assert.Contains("steal_time cmpxchg vcpu=1 preempted=PREEMPTED|FLUSH_TLB", text);
        Assert.Contains("local_irq_disable depth=1", text);
        Assert.Contains("tlb_remove_page(table)", text);
        Assert.DoesNotContain("ipi sent", text);
    }
}
