// The arch side: which mmu_gather is in force, and flush_tlb_mm_range / flush_tlb_kernel_range through the pv op.
using Microsoft.Extensions.Options;
using Pv.Abstractions.Gather;
using Pv.Abstractions.Host;
using Pv.Abstractions.Memory;
using Pv.Abstractions.Mm;
using Pv.Abstractions.Notifiers;

namespace RiscVSbi;

internal sealed class RiscVMmu(IPvMmuOps pvOps, ICpus cpus, IMmuNotifierRegistry notifiers, IOptions<RiscVOptions> options) : IArchMmu
{
    /// <summary>
    /// SBI fences with RCU table free: the riscv profile. IPI fences: riscv_tlb_remove_ptdesc frees tables with the
    /// pages after the flush (the waited IPI already waited for every IRQ-off walker). SBI without RCU: tables freed
    /// after a flush that waited for nobody.
    /// </summary>
    public MmuGatherConfig GatherConfig { get; } = options.Value.Sbi && options.Value.RcuTableFree
        ? ArchProfiles.RiscV
        : ArchProfiles.RiscVIpi with { TableFree = true, RcuTableFree = false };

    public void FlushTlbMmRange(MmId mm, ulong start, ulong end, int strideShift, bool freedTables)
    {
        var info = new TlbFlushInfo(mm, start, end, strideShift, freedTables, NewTlbGen: 0, cpus.Current.Id);
        pvOps.FlushTlbMulti(cpus.MmCpumask(mm), info);
        notifiers.ArchInvalidateSecondaryTlbs(mm, start, end);
    }

    public void FlushTlbKernelRange(ulong start, ulong end) =>
        pvOps.FlushTlbMulti(cpus.Online, new TlbFlushInfo(MmId.InitMm, start, end, PageGeometry.PageShift, false, 0, cpus.Current.Id));

    // riscv's ptep_set_access_flags: a dirty-bit update is followed by a local fence of that page.
    public void PtepSetAccessFlags(MmId mm, ulong address, PageTableEntry oldEntry, PageTableEntry newEntry, bool dirty)
    {
        if (dirty) FlushTlbMmRange(mm, address, address + PageGeometry.PageSize, PageGeometry.PageShift, freedTables: false);
    }
}
