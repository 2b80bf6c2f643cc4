// Xen PV pv_mmu_ops (arch/x86/xen/mmu_pv.c, multicalls.c).
//
// Flushes: flush_tlb_multi is one MMUEXT_TLB_FLUSH_MULTI (MMUEXT_INVLPG_MULTI when the range is one page);
// the hypervisor invalidates the listed vCPUs, lazy ones included, before the hypercall returns, and no
// guest interrupt is involved, so a vCPU with IRQs off is flushed as promptly as any other. The local
// primitives are MMUEXT_TLB_FLUSH_LOCAL / MMUEXT_INVLPG_LOCAL: a PV kernel cannot run INVLPG itself.
//
// Page-table writes: the guest's tables are read-only to it; set_pte is an mmu_update hypercall. In lazy MMU
// mode (per CPU) the updates are queued instead and issued together at leave or flush: one multicall for the
// whole batch, or a plain hypercall if only one entry was queued (xen_mc_flush does the same). The entry is
// written at once all the same, because the engine reads it back in its next step; only the hypercall is
// batched. A flush requested inside lazy mode takes the queue with it and is issued at once, so a flush still
// completes before its caller goes on.
//
// alloc_pte/alloc_pmd/alloc_pud remap the new table read-only (and pin a PTE table) in one batch;
// release_* undo it; exit_mmap unpins the mm's tables.
//
// Table free: 4.19+ hands tables to tlb_remove_table (RCU, since the flush waits for no walker); the 2012 era
// frees them like pages after the flush, which lets GUP-fast read a freed table (Z1).
using Microsoft.Extensions.Options;
using Pv.Abstractions.Gather;
using Pv.Abstractions.Host;
using Pv.Abstractions.Memory;
using Pv.Abstractions.Mm;
using Pv.Abstractions.Plugins;
using Pv.Arch.X86;

namespace Pv.Plugins.Xen;

/// <summary>Xen PV pv_mmu_ops. IPvMmuOps is listed again so that the page-table and lazy-mode members here replace the bare-metal defaults.</summary>
[PvArch(XenOptions.X86)]
internal sealed class XenPvMmuOps : X86PvMmuOps, IPvMmuOps
{
    private static readonly Hypercall MmuUpdate = new(HypercallCommand.MmuUpdate, CpuMask.Empty, default);
    private static readonly Hypercall Pin = new(HypercallCommand.PinTable, CpuMask.Empty, default);

    private readonly IHypervisor _hypervisor;
    private readonly XenOptions _options;
    private readonly List<Hypercall>?[] _lazy;

    public XenPvMmuOps(ICpus cpus, IHypervisor hypervisor, IOptions<XenOptions> options) : base(cpus)
    {
        _hypervisor = hypervisor;
        _options = options.Value;
        _lazy = new List<Hypercall>?[cpus.Count];
    }

    /// <summary><c>xen_flush_tlb</c>: MMUEXT_TLB_FLUSH_LOCAL.</summary>
    public override void FlushTlbUser() => McIssue(new Hypercall(HypercallCommand.TlbFlushLocal, CpuMask.Empty, TlbInvalidation.AllUser));

    /// <summary>A PV guest has no global pages of its own: the same local flush, everything included.</summary>
    public override void FlushTlbKernel() => McIssue(new Hypercall(HypercallCommand.TlbFlushLocal, CpuMask.Empty, TlbInvalidation.All));

    /// <summary><c>xen_flush_tlb_one_user</c>: MMUEXT_INVLPG_LOCAL.</summary>
    public override void FlushTlbOneUser(ulong address) =>
        McIssue(new Hypercall(HypercallCommand.InvlpgLocal, CpuMask.Empty, TlbInvalidation.Page(Cpus.Current.LoadedMm, address, walkCaches: true)));

    /// <summary><c>xen_flush_tlb_multi</c>.</summary>
    public override void FlushTlbMulti(CpuMask cpus, in TlbFlushInfo info)
    {
        if (cpus.IsEmpty) return;
        bool onePage = !info.IsFullFlush && info.End - info.Start <= PageGeometry.PageSize;
        McIssue(onePage
            ? new Hypercall(HypercallCommand.InvlpgMulti, cpus, TlbInvalidation.Page(info.Mm, info.Start, walkCaches: true))
            : new Hypercall(HypercallCommand.TlbFlushMulti, cpus, TlbInvalidation.AllUser));
    }

    /// <inheritdoc/>
    public override void TlbRemoveTable(IMmuGather tlb, Pfn table)
    {
        if (_options.RcuTableFree) tlb.RemoveTable(table);
        else tlb.RemovePage(table);
    }

    /// <summary><c>xen_set_pte</c>: the write now, its mmu_update queued in lazy mode or issued.</summary>
    public void SetPte(IPageTables tables, PteSlot slot, PageTableEntry entry)
    {
        tables.Write(slot, entry);
        McIssue(MmuUpdate);
    }

    /// <summary><c>xen_enter_lazy_mmu</c>.</summary>
    public void EnterLazyMmu() => _lazy[Cpus.Current.Id] ??= [];

    /// <summary><c>xen_leave_lazy_mmu</c>: issue the queue and leave.</summary>
    public void LeaveLazyMmu()
    {
        int cpu = Cpus.Current.Id;
        if (_lazy[cpu] is { } queue) Flush(queue);
        _lazy[cpu] = null;
    }

    /// <summary><c>xen_flush_lazy_mmu</c>: issue the queue, stay lazy.</summary>
    public void FlushLazyMmu()
    {
        if (_lazy[Cpus.Current.Id] is { } queue) Flush(queue);
    }

    /// <summary><c>xen_alloc_pte</c>: read-only remap and L1 pin.</summary>
    public void AllocPte(MmId mm, Pfn table) => McIssue(MmuUpdate, Pin);

    /// <summary><c>xen_alloc_pmd</c>: read-only remap.</summary>
    public void AllocPmd(MmId mm, Pfn table) => McIssue(MmuUpdate);

    /// <summary><c>xen_alloc_pud</c>: read-only remap.</summary>
    public void AllocPud(MmId mm, Pfn table) => McIssue(MmuUpdate);

    /// <summary><c>xen_release_pte</c>: unpin and writable remap.</summary>
    public void ReleasePte(Pfn table) => McIssue(Pin, MmuUpdate);

    /// <summary><c>xen_release_pmd</c>: writable remap.</summary>
    public void ReleasePmd(Pfn table) => McIssue(MmuUpdate);

    /// <summary><c>xen_release_pud</c>: writable remap.</summary>
    public void ReleasePud(Pfn table) => McIssue(MmuUpdate);

    /// <summary><c>xen_exit_mmap</c>: unpin the mm's tables before the teardown.</summary>
    public void ExitMmap(MmId mm) => McIssue(Pin);

    /// <summary><c>xen_mc_issue</c>: queued in lazy MMU mode, else issued now as one hypercall or one multicall.</summary>
    private void McIssue(params ReadOnlySpan<Hypercall> ops)
    {
        var queue = _lazy[Cpus.Current.Id];
        if (queue is null)
        {
            if (ops.Length == 1) _hypervisor.Issue(ops[0]);
            else _hypervisor.Multicall(ops);
            return;
        }
        queue.AddRange(ops);
        // A flush must be complete when the caller goes on, so it leaves with the queue rather than at leave time.
        foreach (ref readonly var op in ops)
            if (op.Command is not (HypercallCommand.MmuUpdate or HypercallCommand.PinTable))
            {
                Flush(queue);
                return;
            }
    }

    /// <summary><c>xen_mc_flush</c>: one entry is a plain hypercall, more are one multicall.</summary>
    private void Flush(List<Hypercall> queue)
    {
        if (queue.Count == 1) _hypervisor.Issue(queue[0]);
        else if (queue.Count > 1) _hypervisor.Multicall(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(queue));
        queue.Clear();
    }
}
