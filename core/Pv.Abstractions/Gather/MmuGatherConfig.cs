// The arch knobs of asm-generic/tlb.h (docs/model.md) as data, and the arch profiles that select them.
// The engine's mmu_gather honours every knob; a backend picks a profile or builds its own.
namespace Pv.Abstractions.Gather;

/// <summary>
/// The MMU_GATHER_* Kconfig knobs an arch selects, plus <c>tlb_needs_table_invalidate()</c>.
/// </summary>
/// <param name="TableFree">MMU_GATHER_TABLE_FREE: tables go through <c>tlb_remove_table</c> batches.</param>
/// <param name="RcuTableFree">MMU_GATHER_RCU_TABLE_FREE: table batches are freed after an RCU grace period (implies TableFree).</param>
/// <param name="PageSize">MMU_GATHER_PAGE_SIZE: track the page size and flush when it changes.</param>
/// <param name="NoRange">MMU_GATHER_NO_RANGE: always flush the whole mm (implies MergeVmas).</param>
/// <param name="NoFlushCache">MMU_GATHER_NO_FLUSH_CACHE: no <c>flush_cache_range</c> in <c>tlb_start_vma</c>.</param>
/// <param name="MergeVmas">MMU_GATHER_MERGE_VMAS: no per-VMA flush in <c>tlb_end_vma</c>.</param>
/// <param name="NoGather">MMU_GATHER_NO_GATHER: no page batching; pages are freed at once, the arch flushes inside the clear.</param>
/// <param name="TableInvalidate"><c>tlb_needs_table_invalidate()</c>: invalidate walk caches before freeing a table batch.</param>
public sealed record MmuGatherConfig(
    bool TableFree = false,
    bool RcuTableFree = false,
    bool PageSize = false,
    bool NoRange = false,
    bool NoFlushCache = false,
    bool MergeVmas = false,
    bool NoGather = false,
    bool TableInvalidate = true)
{
    /// <summary>RcuTableFree implies TableFree.</summary>
    public bool EffectiveTableFree => TableFree || RcuTableFree;

    /// <summary>NoRange implies MergeVmas.</summary>
    public bool EffectiveMergeVmas => MergeVmas || NoRange;
}

/// <summary>The arch profiles (docs/model.md), by name. A backend selects one; a user can A/B them.</summary>
public static class ArchProfiles
{
    /// <summary>x86 bare metal 4.19–6.14: MERGE_VMAS; tables freed through the <c>tlb_remove_table</c> pv op.</summary>
    public static MmuGatherConfig X86 { get; } = new(MergeVmas: true);

    /// <summary>x86 with PARAVIRT before 6.15 (Xen PV): MERGE_VMAS and RCU table free.</summary>
    public static MmuGatherConfig X86Paravirt { get; } = new(MergeVmas: true, RcuTableFree: true);

    /// <summary>x86 6.15+: MERGE_VMAS and RCU table free always.</summary>
    public static MmuGatherConfig X86V615 { get; } = new(MergeVmas: true, RcuTableFree: true);

    /// <summary>arm64: RCU table free; no MERGE_VMAS, so a flush per VMA.</summary>
    public static MmuGatherConfig Arm64 { get; } = new(RcuTableFree: true);

    /// <summary>powerpc book3s64 (radix): PAGE_SIZE, RCU table free, MERGE_VMAS, table invalidate.</summary>
    public static MmuGatherConfig PowerPc { get; } = new(PageSize: true, RcuTableFree: true, MergeVmas: true);

    /// <summary>powerpc book3s64 (hash): as <see cref="PowerPc"/> but no table invalidate.</summary>
    public static MmuGatherConfig PowerPcHash { get; } = new(PageSize: true, RcuTableFree: true, MergeVmas: true, TableInvalidate: false);

    /// <summary>s390: MERGE_VMAS, NO_GATHER, RCU table free.</summary>
    public static MmuGatherConfig S390 { get; } = new(MergeVmas: true, NoGather: true, RcuTableFree: true);

    /// <summary>sparc64 (SMP): RCU table free, MERGE_VMAS, NO_FLUSH_CACHE, no table invalidate.</summary>
    public static MmuGatherConfig Sparc64 { get; } = new(RcuTableFree: true, MergeVmas: true, NoFlushCache: true, TableInvalidate: false);

    /// <summary>loongarch: MERGE_VMAS.</summary>
    public static MmuGatherConfig LoongArch { get; } = new(MergeVmas: true);

    /// <summary>riscv (SMP) with remote fences through SBI: RCU table free.</summary>
    public static MmuGatherConfig RiscV { get; } = new(RcuTableFree: true);

    /// <summary>riscv with IPI remote fences: tables freed at once (the IPI synchronises walkers).</summary>
    public static MmuGatherConfig RiscVIpi { get; } = new();

    /// <summary>csky: the defaults (range flush per VMA).</summary>
    public static MmuGatherConfig Csky { get; } = new();

    /// <summary>alpha, m68k, nios2, openrisc: NO_RANGE.</summary>
    public static MmuGatherConfig NoRangeArch { get; } = new(NoRange: true);

    /// <summary>Every profile by its name in plugins.json.</summary>
    public static IReadOnlyDictionary<string, MmuGatherConfig> ByName { get; } = new Dictionary<string, MmuGatherConfig>(StringComparer.Ordinal)
    {
        ["x86"] = X86,
        ["x86-paravirt"] = X86Paravirt,
        ["x86-6.15"] = X86V615,
        ["arm64"] = Arm64,
        ["powerpc"] = PowerPc,
        ["powerpc-hash"] = PowerPcHash,
        ["s390"] = S390,
        ["sparc64"] = Sparc64,
        ["loongarch"] = LoongArch,
        ["riscv"] = RiscV,
        ["riscv-ipi"] = RiscVIpi,
        ["csky"] = Csky,
        ["alpha"] = NoRangeArch,
        ["m68k"] = NoRangeArch,
        ["nios2"] = NoRangeArch,
        ["openrisc"] = NoRangeArch,
    };
}
