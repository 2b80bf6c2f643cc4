// arm64's TLB maintenance under the pv_mmu_ops names (asm/tlbflush.h). A remote flush is a broadcast TLBI
// with DSB ISH: the hardware invalidates every CPU's TLB in the inner-shareable domain, interrupting no one,
// so a CPU with IRQs off inside GUP-fast is not waited for. That is why arm64 frees page tables after an RCU
// grace period; with rcuTableFree=false this backend shows what goes wrong otherwise (Z1).
//
// __flush_tlb_range: a last-level TLBI per page (or a non-last-level one when tables were freed, which drops
// walk-cache entries too), but one TLBI ASIDE1IS for the whole ASID once the range reaches MAX_DVM_OPS pages
// (the declared cost maxDvmOps, compared as the kernel does: at or above), since a long run of per-page DVM
// operations costs more than refilling the ASID.
using Pv.Abstractions.Gather;
using Pv.Abstractions.Host;
using Pv.Abstractions.Memory;
using Pv.Abstractions.Mm;
using Pv.Abstractions.Plugins;

namespace Pv.Plugins.Native.Arm64;

/// <summary>arm64 TLB maintenance.</summary>
[PvArch(NativeOptions.Arm64)]
internal sealed class Arm64PvMmuOps(ICpus cpuSet, ICost cost) : IPvMmuOps
{
    private readonly long _maxDvmOps = cost.Value(NativeOptions.MaxDvmOps);

    /// <summary>True when <paramref name="info"/> is flushed as the whole ASID rather than page by page.</summary>
    internal static bool FlushesWholeAsid(in TlbFlushInfo info, long maxDvmOps) =>
        info.IsFullFlush || info.Pages >= maxDvmOps;

    /// <summary><c>local_flush_tlb_all</c>'s user part: TLBI ASIDE1 on this CPU only.</summary>
    public void FlushTlbUser()
    {
        var cpu = cpuSet.Current;
        cpu.Invalidate(TlbInvalidation.Asid(cpu.LoadedMm));
    }

    /// <summary><c>local_flush_tlb_all</c>: TLBI VMALLE1 on this CPU.</summary>
    public void FlushTlbKernel() => cpuSet.Current.Invalidate(TlbInvalidation.All);

    /// <summary>TLBI VALE1 on this CPU.</summary>
    public void FlushTlbOneUser(ulong address)
    {
        var cpu = cpuSet.Current;
        cpu.Invalidate(TlbInvalidation.Page(cpu.LoadedMm, address));
    }

    /// <summary>
    /// <c>__flush_tlb_range</c> / <c>flush_tlb_mm</c>: broadcast, so <paramref name="cpus"/> does not narrow it; every
    /// CPU's TLB is invalidated whatever its IRQ state.
    /// </summary>
    public void FlushTlbMulti(CpuMask cpus, in TlbFlushInfo info)
    {
        if (FlushesWholeAsid(info, _maxDvmOps)) cpuSet.BroadcastInvalidate(TlbInvalidation.Asid(info.Mm));
        else cpuSet.BroadcastInvalidate(TlbInvalidation.Range(info.Mm, info.Start, info.End, info.StrideShift, walkCaches: info.FreedTables));
    }

    /// <summary>The generic <c>tlb_remove_table</c>: the gather knobs decide between RCU and immediate free.</summary>
    public void TlbRemoveTable(IMmuGather tlb, Pfn table) => tlb.RemoveTable(table);

    /// <summary>
    /// <c>check_and_switch_context</c>: TTBR0 with the mm's ASID. Broadcast TLBIs reached this CPU while it ran
    /// something else, so there is nothing to catch up.
    /// </summary>
    public void SwitchMm(MmId prev, MmId next) => cpuSet.Current.LoadMm(next);
}
