// get_user_pages: the slow path under mmap_lock (follow the page table, fault in what is missing, take a
// reference; it stops at the first page whose fault fails), and GUP-fast (mm/gup.c): with IRQs off, walk pgd → ... → pte reading each entry
// once without locks (one step per level, every table read checked by the oracle against the generation the
// pointer had when it was read), grab a reference on a present page, then re-check that the PMD and the PTE
// did not change, else drop it and fall back. Safe only if page tables are freed after waited IPIs or RCU.
using Pv.Abstractions.Memory;
using Pv.Abstractions.Mm;
using Pv.Engine.Memory;
using Pv.Engine.Sched;

namespace Pv.Engine.Mm;

/// <summary>What a GUP call got.</summary>
internal sealed class GupResult
{
    /// <summary>Pages pinned, in address order (each holds one reference the caller must put).</summary>
    public List<Pfn> Pages { get; } = [];
    /// <summary>GUP-fast gave up (a changed entry, a missing page) and the slow path would take over.</summary>
    public bool FellBack { get; internal set; }
    /// <summary>get_user_pages: how the fault that stopped it ended (it stops at the first page it cannot pin).</summary>
    public FaultResult? Error { get; internal set; }
}

/// <summary>get_user_pages and get_user_pages_fast.</summary>
internal static class Gup
{
    /// <summary><c>get_user_pages</c>: under mmap_lock (read), fault in and pin each page of [start, start + pages pages).</summary>
    public static IEnumerable<Step> GetUserPages(Machine m, SimThread t, MmStruct mm, ulong start, int pages, bool write, GupResult result)
    {
        yield return Step.Call(mm.MmapLock.DownRead(t));
        var access = write ? AccessKind.Write : AccessKind.Read;
        for (int i = 0; i < pages && result.Error is null; i++)
        {
            ulong a = start + (ulong)i * PageGeometry.PageSize;
            for (int tries = 0; tries < 3; tries++)
            {
                // follow_page_mask under the PTL.
                yield return Step.Call(mm.Ptl.Lock(t));
                bool found = m.PageTables.TryWalk(mm.Id, a, out _, out var e) && (!write || e.IsWritable)
                    && !e.Has(PteFlags.Special) && m.Memory.KindOf(e.Pfn) == FrameKind.DataPage;
                if (found)
                {
                    m.Memory.Get(e.Pfn);
                    result.Pages.Add(e.Pfn);
                }
                mm.Ptl.Unlock(t);
                yield return Step.Yield;
                if (found) break;
                var outcome = new FaultOutcome();
                yield return Step.Call(Fault.HandleMmFaultLocked(m, t, mm, a, access, outcome));
                if (outcome.Result != FaultResult.Handled)
                {
                    // __get_user_pages stops at the first page it cannot fault in: the pages pinned so far, else the error.
                    result.Error = outcome.Result;
                    break;
                }
            }
        }
        mm.MmapLock.UpRead();
        yield return Step.Yield;
    }

    /// <summary><c>get_user_pages_fast</c> for one page at <paramref name="address"/> on the thread's CPU.</summary>
    public static IEnumerable<Step> GetUserPagesFast(Machine m, SimThread t, MmStruct mm, ulong address, bool write, GupResult result)
    {
        var cpu = t.Cpu ?? throw new ProgramException("GUP-fast runs on a CPU");
        cpu.IrqDisable();
        m.Trace(TraceEvents.GupFastIrqOff, address, 0);
        yield return Step.Yield;
        var table = mm.Pgd;
        uint gen = m.Memory.GenerationOf(table);
        PteSlot pmdSlot = default;
        PageTableEntry pmdValue = default;
        bool ok = true;
        for (var level = m.PageTables.TopLevel; ; level--)
        {
            if (!m.Oracle.CheckTableRead(t.Name, mm.Id, address, table, gen, "GUP-fast"))
            {
                ok = false;
                break;
            }
            var slot = PageTables.SlotOf(table, address, level);
            var e = PteOps.Read(m, slot);
            m.Trace(TraceEvents.GupFastRead, address, e.Raw);
            if (!e.IsPresent || e.IsHuge || (level == PageTableLevel.Pte && ((write && !e.IsWritable) || e.Has(PteFlags.Special))))
            {
                ok = false;
                yield return Step.Yield;
                break;
            }
            if (level != PageTableLevel.Pte)
            {
                // The next table and its generation are what this read saw, in this same step.
                if (level == PageTableLevel.Pmd) (pmdSlot, pmdValue) = (slot, e);
                table = e.Pfn;
                gen = m.Memory.GenerationOf(table);
                yield return Step.Yield;
                continue;
            }
            yield return Step.Yield;
            if (m.Memory.KindOf(e.Pfn) != FrameKind.DataPage)
            {
                // try_grab_folio fails on a page whose last reference is gone (freed after a flush that did not
                // wait for us): fall back to the slow path. A page already reused is caught by the re-check below.
                ok = false;
                break;
            }
            // try_grab_folio, then re-check the PMD and the PTE.
            m.Memory.Get(e.Pfn);
            yield return Step.Yield;
            var pmdNow = PteOps.Read(m, pmdSlot);
            var pteNow = PteOps.Read(m, slot);
            if (pmdNow.Raw != pmdValue.Raw || pteNow.Raw != e.Raw)
            {
                m.Memory.Put(e.Pfn);
                ok = false;
            }
            else result.Pages.Add(e.Pfn);
            break;
        }
        result.FellBack = !ok;
        cpu.IrqEnable();
        m.Trace(TraceEvents.GupFastIrqOn, address, ok ? 1UL : 0UL);
        yield return Step.Yield;
    }
}
