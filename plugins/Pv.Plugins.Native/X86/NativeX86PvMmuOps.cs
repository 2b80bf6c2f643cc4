// Bare-metal x86 pv_mmu_ops: native_flush_tlb_multi and the tlb_remove_table pv op.
//
// native_flush_tlb_multi IPIs the CPUs of the mask and waits for every one of them. A target takes the
// IPI only with IRQs on, so the flush cannot complete while any of them is inside a GUP-fast walk: that
// wait is what lets the 4.19–6.14 era free page tables like pages right after the flush. CPUs in lazy TLB
// mode are left out (they catch up through tlb_gen when they switch back) unless page tables were freed:
// their hardware may still walk the mm speculatively through cached upper-level entries, so they must drop
// to init_mm first. From 6.12 mm_cpumask is trimmed lazily and a CPU running another mm is skipped too,
// and (since fea4e317f9e7) a CPU in the middle of switch_mm_irqs_off is not.
using Microsoft.Extensions.Options;
using Pv.Abstractions.Gather;
using Pv.Abstractions.Host;
using Pv.Abstractions.Memory;
using Pv.Abstractions.Mm;
using Pv.Abstractions.Plugins;
using Pv.Arch.X86;

namespace Pv.Plugins.Native.X86;

/// <summary>x86 bare-metal pv_mmu_ops.</summary>
[PvArch(NativeOptions.X86)]
internal sealed class NativeX86PvMmuOps(ICpus cpus, IIpi ipi, IOptions<NativeOptions> options) : X86PvMmuOps(cpus)
{
    private readonly NativeOptions _options = options.Value;

    /// <inheritdoc/>
    protected override bool LazyMmCpumask => _options.X86Era >= X86Era.V6_12;

    /// <inheritdoc/>
    public override void FlushTlbMulti(CpuMask cpus, in TlbFlushInfo info)
    {
        var f = info;
        var targets = cpus;
        // Freed tables: every CPU of the mask, lazy ones included, since they could walk the freed tables meanwhile.
        if (!(f.FreedTables && _options.LazyFreedTablesIpi))
            foreach (int cpu in cpus)
                if (!ShouldFlushTlb(cpu, f.Mm)) targets.Clear(cpu);
        ipi.SendIpi(targets, cpu => X86Tlb.FlushTlbFunc(Cpus, this, cpu, f), wait: true);
    }

    /// <summary>
    /// <c>should_flush_tlb</c> (before 6.12 <c>tlb_is_not_lazy</c>): a lazy CPU catches up when it switches back. From
    /// 6.12 a CPU left in the lazily trimmed mm_cpumask that runs another mm catches up the same way; one whose loaded_mm
    /// is LOADED_MM_SWITCHING may already run on the new CR3 with a tlb_gen read before this flush, so it must be
    /// flushed too (fea4e317f9e7). The periodic trim_cpumask flush is not modelled: skipping is always safe here.
    /// </summary>
    private bool ShouldFlushTlb(int cpu, MmId mm)
    {
        if (Cpus[cpu].IsLazy) return false;
        if (!LazyMmCpumask) return true;
        if (IsSwitching(cpu)) return _options.FlushSwitchingCpu;
        return Cpus[cpu].LoadedMm == mm;
    }

    /// <inheritdoc/>
    public override void TlbRemoveTable(IMmuGather tlb, Pfn table)
    {
        if (_options.X86Era < X86Era.V6_15) tlb.RemovePage(table);
        else tlb.RemoveTable(table);
    }
}
