// The KVM guest backend loaded from plugins.json, mechanism by mechanism: kvm_flush_tlb_multi sets
// KVM_VCPU_FLUSH_TLB in a preempted vCPU's steal_time instead of interrupting it and IPIs only the running ones; the
// host's record_steal_time flushes that vCPU when it resumes; before the CVE-2019-3016 fix a request set between the
// host's read and write-back of steal_time is lost, with the fix it is kept or never needed; page tables go through
// RCU (the tlb_remove_table pv op) unless the backend frees them right away.
using Pv.Abstractions.Host;
using Pv.Abstractions.Mm;
using Pv.Engine;
using Pv.Engine.Host;
using Pv.Engine.Mm;
using Pv.Engine.Sched;
using static Pv.Plugins.Tests.PluginMachines;

namespace Pv.Plugins.Kvm.Tests;

public sealed class KvmTests
{
    [Fact]
    public void A_preempted_vcpu_gets_flush_tlb_in_its_steal_time_instead_of_an_ipi_and_the_host_flushes_it_on_resume()
    {
        var m = Create(Backend("kvm-pv"), cpus: 4);
        var mm = AnonMm(m, 3);
        for (int cpu = 1; cpu < 4; cpu++) Touch(m, cpu, A);
        var vcpu2 = m.Cpus[2];
        bool flushed = false;
        (byte StealTime, bool Cached) whilePreempted = default;

        var host = m.AddThread("hypervisor", ThreadKind.Host, null, null);
        host.Enqueue(VcpuScheduling.Preempt(m, host, vcpu2, 0));
        host.Enqueue(WaitUntil(() => flushed, "the munmap's flush"));
        host.Enqueue(Mark(() => whilePreempted = (vcpu2.StealTimePreempted, vcpu2.Tlb.TryLookup(mm.Id.Value, A, out _))));
        host.Enqueue(VcpuScheduling.Resume(m, vcpu2));
        Thread(m, mm, "munmap", 0,
            _ => WaitUntil(() => vcpu2.VcpuPreempted, "vCPU 2 preempted"),
            t => Munmap.Run(m, t, mm, A, Page),
            _ => Mark(() => flushed = true));
        RunClean(m);

        // The flush: one cmpxchg won on vCPU 2, waited IPIs to vCPUs 1 and 3 only.
        Assert.Equal(1, Count(m, "kvm.pv_flush_deferred"));
        Assert.Equal(2, m.Metrics.IpiSent.Value);
        Assert.Equal(KvmVcpuState.Preempted | KvmVcpuState.FlushTlb, whilePreempted.StealTime);
        Assert.True(whilePreempted.Cached, "vCPU 2 was flushed while preempted: nothing of the guest runs there");
        // record_steal_time: the flag cleared, the whole TLB of vCPU 2 flushed before it ran again.
        Assert.Equal(1, Count(m, "kvm.steal_time_flush"));
        Assert.Equal(0, vcpu2.StealTimePreempted);
        Assert.False(vcpu2.VcpuPreempted);
        for (int cpu = 1; cpu < 4; cpu++)
            Assert.False(m.Cpus[cpu].Tlb.TryLookup(mm.Id.Value, A, out _), $"vCPU {cpu} still caches the unmapped page");
    }

    [Fact]
    public void With_no_vcpu_preempted_the_flush_is_the_native_one()
    {
        var m = Create(Backend("kvm-pv"), cpus: 4);
        var mm = AnonMm(m, 3);
        for (int cpu = 1; cpu < 4; cpu++) Touch(m, cpu, A);
        Thread(m, mm, "munmap", 0, t => Munmap.Run(m, t, mm, A, Page));
        RunClean(m);
        Assert.Equal(0, Count(m, "kvm.pv_flush_deferred"));
        Assert.Equal(3, m.Metrics.IpiSent.Value);
        for (int cpu = 1; cpu < 4; cpu++) Assert.False(m.Cpus[cpu].Tlb.TryLookup(mm.Id.Value, A, out _));
    }

    /// <summary>
    /// The host preempts vCPU 1 and resumes it with record_steal_time paused after its read of steal_time; meanwhile
    /// vCPU 0 munmaps the page vCPU 1 caches; then vCPU 1 reads it.
    /// </summary>
    [Theory]
    [InlineData("kvm-pv", true)]
    [InlineData("kvm-pv-cve-2019-3016", false)]
    public void A_flush_request_racing_record_steal_time_is_lost_only_without_the_xchg(string backend, bool xchg)
    {
        var m = Create(Backend(backend), cpus: 2);
        Assert.Equal(xchg, m.Options.StealTimeXchg);
        var mm = AnonMm(m, 2);   // the VMA's second page keeps the PTE table: only the TLB can go stale
        Touch(m, 1, A);
        var vcpu1 = m.Cpus[1];
        bool read = false, flushed = false;

        var host = m.AddThread("hypervisor", ThreadKind.Host, null, null);
        host.Enqueue(VcpuScheduling.Preempt(m, host, vcpu1, 0));
        host.Enqueue(PausedAfterFirstStep(VcpuScheduling.Resume(m, vcpu1), () => read = true, () => flushed));
        Thread(m, mm, "munmap", 0,
            _ => WaitUntil(() => read, "record_steal_time's read"),
            t => Munmap.Run(m, t, mm, A, Page),
            _ => Mark(() => flushed = true));
        var outcome = new FaultOutcome();
        Thread(m, mm, "reader", 1, _ => WaitUntil(() => flushed, "the munmap"), t => Fault.UserAccess(m, t, A, AccessKind.Read, outcome));
        var r = m.Run(new SequentialPolicy());

        if (xchg)
        {
            // The xchg cleared the flags and the vCPU ran before the munmap: it was running, so it got the IPI.
            Assert.True(r.Outcome == RunOutcome.Completed, r.Report?.Format());
            Assert.Equal((0L, 1L), (Count(m, "kvm.pv_flush_deferred"), m.Metrics.IpiSent.Value));
            Assert.Equal(FaultResult.Sigsegv, outcome.Result);
        }
        else
        {
            // The guest saw the flag the host had read but not yet cleared, set KVM_VCPU_FLUSH_TLB and sent no IPI;
            // the host wrote back its copy (preempted = 0) over it, and vCPU 1 read the freed page through its TLB.
            Assert.Equal((1L, 0L, 0L), (Count(m, "kvm.pv_flush_deferred"), m.Metrics.IpiSent.Value, Count(m, "kvm.steal_time_flush")));
            Assert.Equal(RunOutcome.Violation, r.Outcome);
            Assert.StartsWith("O1 ", r.Report!.Format(), StringComparison.Ordinal);
        }
    }

    [Theory]
    [InlineData("kvm-pv", 0L, 3L)]
    [InlineData("kvm-pv-immediate-free", 3L, 0L)]
    public void Page_tables_go_through_rcu_unless_the_backend_frees_them_at_once(string backend, long now, long rcu)
    {
        var m = Create(Backend(backend), cpus: 2);
        var mm = AnonMm(m, 2);
        Thread(m, mm, "munmap", 0, t => Munmap.Run(m, t, mm, A, 2 * Page));   // the mm's only VMA: free_pgtables frees its PTE, PMD and PUD tables
        RunClean(m);
        Assert.Equal((now, rcu), (Count(m, "table.freed_now"), Count(m, "table.freed_rcu")));
    }

    /// <summary>The steps of <paramref name="inner"/>, stopping after its first until <paramref name="resume"/> holds.</summary>
    private static IEnumerable<Step> PausedAfterFirstStep(IEnumerable<Step> inner, Action afterFirst, Func<bool> resume)
    {
        bool first = true;
        foreach (var step in inner)
        {
            yield return step;
            if (!first) continue;
            first = false;
            afterFirst();
            yield return Step.Wait(new Condition(resume));
        }
    }

    private sealed class Condition(Func<bool> holds) : IWaitCondition
    {
        public bool IsSatisfied => holds();
        public string Describe() => "the test's go-ahead";
    }
}
