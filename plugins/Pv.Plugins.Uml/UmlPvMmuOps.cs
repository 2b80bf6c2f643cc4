// UML's arch TLB interface under the pv_mmu_ops names. UML runs one host address space per mm and no per-CPU
// TLB state, so a flush names an mm and a range, never CPUs; set_pte leaves the sync mark; page tables leave
// the gather like data pages (asm-generic without MMU_GATHER_TABLE_FREE); switch_mm only changes which host
// process runs.
using Pv.Abstractions.Gather;
using Pv.Abstractions.Host;
using Pv.Abstractions.Memory;
using Pv.Abstractions.Mm;
using Pv.Abstractions.Plugins;

namespace Pv.Plugins.Uml;

/// <summary>IPvMmuOps for User-Mode Linux.</summary>
[PvArch(UmlPlugin.ArchProfile)]
public sealed class UmlPvMmuOps(UmlTlb tlb, ICpus cpus) : IPvMmuOps
{
    /// <summary>flush_tlb_all: flush_tlb_mm of the current mm.</summary>
    public void FlushTlbUser() => tlb.FlushRange(cpus.Current.LoadedMm, 0, TlbFlushInfo.FullMm);

    /// <summary>flush_tlb_kernel_vm: the whole kernel VM area.</summary>
    public void FlushTlbKernel() => tlb.FlushKernelRange(UmlTlb.StartVm, UmlTlb.EndVm);

    /// <summary>flush_tlb_page of the current mm.</summary>
    public void FlushTlbOneUser(ulong address)
    {
        ulong page = address & ~(PageGeometry.PageSize - 1);
        tlb.FlushRange(cpus.Current.LoadedMm, page, page + PageGeometry.PageSize);
    }

    /// <summary>flush_tlb_mm_range of <c>info.Mm</c>; the CPU mask means nothing to a host address space.</summary>
    public void FlushTlbMulti(CpuMask cpus, in TlbFlushInfo info) => tlb.FlushRange(info.Mm, info.Start, info.End);

    /// <summary>The generic tlb_remove_table, which without MMU_GATHER_TABLE_FREE frees the table after the flush like a page.</summary>
    public void TlbRemoveTable(IMmuGather gather, Pfn table) => gather.RemoveTable(table);

    /// <summary>set_pte, pte_clear, pmd_clear: the write carries the sync mark.</summary>
    public void SetPte(IPageTables tables, PteSlot slot, PageTableEntry entry) => tables.Write(slot, tlb.SetPteValue(slot, entry));

    /// <summary>switch_mm: run <paramref name="next"/>'s host process; nothing to sync here.</summary>
    public void SwitchMm(MmId prev, MmId next) => cpus.Current.LoadMm(next);
}
