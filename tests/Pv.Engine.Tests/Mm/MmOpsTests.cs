// The generic mm operations against the page table they must leave and the flush / notifier sequence they
// must emit, on arch profiles where those differ.
using Pv.Abstractions.Gather;
using Pv.Abstractions.Memory;
using Pv.Abstractions.Mm;
using Pv.Abstractions.Notifiers;
using Pv.Engine.Cpu;
using Pv.Engine.Mm;
using Pv.Engine.Sched;

namespace Pv.Engine.Tests.Mm;

public class MmOpsTests
{
    private const ulong A = 0x4000_0000; // 1 GiB-aligned: a fresh PMD table
    private const ulong Page = 4096;
    private const VmaFlags Rw = VmaFlags.Read | VmaFlags.Write;

    /// <summary>A machine with an anonymous VMA per range, each page faulted in by a write.</summary>
    private static TestMachine WithAnon(MmuGatherConfig? gather = null, params (ulong Start, ulong Pages)[] ranges)
    {
        var t = new TestMachine(gather: gather);
        foreach (var (start, pages) in ranges)
        {
            t.Mm.InsertVma(new Vma(t.Mm, start, start + pages * Page, Rw));
            for (ulong p = 0; p < pages; p++) t.Map(start + p * Page);
        }
        return t;
    }

    private static RunResult Run(TestMachine t, params Func<SimThread, IEnumerable<Step>>[] ops) => RunOn(t, 0, ops);

    private static RunResult RunOn(TestMachine t, int cpu, params Func<SimThread, IEnumerable<Step>>[] ops)
    {
        t.Thread("op", cpu, ops);
        var r = t.RunSequential();
        Assert.True(r.Outcome == RunOutcome.Completed, r.Report?.Format() ?? r.Deadlock);
        return r;
    }

    private static int Count(TestMachine t, string prefix) => t.Backend.Calls.Count(c => c.StartsWith(prefix, StringComparison.Ordinal));

    [Fact]
    public void Munmap_of_two_adjacent_vmas_flushes_once_with_merge_vmas_and_once_per_vma_without()
    {
        var x86 = WithAnon(ArchProfiles.X86, (A, 2), (A + 2 * Page, 2));
        Run(x86, th => Munmap.Run(x86.M, th, x86.Mm, A, 4 * Page));
        // One flush at tlb_finish_mmu. free_pgtables freed the PUD table too, whose range starts at its masked address
        // (pud_free_tlb with start & P4D_MASK), as in the kernel.
        Assert.Equal(["flush_tlb_range 0-40004000 freed_tables"], x86.Backend.Calls.Where(c => c.StartsWith("flush_tlb")));

        var arm = WithAnon(ArchProfiles.Arm64, (A, 2), (A + 2 * Page, 2));
        Run(arm, th => Munmap.Run(arm.M, th, arm.Mm, A, 4 * Page));
        Assert.Equal(
            ["flush_tlb_range 40000000-40002000", "flush_tlb_range 40002000-40004000", "flush_tlb_range 0-40001000 freed_tables"],
            arm.Backend.Calls.Where(c => c.StartsWith("flush_tlb")));
    }

    [Fact]
    public void No_range_flushes_the_whole_mm()
    {
        var t = WithAnon(ArchProfiles.NoRangeArch, (A, 2));
        Run(t, th => Munmap.Run(t.M, th, t.Mm, A, 2 * Page));
        Assert.All(t.Backend.Calls.Where(c => c.StartsWith("flush_tlb")), c => Assert.StartsWith("flush_tlb_mm", c));
        Assert.True(Count(t, "flush_tlb_mm") >= 1);
    }

    [Fact]
    public void Munmap_leaves_no_ptes_frees_pages_and_the_tables_between_its_neighbours()
    {
        var t = WithAnon(ArchProfiles.X86, (A, 3));
        t.M.PageTables.TryWalk(t.Mm.Id, A, out var slot, out var leaf);
        var page = leaf.Pfn;
        Run(t, th => Munmap.Run(t.M, th, t.Mm, A, 3 * Page));
        Assert.False(t.M.PageTables.TryWalk(t.Mm.Id, A, out _, out _));
        Assert.Equal(FrameKind.Free, t.M.Memory.KindOf(page));
        Assert.Equal(FrameKind.Free, t.M.Memory.KindOf(slot.Table)); // the PTE table went with it
        Assert.Empty(t.Mm.Vmas);
        Assert.Contains("release_pte", t.Backend.Calls);
        Assert.Contains("tlb_remove_table", t.Backend.Calls);
    }

    [Fact]
    public void A_pte_table_shared_with_a_neighbour_vma_stays()
    {
        var t = WithAnon(ArchProfiles.X86, (A, 1), (A + 4 * Page, 1));
        t.M.PageTables.TryWalk(t.Mm.Id, A, out var slot, out _);
        Run(t, th => Munmap.Run(t.M, th, t.Mm, A, Page));
        Assert.Equal(FrameKind.PageTable, t.M.Memory.KindOf(slot.Table));
        Assert.True(t.M.PageTables.TryWalk(t.Mm.Id, A + 4 * Page, out _, out _));
        Assert.DoesNotContain("tlb_remove_table", t.Backend.Calls);
    }

    [Fact]
    public void No_gather_puts_each_page_inside_the_zap_before_tlb_finish()
    {
        var t = WithAnon(ArchProfiles.S390, (A, 2));
        t.M.PageTables.TryWalk(t.Mm.Id, A, out _, out var leaf);
        Run(t, th => Munmap.Run(t.M, th, t.Mm, A, 2 * Page));
        // The arch flushed inside each clear (one flush per page), then the final flush for the freed table.
        Assert.Equal(2, t.Backend.Calls.Count(c => c.StartsWith("flush_tlb_range 4000") && !c.Contains("freed")));
        Assert.Equal(FrameKind.Free, t.M.Memory.KindOf(leaf.Pfn));
    }

    [Fact]
    public void Munmap_brackets_the_zap_with_an_unmap_notifier_range()
    {
        var t = WithAnon(ArchProfiles.X86, (A, 1), (A + 8 * Page, 1));
        var rec = new NotifierLog();
        t.M.Notifiers.Register(t.Mm.Id, rec);
        Run(t, th => Munmap.Run(t.M, th, t.Mm, A, Page));
        // The neighbour keeps the tables, so the flush covers just the page; the arch flush reaches secondary TLBs.
        Assert.Equal(["start Unmap 40000000-40001000", "end Unmap 40000000-40001000", "secondary 40000000-40001000"], rec.Calls);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void A_pfnmap_vma_is_flushed_at_tlb_end_vma_only_with_the_2022_toggle(bool toggle)
    {
        var t = new TestMachine(gather: ArchProfiles.X86, pfnmapForceFlush: toggle);
        var dev = new AddressSpace("dev");
        dev.Pages[0] = t.M.Memory.Alloc(FrameKind.DevicePfn);
        var vma = new Vma(t.Mm, A, A + Page, Rw | VmaFlags.PfnMap | VmaFlags.Shared, dev);
        t.Mm.InsertVma(vma);
        t.M.PageTables.Populate(t.Mm.Id, A, PageTableEntry.Make(dev.Pages[0], TestMachine.UserRw | PteFlags.Special));
        Run(t, th => Munmap.Run(t.M, th, t.Mm, A, Page));
        var calls = t.Backend.Calls;
        int firstFlush = calls.FindIndex(c => c.StartsWith("flush_tlb"));
        int unlinkIndex = calls.IndexOf("tlb_remove_table");
        Assert.Equal(toggle, firstFlush < unlinkIndex); // flushed before free_pgtables ran
        Assert.Equal(FrameKind.DevicePfn, t.M.Memory.KindOf(dev.Pages[0])); // not refcounted, never freed by the gather
        Assert.Empty(dev.IMmap);
    }

    [Fact]
    public void Nested_gathers_on_one_mm_make_tlb_finish_flush_the_whole_mm()
    {
        var t = WithAnon(ArchProfiles.X86, (A, 1));
        var outer = Gather.MmuGather.TlbGatherMmu(t.M, t.Mm);
        Run(t, th => Munmap.MadviseDontneed(t.M, th, t.Mm, A, Page));
        Assert.Contains("flush_tlb_mm freed_tables", t.Backend.Calls);
        Assert.Equal(1, t.Mm.TlbFlushPending); // only the outer one is left
        Assert.False(outer.FullMm);
    }

    [Fact]
    public void Read_fault_zero_fills_and_a_write_fault_sets_write_and_dirty()
    {
        var t = new TestMachine();
        t.Mm.InsertVma(new Vma(t.Mm, A, A + 2 * Page, Rw));
        var o1 = new FaultOutcome();
        var o2 = new FaultOutcome();
        Run(t, th => Fault.UserAccess(t.M, th, A, AccessKind.Read, o1), th => Fault.UserAccess(t.M, th, A + Page, AccessKind.Write, o2));
        Assert.Equal((FaultResult.Handled, AccessStatus.Ok), (o1.Result, o1.Access));
        Assert.Equal(AccessStatus.Ok, o2.Access);
        t.M.PageTables.TryWalk(t.Mm.Id, A + Page, out _, out var leaf);
        Assert.True(leaf.Has(PteFlags.Write | PteFlags.Dirty | PteFlags.Accessed));
        Assert.Equal(2, t.M.Metrics.Faults.Value);
        Assert.Contains("alloc_pte", t.Backend.Calls);
        Assert.Contains($"update_mmu_cache {A:x}", t.Backend.Calls);
    }

    [Fact]
    public void An_access_outside_any_vma_is_sigsegv()
    {
        var t = new TestMachine();
        var o = new FaultOutcome();
        Run(t, th => Fault.UserAccess(t.M, th, A, AccessKind.Read, o));
        Assert.Equal(FaultResult.Sigsegv, o.Result);
    }

    [Fact]
    public void Fork_write_protects_the_parent_flushes_it_and_a_write_breaks_cow_with_a_flush()
    {
        var t = WithAnon(ArchProfiles.X86, (A, 1));
        t.M.PageTables.TryWalk(t.Mm.Id, A, out _, out var before);
        var child = new MmStruct[1];
        var o = new FaultOutcome();
        Run(t, th => Mmap.Fork(t.M, th, t.Mm, child), th => Fault.UserAccess(t.M, th, A, AccessKind.Write, o));
        Assert.Contains("flush_tlb_mm", t.Backend.Calls);
        t.M.PageTables.TryWalk(child[0].Id, A, out _, out var inChild);
        t.M.PageTables.TryWalk(t.Mm.Id, A, out _, out var inParent);
        Assert.Equal(before.Pfn, inChild.Pfn);           // the child keeps the original page, read-only
        Assert.False(inChild.IsWritable);
        Assert.NotEqual(before.Pfn, inParent.Pfn);       // the parent's write copied it
        Assert.True(inParent.IsWritable);
        Assert.Equal(1, t.M.Memory.RefCount(before.Pfn));
        Assert.Contains($"flush_tlb_range {A:x}-{A + Page:x}", t.Backend.Calls); // ptep_clear_flush in wp_page_copy
    }

    [Fact]
    public void Mprotect_read_only_clears_write_and_flushes_while_adding_rights_does_not_flush()
    {
        var t = WithAnon(ArchProfiles.X86, (A, 2));
        Run(t, th => Mmap.Mprotect(t.M, th, t.Mm, A, 2 * Page, VmaFlags.Read));
        t.M.PageTables.TryWalk(t.Mm.Id, A, out _, out var leaf);
        Assert.False(leaf.IsWritable);
        Assert.Equal(["flush_tlb_range 40000000-40002000"], t.Backend.Calls.Where(c => c.StartsWith("flush_tlb")));

        var t2 = WithAnon(ArchProfiles.X86, (A, 2));
        Run(t2, th => Mmap.Mprotect(t2.M, th, t2.Mm, A, 2 * Page, VmaFlags.Read | VmaFlags.Write | VmaFlags.Exec));
        Assert.DoesNotContain(t2.Backend.Calls, c => c.StartsWith("flush_tlb"));
        Assert.Equal(Rw | VmaFlags.Exec, t2.Mm.Vmas[0].Flags);
    }

    [Fact]
    public void Mremap_moves_ptes_and_flushes_the_old_range()
    {
        var t = WithAnon(ArchProfiles.X86, (A, 2));
        t.M.PageTables.TryWalk(t.Mm.Id, A, out _, out var leaf);
        const ulong B = 0x8000_0000;
        Run(t, th => Mmap.Mremap(t.M, th, t.Mm, A, 2 * Page, B));
        Assert.False(t.M.PageTables.TryWalk(t.Mm.Id, A, out _, out _));
        Assert.True(t.M.PageTables.TryWalk(t.Mm.Id, B, out _, out var moved));
        Assert.Equal(leaf.Pfn, moved.Pfn);
        Assert.Contains($"flush_tlb_range {A:x}-{A + Page:x}", t.Backend.Calls);
        Assert.Equal(B, t.Mm.Vmas.Single().Start);
    }

    [Fact]
    public void Mremap_of_a_whole_aligned_pmd_moves_the_pte_table_itself()
    {
        const ulong Pmd = 2UL << 20;
        var t = WithAnon(ArchProfiles.X86, (A, Pmd / Page));
        t.M.PageTables.TryWalk(t.Mm.Id, A, out var oldSlot, out _);
        const ulong B = 0x8000_0000;
        Run(t, th => Mmap.Mremap(t.M, th, t.Mm, A, Pmd, B));
        t.M.PageTables.TryWalk(t.Mm.Id, B, out var newSlot, out _);
        Assert.Equal(oldSlot.Table, newSlot.Table);
        Assert.Contains($"flush_tlb_range {A:x}-{A + Pmd:x}", t.Backend.Calls);
    }

    [Fact]
    public void Madvise_dontneed_frees_pages_keeps_the_vma_and_a_later_touch_gets_a_fresh_zero_page()
    {
        var t = WithAnon(ArchProfiles.X86, (A, 1));
        t.M.PageTables.TryWalk(t.Mm.Id, A, out _, out var leaf);
        var o = new FaultOutcome();
        Run(t, th => Munmap.MadviseDontneed(t.M, th, t.Mm, A, Page), th => Fault.UserAccess(t.M, th, A, AccessKind.Read, o));
        Assert.Single(t.Mm.Vmas);
        Assert.Equal(AccessStatus.Ok, o.Access);
        Assert.Equal(1, t.M.Metrics.Faults.Value);
        Assert.Equal(FrameKind.DataPage, t.M.Memory.KindOf(leaf.Pfn)); // LIFO: the freed page came straight back
    }

    [Fact]
    public void Madvise_free_pages_are_reclaimed_when_clean_and_kept_when_written_again()
    {
        var t = WithAnon(ArchProfiles.X86, (A, 2));
        t.M.PageTables.TryWalk(t.Mm.Id, A, out _, out var p0);
        t.M.PageTables.TryWalk(t.Mm.Id, A + Page, out _, out var p1);
        var o = new FaultOutcome();
        Run(t,
            th => KernelMm.MadviseFree(t.M, th, t.Mm, A, 2 * Page),
            th => Fault.UserAccess(t.M, th, A + Page, AccessKind.Write, o), // dirties the second page again
            th => KernelMm.Reclaim(t.M, th));
        Assert.False(t.M.PageTables.TryWalk(t.Mm.Id, A, out _, out _));
        Assert.Equal(FrameKind.Free, t.M.Memory.KindOf(p0.Pfn));
        Assert.True(t.M.PageTables.TryWalk(t.Mm.Id, A + Page, out _, out var still));
        Assert.Equal(p1.Pfn, still.Pfn);
    }

    [Fact]
    public void Exit_mmap_frees_every_table_after_a_full_flush_and_releases_notifiers()
    {
        var t = WithAnon(ArchProfiles.X86V615, (A, 1), (0x7f00_0000_0000, 1));
        var rec = new NotifierLog();
        t.M.Notifiers.Register(t.Mm.Id, rec);
        t.M.Cpus[0].SwitchToInitMm();
        t.M.Cpus[1].SwitchToInitMm();
        Run(t, th => Munmap.ExitMmap(t.M, th, t.Mm));
        Assert.Contains("flush_tlb_mm freed_tables", t.Backend.Calls);
        Assert.Contains("release", rec.Calls);
        Assert.True(t.Mm.Dead);
        Assert.Equal(FrameKind.Free, t.M.Memory.KindOf(t.Mm.Pgd));
        // Two PTE, two PMD and two PUD tables (the VMAs sit in different 512 GiB regions), freed after a grace period
        // because x86 6.15+ frees tables through RCU.
        Assert.Equal(6, t.M.Metrics.TablesFreedRcu.Value);
        Assert.Equal(0, t.M.Metrics.TablesFreedNow.Value);
    }

    [Fact]
    public void Gup_faults_in_and_pins_and_gup_fast_pins_a_present_page()
    {
        var t = new TestMachine();
        t.Mm.InsertVma(new Vma(t.Mm, A, A + 2 * Page, Rw));
        var slow = new GupResult();
        var fast = new GupResult();
        Run(t, th => Gup.GetUserPages(t.M, th, t.Mm, A, 2, write: true, slow), th => Gup.GetUserPagesFast(t.M, th, t.Mm, A, write: false, fast));
        Assert.Equal(2, slow.Pages.Count);
        Assert.Equal(slow.Pages[0], Assert.Single(fast.Pages));
        Assert.False(fast.FellBack);
        Assert.Equal(3, t.M.Memory.RefCount(slow.Pages[0])); // the mapping, the GUP pin and the GUP-fast pin
        Assert.True(t.M.Cpus[0].IrqsEnabled);
    }

    [Fact]
    public void Gup_fast_falls_back_when_the_pte_changes_under_it()
    {
        var t = WithAnon(ArchProfiles.X86, (A, 1));
        t.M.PageTables.TryWalk(t.Mm.Id, A, out var slot, out var leaf);
        var fast = new GupResult();
        t.Thread("gup", 0, th => Gup.GetUserPagesFast(t.M, th, t.Mm, A, write: false, fast));
        t.Thread("zap", 1, _ => TestMachine.Do(() => t.M.PageTables.Write(slot, leaf.Without(PteFlags.Accessed))));
        // gup: irq off, 4 level reads, grab; then zap changes the PTE; then gup re-checks.
        var r = t.M.Run(new ReplayPolicy([0, 0, 0, 0, 0, 0, 1]));
        Assert.True(fast.FellBack);
        Assert.Empty(fast.Pages);
        Assert.Equal(1, t.M.Memory.RefCount(leaf.Pfn));
    }

    [Fact]
    public void Vfree_flushes_the_kernel_range_before_the_pages_are_freed()
    {
        var t = new TestMachine();
        const ulong V = Pv.Engine.Mm.KernelMm.VmallocStart;
        Run(t, th => KernelMm.Vmalloc(t.M, th, V, 2), th => t.Access(th, V, AccessKind.Write));
        Assert.True(t.M.PageTables.TryWalk(MmId.InitMm, V, out _, out var leaf));
        Assert.True(t.M.Cpus[0].Tlb.TryLookup(0, V, out _));
        Assert.True(leaf.Has(PteFlags.Global));
        var u = new TestMachine();
        Run(u, th => KernelMm.Vmalloc(u.M, th, V, 2), th => u.Access(th, V, AccessKind.Read), th => KernelMm.Vfree(u.M, th, V, 2), th => u.Access(th, V, AccessKind.Read));
        Assert.Contains($"flush_tlb_kernel_range {V:x}-{V + 2 * Page:x}", u.Backend.Calls);
        Assert.False(u.M.PageTables.TryWalk(MmId.InitMm, V, out _, out _));
        Assert.False(u.M.Cpus[0].Tlb.TryLookup(0, V, out _));
    }

    [Fact]
    public void A_kernel_thread_keeps_the_mm_lazily_and_switch_mm_loads_another()
    {
        var t = new TestMachine();
        RunOn(t, 1, th => KernelMm.EnterLazy(t.M, th));
        Assert.True(t.M.Cpus[1].IsLazy);
        Assert.Equal(t.Mm.Id, t.M.Cpus[1].LoadedMm);
        var u = new TestMachine();
        var next = u.M.CreateMm();
        Run(u, th => KernelMm.SwitchMm(u.M, th, next));
        Assert.Equal(next.Id, u.M.Cpus[0].LoadedMm);
    }
}

/// <summary>An mmu notifier that logs what it hears.</summary>
internal sealed class NotifierLog : IMmuNotifier
{
    public List<string> Calls { get; } = [];
    public int InvalidateRangeStart(in MmuNotifierRange range) { Calls.Add($"start {range.Event} {range.Start:x}-{range.End:x}"); return 0; }
    public void InvalidateRangeEnd(in MmuNotifierRange range) => Calls.Add($"end {range.Event} {range.Start:x}-{range.End:x}");
    public void ArchInvalidateSecondaryTlbs(MmId mm, ulong start, ulong end) => Calls.Add($"secondary {start:x}-{end:x}");
    public void Release(MmId mm) => Calls.Add("release");
}

public class GuardInstallTests
{
    private const ulong A = 0x4000_0000;
    private const ulong Page = 4096;

    [Fact]
    public void Guard_install_zaps_populated_ptes_installs_markers_without_a_flush_of_its_own_and_faults_on_them()
    {
        var t = new TestMachine(gather: Pv.Abstractions.Gather.ArchProfiles.X86);
        t.Mm.InsertVma(new Vma(t.Mm, A, A + 4 * Page, VmaFlags.Read | VmaFlags.Write));
        t.Map(A + Page);
        var r = new Pv.Engine.Walk.WalkResult();
        var o = new FaultOutcome();
        t.Thread("op", 0, th => Madvise.GuardInstall(t.M, th, t.Mm, A, 4 * Page, r), th => Fault.UserAccess(t.M, th, A + 2 * Page, AccessKind.Read, o));
        var run = t.RunSequential();
        Assert.Equal(RunOutcome.Completed, run.Outcome);
        Assert.Equal(0, r.Value);
        for (ulong p = 0; p < 4; p++)
        {
            Assert.True(Zap.FindEntry(t.M, t.Mm, A + p * Page, PageTableLevel.Pte, out var slot, out _));
            Assert.Equal(PteFlags.GuardMarker, PteOps.Read(t.M, slot).Flags);
        }
        // Only the zap of the populated page flushed; installing into empty slots did not.
        Assert.Single(t.Backend.Calls, c => c.StartsWith("flush_tlb"));
        Assert.Equal(FaultResult.Sigsegv, o.Result);
    }

    [Fact]
    public void Guard_install_on_a_pfnmap_vma_is_einval()
    {
        var t = new TestMachine();
        t.Mm.InsertVma(new Vma(t.Mm, A, A + Page, VmaFlags.Read | VmaFlags.PfnMap));
        var r = new Pv.Engine.Walk.WalkResult();
        t.Thread("op", 0, th => Madvise.GuardInstall(t.M, th, t.Mm, A, Page, r));
        t.RunSequential();
        Assert.Equal(-22, r.Value);
    }
}
