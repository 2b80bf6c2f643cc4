// Operations that create or change mappings: mmap (anonymous, file shared/private, and a driver's device
// mapping populated by remap_pfn_range with VM_PFNMAP or VM_MIXEDMAP), mprotect (change_protection with a
// gather and a PROTECTION_VMA notifier range; only removing a permission needs a flush), mremap (moving whole
// PMD tables when aligned, else PTE by PTE, then flushing the old range), and fork (COW write-protect of the
// parent's private pages, a PROTECTION_PAGE notifier range, then flush_tlb_mm of the parent).
using Pv.Abstractions.Memory;
using Pv.Abstractions.Mm;
using Pv.Abstractions.Notifiers;
using Pv.Engine.Gather;
using Pv.Engine.Memory;
using Pv.Engine.Sched;

namespace Pv.Engine.Mm;

/// <summary>mmap, remap_pfn_range, mprotect, mremap and fork.</summary>
internal static class Mmap
{
    /// <summary><c>mmap(MAP_FIXED)</c> of [start, start + length): anonymous when <paramref name="file"/> is null.</summary>
    public static IEnumerable<Step> Run(Machine m, SimThread t, MmStruct mm, ulong start, ulong length, VmaFlags flags, AddressSpace? file = null, ulong pgoff = 0, Vma[]? created = null)
    {
        yield return Step.Call(mm.MmapLock.DownWrite(t));
        var vma = new Vma(mm, start, start + length, flags, file, pgoff);
        if (file is not null)
        {
            yield return Step.Call(file.IMmapRwsem.DownWrite(t));
            mm.InsertVma(vma);
            file.IMmapRwsem.UpWrite(t);
        }
        else mm.InsertVma(vma);
        if (created is not null) created[0] = vma;
        m.Trace(TraceEvents.Mmap, start, length);
        yield return Step.Yield;
        // A driver's ->mmap for a device file maps its PFNs right away.
        if ((flags & (VmaFlags.PfnMap | VmaFlags.MixedMap)) != 0 && file is not null)
            yield return Step.Call(RemapPfnRange(m, t, vma));
        mm.MmapLock.UpWrite(t);
        yield return Step.Yield;
    }

    /// <summary>
    /// <c>remap_pfn_range</c>: write a special PTE for every page of the VMA whose file page the driver owns
    /// (one step per PTE, under the PTL).
    /// </summary>
    public static IEnumerable<Step> RemapPfnRange(Machine m, SimThread t, Vma vma)
    {
        var mm = vma.Mm;
        var prot = PteFlags.Present | PteFlags.User | PteFlags.Special | PteFlags.Accessed | PteFlags.Dirty
            | ((vma.Flags & VmaFlags.Write) != 0 ? PteFlags.Write : 0);
        for (ulong a = vma.Start; a < vma.End; a += PageGeometry.PageSize)
        {
            ulong index = vma.PgOff + ((a - vma.Start) >> PageGeometry.PageShift);
            if (!vma.File!.Pages.TryGetValue(index, out var pfn)) continue;
            yield return Step.Call(mm.Ptl.Lock(t));
            var slot = EnsurePte(m, mm, a);
            PteOps.SetPteAt(m, mm, a, slot, PageTableEntry.Make(pfn, prot));
            mm.Ptl.Unlock(t);
            yield return Step.Yield;
        }
    }

    /// <summary><c>mprotect(start, length, prot)</c>: new VMA flags, then change_protection over present PTEs.</summary>
    public static IEnumerable<Step> Mprotect(Machine m, SimThread t, MmStruct mm, ulong start, ulong length, VmaFlags prot)
    {
        ulong end = start + length;
        var op = m.Oracle.BeginOperation(mm.Id, "mprotect");
        yield return Step.Call(mm.MmapLock.DownWrite(t));
        const VmaFlags access = VmaFlags.Read | VmaFlags.Write | VmaFlags.Exec;
        yield return Step.Call(Vmas.SplitRange(m, t, mm, start, end));
        var vmas = Vmas.Within(mm, start, end);
        var tlb = MmuGather.TlbGatherMmu(m, mm, op);
        var range = new MmuNotifierRange(mm.Id, start, end, MmuNotifierEvent.ProtectionVma);
        m.Notifiers.InvalidateRangeStart(range);
        m.PvOps.EnterLazyMmu();
        yield return Step.Yield;
        foreach (var vma in vmas)
        {
            vma.Flags = (vma.Flags & ~access) | (prot & access);
            for (ulong a = vma.Start; a < vma.End; a += PageGeometry.PageSize)
            {
                if (!Zap.FindEntry(m, mm, a, PageTableLevel.Pte, out var slot, out var level) || level != PageTableLevel.Pte) continue;
                yield return Step.Call(mm.Ptl.Lock(t));
                var old = PteOps.Read(m, slot);
                if (old.IsPresent)
                {
                    var entry = old;
                    if ((prot & VmaFlags.Write) == 0) entry = entry.Without(PteFlags.Write);
                    if ((prot & VmaFlags.Exec) == 0) entry = entry.Without(PteFlags.Exec);
                    if (entry.Raw != old.Raw)
                    {
                        PteOps.SetPteAt(m, mm, a, slot, entry);
                        tlb.TlbRemoveTlbEntry(a, PageTableLevel.Pte); // tlb_flush_pte_range
                    }
                }
                mm.Ptl.Unlock(t);
                yield return Step.Yield;
            }
        }
        m.PvOps.LeaveLazyMmu();
        m.Notifiers.InvalidateRangeEnd(range);
        yield return Step.Call(tlb.TlbFinishMmu());
        mm.MmapLock.UpWrite(t);
        m.Oracle.OperationReturned(op, start, end);
        yield return Step.Yield;
    }

    /// <summary>
    /// <c>mremap(old, length, new)</c> with MREMAP_FIXED|MAYMOVE, as <c>move_vma</c> orders it under mmap_lock (write):
    /// <c>copy_vma</c> links the new VMA into the mm and, after the old one, into its file's i_mmap (under
    /// i_mmap_rwsem), so an rmap walker that runs while the entries move visits the old VMA before the new one and
    /// finds every entry at one of the two addresses. <c>move_page_tables</c> then moves whole PTE tables with one PMD
    /// entry when both sides are PMD-aligned and the range covers them (move_normal_pmd), else entry by entry
    /// (move_ptes), each under the PTL and the rmap locks (<c>take_rmap_locks</c>: i_mmap_rwsem for write), flushing
    /// the old range before the locks drop. Last, the old VMA is unmapped: detached, unlinked from i_mmap and its
    /// page tables freed. With the era toggle mremap-flush off (before CVE-2018-18281's fix) a clean PTE's flush is
    /// deferred to the end of the move, after the locks are dropped.
    /// </summary>
    public static IEnumerable<Step> Mremap(Machine m, SimThread t, MmStruct mm, ulong oldStart, ulong length, ulong newStart)
    {
        var op = m.Oracle.BeginOperation(mm.Id, "mremap");
        yield return Step.Call(mm.MmapLock.DownWrite(t));
        yield return Step.Call(Vmas.SplitRange(m, t, mm, oldStart, oldStart + length));
        var vmas = Vmas.Within(mm, oldStart, oldStart + length);
        if (vmas.Count != 1 || vmas[0].Start != oldStart || vmas[0].End != oldStart + length)
            throw new ProgramException($"mremap of [{oldStart:x}, {oldStart + length:x}) needs exactly one VMA there (the kernel returns -EFAULT; Pv does not model failed syscalls)");
        var old = vmas[0];
        var moved = new Vma(mm, newStart, newStart + length, old.Flags, old.File, old.PgOff);
        var file = old.File;
        // copy_vma: vma_link puts the copy into the mm and into i_mmap after the old VMA.
        if (file is not null) yield return Step.Call(file.IMmapRwsem.DownWrite(t));
        mm.InsertVma(moved);
        file?.IMmapRwsem.UpWrite(t);
        var range = new MmuNotifierRange(mm.Id, oldStart, oldStart + length, MmuNotifierEvent.Unmap);
        m.Notifiers.InvalidateRangeStart(range);
        yield return Step.Yield;
        ulong pmdSpan = PageGeometry.Span(PageTableLevel.Pmd);
        bool deferredFlush = false;
        for (ulong off = 0; off < length;)
        {
            ulong from = oldStart + off, to = newStart + off;
            if (file is not null) yield return Step.Call(file.IMmapRwsem.DownWrite(t)); // take_rmap_locks
            yield return Step.Call(mm.Ptl.Lock(t));
            ulong step = PageGeometry.PageSize;
            bool flush = false;
            if ((from & (pmdSpan - 1)) == 0 && (to & (pmdSpan - 1)) == 0 && length - off >= pmdSpan
                && Zap.FindEntry(m, mm, from, PageTableLevel.Pmd, out var src, out var lvl) && lvl == PageTableLevel.Pmd)
            {
                step = pmdSpan;
                var e = PteOps.Read(m, src);
                var dst = EnsureTable(m, mm, to, PageTableLevel.Pmd);
                if (e.IsPresent && PteOps.IsNone(PteOps.Read(m, dst)))
                {
                    m.PvOps.SetPte(m.PageTables, src, PageTableEntry.Empty);
                    m.PvOps.SetPte(m.PageTables, dst, e);
                    m.Trace(TraceEvents.MoveNormalPmd, from, to);
                    // A moved table drops the walk-cache pointers too: always flushed under the PTL.
                    m.Arch.FlushTlbMmRange(mm.Id, from, from + pmdSpan, PageGeometry.Shift(PageTableLevel.Pmd), false);
                }
            }
            else if (Zap.FindEntry(m, mm, from, PageTableLevel.Pte, out var pteSrc, out var level) && level == PageTableLevel.Pte)
            {
                m.PvOps.EnterLazyMmu(); // move_ptes batches the clear and the set
                var e = PteOps.GetAndClear(m, pteSrc);
                bool present = !PteOps.IsNone(e);
                if (present) PteOps.SetPteAt(m, mm, to, EnsurePte(m, mm, to), e);
                m.PvOps.LeaveLazyMmu();
                if (present && e.IsPresent)
                {
                    m.Trace(TraceEvents.MovePtes, from, to);
                    // Before the fix only a dirty PTE forced the flush here; a clean one set need_flush for later. A guard
                    // marker moves like any entry, but only a present one can be cached (move_ptes' force_flush).
                    if (m.Options.MremapFlush || e.Has(PteFlags.Dirty)) flush = true;
                    else deferredFlush = true;
                }
            }
            // The flush is issued with the PTL and the rmap locks held; they drop once it has completed (next step).
            if (flush) m.Arch.FlushTlbMmRange(mm.Id, from, from + PageGeometry.PageSize, PageGeometry.PageShift, false);
            yield return Step.Yield;
            mm.Ptl.Unlock(t);
            file?.IMmapRwsem.UpWrite(t);
            off += step;
            yield return Step.Yield;
        }
        if (deferredFlush)
        {
            // Before CVE-2018-18281's fix: need_flush, one flush of the old range after every lock was dropped.
            m.Arch.FlushTlbMmRange(mm.Id, oldStart, oldStart + length, PageGeometry.PageShift, false);
            yield return Step.Yield;
        }
        m.Notifiers.InvalidateRangeEnd(range);
        // do_vmi_munmap of the old range: nothing is mapped there any more; unlink the VMA and free its tables.
        var (floor, ceiling) = Vmas.Neighbours(mm, oldStart, oldStart + length);
        mm.Vmas.Remove(old);
        var tlb = MmuGather.TlbGatherMmu(m, mm, op);
        yield return Step.Call(Zap.FreePgtables(m, t, tlb, [old], floor, ceiling));
        yield return Step.Call(tlb.TlbFinishMmu());
        mm.MmapLock.UpWrite(t);
        m.Oracle.OperationReturned(op, oldStart, oldStart + length);
        yield return Step.Yield;
    }

    /// <summary>
    /// <c>fork</c>'s dup_mmap: a new mm with copies of every VMA; private writable pages are write-protected in the
    /// parent and shared read-only with the child (COW), guard markers are copied as they are; then
    /// flush_tlb_mm(parent). The child is returned in <paramref name="child"/>[0].
    /// </summary>
    public static IEnumerable<Step> Fork(Machine m, SimThread t, MmStruct parent, MmStruct[] child)
    {
        yield return Step.Call(parent.MmapLock.DownWrite(t));
        var mm = m.CreateMm();
        m.PvOps.PgdAlloc(mm.Id, mm.Pgd);
        child[0] = mm;
        foreach (var vma in parent.Vmas.ToList())
        {
            // dup_mmap links the child's VMA into the file's i_mmap (after the parent's) under i_mmap_rwsem.
            if (vma.File is { } file) yield return Step.Call(file.IMmapRwsem.DownWrite(t));
            mm.InsertVma(new Vma(mm, vma.Start, vma.End, vma.Flags, vma.File, vma.PgOff));
            vma.File?.IMmapRwsem.UpWrite(t);
            bool cow = (vma.Flags & (VmaFlags.Shared | VmaFlags.Write)) == VmaFlags.Write;
            var range = new MmuNotifierRange(parent.Id, vma.Start, vma.End, MmuNotifierEvent.ProtectionPage);
            if (cow) m.Notifiers.InvalidateRangeStart(range);
            m.PvOps.EnterLazyMmu(); // copy_pte_range batches its updates
            for (ulong a = vma.Start; a < vma.End; a += PageGeometry.PageSize)
            {
                if (!Zap.FindEntry(m, parent, a, PageTableLevel.Pte, out var slot, out var level) || level != PageTableLevel.Pte) continue;
                yield return Step.Call(parent.Ptl.Lock(t));
                var e = PteOps.Read(m, slot);
                if (e.IsPresent)
                {
                    if (!e.Has(PteFlags.Special) && m.Memory.KindOf(e.Pfn) == FrameKind.DataPage) m.Memory.Get(e.Pfn);
                    if (cow && e.IsWritable)
                    {
                        e = e.Without(PteFlags.Write);
                        PteOps.SetPteAt(m, parent, a, slot, e); // ptep_set_wrprotect
                    }
                    var dst = EnsurePte(m, mm, a);
                    PteOps.SetPteAt(m, mm, a, dst, e.Without(PteFlags.Accessed));
                }
                else if (e.Has(PteFlags.GuardMarker))
                {
                    // copy_nonpresent_pte: copy_pte_marker always carries a guard marker to the child; the parent's
                    // entry is untouched and, not being present, needs no flush.
                    PteOps.SetPteAt(m, mm, a, EnsurePte(m, mm, a), e);
                }
                parent.Ptl.Unlock(t);
                yield return Step.Yield;
            }
            m.PvOps.LeaveLazyMmu();
            if (cow) m.Notifiers.InvalidateRangeEnd(range);
        }
        m.Arch.FlushTlbMmRange(parent.Id, 0, Abstractions.Gather.TlbFlushInfo.FullMm, PageGeometry.PageShift, false);
        yield return Step.Yield;
        parent.MmapLock.UpWrite(t);
        yield return Step.Yield;
    }

    /// <summary>The PTE slot for <paramref name="address"/>, allocating missing tables (pte_alloc); throws on OOM.</summary>
    internal static PteSlot EnsurePte(Machine m, MmStruct mm, ulong address) => EnsureTable(m, mm, address, PageTableLevel.Pte);

    /// <summary>The slot at <paramref name="level"/> for <paramref name="address"/>, allocating missing tables with the pv alloc ops.</summary>
    internal static PteSlot EnsureTable(Machine m, MmStruct mm, ulong address, PageTableLevel level)
    {
        var table = mm.Pgd;
        for (var l = m.PageTables.TopLevel; l > level; l--)
        {
            var slot = PageTables.SlotOf(table, address, l);
            var e = PteOps.Read(m, slot);
            if (!e.IsPresent)
            {
                if (!PteOps.AllocTable(m, mm, slot, out var t)) throw new ProgramException("out of memory allocating a page table");
                table = t;
                continue;
            }
            if (e.IsHuge) throw new ProgramException($"{address:x} is inside a huge mapping (Pv does not split huge mappings)");
            table = e.Pfn;
        }
        return PageTables.SlotOf(table, address, level);
    }
}
