// The arch side of the generic mm (asm/tlbflush.h, asm/tlb.h, asm/pgtable.h hooks): which gather knobs
// the arch selects, its TLB flush entry points, and the hooks the engine calls at fixed points.
using Pv.Abstractions.Gather;
using Pv.Abstractions.Memory;

namespace Pv.Abstractions.Mm;

/// <summary>
/// What an arch provides to the generic mm code. The engine calls these at the same points the kernel
/// does; defaults are the no-op most arches use.
/// </summary>
public interface IArchMmu
{
    /// <summary>The MMU_GATHER_* knobs this arch selects (see <see cref="ArchProfiles"/>).</summary>
    MmuGatherConfig GatherConfig { get; }

    /// <summary>
    /// <c>flush_tlb_mm_range</c>: invalidate <paramref name="mm"/>'s translations in [start, end) on every CPU
    /// that may cache them (and, in the v6.6+ era, secondary TLBs through
    /// <see cref="Notifiers.IMmuNotifierRegistry.ArchInvalidateSecondaryTlbs"/>). <paramref name="end"/> equal to
    /// <see cref="TlbFlushInfo.FullMm"/> is <c>flush_tlb_mm</c>. Called with the PTL possibly held.
    /// </summary>
    /// <param name="mm">The address space.</param>
    /// <param name="start">First address.</param>
    /// <param name="end">End address (exclusive) or <see cref="TlbFlushInfo.FullMm"/>.</param>
    /// <param name="strideShift">log2 of the stride of the cleared entries.</param>
    /// <param name="freedTables">Page tables were freed: walk caches (and lazy CPUs) must be flushed too.</param>
    void FlushTlbMmRange(MmId mm, ulong start, ulong end, int strideShift, bool freedTables);

    /// <summary>
    /// <c>flush_tlb_range(vma, start, end)</c>: the generic mm cleared entries of one VMA in [start, end) itself, with no
    /// mmu_gather to say whether page tables went with them. Documentation/core-api/cachetlb.rst lets a caller use it
    /// after clearing an entry that points to a page table (pmdp_collapse_flush), so the default flushes walk caches
    /// too (<c>freedTables</c>), as arm64's flush_tlb_range does. An arch decides this itself because in the kernel it
    /// is the arch's macro that picks the flush_tlb_mm_range arguments (x86 passed false until v6.14).
    /// Added in contract 1.0 without a version bump: a default member, so existing backends keep compiling and working.
    /// </summary>
    /// <param name="mm">The address space.</param>
    /// <param name="start">First address.</param>
    /// <param name="end">End address (exclusive).</param>
    /// <param name="strideShift">log2 of the VMA's page size (PAGE_SHIFT, or the hugetlb page shift).</param>
    void FlushTlbRange(MmId mm, ulong start, ulong end, int strideShift) => FlushTlbMmRange(mm, start, end, strideShift, freedTables: true);

    /// <summary><c>flush_tlb_kernel_range</c>: kernel (init_mm) translations on every CPU.</summary>
    void FlushTlbKernelRange(ulong start, ulong end);

    /// <summary><c>flush_cache_range</c>, called from <c>tlb_start_vma</c> unless MMU_GATHER_NO_FLUSH_CACHE.</summary>
    void FlushCacheRange(MmId mm, ulong start, ulong end) { }

    /// <summary><c>update_mmu_cache</c>: a fault or <c>install_pte</c> filled <paramref name="slot"/>.</summary>
    void UpdateMmuCache(MmId mm, ulong address, PteSlot slot) { }

    /// <summary>
    /// The <c>set_ptes</c> hook: <paramref name="count"/> consecutive PTEs from <paramref name="address"/> were
    /// just written, starting with <paramref name="entry"/>. UML marks them NEEDSYNC here.
    /// </summary>
    void SetPtes(MmId mm, ulong address, PteSlot slot, PageTableEntry entry, int count) { }

    /// <summary>
    /// Policy of <c>ptep_set_access_flags</c> after the engine wrote a more permissive entry (a write fault on a
    /// writable VMA, or the accessed bit): x86 does nothing (a stale entry only causes a spurious fault that
    /// refreshes the local TLB); arm64 flushes the page when <paramref name="dirty"/>.
    /// </summary>
    void PtepSetAccessFlags(MmId mm, ulong address, PageTableEntry oldEntry, PageTableEntry newEntry, bool dirty) { }

    /// <summary>Sync point right before a thread of <paramref name="mm"/> resumes in user mode (UML syncs host mappings).</summary>
    void ReturnToUser(MmId mm) { }

    /// <summary>
    /// A kernel-mode access to <paramref name="address"/> faulted. Return true if the arch repaired a deferred
    /// mapping (UML syncing init_mm) and the access should be retried.
    /// </summary>
    bool KernelFault(ulong address) => false;
}
