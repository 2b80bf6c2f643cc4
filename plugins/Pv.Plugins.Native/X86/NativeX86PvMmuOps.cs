// Bare-metal x86 pv_mmu_ops: native_flush_tlb_multi and the tlb_remove_table pv op.
//
// native_flush_tlb_multi IPIs the CPUs of the mask and waits for every one of them. A target takes the
// IPI only with IRQs on, so the flush cannot complete while any of them is inside a GUP-fast walk: that
// wait is what lets the 4.19–6.14 era free page tables like pages right after the flush. CPUs in lazy TLB
// mode are left out (they catch up through tlb_gen when they switch back) unless page tables were freed:
// their hardware may still walk the mm speculatively through cached upper-level entries, so they must drop
// to init_mm first.
using Pv.Abstractions.Gather;
using Pv.Abstractions.Host;
using Pv.Abstractions.Memory;
using Pv.Abstractions.Mm;
using Pv.Abstractions.Plugins;
using Pv.Arch.X86;

namespace Pv.Plugins.Native.X86;

/// <summary>x86 bare-metal pv_mmu_ops.</summary>
[PvArch(NativeOptions.X86)]
internal sealed class NativeX86PvMmuOps(ICpus cpus, IIpi ipi, NativeOptions options) : X86PvMmuOps(cpus)
{
    /// <inheritdoc/>
    public override void FlushTlbMulti(CpuMask cpus, in TlbFlushInfo info)
    {
        var f = info;
        var targets = cpus;
        // should_flush_tlb: a lazy CPU will flush when it switches back, unless it could walk freed tables meanwhile.
        if (!(f.FreedTables && options.LazyFreedTablesIpi))
            foreach (int cpu in cpus)
                if (Cpus[cpu].IsLazy) targets.Clear(cpu);
        ipi.SendIpi(targets, cpu => X86Tlb.FlushTlbFunc(Cpus, this, cpu, f), wait: true);
    }

    /// <inheritdoc/>
    public override void TlbRemoveTable(IMmuGather tlb, Pfn table)
    {
        if (options.Era == X86Era.V4_19) tlb.RemovePage(table);
        else tlb.RemoveTable(table);
    }
}
