// KVM guest pv_mmu_ops (arch/x86/kernel/kvm.c): kvm_flush_tlb_multi and the tlb_remove_table pv op.
//
// kvm_flush_tlb_multi reads each target vCPU's steal_time.preempted; for a vCPU the host has descheduled
// (KVM_VCPU_PREEMPTED) it sets KVM_VCPU_FLUSH_TLB with a cmpxchg and, if that won, drops the vCPU from the mask: the
// host flushes it in record_steal_time before it runs again. The rest get native_flush_tlb_multi: waited IPIs (lazy
// vCPUs skipped unless page tables were freed, as on bare metal before 6.12). The calling vCPU is running, so it is
// never preempted and never dropped. A preempted vCPU gets no interrupt, so a GUP-fast walk it was preempted in is
// not held off: page tables must go through RCU (the grace period waits for that vCPU's IRQ-off section).
using Microsoft.Extensions.Options;
using Pv.Abstractions.Gather;
using Pv.Abstractions.Host;
using Pv.Abstractions.Memory;
using Pv.Abstractions.Mm;
using Pv.Abstractions.Plugins;
using Pv.Arch.X86;

namespace Pv.Plugins.Kvm;

/// <summary>KVM guest pv_mmu_ops.</summary>
[PvArch(KvmOptions.X86)]
internal sealed class KvmPvMmuOps(ICpus cpus, IIpi ipi, IStealTime stealTime, IMetrics metrics, IOptions<KvmOptions> options) : X86PvMmuOps(cpus)
{
    private readonly KvmOptions _options = options.Value;

    /// <summary><c>kvm_flush_tlb_multi</c>, then <c>native_flush_tlb_multi</c> for the vCPUs still in the mask.</summary>
    public override void FlushTlbMulti(CpuMask cpus, in TlbFlushInfo info)
    {
        var f = info;
        var flushmask = cpus;
        foreach (int cpu in cpus)
        {
            byte state = stealTime.Preempted(cpu);
            if ((state & KvmVcpuState.Preempted) == 0) continue;
            if (stealTime.TryCompareExchangePreempted(cpu, state, (byte)(state | KvmVcpuState.FlushTlb)))
            {
                flushmask.Clear(cpu);
                metrics.Counter("kvm.pv_flush_deferred").Increment();
            }
        }
        // native_flush_tlb_multi: a lazy vCPU catches up when it switches back, unless tables were freed.
        if (!f.FreedTables)
            foreach (int cpu in flushmask)
                if (Cpus[cpu].IsLazy) flushmask.Clear(cpu);
        ipi.SendIpi(flushmask, cpu => X86Tlb.FlushTlbFunc(Cpus, this, cpu, f), wait: true);
    }

    /// <inheritdoc/>
    public override void TlbRemoveTable(IMmuGather tlb, Pfn table)
    {
        if (_options.TableFree == KvmTableFree.Rcu) tlb.RemoveTable(table);
        else tlb.RemovePage(table);
    }
}
