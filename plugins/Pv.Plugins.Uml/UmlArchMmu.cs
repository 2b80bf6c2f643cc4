// UML's arch side of the generic mm: the asm-generic mmu_gather defaults (UML selects no MMU_GATHER_* knob),
// its flush_tlb_* entry points, the set_ptes hook where the deferred (6.11+) scheme marks, and the two sync points the
// engine reaches: a process resuming in user mode and a kernel-mode host SEGV. All the work is UmlTlb's.
using Pv.Abstractions.Gather;
using Pv.Abstractions.Memory;
using Pv.Abstractions.Mm;
using Pv.Abstractions.Plugins;

namespace Pv.Plugins.Uml;

/// <summary>IArchMmu for User-Mode Linux.</summary>
[PvArch(UmlPlugin.ArchProfile)]
public sealed class UmlArchMmu(UmlTlb tlb) : IArchMmu
{
    private static readonly MmuGatherConfig AsmGenericDefaults = new();

    /// <inheritdoc/>
    public MmuGatherConfig GatherConfig => AsmGenericDefaults;

    /// <inheritdoc/>
    public void FlushTlbMmRange(MmId mm, ulong start, ulong end, int strideShift, bool freedTables) => tlb.FlushRange(mm, start, end);

    /// <inheritdoc/>
    public void FlushTlbKernelRange(ulong start, ulong end) => tlb.FlushKernelRange(start, end);

    /// <inheritdoc/>
    public void SetPtes(MmId mm, ulong address, PteSlot slot, PageTableEntry entry, int count) => tlb.SetPtes(mm, address, count);

    /// <summary>
    /// The generic ptep_set_access_flags ends with flush_tlb_fix_spurious_fault, which is flush_tlb_page on UML: the
    /// accessed or dirty bit just set must reach the host prot.
    /// </summary>
    public void PtepSetAccessFlags(MmId mm, ulong address, PageTableEntry oldEntry, PageTableEntry newEntry, bool dirty)
    {
        ulong page = address & ~(PageGeometry.PageSize - 1);
        tlb.FlushRange(mm, page, page + PageGeometry.PageSize);
    }

    /// <summary>update_mmu_cache is empty on UML; it marks where a fault installed a PTE, which the pre-6.11 handler flushed.</summary>
    public void UpdateMmuCache(MmId mm, ulong address, PteSlot slot) => tlb.FaultInstalled(mm, address);

    /// <inheritdoc/>
    public void ReturnToUser(MmId mm) => tlb.ReturnToUser(mm);

    /// <inheritdoc/>
    public bool KernelFault(ulong address) => tlb.KernelFault(address);
}
