// arch/x86/mm/tlb.c's flush_tlb_mm_range and flush_tlb_kernel_range (and asm/tlbflush.h's flush_tlb_range
// macro on top of the former), shared by every x86 backend: the
// range-versus-full decision (tlb_single_page_flush_ceiling), the mm's tlb_gen bump, the choice between
// flush_tlb_multi (another CPU may cache the mm) and a local flush_tlb_func, and, at the end,
// mmu_notifier_arch_invalidate_secondary_tlbs so secondary MMUs drop the range too (v6.6+). What differs
// between bare metal and a paravirtualised guest is only the pv op flush_tlb_multi (and the local
// primitives), reached through the machine's pv_mmu_ops table.
//
// The caller of a flush never takes another step before the flush's waits (IPI acknowledgements) are
// over, so calling the secondary-TLB hook in the same step still orders it before anything the caller
// frees afterwards.
using Pv.Abstractions.Gather;
using Pv.Abstractions.Host;
using Pv.Abstractions.Mm;
using Pv.Abstractions.Notifiers;

namespace Pv.Arch.X86;

/// <summary>The x86 arch TLB interface; a backend supplies the gather knobs of its kernel.</summary>
/// <param name="pvOps">The machine's pv_mmu_ops table (what the host attached, decorators included).</param>
/// <param name="cpus">The CPUs.</param>
/// <param name="ipi">IPIs, for kernel-range flushes.</param>
/// <param name="notifiers">The mmu notifier registry (secondary TLBs).</param>
/// <param name="cost">The machine's costs, for the flush ceiling (<see cref="X86Costs.FlushCeiling"/>, which the backend declares).</param>
public abstract class X86ArchMmu(IPvMmuOps pvOps, ICpus cpus, IIpi ipi, IMmuNotifierRegistry notifiers, ICost cost) : IArchMmu
{
    private readonly ulong _flushCeiling = (ulong)cost.Value(X86Costs.FlushCeiling);

    /// <inheritdoc/>
    public abstract MmuGatherConfig GatherConfig { get; }

    /// <inheritdoc/>
    public void FlushTlbMmRange(MmId mm, ulong start, ulong end, int strideShift, bool freedTables)
    {
        var self = cpus.Current;
        // Beyond the ceiling one CR3 reload is cheaper than that many INVLPGs, and refills cost the same.
        if (end == TlbFlushInfo.FullMm || ((end - start) >> strideShift) > _flushCeiling)
            (start, end) = (0, TlbFlushInfo.FullMm);
        // The bump orders this request against switch_mm_irqs_off: a CPU joining the mask later sees the new generation.
        ulong gen = cpus.IncMmTlbGen(mm);
        var info = new TlbFlushInfo(mm, start, end, strideShift, freedTables, gen, self.Id);
        var mask = cpus.MmCpumask(mm);
        if (!mask.Without(self.Id).IsEmpty) pvOps.FlushTlbMulti(mask, info);
        else if (self.LoadedMm == mm) X86Tlb.FlushTlbFunc(cpus, pvOps, self, info);
        notifiers.ArchInvalidateSecondaryTlbs(mm, start, end);
    }

    /// <summary>
    /// Whether the <c>flush_tlb_range</c> macro passes freed_tables to flush_tlb_mm_range. True since 3ef938c35035 (v6.14,
    /// backported as the CVE-2025-22045 fix): the macro is used after clearing a PMD that points to a PTE table
    /// (pmdp_collapse_flush), so lazy CPUs must drop their paging-structure caches too. From 016c4d92cd16 (4.19) until
    /// then it passed false.
    /// </summary>
    protected virtual bool FlushTlbRangeFreedTables => true;

    /// <inheritdoc/>
    public void FlushTlbRange(MmId mm, ulong start, ulong end, int strideShift) =>
        FlushTlbMmRange(mm, start, end, strideShift, FlushTlbRangeFreedTables);

    /// <inheritdoc/>
    public void FlushTlbKernelRange(ulong start, ulong end)
    {
        // Kernel mappings are global and shared by every mm, so every online CPU is interrupted and waited for.
        var inv = end == TlbFlushInfo.FullMm || ((end - start) >> 12) > _flushCeiling
            ? TlbInvalidation.All
            : TlbInvalidation.Range(MmId.InitMm, start, end);
        ipi.SendIpi(cpus.Online, cpu => cpu.Invalidate(inv), wait: true);
    }
}
