// The pv ops of the RISC-V backend: local sfence.vma, and the remote fence as __flush_tlb_range does it (only the
// calling hart in the mask: a local fence; else SBI RFENCE or waited IPIs). Every fence goes through a host service
// (ICpu.Invalidate, IFirmware, IIpi), so the engine applies, counts and charges it.
using Microsoft.Extensions.Options;
using Pv.Abstractions.Gather;
using Pv.Abstractions.Host;
using Pv.Abstractions.Memory;
using Pv.Abstractions.Mm;

namespace RiscVSbi;

internal sealed class RiscVPvMmuOps(ICpus cpus, IIpi ipi, IFirmware firmware, ICost cost, IOptions<RiscVOptions> options) : IPvMmuOps
{
    private readonly long _flushAllThreshold = cost.Value(RiscVOptions.FlushAllThreshold);
    private readonly bool _sbi = options.Value.Sbi;

    public void FlushTlbUser()
    {
        var cpu = cpus.Current;
        cpu.Invalidate(TlbInvalidation.Asid(cpu.LoadedMm));
    }

    public void FlushTlbKernel() => cpus.Current.Invalidate(TlbInvalidation.All);

    public void FlushTlbOneUser(ulong address)
    {
        var cpu = cpus.Current;
        cpu.Invalidate(TlbInvalidation.Page(cpu.LoadedMm, address));
    }

    public void FlushTlbMulti(CpuMask targets, in TlbFlushInfo info)
    {
        // sfence.vma of a range also drops the non-leaf entries the hart cached for it (there is no separate
        // walk-cache flush on RISC-V), so freed tables are covered by the same fence.
        var what = info.IsFullFlush || info.Pages >= _flushAllThreshold
            ? (info.Mm.IsInitMm ? TlbInvalidation.All : TlbInvalidation.Asid(info.Mm))
            : TlbInvalidation.Range(info.Mm, info.Start, info.End, info.StrideShift, walkCaches: true);
        var self = cpus.Current;
        bool remote = false;
        foreach (int cpu in targets) remote |= cpu != self.Id;
        if (!remote) self.Invalidate(what);
        else if (_sbi) firmware.RemoteSfenceVma(targets, what);
        else ipi.SendIpi(targets, cpu => cpu.Invalidate(what), wait: true);
    }

    public void TlbRemoveTable(IMmuGather tlb, Pfn table) => tlb.RemoveTable(table);

    public void SwitchMm(MmId prev, MmId next) => cpus.Current.LoadMm(next);
}
