// struct mmu_gather (include/asm-generic/tlb.h, mm/mmu_gather.c): batched teardown in the order the whole
// design rests on: unhook entries, invalidate every translation, only then free pages and page tables.
//
// Calls, in munmap order: tlb_gather_mmu (tlb_flush_pending++) → per VMA tlb_start_vma / zap (clear the PTE,
// tlb_remove_tlb_entry adjusts the range, the page is queued) / tlb_end_vma → free_pgtables (pte_free_tlb and
// friends: range adjusted by the parent level, freed_tables set, the table handed to the backend's
// tlb_remove_table pv op) → tlb_finish_mmu (a nested gather on the same mm forces a full flush, since
// 99baac21e458 in 2017; the era toggle nested-flush off reproduces the race it closed).
//
// The knobs of MmuGatherConfig are honoured where the kernel honours them: NO_FLUSH_CACHE in tlb_start_vma;
// MERGE_VMAS (and the 2022 pfnmap-force-flush era toggle) in tlb_end_vma; NO_RANGE in tlb_flush; PAGE_SIZE in
// the page batch; NO_GATHER frees pages at once (the arch flushed inside the clear); TABLE_FREE and
// RCU_TABLE_FREE in tlb_remove_table / tlb_table_flush, with tlb_needs_table_invalidate before a batch is freed
// and the batch-allocation-failure path (invalidate, tlb_remove_table_sync_one, free one table).
//
// Anything that may make the calling thread wait (a flush by waited IPIs, the sync IPI) happens in one step
// and whatever must follow the wait happens in a later step, or through IWaits.Then from synchronous paths.
using Pv.Abstractions.Gather;
using Pv.Abstractions.Memory;
using Pv.Abstractions.Mm;
using Pv.Engine.Memory;
using Pv.Engine.Mm;
using Pv.Engine.Oracle;
using Pv.Engine.Sched;

namespace Pv.Engine.Gather;

/// <summary>One mmu_gather.</summary>
internal sealed class MmuGather : IMmuGather
{
    private readonly Machine _m;
    private readonly List<(Pfn Pfn, bool IsTable)> _pages = [];
    private List<Pfn>? _tableBatch;
    private Pfn _tableBatchPage = Pfn.None;
    private int _pageShift;

    private MmuGather(Machine m, MmStruct mm, bool fullmm, MmOperation? operation)
    {
        _m = m;
        MmStruct = mm;
        Config = m.Arch.GatherConfig;
        FullMm = fullmm;
        Operation = operation;
        Thread = m.CurrentThread?.Id ?? -1;
        Started = m.Step;
        ResetRange();
        mm.TlbFlushPending++;
        mm.ActiveGathers.Add(this);
        m.Trace(fullmm ? TraceEvents.TlbGatherMmuFullmm : TraceEvents.TlbGatherMmu, (ulong)mm.Id.Value, (ulong)mm.TlbFlushPending);
    }

    /// <summary><c>tlb_gather_mmu</c>, for <paramref name="operation"/> (told where it finishes, for O3).</summary>
    public static MmuGather TlbGatherMmu(Machine m, MmStruct mm, MmOperation? operation = null) => new(m, mm, fullmm: false, operation);

    /// <summary><c>tlb_gather_mmu_fullmm</c>: exit/exec teardown.</summary>
    public static MmuGather TlbGatherMmuFullmm(Machine m, MmStruct mm, MmOperation? operation = null) => new(m, mm, fullmm: true, operation);

    /// <summary>The operation this gather serves, if it takes translations away for one.</summary>
    public MmOperation? Operation { get; }

    /// <summary>The scheduler id of the thread gathering (-1 outside a thread).</summary>
    public int Thread { get; }

    /// <summary>The step <c>tlb_gather_mmu</c> ran at.</summary>
    public long Started { get; }

    public MmStruct MmStruct { get; }
    public MmId Mm => MmStruct.Id;
    public ulong Start { get; private set; }
    public ulong End { get; private set; }
    public bool FullMm { get; private set; }
    public bool FreedTables { get; private set; }
    public MmuGatherConfig Config { get; }
    public bool NeedFlushAll { get; set; }
    public bool ClearedPtes { get; private set; }
    public bool ClearedPmds { get; private set; }
    public bool ClearedPuds { get; private set; }
    public bool ClearedP4ds { get; private set; }
    public bool VmaExec { get; private set; }
    public bool VmaHuge { get; private set; }
    public bool VmaPfn { get; private set; }

    /// <summary>Pages and tables queued to be freed after the next flush.</summary>
    public int QueuedPages => _pages.Count;

    /// <summary>Tables in the current table batch.</summary>
    public int BatchedTables => _tableBatch?.Count ?? 0;

    /// <summary><c>tlb_start_vma</c>.</summary>
    public void TlbStartVma(Vma vma)
    {
        if (FullMm) return;
        VmaExec = (vma.Flags & VmaFlags.Exec) != 0;
        VmaHuge = (vma.Flags & VmaFlags.HugeTlb) != 0;
        VmaPfn = (vma.Flags & (VmaFlags.PfnMap | VmaFlags.MixedMap)) != 0;
        if (!Config.NoFlushCache) _m.Arch.FlushCacheRange(Mm, vma.Start, vma.End);
    }

    /// <summary>
    /// <c>tlb_end_vma</c>: flush now without MERGE_VMAS, and (2022+, pfnmap-force-flush) for a PFNMAP/MIXEDMAP VMA,
    /// whose PFNs have no refcount the gather could hold across <c>unlink_file_vma</c>.
    /// </summary>
    public void TlbEndVma()
    {
        if (FullMm) return;
        if ((VmaPfn && _m.Options.PfnmapForceFlush) || !Config.EffectiveMergeVmas) TlbFlushMmuTlbonly();
    }

    /// <summary><c>__tlb_adjust_range</c>.</summary>
    public void AdjustRange(ulong address, ulong size)
    {
        Start = Math.Min(Start, address);
        End = Math.Max(End, address + size);
    }

    /// <summary><c>tlb_remove_tlb_entry</c> for a cleared PTE (or huge PMD/PUD leaf).</summary>
    public void TlbRemoveTlbEntry(ulong address, PageTableLevel level)
    {
        AdjustRange(address, PageGeometry.Span(level));
        switch (level)
        {
            case PageTableLevel.Pte: ClearedPtes = true; break;
            case PageTableLevel.Pmd: ClearedPmds = true; break;
            default: ClearedPuds = true; break;
        }
    }

    /// <summary>
    /// <c>tlb_remove_page_size</c>: queue a data page (its mapping's reference) to be put after the flush. Returns
    /// true if the page batch is full and the caller must <see cref="TlbFlushMmu"/> before going on. With
    /// NO_GATHER the page is put at once (the arch flushed inside the clear).
    /// </summary>
    public bool TlbRemovePage(Pfn page, PageTableLevel level = PageTableLevel.Pte)
    {
        if (Config.NoGather)
        {
            _m.Memory.Put(page);
            return false;
        }
        bool full = false;
        if (Config.PageSize)
        {
            int shift = PageGeometry.Shift(level);
            if (_pageShift != 0 && _pageShift != shift && _pages.Count > 0) full = true;
            _pageShift = shift;
        }
        _pages.Add((page, false));
        return full || _pages.Count >= _m.Options.MaxGatherBatch;
    }

    /// <summary>
    /// <c>pte_free_tlb</c> / <c>pmd_free_tlb</c> / <c>pud_free_tlb</c> / <c>p4d_free_tlb</c>: the table at
    /// <paramref name="tableLevel"/> covering <paramref name="address"/> was unhooked; adjust the range by the parent
    /// level, mark freed_tables, release it to the backend and hand it to the backend's <c>tlb_remove_table</c>.
    /// </summary>
    public void FreeTableTlb(Pfn table, PageTableLevel tableLevel, ulong address)
    {
        AdjustRange(address, PageGeometry.PageSize);
        switch (tableLevel)
        {
            case PageTableLevel.Pte: ClearedPmds = true; _m.PvOps.ReleasePte(table); break;
            case PageTableLevel.Pmd: ClearedPuds = true; _m.PvOps.ReleasePmd(table); break;
            case PageTableLevel.Pud: ClearedP4ds = true; _m.PvOps.ReleasePud(table); break;
            default: ClearedP4ds = true; _m.PvOps.ReleaseP4d(table); break;
        }
        FreedTables = true;
        _m.Trace(TraceEvents.PteFreeTlb, address, table.Value);
        _m.PvOps.TlbRemoveTable(this, table);
    }

    /// <inheritdoc/>
    public void RemovePage(Pfn page)
    {
        _m.Trace(TraceEvents.TlbRemoveTablePage, 0, page.Value);
        _pages.Add((page, _m.Memory.KindOf(page) == FrameKind.PageTable));
    }

    /// <inheritdoc/>
    public void RemoveTable(Pfn table)
    {
        if (!Config.EffectiveTableFree)
        {
            RemovePage(table);
            return;
        }
        if (_tableBatch is null)
        {
            var batchPage = _m.Memory.Alloc(AllocSite.TableBatch, FrameKind.DataPage);
            if (!batchPage.IsValid)
            {
                // No batch page (GFP_NOWAIT failed): invalidate (since the fix), then free this one table after
                // tlb_remove_table_sync_one, an IPI to every CPU that waits for lockless walkers to finish.
                _m.Trace(TraceEvents.TlbRemoveTableOne, 0, table.Value);
                if (_m.Options.BatchFailureInvalidate && Config.TableInvalidate) TlbFlushMmuTlbonly();
                TlbRemoveTableSyncOne(_m);
                _m.Waits.Then(() => FreeTableNow(table));
                return;
            }
            _tableBatchPage = batchPage;
            _tableBatch = [];
        }
        _tableBatch.Add(table);
        _m.Trace(TraceEvents.TlbRemoveTable, (ulong)_tableBatch.Count, table.Value);
        if (_tableBatch.Count >= _m.Options.MaxTableBatch)
        {
            if (Config.TableInvalidate) TlbFlushMmuTlbonly();
            var batch = DetachBatch();
            _m.Waits.Then(() => FreeBatch(batch));
        }
    }

    /// <summary>
    /// <c>tlb_remove_table_sync_one</c>: with MMU_GATHER_RCU_TABLE_FREE, an IPI to every online CPU, waited for (the wait
    /// takes effect when the step returns), so no lockless walker that could have seen a table is still inside it;
    /// without it, nothing (the flush's waited IPIs already did that).
    /// </summary>
    public static void TlbRemoveTableSyncOne(Machine m)
    {
        if (!m.Arch.GatherConfig.RcuTableFree) return;
        m.Trace(TraceEvents.TlbRemoveTableSyncOne, 0, 0);
        m.Ipi.SendIpi(m.Cpus.Online, static _ => { }, wait: true);
    }

    /// <summary>
    /// <c>tlb_flush_mmu_tlbonly</c>: nothing if no level was cleared and no table freed; else the arch flush of the
    /// accumulated range (<c>tlb_flush</c>), then the range is reset (the vma_* flags are not).
    /// </summary>
    public void TlbFlushMmuTlbonly()
    {
        if (!(FreedTables || ClearedPtes || ClearedPmds || ClearedPuds || ClearedP4ds)) return;
        TlbFlush();
        ResetRange();
    }

    /// <summary>
    /// <c>tlb_flush_mmu</c>: the TLB-only flush in this step; then, in the next step (after any wait the flush
    /// asked for), <c>tlb_table_flush</c> and the page batch.
    /// </summary>
    public IEnumerable<Step> TlbFlushMmu()
    {
        TlbFlushMmuTlbonly();
        yield return Step.Yield;
        TlbFlushMmuFree();
        yield return Step.Yield;
    }

    /// <summary>
    /// <c>tlb_finish_mmu</c>: if another gather is in flight on this mm (<c>mm_tlb_flush_nested</c>), flush
    /// everything (fullmm, freed_tables, whole range); then <c>tlb_flush_mmu</c>; then tlb_flush_pending--.
    /// </summary>
    public IEnumerable<Step> TlbFinishMmu()
    {
        // What the nested check promises, whether or not this era keeps the promise: the changes of every gather
        // in flight on the mm up to now are flushed when this one returns.
        if (Operation is not null)
        {
            var active = MmStruct.ActiveGathers;
            int n = 0;
            foreach (var g in active)
                if (g != this) n++;
            (int Thread, long Since)[] others = n == 0 ? [] : new (int, long)[n];
            n = 0;
            foreach (var g in active)
                if (g != this) others[n++] = (g.Thread, g.Started);
            Operation.Finished(_m.Step, others);
        }
        if (MmStruct.TlbFlushPending > 1 && _m.Options.NestedFlush)
        {
            _m.Trace(TraceEvents.MmTlbFlushNested, (ulong)Mm.Value, (ulong)MmStruct.TlbFlushPending);
            FullMm = true;
            ResetRange();
            FreedTables = true;
        }
        yield return Step.Call(TlbFlushMmu());
        MmStruct.TlbFlushPending--;
        MmStruct.ActiveGathers.Remove(this);
        _m.Trace(TraceEvents.TlbFinishMmu, (ulong)Mm.Value, (ulong)MmStruct.TlbFlushPending);
    }

    /// <summary>The default <c>tlb_flush</c> (x86's shape): whole mm for fullmm, need_flush_all or NO_RANGE; else the range.</summary>
    private void TlbFlush()
    {
        int stride = ClearedPtes ? PageGeometry.PageShift
            : ClearedPmds ? PageGeometry.Shift(PageTableLevel.Pmd)
            : ClearedPuds ? PageGeometry.Shift(PageTableLevel.Pud)
            : ClearedP4ds ? PageGeometry.Shift(PageTableLevel.P4d)
            : PageGeometry.PageShift;
        bool whole = FullMm || NeedFlushAll || Config.NoRange;
        _m.Trace(TraceEvents.TlbFlush, whole ? 0 : Start, whole ? TlbFlushInfo.FullMm : End);
        if (whole) _m.Arch.FlushTlbMmRange(Mm, 0, TlbFlushInfo.FullMm, stride, FreedTables);
        else if (End > Start) _m.Arch.FlushTlbMmRange(Mm, Start, End, stride, FreedTables);
    }

    /// <summary><c>tlb_flush_mmu_free</c>: <c>tlb_table_flush</c>, then free the page batch.</summary>
    private void TlbFlushMmuFree()
    {
        if (_tableBatch is not null)
        {
            // tlb_table_flush: tlb_table_invalidate, then free the batch (after a grace period with RCU_TABLE_FREE).
            // The invalidate here comes after the range was already flushed in this gather, so it only repeats
            // what tlb_flush_mmu_tlbonly did if new entries were cleared since.
            if (Config.TableInvalidate) TlbFlushMmuTlbonly();
            var batch = DetachBatch();
            if (_m.CurrentThread is not null) _m.Waits.Then(() => FreeBatch(batch));
            else FreeBatch(batch);
        }
        foreach (var (pfn, isTable) in _pages)
        {
            if (isTable) FreeTableNow(pfn);
            else _m.Memory.Put(pfn);
        }
        _pages.Clear();
        _pageShift = 0;
    }

    private (List<Pfn> Tables, Pfn Page) DetachBatch()
    {
        var batch = (_tableBatch!, _tableBatchPage);
        _tableBatch = null;
        _tableBatchPage = Pfn.None;
        return batch;
    }

    private void FreeBatch((List<Pfn> Tables, Pfn Page) batch)
    {
        if (Config.RcuTableFree)
        {
            _m.Trace(TraceEvents.CallRcuTlbRemoveTable, (ulong)batch.Tables.Count, 0);
            _m.Rcu.CallRcu(() =>
            {
                foreach (var t in batch.Tables)
                {
                    _m.Memory.Free(t);
                    _m.Metrics.TablesFreedRcu.Increment();
                }
                _m.Memory.Put(batch.Page);
            });
            return;
        }
        foreach (var t in batch.Tables) FreeTableNow(t);
        _m.Memory.Put(batch.Page);
    }

    private void FreeTableNow(Pfn table)
    {
        _m.Trace(TraceEvents.FreeTable, 0, table.Value);
        _m.Memory.Free(table);
        _m.Metrics.TablesFreedNow.Increment();
    }

    /// <summary><c>__tlb_reset_range</c>.</summary>
    private void ResetRange()
    {
        if (FullMm) (Start, End) = (ulong.MaxValue, ulong.MaxValue);
        else (Start, End) = (ulong.MaxValue, 0);
        FreedTables = false;
        ClearedPtes = ClearedPmds = ClearedPuds = ClearedP4ds = false;
    }
}
