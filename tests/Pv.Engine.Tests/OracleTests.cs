// O1–O4 with hand-made orderings: each fires for the wrong order and stays silent for the right one.
using Pv.Abstractions.Memory;
using Pv.Abstractions.Mm;
using Pv.Engine.Cpu;
using Pv.Engine.Memory;
using Pv.Engine.Oracle;
using Pv.Engine.Sched;

namespace Pv.Engine.Tests;

/// <summary>A condition a test opens by hand, to order threads.</summary>
internal sealed class Gate : IWaitCondition
{
    public bool IsSatisfied { get; private set; }
    public void Open() => IsSatisfied = true;
    public string Describe() => "gate";
}

public class OracleTests
{
    /// <summary>CPU0 touches the page, CPU1 unmaps and frees it (flushing or not), then CPU0 touches it again.</summary>
    private static (RunResult Result, AccessResult Second) UnmapRace(bool flush, AccessKind firstAccess = AccessKind.Read,
        Action<TestMachine, PteSlot, Pfn>? unmap = null, AccessKind secondAccess = AccessKind.Read, PteFlags flags = TestMachine.UserRw,
        FrameKind kind = FrameKind.DataPage, bool strict = false)
    {
        var t = new TestMachine(strictO3: strict);
        var (page, slot) = t.Map(flags: flags, kind: kind);
        var flusher = t.Backend;
        var unmapped = new Gate();
        var second = new AccessResult();
        t.Thread("user", 0,
            th => t.Access(th, TestMachine.Va, firstAccess),
            th => Wait(unmapped),
            th => t.Access(th, TestMachine.Va, secondAccess, second));
        t.Thread("kernel", 1, th => Unmap());
        IEnumerable<Step> Unmap()
        {
            var op = t.M.Oracle.BeginOperation(t.Mm.Id, "munmap");
            (unmap ?? ((tm, s, p) =>
            {
                tm.M.PageTables.Write(s, PageTableEntry.Empty);
                if (flush) flusher.FlushTlbMmRange(tm.Mm.Id, TestMachine.Va, TestMachine.Va + 4096, 12, freedTables: false);
                tm.M.Memory.Free(p);
                tm.M.Memory.Alloc(FrameKind.DataPage); // reused at once (LIFO)
            }))(t, slot, page);
            yield return Step.Yield;
            t.M.Oracle.OperationReturned(op, TestMachine.Va, TestMachine.Va + 4096);
            unmapped.Open();
            yield return Step.Yield;
        }
        return (t.M.Run(new SequentialPolicy()), second);
    }

    private static IEnumerable<Step> Wait(Gate g)
    {
        yield return Step.Wait(g);
    }

    [Fact]
    public void O1_fires_when_a_freed_and_reused_page_is_reached_through_a_stale_tlb_entry()
    {
        var (r, second) = UnmapRace(flush: false);
        Assert.Equal(RunOutcome.Violation, r.Outcome);
        var v = r.Report!.Violation;
        Assert.Equal(InvariantId.O1, v.Id);
        Assert.Equal("user", v.Agent);
        Assert.Equal(TestMachine.Va, v.Address);
        Assert.NotEqual(v.ExpectedGeneration, v.ActualGeneration);
        Assert.True(second.TlbHit);
        Assert.Contains("reused", v.Message);
        Assert.NotEmpty(r.Report.Schedule);
        Assert.Contains(r.Report.Threads, x => x.Thread == "user" && x.Steps.Any(s => s.What == "tlb hit"));
    }

    [Fact]
    public void O1_is_silent_when_the_flush_comes_before_the_free()
    {
        var (r, second) = UnmapRace(flush: true);
        Assert.Equal(RunOutcome.Completed, r.Outcome);
        Assert.Equal(AccessStatus.NotPresent, second.Status);
    }

    [Fact]
    public void O3_fires_when_a_write_uses_a_permission_mprotect_took_away_after_it_returned()
    {
        var (r, _) = UnmapRace(flush: false, firstAccess: AccessKind.Write, secondAccess: AccessKind.Write,
            unmap: (tm, s, p) => tm.M.PageTables.Write(s, PageTableEntry.Make(p, TestMachine.UserRw & ~PteFlags.Write)));
        Assert.Equal(RunOutcome.Violation, r.Outcome);
        Assert.Equal(InvariantId.O3, r.Report!.Violation.Id);
        Assert.Contains("munmap", r.Report.Violation.Message);
    }

    [Fact]
    public void O3_is_silent_when_mprotect_flushes_before_returning()
    {
        var (r, second) = UnmapRace(flush: true, firstAccess: AccessKind.Write, secondAccess: AccessKind.Write,
            unmap: (tm, s, p) =>
            {
                tm.M.PageTables.Write(s, PageTableEntry.Make(p, TestMachine.UserRw & ~PteFlags.Write));
                tm.Backend.FlushTlbMmRange(tm.Mm.Id, TestMachine.Va, TestMachine.Va + 4096, 12, false);
            });
        Assert.Equal(RunOutcome.Completed, r.Outcome);
        Assert.Equal(AccessStatus.Protection, second.Status);
    }

    [Fact]
    public void O3_strict_flags_the_latent_entry_at_the_moment_of_return()
    {
        var (r, _) = UnmapRace(flush: false, firstAccess: AccessKind.Write, secondAccess: AccessKind.Read, strict: true,
            unmap: (tm, s, p) => tm.M.PageTables.Write(s, PageTableEntry.Make(p, TestMachine.UserRw & ~PteFlags.Write)));
        Assert.Equal(InvariantId.O3, r.Report!.Violation.Id);
        Assert.Contains("strict", r.Report.Violation.Message);
        Assert.Equal("cpu0", r.Report.Violation.Agent);
    }

    /// <summary>
    /// O3's attribution, one mechanism at a time: "munmap" on CPU1 clears the PTE, flushes and returns; CPU0 then maps a
    /// fresh page there (a refault) and caches it; a third thread clears that PTE without flushing (an operation still
    /// deferring its flush); CPU0 reads through its entry. Only <paramref name="munmapForgetsFlush"/> makes it munmap's
    /// fault: an entry filled after munmap's change, and a change munmap did not make, are not.
    /// </summary>
    private static RunResult StaleAfterRefault(bool munmapForgetsFlush)
    {
        var t = new TestMachine(cpus: 3);
        var (_, slot) = t.Map();
        var fresh = t.M.Memory.Alloc(FrameKind.DataPage);
        Gate returned = new(), refaulted = new(), cleared = new();
        t.Thread("user", 0,
            th => t.Access(th, TestMachine.Va, AccessKind.Read),
            th => Wait(returned),
            th => TestMachine.Do(() => t.M.PageTables.Write(slot, PageTableEntry.Make(fresh, TestMachine.UserRw))),
            th => t.Access(th, TestMachine.Va, AccessKind.Read),
            th => TestMachine.Do(refaulted.Open),
            th => Wait(cleared),
            th => t.Access(th, TestMachine.Va, AccessKind.Read));
        t.Thread("munmap", 1, th => Munmap());
        t.Thread("other", 2, th => Wait(refaulted), th => TestMachine.Do(() => { t.M.PageTables.Write(slot, PageTableEntry.Empty); cleared.Open(); }));
        IEnumerable<Step> Munmap()
        {
            var op = t.M.Oracle.BeginOperation(t.Mm.Id, "munmap");
            t.M.PageTables.Write(slot, PageTableEntry.Empty);
            if (!munmapForgetsFlush) t.Backend.FlushTlbMmRange(t.Mm.Id, TestMachine.Va, TestMachine.Va + 4096, 12, false);
            yield return Step.Yield;
            t.M.Oracle.OperationReturned(op, TestMachine.Va, TestMachine.Va + 4096);
            returned.Open();
            yield return Step.Yield;
        }
        return t.M.Run(new SequentialPolicy());
    }

    [Fact]
    public void O3_does_not_blame_a_returned_munmap_for_an_entry_filled_after_it_and_cleared_by_another_operation()
    {
        var r = StaleAfterRefault(munmapForgetsFlush: false);
        Assert.Equal(RunOutcome.Completed, r.Outcome);
    }

    [Fact]
    public void O3_blames_a_returned_munmap_for_an_entry_it_left_behind()
    {
        // The same run with munmap's flush forgotten: CPU0's first entry survives and its refault is a TLB hit on the
        // page munmap took away, before anything else changed it.
        var r = StaleAfterRefault(munmapForgetsFlush: true);
        Assert.Equal(InvariantId.O3, r.Report!.Violation.Id);
        Assert.Equal("munmap by munmap", r.Report.Violation.Culprit);
    }

    [Fact]
    public void A_page_table_write_is_logged_at_the_mm_and_address_the_table_maps_kernel_half_included()
    {
        // The oracle finds (mm, address) of a changed entry through the tables' reverse map: a vfree-like operation on
        // init_mm that clears a kernel PTE and forgets to flush is blamed at the canonical kernel address.
        var t = new TestMachine();
        const ulong kva = 0xffff_c900_0000_3000;
        var kslot = t.M.PageTables.Populate(MmId.InitMm, kva, PageTableEntry.Make(t.M.Memory.Alloc(FrameKind.DataPage), TestMachine.UserRw | PteFlags.Global));
        var freed = new Gate();
        t.Thread("reader", 0, th => t.Access(th, kva, AccessKind.Read), th => Wait(freed), th => t.Access(th, kva, AccessKind.Read));
        t.Thread("vfree", 1, th => Vfree());
        IEnumerable<Step> Vfree()
        {
            var op = t.M.Oracle.BeginOperation(MmId.InitMm, "vfree");
            t.M.PageTables.Write(kslot, PageTableEntry.Empty);
            yield return Step.Yield;
            t.M.Oracle.OperationReturned(op, kva, kva + 4096);
            freed.Open();
            yield return Step.Yield;
        }
        var r = t.M.Run(new SequentialPolicy());
        Assert.Equal(InvariantId.O3, r.Report!.Violation.Id);
        Assert.Equal(kva, r.Report.Violation.Address);
        Assert.Equal("vfree by vfree", r.Report.Violation.Culprit);
    }

    [Fact]
    public void O4_fires_when_a_stale_entry_reaches_a_revoked_device_pfn()
    {
        var (r, _) = UnmapRace(flush: false, kind: FrameKind.DevicePfn, flags: TestMachine.UserRw | PteFlags.Special,
            unmap: (tm, s, p) => { tm.M.PageTables.Write(s, PageTableEntry.Empty); tm.M.Memory.Revoke(p); });
        Assert.Equal(RunOutcome.Violation, r.Outcome);
        Assert.Equal(InvariantId.O4, r.Report!.Violation.Id);
        Assert.Contains("revoked", r.Report.Violation.Message);
    }

    [Fact]
    public void O4_is_silent_when_the_zap_flushes_before_the_revoke()
    {
        var (r, second) = UnmapRace(flush: true, kind: FrameKind.DevicePfn, flags: TestMachine.UserRw | PteFlags.Special,
            unmap: (tm, s, p) =>
            {
                tm.M.PageTables.Write(s, PageTableEntry.Empty);
                tm.Backend.FlushTlbMmRange(tm.Mm.Id, TestMachine.Va, TestMachine.Va + 4096, 12, false);
                tm.M.Memory.Revoke(p);
            });
        Assert.Equal(RunOutcome.Completed, r.Outcome);
        Assert.Equal(AccessStatus.NotPresent, second.Status);
    }

    /// <summary>
    /// O2 from mechanisms: GUP-fast on CPU1 walks with IRQs off while CPU0 unhooks
    /// the PTE table, flushes, and frees it at once. Explored over random schedules.
    /// </summary>
    private static int FreedTableWalks(FlushMode mode, int schedules)
    {
        int found = 0;
        for (ulong seed = 0; seed < (ulong)schedules; seed++)
        {
            var t = new TestMachine(mode: mode);
            var (_, pteSlot) = t.Map();
            var flusher = t.Backend;
            t.M.PageTables.TryWalk(t.Mm.Id, TestMachine.Va, out _, out _);
            var pmdSlot = FindParent(t, pteSlot.Table);
            t.Thread("gup_fast", 1, th => LocklessWalk(t, th));
            t.Thread("munmap", 0, th => FreeTable(t, pmdSlot, pteSlot.Table, flusher));
            var r = t.M.Run(new RandomPolicy(seed));
            if (r.Outcome == RunOutcome.Violation)
            {
                Assert.Equal(InvariantId.O2, r.Report!.Violation.Id);
                found++;
            }
            else Assert.Equal(RunOutcome.Completed, r.Outcome);
        }
        return found;
    }

    private static PteSlot FindParent(TestMachine t, Pfn table)
    {
        var pgd = t.Mm.Pgd;
        var pud = new PageTableEntry(t.M.Memory.Entries(pgd)[PageGeometry.Index(TestMachine.Va, PageTableLevel.P4d)]).Pfn;
        var pmd = new PageTableEntry(t.M.Memory.Entries(pud)[PageGeometry.Index(TestMachine.Va, PageTableLevel.Pud)]).Pfn;
        var slot = PageTables.SlotOf(pmd, TestMachine.Va, PageTableLevel.Pmd);
        Assert.Equal(table, new PageTableEntry(t.M.Memory.Entries(pmd)[slot.Index]).Pfn);
        return slot;
    }

    private static IEnumerable<Step> LocklessWalk(TestMachine t, SimThread th) =>
        Pv.Engine.Mm.Gup.GetUserPagesFast(t.M, th, t.Mm, TestMachine.Va, write: false, new Pv.Engine.Mm.GupResult());

    private static IEnumerable<Step> FreeTable(TestMachine t, PteSlot pmdSlot, Pfn table, TestBackend flusher)
    {
        t.M.PageTables.Write(pmdSlot, PageTableEntry.Empty);                 // unhook
        yield return Step.Yield;
        flusher.FlushTlbMmRange(t.Mm.Id, TestMachine.Va, TestMachine.Va + 4096, 12, freedTables: true); // invalidate
        yield return Step.Yield;
        t.M.Memory.Free(table);                                             // free
        t.M.Memory.Alloc(FrameKind.PageTable);                              // and reuse
        yield return Step.Yield;
    }

    [Fact]
    public void O2_a_hypercall_flush_lets_a_walker_with_irqs_off_read_a_freed_table()
    {
        Assert.True(FreedTableWalks(FlushMode.Hypercall, 300) > 0);
    }

    [Fact]
    public void O2_a_waited_ipi_flush_cannot_complete_while_the_walker_has_irqs_off()
    {
        Assert.Equal(0, FreedTableWalks(FlushMode.WaitedIpi, 300));
    }
}
