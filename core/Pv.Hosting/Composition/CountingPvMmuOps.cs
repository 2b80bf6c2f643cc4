// A decorator around a backend's pv_mmu_ops that counts every call in the machine's IMetrics under the
// kernel's name (pvops.flush_tlb_multi, pvops.tlb_remove_table, ...) and forwards it unchanged. Calls go
// through the interface, so a backend that keeps a default (bare-metal) method still gets it.
using Pv.Abstractions.Gather;
using Pv.Abstractions.Host;
using Pv.Abstractions.Memory;
using Pv.Abstractions.Mm;

namespace Pv.Hosting.Composition;

/// <summary>Counts each <see cref="IPvMmuOps"/> call as <c>pvops.&lt;kernel name&gt;</c>, then forwards it.</summary>
/// <param name="inner">The backend's ops.</param>
/// <param name="metrics">The machine's counters.</param>
public sealed class CountingPvMmuOps(IPvMmuOps inner, IMetrics metrics) : IPvMmuOps
{
    /// <summary>Prefix of every counter this decorator maintains.</summary>
    public const string Prefix = "pvops.";

    private readonly PvCounter _flushTlbUser = metrics.Counter(Prefix + "flush_tlb_user");
    private readonly PvCounter _flushTlbKernel = metrics.Counter(Prefix + "flush_tlb_kernel");
    private readonly PvCounter _flushTlbOneUser = metrics.Counter(Prefix + "flush_tlb_one_user");
    private readonly PvCounter _flushTlbMulti = metrics.Counter(Prefix + "flush_tlb_multi");
    private readonly PvCounter _tlbRemoveTable = metrics.Counter(Prefix + "tlb_remove_table");
    private readonly PvCounter _exitMmap = metrics.Counter(Prefix + "exit_mmap");
    private readonly PvCounter _pgdAlloc = metrics.Counter(Prefix + "pgd_alloc");
    private readonly PvCounter _pgdFree = metrics.Counter(Prefix + "pgd_free");
    private readonly PvCounter _allocPte = metrics.Counter(Prefix + "alloc_pte");
    private readonly PvCounter _allocPmd = metrics.Counter(Prefix + "alloc_pmd");
    private readonly PvCounter _allocPud = metrics.Counter(Prefix + "alloc_pud");
    private readonly PvCounter _allocP4d = metrics.Counter(Prefix + "alloc_p4d");
    private readonly PvCounter _releasePte = metrics.Counter(Prefix + "release_pte");
    private readonly PvCounter _releasePmd = metrics.Counter(Prefix + "release_pmd");
    private readonly PvCounter _releasePud = metrics.Counter(Prefix + "release_pud");
    private readonly PvCounter _releaseP4d = metrics.Counter(Prefix + "release_p4d");
    private readonly PvCounter _setPte = metrics.Counter(Prefix + "set_pte");
    private readonly PvCounter _enterLazyMmu = metrics.Counter(Prefix + "enter_lazy_mmu");
    private readonly PvCounter _leaveLazyMmu = metrics.Counter(Prefix + "leave_lazy_mmu");
    private readonly PvCounter _flushLazyMmu = metrics.Counter(Prefix + "flush_lazy_mmu");
    private readonly PvCounter _switchMm = metrics.Counter(Prefix + "switch_mm");

    /// <summary>The decorated ops.</summary>
    public IPvMmuOps Inner => inner;

    /// <inheritdoc/>
    public void FlushTlbUser() { _flushTlbUser.Increment(); inner.FlushTlbUser(); }

    /// <inheritdoc/>
    public void FlushTlbKernel() { _flushTlbKernel.Increment(); inner.FlushTlbKernel(); }

    /// <inheritdoc/>
    public void FlushTlbOneUser(ulong address) { _flushTlbOneUser.Increment(); inner.FlushTlbOneUser(address); }

    /// <inheritdoc/>
    public void FlushTlbMulti(CpuMask cpus, in TlbFlushInfo info) { _flushTlbMulti.Increment(); inner.FlushTlbMulti(cpus, info); }

    /// <inheritdoc/>
    public void TlbRemoveTable(IMmuGather tlb, Pfn table) { _tlbRemoveTable.Increment(); inner.TlbRemoveTable(tlb, table); }

    /// <inheritdoc/>
    public void ExitMmap(MmId mm) { _exitMmap.Increment(); inner.ExitMmap(mm); }

    /// <inheritdoc/>
    public void PgdAlloc(MmId mm, Pfn pgd) { _pgdAlloc.Increment(); inner.PgdAlloc(mm, pgd); }

    /// <inheritdoc/>
    public void PgdFree(MmId mm, Pfn pgd) { _pgdFree.Increment(); inner.PgdFree(mm, pgd); }

    /// <inheritdoc/>
    public void AllocPte(MmId mm, Pfn table) { _allocPte.Increment(); inner.AllocPte(mm, table); }

    /// <inheritdoc/>
    public void AllocPmd(MmId mm, Pfn table) { _allocPmd.Increment(); inner.AllocPmd(mm, table); }

    /// <inheritdoc/>
    public void AllocPud(MmId mm, Pfn table) { _allocPud.Increment(); inner.AllocPud(mm, table); }

    /// <inheritdoc/>
    public void AllocP4d(MmId mm, Pfn table) { _allocP4d.Increment(); inner.AllocP4d(mm, table); }

    /// <inheritdoc/>
    public void ReleasePte(Pfn table) { _releasePte.Increment(); inner.ReleasePte(table); }

    /// <inheritdoc/>
    public void ReleasePmd(Pfn table) { _releasePmd.Increment(); inner.ReleasePmd(table); }

    /// <inheritdoc/>
    public void ReleasePud(Pfn table) { _releasePud.Increment(); inner.ReleasePud(table); }

    /// <inheritdoc/>
    public void ReleaseP4d(Pfn table) { _releaseP4d.Increment(); inner.ReleaseP4d(table); }

    /// <inheritdoc/>
    public void SetPte(IPageTables tables, PteSlot slot, PageTableEntry entry) { _setPte.Increment(); inner.SetPte(tables, slot, entry); }

    /// <inheritdoc/>
    public void EnterLazyMmu() { _enterLazyMmu.Increment(); inner.EnterLazyMmu(); }

    /// <inheritdoc/>
    public void LeaveLazyMmu() { _leaveLazyMmu.Increment(); inner.LeaveLazyMmu(); }

    /// <inheritdoc/>
    public void FlushLazyMmu() { _flushLazyMmu.Increment(); inner.FlushLazyMmu(); }

    /// <inheritdoc/>
    public void SwitchMm(MmId prev, MmId next) { _switchMm.Increment(); inner.SwitchMm(prev, next); }

    /// <inheritdoc/>
    /// <remarks>Forwarded uncounted: it is the first half of the one switch_mm that <see cref="SwitchMm"/> counts.</remarks>
    public bool SwitchMmBegin(MmId prev, MmId next) => inner.SwitchMmBegin(prev, next);
}
