// A test-double arm64 CPU backend built only on host services, as the native plugin would be: TLB flushes
// are broadcast TLBIs (no IPIs), a range of MAX_TLBI_OPS (512) pages or more becomes flush_tlb_mm, tables are
// freed through the RCU table batch, and ptep_set_access_flags flushes the page when it made it writable.
// In the v6.6+ era every flush ends with mmu_notifier_arch_invalidate_secondary_tlbs (flush_tlb_mm passes
// the whole address space, 0..ULONG_MAX); before v6.6 no flush reaches secondary MMUs.
using Pv.Abstractions.Gather;
using Pv.Abstractions.Host;
using Pv.Abstractions.Memory;
using Pv.Abstractions.Mm;
using Pv.Abstractions.Notifiers;

namespace Pv.Plugins.Smmu.Tests;

internal sealed class Arm64TestArch(ICpus cpus, IMmuNotifierRegistry notifiers, bool v66) : IArchMmu, IPvMmuOps
{
    /// <summary>MAX_TLBI_OPS at 4 KiB pages.</summary>
    private const ulong MaxTlbiOps = 512;

    public MmuGatherConfig GatherConfig => ArchProfiles.Arm64;

    public void FlushTlbMmRange(MmId mm, ulong start, ulong end, int strideShift, bool freedTables)
    {
        if (end == TlbFlushInfo.FullMm || (end - start) >> strideShift >= MaxTlbiOps)
        {
            FlushTlbMm(mm);
            return;
        }
        cpus.BroadcastInvalidate(TlbInvalidation.Range(mm, start, end, strideShift, freedTables));
        if (v66) notifiers.ArchInvalidateSecondaryTlbs(mm, start, end);
    }

    public void FlushTlbKernelRange(ulong start, ulong end) => cpus.BroadcastInvalidate(TlbInvalidation.Range(MmId.InitMm, start, end, walkCaches: true));

    /// <summary>arm64 flushes a read-only entry the CPU may still cache once the PTE became writable.</summary>
    public void PtepSetAccessFlags(MmId mm, ulong address, PageTableEntry oldEntry, PageTableEntry newEntry, bool dirty)
    {
        if (dirty) FlushTlbMmRange(mm, address, address + PageGeometry.PageSize, PageGeometry.PageShift, false);
    }

    public void FlushTlbUser() => cpus.Current.Invalidate(TlbInvalidation.Asid(cpus.Current.LoadedMm));
    public void FlushTlbKernel() => cpus.Current.Invalidate(TlbInvalidation.All);
    public void FlushTlbOneUser(ulong address) => cpus.Current.Invalidate(TlbInvalidation.Page(cpus.Current.LoadedMm, address));
    public void FlushTlbMulti(CpuMask targets, in TlbFlushInfo info) => FlushTlbMmRange(info.Mm, info.Start, info.End, info.StrideShift, info.FreedTables);
    public void TlbRemoveTable(IMmuGather tlb, Pfn table) => tlb.RemoveTable(table);
    public void SwitchMm(MmId prev, MmId next) => cpus.Current.LoadMm(next);

    private void FlushTlbMm(MmId mm)
    {
        cpus.BroadcastInvalidate(TlbInvalidation.Asid(mm));
        if (v66) notifiers.ArchInvalidateSecondaryTlbs(mm, 0, TlbFlushInfo.FullMm);
    }
}
