// Kernel-side address-space work: vmalloc/vfree in init_mm (vfree unmaps, flushes with
// flush_tlb_kernel_range, and frees the pages only in a later step), the scheduler's context switch
// (switch_mm through the backend's pv op, in two steps when the backend's switch has a visible window), a
// kernel thread taking over a CPU in lazy TLB mode (the previous user mm stays loaded), and MADV_FREE with the reclaimer that discards clean lazily-freed pages.
using Pv.Abstractions.Memory;
using Pv.Abstractions.Mm;
using Pv.Abstractions.Notifiers;
using Pv.Engine.Gather;
using Pv.Engine.Sched;

namespace Pv.Engine.Mm;

/// <summary>vmalloc/vfree, context switches, MADV_FREE and reclaim.</summary>
internal static class KernelMm
{
    /// <summary>Start of the vmalloc area (x86-64's VMALLOC_START).</summary>
    public const ulong VmallocStart = 0xffff_c900_0000_0000;

    /// <summary><c>vmalloc</c>: map <paramref name="pages"/> fresh pages at <paramref name="address"/> in init_mm.</summary>
    public static IEnumerable<Step> Vmalloc(Machine m, SimThread t, ulong address, int pages)
    {
        var mm = m.InitMm;
        for (int i = 0; i < pages; i++)
        {
            ulong a = address + (ulong)i * PageGeometry.PageSize;
            var pfn = m.Memory.Alloc(Memory.AllocSite.DataPage, FrameKind.DataPage);
            if (!pfn.IsValid) throw new ProgramException("vmalloc: out of memory");
            yield return Step.Call(mm.Ptl.Lock(t));
            var slot = Mmap.EnsurePte(m, mm, a);
            PteOps.SetPteAt(m, mm, a, slot, PageTableEntry.Make(pfn, PteFlags.Present | PteFlags.Write | PteFlags.Global | PteFlags.Accessed | PteFlags.Dirty));
            mm.Ptl.Unlock(t);
            yield return Step.Yield;
        }
    }

    /// <summary><c>vfree</c>: clear the PTEs, <c>flush_tlb_kernel_range</c>, then (next step, after any wait) free the pages.</summary>
    public static IEnumerable<Step> Vfree(Machine m, SimThread t, ulong address, int pages)
    {
        var mm = m.InitMm;
        var op = m.Oracle.BeginOperation(mm.Id, "vfree");
        var freed = new List<Pfn>();
        for (int i = 0; i < pages; i++)
        {
            ulong a = address + (ulong)i * PageGeometry.PageSize;
            if (!Zap.FindEntry(m, mm, a, PageTableLevel.Pte, out var slot, out var level) || level != PageTableLevel.Pte) continue;
            yield return Step.Call(mm.Ptl.Lock(t));
            var old = PteOps.GetAndClear(m, slot);
            if (old.IsPresent) freed.Add(old.Pfn);
            mm.Ptl.Unlock(t);
            yield return Step.Yield;
        }
        m.Arch.FlushTlbKernelRange(address, address + (ulong)pages * PageGeometry.PageSize);
        yield return Step.Yield;
        foreach (var p in freed) m.Memory.Put(p);
        m.Oracle.OperationReturned(op, address, address + (ulong)pages * PageGeometry.PageSize);
        yield return Step.Yield;
    }

    /// <summary>
    /// The scheduler switches the thread's CPU to <paramref name="next"/> (<c>switch_mm_irqs_off</c> through the pv op),
    /// IRQs off throughout. A backend whose switch has a window other CPUs can see (SwitchMmBegin) gets a step there.
    /// </summary>
    public static IEnumerable<Step> SwitchMm(Machine m, SimThread t, MmStruct next)
    {
        var cpu = t.Cpu ?? throw new ProgramException("switch_mm needs a CPU");
        var prev = cpu.LoadedMm;
        cpu.IrqDisable();
        if (m.PvOps.SwitchMmBegin(prev, next.Id)) yield return Step.Yield;
        m.PvOps.SwitchMm(prev, next.Id);
        cpu.IrqEnable();
        t.Mm = next;
        yield return Step.Yield;
    }

    /// <summary>A kernel thread takes over the CPU: <c>enter_lazy_tlb</c>, the previous user mm stays loaded.</summary>
    public static IEnumerable<Step> EnterLazy(Machine m, SimThread t)
    {
        (t.Cpu ?? throw new ProgramException("lazy TLB mode needs a CPU")).EnterLazy();
        yield return Step.Yield;
    }

    /// <summary>
    /// <c>madvise(MADV_FREE)</c>: under mmap_lock (read) and a gather, each present anonymous PTE is made clean and old
    /// (the range flushed at tlb_finish_mmu) and its page marked lazily freeable for the reclaimer.
    /// </summary>
    public static IEnumerable<Step> MadviseFree(Machine m, SimThread t, MmStruct mm, ulong start, ulong length)
    {
        ulong end = start + length;
        yield return Step.Call(mm.MmapLock.DownRead(t));
        var tlb = MmuGather.TlbGatherMmu(m, mm);
        var range = new MmuNotifierRange(mm.Id, start, end, MmuNotifierEvent.Clear);
        m.Notifiers.InvalidateRangeStart(range);
        yield return Step.Yield;
        foreach (var vma in mm.Vmas.Where(v => v.File is null && v.Start < end && start < v.End).ToList())
        {
            tlb.TlbStartVma(vma);
            for (ulong a = Math.Max(start, vma.Start); a < Math.Min(end, vma.End); a += PageGeometry.PageSize)
            {
                if (!Zap.FindEntry(m, mm, a, PageTableLevel.Pte, out var slot, out var level) || level != PageTableLevel.Pte) continue;
                yield return Step.Call(mm.Ptl.Lock(t));
                var old = PteOps.Read(m, slot);
                if (old.IsPresent && m.Memory.KindOf(old.Pfn) == FrameKind.DataPage && m.Memory.RefCount(old.Pfn) == 1)
                {
                    PteOps.SetPteAt(m, mm, a, slot, old.Without(PteFlags.Dirty | PteFlags.Accessed));
                    tlb.TlbRemoveTlbEntry(a, PageTableLevel.Pte);
                    m.LazyFree.Add((mm.Id, a, old.Pfn));
                }
                mm.Ptl.Unlock(t);
                yield return Step.Yield;
            }
            tlb.TlbEndVma();
        }
        m.Notifiers.InvalidateRangeEnd(range);
        yield return Step.Call(tlb.TlbFinishMmu());
        mm.MmapLock.UpRead();
        yield return Step.Yield;
    }

    /// <summary>
    /// The reclaimer on lazily freed pages (try_to_unmap_one for a lazyfree folio), all under the PTL as the kernel holds
    /// it: <c>ptep_clear_flush</c> (the flush completes before the lock drops); if the cleared PTE was dirtied since
    /// MADV_FREE the page is live again and the PTE goes back, else the page is freed.
    /// </summary>
    public static IEnumerable<Step> Reclaim(Machine m, SimThread t)
    {
        foreach (var (mmId, a, pfn) in m.LazyFree.ToList())
        {
            m.LazyFree.Remove((mmId, a, pfn));
            var mm = m.Mm(mmId);
            if (mm.Dead || !Zap.FindEntry(m, mm, a, PageTableLevel.Pte, out var slot, out var level) || level != PageTableLevel.Pte) continue;
            yield return Step.Call(mm.Ptl.Lock(t));
            var pte = PteOps.Read(m, slot);
            if (!pte.IsPresent || pte.Pfn != pfn || pte.Has(PteFlags.Dirty))
            {
                mm.Ptl.Unlock(t);
                yield return Step.Yield;
                continue;
            }
            var range = new MmuNotifierRange(mm.Id, a, a + PageGeometry.PageSize, MmuNotifierEvent.Clear);
            m.Notifiers.InvalidateRangeStart(range);
            var cleared = PteOps.GetAndClear(m, slot);
            m.Arch.FlushTlbMmRange(mm.Id, a, a + PageGeometry.PageSize, PageGeometry.PageShift, false);
            yield return Step.Yield; // the flush may wait for other CPUs; the PTL stays held
            if (cleared.Has(PteFlags.Dirty)) PteOps.SetPteAt(m, mm, a, slot, cleared);
            else
            {
                m.Memory.Put(pfn);
                m.Trace(TraceEvents.ReclaimLazyfree, a, pfn.Value);
            }
            mm.Ptl.Unlock(t);
            m.Notifiers.InvalidateRangeEnd(range);
            yield return Step.Yield;
        }
    }
}
