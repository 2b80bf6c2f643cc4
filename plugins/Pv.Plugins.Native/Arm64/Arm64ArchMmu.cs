// arm64's arch side of the generic mm: the gather knobs (RCU table free, no MERGE_VMAS so tlb_end_vma
// flushes each VMA), flush_tlb_mm_range through the broadcast TLBI, and __ptep_set_access_flags, which
// flushes the page when it makes a PTE writable ("invalidate a stale read-only entry"): other CPUs, and in
// the v6.6+ era secondary MMUs through arch_invalidate_secondary_tlbs, would otherwise keep the read-only
// translation and fault on it.
using Microsoft.Extensions.Options;
using Pv.Abstractions.Gather;
using Pv.Abstractions.Host;
using Pv.Abstractions.Memory;
using Pv.Abstractions.Mm;
using Pv.Abstractions.Notifiers;
using Pv.Abstractions.Plugins;

namespace Pv.Plugins.Native.Arm64;

/// <summary>arm64 IArchMmu.</summary>
[PvArch(NativeOptions.Arm64)]
internal sealed class Arm64ArchMmu(IPvMmuOps pvOps, ICpus cpus, IMmuNotifierRegistry notifiers, ICost cost, IOptions<NativeOptions> bound) : IArchMmu
{
    private readonly bool _archInvalidateSecondaryTlbs = bound.Value.ArchInvalidateSecondaryTlbs;
    private readonly long _maxDvmOps = cost.Value(NativeOptions.MaxDvmOps);

    /// <inheritdoc/>
    public MmuGatherConfig GatherConfig { get; } = bound.Value.Gather;

    /// <inheritdoc/>
    public void FlushTlbMmRange(MmId mm, ulong start, ulong end, int strideShift, bool freedTables)
    {
        var info = new TlbFlushInfo(mm, start, end, strideShift, freedTables, 0, cpus.Current.Id);
        pvOps.FlushTlbMulti(cpus.Online, info);
        if (!_archInvalidateSecondaryTlbs) return;
        if (Arm64PvMmuOps.FlushesWholeAsid(info, _maxDvmOps)) notifiers.ArchInvalidateSecondaryTlbs(mm, 0, TlbFlushInfo.FullMm);
        else notifiers.ArchInvalidateSecondaryTlbs(mm, start, end);
    }

    /// <inheritdoc/>
    public void FlushTlbKernelRange(ulong start, ulong end)
    {
        // Above MAX_DVM_OPS pages, flush_tlb_all.
        if (end == TlbFlushInfo.FullMm || ((end - start) >> PageGeometry.PageShift) > (ulong)_maxDvmOps)
            cpus.BroadcastInvalidate(TlbInvalidation.All);
        else cpus.BroadcastInvalidate(TlbInvalidation.Range(MmId.InitMm, start, end));
    }

    /// <inheritdoc/>
    public void PtepSetAccessFlags(MmId mm, ulong address, PageTableEntry oldEntry, PageTableEntry newEntry, bool dirty)
    {
        if (dirty) FlushTlbMmRange(mm, address, address + PageGeometry.PageSize, PageGeometry.PageShift, freedTables: false);
    }
}
