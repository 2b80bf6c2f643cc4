// The pv ops: local TLB maintenance, the remote flush, and where freed page tables go. Every flush goes through the
// host services given here (ICpus, IIpi), so the engine applies, counts and charges it.
using Microsoft.Extensions.Options;
using Pv.Abstractions.Gather;
using Pv.Abstractions.Host;
using Pv.Abstractions.Memory;
using Pv.Abstractions.Mm;

namespace MyArch;

internal sealed class MyArchPvMmuOps(ICpus cpus, IIpi ipi, ICost cost, IOptions<MyArchOptions> options) : IPvMmuOps
{
    private readonly long _maxTlbiPages = cost.Value(MyArchOptions.MaxTlbiPages);
    private readonly bool _ipi = options.Value.RemoteFlush == "ipi";

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
        var what = info.IsFullFlush || info.Pages >= _maxTlbiPages
            ? (info.Mm.IsInitMm ? TlbInvalidation.All : TlbInvalidation.Asid(info.Mm))
            : TlbInvalidation.Range(info.Mm, info.Start, info.End, info.StrideShift, walkCaches: info.FreedTables);
        if (_ipi) ipi.SendIpi(targets, cpu => cpu.Invalidate(what), wait: true);   // taken only with IRQs on
        else cpus.BroadcastInvalidate(what);                                      // reaches every CPU at once
    }

    public void TlbRemoveTable(IMmuGather tlb, Pfn table) => tlb.RemoveTable(table);

    public void SwitchMm(MmId prev, MmId next) => cpus.Current.LoadMm(next);
}
