// The arch side of the generic mm: the mmu_gather knobs in force, and flush_tlb_mm_range / flush_tlb_kernel_range,
// which go through the pv op (so the flush is counted and charged) and then tell secondary MMUs (the v6.6+
// arch_invalidate_secondary_tlbs hook SVA devices rely on).
using Microsoft.Extensions.Options;
using Pv.Abstractions.Gather;
using Pv.Abstractions.Host;
using Pv.Abstractions.Memory;
using Pv.Abstractions.Mm;
using Pv.Abstractions.Notifiers;

namespace MyArch;

internal sealed class MyArchMmu(IPvMmuOps pvOps, ICpus cpus, IMmuNotifierRegistry notifiers, IOptions<MyArchOptions> options)
    : IArchMmu
{
    /// <summary>RCU table free (a flush per VMA), or tables freed with the pages right after the gather's flush.</summary>
    public MmuGatherConfig GatherConfig { get; } = options.Value.RcuTableFree
        ? ArchProfiles.Arm64
        : ArchProfiles.Arm64 with { TableFree = true, RcuTableFree = false };

    public void FlushTlbMmRange(MmId mm, ulong start, ulong end, int strideShift, bool freedTables)
    {
        var info = new TlbFlushInfo(mm, start, end, strideShift, freedTables, NewTlbGen: 0, cpus.Current.Id);
        pvOps.FlushTlbMulti(cpus.MmCpumask(mm), info);
        notifiers.ArchInvalidateSecondaryTlbs(mm, start, end);
    }

    public void FlushTlbKernelRange(ulong start, ulong end) =>
        pvOps.FlushTlbMulti(cpus.Online, new TlbFlushInfo(MmId.InitMm, start, end, PageGeometry.PageShift, false, 0, cpus.Current.Id));

    // A write fault that only sets the dirty bit must not leave a read-only entry cached elsewhere.
    public void PtepSetAccessFlags(MmId mm, ulong address, PageTableEntry oldEntry, PageTableEntry newEntry, bool dirty)
    {
        if (dirty) FlushTlbMmRange(mm, address, address + PageGeometry.PageSize, PageGeometry.PageShift, freedTables: false);
    }
}
