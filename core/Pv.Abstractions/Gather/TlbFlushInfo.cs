// What a TLB flush asks for (struct flush_tlb_info) and the view of an mmu_gather that a backend's
// tlb_remove_table pv op receives.
using Pv.Abstractions.Memory;
using Pv.Abstractions.Mm;

namespace Pv.Abstractions.Gather;

/// <summary>struct flush_tlb_info: the range and context of one TLB flush.</summary>
/// <param name="Mm">The address space; <see cref="MmId.InitMm"/> for kernel ranges.</param>
/// <param name="Start">First virtual address (inclusive).</param>
/// <param name="End">Last virtual address (exclusive); <see cref="FullMm"/> means the whole mm.</param>
/// <param name="StrideShift">log2 of the flush stride (12 for PTEs, 21 when only PMDs were cleared).</param>
/// <param name="FreedTables">Page-table pages were freed: paging-structure caches must be dropped too, lazy CPUs included.</param>
/// <param name="NewTlbGen">The mm's <c>tlb_gen</c> after this flush was requested.</param>
/// <param name="InitiatingCpu">The CPU that asked for the flush.</param>
public readonly record struct TlbFlushInfo(
    MmId Mm, ulong Start, ulong End, int StrideShift, bool FreedTables, ulong NewTlbGen, int InitiatingCpu)
{
    /// <summary>The end value that means "flush the whole address space" (TLB_FLUSH_ALL).</summary>
    public const ulong FullMm = ulong.MaxValue;

    /// <summary>True when the whole mm is to be flushed.</summary>
    public bool IsFullFlush => End == FullMm;

    /// <summary>Number of stride-sized entries in the range; <see cref="long.MaxValue"/> for a full flush.</summary>
    public long Pages => IsFullFlush ? long.MaxValue : (long)((End - Start) >> StrideShift);
}

/// <summary>
/// The part of struct mmu_gather a backend sees: the accumulated state and the two ways to hand over a
/// page-table page that is being freed.
/// </summary>
public interface IMmuGather
{
    /// <summary>The mm being torn down.</summary>
    MmId Mm { get; }

    /// <summary>Start of the accumulated range.</summary>
    ulong Start { get; }

    /// <summary>End of the accumulated range (exclusive).</summary>
    ulong End { get; }

    /// <summary>Full-mm teardown (exit or exec).</summary>
    bool FullMm { get; }

    /// <summary>A page-table page was freed in this gather.</summary>
    bool FreedTables { get; }

    /// <summary>The arch knobs this gather runs with.</summary>
    MmuGatherConfig Config { get; }

    /// <summary>
    /// <c>tlb_remove_page</c>: queue <paramref name="page"/> to be freed after the next TLB flush, like a data
    /// page. Safe for a table only if that flush synchronises with every lockless walker (waited IPIs).
    /// </summary>
    void RemovePage(Pfn page);

    /// <summary>
    /// The generic <c>tlb_remove_table</c>: append to the table batch (MMU_GATHER_TABLE_FREE), freed after the
    /// flush, after an RCU grace period with MMU_GATHER_RCU_TABLE_FREE; if no batch page can be allocated,
    /// flush and free this one table after <c>tlb_remove_table_sync_one</c>.
    /// </summary>
    void RemoveTable(Pfn table);
}
