// mmu_gather mechanisms one at a time: how tables leave (now, after the flush, after a grace period), the
// batch-allocation-failure path and the page batch limits. The bugs these mechanisms make or prevent (Z3, Z6)
// are scenarios/zoo files, run by the zoo test.
using Pv.Abstractions.Gather;
using Pv.Abstractions.Memory;
using Pv.Abstractions.Mm;
using Pv.Engine.Cpu;
using Pv.Engine.Gather;
using Pv.Engine.Memory;
using Pv.Engine.Mm;
using Pv.Engine.Oracle;
using Pv.Engine.Sched;

namespace Pv.Engine.Tests.Mm;

public class GatherTests
{
    private const ulong A = 0x4000_0000;
    private const ulong Page = 4096;
    private const VmaFlags Rw = VmaFlags.Read | VmaFlags.Write;

    private static TestMachine Anon(MmuGatherConfig gather, int pages = 1, int cpus = 2, int maxGatherBatch = 510)
    {
        var t = new TestMachine(cpus: cpus, gather: gather, maxGatherBatch: maxGatherBatch);
        t.Mm.InsertVma(new Vma(t.Mm, A, A + (ulong)pages * Page, Rw));
        for (int p = 0; p < pages; p++) t.Map(A + (ulong)p * Page);
        return t;
    }

    private static RunResult RunMunmap(TestMachine t, int pages = 1)
    {
        t.Thread("munmap", 0, th => Munmap.Run(t.M, th, t.Mm, A, (ulong)pages * Page));
        return t.RunSequential();
    }

    [Fact]
    public void Rcu_table_free_frees_tables_only_after_a_grace_period()
    {
        var t = Anon(ArchProfiles.X86V615);
        RunMunmap(t);
        Assert.Equal(3, t.M.Metrics.TablesFreedRcu.Value);
        Assert.Equal(0, t.M.Metrics.TablesFreedNow.Value);
        Assert.Equal(1, t.M.Metrics.GracePeriods.Value);
    }

    [Fact]
    public void Without_table_free_tables_go_with_the_pages_after_the_flush()
    {
        var t = Anon(ArchProfiles.X86);
        RunMunmap(t);
        Assert.Equal(3, t.M.Metrics.TablesFreedNow.Value);
        Assert.Equal(0, t.M.Metrics.GracePeriods.Value);
    }

    [Fact]
    public void Table_free_without_rcu_frees_the_batch_right_after_the_invalidate()
    {
        var t = Anon(new MmuGatherConfig(TableFree: true, MergeVmas: true));
        RunMunmap(t);
        Assert.Equal(3, t.M.Metrics.TablesFreedNow.Value);
        Assert.Equal(0, t.M.Metrics.GracePeriods.Value);
    }

    [Fact]
    public void The_bare_metal_pv_op_hands_tables_over_as_pages()
    {
        var t = Anon(ArchProfiles.X86V615);
        t.Backend.RemoveTableThroughGather = false;
        RunMunmap(t);
        Assert.Equal(3, t.M.Metrics.TablesFreedNow.Value);
        Assert.Equal(0, t.M.Metrics.TablesFreedRcu.Value);
    }

    [Fact]
    public void Batch_allocation_failure_invalidates_then_syncs_every_cpu_then_frees_the_one_table()
    {
        var t = Anon(ArchProfiles.X86V615, cpus: 3);
        t.M.Memory.InjectFailures(AllocSite.TableBatch, 1);
        var r = RunMunmap(t);
        Assert.Equal(RunOutcome.Completed, r.Outcome);
        Assert.Equal(1, t.M.Metrics.TablesFreedNow.Value);  // the PTE table, after tlb_remove_table_sync_one
        Assert.Equal(2, t.M.Metrics.TablesFreedRcu.Value);  // the others got a batch
        Assert.True(t.M.Metrics.IpiSent.Value >= 2);       // the invalidate's IPIs and the sync IPI
        Assert.StartsWith("flush_tlb_range", t.Backend.Calls.First(c => c.StartsWith("flush_tlb")));
        Assert.Contains("freed_tables", t.Backend.Calls.First(c => c.StartsWith("flush_tlb")));
    }

    [Fact]
    public void A_full_page_batch_flushes_inside_the_zap()
    {
        var t = Anon(ArchProfiles.X86, pages: 5, maxGatherBatch: 2);
        RunMunmap(t, pages: 5);
        Assert.True(t.Backend.Calls.Count(c => c.StartsWith("flush_tlb")) >= 3, string.Join(", ", t.Backend.Calls));
    }

    [Fact]
    public void Page_size_tracking_asks_for_a_flush_when_the_size_changes()
    {
        var t = new TestMachine(gather: ArchProfiles.PowerPc);
        var tlb = MmuGather.TlbGatherMmu(t.M, t.Mm);
        Assert.False(tlb.TlbRemovePage(t.M.Memory.Alloc(FrameKind.DataPage), PageTableLevel.Pte));
        Assert.True(tlb.TlbRemovePage(t.M.Memory.Alloc(FrameKind.DataPage), PageTableLevel.Pmd));
        var x86 = new TestMachine(gather: ArchProfiles.X86);
        var tlb2 = MmuGather.TlbGatherMmu(x86.M, x86.Mm);
        Assert.False(tlb2.TlbRemovePage(x86.M.Memory.Alloc(FrameKind.DataPage), PageTableLevel.Pte));
        Assert.False(tlb2.TlbRemovePage(x86.M.Memory.Alloc(FrameKind.DataPage), PageTableLevel.Pmd));
    }

    [Fact]
    public void A_fullmm_gather_does_nothing_at_vma_boundaries()
    {
        var t = Anon(ArchProfiles.Arm64);
        var tlb = MmuGather.TlbGatherMmuFullmm(t.M, t.Mm);
        tlb.TlbStartVma(t.Mm.Vmas[0]);
        tlb.TlbRemoveTlbEntry(A, PageTableLevel.Pte);
        tlb.TlbEndVma();
        Assert.Empty(t.Backend.Calls);
    }
}
