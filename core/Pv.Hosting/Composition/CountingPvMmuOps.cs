// A decorator around a backend's pv_mmu_ops that counts every call in the machine's IMetrics under the
// kernel's name (pvops.flush_tlb_multi, pvops.tlb_remove_table, ...) and forwards it unchanged, through the
// machine's PluginBoundary: an exception from the plugin's op becomes a plugin fault naming the op. Calls go
// through the interface, so a backend that keeps a default (bare-metal) method still gets it. Each method
// spells out its try block (no closure: these are the hot path; `in` arguments cannot be captured anyway).
using Pv.Abstractions.Gather;
using Pv.Abstractions.Host;
using Pv.Abstractions.Memory;
using Pv.Abstractions.Mm;

namespace Pv.Hosting.Composition;

/// <summary>Counts each <see cref="IPvMmuOps"/> call as <c>pvops.&lt;kernel name&gt;</c>, then forwards it through the plugin boundary.</summary>
/// <param name="inner">The backend's ops.</param>
/// <param name="metrics">The machine's counters.</param>
/// <param name="boundary">The machine's plugin boundary.</param>
public sealed class CountingPvMmuOps(IPvMmuOps inner, IMetrics metrics, PluginBoundary boundary) : IPvMmuOps
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
    public void FlushTlbUser()
    {
        _flushTlbUser.Increment();
        var call = boundary.Enter("flush_tlb_user");
        try { inner.FlushTlbUser(); }
        catch (Exception e) when (PluginBoundary.IsPluginFault(e)) { throw boundary.Fault("flush_tlb_user", e); }
        finally { boundary.Exit(call); }
    }

    /// <inheritdoc/>
    public void FlushTlbKernel()
    {
        _flushTlbKernel.Increment();
        var call = boundary.Enter("flush_tlb_kernel");
        try { inner.FlushTlbKernel(); }
        catch (Exception e) when (PluginBoundary.IsPluginFault(e)) { throw boundary.Fault("flush_tlb_kernel", e); }
        finally { boundary.Exit(call); }
    }

    /// <inheritdoc/>
    public void FlushTlbOneUser(ulong address)
    {
        _flushTlbOneUser.Increment();
        var call = boundary.Enter("flush_tlb_one_user");
        try { inner.FlushTlbOneUser(address); }
        catch (Exception e) when (PluginBoundary.IsPluginFault(e)) { throw boundary.Fault("flush_tlb_one_user", e); }
        finally { boundary.Exit(call); }
    }

    /// <inheritdoc/>
    public void FlushTlbMulti(CpuMask cpus, in TlbFlushInfo info)
    {
        _flushTlbMulti.Increment();
        var call = boundary.Enter("flush_tlb_multi");
        try { inner.FlushTlbMulti(cpus, info); }
        catch (Exception e) when (PluginBoundary.IsPluginFault(e)) { throw boundary.Fault("flush_tlb_multi", e); }
        finally { boundary.Exit(call); }
    }

    /// <inheritdoc/>
    public void TlbRemoveTable(IMmuGather tlb, Pfn table)
    {
        _tlbRemoveTable.Increment();
        var call = boundary.Enter("tlb_remove_table");
        try { inner.TlbRemoveTable(tlb, table); }
        catch (Exception e) when (PluginBoundary.IsPluginFault(e)) { throw boundary.Fault("tlb_remove_table", e); }
        finally { boundary.Exit(call); }
    }

    /// <inheritdoc/>
    public void ExitMmap(MmId mm)
    {
        _exitMmap.Increment();
        var call = boundary.Enter("exit_mmap");
        try { inner.ExitMmap(mm); }
        catch (Exception e) when (PluginBoundary.IsPluginFault(e)) { throw boundary.Fault("exit_mmap", e); }
        finally { boundary.Exit(call); }
    }

    /// <inheritdoc/>
    public void PgdAlloc(MmId mm, Pfn pgd)
    {
        _pgdAlloc.Increment();
        var call = boundary.Enter("pgd_alloc");
        try { inner.PgdAlloc(mm, pgd); }
        catch (Exception e) when (PluginBoundary.IsPluginFault(e)) { throw boundary.Fault("pgd_alloc", e); }
        finally { boundary.Exit(call); }
    }

    /// <inheritdoc/>
    public void PgdFree(MmId mm, Pfn pgd)
    {
        _pgdFree.Increment();
        var call = boundary.Enter("pgd_free");
        try { inner.PgdFree(mm, pgd); }
        catch (Exception e) when (PluginBoundary.IsPluginFault(e)) { throw boundary.Fault("pgd_free", e); }
        finally { boundary.Exit(call); }
    }

    /// <inheritdoc/>
    public void AllocPte(MmId mm, Pfn table)
    {
        _allocPte.Increment();
        var call = boundary.Enter("alloc_pte");
        try { inner.AllocPte(mm, table); }
        catch (Exception e) when (PluginBoundary.IsPluginFault(e)) { throw boundary.Fault("alloc_pte", e); }
        finally { boundary.Exit(call); }
    }

    /// <inheritdoc/>
    public void AllocPmd(MmId mm, Pfn table)
    {
        _allocPmd.Increment();
        var call = boundary.Enter("alloc_pmd");
        try { inner.AllocPmd(mm, table); }
        catch (Exception e) when (PluginBoundary.IsPluginFault(e)) { throw boundary.Fault("alloc_pmd", e); }
        finally { boundary.Exit(call); }
    }

    /// <inheritdoc/>
    public void AllocPud(MmId mm, Pfn table)
    {
        _allocPud.Increment();
        var call = boundary.Enter("alloc_pud");
        try { inner.AllocPud(mm, table); }
        catch (Exception e) when (PluginBoundary.IsPluginFault(e)) { throw boundary.Fault("alloc_pud", e); }
        finally { boundary.Exit(call); }
    }

    /// <inheritdoc/>
    public void AllocP4d(MmId mm, Pfn table)
    {
        _allocP4d.Increment();
        var call = boundary.Enter("alloc_p4d");
        try { inner.AllocP4d(mm, table); }
        catch (Exception e) when (PluginBoundary.IsPluginFault(e)) { throw boundary.Fault("alloc_p4d", e); }
        finally { boundary.Exit(call); }
    }

    /// <inheritdoc/>
    public void ReleasePte(Pfn table)
    {
        _releasePte.Increment();
        var call = boundary.Enter("release_pte");
        try { inner.ReleasePte(table); }
        catch (Exception e) when (PluginBoundary.IsPluginFault(e)) { throw boundary.Fault("release_pte", e); }
        finally { boundary.Exit(call); }
    }

    /// <inheritdoc/>
    public void ReleasePmd(Pfn table)
    {
        _releasePmd.Increment();
        var call = boundary.Enter("release_pmd");
        try { inner.ReleasePmd(table); }
        catch (Exception e) when (PluginBoundary.IsPluginFault(e)) { throw boundary.Fault("release_pmd", e); }
        finally { boundary.Exit(call); }
    }

    /// <inheritdoc/>
    public void ReleasePud(Pfn table)
    {
        _releasePud.Increment();
        var call = boundary.Enter("release_pud");
        try { inner.ReleasePud(table); }
        catch (Exception e) when (PluginBoundary.IsPluginFault(e)) { throw boundary.Fault("release_pud", e); }
        finally { boundary.Exit(call); }
    }

    /// <inheritdoc/>
    public void ReleaseP4d(Pfn table)
    {
        _releaseP4d.Increment();
        var call = boundary.Enter("release_p4d");
        try { inner.ReleaseP4d(table); }
        catch (Exception e) when (PluginBoundary.IsPluginFault(e)) { throw boundary.Fault("release_p4d", e); }
        finally { boundary.Exit(call); }
    }

    /// <inheritdoc/>
    public void SetPte(IPageTables tables, PteSlot slot, PageTableEntry entry)
    {
        _setPte.Increment();
        var call = boundary.Enter("set_pte");
        try { inner.SetPte(tables, slot, entry); }
        catch (Exception e) when (PluginBoundary.IsPluginFault(e)) { throw boundary.Fault("set_pte", e); }
        finally { boundary.Exit(call); }
    }

    /// <inheritdoc/>
    public void EnterLazyMmu()
    {
        _enterLazyMmu.Increment();
        var call = boundary.Enter("enter_lazy_mmu");
        try { inner.EnterLazyMmu(); }
        catch (Exception e) when (PluginBoundary.IsPluginFault(e)) { throw boundary.Fault("enter_lazy_mmu", e); }
        finally { boundary.Exit(call); }
    }

    /// <inheritdoc/>
    public void LeaveLazyMmu()
    {
        _leaveLazyMmu.Increment();
        var call = boundary.Enter("leave_lazy_mmu");
        try { inner.LeaveLazyMmu(); }
        catch (Exception e) when (PluginBoundary.IsPluginFault(e)) { throw boundary.Fault("leave_lazy_mmu", e); }
        finally { boundary.Exit(call); }
    }

    /// <inheritdoc/>
    public void FlushLazyMmu()
    {
        _flushLazyMmu.Increment();
        var call = boundary.Enter("flush_lazy_mmu");
        try { inner.FlushLazyMmu(); }
        catch (Exception e) when (PluginBoundary.IsPluginFault(e)) { throw boundary.Fault("flush_lazy_mmu", e); }
        finally { boundary.Exit(call); }
    }

    /// <inheritdoc/>
    public void SwitchMm(MmId prev, MmId next)
    {
        _switchMm.Increment();
        var call = boundary.Enter("switch_mm");
        try { inner.SwitchMm(prev, next); }
        catch (Exception e) when (PluginBoundary.IsPluginFault(e)) { throw boundary.Fault("switch_mm", e); }
        finally { boundary.Exit(call); }
    }

    /// <inheritdoc/>
    /// <remarks>Forwarded uncounted: it is the first half of the one switch_mm that <see cref="SwitchMm"/> counts.</remarks>
    public bool SwitchMmBegin(MmId prev, MmId next)
    {
        var call = boundary.Enter("switch_mm");
        try { return inner.SwitchMmBegin(prev, next); }
        catch (Exception e) when (PluginBoundary.IsPluginFault(e)) { throw boundary.Fault("switch_mm", e); }
        finally { boundary.Exit(call); }
    }
}
